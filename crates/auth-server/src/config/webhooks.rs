//! `[[webhooks]]` and `[webhook_delivery]`: the endpoints that receive the security events of the
//! outbox, signed per the Standard Webhooks specification, and how delivery retries. Checked once
//! at start: an endpoint that cannot be used stops `serve` and `check-config` with one line
//! naming it (never its secret).

use anyhow::{Context, bail};
use auth_core::outbox::{EVENT_TYPES, WebhookEvents};
use auth_core::policy::duration_serde;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// A file holding the endpoint's Standard Webhooks secret, `whsec_` and base64.
    pub secret_file: Option<PathBuf>,
    /// The event types to send (default: all).
    pub events: Option<Vec<String>>,
}

/// `[webhook_delivery]`: how every endpoint is delivered to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// How long one request may take, connection included.
    #[serde(with = "duration_serde")]
    pub timeout: Duration,
    /// The wait before the first retry; each later one doubles it, with jitter.
    #[serde(with = "duration_serde")]
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    #[serde(with = "duration_serde")]
    pub max_retry: Duration,
    /// How often a node looks for due events when it found none.
    #[serde(with = "duration_serde")]
    pub poll_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(10),
            max_retry: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// How long an event is retried before it is given up.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One checked endpoint.
#[derive(Clone)]
pub struct Endpoint {
    /// `webhooks[i]`, for logs.
    pub name: String,
    /// A stable, secret-free identity of the URL (a hash), recorded in the outbox once the
    /// endpoint has an event.
    pub key: String,
    /// The URL.
    pub url: url::Url,
    /// The signing key (the base64 part of the secret, decoded).
    pub secret: Vec<u8>,
    /// The event types it wants; `None` for all.
    pub events: Option<Vec<String>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token in its query: only its origin is shown.
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Whether the endpoint wants events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|list| list.iter().any(|k| k == kind))
    }
}

/// The checked webhook settings.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Delivery timing.
    pub delivery: Delivery,
}

impl WebhookConfig {
    /// The event types some endpoint wants: the only ones the stores write to the outbox. None
    /// without endpoints, so sign-ins leave no rows that nobody would deliver.
    pub fn events(&self) -> WebhookEvents {
        self.endpoints
            .iter()
            .fold(WebhookEvents::NONE, |set, e| match &e.events {
                None => WebhookEvents::ALL,
                Some(list) => set.and(WebhookEvents::only(list.iter().map(String::as_str))),
            })
    }
}

/// Checked delivery timing.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Per request.
    pub timeout: Duration,
    /// First retry wait.
    pub first_retry: Duration,
    /// Longest retry wait.
    pub max_retry: Duration,
    /// Idle poll.
    pub poll_interval: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        let d = DeliverySettings::default();
        Self {
            timeout: d.timeout,
            first_retry: d.first_retry,
            max_retry: d.max_retry,
            poll_interval: d.poll_interval,
        }
    }
}

impl Delivery {
    /// The wait before attempt `attempts + 1` of a webhook event or a notice: `first_retry`
    /// doubled per attempt, at most `max_retry`, times a random factor between ½ and 1 so that
    /// failures do not retry in step.
    pub fn backoff(&self, attempts: u32) -> Duration {
        use auth_core::ports::{OsRng, Rng};
        let doublings = attempts.saturating_sub(1).min(20);
        let base = self
            .first_retry
            .saturating_mul(1 << doublings)
            .min(self.max_retry);
        let mut byte = [0u8; 1];
        OsRng.fill(&mut byte);
        base.mul_f64(0.5 + f64::from(byte[0]) / 512.0)
    }
}

/// Reads and decodes a Standard Webhooks secret file.
fn read_secret(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("secret_file: cannot read {}", path.display()))?;
    let Some(encoded) = text.trim().strip_prefix("whsec_") else {
        bail!("secret_file {} must hold whsec_ and base64", path.display());
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| anyhow::anyhow!("secret_file {} is not valid base64", path.display()))?;
    if !(24..=64).contains(&key.len()) {
        bail!(
            "secret_file {} must decode to 24 to 64 bytes",
            path.display()
        );
    }
    Ok(key)
}

impl WebhookSettings {
    fn endpoint(&self, name: String) -> anyhow::Result<Endpoint> {
        let url = url::Url::parse(self.url.trim()).map_err(|e| anyhow::anyhow!("url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            bail!("url must be an http:// or https:// URL with a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("url must not hold credentials");
        }
        let Some(file) = &self.secret_file else {
            bail!("secret_file is required");
        };
        let secret = read_secret(file)?;
        if let Some(events) = &self.events {
            if events.is_empty() {
                bail!("events must name at least one event type, or be left out for all");
            }
            if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
                bail!("events: `{bad}` is not one of {}", EVENT_TYPES.join(", "));
            }
        }
        let key = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(url.as_str().as_bytes());
            digest[..12].iter().map(|b| format!("{b:02x}")).collect()
        };
        Ok(Endpoint {
            name,
            key,
            url,
            secret,
            events: self.events.clone(),
        })
    }
}

