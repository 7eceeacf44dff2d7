//! PostgreSQL adapter: the production store of the auth service, shared by every server node.
//!
//! [`PgStore`] implements the storage ports of `auth-core` ([`UserRepository`],
//! [`AttemptStore`], [`SessionRepository`], [`AuditLog`], [`PasskeyRepository`],
//! [`EmailRevertStore`], [`ConsentStore`]), their [`Housekeeping`], the
//! [`RateLimiter`], the [`CeremonyStore`] and the [`AuthorizationCodeStore`] (so a deployment without Redis still shares its
//! limits and passkey ceremonies between nodes) and [`HealthCheck`] on one PostgreSQL database
//! through sqlx. The schema lives in `migrations/postgres/` at the top of the repository and is
//! embedded here; [`PgStore::migrate`] applies it.
//!
//! Atomicity comes from PostgreSQL's row locks under the default READ COMMITTED isolation. Every
//! guess, every consumption, every GCRA step and every failure count is one conditional statement
//! (`UPDATE ... WHERE <allowed> RETURNING`, `INSERT ... ON CONFLICT DO UPDATE ... WHERE`): a
//! concurrent writer of the same row waits for the first and then re-checks the condition
//! against the row as the first left it. Operations of several statements run in one
//! transaction in which every write is conditional on the state it changes, so none of them
//! relies on something it read earlier. Each durable step of a sign-in is one statement, so one
//! round trip and one commit: opening a session writes the session, its refresh token and its
//! sign-in event in one statement of data-modifying CTEs (after a passkey sign-in, with the
//! counter update); the per-request session check reads the session with its account; rotating
//! a refresh token is one statement that locks the session first (the order in which deleting an
//! account cascades), spends the token only if it is still current, and detects reuse; only when
//! a parallel rotation of the same token committed while it waited does it run once more, on a
//! fresh snapshot. Taking a ceremony is one `DELETE ... RETURNING`, so exactly one of parallel
//! takes gets it.
//!
//! [`UserRepository`]: auth_core::ports::UserRepository
//! [`AttemptStore`]: auth_core::ports::AttemptStore
//! [`SessionRepository`]: auth_core::ports::SessionRepository
//! [`AuditLog`]: auth_core::ports::AuditLog
//! [`RateLimiter`]: auth_core::ports::RateLimiter
//! [`PasskeyRepository`]: auth_core::ports::PasskeyRepository
//! [`Housekeeping`]: auth_core::ports::Housekeeping
//! [`EmailRevertStore`]: auth_core::ports::EmailRevertStore
//! [`CeremonyStore`]: auth_core::ports::CeremonyStore
//! [`ConsentStore`]: auth_core::ports::ConsentStore
//! [`AuthorizationCodeStore`]: auth_core::ports::AuthorizationCodeStore
#![warn(missing_docs)]

mod attempts;
mod audit;
mod breaker;
mod ceremonies;
mod directory;
mod error;
mod housekeeping;
mod limits;
mod oidc;
mod outbox;
mod passkeys;
mod reverts;
// Its SQL macros (the opening CTEs) are shared with `users`, which creates an account together
// with its first session.
#[macro_use]
mod sessions;
mod users;

use crate::breaker::Breaker;
use crate::error::store_error;
use async_trait::async_trait;
use auth_core::outbox::{ChooseWebhookEvents, WebhookEvents};
use auth_core::ports::{HealthCheck, StoreError};
use auth_core::rate::micros;
use auth_core::time::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a caller waits for a connection (including opening a new one) before the store counts
/// as unavailable: a database that is down answers within this, never hangs a request.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long [`PgStore::purge_expired`] keeps an attempt after it expires: the core's rule, which
/// every attempt store follows.
pub use auth_core::attempt::ATTEMPT_GRACE;

