//! The account: profile, security activity, deletion, and the public profiles anyone may browse.

use super::{AuthService, ClientInfo, Principal};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::ports::{AuditEvent, StoreError};
use crate::user::{DisplayName, PublicProfile, User};

/// An account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The account is gone.
    #[error("the account no longer exists")]
    Gone,
    /// The named session is not one of the account's active sessions.
    #[error("no such session")]
    NoSuchSession,
    /// The named passkey is not one of the account's.
    #[error("no such passkey")]
    NoSuchPasskey,
    /// A recent sign-in is required.
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthService {
    /// The caller's account.
    ///
    /// # Errors
    /// [`AccountError::Gone`] if it was deleted; store failures.
    pub async fn me(&self, who: &Principal) -> Result<User, AccountError> {
        self.ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(AccountError::Gone)
    }

    /// Changes the display name and/or the public flag.
    ///
    /// # Errors
    /// [`AccountError::Gone`] if it was deleted; store failures.
    pub async fn update_profile(
        &self,
        who: &Principal,
        name: Option<DisplayName>,
        public: Option<bool>,
        client: &ClientInfo,
    ) -> Result<User, AccountError> {
        let me = self.me(who).await?;
        let name = name.unwrap_or(me.display_name);
        let public = public.unwrap_or(me.public);
        let user = self
            .ports
            .users
            .update_profile(&who.user_id, &name, public)
            .await?
            .ok_or(AccountError::Gone)?;
        self.record(who.user_id, AuditKind::ProfileUpdated, client, None)
            .await;
        Ok(user)
    }

    /// Deletes the account with its sessions and history. Needs a recent sign-in.
    ///
    /// # Errors
    /// [`AccountError::ReauthRequired`]; [`AccountError::Gone`]; store failures.
    pub async fn delete_account(&self, who: &Principal) -> Result<(), AccountError> {
        if !self.is_recent(who) {
            return Err(AccountError::ReauthRequired);
        }
        if !self.ports.users.delete(&who.user_id).await? {
            return Err(AccountError::Gone);
        }
        tracing::info!(user = %who.user_id, "account deleted");
        Ok(())
    }

    /// The account's recent security activity, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn activity(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AccountError> {
        Ok(self
            .ports
            .audit
            .recent(&who.user_id, limit.clamp(1, 100))
            .await?)
    }

    /// Public profiles, by id, after the cursor.
    ///
    /// # Errors
    /// Store failures.
    pub async fn public_profiles(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        self.ports
            .users
            .list_public(after, limit.clamp(1, 100))
            .await
    }

    /// One public profile; `None` if the account does not exist or is not public.
    ///
    /// # Errors
    /// Store failures.
    pub async fn public_profile(&self, id: &UserId) -> Result<Option<PublicProfile>, StoreError> {
        let user = self.ports.users.by_id(id).await?;
        Ok(user.filter(|u| u.public).map(|u| PublicProfile {
            id: u.id,
            display_name: u.display_name,
        }))
    }
}
