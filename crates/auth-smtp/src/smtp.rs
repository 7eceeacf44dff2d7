//! Delivery through an SMTP relay: lettre's pooled async transport, with TLS through rustls.
//!
//! The URL forms and the TLS rules are documented on [`SmtpConfig`].

use crate::config::ConfigError;
use crate::transport::{DeliveryError, Outgoing, Transport};
use async_trait::async_trait;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::fmt;
use std::time::Duration;
use url::Url;

/// How to reach the relay. The relay is named by lettre's own connection URL form
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
    /// The limit for connecting and for each SMTP command. Default 10 seconds.
    pub timeout: Duration,
    /// The most connections the pool keeps open at once. Default 4.
    pub max_connections: u32,
}

impl SmtpConfig {
    /// The relay at `url`, without credentials, with the default timeout and pool size.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            max_connections: 4,
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

/// Delivers through an SMTP relay with a connection pool. Connects on the first mail, not at start.
#[derive(Clone)]
pub struct SmtpRelay {
    url: String,
    authenticated: bool,
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpRelay {
    /// Checks `config` and builds the pooled transport. Must run inside a tokio runtime, where the
    /// pool keeps its housekeeping task.
    ///
    /// # Errors
    /// [`ConfigError::SmtpUrl`] or [`ConfigError::SmtpSetting`] for settings that cannot work,
    /// [`ConfigError::Smtp`] if lettre refuses them (for example the TLS set-up), and
    /// [`ConfigError::NoRuntime`] outside a tokio runtime.
    pub fn new(config: &SmtpConfig) -> Result<Self, ConfigError> {
        let encrypted = check_url(&config.url)?;
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
        if credentials.is_some() && !encrypted {
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
                "the pool needs at least one connection",
            ));
        }
        // lettre's pool spawns its housekeeping task on build and would panic without a runtime.
        tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(ConfigError::Smtp)?
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.max_connections));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(Self {
            url: config.url.clone(),
            authenticated: config.username.is_some(),
            inner: builder.build(),
        })
    }
}

/// Checks what lettre would accept or silently ignore; `true` when the connection is encrypted.
fn check_url(input: &str) -> Result<bool, ConfigError> {
    let bad = |why: &str| ConfigError::SmtpUrl(why.to_owned());
    let url = Url::parse(input).map_err(|e| ConfigError::SmtpUrl(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the url: use the username and password settings",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("a host is required"));
    }
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
    match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Ok(true),
        ("smtps", Some(_)) => Err(bad("smtps is always encrypted: drop the tls parameter")),
        ("smtp", None | Some("opportunistic")) => Ok(false),
        ("smtp", Some("required")) => Ok(true),
        ("smtp", Some(_)) => Err(bad("tls must be required or opportunistic")),
        _ => Err(bad("the scheme must be smtp or smtps")),
    }
}

#[async_trait]
impl Transport for SmtpRelay {
    async fn deliver(&self, mail: &Outgoing) -> Result<(), DeliveryError> {
        match self.inner.send_raw(mail.envelope(), mail.formatted()).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::permanent(e)),
            Err(e) => Err(DeliveryError::transient(e)),
        }
    }
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("url", &self.url)
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lettre_url_forms_and_says_which_are_encrypted() {
        for (url, encrypted) in [
            ("smtp://127.0.0.1:25", false),
            ("smtp://relay.example.com", false),
            ("smtp://relay.example.com:587?tls=opportunistic", false),
            ("smtp://relay.example.com:587?tls=required", true),
            ("smtps://relay.example.com", true),
            ("smtps://relay.example.com:465/mail.example.com", true),
        ] {
            assert_eq!(check_url(url).unwrap(), encrypted, "{url}");
        }
    }

    #[test]
    fn rejects_urls_that_would_leak_or_mislead() {
        for url in [
            "smtps://user:secret@relay.example.com",
            "smtps://user@relay.example.com",
            "smtp://relay.example.com?tls=starttls",
            "smtp://relay.example.com?tls=required&tls=opportunistic",
            "smtp://relay.example.com?timeout=3",
            "smtps://relay.example.com?tls=required",
            "http://relay.example.com",
            "relay.example.com:25",
            "smtp://",
        ] {
            assert!(
                matches!(check_url(url), Err(ConfigError::SmtpUrl(_))),
                "{url}"
            );
        }
        let e = check_url("smtps://user:hunter2@relay.example.com").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn builds_tls_transports_and_never_shows_the_password() {
        let config = SmtpConfig {
            username: Some("mailer".to_owned()),
            password: Some(SmtpPassword::new("hunter2")),
            ..SmtpConfig::new("smtps://relay.example.com")
        };
        let relay = SmtpRelay::new(&config).unwrap();
        let starttls = SmtpRelay::new(&SmtpConfig {
            url: "smtp://relay.example.com?tls=required".to_owned(),
            ..config.clone()
        });
        assert!(starttls.is_ok());
        for shown in [format!("{config:?}"), format!("{relay:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{config:?}").contains("SmtpPassword([redacted])"));
    }

    #[tokio::test]
    async fn refuses_settings_that_cannot_work() {
        let plain = SmtpConfig {
            username: Some("u".to_owned()),
            password: Some(SmtpPassword::new("p")),
            ..SmtpConfig::new("smtp://relay.example.com")
        };
        assert!(matches!(
            SmtpRelay::new(&plain),
            Err(ConfigError::SmtpSetting(_))
        ));
        let half = SmtpConfig {
            username: Some("u".to_owned()),
            ..SmtpConfig::new("smtps://relay.example.com")
        };
        assert!(matches!(
            SmtpRelay::new(&half),
            Err(ConfigError::SmtpSetting(_))
        ));
        let no_pool = SmtpConfig {
            max_connections: 0,
            ..SmtpConfig::new("smtp://127.0.0.1:25")
        };
        assert!(matches!(
            SmtpRelay::new(&no_pool),
            Err(ConfigError::SmtpSetting(_))
        ));
        let no_time = SmtpConfig {
            timeout: Duration::ZERO,
            ..SmtpConfig::new("smtp://127.0.0.1:25")
        };
        assert!(matches!(
            SmtpRelay::new(&no_time),
            Err(ConfigError::SmtpSetting(_))
        ));
    }

    #[test]
    fn outside_a_runtime_setup_fails_instead_of_panicking() {
        assert!(matches!(
            SmtpRelay::new(&SmtpConfig::new("smtp://127.0.0.1:25")),
            Err(ConfigError::NoRuntime)
        ));
    }
}
