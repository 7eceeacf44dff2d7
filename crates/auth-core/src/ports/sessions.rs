//! Sessions, their refresh-token families, and the retention of the durable stores.

use super::{AuditEvent, StoreError};
use crate::ids::{PasskeyId, SessionId, UserId};
use crate::passkey::CredentialUse;
use crate::session::{Rotation, Session, TokenHash};
use crate::time::Timestamp;
use crate::user::User;
use async_trait::async_trait;
use std::time::Duration;

/// Sessions and their refresh-token families.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Opens a sign-in: stores a new session whose current refresh token hashes to `refresh`,
    /// and appends `event` (the sign-in's audit event) to the account's activity, atomically and
    /// in one round trip where the store allows it: either all three exist afterwards or none
    /// does. A session never exists without its sign-in event. `false`, with nothing written,
    /// if the account is disabled: the check is part of the same write, so an open that races a
    /// [`super::UserRepository::disable`] either comes first (and the disable ends the session)
    /// or opens nothing.
    ///
    /// # Errors
    /// Store failures only, and then nothing is written (the account must exist; adapters may
    /// reject an unknown one as corrupt, or answer `false`).
    async fn open(
        &self,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Opens a passkey sign-in: records the use of `passkey` exactly as
    /// [`super::PasskeyRepository::record_use`] does at `session.created_at` (the counter only
    /// moves forward), and opens the session as [`SessionRepository::open`] does, atomically and
    /// in one round trip where the store allows it. `false`, with nothing written, if the
    /// passkey is gone (deleted since it was read) or the account is disabled, so no session
    /// opens on a deleted passkey or for a disabled account.
    ///
    /// # Errors
    /// Store failures only, and then nothing is written.
    async fn open_with_passkey(
        &self,
        passkey: &PasskeyId,
        used: &CredentialUse,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// The session, in whatever state.
    ///
    /// # Errors
    /// Store failures only.
    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;

    /// The session if it is active at `now` (see [`Session::is_active`]), together with its
    /// account as it is, in one read: the per-request check of an access token and `/v1/me`.
    /// `None` if the session is unknown, revoked or expired, or its account is gone or disabled.
    ///
    /// # Errors
    /// Store failures only.
    async fn active_with_user(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<(Session, User)>, StoreError>;

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
    /// whole session is revoked: [`Rotation::Reused`], and in the same write the account's
    /// `refresh_token_reused` event (at `now`, from `ip`, naming the session) is appended to its
    /// activity and the outbox. Otherwise [`Rotation::Invalid`]. Under
    /// parallel presentation of the same `old` with the same `new`, exactly one caller rotates and
    /// the others (within the grace) get the same session; exactly one successor exists after.
    ///
    /// Adapters answer the common case (a current token of an active session) in one statement.
    ///
    /// # Errors
    /// Store failures only.
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
        ip: &Option<String>,
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
