//! The ports: what the domain needs from the outside world, named by role. Adapters implement them
//! by technology; every port has a contract suite in [`crate::testkit`] that each adapter runs.

use crate::attempt::Attempt;
use crate::audit::AuditKind;
use crate::email::EmailAddress;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::ids::{CeremonyId, PasskeyId};
use crate::mail::Mail;
use crate::passkey::{Ceremony, CredentialUse, NewCredential, Passkey, PasskeyName, WebAuthnError};
use crate::rate::{Failures, Quota, RateDecision};
use crate::revert::EmailRevert;
use crate::session::{Rotation, Session, TokenHash};
use crate::time::Timestamp;
use crate::token::{AccessClaims, AttemptTicket, TokenError};
use crate::user::{DisplayName, PublicProfile, User};
use async_trait::async_trait;
use std::error::Error as StdError;
use std::time::Duration;

/// Any error from the technology behind a port.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A store failed. Every port method that touches a store returns this for technology failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or timed out; the request may succeed later.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with something the adapter cannot make sense of.
    #[error("store returned unusable data: {0}")]
    Corrupt(String),
}

/// The address is already used by another account.
#[derive(Debug, thiserror::Error)]
pub enum EmailTakenOr {
    /// Taken.
    #[error("the email address belongs to another account")]
    Taken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Accounts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates `user` together with its first session, atomically: either both exist afterwards or
    /// neither does.
    ///
    /// # Errors
    /// [`EmailTakenOr::Taken`] if another account has the address (nothing is written).
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
    ) -> Result<(), EmailTakenOr>;

    /// The account with this address.
    ///
    /// # Errors
    /// Store failures only.
    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// The account with this id.
    ///
    /// # Errors
    /// Store failures only.
    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Sets the display name and the public flag; `None` if there is no such account.
    ///
    /// # Errors
    /// Store failures only.
    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
    ) -> Result<Option<User>, StoreError>;

    /// Moves the account to `email` and, in the same write, starts a new attempt epoch (its
    /// `attempt_epoch` goes up by one); `false` if there is no such account.
    ///
    /// # Errors
    /// [`EmailTakenOr::Taken`] if another account has the address (nothing is written).
    async fn change_email(&self, id: &UserId, email: &EmailAddress) -> Result<bool, EmailTakenOr>;

    /// Starts a new attempt epoch for the account (its `attempt_epoch` goes up by one), so that
    /// none of its open email-code attempts can sign in any more; `false` if there is no such
    /// account.
    ///
    /// # Errors
    /// Store failures only.
    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError>;

    /// Deletes the account and, with it, its sessions and audit trail; `false` if it did not exist.
    ///
    /// # Errors
    /// Store failures only.
    async fn delete(&self, id: &UserId) -> Result<bool, StoreError>;

    /// Public profiles ordered by id, strictly after `after`, at most `limit` (1 to 100).
    ///
    /// # Errors
    /// Store failures only.
    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError>;
}

/// Email-code attempts. Guess counting and consumption are atomic: under any number of parallel
/// calls, at most `max_guesses` guesses are handed out per attempt and exactly one `consume` wins.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Stores a new active attempt. If `replaces` names an attempt (a resend: one of the same
    /// address), that attempt is superseded in the same atomic step if it is still active. No
    /// other attempt is touched: several attempts for one address and purpose may be active at
    /// once, so a start from one client never invalidates an attempt that another client holds.
    ///
    /// # Errors
    /// Store failures only.
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError>;

    /// The attempt, in whatever state; `None` if unknown or already purged.
    ///
    /// # Errors
    /// Store failures only.
    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError>;

    /// Atomically takes one guess: if the attempt is active, unexpired at `now` and has evaluated
    /// fewer than `max_guesses`, its guess count goes up by one and the attempt (with the new count)
    /// is returned; otherwise nothing changes and `None` comes back.
    ///
    /// # Errors
    /// Store failures only.
    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError>;

    /// Atomically marks an active, unexpired attempt consumed. `true` for exactly one caller.
    ///
    /// # Errors
    /// Store failures only.
    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError>;
}

