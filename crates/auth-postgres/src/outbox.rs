//! [`Outbox`] on the `outbox` table, and [`write_event`]: the one step that records an event,
//! which every store method that reports a change runs in the change's transaction. (The
//! one-statement sign-ins write the same two rows as CTEs of their statement: `open_ctes!`.)
//!
//! Claims take their rows `FOR UPDATE SKIP LOCKED`, so nodes claiming at once never wait for each
//! other and never get the same event; a claimed row carries a lease and is handed out again only
//! after it ran out.

use crate::PgStore;
use crate::error::violates;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::outbox::WebhookEvents;
use auth_core::ports::{AuditEvent, Channel, Outbox, OutboxEntry, StoreError};
use auth_core::time::Timestamp;
use sqlx::PgConnection;
use sqlx::types::Uuid;
use std::time::Duration;

type OutboxRow = auth_sql::rows::OutboxRow<Uuid>;

/// Records `event`, in one statement: appends it to the account's activity while the account
/// exists (an event of a deleted account has no history left to join, as deleting it dropped the
/// rest) and, if it is a webhook event, writes it to the outbox. Callers run it on the connection
/// of the transaction that makes the change the event reports, so both exist or neither does.
pub(crate) async fn write_event(
    conn: &mut PgConnection,
    event: &AuditEvent,
    events: WebhookEvents,
) -> Result<(), sqlx::Error> {
    let outbox = events.event(event);
    sqlx::query(
        "WITH a AS (INSERT INTO audit_events (user_id, at, kind, ip, detail) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)) \
         INSERT INTO outbox (kind, user_id, occurred_at, payload, due_at) \
             SELECT $6, $1, $2, $7, $2 WHERE $6::text IS NOT NULL",
    )
    .bind(event.user_id.as_uuid())
    .bind(event.at.as_millis())
    .bind(event.kind.as_str())
    .bind(event.ip.as_deref())
    .bind(event.detail.as_deref())
    .bind(outbox.as_ref().map(|o| o.kind))
    .bind(outbox.map(|o| o.payload))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether `e` is the audit trail's foreign key refusing an event whose account was deleted while
/// the statement ran: the same case as an account already gone, which writes no activity.
pub(crate) fn is_account_gone(e: &sqlx::Error) -> bool {
    violates(e, "audit_events_user_id_fkey", |db| {
        db.is_foreign_key_violation()
    })
}

#[async_trait]
impl Outbox for PgStore {
    async fn claim(
        &self,
        channel: Channel,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "WITH c AS (SELECT o.seq FROM outbox o \
                 WHERE o.due_at <= $1 AND o.leased_until <= $1 AND o.channel = $4 \
                   AND NOT EXISTS (SELECT 1 FROM outbox p \
                       WHERE p.channel = o.channel AND p.user_id = o.user_id AND p.seq < o.seq) \
                 ORDER BY o.seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET attempts = outbox.attempts + 1, leased_until = $2 \
             FROM c WHERE outbox.seq = c.seq AND outbox.leased_until <= $1 \
             RETURNING outbox.seq, outbox.id, outbox.kind, outbox.user_id, outbox.occurred_at, \
                 outbox.payload, outbox.attempts, outbox.done",
        )
        .bind(now.as_millis())
        .bind(now.plus(lease).as_millis())
        .bind(i64::from(limit))
        .bind(channel.as_str())
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        let mut entries = rows
            .into_iter()
            .map(OutboxRow::into_entry)
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    async fn settle(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM outbox WHERE seq = $1 AND attempts = $2")
            .bind(entry.seq)
            .bind(i32::try_from(entry.attempts).unwrap_or(i32::MAX))
            .execute(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
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
            "UPDATE outbox SET due_at = $1, leased_until = 0, done = $2 \
             WHERE seq = $3 AND attempts = $4",
        )
        .bind(at.as_millis())
        .bind(names)
        .bind(entry.seq)
        .bind(i32::try_from(entry.attempts).unwrap_or(i32::MAX))
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(changed.rows_affected() == 1)
    }

    async fn give_up(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM outbox WHERE occurred_at < $1")
            .bind(before.as_millis())
            .execute(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }

    async fn pending(&self, channel: Channel) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE channel = $1")
            .bind(channel.as_str())
            .fetch_one(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
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
             VALUES ('notice', $1, $2, $3, $2, $4)",
        )
        .bind(key.as_uuid())
        .bind(at.as_millis())
        .bind(payload)
        .bind(Channel::Notices.as_str())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }
}
