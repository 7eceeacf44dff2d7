//! [`EmailRevertStore`] on `email_reverts`: taking a link is one `DELETE ... RETURNING`, so of
//! parallel takes exactly one gets it.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ports::{EmailRevertStore, StoreError};
use auth_core::revert::EmailRevert;
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;

type RevertRow = auth_sql::rows::RevertRow<String>;

#[async_trait]
impl EmailRevertStore for SqliteStore {
    async fn put(&self, revert: &EmailRevert) -> Result<(), StoreError> {
        // Links are few (one per email change) and SQLite has no purge job: each new link clears
        // out the ones that expired before it was made.
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM email_reverts WHERE expires_at <= ?")
            .bind(revert.changed_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO email_reverts (token_hash, user_id, old_email, changed_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(revert.token_hash.0.as_slice())
        .bind(revert.user_id.to_string())
        .bind(revert.old_email.as_str())
        .bind(revert.changed_at.as_millis())
        .bind(revert.expires_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn take(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<EmailRevert>, StoreError> {
        // An expired link is deleted like a live one, but never returned.
        let row: Option<RevertRow> = sqlx::query_as(
            "DELETE FROM email_reverts WHERE token_hash = ? \
             RETURNING token_hash, user_id, old_email, changed_at, expires_at",
        )
        .bind(token_hash.0.as_slice())
        .fetch_optional(&self.writer)
        .await
        .map_err(store_error)?;
        row.map(RevertRow::into_revert)
            .transpose()
            .map(|r| r.filter(|r| now < r.expires_at))
    }
}
