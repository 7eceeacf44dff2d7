//! Passkeys: the registered credentials, the state of ceremonies and the relying party.

use super::{AuditEvent, StoreError};
use crate::ids::UserId;
use crate::ids::{CeremonyId, PasskeyId};
use crate::passkey::{Ceremony, CredentialUse, NewCredential, Passkey, PasskeyName, WebAuthnError};
use crate::time::Timestamp;
use crate::user::User;
use async_trait::async_trait;
use std::time::Duration;

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
    /// Stores a new passkey of an existing account and appends `event` (its `passkey_added`
    /// event) to the account's activity and, being a webhook event, to the outbox, atomically.
    ///
    /// # Errors
    /// [`CredentialTakenOr::Taken`] if any passkey has the same credential id (a store constraint,
    /// not a check, so parallel adds of one credential cannot both succeed); nothing is written.
    async fn add(&self, passkey: &Passkey, event: &AuditEvent) -> Result<(), CredentialTakenOr>;

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

    /// The passkey with this credential id together with its account, in one read: what a
    /// passkey sign-in checks before it verifies the signature. `None` if no passkey has the id.
    ///
    /// # Errors
    /// Store failures only.
    async fn with_account(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>, StoreError>;

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

    /// Deletes one of the account's passkeys and appends `event` (its `passkey_removed` event)
    /// as [`PasskeyRepository::add`] does, atomically; `false`, with nothing written, if it is not
    /// the account's.
    ///
    /// # Errors
    /// Store failures only.
    async fn delete(
        &self,
        user: &UserId,
        id: &PasskeyId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;
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
