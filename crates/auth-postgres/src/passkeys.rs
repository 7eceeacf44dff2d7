//! [`PasskeyRepository`] on the `passkeys` table; the unique credential id is the table's.

use crate::PgStore;
use crate::error::violates;
use crate::outbox::write_event;
use async_trait::async_trait;
use auth_core::ids::{PasskeyId, UserId};
use auth_core::passkey::{Passkey, PasskeyName};
use auth_core::ports::{AuditEvent, CredentialTakenOr, PasskeyRepository, StoreError};
use auth_core::time::Timestamp;
use auth_core::user::User;
use sqlx::types::Uuid;

type PasskeyRow = auth_sql::rows::PasskeyRow<Uuid>;
type PasskeyUserRow = auth_sql::rows::PasskeyUserRow<Uuid>;

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, sign_count, transports::text AS transports, \
         backup_eligible, backup_state, name, created_at, last_used_at"
    };
}

#[async_trait]
impl PasskeyRepository for PgStore {
    async fn add(&self, passkey: &Passkey, event: &AuditEvent) -> Result<(), CredentialTakenOr> {
        let transports = serde_json::to_string(&passkey.transports)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Of parallel adds of one credential, all but the first wait on the unique constraint
        // until it commits, then fail it. An unknown account fails the foreign key, which is
        // corrupt data, not "taken". The event is written in the same transaction.
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, credential, sign_count, transports, \
             backup_eligible, backup_state, name, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11)",
        )
        .bind(passkey.id.as_uuid())
        .bind(passkey.user_id.as_uuid())
        .bind(passkey.credential_id.as_slice())
        .bind(passkey.credential.as_slice())
        .bind(i64::from(passkey.sign_count))
        .bind(transports)
        .bind(passkey.backup_eligible)
        .bind(passkey.backed_up)
        .bind(passkey.name.as_str())
        .bind(passkey.created_at.as_millis())
        .bind(passkey.last_used_at.map(Timestamp::as_millis))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e)
                if violates(&e, "passkeys_credential_id_key", |db| {
                    db.is_unique_violation()
                }) =>
            {
                return Err(CredentialTakenOr::Taken);
            }
            Err(e) => return Err(self.failed(e).into()),
        }
        write_event(&mut tx, event, self.webhook_events)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(PasskeyRow::into_passkey).collect()
    }

    async fn by_credential_id(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        let row: Option<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(PasskeyRow::into_passkey).transpose()
    }

    async fn with_account(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>, StoreError> {
        let row: Option<PasskeyUserRow> = sqlx::query_as(concat!(
            "SELECT p.id, p.user_id, p.credential_id, p.credential, p.sign_count, \
             p.transports::text AS transports, p.backup_eligible, p.backup_state, p.name, \
             p.created_at, p.last_used_at, ",
            auth_sql::joined_user_columns!(),
            " FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(PasskeyUserRow::into_pair).transpose()
    }

    async fn record_use(
        &self,
        id: &PasskeyId,
        credential: &[u8],
        sign_count: u32,
        backed_up: bool,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement, every expression on the row as it was (a parallel writer's commit is
        // re-read before this one applies): whichever sign-in lands last can only move the
        // counter forward. Synced passkeys always report 0.
        let done = sqlx::query(
            "UPDATE passkeys SET \
                 credential = CASE WHEN $2 > sign_count OR ($2 = 0 AND sign_count = 0) \
                     THEN $1 ELSE credential END, \
                 backup_state = CASE WHEN $2 > sign_count OR ($2 = 0 AND sign_count = 0) \
                     THEN $3 ELSE backup_state END, \
                 sign_count = GREATEST(sign_count, $2), \
                 last_used_at = GREATEST(last_used_at, $4) \
             WHERE id = $5",
        )
        .bind(credential)
        .bind(i64::from(sign_count))
        .bind(backed_up)
        .bind(at.as_millis())
        .bind(id.as_uuid())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn rename(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &PasskeyName,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name.as_str())
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(
        &self,
        user: &UserId,
        id: &PasskeyId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(e))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_event(&mut tx, event, self.webhook_events)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(true)
    }
}
