//! [`UserDirectory`] on `users`, `sessions` and `passkeys`: the operator's listing and counts.

use crate::PgStore;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AccountCounts, AuditEvent, AuditQuery, StoreError, UserDirectory};
use auth_core::time::Timestamp;
use auth_core::user::User;
use sqlx::types::Uuid;

type UserRow = auth_sql::rows::UserRow<Uuid>;
type EventRow = auth_sql::rows::EventRow<Uuid>;

#[async_trait]
impl UserDirectory for PgStore {
    async fn list_users(
        &self,
        query: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        // `strpos` compares text, so a query's `%` or `_` are plain characters.
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, \
             disabled_at FROM users \
             WHERE ($1::uuid IS NULL OR id > $1) AND ($2::text IS NULL \
                 OR strpos(lower(email), lower($2)) > 0 \
                 OR strpos(lower(display_name), lower($2)) > 0) \
             ORDER BY id LIMIT $3",
        )
        .bind(after.map(|id| *id.as_uuid()))
        .bind((!query.is_empty()).then_some(query))
        .bind(i64::from(limit))
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn counts(&self, id: &UserId, now: Timestamp) -> Result<AccountCounts, StoreError> {
        let (sessions, passkeys): (i64, i64) = sqlx::query_as(
            "SELECT \
               (SELECT count(*) FROM sessions \
                WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2), \
               (SELECT count(*) FROM passkeys WHERE user_id = $1)",
        )
        .bind(id.as_uuid())
        .bind(now.as_millis())
        .fetch_one(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(AccountCounts {
            active_sessions: u64::try_from(sessions).unwrap_or_default(),
            passkeys: u64::try_from(passkeys).unwrap_or_default(),
        })
    }

    async fn search_events(
        &self,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT user_id, at, kind, ip, detail FROM audit_events \
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR kind = $2) \
               AND ($3::bigint IS NULL OR at >= $3) AND ($4::bigint IS NULL OR at < $4) \
             ORDER BY at DESC, seq DESC LIMIT $5",
        )
        .bind(query.user.map(|u| *u.as_uuid()))
        .bind(query.kind.map(|k| k.as_str()))
        .bind(query.from.map(Timestamp::as_millis))
        .bind(query.until.map(Timestamp::as_millis))
        .bind(i64::from(limit))
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
