//! The accounts: [`UserRepository`] on the shared account maps.

use super::{MemoryStore, Refresh};
use async_trait::async_trait;
use auth_core::email::EmailAddress;
use auth_core::ids::UserId;
use auth_core::language::Language;
use auth_core::ports::{AuditEvent, EmailTakenOr, StoreError, UserRepository};
use auth_core::session::{Session, TokenHash};
use auth_core::user::{DisplayName, PublicProfile, User};

#[async_trait]
impl UserRepository for MemoryStore {
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<(), EmailTakenOr> {
        let mut acc = self.write();
        if acc.by_email.contains_key(&user.email) || acc.users.contains_key(&user.id) {
            return Err(EmailTakenOr::Taken);
        }
        acc.by_email.insert(user.email.clone(), user.id);
        acc.users.insert(user.id, user.clone());
        acc.sessions.insert(first_session.id, first_session.clone());
        acc.refresh.insert(
            *refresh,
            Refresh {
                session: first_session.id,
                spent: None,
            },
        );
        acc.write_event(event);
        Ok(())
    }

    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let acc = self.read();
        Ok(acc
            .by_email
            .get(email)
            .and_then(|id| acc.users.get(id))
            .cloned())
    }

    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.read().users.get(id).cloned())
    }

    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
        language: Language,
    ) -> Result<Option<User>, StoreError> {
        let mut acc = self.write();
        Ok(acc.users.get_mut(id).map(|u| {
            u.display_name = name.clone();
            u.public = public;
            u.language = language;
            u.clone()
        }))
    }

    async fn change_email(
        &self,
        id: &UserId,
        email: &EmailAddress,
        event: &AuditEvent,
    ) -> Result<bool, EmailTakenOr> {
        let mut acc = self.write();
        if acc.by_email.get(email).is_some_and(|owner| owner != id) {
            return Err(EmailTakenOr::Taken);
        }
        let Some(user) = acc.users.get_mut(id) else {
            return Ok(false);
        };
        let old = std::mem::replace(&mut user.email, email.clone());
        user.attempt_epoch = user.attempt_epoch.wrapping_add(1);
        acc.by_email.remove(&old);
        acc.by_email.insert(email.clone(), *id);
        acc.write_event(event);
        Ok(true)
    }

    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError> {
        let mut acc = self.write();
        Ok(acc
            .users
            .get_mut(id)
            .map(|u| u.attempt_epoch = u.attempt_epoch.wrapping_add(1))
            .is_some())
    }

    async fn disable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // One write lock: nobody sees the account disabled with a session still active, and an
        // open (which checks the flag under the same lock) comes wholly before or after.
        let mut acc = self.write();
        let Some(user) = acc.users.get_mut(id).filter(|u| !u.is_disabled()) else {
            return Ok(false);
        };
        user.disabled_at = Some(event.at);
        user.attempt_epoch = user.attempt_epoch.wrapping_add(1);
        for s in acc.sessions.values_mut() {
            if s.user_id == *id && s.is_active(event.at) {
                s.revoked_at = Some(event.at);
            }
        }
        acc.write_event(event);
        Ok(true)
    }

    async fn enable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut acc = self.write();
        let Some(user) = acc.users.get_mut(id).filter(|u| u.is_disabled()) else {
            return Ok(false);
        };
        user.disabled_at = None;
        user.attempt_epoch = user.attempt_epoch.wrapping_add(1);
        acc.write_event(event);
        Ok(true)
    }

    async fn delete(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut acc = self.write();
        let Some(user) = acc.users.remove(id) else {
            return Ok(false);
        };
        acc.by_email.remove(&user.email);
        acc.remove_sessions_of(id);
        acc.audit.remove(id);
        acc.remove_passkeys_of(id);
        acc.reverts.retain(|_, r| r.user_id != *id);
        acc.consents.retain(|(user, _), _| user != id);
        acc.write_event(event);
        Ok(true)
    }

    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        let acc = self.read();
        let mut page: Vec<PublicProfile> = acc
            .users
            .values()
            .filter(|u| u.public && after.is_none_or(|a| u.id > a))
            .map(|u| PublicProfile {
                id: u.id,
                display_name: u.display_name.clone(),
            })
            .collect();
        page.sort_by_key(|p| p.id);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(page)
    }
}
