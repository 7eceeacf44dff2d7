//! SQLite adapter: the embedded, persistent default store of the auth service.
//!
//! [`SqliteStore`] implements the durable storage ports of `auth-core` ([`UserRepository`],
//! [`SessionRepository`], [`AuditLog`], [`PasskeyRepository`], [`EmailRevertStore`],
//! [`ConsentStore`]),
//! [`Housekeeping`] and [`HealthCheck`] on one SQLite file through sqlx. The schema lives in
//! `migrations/sqlite/` at the top of the repository and is embedded here;
//! [`SqliteStore::migrate`] applies it.
//!
//! Atomicity comes from SQLite itself: taking an undo link is one `DELETE ... RETURNING`, and every
//! operation of several statements runs in one `BEGIN IMMEDIATE` transaction,
//! which takes the write lock up front so it never fails on a lock upgrade. Every write goes
//! through one writer connection, so writers queue in order for it while reads run on a pool of
//! their own.
//!
//! Ephemeral state is deliberately not kept here: email-code attempts ([`AttemptStore`]), rate
//! limits and passkey ceremonies ([`CeremonyStore`]). A single node keeps them in process: they
//! live for minutes, and a restart costs a person one more code or tap. In SQLite every anonymous
//! request for a code or for sign-in options (which a page with conditional UI makes on every
//! visit) would be a fully synced write on the one write lock that sessions and accounts queue on,
//! and abandoned entries would pile up with nothing to purge them.
//!
//! [`UserRepository`]: auth_core::ports::UserRepository
//! [`AttemptStore`]: auth_core::ports::AttemptStore
//! [`SessionRepository`]: auth_core::ports::SessionRepository
//! [`AuditLog`]: auth_core::ports::AuditLog
//! [`PasskeyRepository`]: auth_core::ports::PasskeyRepository
//! [`Housekeeping`]: auth_core::ports::Housekeeping
//! [`EmailRevertStore`]: auth_core::ports::EmailRevertStore
//! [`CeremonyStore`]: auth_core::ports::CeremonyStore
//! [`ConsentStore`]: auth_core::ports::ConsentStore
#![warn(missing_docs)]

mod audit;
mod directory;
mod error;
mod housekeeping;
mod oidc;
mod outbox;
mod passkeys;
mod reverts;
mod sessions;
mod users;

use crate::error::store_error;
use async_trait::async_trait;
use auth_core::outbox::{ChooseWebhookEvents, WebhookEvents};
use auth_core::ports::{HealthCheck, StoreError};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// In WAL mode readers never block the one writer: a handful of connections serves the readers.
const READERS: u32 = 8;

/// Accounts, sessions, the audit trail, passkeys and undo links in one SQLite database. Clones
/// share the same connection pools.
///
/// SQLite lets one connection write at a time, so writes go through a pool of exactly one
/// connection: they queue in the pool, in order, instead of contending for the file lock on the
/// busy timeout, and reads on their own connections never wait behind them.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Every statement that writes, and every transaction.
    writer: SqlitePool,
    /// Statements that only read.
    reader: SqlitePool,
    /// The webhook events the changes write to the outbox.
    webhook_events: WebhookEvents,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://data/auth.db`, or `sqlite::memory:` for a private
    /// in-memory database), creating the file if it is missing. File databases use the WAL
    /// journal with `synchronous=NORMAL` (fsync at checkpoints, not at every commit); foreign keys are always enforced. The schema is not
    /// touched: call [`SqliteStore::migrate`].
    ///
    /// The parent directory of a file database must exist. An in-memory database lives on one
    /// connection that the pool keeps open, and dies with the store.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL is malformed or the database cannot be opened;
    /// [`StoreError::Corrupt`] if the file is not a SQLite database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(store_error)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            // Every connection to a named in-memory database shares it, but it vanishes with the
            // last one, and shared-cache table locks are not covered by the busy timeout: one
            // connection that never expires, for reads and writes alike, avoids both.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(store_error)?;
            return Ok(Self {
                writer: pool.clone(),
                reader: pool,
                webhook_events: WebhookEvents::ALL,
            });
        }
        // In WAL mode NORMAL syncs the log at checkpoints, not at every commit: a power loss
        // (not a crash of the process) may lose the last commits, but never corrupts the file.
        // A fully synced commit would put an fsync on the one write lock of every sign-in,
        // refresh and revocation.
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // The writer first: it creates the file and switches it to WAL before any reader opens it.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(store_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Ok(Self {
            writer,
            reader,
            webhook_events: WebhookEvents::ALL,
        })
    }

    /// Applies every embedded migration that the database has not seen yet. Running it again is
    /// harmless.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database cannot be reached or a migration fails;
    /// [`StoreError::Corrupt`] if the database holds migrations this build does not know or whose
    /// text has changed since they were applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| auth_sql::migrate_error(e, store_error))
    }

    /// Closes every connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Starts a transaction that holds the write lock from its first statement on. A deferred
    /// transaction that reads first and writes later fails at once with `SQLITE_BUSY` when another
    /// connection wrote in between; an immediate one waits its turn on the busy timeout instead.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn check(&self) -> Result<(), StoreError> {
        auth_sql::schema_ready(&self.reader)
            .await
            .map_err(store_error)
    }
}

impl ChooseWebhookEvents for SqliteStore {
    fn with_webhook_events(mut self, events: WebhookEvents) -> Self {
        self.webhook_events = events;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_database_uses_wal_with_normal_synchronous() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let mut conn = store.reader.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // 1 is NORMAL (0 OFF, 2 FULL, 3 EXTRA).
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(synchronous, 1);
    }

    #[tokio::test]
    async fn a_file_database_writes_through_one_connection_and_reads_on_others() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(store.writer.options().get_max_connections(), 1);
        assert!(store.reader.options().get_max_connections() > 1);
        // A read transaction held open does not keep a write from committing (WAL).
        let mut read = store.reader.begin().await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master")
            .fetch_one(&mut *read)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&store.writer)
            .await
            .unwrap();
        read.rollback().await.unwrap();
    }
}
