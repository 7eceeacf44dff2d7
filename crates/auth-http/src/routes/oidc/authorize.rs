//! `GET /oauth2/authorize`, the consent screen and RP-initiated logout.
//!
//! Our session cookies are `SameSite=Strict`, so the browser does not send them when an app
//! sends it here: the first arrival usually sees nobody. The request is then held server-side
//! (in the ceremony store, for [`PENDING_TTL`](auth_core::service::PENDING_TTL)) and the browser
//! goes to the page with its id (`/?oidc=ID`). The page, on our own origin, knows whether someone
//! is signed in, offers passkey or email-code sign-in as always, and then returns to
//! `/oauth2/authorize?pending=ID`, a same-site navigation that carries the cookies.

use super::html::{self, hidden, text};
use super::{browser_principal, no_store, pairs, provider, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody, client_info, require_same_origin};
use crate::routes::ui::escape;
use crate::routes::{add_cookies, expired};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::CeremonyId;
use auth_core::oidc::{AuthorizationRequest, AuthorizeError, OAuthError, Scope};
use auth_core::service::{AuthorizeStep, OidcProvider, Principal, with_query};
use auth_core::time::Timestamp;

const FORM: &str = "application/x-www-form-urlencoded";

/// The request's parameters: its own query, or the held request it names.
async fn parameters(
    req: &HttpRequest,
    op: &OidcProvider,
    query: Vec<(String, String)>,
) -> Result<(Vec<(String, String)>, Option<Timestamp>), HttpResponse> {
    match query.as_slice() {
        [(k, id)] if k == "pending" => {
            let id = CeremonyId::parse(id).ok_or_else(|| html::error(req, "unknown request"))?;
            match op.resume(&id).await {
                Ok(Some((params, asked_at))) => Ok((params, Some(asked_at))),
                Ok(None) => Err(html::error(req, "the sign-in request has expired")),
                Err(_) => Err(unavailable(req)),
            }
        }
        _ => Ok((query, None)),
    }
}

fn unavailable(req: &HttpRequest) -> HttpResponse {
    html::page(
        req,
        StatusCode::SERVICE_UNAVAILABLE,
        &text(req, "oidc-error-title"),
        &format!("<p>{}</p>", escape(&text(req, "oidc-try-again"))),
    )
}

fn refused(req: &HttpRequest, op: &OidcProvider, e: &AuthorizeError) -> HttpResponse {
    match OidcProvider::error_redirect(e, op.issuer()) {
        Some(url) => see_other(&url),
        None => match e {
            AuthorizeError::Untrusted(reason) => html::error(req, reason),
            AuthorizeError::Redirect { .. } => html::error(req, "invalid request"),
        },
    }
}

/// Carries out `params` for `who`; `approved` after the consent screen said yes.
async fn proceed(
    req: &HttpRequest,
    state: &AppState,
    op: &OidcProvider,
    params: Vec<(String, String)>,
    asked_at: Option<Timestamp>,
    who: Option<Principal>,
    approved: bool,
) -> Result<HttpResponse, ApiError> {
    let request = match AuthorizationRequest::parse(&params, op.registry()) {
        Ok(r) => r,
        Err(e) => return Ok(refused(req, op, &e)),
    };
    match op
        .authorize(&request, who.as_ref(), asked_at, approved)
        .await
    {
        Ok(AuthorizeStep::Redirect(url)) => Ok(see_other(&url)),
        Ok(step @ (AuthorizeStep::SignIn | AuthorizeStep::Consent)) => {
            let Ok(id) = op.hold(&params, asked_at).await else {
                return Ok(unavailable(req));
            };
            let page = with_query("/", &[("oidc", &id.to_string())]);
            if step == AuthorizeStep::Consent {
                // The page shows the consent screen (its texts are the page's).
                return Ok(see_other(&format!("{page}#consent")));
            }
            let mut res = see_other(&page);
            if let Some(stale) = who {
                // Signed in, but not recently enough (max_age) or before prompt=login asked:
                // this browser session ends, so the page asks for a fresh sign-in.
                state
                    .service
                    .logout(&stale, &client_info(req, &state.config))
                    .await?;
                add_cookies(
                    &mut res,
                    [
                        expired(crate::cookie_names::ACCESS),
                        expired(crate::cookie_names::REFRESH),
                    ],
                )?;
            }
            Ok(res)
        }
        Err(e) => Ok(refused(req, op, &e)),
    }
}

pub(super) async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let Some(query) = pairs(req.query_string()) else {
        return Ok(html::error(&req, "the request is not valid UTF-8"));
    };
    let (params, asked_at) = match parameters(&req, op, query).await {
        Ok(p) => p,
        Err(res) => return Ok(res),
    };
    let who = browser_principal(&req, &state).await;
    proceed(&req, &state, op, params, asked_at, who, false).await
}

fn pending_id(text: &str) -> Option<CeremonyId> {
    let p = pairs(text)?;
    p.iter()
        .find(|(k, _)| k == "pending")
        .and_then(|(_, v)| CeremonyId::parse(v))
}