/// Sessions and their refresh-token families.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session whose current refresh token hashes to `refresh`.
    ///
    /// # Errors
    /// Store failures only (the account must exist; adapters may reject an unknown one as corrupt).
    async fn create(&self, session: &Session, refresh: &TokenHash) -> Result<(), StoreError>;

    /// The session, in whatever state.
    ///
    /// # Errors
    /// Store failures only.
    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;

    /// Presents a refresh token, atomically. If `old` is the current token of a session that is
    /// active at `now`, it is spent, `new` becomes current, `last_seen_at` becomes `now` and
    /// `expires_at` becomes `min(now + idle, created_at + max)`: [`Rotation::Rotated`] with the
    /// updated session.
    ///
    /// If `old` was spent less than `grace` before `now`, `new` is the session's current token and
    /// the session is active, nothing changes and the answer is [`Rotation::Rotated`] with the
    /// session as it is: the caller hands out `new` again. This is the two-tabs case. Stores keep
    /// only hashes, so they cannot hand out a successor they remember; instead the caller derives
    /// `new` from `old` deterministically ([`crate::session::RefreshToken::successor`], a keyed
    /// HMAC under a server secret), so a second presentation of `old` arrives with the same `new`,
    /// and the store only checks that it is still the current one. A `new` that is not current
    /// (the successor has itself been rotated, or it was derived under another key) is reuse.
    ///
    /// If `old` was spent otherwise (longer ago than `grace`, or not into the current token), the
    /// whole session is revoked: [`Rotation::Reused`]. Otherwise [`Rotation::Invalid`]. Under
    /// parallel presentation of the same `old` with the same `new`, exactly one caller rotates and
    /// the others (within the grace) get the same session; exactly one successor exists after.
    ///
    /// # Errors
    /// Store failures only.
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
    ) -> Result<Rotation, StoreError>;

    /// The account's sessions that are active at `now`, newest first.
    ///
    /// # Errors
    /// Store failures only.
    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError>;

    /// Revokes one of the account's sessions; `false` if it is not the account's or already revoked.
    ///
    /// # Errors
    /// Store failures only.
    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Revokes all the account's active sessions but `keep`; returns how many.
    ///
    /// # Errors
    /// Store failures only.
    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// The lifetimes a refresh applies (see [`SessionRepository::rotate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A session ends if its refresh token is not used for this long.
    pub idle: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub max: Duration,
    /// How long a just-rotated token may be presented again for the same successor.
    pub grace: Duration,
}

/// How long the durable stores keep what has stopped mattering (see [`Housekeeping::purge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long the hash of a spent refresh token is kept (while its session lives), so that
    /// presenting it again is still recognised as reuse. The session's idle lifetime: after that,
    /// the family would have ended anyway had nobody else kept it alive.
    pub spent_tokens: Duration,
    /// How long audit events are kept.
    pub audit: Duration,
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions that had ended (expired or revoked), with their refresh tokens.
    pub sessions: u64,
    /// Hashes of spent refresh tokens of live sessions, older than the retention.
    pub refresh_tokens: u64,
    /// Audit events older than the retention.
    pub audit_events: u64,
}

/// Retention of the durable stores: sessions, refresh-token hashes and audit events. The server
/// runs it now and then for whichever durable store is configured.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Housekeeping: Send + Sync {
    /// Deletes, at `now`: sessions that have ended (expired at or before `now`, or revoked) with
    /// all their refresh tokens; spent refresh tokens of the remaining sessions spent more than
    /// `keep.spent_tokens` before `now` (the current token of a session is never deleted); and
    /// audit events more than `keep.audit` before `now`. Nothing any other port method answers
    /// about a live session changes, except that a spent token older than the retention is
    /// [`Rotation::Invalid`] instead of [`Rotation::Reused`]. Safe to run from several nodes at
    /// once.
    ///
    /// # Errors
    /// Store failures only.
    async fn purge(&self, now: Timestamp, keep: Retention) -> Result<Purged, StoreError>;
}

/// Rate limits and failure counters, atomic in the store so every node shares them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// One GCRA step ([`crate::rate::gcra`]) under `key`: consumes capacity only when allowed.
    /// Under N parallel calls against a fresh key with `quota.limit = L`, exactly `min(N, L)` are
    /// allowed.
    ///
    /// # Errors
    /// Store failures only.
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError>;

    /// The failures recorded under `key` whose window has not ended at `now`.
    ///
    /// # Errors
    /// Store failures only.
    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError>;

    /// Records one failure at `now`, atomically. A key with no open window starts one of `window`.
    /// Returns the state after counting it.
    ///
    /// # Errors
    /// Store failures only.
    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError>;

    /// Forgets the failures under `key`.
    ///
    /// # Errors
    /// Store failures only.
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
}

