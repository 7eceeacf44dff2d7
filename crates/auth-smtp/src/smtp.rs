//! Delivery through an SMTP relay: connections this module opens itself, with `TCP_NODELAY`,
//! kept open and reused, spoken to with lettre's SMTP client; TLS through rustls.
//!
//! Why not lettre's pooled transport: it opens its sockets itself and leaves Nagle's algorithm on,
//! and its client writes a mail's body and the closing `.` line in two writes. The second write
//! then waits for the relay to acknowledge the first, which the relay's kernel delays by about
//! 40 ms, so every mail cost 40 ms per connection. Here every socket is ours and has
//! `TCP_NODELAY`, for plain, STARTTLS and implicit TLS alike; lettre gets it through
//! `AsyncSmtpConnection::connect_with_transport`.
//!
//! No `PIPELINING`: lettre's client writes each command and reads its answer before the next,
//! and offers no way to write several commands first. Without the stall a mail costs four round
//! trips (MAIL, RCPT, DATA, the message), well under a millisecond on a nearby relay.
//!
//! The URL forms and the TLS rules are documented on [`SmtpConfig`].

use crate::config::ConfigError;
use crate::transport::{DeliveryError, Outgoing, Transport};
use async_trait::async_trait;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use url::{Host, Url};

/// How to reach the relay. The relay is named by lettre's connection URL form
/// (`AsyncSmtpTransport::from_url`):
///
/// | URL                                  | connection                                  | default port |
/// |--------------------------------------|---------------------------------------------|--------------|
/// | `smtps://host:465`                   | implicit TLS (recommended)                  | 465          |
/// | `smtp://host:587?tls=required`       | STARTTLS, refused if the relay lacks it     | 587          |
/// | `smtp://host:587?tls=opportunistic`  | STARTTLS if offered (open to downgrade)     | 587          |
/// | `smtp://host:25`                     | plain, for a relay on the same host or net  | 25           |
///
/// A path names the EHLO host (`smtps://relay.example.com/mail.example.com`); without one the
/// machine's host name is used. Credentials are not accepted inside the URL, so the URL can be
/// logged: they go in [`SmtpConfig::username`] and [`SmtpConfig::password`], and only over
/// `smtps` or `tls=required`. Certificates are checked against the system's root store (slim
/// container images need their CA bundle installed).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The relay, in lettre's URL form (see above), without credentials.
    pub url: String,
    /// The user name, if the relay wants one.
    pub username: Option<String>,
    /// The password that goes with `username`.
    pub password: Option<SmtpPassword>,
    /// The limit for each step: connecting (with the TLS handshake, greeting and EHLO),
    /// STARTTLS, AUTH, and sending one mail. Default 10 seconds.
    pub timeout: Duration,
    /// The most connections open to the relay at once, and so the most mails handed over at
    /// once. Default 8.
    pub max_connections: u32,
}

impl SmtpConfig {
    /// The default number of connections: enough to deliver thousands of mails a second to a
    /// relay on the same network, few enough for any relay's per-client limit.
    pub const DEFAULT_CONNECTIONS: u32 = 8;

    /// The relay at `url`, without credentials, with the default timeout and pool size.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            max_connections: Self::DEFAULT_CONNECTIONS,
        }
    }
}

/// The relay password. `Debug` never shows it and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password, for the relay and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SmtpPassword {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpPassword([redacted])")
    }
}

/// Delivers through an SMTP relay over at most [`SmtpConfig::max_connections`] connections.
/// Connects on the first mail, not at start; keeps each connection for the next mail; drops a
/// connection after any failure (a fresh one starts the next mail with a clean session), and
/// one that sat idle for a minute. A mail that fails on a reused connection (the relay may have
/// closed it meanwhile) is tried once more at once on a new one. Cheap to clone: clones share
/// the connections.
#[derive(Clone)]
pub struct SmtpRelay {
    shared: Arc<Relay>,
}

struct Relay {
    url: String,
    host: String,
    port: u16,
    hello: ClientId,
    security: Security,
    credentials: Option<Credentials>,
    timeout: Duration,
    /// One permit per connection that may be open: a connection is either held with a permit
    /// or idle, and a new one is opened only when none is idle, so never more than the limit.
    slots: Semaphore,
    idle: Mutex<Vec<Idle>>,
}

/// How a connection is secured, with what it needs, built once.
enum Security {
    Plain,
    StartTls {
        tls: TlsParameters,
        required: bool,
    },
    Implicit {
        connector: TlsConnector,
        name: ServerName<'static>,
    },
}

struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// How long a connection may sit unused and still be reused. Relays drop idle clients after a
/// few minutes (RFC 5321 asks for at least five); a minute keeps clear of that.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Which certificates a TLS relay is checked against.
enum Roots {
    /// The system's root store.
    System,
    /// Only these (tests, with their own CA).
    #[cfg(test)]
    Only(Vec<rustls::pki_types::CertificateDer<'static>>),
}

impl SmtpRelay {
    /// Checks `config` and sets up the relay; no connection is made yet. Must run inside a tokio
    /// runtime, like the queue that uses it.
    ///
    /// # Errors
    /// [`ConfigError::SmtpUrl`] or [`ConfigError::SmtpSetting`] for settings that cannot work,
    /// [`ConfigError::Smtp`] or [`ConfigError::Tls`] if the TLS set-up fails, and
    /// [`ConfigError::NoRuntime`] outside a tokio runtime.
    pub fn new(config: &SmtpConfig) -> Result<Self, ConfigError> {
        Self::build(config, Roots::System)
    }

