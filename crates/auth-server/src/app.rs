//! The composition root: picks adapters from the settings, wires them into the service and serves.

use crate::audit::QueuedAudit;
use crate::config::Settings;
use crate::secrets;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use auth_core::AuthService;
use auth_core::ports::{
    AttemptStore, AuditLog, CeremonyStore, Clock, EmailRevertStore, HealthCheck, Housekeeping,
    OsRng, PasskeyRepository, RateLimiter, Retention, SessionRepository, SystemClock,
    UserRepository,
};
use auth_core::service::Ports;
use auth_http::{AppState, HttpConfig, Metrics};
use auth_jwt::JwtIssuer;
use auth_memory::MemoryStore;
use auth_postgres::PgStore;
use auth_redis::RedisStore;
use auth_smtp::{
    MailConfig, MailQueue, QueueConfig, Renderer, SmtpConfig, SmtpPassword, TransportConfig,
};
use auth_sqlite::SqliteStore;
use auth_webauthn::{Attachment, RelyingParty, WebAuthnAdapter};
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::time::Duration;

/// Audit events that may wait for the background writer (see [`QueuedAudit`]).
const AUDIT_QUEUE_CAPACITY: usize = 10_000;

/// Creates the data directory (owner-only) if it is missing.
fn ensure_data_dir(settings: &Settings) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &settings.server.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Opens the database and runs its migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    ensure_data_dir(settings)?;
    let db = Database::open(settings).await?;
    db.migrate().await?;
    db.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

