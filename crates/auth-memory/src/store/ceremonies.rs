//! WebAuthn ceremony state: [`CeremonyStore`] on bounded shards.

use super::{Ceremony, MemoryStore};
use async_trait::async_trait;
use auth_core::ids::CeremonyId;
use auth_core::ports::{CeremonyStore, StoreError};
use auth_core::time::Timestamp;
use std::time::Duration;

#[async_trait]
impl CeremonyStore for MemoryStore {
    async fn put(
        &self,
        id: &CeremonyId,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let capacity = self.inner.ceremonies_per_shard;
        let mut shard = self.ceremony_shard(id);
        shard.remove(id);
        shard.make_room(now, capacity);
        let seq = shard.next;
        shard.next = shard.next.wrapping_add(1);
        let expires_at = now.plus(ttl);
        shard.by_expiry.insert((expires_at, seq), *id);
        shard.map.insert(
            *id,
            Ceremony {
                expires_at,
                seq,
                state: state.to_vec(),
            },
        );
        Ok(())
    }

    async fn take(&self, id: &CeremonyId, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        let taken = self.ceremony_shard(id).remove(id);
        Ok(taken.filter(|c| now < c.expires_at).map(|c| c.state))
    }
}
