//! Settings: built-in defaults, then a TOML file, then `AUTH_`-prefixed environment variables
//! (`AUTH_SERVER__BIND`, `AUTH_POLICY__CODE_TTL`, ...), validated into one typed struct. An invalid
//! setting is a one-line error at start-up.

use anyhow::{Context, bail};
use auth_core::Policy;
use auth_core::net::IpNet;
use auth_core::policy::duration_serde;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the server can be told.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener and public identity.
    pub server: ServerSettings,
    /// Durable storage.
    pub database: DatabaseSettings,
    /// Shared ephemeral storage.
    pub redis: RedisSettings,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Token identity.
    pub tokens: TokenSettings,
    /// Passkeys.
    pub webauthn: WebAuthnSettings,
    /// Where secrets come from.
    pub secrets: SecretSettings,
    /// Logging.
    pub log: LogSettings,
    /// The rules' numbers (code length and lifetime, guesses, rate limits, session lifetimes).
    pub policy: Policy,
}

/// HTTP listener and public identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// The public URL people and mail links use; its origin is the CSRF origin.
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` is trusted: addresses (`10.0.0.10`) or CIDR blocks
    /// (`10.0.0.0/8`, `2001:db8::/32`).
    pub trusted_proxies: Vec<String>,
    /// How many leading bits of an IPv6 address make one client network for the rate limits.
    pub ipv6_prefix: u8,
    /// A separate listen address for `/metrics`; when set, `/metrics` leaves the public listener.
    pub metrics_bind: Option<String>,
    /// How long a client may take to send a request's head, and its body.
    #[serde(with = "duration_serde")]
    pub body_timeout: Duration,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Where generated secrets, the SQLite database and the mail outbox live by default.
    pub data_dir: PathBuf,
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            public_url: "http://localhost:8080".to_owned(),
            trusted_proxies: Vec::new(),
            ipv6_prefix: auth_core::net::DEFAULT_V6_PREFIX,
            metrics_bind: None,
            body_timeout: Duration::from_secs(10),
            workers: 0,
            data_dir: PathBuf::from("data"),
            max_body_bytes: 16 * 1024,
        }
    }
}

/// Durable storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (default: `sqlite://<data_dir>/auth.db`) or `postgres://user@host/db`.
    pub url: Option<String>,
    /// Most connections per node (PostgreSQL).
    pub max_connections: u32,
    /// Run pending migrations when serving starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            migrate_on_start: true,
        }
    }
}

/// Shared ephemeral storage (attempts, rate limits, ceremonies) for several nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:6379/0`; unset keeps ephemeral state in the database (PostgreSQL) or in
    /// process (SQLite).
    pub url: Option<String>,
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "auth".to_owned(),
        }
    }
}

/// Outgoing mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The sender, e.g. `Example <no-reply@example.com>`.
    pub from: String,
    /// The product name used in mail.
    pub product_name: String,
    /// Where mail is written as `.eml` files when no SMTP relay is configured
    /// (default: `<data_dir>/outbox`).
    pub outbox_dir: Option<PathBuf>,
    /// How many mails may wait in the queue.
    pub queue_capacity: usize,
    /// Connections to the SMTP relay, and so mails delivered at once (1 to 64).
    pub smtp_connections: u32,
    /// An SMTP relay, e.g. `smtp://relay:25` (plain), `smtp://relay:587?tls=required` (STARTTLS)
    /// or `smtps://relay:465` (implicit TLS). Without it, mail goes to the outbox directory.
    pub smtp_url: Option<String>,
    /// The SMTP user name, if the relay wants one.
    pub smtp_username: Option<String>,
    /// A file holding the SMTP password.
    pub smtp_password_file: Option<PathBuf>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from: "Passwordless Auth <no-reply@localhost>".to_owned(),
            product_name: "Passwordless Auth".to_owned(),
            outbox_dir: None,
            queue_capacity: 10_000,
            smtp_connections: 8,
            smtp_url: None,
            smtp_username: None,
            smtp_password_file: None,
        }
    }
}

/// Token identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` of access tokens (default: the public URL).
    pub issuer: Option<String>,
    /// `aud` of access tokens.
    pub audience: String,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "auth".to_owned(),
        }
    }
}

/// Passkeys (WebAuthn relying party).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebAuthnSettings {
    /// The relying-party id: the public URL's host (default) or a parent domain of it.
    pub rp_id: Option<String>,
    /// Accept only platform authenticators (built into the device); by default security keys
    /// are allowed too, though platform ones are preferred.
    pub platform_only: bool,
}

