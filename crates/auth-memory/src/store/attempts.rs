//! Email-code attempts: [`AttemptStore`] on sharded maps; each guess and consumption is one
//! locked step.

use super::{ATTEMPT_GRACE, MemoryStore};
use async_trait::async_trait;
use auth_core::attempt::{Attempt, AttemptState};
use auth_core::ids::AttemptId;
use auth_core::ports::{AttemptGate, AttemptStore, StoreError};
use auth_core::time::Timestamp;

/// In process every call is cheap, so the gate's steps are the composed calls of both ports.
impl AttemptGate for MemoryStore {}

#[async_trait]
impl AttemptStore for MemoryStore {
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError> {
        // The replaced attempt's shard and the new one's may be the same shard, so they are
        // locked one after the other, never together. Between the two steps the old code is
        // already dead and the new one not yet stored: a resend's client waits for the answer
        // before it uses the new code, so no one can see the gap.
        if let Some(old) = replaces {
            let mut shard = self.inner.attempts.lock(&old);
            if let Some(a) = shard
                .map
                .get_mut(&old)
                .filter(|a| a.state == AttemptState::Active)
            {
                a.state = AttemptState::Superseded;
            }
        }
        let cutoff = attempt.created_at.minus(ATTEMPT_GRACE);
        let mut shard = self.inner.attempts.lock(&attempt.id);
        shard.insert_sweeping(attempt.id, attempt.clone(), |a| a.expires_at < cutoff);
        Ok(())
    }

    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        Ok(self.inner.attempts.lock(id).map.get(id).cloned())
    }

    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        let mut shard = self.inner.attempts.lock(id);
        Ok(shard
            .map
            .get_mut(id)
            .filter(|a| a.accepts_guess(now, max_guesses))
            .map(|a| {
                a.guesses += 1;
                a.clone()
            }))
    }

    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        let mut shard = self.inner.attempts.lock(id);
        match shard.map.get_mut(id) {
            Some(a) if a.state == AttemptState::Active && now < a.expires_at => {
                a.state = AttemptState::Consumed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