/// Outgoing mail. Implementations queue and return at once: a slow or dead relay must never slow
/// or fail the request that caused the mail.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Queues one message.
    ///
    /// # Errors
    /// [`MailError::QueueFull`] when the queue cannot take it; callers log and carry on.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// Mail that could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The queue is full or closed.
    #[error("the mail queue is full")]
    QueueFull,
}

/// Signs and verifies tokens. Signing is CPU work, not I/O, so these methods are synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A signed access token.
    ///
    /// # Errors
    /// [`TokenError::Signing`] only if the key material is unusable.
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// The claims of a valid access token: signature, algorithm, `kid`, issuer, audience, `exp` and
    /// `nbf` are all checked.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// A signed attempt token.
    ///
    /// # Errors
    /// [`TokenError::Signing`] only if the key material is unusable.
    fn issue_attempt(&self, ticket: &AttemptTicket) -> Result<String, TokenError>;

    /// The ticket of a valid, unexpired attempt token.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_attempt(&self, token: &str) -> Result<AttemptTicket, TokenError>;

    /// The public keys that verify access tokens, as a JWKS document.
    fn jwks(&self) -> serde_json::Value;
}

/// Verifies access tokens only: what a service that accepts our tokens needs (for example from the
/// published JWKS), without the power to issue any.
pub trait AccessVerifier: Send + Sync {
    /// The claims of a valid access token (signature, algorithm, `kid`, issuer, audience, `exp` and
    /// `nbf` checked).
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;
}

