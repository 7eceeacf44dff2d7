//! The use cases. [`AuthService`] applies the rules to the ports; each room of this module holds
//! one family of use cases as one `impl` block, every public method is one use case with its own
//! error enum, and the cases an outsider must not tell apart collapse into one variant.
//!
//! - `email_codes`: starting, resending and verifying email-code attempts (sign-up, login,
//!   recovery, email change).
//! - `sessions`: opening sessions, refresh, authentication, sign-out and the session list.
//! - `account`: the profile, activity, deletion and public profiles.
//! - `passkeys`: registering, using and managing passkeys.
//! - `oidc`: the OpenID Connect provider (authorization, tokens, userinfo, revocation).
//! - `admin`: the operator's actions on accounts (find, disable, enable, delete, end sessions).

mod account;
mod admin;
mod email_codes;
mod oidc;
mod passkeys;
mod sessions;

pub use account::{AccountError, ProfileChange, RevertError, Reverted};
pub use admin::{ADMIN_PAGE_MAX, AccountSummary, AdminError, AdminTokens, Operator};
pub use email_codes::{EmailChangeError, ResendError, StartError, Started, VerifyError};
pub use oidc::{
    AuthorizeStep, ConsentedApp, OidcProvider, PENDING_TTL, TokenGrant, TokenRequestError,
    TokenResponse, UserInfo, with_query,
};
pub use passkeys::{PasskeyError, PasskeyStart};
pub use sessions::{AuthError, RefreshError, Refreshed, SignedIn};

use crate::audit::AuditKind;
use crate::code::{CodeHasher, PepperTooShort};
use crate::email::EmailAddress;
use crate::ids::{SessionId, UserId};
use crate::language::Language;
use crate::mail::{Mail, Message};
use crate::policy::Policy;
use crate::ports::{
    AttemptGate, AttemptStore, AuditEvent, AuditLog, CeremonyStore, Clock, EmailRevertStore,
    Mailer, PasskeyRepository, RateLimiter, Rng, SessionRepository, TokenIssuer, UserRepository,
    WebAuthn,
};
use crate::session::{AuthMethod, SuccessorKey};
use crate::time::Timestamp;
use crate::user::DisplayName;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

/// The ports a service runs on.
#[derive(Clone)]
pub struct Ports {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Email-code attempts.
    pub attempts: Arc<dyn AttemptStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Rate limits and failure counters.
    pub limiter: Arc<dyn RateLimiter>,
    /// The steps of email codes that pass limits and change an attempt together: normally the
    /// very store behind `attempts` and `limiter`, whose state it shares.
    pub gate: Arc<dyn AttemptGate>,
    /// Outgoing mail.
    pub mailer: Arc<dyn Mailer>,
    /// Token signing.
    pub tokens: Arc<dyn TokenIssuer>,
    /// Security activity.
    pub audit: Arc<dyn AuditLog>,
    /// Registered passkeys.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// WebAuthn ceremony state.
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// The undo links of email changes.
    pub reverts: Arc<dyn EmailRevertStore>,
    /// The WebAuthn relying party.
    pub webauthn: Arc<dyn WebAuthn>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Rng>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports { .. }")
    }
}

/// Who is asking, as far as the transport knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client IP (from the socket, or from a trusted proxy), canonical: an IPv4-mapped IPv6
    /// address is written as IPv4. Shown in activity and sessions.
    pub ip: Option<String>,
    /// The client network that per-client limits are keyed on (see [`crate::net`]).
    pub network: Option<String>,
    /// The user agent, truncated by the caller.
    pub user_agent: Option<String>,
    /// The language the client asked for (the page's choice or `Accept-Language`, else the
    /// server's default): mail caused by this request to an address without a known account is
    /// written in it, and a new account keeps it.
    pub language: Language,
}

impl ClientInfo {
    /// The client at `ip` (if known), its network spanning `v6_prefix` bits for IPv6.
    pub fn new(ip: Option<IpAddr>, v6_prefix: u8, user_agent: Option<String>) -> Self {
        let ip = ip.map(crate::net::canonical_ip);
        Self {
            ip: ip.map(|ip| ip.to_string()),
            network: ip.map(|ip| crate::net::network_of(ip, v6_prefix)),
            user_agent,
            language: Language::default(),
        }
    }

