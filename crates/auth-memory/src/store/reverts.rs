//! The undo links of email changes: [`EmailRevertStore`].

use super::MemoryStore;
use async_trait::async_trait;
use auth_core::ports::{EmailRevertStore, StoreError};
use auth_core::revert::EmailRevert;
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;

#[async_trait]
impl EmailRevertStore for MemoryStore {
    async fn put(&self, revert: &EmailRevert) -> Result<(), StoreError> {
        let mut acc = self.write();
        if !acc.users.contains_key(&revert.user_id) {
            return Err(StoreError::Corrupt(
                "an undo link for an unknown account".to_owned(),
            ));
        }
        acc.reverts.insert(revert.token_hash, revert.clone());
        Ok(())
    }

    async fn take(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<EmailRevert>, StoreError> {
        let mut acc = self.write();
        // Expired links are dropped whenever one is taken, so they never pile up.
        acc.reverts.retain(|_, r| now < r.expires_at);
        Ok(acc.reverts.remove(token_hash))
    }
}
