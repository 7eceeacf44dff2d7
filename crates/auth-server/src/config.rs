//! Settings: built-in defaults, then a TOML file, then `AUTH_`-prefixed environment variables
//! (`AUTH_SERVER__BIND`, `AUTH_POLICY__CODE_TTL`, ...), validated once into [`Config`]. An invalid
//! setting is a one-line error at start-up.

pub mod admin;
pub mod checked;
pub mod oidc;
pub mod ui;
pub mod webhooks;

use anyhow::bail;
use auth_core::Policy;
use auth_core::net::IpNet;
use auth_core::policy::duration_serde;
use auth_smtp::{ConfigError, MailConfig, SmtpConfig, SmtpPassword};
use auth_webauthn::{Attachment, RelyingParty, WebAuthnAdapter};
pub use checked::{
    Config, DatabaseUrl, LogFormat, Mail, MailTransport, PublicOrigin, Redacted, Redis, SecretPath,
    SecretPaths,
};
use checked::{describe, parse_listen};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
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
    /// Product name, branding and languages of the page and the mail.
    pub ui: ui::UiSettings,
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
    /// The OpenID Connect clients.
    pub oidc: oidc::OidcSettings,
    /// `[[webhooks]]`: where the security events go.
    pub webhooks: Vec<webhooks::WebhookSettings>,
    /// How webhooks are delivered.
    pub webhook_delivery: webhooks::DeliverySettings,
    /// The admin API's tokens.
    pub admin: admin::AdminSettings,
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
    /// A listen address for the admin API (`/admin/v1`); unset, it is off.
    pub admin_bind: Option<String>,
    /// How long a client may take to send a request's head, and its body.
    #[serde(with = "duration_serde")]
    pub body_timeout: Duration,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Where generated secrets, the SQLite database and the mail outbox live by default.
    pub data_dir: PathBuf,
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Origins the page may return to after a sign-in (`?return_to=`), exactly.
    pub allowed_return_origins: Vec<String>,
    /// Origins whose scripts may call the JSON API with bearer tokens (CORS; never cookies).
    pub cors_origins: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            public_url: "http://localhost:8080".to_owned(),
            trusted_proxies: Vec::new(),
            ipv6_prefix: auth_core::net::DEFAULT_V6_PREFIX,
            metrics_bind: None,
            admin_bind: None,
            body_timeout: Duration::from_secs(10),
            workers: 0,
            data_dir: PathBuf::from("data"),
            max_body_bytes: 16 * 1024,
            allowed_return_origins: Vec::new(),
            cors_origins: Vec::new(),
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

/// The settings as read, before validation, and the environment variables that were ignored.
#[derive(Debug)]
pub struct Loaded {
    /// The merged settings.
    pub settings: Settings,
    /// `AUTH_` variables that name no setting (a script's `AUTH_SERVER_BIN`, say): warned about,
    /// not fatal, since the environment is shared with other programs. Unknown keys in the file
    /// are errors.
    pub ignored: Vec<String>,
}

/// The environment layer: `AUTH_SECTION__KEY` is `section.key`.
fn env() -> Env {
    Env::prefixed("AUTH_").split("__")
}

/// Whether `error` says that the key `key` (or a parent of it) is no setting, as opposed to a
/// mistake inside its value.
fn names_unknown_key(error: &figment::Error, key: &str) -> bool {
    error.clone().into_iter().any(|e| match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            // Figment's path ends with the unknown field already; serde's alone would not.
            let mut path = e.path.clone();
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            let unknown = path.join(".");
            key.eq_ignore_ascii_case(&unknown)
                || key
                    .to_ascii_lowercase()
                    .starts_with(&format!("{}.", unknown.to_ascii_lowercase()))
        }
        _ => false,
    })
}

