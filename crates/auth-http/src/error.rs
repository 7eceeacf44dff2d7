//! `ApiError`: every failure of the API, mapped once to an `application/problem+json` answer with a
//! stable `code`. Clients get a plain sentence; causes go to the log once; expected bad input is
//! not logged as an error.

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_core::code::CodeError;
use auth_core::email::EmailError;
use auth_core::ports::StoreError;
use auth_core::service::{
    AccountError, AuthError, EmailChangeError, PasskeyError, RefreshError, ResendError,
    RevertError, StartError, VerifyError,
};
use auth_core::token::TokenError;
use auth_core::user::DisplayNameError;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use utoipa::ToSchema;

/// An RFC 9457 problem document, as sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// Seconds to wait before retrying, for `rate_limited` and `unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Every way an API call can fail.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed request: bad JSON, unknown fields, wrong types, bad query.
    BadRequest(String),
    /// The body is not JSON.
    UnsupportedMediaType,
    /// The body is too large.
    PayloadTooLarge,
    /// The body did not arrive in time.
    BodyTimeout,
    /// A field value is invalid.
    Invalid {
        /// The stable code, e.g. `invalid_email`.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The code is wrong, expired, used, or the attempt is unknown: one answer for all.
    CodeInvalid,
    /// The attempt token cannot start a new code.
    AttemptInvalid,
    /// The refresh token is not valid.
    RefreshInvalid,
    /// The undo link of an email change is unknown, used or expired.
    RevertInvalid,
    /// A passkey ceremony failed: one answer for every reason.
    PasskeyInvalid,
    /// This passkey is already registered.
    PasskeyExists,
    /// Not signed in.
    Unauthorized,
    /// A recent sign-in is needed.
    ReauthRequired,
    /// A cookie-authenticated change came from a foreign origin; the public origin to open instead.
    ForbiddenOrigin(String),
    /// No such resource.
    NotFound,
    /// The method is not allowed here.
    MethodNotAllowed,
    /// The address belongs to another account.
    EmailTaken,
    /// Too many requests.
    RateLimited(Duration),
    /// A store is down.
    Unavailable,
    /// A bug or broken key material; details are only logged.
    Internal,
}

impl ApiError {
    /// A malformed request with a reason.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use ApiError::*;
        match self {
            BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is malformed",
                d.clone(),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "send the body as application/json".to_owned(),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                "the request body is too large".to_owned(),
            ),
            BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "Request timeout",
                "the request body did not arrive in time".to_owned(),
            ),
            Invalid { code, detail } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "A field is invalid",
                detail.clone(),
            ),
            CodeInvalid => (
                StatusCode::BAD_REQUEST,
                "code_invalid",
                "The code is not valid",
                "the code is wrong or has expired; ask for a new one".to_owned(),
            ),
            AttemptInvalid => (
                StatusCode::BAD_REQUEST,
                "attempt_invalid",
                "The sign-in attempt is not valid",
                "this attempt has ended; start again".to_owned(),
            ),
            RevertInvalid => (
                StatusCode::BAD_REQUEST,
                "revert_invalid",
                "The link is not valid",
                "this link is unknown, was used already or has expired".to_owned(),
            ),
            PasskeyInvalid => (
                StatusCode::BAD_REQUEST,
                "passkey_invalid",
                "The passkey could not be verified",
                "the passkey was not accepted; try again or use an email code".to_owned(),
            ),
            PasskeyExists => (
                StatusCode::CONFLICT,
                "passkey_exists",
                "Passkey already registered",
                "this passkey is already registered".to_owned(),
            ),
            RefreshInvalid => (
                StatusCode::UNAUTHORIZED,
                "refresh_invalid",
                "Not signed in",
                "sign in again".to_owned(),
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not signed in",
                "a valid access token is required".to_owned(),
            ),
            ReauthRequired => (
                StatusCode::FORBIDDEN,
                "reauth_required",
                "Recent sign-in required",
                "sign in again to make this change".to_owned(),
            ),
            ForbiddenOrigin(public) => (
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "Cross-site request refused",
                format!(
                    "this change was refused because it did not come from the service's own page; \
                     open {public} and try again there"
                ),
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "there is nothing here".to_owned(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                "this method is not allowed here".to_owned(),
            ),
            EmailTaken => (
                StatusCode::CONFLICT,
                "email_taken",
                "Address in use",
                "that address belongs to another account".to_owned(),
            ),
            RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                "too many attempts; wait before trying again".to_owned(),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "the service is temporarily unavailable; try again shortly".to_owned(),
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "something went wrong on our side".to_owned(),
            ),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            // Round up: retrying a moment early would just be refused again.
            ApiError::RateLimited(d) => Some(d.as_millis().div_ceil(1000).max(1) as u64),
            ApiError::Unavailable => Some(5),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, code, _, detail) = self.parts();
        write!(f, "{} {code}: {detail}", status.as_u16())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, title, detail) = self.parts();
        let retry_after = self.retry_after();
        let problem = Problem {
            kind: format!("/problems/{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            retry_after,
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Some(secs) = retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(problem)
    }
}

