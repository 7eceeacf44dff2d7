//! Accounts and what belongs to them: the account store, its security activity and the undo
//! links of email changes.

use super::StoreError;
use crate::audit::AuditKind;
use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::language::Language;
use crate::revert::EmailRevert;
use crate::session::{Session, TokenHash};
use crate::time::Timestamp;
use crate::user::{DisplayName, PublicProfile, User};
use async_trait::async_trait;

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
    /// Creates `user` together with its first session (whose current refresh token hashes to
    /// `refresh`) and its sign-up event, atomically and in one round trip where the store allows
    /// it: either all of them exist afterwards or none does.
    ///
    /// # Errors
    /// [`EmailTakenOr::Taken`] if another account has the address (nothing is written).
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
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

    /// Sets the display name, the public flag and the language; `None` if there is no such
    /// account.
    ///
    /// # Errors
    /// Store failures only.
    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
        language: Language,
    ) -> Result<Option<User>, StoreError>;

    /// Moves the account to `email` and, in the same write, starts a new attempt epoch (its
    /// `attempt_epoch` goes up by one) and appends `event` (its `email_changed` event) to the
    /// account's activity and the outbox; `false`, with nothing written, if there is no such
    /// account.
    ///
    /// # Errors
    /// [`EmailTakenOr::Taken`] if another account has the address (nothing is written).
    async fn change_email(
        &self,
        id: &UserId,
        email: &EmailAddress,
        event: &AuditEvent,
    ) -> Result<bool, EmailTakenOr>;

    /// Starts a new attempt epoch for the account (its `attempt_epoch` goes up by one), so that
    /// none of its open email-code attempts can sign in any more; `false` if there is no such
    /// account.
    ///
    /// # Errors
    /// Store failures only.
    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError>;

    /// Disables the account at `event.at`, in one transaction (one statement where the dialect
    /// allows it): sets `disabled_at`, starts a new attempt epoch (so every open email-code
    /// attempt dies), ends every session of the account that is still active at `event.at` and
    /// appends `event` to its activity. `false`, with nothing written, if there is no such
    /// account or it is already disabled. Once it returns, no session of the account is active,
    /// and none can open ([`super::SessionRepository::open`] refuses a disabled account in its
    /// own statement).
    ///
    /// # Errors
    /// Store failures only, and then nothing is written.
    async fn disable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError>;

    /// Enables a disabled account again, in one transaction: clears `disabled_at`, starts a new
    /// attempt epoch and appends `event`. Sessions ended by the disable stay ended. `false`, with
    /// nothing written, if there is no such account or it is not disabled.
    ///
    /// # Errors
    /// Store failures only, and then nothing is written.
    async fn enable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError>;

    /// Deletes the account and, with it, its sessions and audit trail, and writes `event` (its
    /// `account_deleted` event) to the outbox in the same write (the outbox keeps no foreign key
    /// to the account); `false`, with nothing written, if it did not exist.
    ///
    /// # Errors
    /// Store failures only.
    async fn delete(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError>;

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

/// Security activity of accounts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one event, and writes it to the outbox too if it is a webhook event
    /// ([`crate::outbox::outbox_event`]), in one write. An event of an account that no longer
    /// exists is dropped from the activity (its history went with it) but still reaches the
    /// outbox.
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

impl AuditEvent {
    /// The event a rotation writes when it detects the reuse of a spent refresh token of
    /// `session` (see [`super::SessionRepository::rotate`]).
    #[must_use]
    pub fn refresh_token_reused(
        user_id: UserId,
        session: &crate::ids::SessionId,
        at: Timestamp,
        ip: &Option<String>,
    ) -> Self {
        Self {
            user_id,
            at,
            kind: AuditKind::RefreshTokenReused,
            ip: ip.clone(),
            detail: Some(session.to_string()),
        }
    }
}
