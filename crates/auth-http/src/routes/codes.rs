//! The email-code flows: start sign-up, login and recovery, resend, verify; and token refresh.

use super::{add_cookies, body_or_cookie, cookie, expired};
use crate::AppState;
use crate::cookie_names::{ACCESS, ATTEMPT, REFRESH};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::client_info;
use crate::wire::{
    AttemptStarted, EmailRequest, Me, RefreshRequest, ResendRequest, SignedInResponse,
    SignupRequest, Tokens, VerifyRequest,
};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::EmailAddress;
use auth_core::service::{SignedIn, Started};
use auth_core::user::DisplayName;

/// Every start answers exactly alike — same status, body shape and cookie — whatever the address.
pub(crate) fn started(s: Started) -> Result<HttpResponse, ApiError> {
    let mut res = HttpResponse::Accepted().json(AttemptStarted {
        attempt_token: s.attempt_token.clone(),
        expires_in: s.code_ttl.as_secs(),
        token_expires_in: s.token_ttl.as_secs(),
    });
    add_cookies(&mut res, [cookie(ATTEMPT, s.attempt_token, s.token_ttl)])?;
    Ok(res)
}

#[utoipa::path(post, path = "/v1/signup", tag = "email codes", request_body = SignupRequest,
    responses((status = 202, body = AttemptStarted, description = "A code (or, if the address has an account, a sign-in code) is on its way"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = EmailAddress::parse(&body.email)?;
    let name = DisplayName::parse(&body.display_name)?;
    started(
        state
            .service
            .start_signup(email, name, &client_info(&req, &state.config))
            .await?,
    )
}

#[utoipa::path(post, path = "/v1/login/email", tag = "email codes", request_body = EmailRequest,
    responses((status = 202, body = AttemptStarted, description = "A code (or a no-account notice) is on its way"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = EmailAddress::parse(&body.email)?;
    started(
        state
            .service
            .start_login(email, &client_info(&req, &state.config))
            .await?,
    )
}

#[utoipa::path(post, path = "/v1/recovery", tag = "email codes", request_body = EmailRequest,
    responses((status = 202, body = AttemptStarted, description = "A recovery code (or a no-account notice) is on its way"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn recovery(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = EmailAddress::parse(&body.email)?;
    started(
        state
            .service
            .start_recovery(email, &client_info(&req, &state.config))
            .await?,
    )
}

#[utoipa::path(post, path = "/v1/codes/resend", tag = "email codes", request_body = ResendRequest,
    responses((status = 202, body = AttemptStarted, description = "A new code is on its way; the old one no longer works"),
              (status = 400, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<ResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, _) = body_or_cookie(
        &req,
        &state,
        body.into_inner().attempt_token,
        ATTEMPT,
        ApiError::AttemptInvalid,
    )?;
    started(
        state
            .service
            .resend(&token, &client_info(&req, &state.config))
            .await?,
    )
}

#[utoipa::path(post, path = "/v1/codes/verify", tag = "email codes", request_body = VerifyRequest,
    responses((status = 200, body = SignedInResponse, description = "Signed in; a verified sign-up creates the account now"),
              (status = 400, body = crate::error::Problem, description = "`code_invalid`: wrong, expired, used or unknown — one answer"),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (token, browser) = body_or_cookie(
        &req,
        &state,
        body.attempt_token,
        ATTEMPT,
        ApiError::CodeInvalid,
    )?;
    let signed = state
        .service
        .verify_code(&token, &body.code, &client_info(&req, &state.config))
        .await?;
    let mut res = signed_in_response(&state, &signed, browser)?;
    add_cookies(&mut res, [expired(ATTEMPT)])?;
    Ok(res)
}

/// The answer to any sign-in: the account and tokens in JSON, and for browsers the session cookies
/// instead of the refresh token.
pub(crate) fn signed_in_response(
    state: &AppState,
    signed: &SignedIn,
    browser: bool,
) -> Result<HttpResponse, ApiError> {
    let tokens = Tokens {
        session_id: signed.session.id.to_string(),
        access_token: signed.access_token.clone(),
        token_type: "Bearer",
        expires_in: signed.access_ttl.as_secs(),
        refresh_token: (!browser).then(|| signed.refresh_token.expose().to_owned()),
    };
    let mut res = HttpResponse::Ok().json(SignedInResponse {
        user: Me::from(&signed.user),
        created: signed.created,
        tokens,
    });
    if browser {
        add_cookies(
            &mut res,
            session_cookies(
                state,
                &signed.access_token,
                signed.refresh_token.expose(),
                signed.access_ttl,
            ),
        )?;
    }
    Ok(res)
}

pub(crate) fn session_cookies(
    state: &AppState,
    access: &str,
    refresh: &str,
    access_ttl: std::time::Duration,
) -> [actix_web::cookie::Cookie<'static>; 2] {
    let p = state.service.policy();
    [
        cookie(ACCESS, access.to_owned(), access_ttl),
        cookie(REFRESH, refresh.to_owned(), p.session_idle_ttl),
    ]
}

#[utoipa::path(post, path = "/v1/token/refresh", tag = "sessions", request_body = RefreshRequest,
    responses((status = 200, body = Tokens, description = "New tokens; the presented refresh token is spent"),
              (status = 401, body = crate::error::Problem, description = "Unknown, spent (the session is now revoked) or expired")))]
pub(crate) async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, browser) = body_or_cookie(
        &req,
        &state,
        body.into_inner().refresh_token,
        REFRESH,
        ApiError::RefreshInvalid,
    )?;
    let r = state
        .service
        .refresh(&token, &client_info(&req, &state.config))
        .await?;
    let tokens = Tokens {
        session_id: r.session.id.to_string(),
        access_token: r.access_token.clone(),
        token_type: "Bearer",
        expires_in: r.access_ttl.as_secs(),
        refresh_token: (!browser).then(|| r.refresh_token.expose().to_owned()),
    };
    let mut res = HttpResponse::Ok().json(tokens);
    if browser {
        add_cookies(
            &mut res,
            session_cookies(
                &state,
                &r.access_token,
                r.refresh_token.expose(),
                r.access_ttl,
            ),
        )?;
    }
    Ok(res)
}
