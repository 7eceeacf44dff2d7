//! [`UserDirectory`] on `users`, `sessions` and `passkeys`: the operator's listing and counts.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AccountCounts, AuditEvent, AuditQuery, StoreError, UserDirectory};
use auth_core::time::Timestamp;
use auth_core::user::User;

type UserRow = auth_sql::rows::UserRow<String>;
type EventRow = auth_sql::rows::EventRow<String>;

#[async_trait]
impl UserDirectory for SqliteStore {
    async fn list_users(
        &self,
        query: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        // `instr` compares text, so a query's `%` or `_` are plain characters; SQLite's `lower`
        // folds ASCII only. Every id sorts after the empty string.
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, \
             disabled_at FROM users \
             WHERE id > ?1 AND (?2 IS NULL OR instr(lower(email), lower(?2)) > 0 \
                 OR instr(lower(display_name), lower(?2)) > 0) \
             ORDER BY id LIMIT ?3",
        )
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind((!query.is_empty()).then_some(query))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn counts(&self, id: &UserId, now: Timestamp) -> Result<AccountCounts, StoreError> {
        let (sessions, passkeys): (i64, i64) = sqlx::query_as(
            "SELECT \
               (SELECT count(*) FROM sessions \
                WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2), \
               (SELECT count(*) FROM passkeys WHERE user_id = ?1)",
        )
        .bind(id.to_string())
        .bind(now.as_millis())
        .fetch_one(&self.reader)
        .await
        .map_err(store_error)?;
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
             WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR kind = ?2) \
               AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4) \
             ORDER BY at DESC, seq DESC LIMIT ?5",
        )
        .bind(query.user.map(|u| u.to_string()))
        .bind(query.kind.map(|k| k.as_str()))
        .bind(query.from.map(Timestamp::as_millis))
        .bind(query.until.map(Timestamp::as_millis))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