/// Where secrets come from. Each is read from its file if set (and then the file must exist: it is
/// never generated, since nodes that each generated their own would not share it); if not set,
/// generated once into the data directory with owner-only permissions. Every node of one
/// deployment must share them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretSettings {
    /// File holding the code pepper (at least 32 bytes, base64).
    pub pepper_file: Option<PathBuf>,
    /// File holding the attempt-token key (at least 32 bytes, base64).
    pub attempt_key_file: Option<PathBuf>,
    /// Directory of Ed25519 signing keys (PKCS#8 PEM); the newest signs, all verify.
    pub signing_keys_dir: Option<PathBuf>,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `auth_core=debug,info`; `RUST_LOG` wins if set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            filter: "info".to_owned(),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if given, it must exist; else `auth.toml` if present), then the
    /// environment; then validated.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(f) if !f.exists() => bail!("configuration file {} does not exist", f.display()),
            Some(f) => fig = fig.merge(Toml::file(f)),
            None => fig = fig.merge(Toml::file("auth.toml")),
        }
        fig = fig.merge(Env::prefixed("AUTH_").split("__"));
        let settings: Settings = fig.extract().map_err(|e| anyhow::anyhow!(one_line(&e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.bind_addr()?;
        self.public_origin()?;
        self.rp_id()?;
        self.trusted_proxies()?;
        if let Some(metrics) = self.metrics_addr()?
            && metrics == self.bind_addr()?
            && metrics.port() != 0
        {
            bail!("server.metrics_bind must differ from server.bind");
        }
        if !(32..=128).contains(&self.server.ipv6_prefix) {
            bail!("server.ipv6_prefix must be between 32 and 128");
        }
        if self.server.body_timeout < Duration::from_secs(1)
            || self.server.body_timeout > Duration::from_secs(300)
        {
            bail!("server.body_timeout must be between 1s and 5m");
        }
        if self.server.max_body_bytes < 1024 || self.server.max_body_bytes > 1024 * 1024 {
            bail!("server.max_body_bytes must be between 1024 and 1048576");
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format must be text or json");
        }
        if let Some(url) = &self.database.url
            && !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            bail!("database.url must start with sqlite:, postgres:// or postgresql://");
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            bail!("database.max_connections must be between 1 and 1000");
        }
        // TLS to Redis is not built in yet: keep Redis on a private network.
        if let Some(url) = &self.redis.url
            && !url.starts_with("redis://")
        {
            bail!("redis.url must start with redis://");
        }
        if self.mail.queue_capacity == 0 {
            bail!("mail.queue_capacity must be above zero");
        }
        if !(1..=64).contains(&self.mail.smtp_connections) {
            bail!("mail.smtp_connections must be between 1 and 64");
        }
        if self.tokens.audience.trim().is_empty() {
            bail!("tokens.audience must not be empty");
        }
        self.policy
            .validate()
            .map_err(|e| anyhow::anyhow!("policy.{e}"))?;
        Ok(())
    }

    /// The listen address.
    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.bind.parse().with_context(|| {
            format!(
                "server.bind `{}` is not an address like 127.0.0.1:8080",
                self.server.bind
            )
        })
    }

    /// The separate metrics listen address, if any.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.server
            .metrics_bind
            .as_deref()
            .map(|m| {
                m.parse().with_context(|| {
                    format!("server.metrics_bind `{m}` is not an address like 127.0.0.1:9090")
                })
            })
            .transpose()
    }

    /// The trusted proxies as address blocks.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<IpNet>> {
        self.server
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))
            })
            .collect()
    }

    /// `scheme://host[:port]` of the public URL, as browsers write it in `Origin`: scheme and
    /// host lower-case, the default port dropped, no trailing slash. Compared byte for byte, any
    /// other spelling would refuse every cookie-authenticated change.
    pub fn public_origin(&self) -> anyhow::Result<String> {
        match auth_http::normalise_origin(&self.server.public_url) {
            Some(origin) => Ok(origin),
            None => {
                bail!("server.public_url must be an origin like https://auth.example.com (no path)")
            }
        }
    }

    /// The WebAuthn relying-party id: configured, or the public URL's host.
    pub fn rp_id(&self) -> anyhow::Result<String> {
        let origin = self.public_origin()?;
        let host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        match &self.webauthn.rp_id {
            None => Ok(host.to_owned()),
            Some(id) if host == id || host.ends_with(&format!(".{id}")) => Ok(id.clone()),
            Some(id) => bail!(
                "webauthn.rp_id `{id}` must be the public URL's host or a parent domain of it"
            ),
        }
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("auth.db").display()
            )
        })
    }

    /// The mail outbox directory.
    pub fn outbox_dir(&self) -> PathBuf {
        self.mail
            .outbox_dir
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("outbox"))
    }

    /// The access-token issuer.
    pub fn issuer(&self) -> String {
        self.tokens
            .issuer
            .clone()
            .unwrap_or_else(|| self.server.public_url.trim_end_matches('/').to_owned())
    }
}

