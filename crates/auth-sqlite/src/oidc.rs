//! [`ConsentStore`] on `oidc_consents`. Authorization codes are ephemeral: a single node keeps
//! them in process, like attempts and ceremonies.

use crate::SqliteStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::oidc::{ClientId, Consent};
use auth_core::ports::{ConsentStore, StoreError};

type ConsentRow = auth_sql::rows::ConsentRow<String>;

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn grant(&self, consent: &Consent) -> Result<(), StoreError> {
        // An unknown account fails the foreign key and comes back as `StoreError::Corrupt`.
        sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, \
             granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.to_string())
        .bind(consent.client_id.as_str())
        .bind(consent.scopes.to_text())
        .bind(consent.granted_at.as_millis())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError> {
        let row: Option<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents \
             WHERE user_id = ? AND client_id = ?",
        )
        .bind(user.to_string())
        .bind(client.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(ConsentRow::into_consent).transpose()
    }

    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM oidc_consents WHERE user_id = ? AND client_id = ?")
            .bind(user.to_string())
            .bind(client.as_str())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents \
             WHERE user_id = ? ORDER BY client_id",
        )
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(ConsentRow::into_consent).collect()
    }
}
