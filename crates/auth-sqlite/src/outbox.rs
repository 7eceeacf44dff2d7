//! [`Outbox`] on the `outbox` table, and [`write_event`]: the one step that records an event,
//! which every store method that reports a change runs in the change's transaction.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::outbox::WebhookEvents;
use auth_core::ports::{AuditEvent, Channel, Outbox, OutboxEntry, StoreError};
use auth_core::time::Timestamp;
use sqlx::SqliteConnection;
use std::time::Duration;

type OutboxRow = auth_sql::rows::OutboxRow<String>;

/// Records `event`: appends it to the account's activity while the account exists (an event of a
/// deleted account has no history left to join, as deleting it dropped the rest) and, if it is a
/// webhook event, writes it to the outbox. Callers run it on the connection of the transaction
/// that makes the change the event reports, so both exist or neither does.
pub(crate) async fn write_event(
    conn: &mut SqliteConnection,
    event: &AuditEvent,
    events: WebhookEvents,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events (user_id, at, kind, ip, detail) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)",
    )
    .bind(event.user_id.to_string())
    .bind(event.at.as_millis())
    .bind(event.kind.as_str())
    .bind(event.ip.as_deref())
    .bind(event.detail.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    if let Some(out) = events.event(event) {
        sqlx::query(
            "INSERT INTO outbox (kind, user_id, occurred_at, payload, due_at) \
             VALUES (?1, ?2, ?3, ?4, ?3)",
        )
        .bind(out.kind)
        .bind(event.user_id.to_string())
        .bind(event.at.as_millis())
        .bind(out.payload)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim(
        &self,
        channel: Channel,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // Most polls find nothing due: that is answered by a reader, so an idle dispatcher never
        // takes the one write connection that sign-ins queue on.
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox \
             WHERE due_at <= ?1 AND leased_until <= ?1 AND channel = ?2)",
        )
        .bind(now.as_millis())
        .bind(channel.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(store_error)?;
        if !due {
            return Ok(Vec::new());
        }
        // One statement on the one writer: claims are serialised by SQLite's write lock.
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "UPDATE outbox SET attempts = attempts + 1, leased_until = ?2 \
             WHERE seq IN (SELECT o.seq FROM outbox o \
                 WHERE o.due_at <= ?1 AND o.leased_until <= ?1 AND o.channel = ?4 \
                   AND NOT EXISTS (SELECT 1 FROM outbox p \
                       WHERE p.channel = o.channel AND p.user_id = o.user_id AND p.seq < o.seq) \
                 ORDER BY o.seq LIMIT ?3) \
             RETURNING seq, id, kind, user_id, occurred_at, payload, attempts, done",
        )
        .bind(now.as_millis())
        .bind(now.plus(lease).as_millis())
        .bind(i64::from(limit))
        .bind(channel.as_str())
        .fetch_all(&self.writer)
        .await
        .map_err(store_error)?;
        let mut entries = rows
            .into_iter()
            .map(OutboxRow::into_entry)
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    async fn settle(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM outbox WHERE seq = ? AND attempts = ?")
            .bind(entry.seq)
            .bind(i64::from(entry.attempts))
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry(
        &self,
        entry: &OutboxEntry,
        done: &[String],
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let names = serde_json::to_string(done)
            .map_err(|e| StoreError::Corrupt(format!("destination names: {e}")))?;
        let changed = sqlx::query(
            "UPDATE outbox SET due_at = ?, leased_until = 0, done = ? \
             WHERE seq = ? AND attempts = ?",
        )
        .bind(at.as_millis())
        .bind(names)
        .bind(entry.seq)
        .bind(i64::from(entry.attempts))
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn give_up(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM outbox WHERE occurred_at < ?")
            .bind(before.as_millis())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn pending(&self, channel: Channel) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE channel = ?")
            .bind(channel.as_str())
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn put_notice(
        &self,
        key: &UserId,
        at: Timestamp,
        payload: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (kind, user_id, occurred_at, payload, due_at, channel) \
             VALUES ('notice', ?1, ?2, ?3, ?2, ?4)",
        )
        .bind(key.to_string())
        .bind(at.as_millis())
        .bind(payload)
        .bind(Channel::Notices.as_str())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}
