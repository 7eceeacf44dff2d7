//! [`PasskeyRepository`] on the `passkeys` table; the unique credential id is the table's.

use crate::SqliteStore;
use crate::error::{is_unique_violation_of, store_error};
use crate::outbox::write_event;
use async_trait::async_trait;
use auth_core::ids::{PasskeyId, UserId};
use auth_core::passkey::{Passkey, PasskeyName};
use auth_core::ports::{AuditEvent, CredentialTakenOr, PasskeyRepository, StoreError};
use auth_core::time::Timestamp;
use auth_core::user::User;
use sqlx::SqliteConnection;

type PasskeyRow = auth_sql::rows::PasskeyRow<String>;
type PasskeyUserRow = auth_sql::rows::PasskeyUserRow<String>;

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, sign_count, transports, backup_eligible, \
         backup_state, name, created_at, last_used_at"
    };
}

/// Whether `e` is the unique index on `passkeys.credential_id` refusing a second passkey for a
/// credential.
fn is_credential_taken(e: &sqlx::Error) -> bool {
    is_unique_violation_of(e, "passkeys.credential_id")
}

#[async_trait]
impl PasskeyRepository for SqliteStore {
    async fn add(&self, passkey: &Passkey, event: &AuditEvent) -> Result<(), CredentialTakenOr> {
        let transports = serde_json::to_string(&passkey.transports)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The unique index decides, so parallel adds of one credential cannot both succeed. An
        // unknown account fails the foreign key, which is corrupt data, not "taken". The event is
        // written in the same transaction.
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO passkeys (",
            passkey_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(passkey.id.to_string())
        .bind(passkey.user_id.to_string())
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
            Err(e) if is_credential_taken(&e) => return Err(CredentialTakenOr::Taken),
            Err(e) => return Err(store_error(e).into()),
        }
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = ? ORDER BY created_at, id"
        ))
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(PasskeyRow::into_passkey).collect()
    }

    async fn by_credential_id(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        let row: Option<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = ?"
        ))
        .bind(credential_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(PasskeyRow::into_passkey).transpose()
    }

    async fn with_account(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>, StoreError> {
        let row: Option<PasskeyUserRow> = sqlx::query_as(concat!(
            "SELECT p.id, p.user_id, p.credential_id, p.credential, p.sign_count, \
             p.transports, p.backup_eligible, p.backup_state, p.name, p.created_at, \
             p.last_used_at, ",
            auth_sql::joined_user_columns!(),
            " FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = ?"
        ))
        .bind(credential_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
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
        let mut conn = self.writer.acquire().await.map_err(store_error)?;
        record_use(&mut conn, id, credential, sign_count, backed_up, at).await
    }

    async fn rename(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &PasskeyName,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?")
            .bind(name.as_str())
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(
        &self,
        user: &UserId,
        id: &PasskeyId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM passkeys WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }
}

/// Records a use of a passkey (see [`PasskeyRepository::record_use`]) on `conn`; `false` if it is
/// gone.
pub(crate) async fn record_use(
    conn: &mut SqliteConnection,
    id: &PasskeyId,
    credential: &[u8],
    sign_count: u32,
    backed_up: bool,
    at: Timestamp,
) -> Result<bool, StoreError> {
    // One statement, every expression on the row as it was: of parallel sign-ins, whichever
    // lands last can only move the counter forward. Synced passkeys always report 0.
    let done = sqlx::query(
        "UPDATE passkeys SET \
             credential = CASE WHEN ?3 > sign_count OR (?3 = 0 AND sign_count = 0) \
                 THEN ?2 ELSE credential END, \
             backup_state = CASE WHEN ?3 > sign_count OR (?3 = 0 AND sign_count = 0) \
                 THEN ?4 ELSE backup_state END, \
             sign_count = max(sign_count, ?3), \
             last_used_at = max(coalesce(last_used_at, ?5), ?5) \
         WHERE id = ?1",
    )
    .bind(id.to_string())
    .bind(credential)
    .bind(i64::from(sign_count))
    .bind(backed_up)
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(done.rows_affected() == 1)
}
