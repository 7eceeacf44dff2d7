//! [`UserRepository`] on the `users` table; accounts are created together with their first session.

use crate::SqliteStore;
use crate::error::{is_unique_violation_of, store_error};
use crate::outbox::write_event;
use crate::sessions::insert_session;
use async_trait::async_trait;
use auth_core::email::EmailAddress;
use auth_core::ids::UserId;
use auth_core::language::Language;
use auth_core::ports::{AuditEvent, EmailTakenOr, StoreError, UserRepository};
use auth_core::session::{Session, TokenHash};
use auth_core::user::{DisplayName, PublicProfile, User};

type UserRow = auth_sql::rows::UserRow<String>;
type ProfileRow = auth_sql::rows::ProfileRow<String>;

/// Whether `e` is the unique index on `users.email` refusing a second account for an address.
fn is_email_taken(e: &sqlx::Error) -> bool {
    is_unique_violation_of(e, "users.email")
}

/// The next attempt epoch, wrapping like the domain's `u32` does.
macro_rules! next_epoch {
    () => {
        "(attempt_epoch + 1) % 4294967296"
    };
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<(), EmailTakenOr> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, display_name, public, created_at, attempt_epoch, language) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.public)
        .bind(user.created_at.as_millis())
        .bind(i64::from(user.attempt_epoch))
        .bind(user.language.as_str())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // Dropping the transaction rolls it back: nothing was written.
            Err(e) if is_email_taken(&e) => return Err(EmailTakenOr::Taken),
            Err(e) => return Err(store_error(e).into()),
        }
        insert_session(&mut tx, first_session, refresh).await?;
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, disabled_at FROM users WHERE email = ?",
        )
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, disabled_at FROM users WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
        language: Language,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "UPDATE users SET display_name = ?, public = ?, language = ? WHERE id = ? \
             RETURNING id, email, display_name, public, created_at, attempt_epoch, language, disabled_at",
        )
        .bind(name.as_str())
        .bind(public)
        .bind(language.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.writer)
        .await
        .map_err(store_error)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn change_email(
        &self,
        id: &UserId,
        email: &EmailAddress,
        event: &AuditEvent,
    ) -> Result<bool, EmailTakenOr> {
        // The unique index decides, so two accounts can never race to one address; the event is
        // written in the same transaction.
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET email = ?, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = ?"
        ))
        .bind(email.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Ok(false),
            Err(e) if is_email_taken(&e) => return Err(EmailTakenOr::Taken),
            Err(e) => return Err(store_error(e).into()),
        }
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE users SET attempt_epoch = ",
            next_epoch!(),
            " WHERE id = ?"
        ))
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn disable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // SQLite has no data-modifying CTEs, so one `BEGIN IMMEDIATE` transaction: it holds the
        // write lock throughout, so no session can open between the flag and the revocation.
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET disabled_at = ?, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = ? AND disabled_at IS NULL"
        ))
        .bind(event.at.as_millis())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if changed.rows_affected() != 1 {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(event.at.as_millis())
        .bind(id.to_string())
        .bind(event.at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn enable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET disabled_at = NULL, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = ? AND disabled_at IS NOT NULL"
        ))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn delete(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // Sessions, their refresh tokens, the audit trail and passkeys go with it (ON DELETE
        // CASCADE); the outbox, which has no foreign key, gets the deletion's event.
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
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

    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        // Every id sorts after the empty string, so no cursor means from the start.
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows: Vec<ProfileRow> = sqlx::query_as(
            "SELECT id, display_name FROM users WHERE public = 1 AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(ProfileRow::into_profile).collect()
    }
}
