//! The OpenID Connect provider's endpoints: discovery, authorization (with the hand-off to the
//! page for sign-in and a consent screen), token, userinfo, revocation and RP-initiated logout.
//!
//! The token and revocation endpoints speak RFC 6749: form-encoded bodies (checked strictly: the
//! media type, the size, no repeated parameter) and JSON errors `{error, error_description}`, not
//! `problem+json`, because that is what every OAuth client library reads.

// Their helpers return the finished error response as `Err`: it is built once, on a failed
// request only, so its size does not matter.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response, built only on failure"
)]
mod authorize;
mod html;
#[allow(
    clippy::result_large_err,
    reason = "the error is the response, built only on failure"
)]
mod token;

use super::resource;
use crate::AppState;
use crate::error::ApiError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::oidc::{IdTokenAlg, Scope};
use auth_core::service::OidcProvider;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/.well-known/openid-configuration").route(web::get().to(discovery)))
        .service(resource("/oauth2/authorize").route(web::get().to(authorize::authorize)))
        .service(
            resource("/oauth2/consent")
                .route(web::get().to(authorize::consent_page))
                .route(web::post().to(authorize::consent)),
        )
        .service(resource("/oauth2/token").route(web::post().to(token::token)))
        .service(
            resource("/oauth2/userinfo")
                .route(web::get().to(token::userinfo))
                .route(web::post().to(token::userinfo)),
        )
        .service(resource("/oauth2/revoke").route(web::post().to(token::revoke)))
        .service(
            resource("/oauth2/logout")
                .route(web::get().to(authorize::logout_page))
                .route(web::post().to(authorize::logout)),
        );
}

/// The provider, or 404 when no client is configured.
fn provider(state: &AppState) -> Result<&Arc<OidcProvider>, ApiError> {
    state.oidc.as_ref().ok_or(ApiError::NotFound)
}

/// Query or form pairs, percent-decoded. `None` if a pair is not valid UTF-8 after decoding.
fn pairs(text: &str) -> Option<Vec<(String, String)>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if k.contains('\u{fffd}') || v.contains('\u{fffd}') {
            return None;
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Some(out)
}

async fn discovery(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let iss = op.issuer().trim_end_matches('/');
    let base = state.config.public_origin.trim_end_matches('/');
    let scopes: BTreeSet<&str> = op
        .registry()
        .iter()
        .flat_map(|c| c.scopes.iter())
        .chain([Scope::Openid])
        .map(Scope::as_str)
        .collect();
    let algs: Vec<&str> = op
        .algorithms()
        .into_iter()
        .map(IdTokenAlg::as_str)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": iss,
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{base}/oauth2/revoke"),
            "end_session_endpoint": format!("{base}/oauth2/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "scopes_supported": scopes,
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "azp", "name", "email", "email_verified"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
        })))
}

/// A reply that must not be cached (token responses, redirects carrying codes).
fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res.headers_mut()
        .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    res
}

/// A `303 See Other` to `url`.
fn see_other(url: &str) -> HttpResponse {
    no_store(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .finish(),
    )
}

/// Our own access token from the browser's cookie, if it still authenticates.
async fn browser_principal(
    req: &HttpRequest,
    state: &AppState,
) -> Option<auth_core::service::Principal> {
    let c = req.cookie(crate::cookie_names::ACCESS)?;
    state.service.authenticate(c.value()).await.ok()
}
