//! [`AttemptStore`] on `attempts`: each guess and each consumption is one conditional `UPDATE`.

use crate::PgStore;

use async_trait::async_trait;
use auth_core::attempt::{Attempt, AttemptState, Purpose, Subject};
use auth_core::code::CodeHash;
use auth_core::ids::{AttemptId, UserId};
use auth_core::ports::{AttemptGate, AttemptStore, StoreError};
use auth_core::time::Timestamp;
use auth_sql::rows::{display_name, email};
use auth_sql::{corrupt, count, hash32};
use sqlx::types::Uuid;

macro_rules! attempt_columns {
    () => {
        "id, purpose, email, subject_kind, subject_user_id, subject_display_name, code_hash, \
         created_at, expires_at, guesses, state, account_epoch"
    };
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: Uuid,
    purpose: String,
    email: String,
    subject_kind: String,
    subject_user_id: Option<Uuid>,
    subject_display_name: Option<String>,
    code_hash: Vec<u8>,
    created_at: i64,
    expires_at: i64,
    guesses: i32,
    state: String,
    account_epoch: i64,
}

impl AttemptRow {
    fn into_attempt(self) -> Result<Attempt, StoreError> {
        let subject = match (
            self.subject_kind.as_str(),
            self.subject_user_id,
            self.subject_display_name,
        ) {
            ("account", Some(id), None) => Subject::Account {
                user_id: UserId::from_uuid(id),
            },
            ("new_account", None, Some(name)) => Subject::NewAccount {
                display_name: display_name("attempts.subject_display_name", &name)?,
            },
            ("decoy", None, None) => Subject::Decoy,
            _ => return Err(corrupt("attempts.subject_kind")),
        };
        Ok(Attempt {
            id: AttemptId::from_uuid(self.id),
            purpose: Purpose::parse(&self.purpose).ok_or_else(|| corrupt("attempts.purpose"))?,
            email: email("attempts.email", &self.email)?,
            subject,
            code_hash: CodeHash(hash32("attempts.code_hash", &self.code_hash)?),
            created_at: Timestamp::from_millis(self.created_at),
            expires_at: Timestamp::from_millis(self.expires_at),
            guesses: count("attempts.guesses", self.guesses)?,
            state: AttemptState::parse(&self.state).ok_or_else(|| corrupt("attempts.state"))?,
            account_epoch: count("attempts.account_epoch", self.account_epoch)?,
        })
    }
}

/// The gate's steps are the composed calls of both ports, each one conditional statement.
impl AttemptGate for PgStore {}

#[async_trait]
impl AttemptStore for PgStore {
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError> {
        let (kind, user_id, name) = match &attempt.subject {
            Subject::Account { user_id } => ("account", Some(*user_id.as_uuid()), None),
            Subject::NewAccount { display_name } => {
                ("new_account", None, Some(display_name.as_str()))
            }
            Subject::Decoy => ("decoy", None, None),
        };
        let mut tx = self.begin().await?;
        // The replaced attempt exists already, so its row lock is all the two steps need.
        if let Some(old) = replaces {
            sqlx::query(
                "UPDATE attempts SET state = 'superseded' WHERE id = $1 AND state = 'active'",
            )
            .bind(old.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(e))?;
        }
        sqlx::query(concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(attempt.id.as_uuid())
        .bind(attempt.purpose.as_str())
        .bind(attempt.email.as_str())
        .bind(kind)
        .bind(user_id)
        .bind(name)
        .bind(attempt.code_hash.0.as_slice())
        .bind(attempt.created_at.as_millis())
        .bind(attempt.expires_at.as_millis())
        .bind(i64::from(attempt.guesses))
        .bind(attempt.state.as_str())
        .bind(i64::from(attempt.account_epoch))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))
    }

    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        let row: Option<AttemptRow> = sqlx::query_as(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(AttemptRow::into_attempt).transpose()
    }

    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        // Check and count in one statement: parallel guesses queue on the row lock and each
        // re-checks the budget against the count the one before it left, so together they can
        // never exceed it.
        let row: Option<AttemptRow> = sqlx::query_as(concat!(
            "UPDATE attempts SET guesses = guesses + 1 \
             WHERE id = $1 AND state = 'active' AND expires_at > $2 AND guesses < $3 \
             RETURNING ",
            attempt_columns!()
        ))
        .bind(id.as_uuid())
        .bind(now.as_millis())
        .bind(i64::from(max_guesses))
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(AttemptRow::into_attempt).transpose()
    }

    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE attempts SET state = 'consumed' \
             WHERE id = $1 AND state = 'active' AND expires_at > $2",
        )
        .bind(id.as_uuid())
        .bind(now.as_millis())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }
}