/// Checks every `[[webhooks]]` entry and the delivery timing.
///
/// # Errors
/// One line naming the first bad entry or setting.
pub fn check(
    webhooks: &[WebhookSettings],
    delivery: &DeliverySettings,
) -> anyhow::Result<WebhookConfig> {
    let mut endpoints = Vec::with_capacity(webhooks.len());
    for (i, w) in webhooks.iter().enumerate() {
        let name = format!("webhooks[{i}]");
        let endpoint = w
            .endpoint(name.clone())
            .map_err(|e| anyhow::anyhow!("{name}: {e:#}"))?;
        if endpoints.iter().any(|e: &Endpoint| e.url == endpoint.url) {
            bail!("{name}: url is configured twice");
        }
        endpoints.push(endpoint);
    }
    let d = delivery;
    let within = |d: Duration, lo: Duration, hi: Duration| lo <= d && d <= hi;
    if !within(d.timeout, Duration::from_secs(1), Duration::from_secs(120)) {
        bail!("webhook_delivery.timeout must be between 1s and 2m");
    }
    if !within(
        d.first_retry,
        Duration::from_millis(100),
        Duration::from_secs(3600),
    ) {
        bail!("webhook_delivery.first_retry must be between 100ms and 1h");
    }
    if !within(d.max_retry, d.first_retry, Duration::from_secs(6 * 3600)) {
        bail!("webhook_delivery.max_retry must be between first_retry and 6h");
    }
    if !within(
        d.poll_interval,
        Duration::from_millis(100),
        Duration::from_secs(60),
    ) {
        bail!("webhook_delivery.poll_interval must be between 100ms and 1m");
    }
    Ok(WebhookConfig {
        endpoints,
        delivery: Delivery {
            timeout: d.timeout,
            first_retry: d.first_retry,
            max_retry: d.max_retry,
            poll_interval: d.poll_interval,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("secret");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn hook(url: &str, secret: Option<PathBuf>, events: Option<&[&str]>) -> WebhookSettings {
        WebhookSettings {
            url: url.to_owned(),
            secret_file: secret,
            events: events.map(|e| e.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn a_good_endpoint_is_checked_and_filters_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let secret = secret_file(&dir, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
        let config = check(
            &[hook(
                "https://hooks.example/in?token=abc",
                Some(secret),
                Some(&["signed_in"]),
            )],
            &DeliverySettings::default(),
        )
        .unwrap();
        let e = &config.endpoints[0];
        assert!(e.wants("signed_in") && !e.wants("passkey_added"));
        assert_eq!(e.secret.len(), 24);
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("token=abc") && !shown.contains("MfKQ"),
            "{shown}"
        );
    }

    #[test]
    fn the_stores_write_the_event_types_some_endpoint_wants() {
        let dir = tempfile::tempdir().unwrap();
        let secret = secret_file(&dir, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let events = |hooks: &[WebhookSettings]| {
            check(hooks, &DeliverySettings::default()).unwrap().events()
        };
        assert_eq!(events(&[]), WebhookEvents::NONE, "no endpoint, no event");
        let a = hook(
            "https://a.example/",
            Some(secret.clone()),
            Some(&["signed_in"]),
        );
        let b = hook(
            "https://b.example/",
            Some(secret.clone()),
            Some(&["passkey_added", "signed_in"]),
        );
        let all = hook("https://c.example/", Some(secret), None);
        assert_eq!(
            events(&[a.clone(), b]),
            WebhookEvents::only(["signed_in", "passkey_added"])
        );
        assert_eq!(events(&[a, all]), WebhookEvents::ALL);
    }

    #[test]
    fn a_bad_entry_is_named_in_one_line_without_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let good = secret_file(&dir, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let cases: [(WebhookSettings, &str); 5] = [
            (
                hook("ftp://x.example/", Some(good.clone()), None),
                "webhooks[1]: url must be",
            ),
            (
                hook("https://x.example/", None, None),
                "webhooks[1]: secret_file is required",
            ),
            (
                hook("https://x.example/", Some(good.clone()), Some(&["nope"])),
                "webhooks[1]: events: `nope` is not one of",
            ),
            (
                hook("https://x.example/", Some(good.clone()), Some(&[])),
                "webhooks[1]: events must name",
            ),
            (
                hook("https://u:p@x.example/", Some(good.clone()), None),
                "webhooks[1]: url must not hold credentials",
            ),
        ];
        for (bad, expected) in cases {
            let ok = hook("https://ok.example/", Some(good.clone()), None);
            let e = check(&[ok, bad], &DeliverySettings::default())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(expected), "{e}");
            assert!(!e.contains('\n'));
        }
        let weak = secret_file(&dir, "whsec_c2hvcnQ=");
        let e = check(
            &[hook("https://x.example/", Some(weak), None)],
            &DeliverySettings::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("webhooks[0]: secret_file") && !e.contains("c2hvcnQ"),
            "{e}"
        );
    }
}
