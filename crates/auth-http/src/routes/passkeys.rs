//! Passkeys: registration for a signed-in account, usernameless sign-in, and management.

use super::body_or_cookie;
use super::codes::signed_in_response;
use super::{add_cookies, cookie, expired};
use crate::AppState;
use crate::cookie_names::CEREMONY;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::{Authenticated, client_info};
use crate::wire::{
    PasskeyList, PasskeyLoginFinish, PasskeyOptions, PasskeyRegisterFinish, PasskeyRename,
    PasskeyView, device_hint,
};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::passkey::PasskeyName;
use auth_core::service::PasskeyStart;
use auth_core::{CeremonyId, PasskeyId};

fn options(start: &PasskeyStart) -> PasskeyOptions {
    PasskeyOptions {
        ceremony_id: start.ceremony_id.to_string(),
        options: start.options.clone(),
        expires_in: start.ttl.as_secs(),
    }
}

fn ceremony_id(s: &str) -> Result<CeremonyId, ApiError> {
    CeremonyId::parse(s).ok_or(ApiError::PasskeyInvalid)
}

#[utoipa::path(post, path = "/v1/passkeys/register/options", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeyOptions), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem, description = "`reauth_required`: the sign-in is not recent")))]
pub(crate) async fn register_options(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<web::Json<PasskeyOptions>, ApiError> {
    let start = state
        .service
        .start_passkey_registration(&who.principal)
        .await?;
    Ok(web::Json(options(&start)))
}

#[utoipa::path(post, path = "/v1/passkeys/register/finish", tag = "passkeys", security(("bearer" = [])), request_body = PasskeyRegisterFinish,
    responses((status = 201, body = PasskeyView), (status = 400, body = crate::error::Problem, description = "`passkey_invalid`"),
              (status = 403, body = crate::error::Problem, description = "`reauth_required`: the sign-in is no longer recent"),
              (status = 409, body = crate::error::Problem, description = "`passkey_exists`")))]
pub(crate) async fn register_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    body: JsonBody<PasskeyRegisterFinish>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.as_deref().map(PasskeyName::parse).transpose()?;
    let client = client_info(&req, &state.config);
    let hint = device_hint(
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    );
    let passkey = state
        .service
        .finish_passkey_registration(
            &who.principal,
            &ceremony_id(&body.ceremony_id)?,
            &body.credential,
            name,
            hint.as_deref(),
            &client,
        )
        .await?;
    Ok(HttpResponse::Created().json(PasskeyView::from(&passkey)))
}

#[utoipa::path(post, path = "/v1/passkeys/login/options", tag = "passkeys",
    responses((status = 200, body = PasskeyOptions, description = "Options for a usernameless sign-in (works with autofill)"),
              (status = 429, body = crate::error::Problem, description = "`rate_limited`: too many from this client network")))]
pub(crate) async fn login_options(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let start = state
        .service
        .start_passkey_login(&client_info(&req, &state.config))
        .await?;
    let mut res = HttpResponse::Ok().json(options(&start));
    add_cookies(
        &mut res,
        [cookie(CEREMONY, start.ceremony_id.to_string(), start.ttl)],
    )?;
    Ok(res)
}

#[utoipa::path(post, path = "/v1/passkeys/login/finish", tag = "passkeys", request_body = PasskeyLoginFinish,
    responses((status = 200, body = crate::wire::SignedInResponse), (status = 400, body = crate::error::Problem, description = "`passkey_invalid`: one answer for every failure"),
              (status = 429, body = crate::error::Problem)))]
pub(crate) async fn login_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<PasskeyLoginFinish>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (id, browser) = body_or_cookie(
        &req,
        &state,
        body.ceremony_id,
        CEREMONY,
        ApiError::PasskeyInvalid,
    )?;
    let signed = state
        .service
        .finish_passkey_login(
            &ceremony_id(&id)?,
            &body.credential,
            &client_info(&req, &state.config),
        )
        .await?;
    let mut res = signed_in_response(&state, &signed, browser)?;
    add_cookies(&mut res, [expired(CEREMONY)])?;
    Ok(res)
}

#[utoipa::path(get, path = "/v1/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeyList), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<web::Json<PasskeyList>, ApiError> {
    let passkeys = state.service.passkeys(&who.principal).await?;
    Ok(web::Json(PasskeyList {
        passkeys: passkeys.iter().map(PasskeyView::from).collect(),
    }))
}

#[utoipa::path(patch, path = "/v1/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), request_body = PasskeyRename,
    params(("id" = String, Path, description = "Passkey id")),
    responses((status = 204, description = "Renamed"), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn rename(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
    body: JsonBody<PasskeyRename>,
) -> Result<HttpResponse, ApiError> {
    let id = PasskeyId::parse(&id).ok_or(ApiError::NotFound)?;
    let name = PasskeyName::parse(&body.name)?;
    state
        .service
        .rename_passkey(
            &who.principal,
            &id,
            &name,
            &client_info(&req, &state.config),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/v1/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "Passkey id")),
    responses((status = 204, description = "Deleted; a notice is mailed"), (status = 403, body = crate::error::Problem, description = "`reauth_required`"),
              (status = 404, body = crate::error::Problem)))]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PasskeyId::parse(&id).ok_or(ApiError::NotFound)?;
    state
        .service
        .delete_passkey(&who.principal, &id, &client_info(&req, &state.config))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
