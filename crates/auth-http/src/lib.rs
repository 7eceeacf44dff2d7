//! The actix-web front end of the auth service, as a library another actix app can mount.
//!
//! [`configure`] registers the JSON API under `/v1`, the JWKS document, health endpoints and the
//! OpenAPI document on any `ServiceConfig`; [`security_headers`] and [`not_found`] are the
//! middleware and fallback the host app should add around it (the bundled server does).
//! [`extract::Authenticated`] authenticates our own API calls; [`extract::BearerClaims`] lets other
//! services accept our access tokens with nothing but the published JWKS.
#![warn(missing_docs)]

pub mod admin;
pub mod brand;
mod cors;
pub mod error;
pub mod extract;
pub mod observe;
pub mod openapi;
pub(crate) mod routes;
mod wire;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use auth_core::AuthService;
use auth_core::net::IpNet;
use auth_core::ports::HealthCheck;
use std::sync::Arc;
use std::time::Duration;

pub use cors::cors;
pub use error::ApiError;
pub use observe::{Metrics, observe};
pub use routes::not_found;
pub use wire::rfc3339;

/// Cookie names. The `__Host-` prefix pins them to this host, path `/`, and HTTPS (browsers treat
/// `http://localhost` as secure too).
pub mod cookie_names {
    /// The attempt token of an email-code flow.
    pub const ATTEMPT: &str = "__Host-auth_attempt";
    /// The access token.
    pub const ACCESS: &str = "__Host-auth_access";
    /// The refresh token.
    pub const REFRESH: &str = "__Host-auth_refresh";
    /// The id of a passkey sign-in ceremony.
    pub const CEREMONY: &str = "__Host-auth_ceremony";
}

/// How the HTTP layer behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The public origin of the service, e.g. `https://auth.example.com`, in the form
    /// [`normalise_origin`] gives. Cookie-authenticated changes must come with this `Origin`.
    pub public_origin: String,
    /// Peers (addresses or CIDR blocks) whose `X-Forwarded-For` is trusted to name the client.
    pub trusted_proxies: Vec<IpNet>,
    /// How many leading bits of an IPv6 address make one client network for the limits.
    pub v6_prefix: u8,
    /// The largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long reading a request body may take in all; a slower client is cut off.
    pub body_timeout: Duration,
    /// Whether [`configure`] mounts `/metrics` beside the API. Off when the metrics are served on
    /// a listener of their own ([`configure_metrics`]).
    pub metrics_on_api: bool,
    /// The page's branding and catalog, and the default language of requests that name none.
    pub ui: Arc<brand::Ui>,
    /// Origins the page may send the browser back to after a sign-in (`return_to`), normalised
    /// as [`normalise_origin`] writes them.
    pub return_origins: Vec<String>,
    /// Origins whose scripts may call the JSON API with bearer tokens (CORS, never with cookies),
    /// normalised as [`normalise_origin`] writes them.
    pub cors_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            public_origin: "http://localhost:8080".to_owned(),
            trusted_proxies: Vec::new(),
            v6_prefix: auth_core::net::DEFAULT_V6_PREFIX,
            max_body_bytes: 16 * 1024,
            body_timeout: Duration::from_secs(10),
            metrics_on_api: true,
            ui: Arc::new(brand::Ui::default()),
            return_origins: Vec::new(),
            cors_origins: Vec::new(),
        }
    }
}

/// `scheme://host[:port]` as a browser sends it in `Origin`: scheme and host lower-case, the
/// scheme's default port dropped, no trailing slash. `None` if `url` is not an `http` or `https`
/// origin (a path, query, fragment, user info or a bad port).
pub fn normalise_origin(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '\\']) {
        return None;
    }
    // The port follows the last colon, unless that colon is inside a bracketed IPv6 literal.
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    if host.is_empty() || (host.starts_with('[') != host.ends_with(']')) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(p) => {
            let n: u16 = p.parse().ok()?;
            if n.to_string() == default_port {
                Some(format!("{scheme}://{host}"))
            } else {
                Some(format!("{scheme}://{host}:{n}"))
            }
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub service: Arc<AuthService>,
    /// HTTP behaviour.
    pub config: Arc<HttpConfig>,
    /// The stores `/readyz` checks.
    pub health: Arc<Vec<Arc<dyn HealthCheck>>>,
    /// The metrics served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The OpenID Connect provider, when clients are configured; its endpoints answer 404
    /// otherwise.
    pub oidc: Option<Arc<auth_core::service::OidcProvider>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Registers every route, with query and path error handling that answers `problem+json` (bodies
/// are read by [`extract::JsonBody`], which answers the same way). `/metrics` is among the routes
/// unless [`HttpConfig::metrics_on_api`] is off.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let metrics = state.config.metrics_on_api;
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
        routes::register(cfg);
        if metrics {
            routes::register_metrics(cfg);
        }
    }
}

/// Registers `/metrics` alone, for a listener of its own that only the scraper can reach.
pub fn configure_metrics(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state));
        routes::register_metrics(cfg);
    }
}

/// Security headers for every response; a handler's own value wins where it sets one.
pub fn security_headers(config: &HttpConfig) -> DefaultHeaders {
    let h = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::CACHE_CONTROL, "no-store"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"));
    if config.public_origin.starts_with("https://") {
        h.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        h
    }
}
