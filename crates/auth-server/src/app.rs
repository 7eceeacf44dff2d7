//! The composition root: picks adapters from the settings, wires them into the service and serves.

use crate::config::Settings;
use crate::secrets;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use auth_core::ports::{Clock, HealthCheck, OsRng, SystemClock};
use auth_core::service::Ports;
use auth_core::AuthService;
use auth_http::{AppState, HttpConfig};
use auth_jwt::JwtIssuer;
use auth_memory::MemoryStore;
use auth_smtp::{MailConfig, MailQueue, QueueConfig, Renderer, SmtpConfig, SmtpPassword, TransportConfig};
use auth_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;

/// Creates the data directory (owner-only) if it is missing.
fn ensure_data_dir(settings: &Settings) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &settings.server.data_dir;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Opens the database and runs its migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    ensure_data_dir(settings)?;
    let db = SqliteStore::connect(&settings.database_url()).await.context("cannot open the database")?;
    db.migrate().await.context("migrations failed")?;
    tracing::info!("migrations applied");
    Ok(())
}

fn mail_transport(settings: &Settings) -> anyhow::Result<TransportConfig> {
    let m = &settings.mail;
    Ok(match &m.smtp_url {
        None => TransportConfig::Outbox { dir: settings.outbox_dir() },
        Some(url) => {
            let mut smtp = SmtpConfig::new(url.clone());
            smtp.username.clone_from(&m.smtp_username);
            if let Some(file) = &m.smtp_password_file {
                let password = std::fs::read_to_string(file).with_context(|| format!("cannot read mail.smtp_password_file {}", file.display()))?;
                smtp.password = Some(SmtpPassword::new(password.trim_end_matches(['\r', '\n'])));
            }
            TransportConfig::Smtp(smtp)
        }
    })
}

/// Serves until SIGINT or SIGTERM, then drains in-flight requests and the mail queue.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    ensure_data_dir(&settings)?;
    let secrets = secrets::load_or_create(&settings)?;
    let db = SqliteStore::connect(&settings.database_url()).await.context("cannot open the database")?;
    if settings.database.migrate_on_start {
        db.migrate().await.context("migrations failed")?;
    }
    let memory = MemoryStore::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let mail_config = MailConfig::new(&settings.mail.from, &settings.server.public_url, &settings.mail.product_name)
        .context("invalid mail settings")?;
    let transport = mail_transport(&settings)?.build().context("invalid mail transport")?;
    let queue_config = QueueConfig { capacity: settings.mail.queue_capacity, ..QueueConfig::default() };
    let mailer = Arc::new(MailQueue::start(Renderer::new(mail_config), transport, queue_config).context("cannot start the mail queue")?);

    let tokens = JwtIssuer::new(&settings.issuer(), &settings.tokens.audience, secrets.current, secrets.older, &secrets.attempt_key)
        .context("invalid token settings")?
        .with_clock(clock.clone());
    let db_arc = Arc::new(db.clone());
    let ports = Ports {
        users: db_arc.clone(),
        sessions: db_arc.clone(),
        audit: db_arc.clone(),
        attempts: Arc::new(memory.clone()),
        limiter: Arc::new(memory),
        mailer: mailer.clone(),
        tokens: Arc::new(tokens),
        clock,
        rng: Arc::new(OsRng),
    };
    let service = AuthService::new(ports, settings.policy.clone(), &secrets.pepper).context("invalid policy")?;
    let http = HttpConfig {
        public_origin: settings.public_origin()?,
        trusted_proxies: settings.server.trusted_proxies.clone(),
        max_body_bytes: settings.server.max_body_bytes,
    };
    let health: Vec<Arc<dyn HealthCheck>> = vec![db_arc];
    let state = AppState { service: Arc::new(service), config: Arc::new(http.clone()), health: Arc::new(health) };

    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(auth_http::security_headers(&http))
            .configure(auth_http::configure(state.clone()))
            .default_service(web::to(auth_http::not_found))
    })
    .shutdown_timeout(30);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server.bind(settings.bind_addr()?).with_context(|| format!("cannot listen on {}", settings.server.bind))?;
    for addr in server.addrs() {
        // Tests and operators read the real port from this line (the configured one may be 0).
        tracing::info!("listening on http://{addr}");
    }
    server.run().await.context("the HTTP server failed")?;
    tracing::info!("draining the mail queue");
    if mailer.shutdown(Duration::from_secs(10)).await.is_err() {
        tracing::warn!("mail still queued at shutdown was dropped");
    }
    db.close().await;
    Ok(())
}
