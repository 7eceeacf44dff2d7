//! What every mail says about its sender: the from address, the public URL that links point to,
//! and the product name; and the one error type of setting the mailer up.

use lettre::message::Mailbox;
use std::fmt;
use url::Url;

/// The sender side of every mail. Links in mail are built from `public_url` and nothing else, so
/// no request (and no `Host` header) can steer where a mail points.
#[derive(Clone)]
pub struct MailConfig {
    from: Mailbox,
    public_url: String,
    product_name: String,
    branding: Branding,
}

/// How mail looks beyond its product name: a logo above the text, the colour of buttons and
/// links, and an address people may write to. The values are checked where they are configured
/// (the server's `[ui]` settings, which also check the colour's contrast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// An absolute `https` URL of the logo, or a path on the public URL (`/logo.png`).
    pub logo_url: Option<String>,
    /// The colour of buttons (white text on it) and links, as `#rrggbb`.
    pub accent_color: String,
    /// The support address shown at the foot of every mail.
    pub support_email: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            logo_url: None,
            accent_color: Self::DEFAULT_ACCENT.to_owned(),
            support_email: None,
        }
    }
}

impl Branding {
    /// The accent colour when none is configured (white on it has a contrast of 6.7:1).
    pub const DEFAULT_ACCENT: &'static str = "#1d4ed8";
}

