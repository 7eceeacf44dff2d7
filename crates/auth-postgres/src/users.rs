//! [`UserRepository`] on the `users` table; accounts are created together with their first session.

use crate::PgStore;
use crate::error::is_email_taken;
use crate::outbox::write_event;
use crate::sessions::bind_open;
use async_trait::async_trait;
use auth_core::email::EmailAddress;
use auth_core::ids::UserId;
use auth_core::language::Language;
use auth_core::ports::{AuditEvent, EmailTakenOr, StoreError, UserRepository};
use auth_core::session::{Session, TokenHash};
use auth_core::user::{DisplayName, PublicProfile, User};
use sqlx::types::Uuid;

type UserRow = auth_sql::rows::UserRow<Uuid>;
type ProfileRow = auth_sql::rows::ProfileRow<Uuid>;

/// The next attempt epoch, wrapping like the domain's `u32` does.
macro_rules! next_epoch {
    () => {
        "(attempt_epoch + 1) % 4294967296"
    };
}

#[async_trait]
impl UserRepository for PgStore {
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<(), EmailTakenOr> {
        // One statement: the account, its first session, that session's refresh token and the
        // sign-up event, all or nothing. Of parallel creates with one address, all but the first
        // wait on the unique constraint until it commits, then fail it, having written nothing.
        let created = bind_open(
            sqlx::query_scalar(concat!(
                "WITH u AS (INSERT INTO users \
                     (id, email, display_name, public, created_at, attempt_epoch, language) \
                     VALUES ($20, $21, $22, $23, $24, $25, $26) RETURNING id), ",
                open_ctes!("SELECT id FROM u"),
                " SELECT count(*) FROM u"
            )),
            first_session,
            refresh,
            event,
            self.webhook_events,
        )
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.public)
        .bind(user.created_at.as_millis())
        .bind(i64::from(user.attempt_epoch))
        .bind(user.language.as_str())
        .fetch_one(self.pool()?)
        .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if is_email_taken(&e) => Err(EmailTakenOr::Taken),
            Err(e) => Err(self.failed(e).into()),
        }
    }

    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, disabled_at FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(UserRow::into_user).transpose()
    }

    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, display_name, public, created_at, attempt_epoch, language, disabled_at FROM users WHERE id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
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
            "UPDATE users SET display_name = $1, public = $2, language = $3 WHERE id = $4 \
             RETURNING id, email, display_name, public, created_at, attempt_epoch, language, disabled_at",
        )
        .bind(name.as_str())
        .bind(public)
        .bind(language.as_str())
        .bind(id.as_uuid())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(UserRow::into_user).transpose()
    }

    async fn change_email(
        &self,
        id: &UserId,
        email: &EmailAddress,
        event: &AuditEvent,
    ) -> Result<bool, EmailTakenOr> {
        // The unique constraint decides, so two accounts can never race to one address; the event
        // is written in the same transaction.
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET email = $1, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = $2"
        ))
        .bind(email.as_str())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Ok(false),
            Err(e) if is_email_taken(&e) => return Err(EmailTakenOr::Taken),
            Err(e) => return Err(self.failed(e).into()),
        }
        write_event(&mut tx, event, self.webhook_events)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(true)
    }

    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE users SET attempt_epoch = ",
            next_epoch!(),
            " WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn disable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // Two statements in one transaction, not one: a sign-in holds the account's row `FOR
        // SHARE` while it opens its session, so the first statement waits for any sign-in under
        // way, and the second, on a fresh snapshot, sees the session it opened and ends it. One
        // statement would keep the snapshot taken before the wait and miss that session.
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET disabled_at = $1, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = $2 AND disabled_at IS NULL"
        ))
        .bind(event.at.as_millis())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        if changed.rows_affected() != 1 {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(event.at.as_millis())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        write_event(&mut tx, event, self.webhook_events)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(true)
    }

    async fn enable(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // The event (audit row and outbox row, through `write_event`) is written only if the
        // account was disabled, in the same transaction.
        let mut tx = self.begin().await?;
        let changed = sqlx::query(concat!(
            "UPDATE users SET disabled_at = NULL, attempt_epoch = ",
            next_epoch!(),
            " WHERE id = $1 AND disabled_at IS NOT NULL"
        ))
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        write_event(&mut tx, event, self.webhook_events)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(true)
    }

    async fn delete(&self, id: &UserId, event: &AuditEvent) -> Result<bool, StoreError> {
        // Sessions, their refresh tokens, the audit trail and passkeys go with it (ON DELETE
        // CASCADE); the outbox, which has no foreign key, gets the deletion's event.
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
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

    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        let rows: Vec<ProfileRow> = sqlx::query_as(
            "SELECT id, display_name FROM users \
             WHERE public AND ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|id| *id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(ProfileRow::into_profile).collect()
    }
}
