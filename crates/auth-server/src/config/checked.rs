//! Settings after validation: every string parsed once into the type the wiring uses (addresses,
//! the normalised public origin, the database kind, address blocks, the mail sender and relay,
//! where each secret comes from), with derived values filled in. Wiring reads these and never
//! parses again. URLs that may carry a password are [`Redacted`], so `Debug` never shows them.

use auth_core::Policy;
use auth_core::net::IpNet;
use auth_smtp::{ConfigError, MailConfig, SmtpConfig, TransportConfig};
use auth_webauthn::RelyingParty;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that `Debug` (and so every log line and error that formats it) never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `url` with the password of its user info (`scheme://user:password@host`) replaced, so that it
/// can be shown.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The public origin, as browsers write it in `Origin` (see `auth_http::normalise_origin`):
/// `https://` anywhere, `http://` only on this machine, where browsers treat it as secure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    origin: String,
    host: String,
}

impl PublicOrigin {
    /// Normalises `url` and refuses what passkeys and `__Host-` cookies cannot work with.
    pub fn parse(url: &str) -> Result<Self, &'static str> {
        let origin = auth_http::normalise_origin(url)
            .ok_or("must be an origin like https://auth.example.com (no path)")?;
        let (scheme, authority) = origin.split_once("://").unwrap_or_default();
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(h, _)| h)
            .to_owned();
        if scheme == "http" && !is_loopback(&host) {
            return Err(
                "must be https:// (passkeys and __Host- cookies need a secure origin); http:// is only for localhost",
            );
        }
        Ok(Self { origin, host })
    }

    /// Origins of other apps (`server.allowed_return_origins`, `server.cors_origins`), held to
    /// the same rules and normalised the same way; the error names `key` and the value.
    pub fn list(values: &[String], key: &str) -> anyhow::Result<Vec<String>> {
        values
            .iter()
            .map(|v| {
                Self::parse(v)
                    .map(|o| o.origin)
                    .map_err(|why| anyhow::anyhow!("{key}: {v:?} {why}"))
            })
            .collect()
    }

    /// `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// The host, without the port (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// Hosts that browsers treat as secure contexts over plain HTTP.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `host:port`, or `:port` for the loopback address (so `:0` picks a free port on it).
pub fn parse_listen(value: &str) -> Option<SocketAddr> {
    match value.strip_prefix(':') {
        Some(port) => Some(SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            port.parse::<u16>().ok()?,
        ))),
        None => value.parse().ok(),
    }
}

/// The durable store, told apart once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite URL, and its file (`None` for an in-memory database).
    Sqlite {
        /// `sqlite://...` or `sqlite:...`, as given.
        url: String,
        /// The database file.
        file: Option<PathBuf>,
    },
    /// A PostgreSQL URL; it may carry a password.
    Postgres(Redacted<String>),
}

impl DatabaseUrl {
    /// Tells the kind from the scheme.
    pub fn parse(url: &str) -> Option<Self> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            let file = (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path));
            return Some(DatabaseUrl::Sqlite {
                url: url.to_owned(),
                file,
            });
        }
        (url.starts_with("postgres://") || url.starts_with("postgresql://"))
            .then(|| DatabaseUrl::Postgres(Redacted::new(url.to_owned())))
    }

    /// The URL, its password replaced.
    pub fn shown(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { url, .. } => url.clone(),
            DatabaseUrl::Postgres(url) => without_password(url.expose()),
        }
    }
}

/// Where a secret comes from: a configured file that must exist, or the default path in the data
/// directory, where it is generated on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretPath {
    /// Configured under `setting`; never generated.
    Configured {
        /// The setting that named it, for error messages.
        setting: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The default in the data directory; generated if missing.
    Default(PathBuf),
}

impl SecretPath {
    /// The path, wherever it came from.
    pub fn path(&self) -> &Path {
        match self {
            SecretPath::Configured { path, .. } | SecretPath::Default(path) => path,
        }
    }
}

/// Where every secret lives.
#[derive(Debug, Clone)]
pub struct SecretPaths {
    /// The code pepper.
    pub pepper: SecretPath,
    /// The attempt-token key.
    pub attempt_key: SecretPath,
    /// The directory of signing keys.
    pub signing_keys: SecretPath,
}

/// How mail leaves.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `.eml` files in a directory.
    Outbox(PathBuf),
    /// An SMTP relay (its URL carries no credentials: the relay refuses them there); the password
    /// is read from its file when serving starts.
    Smtp {
        /// The relay, with the user name and without the password.
        relay: SmtpConfig,
        /// The file holding the password.
        password_file: Option<PathBuf>,
    },
}

/// Outgoing mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The sender, the public URL links use and the product name.
    pub sender: MailConfig,
    /// The page's and the mail's branding and catalogs, and the renderer built from them.
    pub ui: super::ui::UiConfig,
    /// How mail leaves.
    pub transport: MailTransport,
    /// How many mails may wait.
    pub queue_capacity: usize,
    /// Connections to the relay, and so mails delivered at once.
    pub smtp_connections: u32,
}

/// Shared ephemeral storage.
#[derive(Debug, Clone)]
pub struct Redis {
    /// `redis://...`; it may carry a password.
    pub url: Redacted<String>,
    /// Prefix of every key.
    pub key_prefix: String,
}

