//! The JSON shapes of the API. Requests refuse unknown fields; responses never carry secrets
//! other than the tokens they exist to deliver.

use auth_core::ports::AuditEvent;
use auth_core::session::Session;
use auth_core::time::Timestamp;
use auth_core::user::{PublicProfile, User};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

/// RFC 3339 text of a timestamp.
pub fn rfc3339(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_millis()) * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Start a sign-up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Exactly one email address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The name to show (1 to 64 characters).
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
}

/// Start a sign-in or recovery by email code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// Exactly one email address.
    #[schema(example = "ada@example.com")]
    pub email: String,
}

/// A code is on its way (or, for an address without an account, a notice — indistinguishable here).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptStarted {
    /// The signed attempt token; also set as the `__Host-auth_attempt` cookie.
    pub attempt_token: String,
    /// Seconds the code is valid.
    pub expires_in: u64,
    /// Seconds the attempt token is accepted (for asking a new code).
    pub token_expires_in: u64,
}

/// Ask for a new code for an attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// The attempt token; if absent, the attempt cookie is used.
    #[serde(default)]
    pub attempt_token: Option<String>,
}

/// Prove a code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The attempt token; if absent, the attempt cookie is used and tokens come back as cookies.
    #[serde(default)]
    pub attempt_token: Option<String>,
    /// The code from the mail; case, spaces and dashes do not matter.
    #[schema(example = "ABCD-EFGH")]
    pub code: String,
}

/// Rotate a refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token; if absent, the refresh cookie is used and tokens come back as cookies.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The signed-in account, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Account id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether the profile is listed publicly.
    pub public: bool,
    /// When the account was created.
    pub created_at: String,
}

impl From<&User> for Me {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            display_name: u.display_name.to_string(),
            public: u.public,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// Tokens of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// The session id.
    pub session_id: String,
    /// A JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    /// The refresh token, for API clients; browsers get it as an HttpOnly cookie instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The result of a verified code.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedInResponse {
    /// The account.
    pub user: Me,
    /// Whether this created the account.
    pub created: bool,
    /// The session's tokens.
    #[serde(flatten)]
    pub tokens: Tokens,
}

/// Change the profile; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether to list the profile publicly.
    #[serde(default)]
    pub public: Option<bool>,
}

/// Confirm an email change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerifyRequest {
    /// The attempt token from the change request; if absent, the attempt cookie is used.
    #[serde(default)]
    pub attempt_token: Option<String>,
    /// The code sent to the new address.
    pub code: String,
}

/// One session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// How it signed in: `email_code`, `recovery` or `passkey`.
    pub method: &'static str,
    /// When it signed in.
    pub created_at: String,
    /// When it last refreshed.
    pub last_seen_at: String,
    /// When it ends unless refreshed.
    pub expires_at: String,
    /// The browser or client that signed in.
    pub user_agent: Option<String>,
    /// The IP address it signed in from.
    pub ip: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    /// The view of `s`, marked current if it is `current`.
    pub fn of(s: &Session, current: &auth_core::SessionId) -> Self {
        Self {
            id: s.id.to_string(),
            method: s.method.as_str(),
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
            current: s.id == *current,
        }
    }
}

/// The account's active sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<SessionView>,
}

/// Which sessions to revoke at once.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllQuery {
    /// Keep the calling session (sign out everywhere else).
    #[serde(default)]
    pub except_current: bool,
}

/// How many sessions were revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// The count.
    pub revoked: u64,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityEvent {
    /// What happened, e.g. `signed_in`, `email_changed`, `refresh_token_reused`.
    pub kind: String,
    /// When.
    pub at: String,
    /// From which IP address.
    pub ip: Option<String>,
    /// A short detail (the sign-in method, a masked address, a session id).
    pub detail: Option<String>,
}

impl From<&AuditEvent> for ActivityEvent {
    fn from(e: &AuditEvent) -> Self {
        Self { kind: e.kind.clone(), at: rfc3339(e.at), ip: e.ip.clone(), detail: e.detail.clone() }
    }
}

/// Recent security activity.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    /// Newest first.
    pub events: Vec<ActivityEvent>,
}

/// Paging of lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// How many items (1 to 100, default 20).
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// A public profile: never an email address.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProfileView {
    /// Account id.
    pub id: String,
    /// Display name.
    pub display_name: String,
}

impl From<&PublicProfile> for PublicProfileView {
    fn from(p: &PublicProfile) -> Self {
        Self { id: p.id.to_string(), display_name: p.display_name.to_string() }
    }
}

/// A page of public profiles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilePage {
    /// Ordered by id.
    pub profiles: Vec<PublicProfileView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Readiness of the stores.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// Each store: `ok` or `unavailable`.
    pub checks: BTreeMap<&'static str, &'static str>,
}