/// What the consent screen shows of a held request: the app's name and the scopes it asks for.
pub(super) async fn consent_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let id = pending_id(req.query_string()).ok_or(ApiError::NotFound)?;
    let (params, _) = op.peek(&id).await?.ok_or(ApiError::NotFound)?;
    let request =
        AuthorizationRequest::parse(&params, op.registry()).map_err(|_| ApiError::NotFound)?;
    let scopes: Vec<&str> = request.scopes.iter().map(Scope::as_str).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "client_id": request.client.id.as_str(),
        "client_name": request.client.name,
        "scopes": scopes,
    })))
}

/// The consent screen's answer.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    pending: String,
    allow: bool,
}

/// Records the decision and answers where the browser goes next: back to the app (with a code,
/// or `access_denied`), or to the page for a fresh sign-in.
pub(super) async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    body: JsonBody<Decision>,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let id = CeremonyId::parse(&body.pending).ok_or(ApiError::NotFound)?;
    let (params, asked_at) = op.resume(&id).await?.ok_or(ApiError::NotFound)?;
    let next = if body.allow {
        proceed(
            &req,
            &state,
            op,
            params,
            Some(asked_at),
            Some(who.principal),
            true,
        )
        .await?
    } else {
        let request =
            AuthorizationRequest::parse(&params, op.registry()).map_err(|_| ApiError::NotFound)?;
        refused(
            &req,
            op,
            &AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri,
                error: OAuthError::AccessDenied,
                description: "the user did not allow access",
                state: request.state,
            },
        )
    };
    // The page follows the redirect itself; cookies that the step cleared go along.
    let location = next
        .headers()
        .get(actix_web::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::NotFound)?
        .to_owned();
    let mut res = HttpResponse::Ok().json(serde_json::json!({ "redirect": location }));
    for c in next.cookies() {
        res.add_cookie(&c).map_err(|_| ApiError::Internal)?;
    }
    Ok(no_store(res))
}

/// A form body of our own pages: the media type, then the pairs, no parameter twice.
fn form(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let essence = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() != Some(FORM) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("not UTF-8"))?;
    let p = pairs(text).ok_or_else(|| ApiError::bad_request("not UTF-8"))?;
    let mut seen = std::collections::BTreeSet::new();
    if p.iter().any(|(k, _)| !seen.insert(k.clone())) {
        return Err(ApiError::bad_request("a parameter is repeated"));
    }
    Ok(p)
}

fn field<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The registered post-logout URI a logout request names, if it names one of its client's.
/// `Err` when it names one that is not registered (or no client to check it against).
fn post_logout(op: &OidcProvider, p: &[(String, String)]) -> Result<Option<String>, ()> {
    let Some(uri) = field(p, "post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client = field(p, "client_id")
        .map(str::to_owned)
        .or_else(|| field(p, "id_token_hint").and_then(audience_of))
        .ok_or(())?;
    let url = op.post_logout_uri(&client, uri).ok_or(())?;
    Ok(Some(match field(p, "state") {
        Some(s) => with_query(&url, &[("state", s)]),
        None => url,
    }))
}

/// The `aud` of an ID token we issued, read only to pick the client whose registered URIs the
/// logout request is checked against (the URI must still be that client's, so nothing is
/// trusted that the token alone would say).
fn audience_of(id_token: &str) -> Option<String> {
    use base64::Engine;
    let body = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("aud")?.as_str().map(str::to_owned)
}

pub(super) async fn logout_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    let Some(p) = pairs(req.query_string()) else {
        return Ok(html::error(&req, "the request is not valid UTF-8"));
    };
    let Ok(target) = post_logout(op, &p) else {
        return Ok(html::error(
            &req,
            "post_logout_redirect_uri is not registered for this client",
        ));
    };
    let keep: Vec<(&str, &str)> = [
        "client_id",
        "post_logout_redirect_uri",
        "state",
        "id_token_hint",
    ]
    .into_iter()
    .filter_map(|k| field(&p, k).map(|v| (k, v)))
    .collect();
    let body = format!(
        "<p>{intro} {to}</p><form method=\"post\" action=\"/oauth2/logout\">{h}\
         <button type=\"submit\">{confirm}</button></form>",
        intro = escape(&text(&req, "oidc-logout-intro")),
        to = escape(
            target
                .as_deref()
                .map_or("", |t| t.split('?').next().unwrap_or(t))
        ),
        h = hidden(&keep),
        confirm = escape(&text(&req, "oidc-logout-confirm")),
    );
    // The confirmation's redirect goes to the app's origin, which the form's CSP must allow.
    let then = target
        .as_deref()
        .and_then(|t| url::Url::parse(t).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    Ok(html::page_with_form(
        &req,
        StatusCode::OK,
        &text(&req, "oidc-logout-title"),
        &body,
        then.as_deref(),
    ))
}

pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let op = provider(&state)?;
    require_same_origin(&req, &state.config)?;
    let p = form(&req, &body)?;
    let Ok(target) = post_logout(op, &p) else {
        return Ok(html::error(
            &req,
            "post_logout_redirect_uri is not registered for this client",
        ));
    };
    if let Some(who) = browser_principal(&req, &state).await {
        state
            .service
            .logout(&who, &client_info(&req, &state.config))
            .await?;
    }
    let mut res = see_other(target.as_deref().unwrap_or("/"));
    add_cookies(
        &mut res,
        [
            expired(crate::cookie_names::ACCESS),
            expired(crate::cookie_names::REFRESH),
        ],
    )?;
    Ok(res)
}
