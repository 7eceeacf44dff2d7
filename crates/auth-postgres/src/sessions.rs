//! [`SessionRepository`] on `sessions` and `refresh_tokens`: rotation with reuse detection.

use crate::PgStore;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::ids::{SessionId, UserId};
use auth_core::ports::{Lifetimes, SessionRepository, StoreError};
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use sqlx::PgConnection;
use sqlx::types::Uuid;

type SessionRow = auth_sql::rows::SessionRow<Uuid>;

macro_rules! session_columns {
    () => {
        "id, user_id, method, created_at, last_seen_at, expires_at, user_agent, ip, revoked_at, \
         client_id, client_scopes"
    };
}

/// Inserts a session and its first, current refresh token. Callers run it inside a transaction.
pub(crate) async fn insert_session(
    conn: &mut PgConnection,
    session: &Session,
    refresh: &TokenHash,
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO sessions (",
        session_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(session.id.as_uuid())
    .bind(session.user_id.as_uuid())
    .bind(session.method.as_str())
    .bind(session.created_at.as_millis())
    .bind(session.last_seen_at.as_millis())
    .bind(session.expires_at.as_millis())
    .bind(session.user_agent.as_deref())
    .bind(session.ip.as_deref())
    .bind(session.revoked_at.map(Timestamp::as_millis))
    .bind(session.client.as_ref().map(|c| c.id.as_str()))
    .bind(session.client.as_ref().map(|c| c.scopes.to_text()))
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    sqlx::query("INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2)")
        .bind(refresh.0.as_slice())
        .bind(session.id.as_uuid())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for PgStore {
    async fn create(&self, session: &Session, refresh: &TokenHash) -> Result<(), StoreError> {
        // An unknown account fails the foreign key and comes back as `StoreError::Corrupt`.
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session, refresh).await?;
        tx.commit().await.map_err(|e| self.failed(e))
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin().await?;

        // Lock the family first: its session row, then (by writing) its token rows, the order in
        // which deleting an account cascades, so the two never deadlock. Every writer of a family's
        // tokens holds this lock, so of any number of parallel callers one decides at a time, and
        // each later one reads (in statements that start after the lock is granted) everything
        // the earlier ones committed.
        let locked: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = \
                 (SELECT session_id FROM refresh_tokens WHERE hash = $1) \
             FOR UPDATE"
        ))
        .bind(old.0.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        let Some(session) = locked.map(SessionRow::into_session).transpose()? else {
            return Ok(Rotation::Invalid);
        };
        let token: Option<Option<i64>> =
            sqlx::query_scalar("SELECT spent_at FROM refresh_tokens WHERE hash = $1")
                .bind(old.0.as_slice())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.failed(e))?;
        // Purged between the two statements.
        let Some(spent_at) = token else {
            return Ok(Rotation::Invalid);
        };

        let outcome = match spent_at.map(Timestamp::from_millis) {
            None if !session.is_active(now) => Rotation::Invalid,
            None => {
                let expires_at = now
                    .plus(lifetimes.idle)
                    .min(session.created_at.plus(lifetimes.max));
                sqlx::query("UPDATE refresh_tokens SET spent_at = $1 WHERE hash = $2")
                    .bind(now.as_millis())
                    .bind(old.0.as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.failed(e))?;
                sqlx::query("INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2)")
                    .bind(new.0.as_slice())
                    .bind(session.id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.failed(e))?;
                let row: SessionRow = sqlx::query_as(concat!(
                    "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3 \
                     RETURNING ",
                    session_columns!()
                ))
                .bind(now.as_millis())
                .bind(expires_at.as_millis())
                .bind(session.id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.failed(e))?;
                Rotation::Rotated(row.into_session()?)
            }
            // Later replays of a revoked family are merely invalid.
            Some(_) if session.revoked_at.is_some() => Rotation::Invalid,
            Some(spent_at) => {
                let successor_is_current: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM refresh_tokens \
                     WHERE hash = $1 AND session_id = $2 AND spent_at IS NULL)",
                )
                .bind(new.0.as_slice())
                .bind(session.id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.failed(e))?;
                if now < spent_at.plus(lifetimes.grace)
                    && successor_is_current
                    && session.is_active(now)
                {
                    // The same successor again: nothing to write.
                    Rotation::Rotated(session)
                } else {
                    // A spent token presented again: someone kept a copy, so the whole family
                    // goes.
                    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
                        .bind(now.as_millis())
                        .bind(session.id.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.failed(e))?;
                    Rotation::Reused {
                        session_id: session.id,
                        user_id: session.user_id,
                    }
                }
            }
        };
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(outcome)
    }

    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.as_uuid())
        .bind(now.as_millis())
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND ($3::uuid IS NULL OR id <> $3) \
             AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now.as_millis())
        .bind(user.as_uuid())
        .bind(keep.map(|id| *id.as_uuid()))
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }
}
