//! The signed-in account: profile, email change, sessions, activity, deletion, logout.

use super::body_or_cookie;
use super::{add_cookies, expired};
use crate::AppState;
use crate::cookie_names::{ACCESS, ATTEMPT, REFRESH};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::{Authenticated, client_info};
use crate::wire::{
    ActivityEvent, ActivityList, AttemptStarted, EmailRequest, EmailVerifyRequest, Me, PageQuery,
    ProfilePatch, RevertRequest, RevertResult, RevokeAllQuery, Revoked, SessionList, SessionView,
};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::EmailAddress;
use auth_core::Language;
use auth_core::SessionId;
use auth_core::service::ProfileChange;
use auth_core::user::DisplayName;

fn signed_out() -> Result<HttpResponse, ApiError> {
    let mut res = HttpResponse::NoContent().finish();
    add_cookies(&mut res, [expired(ACCESS), expired(REFRESH)])?;
    Ok(res)
}

#[utoipa::path(post, path = "/v1/logout", tag = "sessions", security(("bearer" = [])),
    responses((status = 204, description = "The session is revoked and its cookies cleared"), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state
        .service
        .logout(&who.principal, &client_info(&req, &state.config))
        .await?;
    signed_out()
}

#[utoipa::path(get, path = "/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn me(who: Authenticated) -> Result<web::Json<Me>, ApiError> {
    // The extractor read the account with the session: no second query.
    Ok(web::Json(Me::from(&who.user)))
}

#[utoipa::path(patch, path = "/v1/me", tag = "account", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    body: JsonBody<ProfilePatch>,
) -> Result<web::Json<Me>, ApiError> {
    let body = body.into_inner();
    let name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let language = body
        .language
        .map(Language::try_from)
        .transpose()
        .map_err(|e| ApiError::Invalid {
            code: "invalid_language",
            detail: e.to_string(),
        })?;
    let change = ProfileChange {
        display_name: name,
        public: body.public,
        language,
    };
    let user = state
        .service
        .update_profile(&who.principal, change, &client_info(&req, &state.config))
        .await?;
    Ok(web::Json(Me::from(&user)))
}

#[utoipa::path(delete, path = "/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 204, description = "The account, its sessions and its history are deleted"),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem, description = "`reauth_required`")))]
pub(crate) async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state
        .service
        .delete_account(&who.principal, &client_info(&req, &state.config))
        .await?;
    signed_out()
}

#[utoipa::path(post, path = "/v1/me/email", tag = "account", security(("bearer" = [])), request_body = EmailRequest,
    responses((status = 202, body = AttemptStarted, description = "A code is on its way to the new address"),
              (status = 403, body = crate::error::Problem, description = "`reauth_required`"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn start_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    body: JsonBody<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = EmailAddress::parse(&body.email)?;
    let s = state
        .service
        .start_email_change(&who.principal, email, &client_info(&req, &state.config))
        .await?;
    super::codes::started(s)
}

#[utoipa::path(post, path = "/v1/me/email/verify", tag = "account", security(("bearer" = [])), request_body = EmailVerifyRequest,
    responses((status = 200, body = Me, description = "The account now uses the new address; every other session ended; the old address got a notice with a link that undoes the change"),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem, description = "`reauth_required`"),
              (status = 409, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn verify_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    body: JsonBody<EmailVerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (token, _) = body_or_cookie(
        &req,
        &state,
        body.attempt_token,
        ATTEMPT,
        ApiError::CodeInvalid,
    )?;
    let user = state
        .service
        .verify_email_change(
            &who.principal,
            &token,
            &body.code,
            &client_info(&req, &state.config),
        )
        .await?;
    let mut res = HttpResponse::Ok().json(Me::from(&user));
    add_cookies(&mut res, [expired(ATTEMPT)])?;
    Ok(res)
}

#[utoipa::path(post, path = "/v1/email/revert", tag = "account", request_body = RevertRequest,
    responses((status = 200, body = RevertResult, description = "The change is undone: the old address is back (unless another account took it), every session ended, and the passkeys added in the day before the change or since are gone"),
              (status = 400, body = crate::error::Problem, description = "`revert_invalid`: unknown, used or expired link"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn revert_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<RevertRequest>,
) -> Result<HttpResponse, ApiError> {
    let done = state
        .service
        .revert_email_change(&body.token, &client_info(&req, &state.config))
        .await?;
    let mut res = HttpResponse::Ok().json(RevertResult {
        restored: done.restored,
        sessions_ended: done.sessions_ended,
        passkeys_removed: done.passkeys_removed,
    });
    // Every session of the account ended; a browser signed in to it forgets its cookies.
    add_cookies(&mut res, [expired(ACCESS), expired(REFRESH)])?;
    Ok(res)
}

#[utoipa::path(get, path = "/v1/me/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn sessions(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<web::Json<SessionList>, ApiError> {
    let list = state.service.sessions(&who.principal).await?;
    Ok(web::Json(SessionList {
        sessions: list
            .iter()
            .map(|s| {
                let mut view = SessionView::of(s, &who.principal.session_id);
                view.app_name = view
                    .app
                    .as_deref()
                    .and_then(|id| state.oidc.as_ref()?.registry().get(id))
                    .map(|c| c.name.clone());
                view
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/me/sessions", tag = "sessions", security(("bearer" = [])), params(RevokeAllQuery),
    responses((status = 200, body = Revoked), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn revoke_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<RevokeAllQuery>,
) -> Result<HttpResponse, ApiError> {
    let revoked = state
        .service
        .revoke_all_sessions(
            &who.principal,
            query.except_current,
            &client_info(&req, &state.config),
        )
        .await?;
    let mut res = HttpResponse::Ok().json(Revoked { revoked });
    if !query.except_current && who.via_cookie {
        add_cookies(&mut res, [expired(ACCESS), expired(REFRESH)])?;
    }
    Ok(res)
}

#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = SessionId::parse(&id).ok_or(ApiError::NotFound)?;
    state
        .service
        .revoke_session(&who.principal, &id, &client_info(&req, &state.config))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/me/activity", tag = "account", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = ActivityList), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn activity(
    state: web::Data<AppState>,
    who: Authenticated,
    q: web::Query<PageQuery>,
) -> Result<web::Json<ActivityList>, ApiError> {
    if q.after.is_some() {
        return Err(ApiError::bad_request(
            "activity is not paged by cursor; use limit",
        ));
    }
    let limit = super::public::page_limit(q.limit)?;
    let events = state.service.activity(&who.principal, limit).await?;
    Ok(web::Json(ActivityList {
        events: events.iter().map(ActivityEvent::from).collect(),
    }))
}