/// Why the mailer cannot be set up. Raised once, at start, from configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The from address is not `Name <address>` or a bare address.
    #[error("the from address is not valid: {0}")]
    From(String),
    /// The public URL is not an absolute `http` or `https` URL without query or fragment.
    #[error("the public url is not valid: {0}")]
    PublicUrl(String),
    /// The product name is empty, too long or holds control characters.
    #[error("the product name must be 1 to 64 characters without control characters")]
    ProductName,
    /// A branding value (logo, colour, support address) cannot be used.
    #[error("the branding is not valid: {0}")]
    Branding(&'static str),
    /// A template or catalog override cannot be used; the message names the file.
    #[error("the mail templates cannot be loaded: {0}")]
    Templates(String),
    /// The SMTP URL is not one of the supported forms.
    #[error("the smtp url is not valid: {0}")]
    SmtpUrl(String),
    /// An SMTP setting cannot work: incomplete credentials, credentials without TLS, a zero
    /// timeout or no connections.
    #[error("the smtp settings are not usable: {0}")]
    SmtpSetting(&'static str),
    /// lettre refused the SMTP settings (for example the TLS set-up).
    #[error("the smtp transport cannot be built")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The TLS client for `smtps` cannot be set up.
    #[error("the tls client for the smtp relay cannot be set up")]
    Tls(#[source] rustls::Error),
    /// The outbox directory cannot be created.
    #[error("the mail outbox directory cannot be created")]
    Outbox(#[source] std::io::Error),
    /// A queue setting is out of range.
    #[error("the mail queue setting is not valid: {0}")]
    Queue(&'static str),
    /// Transports and the queue spawn tasks, so they must be set up inside a tokio runtime.
    #[error("the mailer must be started inside a tokio runtime")]
    NoRuntime,
}

impl MailConfig {
    /// The longest product name, in characters.
    pub const MAX_PRODUCT_CHARS: usize = 64;

    /// Checks and keeps the sender settings.
    ///
    /// - `from`: `Example <no-reply@example.com>` or `no-reply@example.com`.
    /// - `public_url`: where people reach the service, such as `https://auth.example.com` or
    ///   `https://example.com/auth`; a trailing `/` is dropped. Code mails link to
    ///   `{public_url}/`, the no-account notice to `{public_url}/#signup`.
    /// - `product_name`: how mail names the service, in subjects and text.
    ///
    /// # Errors
    /// [`ConfigError::From`], [`ConfigError::PublicUrl`] or [`ConfigError::ProductName`].
    pub fn new(from: &str, public_url: &str, product_name: &str) -> Result<Self, ConfigError> {
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e: lettre::address::AddressError| ConfigError::From(e.to_string()))?;
        let public_url = parse_public_url(public_url)?;
        let product_name = product_name.trim();
        let product_ok = !product_name.is_empty()
            && product_name.chars().count() <= Self::MAX_PRODUCT_CHARS
            && !product_name.chars().any(char::is_control);
        if !product_ok {
            return Err(ConfigError::ProductName);
        }
        Ok(Self {
            from,
            public_url,
            product_name: product_name.to_owned(),
            branding: Branding::default(),
        })
    }

    /// The same sender with `branding`.
    ///
    /// # Errors
    /// [`ConfigError::Branding`] if the colour is not `#rrggbb`, the logo neither an `https` URL
    /// nor a path, or the support address not one address.
    pub fn with_branding(mut self, branding: Branding) -> Result<Self, ConfigError> {
        let hex = branding.accent_color.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::Branding("the accent colour must be #rrggbb"));
        }
        if let Some(logo) = &branding.logo_url {
            let path = logo.starts_with('/') && !logo.starts_with("//");
            let https = Url::parse(logo).is_ok_and(|u| u.scheme() == "https");
            if !(path || https) || logo.chars().any(|c| c.is_control() || c == '"') {
                return Err(ConfigError::Branding(
                    "the logo url must be https or a path on the public url",
                ));
            }
        }
        if let Some(support) = &branding.support_email {
            support
                .parse::<lettre::Address>()
                .map_err(|_| ConfigError::Branding("the support address is not one address"))?;
        }
        self.branding = branding;
        Ok(self)
    }

    /// How the mail looks.
    pub fn branding(&self) -> &Branding {
        &self.branding
    }

    /// The logo as an absolute URL: a path is taken on the public URL.
    pub fn logo_src(&self) -> Option<String> {
        self.branding.logo_url.as_ref().map(|logo| {
            if logo.starts_with('/') {
                format!("{}{logo}", self.public_url)
            } else {
                logo.clone()
            }
        })
    }

    /// The sender as it appears in the `From` header.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The public URL, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The product name.
    pub fn product_name(&self) -> &str {
        &self.product_name
    }
}

fn parse_public_url(input: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError::PublicUrl(why.to_owned());
    let url = Url::parse(input.trim()).map_err(|e| ConfigError::PublicUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("a host is required"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("user names and passwords do not belong in it"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment does not belong in it"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .field("product_name", &self.product_name)
            .field("branding", &self.branding)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_display_name_and_normalises_the_public_url() {
        let c = MailConfig::new(
            "Example Auth <no-reply@example.com>",
            "https://auth.example.com/",
            "Example",
        )
        .unwrap();
        assert_eq!(c.from().name.as_deref(), Some("Example Auth"));
        assert_eq!(c.from().email.to_string(), "no-reply@example.com");
        assert_eq!(c.public_url(), "https://auth.example.com");
        let sub = MailConfig::new(
            "no-reply@example.com",
            "https://example.com/auth/",
            "Example",
        )
        .unwrap();
        assert_eq!(sub.public_url(), "https://example.com/auth");
        assert_eq!(sub.from().name, None);
    }

    #[test]
    fn rejects_what_would_make_links_or_headers_lie() {
        let from = "no-reply@example.com";
        for url in [
            "javascript:alert(1)",
            "ftp://example.com",
            "example.com",
            "https://example.com/?next=x",
            "https://example.com/#x",
            "https://user:pw@example.com",
            "",
        ] {
            assert!(
                matches!(
                    MailConfig::new(from, url, "Example"),
                    Err(ConfigError::PublicUrl(_))
                ),
                "{url:?}"
            );
        }
        for name in ["", "  ", "a\r\nBcc: eve@example.com", &"x".repeat(65)] {
            assert!(
                matches!(
                    MailConfig::new(from, "https://example.com", name),
                    Err(ConfigError::ProductName)
                ),
                "{name:?}"
            );
        }
        for bad in ["", "not an address", "a@example.com, b@example.com"] {
            assert!(
                matches!(
                    MailConfig::new(bad, "https://example.com", "Example"),
                    Err(ConfigError::From(_))
                ),
                "{bad:?}"
            );
        }
    }
}