/// Accounts, sessions, attempts, rate limits, the audit trail, passkeys and ceremonies in one
/// PostgreSQL database.
/// Cheap to clone: clones share the same connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Opens when the server cannot be reached, so calls fail at once instead of each waiting
    /// [`ACQUIRE_TIMEOUT`]; a background probe closes it again.
    breaker: Breaker,
    /// The webhook events the changes write to the outbox.
    webhook_events: WebhookEvents,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, with
    /// any of libpq's URL parameters such as `sslmode`) with a pool of at most `max_connections`
    /// connections (at least one), and opens the first one to prove the settings. The schema is
    /// not touched: call [`PgStore::migrate`].
    ///
    /// A server that refuses connections, or is still starting, is retried until
    /// [`ACQUIRE_TIMEOUT`]; so is every later call that needs a new connection. Once a call could
    /// not reach the server, later calls fail at once with [`StoreError::Unavailable`] until a
    /// background probe reaches it again (every 200 ms).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL is malformed or no connection could be opened within
    /// [`ACQUIRE_TIMEOUT`] (server down or silent, unknown database, authentication refused).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(store_error)?
            .application_name("auth-postgres");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Ok(Self {
            pool,
            breaker: Breaker::default(),
            webhook_events: WebhookEvents::ALL,
        })
    }

    /// Applies every embedded migration that the database has not seen yet. Running it again is
    /// harmless, and so is running it from several nodes at once: sqlx serialises them on an
    /// advisory lock.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database cannot be reached or a migration fails;
    /// [`StoreError::Corrupt`] if the database holds migrations this build does not know or whose
    /// text has changed since they were applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| auth_sql::migrate_error(e, store_error))
    }

    /// Deletes state that can no longer matter at `now`: rate-limit entries whose theoretical
    /// arrival time has passed, failure windows that have ended, and attempts that expired more
    /// than [`ATTEMPT_GRACE`] ago; and ceremonies that expired untaken. None of it changes what any port method answers
    /// (an expired limiter entry is equivalent to none, expired attempts refuse every guess, and
    /// an expired ceremony cannot be taken); it only keeps the tables small. Meant to be called
    /// now and then, from any node; returns how many rows went.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        // Independent statements: each deletes only what is dead on its own, so there is nothing
        // to keep consistent between them.
        let mut purged = 0;
        for (sql, before) in [
            (
                "DELETE FROM ceremonies WHERE expires_at <= $1",
                now.as_millis(),
            ),
            ("DELETE FROM rate_limits_us WHERE tat_us <= $1", micros(now)),
            // The previous release's limiter rows (milliseconds), until a later release drops
            // the table.
            ("DELETE FROM rate_limits WHERE tat <= $1", now.as_millis()),
            (
                "DELETE FROM failures WHERE window_ends <= $1",
                now.as_millis(),
            ),
            (
                "DELETE FROM attempts WHERE expires_at < $1",
                now.minus(ATTEMPT_GRACE).as_millis(),
            ),
            (
                oidc::CODES_PURGE,
                oidc::codes_forgotten_before(now).as_millis(),
            ),
        ] {
            let done = sqlx::query(sql)
                .bind(before)
                .execute(self.pool()?)
                .await
                .map_err(|e| self.failed(e))?;
            purged += done.rows_affected();
        }
        Ok(purged)
    }

    /// Closes every connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a READ COMMITTED transaction.
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool()?.begin().await.map_err(|e| self.failed(e))
    }

    /// The pool, unless the server is known to be unreachable: then the call fails at once.
    fn pool(&self) -> Result<&PgPool, StoreError> {
        self.breaker.check()?;
        Ok(&self.pool)
    }

    /// Maps a failed call to the port error, opening the breaker if the server could not be
    /// reached.
    fn failed(&self, e: sqlx::Error) -> StoreError {
        self.breaker.observe(&e, &self.pool);
        store_error(e)
    }
}

#[async_trait]
impl HealthCheck for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), StoreError> {
        auth_sql::schema_ready(self.pool()?)
            .await
            .map_err(|e| self.failed(e))
    }
}

impl ChooseWebhookEvents for PgStore {
    fn with_webhook_events(mut self, events: WebhookEvents) -> Self {
        self.webhook_events = events;
        self
    }
}