/// Figment errors can span lines; the start-up error is one line.
fn one_line(e: &figment::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_derive_paths_from_the_data_dir() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.database_url(), "sqlite://data/auth.db");
        assert_eq!(s.outbox_dir(), PathBuf::from("data/outbox"));
        assert_eq!(s.issuer(), "http://localhost:8080");
        assert_eq!(s.rp_id().unwrap(), "localhost");
    }

    #[test]
    fn the_rp_id_is_the_host_or_a_parent_domain() {
        let mut s = Settings::default();
        s.server.public_url = "https://login.example.com".to_owned();
        assert_eq!(s.rp_id().unwrap(), "login.example.com");
        s.webauthn.rp_id = Some("example.com".to_owned());
        assert_eq!(s.rp_id().unwrap(), "example.com");
        s.webauthn.rp_id = Some("other.com".to_owned());
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("webauthn.rp_id")
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_setting_named() {
        let mut s = Settings::default();
        s.server.public_url = "https://auth.example.com/path".to_owned();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.public_url")
        );
        let mut s = Settings::default();
        s.server.bind = "localhost".to_owned();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.bind")
        );
        let mut s = Settings::default();
        s.policy.code_length = 6;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "policy.code_length must be between 8 and 16"
        );
    }

    #[test]
    fn smtp_connections_are_bounded() {
        for (connections, valid) in [(0, false), (1, true), (64, true), (65, false)] {
            let mut s = Settings::default();
            s.mail.smtp_connections = connections;
            assert_eq!(s.validate().is_ok(), valid, "{connections}");
        }
    }

    #[test]
    fn the_public_origin_is_normalised() {
        let mut s = Settings::default();
        for (url, origin) in [
            ("HTTPS://Auth.Example.COM:443/", "https://auth.example.com"),
            ("http://LOCALHOST:80", "http://localhost"),
            (
                "https://auth.example.com:8443",
                "https://auth.example.com:8443",
            ),
        ] {
            s.server.public_url = url.to_owned();
            assert_eq!(s.public_origin().unwrap(), origin, "{url}");
        }
        s.server.public_url = "HTTPS://Auth.Example.COM:443/".to_owned();
        assert_eq!(s.rp_id().unwrap(), "auth.example.com");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidrs() {
        let mut s = Settings::default();
        s.server.trusted_proxies = vec![
            "10.0.0.10".to_owned(),
            "10.1.0.0/16".to_owned(),
            "2001:db8::/32".to_owned(),
            "::ffff:192.0.2.0/120".to_owned(),
        ];
        s.validate().unwrap();
        let nets = s.trusted_proxies().unwrap();
        assert!(nets[0].contains("10.0.0.10".parse().unwrap()));
        assert!(nets[1].contains("::ffff:10.1.200.3".parse().unwrap()));
        assert!(nets[2].contains("2001:db8:5::1".parse().unwrap()));
        assert!(nets[3].contains("192.0.2.77".parse().unwrap()));
        s.server.trusted_proxies = vec!["10.0.0.0/33".to_owned()];
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("server.trusted_proxies") && e.contains("10.0.0.0/33"),
            "{e}"
        );
    }

    #[test]
    fn edge_settings_are_bounded() {
        let mut s = Settings::default();
        s.server.ipv6_prefix = 16;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.ipv6_prefix")
        );
        let mut s = Settings::default();
        s.server.body_timeout = Duration::ZERO;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.body_timeout")
        );
        let mut s = Settings::default();
        s.server.metrics_bind = Some("nowhere".to_owned());
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.metrics_bind")
        );
        s.server.metrics_bind = Some(s.server.bind.clone());
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.metrics_bind")
        );
        s.server.metrics_bind = Some("127.0.0.1:9090".to_owned());
        s.validate().unwrap();
    }
}
