//! [`SessionRepository`] on `sessions` and `refresh_tokens`: rotation with reuse detection.

use crate::SqliteStore;
use crate::error::{corrupt, parse, store_error};
use async_trait::async_trait;
use auth_core::ids::{SessionId, UserId};
use auth_core::ports::{SessionRepository, StoreError};
use auth_core::session::{AuthMethod, Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use sqlx::SqliteConnection;
use std::time::Duration;

macro_rules! session_columns {
    () => {
        "id, user_id, method, created_at, last_seen_at, expires_at, user_agent, ip, revoked_at"
    };
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    method: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    user_agent: Option<String>,
    ip: Option<String>,
    revoked_at: Option<i64>,
}

impl SessionRow {
    fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: parse("sessions.id", &self.id, SessionId::parse)?,
            user_id: parse("sessions.user_id", &self.user_id, UserId::parse)?,
            method: AuthMethod::parse(&self.method).ok_or_else(|| corrupt("sessions.method"))?,
            created_at: Timestamp::from_millis(self.created_at),
            last_seen_at: Timestamp::from_millis(self.last_seen_at),
            expires_at: Timestamp::from_millis(self.expires_at),
            user_agent: self.user_agent,
            ip: self.ip,
            revoked_at: self.revoked_at.map(Timestamp::from_millis),
        })
    }
}

/// Inserts a session and its first, current refresh token. Callers run it inside a transaction.
pub(crate) async fn insert_session(
    conn: &mut SqliteConnection,
    session: &Session,
    refresh: &TokenHash,
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO sessions (",
        session_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(session.id.to_string())
    .bind(session.user_id.to_string())
    .bind(session.method.as_str())
    .bind(session.created_at.as_millis())
    .bind(session.last_seen_at.as_millis())
    .bind(session.expires_at.as_millis())
    .bind(session.user_agent.as_deref())
    .bind(session.ip.as_deref())
    .bind(session.revoked_at.map(Timestamp::as_millis))
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    sqlx::query("INSERT INTO refresh_tokens (hash, session_id) VALUES (?, ?)")
        .bind(refresh.0.as_slice())
        .bind(session.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn create(&self, session: &Session, refresh: &TokenHash) -> Result<(), StoreError> {
        // An unknown account fails the foreign key and comes back as `StoreError::Corrupt`.
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session, refresh).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        idle: Duration,
        max: Duration,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin().await?;

        // Spend `old` only if it is current and its session is active: of any number of parallel
        // callers, exactly one gets a row back.
        let spent: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET spent_at = ?1 \
             WHERE hash = ?2 AND spent_at IS NULL AND EXISTS ( \
                 SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id \
                 AND s.revoked_at IS NULL AND s.expires_at > ?1) \
             RETURNING session_id",
        )
        .bind(now.as_millis())
        .bind(old.0.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;

        let outcome = if let Some(session_id) = spent {
            let created_at: i64 =
                sqlx::query_scalar("SELECT created_at FROM sessions WHERE id = ?")
                    .bind(&session_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
            // Computed here rather than in SQL so that huge lifetimes saturate instead of
            // overflowing into a REAL that the STRICT table would refuse.
            let expires_at = now
                .plus(idle)
                .min(Timestamp::from_millis(created_at).plus(max));
            sqlx::query("INSERT INTO refresh_tokens (hash, session_id) VALUES (?, ?)")
                .bind(new.0.as_slice())
                .bind(&session_id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            let row: SessionRow = sqlx::query_as(concat!(
                "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? RETURNING ",
                session_columns!()
            ))
            .bind(now.as_millis())
            .bind(expires_at.as_millis())
            .bind(&session_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
            Rotation::Rotated(row.into_session()?)
        } else {
            // A spent token presented again: someone kept a copy, so the whole family goes, once.
            // Later replays find the session revoked already and are merely invalid.
            let revoked: Option<(String, String)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = ?1 \
                 WHERE revoked_at IS NULL AND id = ( \
                     SELECT session_id FROM refresh_tokens \
                     WHERE hash = ?2 AND spent_at IS NOT NULL) \
                 RETURNING id, user_id",
            )
            .bind(now.as_millis())
            .bind(old.0.as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
            match revoked {
                Some((session_id, user_id)) => Rotation::Reused {
                    session_id: parse("sessions.id", &session_id, SessionId::parse)?,
                    user_id: parse("sessions.user_id", &user_id, UserId::parse)?,
                },
                None => Rotation::Invalid,
            }
        };
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
    }

    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.to_string())
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        // No session has the empty id, so without `keep` nothing is spared.
        let keep = keep.map(|id| id.to_string()).unwrap_or_default();
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ?1 \
             WHERE user_id = ?2 AND id <> ?3 AND revoked_at IS NULL AND expires_at > ?1",
        )
        .bind(now.as_millis())
        .bind(user.to_string())
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}
