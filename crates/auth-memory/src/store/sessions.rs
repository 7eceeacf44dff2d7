//! Sessions and their refresh-token families: [`SessionRepository`].

use super::passkeys::record_use;
use super::{Accounts, MemoryStore, Refresh};
use async_trait::async_trait;
use auth_core::ids::{PasskeyId, SessionId, UserId};
use auth_core::passkey::CredentialUse;
use auth_core::ports::{AuditEvent, Lifetimes, SessionRepository, StoreError};
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::User;

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn open(
        &self,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        open(&mut self.write(), session, refresh, event)
    }

    async fn open_with_passkey(
        &self,
        passkey: &PasskeyId,
        used: &CredentialUse,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        // One write lock for both, so nobody sees the counter moved without the session.
        let mut acc = self.write();
        if !acc.passkeys.contains_key(passkey) || !open(&mut acc, session, refresh, event)? {
            return Ok(false);
        }
        record_use(
            &mut acc,
            passkey,
            &used.credential,
            used.sign_count,
            used.backed_up,
            session.created_at,
        );
        Ok(true)
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.read().sessions.get(id).cloned())
    }

    async fn active_with_user(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let acc = self.read();
        Ok(acc
            .sessions
            .get(id)
            .filter(|s| s.is_active(now))
            .and_then(|s| Some((s.clone(), acc.users.get(&s.user_id)?.clone())))
            .filter(|(_, u)| !u.is_disabled()))
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
        ip: &Option<String>,
    ) -> Result<Rotation, StoreError> {
        let mut acc = self.write();
        let Some((sid, spent)) = acc.refresh.get(old).map(|r| (r.session, r.spent)) else {
            return Ok(Rotation::Invalid);
        };
        let successor_is_current = acc
            .refresh
            .get(new)
            .is_some_and(|r| r.session == sid && r.spent.is_none());
        let Some(session) = acc.sessions.get_mut(&sid) else {
            return Ok(Rotation::Invalid);
        };
        if let Some(spent_at) = spent {
            if session.revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            let within_grace = now < spent_at.plus(lifetimes.grace);
            if within_grace && successor_is_current && session.is_active(now) {
                return Ok(Rotation::Rotated(session.clone()));
            }
            session.revoked_at = Some(now);
            let user_id = session.user_id;
            acc.write_event(&AuditEvent::refresh_token_reused(user_id, &sid, now, ip));
            return Ok(Rotation::Reused {
                session_id: sid,
                user_id,
            });
        }
        if !session.is_active(now) {
            return Ok(Rotation::Invalid);
        }
        session.last_seen_at = now;
        session.expires_at = now
            .plus(lifetimes.idle)
            .min(session.created_at.plus(lifetimes.max));
        let rotated = session.clone();
        if let Some(r) = acc.refresh.get_mut(old) {
            r.spent = Some(now);
        }
        acc.refresh.insert(
            *new,
            Refresh {
                session: sid,
                spent: None,
            },
        );
        Ok(Rotation::Rotated(rotated))
    }

    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let mut list: Vec<Session> = self
            .read()
            .sessions
            .values()
            .filter(|s| s.user_id == *user && s.is_active(now))
            .cloned()
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.sessions.get_mut(id) {
            Some(s) if s.user_id == *user && s.revoked_at.is_none() => {
                s.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut acc = self.write();
        let mut n = 0;
        for s in acc.sessions.values_mut() {
            if s.user_id == *user && Some(s.id) != keep && s.is_active(now) {
                s.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Stores a session, its first refresh token and its sign-in event under one write lock; nothing
/// if the account is unknown (an error) or disabled (`false`).
fn open(
    acc: &mut Accounts,
    session: &Session,
    refresh: &TokenHash,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    match acc.users.get(&session.user_id) {
        None => {
            return Err(StoreError::Corrupt(
                "session for an unknown account".to_owned(),
            ));
        }
        Some(user) if user.is_disabled() => return Ok(false),
        Some(_) => {}
    }
    // What the SQL stores' keys refuse.
    if acc.sessions.contains_key(&session.id) || acc.refresh.contains_key(refresh) {
        return Err(StoreError::Corrupt(
            "session or refresh token stored twice".to_owned(),
        ));
    }
    acc.sessions.insert(session.id, session.clone());
    acc.refresh.insert(
        *refresh,
        Refresh {
            session: session.id,
            spent: None,
        },
    );
    acc.write_event(event);
    Ok(true)
}
