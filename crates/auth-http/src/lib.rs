//! The actix-web front end of the auth service, as a library another actix app can mount.
//!
//! [`configure`] registers the JSON API under `/v1`, the JWKS document, health endpoints and the
//! OpenAPI document on any `ServiceConfig`; [`security_headers`] and [`not_found`] are the
//! middleware and fallback the host app should add around it (the bundled server does).
//! [`extract::Authenticated`] authenticates our own API calls; [`extract::BearerClaims`] lets other
//! services accept our access tokens with nothing but the published JWKS.
#![warn(missing_docs)]

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
use auth_core::ports::HealthCheck;
use std::net::IpAddr;
use std::sync::Arc;

pub use error::ApiError;
pub use observe::{Metrics, observe};
pub use routes::not_found;

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
    /// The public origin of the service, e.g. `https://auth.example.com`. Cookie-authenticated
    /// changes must come with this `Origin`.
    pub public_origin: String,
    /// Peers whose `X-Forwarded-For` is trusted to name the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            public_origin: "http://localhost:8080".to_owned(),
            trusted_proxies: Vec::new(),
            max_body_bytes: 16 * 1024,
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
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Registers every route, with body, query and path error handling that answers `problem+json`.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let limit = state.config.max_body_bytes;
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .content_type_required(true)
                    .error_handler(|e, _| ApiError::from(e).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
        routes::register(cfg);
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
