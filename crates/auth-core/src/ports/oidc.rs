//! OpenID Connect provider state: authorization codes (ephemeral, single use) and remembered
//! consent (durable).

use super::StoreError;
use crate::ids::UserId;
use crate::oidc::{ClientId, CodeTake, Consent, StoredCode};
use crate::session::TokenHash;
use crate::time::Timestamp;
use async_trait::async_trait;

/// Authorization codes between the authorization and the token endpoint: single use, short-lived,
/// shared by every node.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuthorizationCodeStore: Send + Sync {
    /// Keeps a new code until `code.grant.expires_at` plus
    /// [`CODE_REPLAY_MEMORY`](crate::oidc::CODE_REPLAY_MEMORY); after that it may be forgotten.
    ///
    /// # Errors
    /// Store failures only.
    async fn put(&self, code: &StoredCode) -> Result<(), StoreError>;

    /// Presents a code, atomically. A live unused code is marked used and returned as
    /// [`CodeTake::Taken`]; a used one (whatever the time, while remembered) is
    /// [`CodeTake::Replayed`] with its grant; an unknown one, or one unused and expired at `now`
    /// (`now >= expires_at`), is [`CodeTake::Invalid`]. Under parallel presentation of one code
    /// exactly one caller gets `Taken` and every other one `Replayed`.
    ///
    /// # Errors
    /// Store failures only.
    async fn take(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeTake, StoreError>;

    /// Whether the code has been presented again since it was taken (a `take` that answered
    /// [`CodeTake::Replayed`]), while it is remembered. The exchange that took the code asks once
    /// it has opened its session, so that a replay arriving in between, which found no session
    /// to revoke yet, still ends it. `false` for an unknown code.
    ///
    /// # Errors
    /// Store failures only.
    async fn replayed(&self, hash: &TokenHash) -> Result<bool, StoreError>;
}

/// Consent that users gave to clients, remembered per account and client.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Stores (or replaces) the account's consent for `consent.client_id`. The account exists.
    ///
    /// # Errors
    /// Store failures only (adapters may reject an unknown account as corrupt).
    async fn grant(&self, consent: &Consent) -> Result<(), StoreError>;

    /// The account's consent for a client.
    ///
    /// # Errors
    /// Store failures only.
    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError>;

    /// Forgets the account's consent for a client; `false` if there was none.
    ///
    /// # Errors
    /// Store failures only.
    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError>;

    /// The account's consents, by client id. Deleting the account deletes them.
    ///
    /// # Errors
    /// Store failures only.
    async fn list(&self, user: &UserId) -> Result<Vec<Consent>, StoreError>;
}
