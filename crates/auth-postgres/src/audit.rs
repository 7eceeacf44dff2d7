//! [`AuditLog`] on the `audit_events` table.

use crate::PgStore;
use crate::outbox::{is_account_gone, write_event};
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};
use sqlx::types::Uuid;

type EventRow = auth_sql::rows::EventRow<Uuid>;

#[async_trait]
impl AuditLog for PgStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        // One statement (the activity row and, for a webhook event, the outbox row), so no
        // transaction is needed. An event that arrives after its account was deleted has no
        // history left to join: `write_event` drops its activity row. The `EXISTS` sees a
        // deletion that committed before the statement began; one that commits while it runs
        // makes the foreign key fail, and that is the same case (the rare event then also misses
        // the outbox: the deletion's own event is there).
        let mut conn = self.pool()?.acquire().await.map_err(|e| self.failed(e))?;
        match write_event(&mut conn, event, self.webhook_events).await {
            Ok(()) => Ok(()),
            Err(e) if is_account_gone(&e) => Ok(()),
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
