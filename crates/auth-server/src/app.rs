//! The composition root: picks adapters from the validated settings, wires them into the service,
//! binds the listeners and hands back a future that serves ([`Application`], the shape of
//! zero2prod's `startup.rs`).

use crate::audit::QueuedAudit;
use crate::config::{Config, DatabaseUrl, MailTransport};
use crate::secrets;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use auth_core::AuthService;
use auth_core::ports::{
    AttemptGate, AttemptStore, AuditLog, AuthorizationCodeStore, CeremonyStore, Clock,
    ConsentStore, EmailRevertStore, HealthCheck, Housekeeping, OsRng, PasskeyRepository,
    RateLimiter, Retention, SessionRepository, SystemClock, UserRepository,
};
use auth_core::service::{OidcProvider, Ports};
use auth_http::{AppState, HttpConfig, Metrics};
use auth_jwt::{IdTokens, JwtIssuer};
use auth_memory::MemoryStore;
use auth_postgres::PgStore;
use auth_redis::RedisStore;
use auth_smtp::{MailQueue, QueueConfig, SmtpPassword, TransportConfig};
use auth_sqlite::SqliteStore;
use auth_webauthn::WebAuthnAdapter;
use prometheus_client::metrics::gauge::Gauge;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Audit events that may wait for the background writer (see [`QueuedAudit`]).
const AUDIT_QUEUE_CAPACITY: usize = 10_000;

/// Creates the data directory (owner-only) if it is missing.
fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
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
enum Database {
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
                        .context("cannot open the SQLite database")?,
                )
            }
            DatabaseUrl::Postgres(url) => Database::Postgres(
                PgStore::connect(url.expose(), config.max_connections)
                    .await
                    .context("cannot reach PostgreSQL")?,
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

    async fn close(&self) {
        match self {
            Database::Sqlite(db) => db.close().await,
            Database::Postgres(db) => db.close().await,
        }
    }
}

