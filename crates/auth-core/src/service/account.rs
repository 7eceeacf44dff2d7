//! The account: profile, security activity, deletion, and the public profiles anyone may browse.

use super::{AuthService, ClientInfo, Key, Principal, key};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::language::Language;
use crate::mail::Message;
use crate::ports::{AuditEvent, EmailTakenOr, StoreError};
use crate::rate::RateDecision;
use crate::revert::RevertToken;
use crate::user::{DisplayName, PublicProfile, User};
use std::time::Duration;

/// How far before an email change the passkeys that undoing it removes may have been added: an
/// intruder who took the account over may have added theirs before changing the address.
const REVERT_PASSKEYS_BEFORE: Duration = Duration::from_secs(24 * 3600);

/// What undoing an email change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    /// Whether the old address is the account's again; `false` if another account took it in
    /// the meantime.
    pub restored: bool,
    /// How many sessions ended.
    pub sessions_ended: u64,
    /// How many passkeys were removed.
    pub passkeys_removed: u64,
}

/// Undoing an email change failed.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    /// Unknown, used or expired link, or the account is gone: one answer.
    #[error("the link is not valid")]
    Invalid,
    /// Too many tries from this client.
    #[error("too many attempts")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

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

/// What a profile update changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// Whether the profile is public.
    pub public: Option<bool>,
    /// The language of mail and of the page.
    pub language: Option<Language>,
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

    /// Changes any of the display name, the public flag and the language; what `change` leaves
    /// out stays as it is.
    ///
    /// # Errors
    /// [`AccountError::Gone`] if it was deleted; store failures.
    pub async fn update_profile(
        &self,
        who: &Principal,
        change: ProfileChange,
        client: &ClientInfo,
    ) -> Result<User, AccountError> {
        let me = self.me(who).await?;
        let name = change.display_name.unwrap_or(me.display_name);
        let public = change.public.unwrap_or(me.public);
        let language = change.language.unwrap_or(me.language);
        let user = self
            .ports
            .users
            .update_profile(&who.user_id, &name, public, language)
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
    pub async fn delete_account(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        if !self.is_recent(who) {
            return Err(AccountError::ReauthRequired);
        }
        let user = self.me(who).await?;
        let event = self.event(who.user_id, AuditKind::AccountDeleted, client, None);
        if !self.ports.users.delete(&who.user_id, &event).await? {
            return Err(AccountError::Gone);
        }
        tracing::info!(user = %who.user_id, "account deleted");
        self.mail(
            user.email,
            Some(&user.display_name),
            user.language,
            Message::AccountDeleted,
        )
        .await;
        Ok(())
    }

    /// Undoes an email change from the link mailed to the old address: the account moves back to
    /// it, every session ends, every open code attempt dies, and the passkeys added in the day
    /// before the change or since are removed. If another account took the old address in the
    /// meantime, everything but the move still happens (`restored` is `false`). The link works
    /// once.
    ///
    /// # Errors
    /// [`RevertError::Invalid`] for an unknown, used or expired link; rate limits; store failures.
    pub async fn revert_email_change(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Reverted, RevertError> {
        if let RateDecision::Limited { retry_after } = self
            .ports
            .limiter
            .acquire(
                &key(Key::GuessIp(client)),
                self.policy.limits.guesses_per_ip,
                self.now(),
            )
            .await?
        {
            return Err(RevertError::RateLimited { retry_after });
        }
        let token = RevertToken::parse(token).ok_or(RevertError::Invalid)?;
        let link = self
            .ports
            .reverts
            .take(&token.hash(), self.now())
            .await?
            .ok_or(RevertError::Invalid)?;
        let user_id = link.user_id;
        // Moving the address starts a new attempt epoch; when it cannot move, ending the
        // attempts has to be done on its own.
        let moved_back = self.event(
            user_id,
            AuditKind::EmailChanged,
            client,
            Some(format!(
                "back to {} by the undo link",
                link.old_email.masked()
            )),
        );
        let restored = match self
            .ports
            .users
            .change_email(&user_id, &link.old_email, &moved_back)
            .await
        {
            Ok(true) => true,
            Ok(false) => return Err(RevertError::Invalid),
            Err(EmailTakenOr::Taken) => {
                self.ports.users.end_attempts(&user_id).await?;
                false
            }
            Err(EmailTakenOr::Store(e)) => return Err(e.into()),
        };
        let now = self.now();
        let sessions_ended = self.ports.sessions.revoke_all(&user_id, None, now).await?;
        let since = link.changed_at.minus(REVERT_PASSKEYS_BEFORE);
        let mut passkeys_removed = 0;
        for passkey in self.ports.passkeys.list(&user_id).await? {
            let removed = self.event(
                user_id,
                AuditKind::PasskeyRemoved,
                client,
                Some(passkey.name.to_string()),
            );
            if passkey.created_at >= since
                && self
                    .ports
                    .passkeys
                    .delete(&user_id, &passkey.id, &removed)
                    .await?
            {
                passkeys_removed += 1;
            }
        }
        let detail = format!(
            "{}; {sessions_ended} sessions ended, {passkeys_removed} passkeys removed",
            if restored {
                format!("back to {}", link.old_email.masked())
            } else {
                format!("{} is taken, not restored", link.old_email.masked())
            }
        );
        self.record(
            user_id,
            AuditKind::EmailChangeReverted,
            client,
            Some(detail),
        )
        .await;
        tracing::info!(user = %user_id, restored, "email change undone");
        Ok(Reverted {
            restored,
            sessions_ended,
            passkeys_removed,
        })
    }

    /// The account's recent security activity, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn activity(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.ports
            .audit
            .recent(&who.user_id, limit.clamp(1, 100))
            .await
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