/// The log's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// The validated settings: what `serve`, `migrate` and `keys` run on.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API listener.
    pub bind: SocketAddr,
    /// The separate `/metrics` listener, if any.
    pub metrics_bind: Option<SocketAddr>,
    /// The public origin (CSRF origin and WebAuthn origin).
    pub public_origin: PublicOrigin,
    /// The public URL as configured, without a trailing slash (the default issuer).
    pub public_url: String,
    /// Origins the page may return to after a sign-in, normalised.
    pub allowed_return_origins: Vec<String>,
    /// Origins allowed to call the JSON API with bearer tokens (CORS), normalised.
    pub cors_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is trusted.
    pub trusted_proxies: Vec<IpNet>,
    /// Leading bits of an IPv6 address that make one client network.
    pub ipv6_prefix: u8,
    /// How long a client may take to send a request's head, and its body.
    pub body_timeout: Duration,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
    /// The durable store.
    pub database: DatabaseUrl,
    /// Most connections per node (PostgreSQL).
    pub max_connections: u32,
    /// Run pending migrations when serving starts.
    pub migrate_on_start: bool,
    /// Shared ephemeral storage, if configured.
    pub redis: Option<Redis>,
    /// Outgoing mail.
    pub mail: Mail,
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// The WebAuthn relying party.
    pub relying_party: RelyingParty,
    /// Where secrets come from.
    pub secrets: SecretPaths,
    /// The log's shape.
    pub log_format: LogFormat,
    /// The log filter (`RUST_LOG` wins).
    pub log_filter: String,
    /// The rules' numbers.
    pub policy: Policy,
    /// The OpenID Connect clients and the RS256 key.
    pub oidc: super::oidc::OidcConfig,
    /// The webhook endpoints and their delivery timing.
    pub webhooks: super::webhooks::WebhookConfig,
    /// The admin API's listener and tokens.
    pub admin: super::admin::AdminConfig,
}

/// A figment error as one line naming the key (without figment's profile prefix) and where the
/// value came from.
pub(super) fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let mut line = if key.is_empty() {
                e.kind.to_string()
            } else {
                format!("{key}: {}", e.kind)
            };
            if let Some(md) = &e.metadata {
                match &md.source {
                    Some(source) => line.push_str(&format!(" (in {source})")),
                    None => line.push_str(&format!(" (in {})", md.name)),
                }
            }
            line.lines().map(str::trim).collect::<Vec<_>>().join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds the relay the way serving will, in a throw-away runtime (the relay wants one, though it
/// connects only on the first mail), to refuse what serving would refuse.
pub(super) fn check_relay(relay: &SmtpConfig) -> Result<(), ConfigError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ConfigError::Outbox)?;
    let _inside = runtime.enter();
    TransportConfig::Smtp(relay.clone()).build().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            without_password("postgres://auth:s3cret@db:5432/auth?sslmode=require"),
            "postgres://auth:[redacted]@db:5432/auth?sslmode=require"
        );
        assert_eq!(
            without_password("redis://:s3cret@cache:6379/0"),
            "redis://:[redacted]@cache:6379/0"
        );
        assert_eq!(
            without_password("postgres://auth@db/auth"),
            "postgres://auth@db/auth"
        );
        let url = DatabaseUrl::parse("postgres://auth:s3cret@db/auth").unwrap();
        assert!(!format!("{url:?}").contains("s3cret"), "{url:?}");
        assert!(!url.shown().contains("s3cret"));
    }

    #[test]
    fn the_database_kind_is_told_once_from_the_scheme() {
        for (url, file) in [
            ("sqlite://data/auth.db", Some("data/auth.db")),
            ("sqlite:data/auth.db", Some("data/auth.db")),
            (
                "sqlite:///var/lib/auth/auth.db?mode=rwc",
                Some("/var/lib/auth/auth.db"),
            ),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
        ] {
            assert_eq!(
                DatabaseUrl::parse(url),
                Some(DatabaseUrl::Sqlite {
                    url: url.to_owned(),
                    file: file.map(PathBuf::from)
                }),
                "{url}"
            );
        }
        assert!(matches!(
            DatabaseUrl::parse("postgresql://db/auth"),
            Some(DatabaseUrl::Postgres(_))
        ));
        assert_eq!(DatabaseUrl::parse("mysql://db/auth"), None);
    }

    #[test]
    fn plain_http_origins_are_only_for_this_machine() {
        for ok in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://app.localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "https://auth.example.com",
        ] {
            assert!(PublicOrigin::parse(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://auth.example.com",
            "http://10.0.0.5:8080",
            "http://localhost.example.com",
        ] {
            assert!(PublicOrigin::parse(refused).is_err(), "{refused}");
        }
        let o = PublicOrigin::parse("HTTPS://Auth.Example.COM:443/").unwrap();
        assert_eq!(o.as_str(), "https://auth.example.com");
        assert_eq!(o.host(), "auth.example.com");
    }

    #[test]
    fn a_bare_port_listens_on_loopback() {
        assert_eq!(parse_listen(":0"), Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(
            parse_listen(":8080"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_listen("0.0.0.0:80"),
            Some("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(parse_listen("[::]:80"), Some("[::]:80".parse().unwrap()));
        assert_eq!(parse_listen("localhost"), None);
        assert_eq!(parse_listen(":http"), None);
    }
}
