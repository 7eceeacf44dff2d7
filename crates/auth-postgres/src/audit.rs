//! [`AuditLog`] on the `audit_events` table.

use crate::PgStore;
use crate::error::violates;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};
use sqlx::types::Uuid;

type EventRow = auth_sql::rows::EventRow<Uuid>;

#[async_trait]
impl AuditLog for PgStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        // An event that arrives after its account was deleted has no history left to join: it is
        // dropped, as deleting the account dropped the rest, instead of failing the foreign key.
        // The `EXISTS` sees a deletion that committed before the statement began; one that commits
        // while it runs makes the foreign key fail, and that is the same case.
        let inserted = sqlx::query(
            "INSERT INTO audit_events (user_id, at, kind, ip, detail) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)",
        )
        .bind(event.user_id.as_uuid())
        .bind(event.at.as_millis())
        .bind(event.kind.as_str())
        .bind(event.ip.as_deref())
        .bind(event.detail.as_deref())
        .execute(self.pool()?)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e)
                if violates(&e, "audit_events_user_id_fkey", |db| {
                    db.is_foreign_key_violation()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT user_id, at, kind, ip, detail FROM audit_events \
             WHERE user_id = $1 ORDER BY at DESC, seq DESC LIMIT $2",
        )
        .bind(user.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