    /// The same client, asking for `language`.
    #[must_use]
    pub fn with_language(self, language: Language) -> Self {
        Self { language, ..self }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// How the session signed in.
    pub method: AuthMethod,
    /// When it signed in.
    pub auth_time: Timestamp,
}

/// The service: one per process, shared by every request.
pub struct AuthService {
    ports: Ports,
    policy: Policy,
    hasher: CodeHasher,
    successors: SuccessorKey,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A policy number is out of bounds.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The pepper is too short.
    #[error(transparent)]
    Pepper(#[from] PepperTooShort),
}

/// What a limit is kept for. Everything an outsider can exhaust for an address is kept per client
/// network too, so an outsider only ever spends their own network's share (see
/// [`crate::policy::Limits`]).
enum Key<'a> {
    SendIp(&'a ClientInfo),
    SendAddress(&'a EmailAddress, &'a ClientInfo),
    SendAddressTotal(&'a EmailAddress),
    SendGap(&'a EmailAddress, &'a ClientInfo),
    SendGlobalShare(&'a ClientInfo),
    GuessIp(&'a ClientInfo),
    PasskeyOptionsIp(&'a ClientInfo),
    Failures(&'a EmailAddress, &'a ClientInfo),
}

/// Rate-limit keys name addresses by a hash, so limiter stores hold no personal data.
fn key(k: Key<'_>) -> String {
    let addr = |e: &EmailAddress| {
        let digest = Sha256::digest(e.as_str().as_bytes());
        digest[..12]
            .iter()
            .fold(String::with_capacity(24), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    };
    let ip = |c: &ClientInfo| c.network.clone().unwrap_or_else(|| "unknown".to_owned());
    match k {
        Key::SendIp(c) => format!("send:ip:{}", ip(c)),
        Key::SendAddress(e, c) => format!("send:addr:{}:net:{}", addr(e), ip(c)),
        Key::SendAddressTotal(e) => format!("send:addr:{}", addr(e)),
        Key::SendGap(e, c) => format!("send:gap:{}:net:{}", addr(e), ip(c)),
        Key::SendGlobalShare(c) => format!("send:global:net:{}", ip(c)),
        Key::GuessIp(c) => format!("guess:ip:{}", ip(c)),
        Key::PasskeyOptionsIp(c) => format!("passkey-options:ip:{}", ip(c)),
        Key::Failures(e, c) => format!("fail:addr:{}:net:{}", addr(e), ip(c)),
    }
}

impl AuthService {
    /// A service on `ports`, enforcing `policy`, hashing codes under `pepper` (at least 32 bytes).
    ///
    /// # Errors
    /// An invalid policy or a short pepper.
    pub fn new(ports: Ports, policy: Policy, pepper: &[u8]) -> Result<Self, BuildError> {
        policy.validate()?;
        Ok(Self {
            hasher: CodeHasher::new(pepper)?,
            successors: SuccessorKey::from_pepper(pepper)?,
            ports,
            policy,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The JWKS document of the access-token keys.
    pub fn jwks(&self) -> serde_json::Value {
        self.ports.tokens.jwks()
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    fn is_recent(&self, who: &Principal) -> bool {
        self.now().since(who.auth_time) <= self.policy.recent_auth
    }

    /// Mails `message` to an address; `name` is the display name of its account, `None` when the
    /// greeting must stay neutral.
    async fn mail(
        &self,
        to: EmailAddress,
        name: Option<&DisplayName>,
        language: Language,
        message: Message,
    ) {
        let kind = message.kind();
        let name = name.map(ToString::to_string);
        let mail = Mail {
            to,
            name,
            language,
            message,
        };
        if let Err(e) = self.ports.mailer.send(mail).await {
            // What the client sees must not depend on the mail queue.
            tracing::warn!(mail = kind, error = %e, "mail not queued");
        }
    }

    /// An event of the account now, from `client`, for a store method that writes it with the
    /// change it reports.
    fn event(
        &self,
        user_id: UserId,
        kind: AuditKind,
        client: &ClientInfo,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            user_id,
            at: self.now(),
            kind,
            ip: client.ip.clone(),
            detail,
        }
    }

    async fn record(
        &self,
        user_id: UserId,
        kind: AuditKind,
        client: &ClientInfo,
        detail: Option<String>,
    ) {
        let event = self.event(user_id, kind, client, detail);
        if let Err(e) = self.ports.audit.record(&event).await {
            tracing::warn!(kind = kind.as_str(), error = %e, "audit event not recorded");
        }
    }

    /// Like [`AuthService::record`], but off the request path (see [`AuditLog::record_later`]).
    async fn record_later(
        &self,
        user_id: UserId,
        kind: AuditKind,
        client: &ClientInfo,
        detail: Option<String>,
    ) {
        let event = AuditEvent {
            user_id,
            at: self.now(),
            kind,
            ip: client.ip.clone(),
            detail,
        };
        if let Err(e) = self.ports.audit.record_later(&event).await {
            tracing::warn!(kind = kind.as_str(), error = %e, "audit event not queued");
        }
    }
}