    /// The same, checking TLS relays against `roots` only.
    #[cfg(test)]
    fn with_roots(
        config: &SmtpConfig,
        roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Result<Self, ConfigError> {
        Self::build(config, Roots::Only(roots))
    }

    fn build(config: &SmtpConfig, roots: Roots) -> Result<Self, ConfigError> {
        let endpoint = parse_url(&config.url)?;
        let credentials = match (&config.username, &config.password) {
            (None, None) => None,
            (Some(user), Some(password)) => {
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            _ => {
                return Err(ConfigError::SmtpSetting(
                    "a user name needs a password and a password needs a user name",
                ));
            }
        };
        if credentials.is_some() && !endpoint.mode.encrypted() {
            return Err(ConfigError::SmtpSetting(
                "credentials need an encrypted connection: use smtps:// or ?tls=required",
            ));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::SmtpSetting(
                "the timeout must be longer than zero",
            ));
        }
        if config.max_connections == 0 {
            return Err(ConfigError::SmtpSetting(
                "at least one connection is needed",
            ));
        }
        // Deliveries need tokio's sockets and timer: fail at start, as the queue does, rather
        // than at the first mail.
        tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let security = match endpoint.mode {
            Mode::Plain => Security::Plain,
            Mode::StartTls { required } => Security::StartTls {
                tls: starttls_parameters(&endpoint.host, &roots)?,
                required,
            },
            Mode::Implicit => Security::Implicit {
                connector: TlsConnector::from(Arc::new(tls_client(roots)?)),
                name: ServerName::try_from(endpoint.host.clone()).map_err(|_| {
                    ConfigError::SmtpUrl("the host is not a valid name for TLS".to_owned())
                })?,
            },
        };
        let slots = usize::try_from(config.max_connections).unwrap_or(usize::MAX);
        Ok(Self {
            shared: Arc::new(Relay {
                url: config.url.clone(),
                host: endpoint.host,
                port: endpoint.port,
                hello: endpoint
                    .hello
                    .map_or_else(ClientId::default, ClientId::Domain),
                security,
                credentials,
                timeout: config.timeout,
                slots: Semaphore::new(slots.min(Semaphore::MAX_PERMITS)),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }
}

/// lettre's TLS settings for STARTTLS (rustls with ring, the given roots).
fn starttls_parameters(host: &str, roots: &Roots) -> Result<TlsParameters, ConfigError> {
    match roots {
        Roots::System => TlsParameters::new(host.to_owned()).map_err(ConfigError::Smtp),
        #[cfg(test)]
        Roots::Only(certs) => {
            use lettre::transport::smtp::client::{Certificate, CertificateStore};
            let mut builder =
                TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::None);
            for cert in certs {
                builder = builder.add_root_certificate(
                    Certificate::from_der(cert.to_vec()).map_err(ConfigError::Smtp)?,
                );
            }
            builder.build_rustls().map_err(ConfigError::Smtp)
        }
    }
}

/// The rustls client for implicit TLS: ring, TLS 1.2 and 1.3, the given roots, as lettre sets
/// up its own.
fn tls_client(roots: Roots) -> Result<rustls::ClientConfig, ConfigError> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "no root certificates found in the system store: TLS to the mail relay will fail"
                );
            }
        }
        #[cfg(test)]
        Roots::Only(certs) => {
            store.add_parsable_certificates(certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Tls)?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// What the URL says, once checked.
#[derive(Debug)]
struct Endpoint {
    host: String,
    port: u16,
    mode: Mode,
    hello: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    StartTls { required: bool },
    Implicit,
}

impl Mode {
    /// Whether the connection is sure to be encrypted before anything is sent.
    fn encrypted(self) -> bool {
        matches!(self, Mode::Implicit | Mode::StartTls { required: true })
    }
}

/// Checks the URL (refusing what lettre's form would silently ignore) and takes it apart.
fn parse_url(input: &str) -> Result<Endpoint, ConfigError> {
    let bad = |why: &str| ConfigError::SmtpUrl(why.to_owned());
    let url = Url::parse(input).map_err(|e| ConfigError::SmtpUrl(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the url: use the username and password settings",
        ));
    }
    let host = match url.host() {
        Some(Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(bad("a host is required")),
    };
    if url.fragment().is_some() {
        return Err(bad("a fragment does not belong in it"));
    }
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), tls) {
            ("tls", None) => tls = Some(value.into_owned()),
            _ => {
                return Err(bad(
                    "the only parameter is a single tls=required or tls=opportunistic",
                ));
            }
        }
    }
    let (mode, default_port) = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => (Mode::Implicit, 465),
        ("smtps", Some(_)) => return Err(bad("smtps is always encrypted: drop the tls parameter")),
        ("smtp", None) => (Mode::Plain, 25),
        ("smtp", Some("opportunistic")) => (Mode::StartTls { required: false }, 587),
        ("smtp", Some("required")) => (Mode::StartTls { required: true }, 587),
        ("smtp", Some(_)) => return Err(bad("tls must be required or opportunistic")),
        _ => return Err(bad("the scheme must be smtp or smtps")),
    };
    let hello = Some(url.path().trim_matches('/'))
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    Ok(Endpoint {
        host,
        port: url.port().unwrap_or(default_port),
        mode,
        hello,
    })
}

