//! [`CeremonyStore`] on the `ceremonies` table, for deployments without Redis.
//!
//! The port gives a lifetime, not an instant, so expiry is on the database's clock: one clock for
//! every node, whichever of them starts a ceremony and whichever finishes it.

use crate::PgStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::CeremonyId;
use auth_core::ports::{CeremonyStore, StoreError};
use auth_core::time::duration_ms;
use std::time::Duration;

/// The database's clock in milliseconds since the Unix epoch, as the schema stores instants.
macro_rules! db_now_ms {
    () => {
        "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"
    };
}
pub(crate) use db_now_ms;

/// The longest lifetime stored, about a thousand years: the sum with the clock stays far inside
/// `bigint`.
const MAX_TTL_MS: i64 = 1 << 45;

#[async_trait]
impl CeremonyStore for PgStore {
    async fn put(&self, id: &CeremonyId, state: &[u8], ttl: Duration) -> Result<(), StoreError> {
        // Ceremony ids are random, so a clash means the same ceremony again: it is replaced.
        sqlx::query(concat!(
            "INSERT INTO ceremonies (id, state, expires_at) VALUES ($1, $2, ",
            db_now_ms!(),
            " + $3) ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
             expires_at = excluded.expires_at"
        ))
        .bind(id.as_uuid())
        .bind(state)
        .bind(duration_ms(ttl).min(MAX_TTL_MS))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn take(&self, id: &CeremonyId) -> Result<Option<Vec<u8>>, StoreError> {
        // One statement: of parallel takes, the first deletes the row and the others, waiting on
        // its lock, find it gone. An expired row is left for `purge_expired`.
        sqlx::query_scalar(concat!(
            "DELETE FROM ceremonies WHERE id = $1 AND expires_at > ",
            db_now_ms!(),
            " RETURNING state"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }
}
