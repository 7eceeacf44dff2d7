//! [`ConsentStore`] on `oidc_consents` and [`AuthorizationCodeStore`] on `oidc_codes` (for
//! deployments without Redis): taking a code is one conditional `UPDATE ... RETURNING`.

use crate::PgStore;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::oidc::{CODE_REPLAY_MEMORY, ClientId, CodeGrant, CodeTake, Consent, StoredCode};
use auth_core::ports::{AuthorizationCodeStore, ConsentStore, StoreError};
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;
use sqlx::types::Uuid;

type ConsentRow = auth_sql::rows::ConsentRow<Uuid>;

#[async_trait]
impl ConsentStore for PgStore {
    async fn grant(&self, consent: &Consent) -> Result<(), StoreError> {
        // An unknown account fails the foreign key and comes back as `StoreError::Corrupt`.
        sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, \
             granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.as_uuid())
        .bind(consent.client_id.as_str())
        .bind(consent.scopes.to_text())
        .bind(consent.granted_at.as_millis())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError> {
        let row: Option<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(*user.as_uuid())
        .bind(client.as_str())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(ConsentRow::into_consent).transpose()
    }

    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
            .bind(*user.as_uuid())
            .bind(client.as_str())
            .execute(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents \
             WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(*user.as_uuid())
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(ConsentRow::into_consent).collect()
    }
}

fn grant_of(json: &str) -> Result<CodeGrant, StoreError> {
    serde_json::from_str(json).map_err(|_| StoreError::Corrupt("oidc_codes.grant_json".to_owned()))
}

#[async_trait]
impl AuthorizationCodeStore for PgStore {
    async fn put(&self, code: &StoredCode) -> Result<(), StoreError> {
        let json = serde_json::to_string(&code.grant)
            .map_err(|e| StoreError::Corrupt(format!("grant not serialisable: {e}")))?;
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, grant_json, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(code.hash.0.as_slice())
        .bind(json)
        .bind(code.grant.expires_at.as_millis())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn take(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeTake, StoreError> {
        // The take itself is one conditional statement: of parallel ones exactly one marks the
        // row used. The read after it only tells a replay from an unknown or expired code.
        let taken: Option<String> = sqlx::query_scalar(
            "UPDATE oidc_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING grant_json",
        )
        .bind(hash.0.as_slice())
        .bind(now.as_millis())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        if let Some(json) = taken {
            return Ok(CodeTake::Taken(grant_of(&json)?));
        }
        let used: Option<String> = sqlx::query_scalar(
            "UPDATE oidc_codes SET replayed = true \
             WHERE code_hash = $1 AND used_at IS NOT NULL RETURNING grant_json",
        )
        .bind(hash.0.as_slice())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        used.map_or(Ok(CodeTake::Invalid), |json| {
            Ok(CodeTake::Replayed(grant_of(&json)?))
        })
    }

    async fn replayed(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let replayed: Option<bool> =
            sqlx::query_scalar("SELECT replayed FROM oidc_codes WHERE code_hash = $1")
                .bind(hash.0.as_slice())
                .fetch_optional(self.pool()?)
                .await
                .map_err(|e| self.failed(e))?;
        Ok(replayed.unwrap_or(false))
    }
}

/// What `purge_expired` deletes of codes: those past their expiry and the replay memory.
pub(crate) const CODES_PURGE: &str = "DELETE FROM oidc_codes WHERE expires_at < $1";

/// The cut-off for [`CODES_PURGE`] at `now`.
pub(crate) fn codes_forgotten_before(now: Timestamp) -> Timestamp {
    now.minus(CODE_REPLAY_MEMORY)
}
