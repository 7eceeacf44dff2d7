//! The JSON shapes of the API. Requests refuse unknown fields; responses never carry secrets
//! other than the tokens they exist to deliver.

use auth_core::audit::AuditKind;
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
    /// The language of mail to the account and of the page: `en` or `de`.
    #[schema(example = "en")]
    pub language: String,
}

impl From<&User> for Me {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            display_name: u.display_name.to_string(),
            public: u.public,
            created_at: rfc3339(u.created_at),
            language: u.language.as_str().to_owned(),
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
    /// The language of mail to the account and of the page: `en` or `de`.
    #[serde(default)]
    #[schema(example = "de")]
    pub language: Option<String>,
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

/// Undo an email change with the link mailed to the old address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    /// The token from the link (the part after `#revert=`).
    pub token: String,
}

/// What undoing an email change did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevertResult {
    /// Whether the account has its old address again; `false` if another account took it in the
    /// meantime (everything else was still done).
    pub restored: bool,
    /// How many sessions were signed out (all of them).
    pub sessions_ended: u64,
    /// How many passkeys were removed (those added in the day before the change or since).
    pub passkeys_removed: u64,
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
    /// The app (OpenID Connect client id) the session was opened for; absent for our own
    /// sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// That app's name as configured, when it still is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
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
            app: s.client.as_ref().map(|c| c.id.to_string()),
            app_name: None,
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
#[into_params(parameter_in = Query)]
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
    /// What happened.
    #[schema(schema_with = audit_kind_schema)]
    pub kind: AuditKind,
    /// When.
    pub at: String,
    /// From which IP address.
    pub ip: Option<String>,
    /// A short detail (the sign-in method, a masked address, a session id).
    pub detail: Option<String>,
}

/// The closed set of activity kinds, from the core's own list.
fn audit_kind_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(AuditKind::ALL.iter().map(|k| k.as_str())))
        .description(Some("What happened."))
        .build()
}

impl From<&AuditEvent> for ActivityEvent {
    fn from(e: &AuditEvent) -> Self {
        Self {
            kind: e.kind,
            at: rfc3339(e.at),
            ip: e.ip.clone(),
            detail: e.detail.clone(),
        }
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
#[into_params(parameter_in = Query)]
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
        Self {
            id: p.id.to_string(),
            display_name: p.display_name.to_string(),
        }
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

/// The start of a passkey ceremony.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyOptions {
    /// Bring it back to the finish call (sign-in also sets it as the `__Host-auth_ceremony` cookie).
    pub ceremony_id: String,
    /// Pass to `navigator.credentials.create()` / `.get()` (after decoding the base64url fields).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Seconds the ceremony may take.
    pub expires_in: u64,
}

/// Finish registering a passkey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterFinish {
    /// From the options call.
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON (`toJSON()`).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for it; a default from the browser is used if absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// Finish a passkey sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginFinish {
    /// From the options call; if absent, the ceremony cookie is used and tokens come back as cookies.
    #[serde(default)]
    pub ceremony_id: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as JSON (`toJSON()`).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// One passkey.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    /// Passkey id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was added.
    pub created_at: String,
    /// When it last signed in.
    pub last_used_at: Option<String>,
    /// Whether it may sync to other devices.
    pub backup_eligible: bool,
    /// Whether it is synced now.
    pub backed_up: bool,
    /// How the authenticator is reached.
    pub transports: Vec<String>,
}

impl From<&auth_core::passkey::Passkey> for PasskeyView {
    fn from(p: &auth_core::passkey::Passkey) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.to_string(),
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
            transports: p.transports.clone(),
        }
    }
}

/// The account's passkeys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    /// Oldest first.
    pub passkeys: Vec<PasskeyView>,
}

/// Rename a passkey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRename {
    /// The new name (1 to 64 characters).
    pub name: String,
}

/// A short name for the device a browser runs on, from its user agent: `Chrome on Android`.
pub fn device_hint(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?;
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "Mac"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => Some(format!("{b} on {o}")),
        (None, Some(o)) => Some(o.to_owned()),
        (Some(b), None) => Some(b.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_hints_name_browser_and_system() {
        let chrome_linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(
            device_hint(Some(chrome_linux)).as_deref(),
            Some("Chrome on Linux")
        );
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(
            device_hint(Some(iphone)).as_deref(),
            Some("Safari on iPhone")
        );
        assert_eq!(device_hint(Some("curl/8.0")), None);
        assert_eq!(device_hint(None), None);
    }
}

/// An app the account has let sign it in through the OpenID Connect provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// The app's `client_id`.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// What it may read: `openid`, `profile`, `email`, `offline_access`.
    pub scopes: Vec<&'static str>,
    /// When the account (last) consented.
    pub granted_at: String,
}

/// The apps the account has consented to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    /// Newest consent first.
    pub apps: Vec<AppView>,
}
