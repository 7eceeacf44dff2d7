//! [`AuditLog`] on the `audit_events` table.

use crate::SqliteStore;
use crate::error::store_error;
use crate::outbox::write_event;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};

type EventRow = auth_sql::rows::EventRow<String>;

#[async_trait]
impl AuditLog for SqliteStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        // The activity row and, for a webhook event, the outbox row, in one transaction.
        let mut tx = self.begin().await?;
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)
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