fn store(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(source) => {
            tracing::warn!(error = %source, "store unavailable");
            ApiError::Unavailable
        }
        StoreError::Corrupt(what) => {
            tracing::error!(error = %what, "store returned unusable data");
            ApiError::Internal
        }
    }
}

fn token(e: TokenError) -> ApiError {
    tracing::error!(error = %e, "token signing failed");
    ApiError::Internal
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        store(e)
    }
}

impl From<JsonPayloadError> for ApiError {
    fn from(e: JsonPayloadError) -> Self {
        match e {
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::Deserialize(e) => {
                ApiError::bad_request(format!("the body is not valid: {e}"))
            }
            _ => ApiError::bad_request("the body could not be read"),
        }
    }
}

impl From<EmailError> for ApiError {
    fn from(e: EmailError) -> Self {
        ApiError::Invalid {
            code: "invalid_email",
            detail: e.to_string(),
        }
    }
}

impl From<DisplayNameError> for ApiError {
    fn from(e: DisplayNameError) -> Self {
        ApiError::Invalid {
            code: "invalid_display_name",
            detail: e.to_string(),
        }
    }
}

impl From<CodeError> for ApiError {
    fn from(e: CodeError) -> Self {
        ApiError::Invalid {
            code: "invalid_code_format",
            detail: e.to_string(),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            StartError::Store(e) => store(e),
            StartError::Token(e) => token(e),
        }
    }
}

impl From<ResendError> for ApiError {
    fn from(e: ResendError) -> Self {
        match e {
            ResendError::InvalidAttempt => ApiError::AttemptInvalid,
            ResendError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            ResendError::Store(e) => store(e),
            ResendError::Token(e) => token(e),
        }
    }
}

impl From<EmailChangeError> for ApiError {
    fn from(e: EmailChangeError) -> Self {
        match e {
            EmailChangeError::ReauthRequired => ApiError::ReauthRequired,
            EmailChangeError::SameAddress => ApiError::Invalid {
                code: "same_email",
                detail: "that is already the account's address".to_owned(),
            },
            EmailChangeError::Gone => ApiError::Unauthorized,
            EmailChangeError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            EmailChangeError::Store(e) => store(e),
            EmailChangeError::Token(e) => token(e),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Malformed(e) => e.into(),
            VerifyError::Invalid => ApiError::CodeInvalid,
            VerifyError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            VerifyError::EmailTaken => ApiError::EmailTaken,
            VerifyError::ReauthRequired => ApiError::ReauthRequired,
            VerifyError::Store(e) => store(e),
            VerifyError::Token(e) => token(e),
        }
    }
}

impl From<RevertError> for ApiError {
    fn from(e: RevertError) -> Self {
        match e {
            RevertError::Invalid => ApiError::RevertInvalid,
            RevertError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            RevertError::Store(e) => store(e),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => ApiError::RefreshInvalid,
            RefreshError::Store(e) => store(e),
            RefreshError::Token(e) => token(e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => ApiError::Unauthorized,
            AuthError::Store(e) => store(e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Gone => ApiError::Unauthorized,
            AccountError::NoSuchSession | AccountError::NoSuchPasskey => ApiError::NotFound,
            AccountError::ReauthRequired => ApiError::ReauthRequired,
            AccountError::Store(e) => store(e),
        }
    }
}

impl From<PasskeyError> for ApiError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Invalid => ApiError::PasskeyInvalid,
            PasskeyError::Malformed => {
                ApiError::bad_request("the credential is not a WebAuthn response")
            }
            PasskeyError::AlreadyRegistered => ApiError::PasskeyExists,
            PasskeyError::ReauthRequired => ApiError::ReauthRequired,
            PasskeyError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            PasskeyError::Store(e) => store(e),
            PasskeyError::Token(e) => token(e),
            PasskeyError::Internal(what) => {
                tracing::error!(error = %what, "webauthn failed");
                ApiError::Internal
            }
        }
    }
}
