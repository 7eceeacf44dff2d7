//! [`AuditLog`] on the `audit_events` table.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};

type EventRow = auth_sql::rows::EventRow<String>;

#[async_trait]
impl AuditLog for SqliteStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        // An event that arrives after its account was deleted has no history left to join: it is
        // dropped, as deleting the account dropped the rest, instead of failing the foreign key.
        sqlx::query(
            "INSERT INTO audit_events (user_id, at, kind, ip, detail) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)",
        )
        .bind(event.user_id.to_string())
        .bind(event.at.as_millis())
        .bind(event.kind.as_str())
        .bind(event.ip.as_deref())
        .bind(event.detail.as_deref())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT user_id, at, kind, ip, detail FROM audit_events \
             WHERE user_id = ? ORDER BY at DESC, seq DESC LIMIT ?",
        )
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
