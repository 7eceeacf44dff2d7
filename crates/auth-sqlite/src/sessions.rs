//! [`SessionRepository`] on `sessions` and `refresh_tokens`: rotation with reuse detection.

use crate::SqliteStore;
use crate::error::store_error;
use crate::outbox::write_event;
use crate::passkeys::record_use;
use async_trait::async_trait;
use auth_core::ids::{PasskeyId, SessionId, UserId};
use auth_core::passkey::CredentialUse;
use auth_core::ports::{AuditEvent, Lifetimes, SessionRepository, StoreError};
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::User;
use sqlx::SqliteConnection;

type SessionRow = auth_sql::rows::SessionRow<String>;

/// A presented refresh token's `spent_at`, with its session.
#[derive(sqlx::FromRow)]
struct TokenWithSession {
    spent_at: Option<i64>,
    #[sqlx(flatten)]
    session: SessionRow,
}
type SessionUserRow = auth_sql::rows::SessionUserRow<String>;

macro_rules! session_columns {
    () => {
        "id, user_id, method, created_at, last_seen_at, expires_at, user_agent, ip, revoked_at, \
         client_id, client_scopes"
    };
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
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
    .bind(session.client.as_ref().map(|c| c.id.as_str()))
    .bind(session.client.as_ref().map(|c| c.scopes.to_text()))
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

/// Whether the account may open a session: it exists and is not disabled. Callers run it inside
/// the transaction that opens the session, which holds the write lock, so a disable cannot come
/// between the check and the insert.
pub(crate) async fn may_sign_in(
    conn: &mut SqliteConnection,
    user: &UserId,
) -> Result<bool, StoreError> {
    let enabled: Option<bool> =
        sqlx::query_scalar("SELECT disabled_at IS NULL FROM users WHERE id = ?")
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
    // An unknown account goes on to fail the foreign key, as before.
    Ok(enabled.unwrap_or(true))
}

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn open(
        &self,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        // One transaction on the writer connection; an unknown account fails the foreign key
        // and comes back as `StoreError::Corrupt`, with nothing written.
        let mut tx = self.begin().await?;
        if !may_sign_in(&mut tx, &session.user_id).await? {
            return Ok(false);
        }
        insert_session(&mut tx, session, refresh).await?;
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn open_with_passkey(
        &self,
        passkey: &PasskeyId,
        used: &CredentialUse,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if !may_sign_in(&mut tx, &session.user_id).await? {
            return Ok(false);
        }
        let found = record_use(
            &mut tx,
            passkey,
            &used.credential,
            used.sign_count,
            used.backed_up,
            session.created_at,
        )
        .await?;
        if !found {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(false);
        }
        insert_session(&mut tx, session, refresh).await?;
        write_event(&mut tx, event, self.webhook_events).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn active_with_user(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let row: Option<SessionUserRow> = sqlx::query_as(concat!(
            "SELECT s.id, s.user_id, s.method, s.created_at, s.last_seen_at, s.expires_at, \
             s.user_agent, s.ip, s.revoked_at, s.client_id, s.client_scopes, ",
            auth_sql::joined_user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ? \
             AND u.disabled_at IS NULL"
        ))
        .bind(id.to_string())
        .bind(now.as_millis())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(SessionUserRow::into_pair).transpose()
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
        ip: &Option<String>,
    ) -> Result<Rotation, StoreError> {
        // `BEGIN IMMEDIATE` holds the write lock from the first statement: every read below sees
        // what the decision is applied to, and parallel callers take their turns.
        let mut tx = self.begin().await?;
        // The token and its session in one statement: each statement is a trip to the
        // connection's thread while this transaction holds the one write lock.
        let found: Option<TokenWithSession> = sqlx::query_as(concat!(
            "SELECT spent_at, ",
            session_columns!(),
            " FROM refresh_tokens JOIN sessions ON sessions.id = refresh_tokens.session_id \
             WHERE hash = ?"
        ))
        .bind(old.0.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(TokenWithSession { spent_at, session }) = found else {
            return Ok(Rotation::Invalid);
        };
        let session = session.into_session()?;
        let session_id = session.id.to_string();

        let outcome = match spent_at.map(Timestamp::from_millis) {
            None if !session.is_active(now) => Rotation::Invalid,
            None => {
                // Computed here rather than in SQL so that huge lifetimes saturate instead of
                // overflowing into a REAL that the STRICT table would refuse.
                let expires_at = now
                    .plus(lifetimes.idle)
                    .min(session.created_at.plus(lifetimes.max));
                sqlx::query("UPDATE refresh_tokens SET spent_at = ? WHERE hash = ?")
                    .bind(now.as_millis())
                    .bind(old.0.as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
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
            }
            // Later replays of a revoked family are merely invalid.
            Some(_) if session.revoked_at.is_some() => Rotation::Invalid,
            Some(spent_at) => {
                let successor_is_current: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM refresh_tokens                      WHERE hash = ? AND session_id = ? AND spent_at IS NULL)",
                )
                .bind(new.0.as_slice())
                .bind(&session_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
                if now < spent_at.plus(lifetimes.grace)
                    && successor_is_current
                    && session.is_active(now)
                {
                    // The same successor again: nothing to write.
                    Rotation::Rotated(session)
                } else {
                    // A spent token presented again: someone kept a copy, so the whole family
                    // goes.
                    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ?")
                        .bind(now.as_millis())
                        .bind(&session_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    write_event(
                        &mut tx,
                        &AuditEvent::refresh_token_reused(session.user_id, &session.id, now, ip),
                        self.webhook_events,
                    )
                    .await?;
                    Rotation::Reused {
                        session_id: session.id,
                        user_id: session.user_id,
                    }
                }
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
        .fetch_all(&self.reader)
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
        .execute(&self.writer)
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
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}
