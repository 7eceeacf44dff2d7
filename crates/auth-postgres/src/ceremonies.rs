//! [`CeremonyStore`] on the `ceremonies` table, for deployments without Redis. Expiry is on the
//! caller's clock, like every other instant of the schema.

use crate::PgStore;

use async_trait::async_trait;
use auth_core::ids::CeremonyId;
use auth_core::ports::{CeremonyStore, StoreError};
use auth_core::time::Timestamp;
use std::time::Duration;

#[async_trait]
impl CeremonyStore for PgStore {
    async fn put(
        &self,
        id: &CeremonyId,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // Ceremony ids are random, so a clash means the same ceremony again: it is replaced.
        sqlx::query(
            "INSERT INTO ceremonies (id, state, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
             expires_at = excluded.expires_at",
        )
        .bind(id.as_uuid())
        .bind(state)
        .bind(now.plus(ttl).as_millis())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn take(&self, id: &CeremonyId, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        // One statement: of parallel takes, the first deletes the row and the others, waiting on
        // its lock, find it gone. An expired row is left for `purge_expired`.
        sqlx::query_scalar(
            "DELETE FROM ceremonies WHERE id = $1 AND expires_at > $2 RETURNING state",
        )
        .bind(id.as_uuid())
        .bind(now.as_millis())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))
    }
}
