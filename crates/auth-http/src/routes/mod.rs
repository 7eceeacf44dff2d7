//! Route registration and the helpers the handlers share.

pub(crate) mod account;
pub(crate) mod apps;
pub(crate) mod back;
pub(crate) mod codes;
pub(crate) mod oidc;
pub(crate) mod page;
pub(crate) mod passkeys;
pub(crate) mod problems;
pub(crate) mod public;
pub(crate) mod ui;

use crate::error::ApiError;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpResponse, Resource, web};
use std::time::Duration;

/// The fallback for unknown paths: a `problem+json` 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// A resource whose unmatched methods answer a `problem+json` 405.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(page::resources())
        .service(resource("/v1/signup").route(web::post().to(codes::signup)))
        .service(resource("/v1/login/email").route(web::post().to(codes::login)))
        .service(resource("/v1/recovery").route(web::post().to(codes::recovery)))
        .service(resource("/v1/codes/resend").route(web::post().to(codes::resend)))
        .service(resource("/v1/codes/verify").route(web::post().to(codes::verify)))
        .service(resource("/v1/token/refresh").route(web::post().to(codes::refresh)))
        .service(resource("/v1/logout").route(web::post().to(account::logout)))
        .service(
            resource("/v1/me")
                .route(web::get().to(account::me))
                .route(web::patch().to(account::update_profile))
                .route(web::delete().to(account::delete_account)),
        )
        .service(resource("/v1/me/email").route(web::post().to(account::start_email_change)))
        .service(
            resource("/v1/me/email/verify").route(web::post().to(account::verify_email_change)),
        )
        .service(resource("/v1/email/revert").route(web::post().to(account::revert_email_change)))
        .service(
            resource("/v1/me/sessions")
                .route(web::get().to(account::sessions))
                .route(web::delete().to(account::revoke_all)),
        )
        .service(resource("/v1/me/sessions/{id}").route(web::delete().to(account::revoke_session)))
        .service(
            resource("/v1/passkeys/register/options")
                .route(web::post().to(passkeys::register_options)),
        )
        .service(
            resource("/v1/passkeys/register/finish")
                .route(web::post().to(passkeys::register_finish)),
        )
        .service(
            resource("/v1/passkeys/login/options").route(web::post().to(passkeys::login_options)),
        )
        .service(
            resource("/v1/passkeys/login/finish").route(web::post().to(passkeys::login_finish)),
        )
        .service(resource("/v1/me/passkeys").route(web::get().to(passkeys::list)))
        .service(
            resource("/v1/me/passkeys/{id}")
                .route(web::patch().to(passkeys::rename))
                .route(web::delete().to(passkeys::delete)),
        )
        .service(resource("/v1/me/apps").route(web::get().to(apps::list_apps)))
        .service(resource("/v1/me/apps/{client_id}").route(web::delete().to(apps::remove_app)))
        .service(resource("/v1/me/activity").route(web::get().to(account::activity)))
        .service(resource("/v1/profiles").route(web::get().to(public::profiles)))
        .service(resource("/v1/profiles/{id}").route(web::get().to(public::profile)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(public::jwks)))
        .service(resource("/healthz").route(web::get().to(public::healthz)))
        .service(resource("/readyz").route(web::get().to(public::readyz)))
        .service(resource("/openapi.json").route(web::get().to(public::openapi)))
        .service(resource("/problems/{code}").route(web::get().to(problems::problem)))
        .service(resource("/ui/return").route(web::get().to(back::back)));
    oidc::register(cfg);
}

pub(crate) fn register_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics").route(web::get().to(public::metrics)));
}

/// A `__Host-` cookie: Secure, HttpOnly, SameSite=Strict, path `/`.
fn cookie(name: &'static str, value: String, max_age: Duration) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// An instruction to the browser to forget a cookie.
fn expired(name: &'static str) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), Duration::ZERO);
    c.make_removal();
    c
}

/// A credential from the body (an API client), or else from `cookie` (a browser, and then only
/// from our own origin); `true` when it came from the cookie, so the answer uses cookies too.
/// `missing` is the answer when there is neither.
fn body_or_cookie(
    req: &actix_web::HttpRequest,
    state: &crate::AppState,
    from_body: Option<String>,
    cookie: &str,
    missing: ApiError,
) -> Result<(String, bool), ApiError> {
    if let Some(value) = from_body {
        return Ok((value, false));
    }
    let c = req.cookie(cookie).ok_or(missing)?;
    crate::extract::require_same_origin(req, &state.config)?;
    Ok((c.value().to_owned(), true))
}

fn add_cookies(
    res: &mut HttpResponse,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) -> Result<(), ApiError> {
    for c in cookies {
        res.add_cookie(&c).map_err(|_| ApiError::Internal)?;
    }
    Ok(())
}
