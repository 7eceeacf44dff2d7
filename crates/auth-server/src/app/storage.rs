//! The storage the settings choose: the durable database (SQLite or PostgreSQL) with its
//! migrations and data directory, the ephemeral stores beside it, the mail transport, and the
//! periodic purge of old rows.

use crate::config::{Config, DatabaseUrl, MailTransport};
use anyhow::Context;
use auth_core::outbox::ChooseWebhookEvents;
use auth_core::ports::{
    AttemptGate, AttemptStore, AuditLog, AuthorizationCodeStore, CeremonyStore, Clock,
    ConsentStore, EmailRevertStore, HealthCheck, Housekeeping, Outbox, PasskeyRepository,
    RateLimiter, Retention, SessionRepository, SystemClock, UserDirectory, UserRepository,
};
use auth_memory::MemoryStore;
use auth_postgres::PgStore;
use auth_redis::RedisStore;
use auth_smtp::{SmtpPassword, TransportConfig};
use auth_sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Creates the data directory (owner-only) if it is missing.
pub(crate) fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Opens the database and runs its migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    ensure_data_dir(&config.data_dir)?;
    let db = Database::open(config).await?;
    db.migrate().await?;
    db.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

/// The durable store: SQLite on one node, PostgreSQL for many.
#[derive(Clone)]
pub(crate) enum Database {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Creates a missing SQLite file owner-only (0600) before SQLite opens it. SQLite would create it
/// with the process umask (often 0644: readable by every local user); the WAL and shared-memory
/// files it adds later take the database file's permissions, so they are owner-only too.
fn create_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the database file {}", path.display()))
        }
    }
}

impl Database {
    async fn open(config: &Config) -> anyhow::Result<Self> {
        Ok(match &config.database {
            DatabaseUrl::Sqlite { url, file } => {
                if let Some(file) = file {
                    create_private(file)?;
                }
                Database::Sqlite(
                    SqliteStore::connect(url)
                        .await
                        .context("cannot open the SQLite database")?
                        .with_webhook_events(config.webhooks.events()),
                )
            }
            DatabaseUrl::Postgres(url) => Database::Postgres(
                PgStore::connect(url.expose(), config.max_connections)
                    .await
                    .context("cannot reach PostgreSQL")?
                    .with_webhook_events(config.webhooks.events()),
            ),
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Database::Sqlite(db) => db.migrate().await,
            Database::Postgres(db) => db.migrate().await,
        }
        .context("migrations failed")
    }

    pub(crate) async fn close(&self) {
        match self {
            Database::Sqlite(db) => db.close().await,
            Database::Postgres(db) => db.close().await,
        }
    }
}

/// The transport the settings chose; the relay's password is read from its file here.
pub(crate) fn mail_transport(config: &Config) -> anyhow::Result<TransportConfig> {
    Ok(match &config.mail.transport {
        MailTransport::Outbox(dir) => TransportConfig::Outbox { dir: dir.clone() },
        MailTransport::Smtp {
            relay,
            password_file,
        } => {
            let mut relay = relay.clone();
            if let Some(file) = password_file {
                let password = std::fs::read_to_string(file).with_context(|| {
                    format!("cannot read mail.smtp_password_file {}", file.display())
                })?;
                relay.password = Some(SmtpPassword::new(password.trim_end_matches(['\r', '\n'])));
            }
            TransportConfig::Smtp(relay)
        }
    })
}

/// The storage ports, chosen by the settings.
pub(crate) struct Stores {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) audit: Arc<dyn AuditLog>,
    pub(crate) passkeys: Arc<dyn PasskeyRepository>,
    pub(crate) reverts: Arc<dyn EmailRevertStore>,
    pub(crate) attempts: Arc<dyn AttemptStore>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) gate: Arc<dyn AttemptGate>,
    pub(crate) ceremonies: Arc<dyn CeremonyStore>,
    pub(crate) codes: Arc<dyn AuthorizationCodeStore>,
    pub(crate) consents: Arc<dyn ConsentStore>,
    /// The operator's view of the accounts.
    pub(crate) directory: Arc<dyn UserDirectory>,
    pub(crate) health: Vec<Arc<dyn HealthCheck>>,
    pub(crate) outbox: Arc<dyn Outbox>,
    pub(crate) database: Database,
}

/// Durable state in the database. Ephemeral state in Redis if configured; else in PostgreSQL
/// (still shared by every node); else, with SQLite on one node, in process.
pub(crate) async fn stores(config: &Config) -> anyhow::Result<Stores> {
    let database = Database::open(config).await?;
    if config.migrate_on_start {
        database.migrate().await?;
    }
    let redis = match &config.redis {
        Some(redis) => Some(Arc::new(
            RedisStore::connect(redis.url.expose(), &redis.key_prefix)
                .await
                .context("cannot reach Redis")?,
        )),
        None => None,
    };
    let memory = Arc::new(MemoryStore::new());
    let mut stores = match &database {
        Database::Sqlite(db) => {
            let db = Arc::new(db.clone());
            Stores {
                users: db.clone(),
                sessions: db.clone(),
                audit: db.clone(),
                passkeys: db.clone(),
                reverts: db.clone(),
                attempts: memory.clone(),
                limiter: memory.clone(),
                gate: memory.clone(),
                ceremonies: memory.clone(),
                codes: memory,
                consents: db.clone(),
                directory: db.clone(),
                outbox: db.clone(),
                health: vec![db],
                database: database.clone(),
            }
        }
        Database::Postgres(db) => {
            let db = Arc::new(db.clone());
            Stores {
                users: db.clone(),
                sessions: db.clone(),
                audit: db.clone(),
                passkeys: db.clone(),
                reverts: db.clone(),
                attempts: db.clone(),
                limiter: db.clone(),
                gate: db.clone(),
                ceremonies: db.clone(),
                codes: db.clone(),
                consents: db.clone(),
                directory: db.clone(),
                outbox: db.clone(),
                health: vec![db],
                database: database.clone(),
            }
        }
    };
    if let Some(redis) = redis {
        stores.attempts = redis.clone();
        stores.limiter = redis.clone();
        stores.gate = redis.clone();
        stores.ceremonies = redis.clone();
        stores.codes = redis.clone();
        stores.health.push(redis);
    }
    Ok(stores)
}

/// Every few minutes, applies the retention to the durable store, whichever it is (ended
/// sessions, old spent refresh tokens, old audit events), and on PostgreSQL also deletes expired
/// attempts, limiter rows and ceremonies. A failure is logged and tried again next time.
pub(super) fn spawn_purge(database: &Database, retention: Retention) {
    let database = database.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let now = SystemClock.now();
            let keeper: &dyn Housekeeping = match &database {
                Database::Sqlite(db) => db,
                Database::Postgres(db) => db,
            };
            match keeper.purge(now, retention).await {
                Ok(p) => tracing::debug!(
                    sessions = p.sessions,
                    refresh_tokens = p.refresh_tokens,
                    audit_events = p.audit_events,
                    "applied the retention"
                ),
                Err(e) => tracing::warn!(error = %e, "purge of old sessions and events failed"),
            }
            if let Database::Postgres(db) = &database {
                match db.purge_expired(now).await {
                    Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %e, "purge of expired rows failed"),
                }
            }
        }
    });
}
