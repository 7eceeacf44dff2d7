//! [`Housekeeping`] on PostgreSQL: ended sessions, old spent refresh tokens and old audit events go.

use crate::PgStore;

use async_trait::async_trait;
use auth_core::ports::{Housekeeping, Purged, Retention, StoreError};
use auth_core::time::Timestamp;

#[async_trait]
impl Housekeeping for PgStore {
    async fn purge(&self, now: Timestamp, keep: Retention) -> Result<Purged, StoreError> {
        // Independent statements, each deleting only what is dead on its own. Deleting a session
        // locks it, as a rotation does, and cascades to its refresh tokens.
        let mut counts = [0u64; 3];
        for (count, (sql, before)) in counts.iter_mut().zip([
            (
                "DELETE FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1",
                now,
            ),
            (
                "DELETE FROM refresh_tokens WHERE spent_at IS NOT NULL AND spent_at < $1",
                now.minus(keep.spent_tokens),
            ),
            (
                "DELETE FROM audit_events WHERE at < $1",
                now.minus(keep.audit),
            ),
        ]) {
            *count = sqlx::query(sql)
                .bind(before.as_millis())
                .execute(self.pool()?)
                .await
                .map_err(|e| self.failed(e))?
                .rows_affected();
        }
        let [sessions, refresh_tokens, audit_events] = counts;
        Ok(Purged {
            sessions,
            refresh_tokens,
            audit_events,
        })
    }
}