/// The transport the settings chose; the relay's password is read from its file here.
fn mail_transport(config: &Config) -> anyhow::Result<TransportConfig> {
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
struct Stores {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    audit: Arc<dyn AuditLog>,
    passkeys: Arc<dyn PasskeyRepository>,
    reverts: Arc<dyn EmailRevertStore>,
    attempts: Arc<dyn AttemptStore>,
    limiter: Arc<dyn RateLimiter>,
    gate: Arc<dyn AttemptGate>,
    ceremonies: Arc<dyn CeremonyStore>,
    codes: Arc<dyn AuthorizationCodeStore>,
    consents: Arc<dyn ConsentStore>,
    health: Vec<Arc<dyn HealthCheck>>,
    database: Database,
}

/// Durable state in the database. Ephemeral state in Redis if configured; else in PostgreSQL
/// (still shared by every node); else, with SQLite on one node, in process.
async fn stores(config: &Config) -> anyhow::Result<Stores> {
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

/// `/metrics` alone on its own listener, for a scraper inside the network. It follows the main
/// listener: started before it, stopped after it.
fn metrics_server(
    state: AppState,
    listener: TcpListener,
) -> anyhow::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .configure(auth_http::configure_metrics(state.clone()))
            .default_service(web::to(auth_http::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .context("cannot serve on server.metrics_bind")?;
    Ok(server.run())
}

/// Binds `addr` now, so that a taken address stops the start before anything else happens.
fn listen(addr: SocketAddr, setting: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen on {setting} {addr}"))?;
    let bound = listener.local_addr().context("the bound address")?;
    Ok((listener, bound))
}

/// The service, wired and listening, not yet serving: [`Application::address`] says where it
/// listens (the configured port may be 0), [`Application::run_until_stopped`] serves.
pub struct Application {
    address: SocketAddr,
    metrics_address: Option<SocketAddr>,
    server: actix_web::dev::Server,
    metrics: Option<actix_web::dev::Server>,
    mailer: Arc<MailQueue>,
    audit: Arc<QueuedAudit>,
    database: Database,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .field("metrics_address", &self.metrics_address)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the listeners, opens the stores, starts the mail queue, then loads (or on first start
    /// generates) the secrets and wires the service. Everything that can fail for a reason other
    /// than the secrets happens before them, so a failed start leaves no generated secret behind.
    /// Must run inside an actix system (`actix_web::rt::System`): it spawns background tasks.
    ///
    /// # Errors
    /// A listener that cannot bind, a store that cannot be reached, a mail transport that cannot
    /// start, or a secret that cannot be read or written.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        ensure_data_dir(&config.data_dir)?;
        let (listener, address) = listen(config.bind, "server.bind")?;
        let metrics_listener = config
            .metrics_bind
            .map(|addr| listen(addr, "server.metrics_bind"))
            .transpose()?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);

        let transport = mail_transport(&config)?
            .build()
            .context("invalid mail transport")?;
        let queue_config = QueueConfig {
            capacity: config.mail.queue_capacity,
            // As many mails in flight as relay connections, so that every connection is used.
            concurrency: config.mail.smtp_connections as usize,
            ..QueueConfig::default()
        };
        let mailer = Arc::new(
            MailQueue::start(config.mail.ui.renderer.clone(), transport, queue_config)
                .context("cannot start the mail queue")?,
        );
        let webauthn = WebAuthnAdapter::new(config.relying_party.clone())
            .context("invalid WebAuthn settings")?;
        let stores = stores(&config).await?;
        let secrets = secrets::load_or_create(&config.secrets)?;

        let id_tokens = IdTokens::new(
            &config.public_url,
            &secrets.current,
            config.oidc.rsa.clone(),
        )
        .context("invalid signing key")?;
        let mut tokens = JwtIssuer::new(
            &config.issuer,
            &config.audience,
            secrets.current,
            secrets.older,
            &secrets.attempt_key,
        )
        .context("invalid token settings")?
        .with_clock(clock.clone());
        if let Some(jwk) = id_tokens.rsa_jwk() {
            tokens = tokens.with_published_key(jwk.clone());
        }
        spawn_purge(&stores.database, config.policy.retention());
        let audit = QueuedAudit::start(stores.audit, AUDIT_QUEUE_CAPACITY);
        let ports = Ports {
            users: stores.users,
            sessions: stores.sessions,
            audit: audit.clone(),
            passkeys: stores.passkeys,
            reverts: stores.reverts,
            attempts: stores.attempts,
            limiter: stores.limiter,
            gate: stores.gate,
            ceremonies: stores.ceremonies,
            webauthn: Arc::new(webauthn),
            mailer: mailer.clone(),
            tokens: Arc::new(tokens),
            clock,
            rng: Arc::new(OsRng),
        };
        let service = Arc::new(
            AuthService::new(ports, config.policy.clone(), &secrets.pepper)
                .context("invalid policy")?,
        );
        // The provider's endpoints exist only when clients are configured.
        let oidc = (!config.oidc.registry.is_empty()).then(|| {
            Arc::new(OidcProvider::new(
                service.clone(),
                config.oidc.registry.clone(),
                stores.codes.clone(),
                stores.consents.clone(),
                Arc::new(id_tokens),
                &config.public_url,
            ))
        });
        let http = HttpConfig {
            public_origin: config.public_origin.as_str().to_owned(),
            trusted_proxies: config.trusted_proxies.clone(),
            v6_prefix: config.ipv6_prefix,
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            metrics_on_api: metrics_listener.is_none(),
            ui: config.mail.ui.page.clone(),
            return_origins: config.allowed_return_origins.clone(),
            cors_origins: config.cors_origins.clone(),
        };
        let state = AppState {
            oidc,
            service,
            config: Arc::new(http.clone()),
            health: Arc::new(stores.health),
            metrics: Arc::new(mail_metrics(&mailer)),
        };

        let (metrics, metrics_address) = match metrics_listener {
            Some((listener, addr)) => (Some(metrics_server(state.clone(), listener)?), Some(addr)),
            None => (None, None),
        };
        let timeout = config.body_timeout;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(auth_http::security_headers(&http))
                .wrap(actix_web::middleware::from_fn(auth_http::cors))
                .wrap(actix_web::middleware::from_fn(auth_http::observe))
                .configure(auth_http::configure(state.clone()))
                .default_service(web::to(auth_http::not_found))
        })
        // A client gets `body_timeout` for the request head, and as long again for the body
        // (`JsonBody` enforces that one); a connection that stops sending is closed, not held.
        .client_request_timeout(timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(30);
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        let server = server
            .listen(listener)
            .with_context(|| format!("cannot serve on server.bind {address}"))?
            .run();
        if let Some(addr) = metrics_address {
            tracing::info!("metrics on http://{addr}/metrics");
        }
        // Tests and operators read the real port from this line (the configured one may be 0).
        tracing::info!("listening on http://{address}");
        // Passkeys and cookie-authenticated changes work only at the public URL, which may not
        // be the bound address (`localhost` versus `127.0.0.1`): say which one to open.
        tracing::info!("open {} in a browser", config.public_url);
        Ok(Self {
            address,
            metrics_address,
            server,
            metrics,
            mailer,
            audit,
            database: stores.database,
        })
    }

    /// Where the API listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where `/metrics` listens, when it has a listener of its own.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// A handle that stops the API listener (as SIGINT or SIGTERM do).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT, SIGTERM or [`Application::handle`] stops it, then drains in-flight
    /// requests and the mail and audit queues.
    ///
    /// # Errors
    /// The HTTP server failing.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let metrics_handle = self.metrics.map(|m| {
            let handle = m.handle();
            actix_web::rt::spawn(m);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        served.context("the HTTP server failed")?;
        tracing::info!("draining the mail queue");
        if self.mailer.shutdown(Duration::from_secs(10)).await.is_err() {
            tracing::warn!("mail still queued at shutdown was dropped");
        }
        if self.audit.shutdown(Duration::from_secs(5)).await.is_err() {
            tracing::warn!("audit events still queued at shutdown were dropped");
        }
        self.database.close().await;
        Ok(())
    }
}
