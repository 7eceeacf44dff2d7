//! [`AttemptStore`] on `attempts`: each guess and each consumption is one conditional `UPDATE`.

use crate::SqliteStore;
use crate::error::{corrupt, count, hash32, parse, store_error};
use crate::users::display_name;
use async_trait::async_trait;
use auth_core::attempt::{Attempt, AttemptState, Purpose, Subject};
use auth_core::code::CodeHash;
use auth_core::email::EmailAddress;
use auth_core::ids::{AttemptId, UserId};
use auth_core::ports::{AttemptStore, StoreError};
use auth_core::time::Timestamp;

macro_rules! attempt_columns {
    () => {
        "id, purpose, email, subject_kind, subject_user_id, subject_display_name, code_hash, \
         created_at, expires_at, guesses, state, account_epoch"
    };
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: String,
    purpose: String,
    email: String,
    subject_kind: String,
    subject_user_id: Option<String>,
    subject_display_name: Option<String>,
    code_hash: Vec<u8>,
    created_at: i64,
    expires_at: i64,
    guesses: i64,
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
                user_id: parse("attempts.subject_user_id", &id, UserId::parse)?,
            },
            ("new_account", None, Some(name)) => Subject::NewAccount {
                display_name: display_name("attempts.subject_display_name", &name)?,
            },
            ("decoy", None, None) => Subject::Decoy,
            _ => return Err(corrupt("attempts.subject_kind")),
        };
        Ok(Attempt {
            id: parse("attempts.id", &self.id, AttemptId::parse)?,
            purpose: Purpose::parse(&self.purpose).ok_or_else(|| corrupt("attempts.purpose"))?,
            email: EmailAddress::parse(&self.email).map_err(|_| corrupt("attempts.email"))?,
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

#[async_trait]
impl AttemptStore for SqliteStore {
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError> {
        let (kind, user_id, name) = match &attempt.subject {
            Subject::Account { user_id } => ("account", Some(user_id.to_string()), None),
            Subject::NewAccount { display_name } => {
                ("new_account", None, Some(display_name.as_str()))
            }
            Subject::Decoy => ("decoy", None, None),
        };
        let mut tx = self.begin().await?;
        if let Some(old) = replaces {
            sqlx::query(
                "UPDATE attempts SET state = 'superseded' WHERE id = ? AND state = 'active'",
            )
            .bind(old.to_string())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        sqlx::query(concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(attempt.id.to_string())
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
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        let row: Option<AttemptRow> = sqlx::query_as(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(AttemptRow::into_attempt).transpose()
    }

    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        // Check and count in one statement, so parallel guesses can never exceed the budget.
        let row: Option<AttemptRow> = sqlx::query_as(concat!(
            "UPDATE attempts SET guesses = guesses + 1 \
             WHERE id = ? AND state = 'active' AND expires_at > ? AND guesses < ? \
             RETURNING ",
            attempt_columns!()
        ))
        .bind(id.to_string())
        .bind(now.as_millis())
        .bind(i64::from(max_guesses))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(AttemptRow::into_attempt).transpose()
    }

    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE attempts SET state = 'consumed' \
             WHERE id = ? AND state = 'active' AND expires_at > ?",
        )
        .bind(id.to_string())
        .bind(now.as_millis())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }
}