/// The durable store: SQLite on one node, PostgreSQL for many.
#[derive(Clone)]
enum Database {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The file of a SQLite URL (`sqlite://path`, `sqlite:path`, with or without `?options`), or
/// `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Creates a missing SQLite file owner-only (0600) before SQLite opens it. SQLite would create it
/// with the process umask (often 0644: readable by every local user); the WAL and shared-memory
/// files it adds later take the database file's permissions, so they are owner-only too.
fn create_private(path: &std::path::Path) -> anyhow::Result<()> {
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
    async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.database_url();
        Ok(if url.starts_with("sqlite:") {
            if let Some(file) = sqlite_file(&url) {
                create_private(&file)?;
            }
            Database::Sqlite(
                SqliteStore::connect(&url)
                    .await
                    .context("cannot open the SQLite database")?,
            )
        } else {
            Database::Postgres(
                PgStore::connect(&url, settings.database.max_connections)
                    .await
                    .context("cannot reach PostgreSQL")?,
            )
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Database::Sqlite(db) => db.migrate().await,
            Database::Postgres(db) => db.migrate().await,
        }
        .context("migrations failed")
    }

    async fn close(&self) {
        match self {
            Database::Sqlite(db) => db.close().await,
            Database::Postgres(db) => db.close().await,
        }
    }
}

fn mail_transport(settings: &Settings) -> anyhow::Result<TransportConfig> {
    let m = &settings.mail;
    Ok(match &m.smtp_url {
        None => TransportConfig::Outbox {
            dir: settings.outbox_dir(),
        },
        Some(url) => {
            let mut smtp = SmtpConfig::new(url.clone());
            smtp.max_connections = m.smtp_connections;
            smtp.username.clone_from(&m.smtp_username);
            if let Some(file) = &m.smtp_password_file {
                let password = std::fs::read_to_string(file).with_context(|| {
                    format!("cannot read mail.smtp_password_file {}", file.display())
                })?;
                smtp.password = Some(SmtpPassword::new(password.trim_end_matches(['\r', '\n'])));
            }
            TransportConfig::Smtp(smtp)
        }
    })
}

/// The storage ports, chosen by the settings.
struct Stores {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    audit: Arc<dyn AuditLog>,
    passkeys: Arc<dyn PasskeyRepository>,
    reverts: Arc<dyn EmailRevertStore>,
    attempts: Arc<dyn AttemptStore>,
    limiter: Arc<dyn RateLimiter>,
    ceremonies: Arc<dyn CeremonyStore>,
    health: Vec<Arc<dyn HealthCheck>>,
    database: Database,
}

/// Durable state in the database. Ephemeral state in Redis if configured; else in PostgreSQL
/// (still shared by every node); else, with SQLite on one node, in process.
async fn stores(settings: &Settings) -> anyhow::Result<Stores> {
    let database = Database::open(settings).await?;
    if settings.database.migrate_on_start {
        database.migrate().await?;
    }
    let redis = match &settings.redis.url {
        Some(url) => Some(Arc::new(
            RedisStore::connect(url, &settings.redis.key_prefix)
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
                ceremonies: memory,
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
                ceremonies: db.clone(),
                health: vec![db],
                database: database.clone(),
            }
        }
    };
    if let Some(redis) = redis {
        stores.attempts = redis.clone();
        stores.limiter = redis.clone();
        stores.ceremonies = redis.clone();
        stores.health.push(redis);
    }
    Ok(stores)
}

/// Every few minutes, applies the retention to the durable store, whichever it is (ended
/// sessions, old spent refresh tokens, old audit events), and on PostgreSQL also deletes expired
/// attempts, limiter rows and ceremonies. A failure is logged and tried again next time.
fn spawn_purge(database: &Database, retention: Retention) {
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

/// The HTTP metrics plus the mail queue's counters, copied in at every scrape.
fn mail_metrics(mailer: &Arc<MailQueue>) -> Metrics {
    let gauges: [(&str, &str, Gauge); 6] = [
        (
            "mail_queued",
            "Mails accepted into the queue",
            Gauge::default(),
        ),
        (
            "mail_rejected",
            "Mails turned away because the queue was full",
            Gauge::default(),
        ),
        (
            "mail_sent",
            "Mails the transport accepted",
            Gauge::default(),
        ),
        ("mail_failed", "Mails given up on", Gauge::default()),
        ("mail_retries", "Delivery retries", Gauge::default()),
        (
            "mail_queue_depth",
            "Mails waiting in the queue",
            Gauge::default(),
        ),
    ];
    let handles: Vec<Gauge> = gauges.iter().map(|(_, _, g)| g.clone()).collect();
    let metrics = Metrics::new(|registry| {
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge);
        }
    });
    let mailer = mailer.clone();
    metrics.on_scrape(move || {
        let s = mailer.stats();
        for (gauge, value) in handles
            .iter()
            .zip([s.queued, s.rejected, s.sent, s.failed, s.retries, s.depth])
        {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    });
    metrics
}

/// `/metrics` alone on its own address, for a scraper inside the network. It follows the main
/// listener: started before it, stopped after it.
fn metrics_server(
    state: AppState,
    addr: std::net::SocketAddr,
) -> anyhow::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .configure(auth_http::configure_metrics(state.clone()))
            .default_service(web::to(auth_http::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)
    .with_context(|| format!("cannot listen on server.metrics_bind {addr}"))?;
    for a in server.addrs() {
        tracing::info!("metrics on http://{a}/metrics");
    }
    Ok(server.run())
}

/// Serves until SIGINT or SIGTERM, then drains in-flight requests and the mail queue.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    ensure_data_dir(&settings)?;
    let secrets = secrets::load_or_create(&settings)?;
    let stores = stores(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let mail_config = MailConfig::new(
        &settings.mail.from,
        &settings.server.public_url,
        &settings.mail.product_name,
    )
    .context("invalid mail settings")?;
    let transport = mail_transport(&settings)?
        .build()
        .context("invalid mail transport")?;
    let queue_config = QueueConfig {
        capacity: settings.mail.queue_capacity,
        // As many mails in flight as relay connections, so that every connection is used.
        concurrency: settings.mail.smtp_connections as usize,
        ..QueueConfig::default()
    };
    let mailer = Arc::new(
        MailQueue::start(Renderer::new(mail_config), transport, queue_config)
            .context("cannot start the mail queue")?,
    );

    let tokens = JwtIssuer::new(
        &settings.issuer(),
        &settings.tokens.audience,
        secrets.current,
        secrets.older,
        &secrets.attempt_key,
    )
    .context("invalid token settings")?
    .with_clock(clock.clone());
    let webauthn = WebAuthnAdapter::new(RelyingParty {
        id: settings.rp_id()?,
        origin: settings.public_origin()?,
        name: settings.mail.product_name.clone(),
        attachment: if settings.webauthn.platform_only {
            Attachment::PlatformOnly
        } else {
            Attachment::PreferPlatform
        },
        browser_timeout: settings.policy.browser_timeout(),
    })
    .context("invalid WebAuthn settings")?;
    spawn_purge(&stores.database, settings.policy.retention());
    let audit = QueuedAudit::start(stores.audit, AUDIT_QUEUE_CAPACITY);
    let ports = Ports {
        users: stores.users,
        sessions: stores.sessions,
        audit: audit.clone(),
        passkeys: stores.passkeys,
        reverts: stores.reverts,
        attempts: stores.attempts,
        limiter: stores.limiter,
        ceremonies: stores.ceremonies,
        webauthn: Arc::new(webauthn),
        mailer: mailer.clone(),
        tokens: Arc::new(tokens),
        clock,
        rng: Arc::new(OsRng),
    };
    let service = AuthService::new(ports, settings.policy.clone(), &secrets.pepper)
        .context("invalid policy")?;
    let metrics_addr = settings.metrics_addr()?;
    let http = HttpConfig {
        public_origin: settings.public_origin()?,
        trusted_proxies: settings.trusted_proxies()?,
        v6_prefix: settings.server.ipv6_prefix,
        max_body_bytes: settings.server.max_body_bytes,
        body_timeout: settings.server.body_timeout,
        metrics_on_api: metrics_addr.is_none(),
    };
    let metrics = Arc::new(mail_metrics(&mailer));
    let state = AppState {
        service: Arc::new(service),
        config: Arc::new(http.clone()),
        health: Arc::new(stores.health),
        metrics,
    };

    let metrics_server = match metrics_addr {
        Some(addr) => Some(metrics_server(state.clone(), addr)?),
        None => None,
    };
    let timeout = settings.server.body_timeout;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(auth_http::security_headers(&http))
            .wrap(actix_web::middleware::from_fn(auth_http::observe))
            .configure(auth_http::configure(state.clone()))
            .default_service(web::to(auth_http::not_found))
    })
    // A client gets `body_timeout` for the request head, and as long again for the body
    // (`JsonBody` enforces that one); a connection that stops sending is closed, not held.
    .client_request_timeout(timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(30);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server
        .bind(settings.bind_addr()?)
        .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
    for addr in server.addrs() {
        // Tests and operators read the real port from this line (the configured one may be 0).
        tracing::info!("listening on http://{addr}");
    }
    let metrics_handle = metrics_server.map(|m| {
        let handle = m.handle();
        actix_web::rt::spawn(m);
        handle
    });
    let served = server.run().await;
    if let Some(handle) = metrics_handle {
        handle.stop(true).await;
    }
    served.context("the HTTP server failed")?;
    tracing::info!("draining the mail queue");
    if mailer.shutdown(Duration::from_secs(10)).await.is_err() {
        tracing::warn!("mail still queued at shutdown was dropped");
    }
    if audit.shutdown(Duration::from_secs(5)).await.is_err() {
        tracing::warn!("audit events still queued at shutdown were dropped");
    }
    stores.database.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        for (url, file) in [
            ("sqlite://data/auth.db", Some("data/auth.db")),
            ("sqlite:data/auth.db", Some("data/auth.db")),
            (
                "sqlite:///var/lib/auth/auth.db?mode=rwc",
                Some("/var/lib/auth/auth.db"),
            ),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
            ("postgres://db/auth", None),
        ] {
            assert_eq!(
                sqlite_file(url),
                file.map(std::path::PathBuf::from),
                "{url}"
            );
        }
    }
}
