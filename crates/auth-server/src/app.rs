//! The composition root: picks adapters from the validated settings, wires them into the service,
//! binds the listeners and hands back a future that serves ([`Application`], the shape of
//! zero2prod's `startup.rs`).

use crate::audit::QueuedAudit;
use crate::config::Config;
use crate::notices::Notices;
use crate::secrets;
use crate::webhooks::{self, Webhooks};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use auth_core::AuthService;
use auth_core::ports::{Clock, OsRng, SystemClock};
use auth_core::service::{OidcProvider, Ports};
use auth_http::{AppState, HttpConfig, Metrics};
use auth_jwt::{IdTokens, JwtIssuer};
use auth_smtp::{MailQueue, QueueConfig};
use auth_webauthn::WebAuthnAdapter;
use prometheus_client::metrics::gauge::Gauge;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

mod storage;

pub use storage::migrate;
use storage::spawn_purge;
pub(crate) use storage::{Database, ensure_data_dir, mail_transport, stores};

/// Audit events that may wait for the background writer (see [`QueuedAudit`]).
const AUDIT_QUEUE_CAPACITY: usize = 10_000;

/// The HTTP metrics plus the mail queue's and the webhooks' counters, copied in at every scrape.
fn server_metrics(mailer: &Arc<MailQueue>, hooks: Arc<webhooks::Stats>) -> Metrics {
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
    let hook_gauges: [(&str, &str, Gauge); 4] = [
        (
            "webhook_delivered",
            "Webhook deliveries an endpoint accepted",
            Gauge::default(),
        ),
        (
            "webhook_failed_attempts",
            "Webhook attempts that failed (to be retried)",
            Gauge::default(),
        ),
        (
            "webhook_given_up",
            "Webhook events given up after the retry window",
            Gauge::default(),
        ),
        (
            "webhook_pending",
            "Events waiting in the outbox",
            Gauge::default(),
        ),
    ];
    let hook_handles: Vec<Gauge> = hook_gauges.iter().map(|(_, _, g)| g.clone()).collect();
    let metrics = Metrics::new(|registry| {
        for (name, help, gauge) in gauges.into_iter().chain(hook_gauges) {
            registry.register(name, help, gauge);
        }
    });
    metrics.on_scrape(move || {
        let values = [
            &hooks.delivered,
            &hooks.failed_attempts,
            &hooks.given_up,
            &hooks.pending,
        ];
        for (gauge, value) in hook_handles.iter().zip(values) {
            let value = value.load(std::sync::atomic::Ordering::Relaxed);
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
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

/// The admin API alone on its own listener, for operators inside the network; like the metrics
/// listener, it follows the main one.
fn admin_server(
    state: auth_http::admin::AdminState,
    http: &HttpConfig,
    listener: TcpListener,
) -> anyhow::Result<actix_web::dev::Server> {
    let http = http.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(auth_http::security_headers(&http))
            .wrap(actix_web::middleware::from_fn(auth_http::observe))
            .configure(auth_http::admin::configure_admin(state.clone()))
            .default_service(web::to(auth_http::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)
    .context("cannot serve on server.admin_bind")?;
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
    admin_address: Option<SocketAddr>,
    admin: Option<actix_web::dev::Server>,
    mailer: Arc<MailQueue>,
    audit: Arc<QueuedAudit>,
    webhooks: Arc<Webhooks>,
    notices: Arc<Notices>,
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
        let admin_listener = config
            .admin
            .bind
            .map(|addr| listen(addr, "server.admin_bind"))
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
            MailQueue::start(
                config.mail.ui.renderer.clone(),
                transport.clone(),
                queue_config,
            )
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
        let webhooks = Arc::new(Webhooks::start(stores.outbox.clone(), &config.webhooks));
        let notices = Arc::new(Notices::start(
            stores.outbox.clone(),
            mailer.clone(),
            config.mail.ui.renderer.clone(),
            transport,
            config.webhooks.delivery.clone(),
        ));
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
            mailer: notices.mailer(),
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
            metrics: Arc::new(server_metrics(&mailer, webhooks.stats())),
        };

        let (metrics, metrics_address) = match metrics_listener {
            Some((listener, addr)) => (Some(metrics_server(state.clone(), listener)?), Some(addr)),
            None => (None, None),
        };
        let (admin, admin_address) = match admin_listener {
            Some((listener, addr)) => {
                let admin = auth_http::admin::AdminState {
                    service: state.service.clone(),
                    directory: stores.directory.clone(),
                    tokens: config.admin.tokens.clone(),
                };
                tracing::info!("admin API on http://{addr}/admin/v1/");
                (Some(admin_server(admin, &http, listener)?), Some(addr))
            }
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
            admin_address,
            admin,
            mailer,
            audit,
            webhooks,
            notices,
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

    /// Where the admin API listens, when `server.admin_bind` is set.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_address
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
        let admin_handle = self.admin.map(|a| {
            let handle = a.handle();
            actix_web::rt::spawn(a);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        if let Some(handle) = admin_handle {
            handle.stop(true).await;
        }
        served.context("the HTTP server failed")?;
        tracing::info!("finishing webhook deliveries in flight");
        self.webhooks.shutdown(Duration::from_secs(5)).await;
        self.notices.shutdown(Duration::from_secs(5)).await;
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