/// A credential id that another passkey already has.
#[derive(Debug, thiserror::Error)]
pub enum CredentialTakenOr {
    /// Taken (by this account or another).
    #[error("the passkey is already registered")]
    Taken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registered passkeys.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PasskeyRepository: Send + Sync {
    /// Stores a new passkey of an existing account.
    ///
    /// # Errors
    /// [`CredentialTakenOr::Taken`] if any passkey has the same credential id (a store constraint,
    /// not a check, so parallel adds of one credential cannot both succeed).
    async fn add(&self, passkey: &Passkey) -> Result<(), CredentialTakenOr>;

    /// The account's passkeys, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError>;

    /// The passkey with this credential id, whoever owns it.
    ///
    /// # Errors
    /// Store failures only.
    async fn by_credential_id(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError>;

    /// After a sign-in: stores the adapter's updated record, counter and backup state, only if
    /// the counter moves forward (`sign_count` greater than the stored one) or both are 0 (synced
    /// passkeys never count); otherwise the stored record, counter and backup state stay, so
    /// parallel sign-ins can never move the counter backwards. The last use becomes the later of
    /// the stored one and `at` either way. `false` if the passkey is gone. One conditional write.
    ///
    /// # Errors
    /// Store failures only.
    async fn record_use(
        &self,
        id: &PasskeyId,
        credential: &[u8],
        sign_count: u32,
        backed_up: bool,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Renames one of the account's passkeys; `false` if it is not the account's.
    ///
    /// # Errors
    /// Store failures only.
    async fn rename(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &PasskeyName,
    ) -> Result<bool, StoreError>;

    /// Deletes one of the account's passkeys; `false` if it is not the account's.
    ///
    /// # Errors
    /// Store failures only.
    async fn delete(&self, user: &UserId, id: &PasskeyId) -> Result<bool, StoreError>;
}

/// Server-side state of WebAuthn ceremonies: short-lived and single use, shared by every node.
/// Times come from the caller's clock, like every other store's.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CeremonyStore: Send + Sync {
    /// Keeps `state` under `id` until `now + ttl`. A store may hold a bounded number of
    /// ceremonies and then drop the ones closest to expiry (the oldest) to make room.
    ///
    /// # Errors
    /// Store failures only.
    async fn put(
        &self,
        id: &CeremonyId,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Removes and returns the state, atomically: under parallel calls exactly one gets it. `None`
    /// if unknown, already taken, or expired at `now`.
    ///
    /// # Errors
    /// Store failures only.
    async fn take(&self, id: &CeremonyId, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The WebAuthn relying party: builds ceremony options and verifies authenticator responses.
/// Verification is CPU work, so these methods are synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait WebAuthn: Send + Sync {
    /// Options to register a discoverable passkey for `user`, excluding the credentials in `existing`.
    ///
    /// # Errors
    /// [`WebAuthnError::Internal`] only.
    fn start_registration(
        &self,
        user: &User,
        existing: &[Passkey],
    ) -> Result<Ceremony, WebAuthnError>;

    /// Verifies a registration response against the kept `state`.
    ///
    /// # Errors
    /// [`WebAuthnError::Malformed`] or [`WebAuthnError::Rejected`] for a bad response.
    fn finish_registration(
        &self,
        state: &[u8],
        response: &serde_json::Value,
    ) -> Result<NewCredential, WebAuthnError>;

    /// Options for a usernameless (discoverable) sign-in, usable with conditional UI.
    ///
    /// # Errors
    /// [`WebAuthnError::Internal`] only.
    fn start_login(&self) -> Result<Ceremony, WebAuthnError>;

    /// The user handle (our user id) and credential id a sign-in response names, before it is
    /// verified.
    ///
    /// # Errors
    /// [`WebAuthnError::Malformed`] if it names none.
    fn identify(&self, response: &serde_json::Value) -> Result<(UserId, Vec<u8>), WebAuthnError>;

    /// Verifies a sign-in response against the kept `state` and the stored `passkey`.
    ///
    /// # Errors
    /// [`WebAuthnError::Rejected`] for a bad response, [`WebAuthnError::PossibleClone`] for a counter
    /// that went backwards on a credential that is not backed up.
    fn finish_login(
        &self,
        state: &[u8],
        response: &serde_json::Value,
        passkey: &Passkey,
    ) -> Result<CredentialUse, WebAuthnError>;
}

/// Security activity of accounts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one event.
    ///
    /// # Errors
    /// Store failures only.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The account's most recent events, newest first, at most `limit`.
    ///
    /// # Errors
    /// Store failures only.
    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends one event off the request path, where the caller must not wait for the write
    /// (and must not take measurably longer than a caller that writes nothing: a wrong code for
    /// an account must cost what a wrong code for a decoy costs). A deployment wraps its store in
    /// a bounded queue that a background writer drains; a full queue drops the event with a
    /// warning. This default writes at once, for stores used without such a queue (tests,
    /// embedding).
    ///
    /// # Errors
    /// Store failures only.
    async fn record_later(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.record(event).await
    }
}

/// The undo links of email changes: durable (they work for days), single use, and kept only as
/// token hashes. Deleting an account deletes its links.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EmailRevertStore: Send + Sync {
    /// Keeps one link. The account must exist.
    ///
    /// # Errors
    /// Store failures only.
    async fn put(&self, revert: &EmailRevert) -> Result<(), StoreError>;

    /// Takes the link whose token hashes to `token_hash`, atomically: under parallel calls
    /// exactly one gets it, and it is gone afterwards. `None` if unknown, already taken, or
    /// expired at `now`.
    ///
    /// # Errors
    /// Store failures only.
    async fn take(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<EmailRevert>, StoreError>;
}

/// One security event of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The account.
    pub user_id: UserId,
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub kind: AuditKind,
    /// The client IP, if known.
    pub ip: Option<String>,
    /// A short, secret-free detail (the sign-in method, a masked address, a session id).
    pub detail: Option<String>,
}

/// A store that `/readyz` checks.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short name for the report (`sqlite`, `postgres`, `redis`).
    fn name(&self) -> &'static str;

    /// Answers once the store can serve requests.
    ///
    /// # Errors
    /// The reason it cannot.
    async fn check(&self) -> Result<(), StoreError>;
}

/// The time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Randomness for codes, secrets, ids and tokens. Must be a CSPRNG outside tests.
pub trait Rng: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        // Without OS randomness no code or token can be safe, so there is nothing sensible to
        // fall back to; getrandom only fails on broken platforms.
        #[allow(
            clippy::expect_used,
            reason = "no safe fallback exists for a missing CSPRNG"
        )]
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}
