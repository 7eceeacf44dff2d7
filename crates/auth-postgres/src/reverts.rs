//! [`EmailRevertStore`] on `email_reverts`: taking a link is one `DELETE ... RETURNING`, so of
//! parallel takes exactly one gets it.

use crate::PgStore;

use async_trait::async_trait;
use auth_core::ports::{EmailRevertStore, StoreError};
use auth_core::revert::EmailRevert;
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;
use sqlx::types::Uuid;

type RevertRow = auth_sql::rows::RevertRow<Uuid>;

#[async_trait]
impl EmailRevertStore for PgStore {
    async fn put(&self, revert: &EmailRevert) -> Result<(), StoreError> {
        // Links are few (one per email change): each new link clears out the ones that expired
        // before it was made, so they never pile up.
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM email_reverts WHERE expires_at <= $1")
            .bind(revert.changed_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(e))?;
        sqlx::query(
            "INSERT INTO email_reverts (token_hash, user_id, old_email, changed_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(revert.token_hash.0.as_slice())
        .bind(revert.user_id.as_uuid())
        .bind(revert.old_email.as_str())
        .bind(revert.changed_at.as_millis())
        .bind(revert.expires_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))
    }

    async fn take(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<EmailRevert>, StoreError> {
        // An expired link is deleted like a live one, but never returned.
        let row: Option<RevertRow> = sqlx::query_as(
            "DELETE FROM email_reverts WHERE token_hash = $1 \
             RETURNING token_hash, user_id, old_email, changed_at, expires_at",
        )
        .bind(token_hash.0.as_slice())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(RevertRow::into_revert)
            .transpose()
            .map(|r| r.filter(|r| now < r.expires_at))
    }
}
