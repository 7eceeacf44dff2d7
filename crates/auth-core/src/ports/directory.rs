//! The operator's view of the accounts: listing and searching them page by page, and what an
//! account holds (live sessions, passkeys). Only administration reads it, never a request of an
//! account's owner.

use super::{AuditEvent, StoreError};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::time::Timestamp;
use crate::user::User;
use async_trait::async_trait;

/// What an account holds, for an operator's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    /// Sessions active at the time asked about.
    pub active_sessions: u64,
    /// Registered passkeys.
    pub passkeys: u64,
}

/// Which audit events an operator asks for: every condition given must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's.
    pub user: Option<UserId>,
    /// Only of this kind.
    pub kind: Option<AuditKind>,
    /// Only at or after this instant.
    pub from: Option<Timestamp>,
    /// Only strictly before this instant (also the cursor of the next, older page).
    pub until: Option<Timestamp>,
}

/// Accounts as an operator sees them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Accounts ordered by id, strictly after `after`, at most `limit` (1 to 100); with a
    /// non-empty `query`, only those whose address or display name contains it, ignoring ASCII
    /// case (the empty query matches every account).
    ///
    /// # Errors
    /// Store failures only.
    async fn list_users(
        &self,
        query: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;

    /// How many sessions of the account are active at `now`, and how many passkeys it has (both
    /// zero for an unknown account).
    ///
    /// # Errors
    /// Store failures only.
    async fn counts(&self, id: &UserId, now: Timestamp) -> Result<AccountCounts, StoreError>;

    /// The audit events of every account that `query` selects, newest first, at most `limit`
    /// (1 to 100). It lives here rather than on [`super::AuditLog`] because only operators search
    /// across accounts.
    ///
    /// # Errors
    /// Store failures only.
    async fn search_events(
        &self,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
