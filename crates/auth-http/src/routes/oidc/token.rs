//! `POST /oauth2/token`, `/oauth2/userinfo` and `POST /oauth2/revoke`: RFC 6749 and RFC 7009
//! wire formats, errors as `{error, error_description}`.

use super::{no_store, pairs, provider};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{bearer, client_info};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::oidc::OAuthError;
use auth_core::service::{TokenGrant, TokenRequestError};
use base64::Engine;
use serde_json::json;
use std::collections::BTreeMap;

fn oauth_error(error: OAuthError, description: &str, basic: bool) -> HttpResponse {
    let status = match error {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthError::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut res = HttpResponse::build(status);
    if error == OAuthError::InvalidClient && basic {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"token\""));
    }
    no_store(res.json(json!({ "error": error.as_str(), "error_description": description })))
}

fn invalid(description: &str) -> HttpResponse {
    oauth_error(OAuthError::InvalidRequest, description, false)
}

/// A token-endpoint body: form-encoded, within the size limit, no parameter twice, no empty
/// value (RFC 6749 §3.2: parameters sent without a value are treated as omitted, so an empty one
/// is refused rather than guessed at).
fn form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<BTreeMap<String, String>, HttpResponse> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(invalid(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if body.len() > state.config.max_body_bytes {
        return Err(invalid("the body is too large"));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid("the body is not UTF-8"))?;
    let mut map = BTreeMap::new();
    for (k, v) in pairs(text).ok_or_else(|| invalid("the body is not UTF-8"))? {
        if v.is_empty() {
            continue;
        }
        if map.insert(k, v).is_some() {
            return Err(invalid("a parameter is repeated"));
        }
    }
    Ok(map)
}

/// The client's id and secret: HTTP Basic (`client_secret_basic`, both parts form-encoded) or
/// the body (`client_secret_post`, or `client_id` alone for a public client). Both at once is
/// refused.
fn client_auth(
    req: &HttpRequest,
    form: &BTreeMap<String, String>,
) -> Result<(String, Option<String>, bool), HttpResponse> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, b64)| b64.trim().to_owned());
    if let Some(b64) = basic {
        if form.contains_key("client_secret") {
            return Err(invalid("use one client authentication method"));
        }
        let bad = || {
            oauth_error(
                OAuthError::InvalidClient,
                "malformed Basic credentials",
                true,
            )
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let (id, secret) = (decode(id).ok_or_else(bad)?, decode(secret).ok_or_else(bad)?);
        if form.get("client_id").is_some_and(|c| *c != id) {
            return Err(invalid("client_id differs from the Basic credentials"));
        }
        return Ok((id, Some(secret), true));
    }
    let id = form.get("client_id").cloned().ok_or_else(|| {
        oauth_error(
            OAuthError::InvalidClient,
            "client authentication is missing",
            false,
        )
    })?;
    Ok((id, form.get("client_secret").cloned(), false))
}

fn refused(e: &TokenRequestError, basic: bool) -> HttpResponse {
    oauth_error(e.error, e.description, basic)
}

pub(super) async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let form = match form(&req, &state, &body) {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    let (client_id, secret, basic) = match client_auth(&req, &form) {
        Ok(c) => c,
        Err(res) => return Ok(res),
    };
    let get = |k: &str| form.get(k).cloned();
    let grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                return Ok(invalid("code and redirect_uri are required"));
            };
            TokenGrant::Code {
                code,
                redirect_uri,
                verifier: get("code_verifier"),
            }
        }
        Some("refresh_token") => {
            let Some(token) = get("refresh_token") else {
                return Ok(invalid("refresh_token is required"));
            };
            TokenGrant::Refresh { token }
        }
        Some(_) => {
            return Ok(oauth_error(
                OAuthError::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
                false,
            ));
        }
        None => return Ok(invalid("grant_type is missing")),
    };
    let info = client_info(&req, &state.config);
    match op.token(&client_id, secret.as_deref(), grant, &info).await {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in.as_secs(),
                "id_token": t.id_token,
                "scope": t.scopes.to_text(),
            });
            if let Some(r) = &t.refresh_token {
                body["refresh_token"] = json!(r.expose());
            }
            Ok(no_store(HttpResponse::Ok().json(body)))
        }
        Err(e) => Ok(refused(&e, basic)),
    }
}

pub(super) async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let unauthorized = || {
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
            .json(json!({ "error": "invalid_token", "error_description": "the access token is not valid" }))
    };
    let Some(token) = bearer(&req) else {
        return Ok(unauthorized());
    };
    let Some(info) = op.userinfo(token).await? else {
        return Ok(unauthorized());
    };
    let mut body = json!({ "sub": info.subject.to_string() });
    if let Some(n) = info.name {
        body["name"] = json!(n);
    }
    if let Some(e) = info.email {
        body["email"] = json!(e);
        body["email_verified"] = json!(true);
    }
    Ok(no_store(HttpResponse::Ok().json(body)))
}

pub(super) async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let form = match form(&req, &state, &body) {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    let (client_id, secret, basic) = match client_auth(&req, &form) {
        Ok(c) => c,
        Err(res) => return Ok(res),
    };
    let Some(token) = form.get("token") else {
        return Ok(invalid("token is required"));
    };
    match op.revoke(&client_id, secret.as_deref(), token).await {
        Ok(()) => Ok(no_store(HttpResponse::Ok().finish())),
        Err(e) => Ok(refused(&e, basic)),
    }
}