#[async_trait]
impl Transport for SmtpRelay {
    async fn deliver(&self, mail: &Outgoing) -> Result<(), DeliveryError> {
        let relay = &*self.shared;
        let _slot = relay
            .slots
            .acquire()
            .await
            .map_err(|_| DeliveryError::transient("the relay connections are closed"))?;
        if let Some(mut connection) = relay.take_idle() {
            match relay.send(&mut connection, mail).await {
                Ok(()) => {
                    relay.park(connection);
                    return Ok(());
                }
                Err(e) if e.is_permanent() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "a reused relay connection failed; trying a new one");
                }
            }
        }
        let mut connection = relay.connect().await?;
        relay.send(&mut connection, mail).await?;
        relay.park(connection);
        Ok(())
    }
}

impl Relay {
    /// The most recently used idle connection that is not too old; older ones are dropped.
    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(parked) = idle.pop() {
            if parked.since.elapsed() < IDLE_LIMIT {
                return Some(parked.connection);
            }
        }
        None
    }

    /// Keeps a connection for the next mail. Only healthy ones come here: after any failure the
    /// caller drops the connection (lettre has sent QUIT where the session allowed it).
    fn park(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Idle {
                connection,
                since: Instant::now(),
            });
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, TLS first for `smtps`, the greeting and EHLO,
    /// STARTTLS (EHLO again) when required or offered to `opportunistic`, then AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let tcp = within(self.timeout, "connecting", async {
            TcpStream::connect((self.host.as_str(), self.port)).await
        })
        .await?;
        tcp.set_nodelay(true)
            .map_err(|e| DeliveryError::transient(format!("cannot set TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::Implicit { connector, name } => Box::new(TlsSocket(
                within(
                    self.timeout,
                    "the TLS handshake",
                    connector.connect(name.clone(), tcp),
                )
                .await?,
            )),
            Security::Plain | Security::StartTls { .. } => Box::new(tcp),
        };
        let mut connection = step(
            self.timeout,
            "the greeting",
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await?;
        if let Security::StartTls { tls, required } = &self.security
            && (*required || connection.can_starttls())
        {
            step(
                self.timeout,
                "STARTTLS",
                connection.starttls(tls.clone(), &self.hello),
            )
            .await?;
        }
        if let Some(credentials) = &self.credentials {
            step(
                self.timeout,
                "AUTH",
                connection.auth(DEFAULT_MECHANISMS, credentials),
            )
            .await?;
        }
        Ok(connection)
    }

    /// Hands one mail over: MAIL, RCPT, DATA, the message.
    async fn send(
        &self,
        connection: &mut AsyncSmtpConnection,
        mail: &Outgoing,
    ) -> Result<(), DeliveryError> {
        step(
            self.timeout,
            "sending",
            connection.send(mail.envelope(), mail.formatted()),
        )
        .await
        .map(drop)
    }
}

/// Runs one I/O step within `limit`; every failure is transient.
async fn within<T>(
    limit: Duration,
    what: &str,
    step: impl Future<Output = io::Result<T>>,
) -> Result<T, DeliveryError> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(DeliveryError::transient(format!("{what} failed: {e}"))),
        Err(_) => Err(timed_out(limit, what)),
    }
}

/// Runs one SMTP step within `limit`; the relay's 5xx answers are permanent failures.
async fn step<T>(
    limit: Duration,
    what: &str,
    step: impl Future<Output = Result<T, SmtpError>>,
) -> Result<T, DeliveryError> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.is_permanent() => Err(DeliveryError::permanent(e)),
        Ok(Err(e)) => Err(DeliveryError::transient(e)),
        Err(_) => Err(timed_out(limit, what)),
    }
}

fn timed_out(limit: Duration, what: &str) -> DeliveryError {
    DeliveryError::transient(format!(
        "the relay did not answer within {} ms ({what})",
        limit.as_millis()
    ))
}

/// A TLS stream over our own socket, in the form lettre takes a connection: for `smtps`, where
/// TLS comes before the greeting.
struct TlsSocket(TlsStream<TcpStream>);

impl AsyncRead for TlsSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsSocket {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl fmt::Debug for TlsSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TlsSocket").field(&self.peer_addr()).finish()
    }
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let relay = &*self.shared;
        f.debug_struct("SmtpRelay")
            .field("url", &relay.url)
            .field("authenticated", &relay.credentials.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod sink;
#[cfg(test)]
mod tests;
