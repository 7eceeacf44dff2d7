//! Registered passkeys: [`PasskeyRepository`].

use super::{Accounts, MemoryStore};
use async_trait::async_trait;
use auth_core::ids::{PasskeyId, UserId};
use auth_core::passkey::{Passkey, PasskeyName};
use auth_core::ports::{AuditEvent, CredentialTakenOr, PasskeyRepository, StoreError};
use auth_core::time::Timestamp;
use auth_core::user::User;

#[async_trait]
impl PasskeyRepository for MemoryStore {
    async fn add(&self, passkey: &Passkey, event: &AuditEvent) -> Result<(), CredentialTakenOr> {
        let mut acc = self.write();
        if acc.by_credential.contains_key(&passkey.credential_id) {
            return Err(CredentialTakenOr::Taken);
        }
        if !acc.users.contains_key(&passkey.user_id) {
            return Err(StoreError::Corrupt("passkey for an unknown account".to_owned()).into());
        }
        acc.by_credential
            .insert(passkey.credential_id.clone(), passkey.id);
        acc.passkeys.insert(passkey.id, passkey.clone());
        acc.write_event(event);
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        let mut list: Vec<Passkey> = self
            .read()
            .passkeys
            .values()
            .filter(|p| p.user_id == *user)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn by_credential_id(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        let acc = self.read();
        Ok(acc
            .by_credential
            .get(credential_id)
            .and_then(|id| acc.passkeys.get(id))
            .cloned())
    }

    async fn with_account(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>, StoreError> {
        let acc = self.read();
        Ok(acc
            .by_credential
            .get(credential_id)
            .and_then(|id| acc.passkeys.get(id))
            .and_then(|p| Some((p.clone(), acc.users.get(&p.user_id)?.clone()))))
    }

    async fn record_use(
        &self,
        id: &PasskeyId,
        credential: &[u8],
        sign_count: u32,
        backed_up: bool,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(record_use(
            &mut self.write(),
            id,
            credential,
            sign_count,
            backed_up,
            at,
        ))
    }

    async fn rename(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &PasskeyName,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.passkeys.get_mut(id) {
            Some(p) if p.user_id == *user => {
                p.name = name.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete(
        &self,
        user: &UserId,
        id: &PasskeyId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.passkeys.get(id) {
            Some(p) if p.user_id == *user => {
                let credential_id = p.credential_id.clone();
                acc.passkeys.remove(id);
                acc.by_credential.remove(&credential_id);
                acc.write_event(event);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Records a use of a passkey (see [`PasskeyRepository::record_use`]); `false` if it is gone.
pub(super) fn record_use(
    acc: &mut Accounts,
    id: &PasskeyId,
    credential: &[u8],
    sign_count: u32,
    backed_up: bool,
    at: Timestamp,
) -> bool {
    acc.passkeys
        .get_mut(id)
        .map(|p| {
            let forward = sign_count > p.sign_count || (sign_count == 0 && p.sign_count == 0);
            if forward {
                p.credential = credential.to_vec();
                p.sign_count = sign_count;
                p.backed_up = backed_up;
            }
            p.last_used_at = Some(p.last_used_at.map_or(at, |last| last.max(at)));
        })
        .is_some()
}