impl Settings {
    /// Defaults, then `file` (if given, it must exist; else `auth.toml` if present), then the
    /// environment. Not yet validated: see [`Settings::validate`].
    pub fn load(file: Option<&Path>) -> anyhow::Result<Loaded> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(f) if !f.exists() => bail!("configuration file {} does not exist", f.display()),
            Some(f) => fig = fig.merge(Toml::file(f)),
            None => fig = fig.merge(Toml::file("auth.toml")),
        }
        // Each variable alone over the defaults: one that names no setting is set aside.
        let mut ignored = Vec::new();
        for (key, _) in env().iter() {
            let key = key.as_str().to_owned();
            let only = key.clone();
            let alone = Figment::from(Serialized::defaults(Settings::default()))
                .merge(env().filter(move |k| k.as_str().eq_ignore_ascii_case(&only)));
            if let Err(e) = alone.extract::<Settings>()
                && names_unknown_key(&e, &key)
            {
                ignored.push(key);
            }
        }
        let skip = ignored.clone();
        fig = fig
            .merge(env().filter(move |k| !skip.iter().any(|s| s.eq_ignore_ascii_case(k.as_str()))));
        let settings: Settings = fig.extract().map_err(|e| anyhow::anyhow!(describe(e)))?;
        let ignored = ignored
            .into_iter()
            .map(|k| format!("AUTH_{}", k.to_ascii_uppercase().replace('.', "__")))
            .collect();
        Ok(Loaded { settings, ignored })
    }

    /// Checks everything that can be checked without touching the outside world, and parses each
    /// value once into the type the wiring uses.
    pub fn validate(&self) -> anyhow::Result<Config> {
        let s = &self.server;
        let bind = parse_listen(&s.bind).ok_or_else(|| {
            anyhow::anyhow!(
                "server.bind `{}` is not an address like 127.0.0.1:8080 or :8080",
                s.bind
            )
        })?;
        let metrics_bind = s
            .metrics_bind
            .as_deref()
            .map(|m| {
                parse_listen(m).ok_or_else(|| {
                    anyhow::anyhow!(
                        "server.metrics_bind `{m}` is not an address like 127.0.0.1:9090"
                    )
                })
            })
            .transpose()?;
        if metrics_bind.is_some_and(|m| m == bind && m.port() != 0) {
            bail!("server.metrics_bind must differ from server.bind");
        }
        let public_origin = PublicOrigin::parse(&s.public_url)
            .map_err(|why| anyhow::anyhow!("server.public_url {why}"))?;
        let public_url = s.public_url.trim().trim_end_matches('/').to_owned();
        let allowed_return_origins =
            PublicOrigin::list(&s.allowed_return_origins, "server.allowed_return_origins")?;
        let cors_origins = PublicOrigin::list(&s.cors_origins, "server.cors_origins")?;
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if !(32..=128).contains(&s.ipv6_prefix) {
            bail!("server.ipv6_prefix must be between 32 and 128");
        }
        if s.body_timeout < Duration::from_secs(1) || s.body_timeout > Duration::from_secs(300) {
            bail!("server.body_timeout must be between 1s and 5m");
        }
        if s.max_body_bytes < 1024 || s.max_body_bytes > 1024 * 1024 {
            bail!("server.max_body_bytes must be between 1024 and 1048576");
        }
        let log_format = match self.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => bail!("log.format must be text or json"),
        };
        let database = match &self.database.url {
            Some(url) => DatabaseUrl::parse(url).ok_or_else(|| {
                anyhow::anyhow!(
                    "database.url must start with sqlite:, postgres:// or postgresql://"
                )
            })?,
            None => {
                let file = s.data_dir.join("auth.db");
                DatabaseUrl::Sqlite {
                    url: format!("sqlite://{}", file.display()),
                    file: Some(file),
                }
            }
        };
        if !(1..=1000).contains(&self.database.max_connections) {
            bail!("database.max_connections must be between 1 and 1000");
        }
        // TLS to Redis is not built in yet: keep Redis on a private network.
        let redis = match &self.redis.url {
            Some(url) if !url.starts_with("redis://") => {
                bail!("redis.url must start with redis://")
            }
            Some(url) => Some(Redis {
                url: Redacted::new(url.clone()),
                key_prefix: self.redis.key_prefix.clone(),
            }),
            None => None,
        };
        if self.tokens.audience.trim().is_empty() {
            bail!("tokens.audience must not be empty");
        }
        self.policy
            .validate()
            .map_err(|e| anyhow::anyhow!("policy.{e}"))?;
        let mail = self.mail_config(&public_url)?;
        let relying_party = RelyingParty {
            id: self.rp_id(&public_origin)?,
            origin: public_origin.as_str().to_owned(),
            name: self.ui.product_name.trim().to_owned(),
            attachment: if self.webauthn.platform_only {
                Attachment::PlatformOnly
            } else {
                Attachment::PreferPlatform
            },
            browser_timeout: self.policy.browser_timeout(),
        };
        WebAuthnAdapter::new(relying_party.clone())
            .map_err(|e| anyhow::anyhow!("webauthn: {e}"))?;
        let secret = |configured: &Option<PathBuf>, setting: &'static str, default: PathBuf| {
            match configured {
                Some(path) => SecretPath::Configured {
                    setting,
                    path: path.clone(),
                },
                None => SecretPath::Default(default),
            }
        };
        let secrets = SecretPaths {
            pepper: secret(
                &self.secrets.pepper_file,
                "secrets.pepper_file",
                s.data_dir.join("secrets").join("pepper"),
            ),
            attempt_key: secret(
                &self.secrets.attempt_key_file,
                "secrets.attempt_key_file",
                s.data_dir.join("secrets").join("attempt-key"),
            ),
            signing_keys: secret(
                &self.secrets.signing_keys_dir,
                "secrets.signing_keys_dir",
                s.data_dir.join("keys"),
            ),
        };
        let oidc = self.oidc.check()?;
        let webhooks = webhooks::check(&self.webhooks, &self.webhook_delivery)?;
        let admin = self.admin.check(s.admin_bind.as_deref())?;
        Ok(Config {
            oidc,
            webhooks,
            admin,
            bind,
            metrics_bind,
            public_origin,
            issuer: self
                .tokens
                .issuer
                .clone()
                .unwrap_or_else(|| public_url.clone()),
            public_url,
            allowed_return_origins,
            cors_origins,
            trusted_proxies,
            ipv6_prefix: s.ipv6_prefix,
            body_timeout: s.body_timeout,
            workers: s.workers,
            data_dir: s.data_dir.clone(),
            max_body_bytes: s.max_body_bytes,
            database,
            max_connections: self.database.max_connections,
            migrate_on_start: self.database.migrate_on_start,
            redis,
            mail,
            audience: self.tokens.audience.clone(),
            relying_party,
            secrets,
            log_format,
            log_filter: self.log.filter.clone(),
            policy: self.policy.clone(),
        })
    }

    /// The sender and the transport, checked by the mail crate itself so that `check-config`
    /// refuses exactly what `serve` would.
    fn mail_config(&self, public_url: &str) -> anyhow::Result<Mail> {
        let m = &self.mail;
        if m.queue_capacity == 0 {
            bail!("mail.queue_capacity must be above zero");
        }
        if !(1..=64).contains(&m.smtp_connections) {
            bail!("mail.smtp_connections must be between 1 and 64");
        }
        let sender =
            MailConfig::new(&m.from, public_url, &self.ui.product_name).map_err(|e| match e {
                ConfigError::From(_) => anyhow::anyhow!("mail.from: {e}"),
                ConfigError::ProductName => anyhow::anyhow!("ui.product_name: {e}"),
                _ => anyhow::anyhow!("server.public_url: {e}"),
            })?;
        let transport = match &m.smtp_url {
            None => MailTransport::Outbox(
                m.outbox_dir
                    .clone()
                    .unwrap_or_else(|| self.server.data_dir.join("outbox")),
            ),
            Some(url) => {
                let mut relay = SmtpConfig::new(url.clone());
                relay.max_connections = m.smtp_connections;
                relay.username.clone_from(&m.smtp_username);
                // The relay checks the URL and the credentials' shape; the password itself is read
                // when serving starts, so a stand-in says whether one is configured.
                let mut probe = relay.clone();
                probe.password = m
                    .smtp_password_file
                    .as_ref()
                    .map(|_| SmtpPassword::new("-"));
                checked::check_relay(&probe).map_err(|e| match e {
                    ConfigError::SmtpUrl(_) => anyhow::anyhow!("mail.smtp_url: {e}"),
                    _ => anyhow::anyhow!("mail: {e}"),
                })?;
                MailTransport::Smtp {
                    relay,
                    password_file: m.smtp_password_file.clone(),
                }
            }
        };
        let ui = self.ui.validate(sender.clone())?;
        Ok(Mail {
            sender,
            ui,
            transport,
            queue_capacity: m.queue_capacity,
            smtp_connections: m.smtp_connections,
        })
    }

    /// The WebAuthn relying-party id: configured, or the public URL's host.
    fn rp_id(&self, origin: &PublicOrigin) -> anyhow::Result<String> {
        let host = origin.host();
        match &self.webauthn.rp_id {
            None => Ok(host.to_owned()),
            Some(id) if host == id || host.ends_with(&format!(".{id}")) => Ok(id.clone()),
            Some(id) => bail!(
                "webauthn.rp_id `{id}` must be the public URL's host or a parent domain of it"
            ),
        }
    }

    /// These settings with every derived value filled in (the database URL, the outbox, the
    /// issuer, the relying-party id, the secrets' paths) and passwords in URLs replaced: what
    /// `check-config` shows.
    pub fn effective(&self, config: &Config) -> Settings {
        let mut shown = self.clone();
        shown.server.bind = config.bind.to_string();
        shown.server.metrics_bind = config.metrics_bind.map(|a| a.to_string());
        shown.database.url = Some(config.database.shown());
        shown.redis.url = config
            .redis
            .as_ref()
            .map(|r| checked::without_password(r.url.expose()));
        shown.mail.outbox_dir = Some(
            self.mail
                .outbox_dir
                .clone()
                .unwrap_or_else(|| self.server.data_dir.join("outbox")),
        );
        shown.ui.product_name = config.mail.ui.page.product_name.clone();
        shown.ui.accent_color = config.mail.ui.page.accent.light();
        shown.tokens.issuer = Some(config.issuer.clone());
        shown.webauthn.rp_id = Some(config.relying_party.id.clone());
        shown.secrets.pepper_file = Some(config.secrets.pepper.path().to_owned());
        shown.secrets.attempt_key_file = Some(config.secrets.attempt_key.path().to_owned());
        shown.secrets.signing_keys_dir = Some(config.secrets.signing_keys.path().to_owned());
        shown
    }
}

#[cfg(test)]
mod tests;
