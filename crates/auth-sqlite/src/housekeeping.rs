//! [`Housekeeping`] on SQLite: ended sessions, old spent refresh tokens and old audit events go,
//! in small batches so that no purge holds the one write lock for long.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ports::{Housekeeping, Purged, Retention, StoreError};
use auth_core::time::Timestamp;

/// Rows per statement: a batch takes milliseconds, so sign-ins queued behind it barely notice.
const BATCH: i64 = 1000;

impl SqliteStore {
    /// Runs `sql` (which deletes at most `?2` rows matching `?1`) until a batch comes back short;
    /// returns how many rows went. Each batch is one statement, atomic on its own.
    async fn delete_in_batches(&self, sql: &'static str, bound: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(bound)
                .bind(BATCH)
                .execute(&self.writer)
                .await
                .map_err(store_error)?;
            total += done.rows_affected();
            if done.rows_affected() < BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}

#[async_trait]
impl Housekeeping for SqliteStore {
    async fn purge(&self, now: Timestamp, keep: Retention) -> Result<Purged, StoreError> {
        // Deleting a session cascades to its refresh tokens.
        let sessions = self
            .delete_in_batches(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                 WHERE revoked_at IS NOT NULL OR expires_at <= ?1 LIMIT ?2)",
                now.as_millis(),
            )
            .await?;
        let refresh_tokens = self
            .delete_in_batches(
                "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens \
                 WHERE spent_at IS NOT NULL AND spent_at < ?1 LIMIT ?2)",
                now.minus(keep.spent_tokens).as_millis(),
            )
            .await?;
        let audit_events = self
            .delete_in_batches(
                "DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events \
                 WHERE at < ?1 LIMIT ?2)",
                now.minus(keep.audit).as_millis(),
            )
            .await?;
        Ok(Purged {
            sessions,
            refresh_tokens,
            audit_events,
        })
    }
}
