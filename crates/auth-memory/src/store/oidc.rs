//! OpenID Connect state: [`AuthorizationCodeStore`] on shards, [`ConsentStore`] beside the
//! accounts (so deleting an account takes its consents in the same write).

use super::MemoryStore;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::oidc::{CODE_REPLAY_MEMORY, ClientId, CodeTake, Consent, StoredCode};
use auth_core::ports::{AuthorizationCodeStore, ConsentStore, StoreError};
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;

#[async_trait]
impl AuthorizationCodeStore for MemoryStore {
    async fn put(&self, code: &StoredCode) -> Result<(), StoreError> {
        // Swept by the time a code is forgotten: its expiry plus the replay memory, measured
        // against the newest code's expiry (codes all live the same time).
        let horizon = code.grant.expires_at;
        self.inner.codes.lock(&code.hash).insert_sweeping(
            code.hash,
            (code.grant.clone(), None, false),
            |(g, _, _)| g.expires_at.plus(CODE_REPLAY_MEMORY) <= horizon,
        );
        Ok(())
    }

    async fn take(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeTake, StoreError> {
        let mut shard = self.inner.codes.lock(hash);
        let Some((grant, used, replayed)) = shard.map.get_mut(hash) else {
            return Ok(CodeTake::Invalid);
        };
        Ok(if used.is_some() {
            *replayed = true;
            CodeTake::Replayed(grant.clone())
        } else if now >= grant.expires_at {
            CodeTake::Invalid
        } else {
            *used = Some(now);
            CodeTake::Taken(grant.clone())
        })
    }

    async fn replayed(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let shard = self.inner.codes.lock(hash);
        Ok(shard
            .map
            .get(hash)
            .is_some_and(|(_, _, replayed)| *replayed))
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn grant(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut acc = self.write();
        if !acc.users.contains_key(&consent.user_id) {
            return Err(StoreError::Corrupt(
                "a consent for an unknown account".to_owned(),
            ));
        }
        acc.consents.insert(
            (consent.user_id, consent.client_id.clone()),
            consent.clone(),
        );
        Ok(())
    }

    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError> {
        Ok(self.read().consents.get(&(*user, client.clone())).cloned())
    }

    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        Ok(self
            .write()
            .consents
            .remove(&(*user, client.clone()))
            .is_some())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        // Keyed by (account, client), so one account's consents come out by client id.
        Ok(self
            .read()
            .consents
            .values()
            .filter(|c| c.user_id == *user)
            .map(Clone::clone)
            .collect())
    }
}
