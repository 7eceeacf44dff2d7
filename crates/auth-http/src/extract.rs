//! Extractors: who the client is, who is signed in, and (for other services) whose token this is.

use crate::error::ApiError;
use crate::{AppState, HttpConfig, cookie_names};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use auth_core::ports::AccessVerifier;
use auth_core::service::{ClientInfo, Principal};
use auth_core::token::AccessClaims;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use std::net::IpAddr;
use std::sync::Arc;

const MAX_USER_AGENT: usize = 256;

/// The client IP: the socket peer, unless that peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, config: &HttpConfig) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !config.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded
        .split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !config.trusted_proxies.contains(ip))
        .or(Some(peer))
}

/// What the domain needs to know about the client.
pub fn client_info(req: &HttpRequest, config: &HttpConfig) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    ClientInfo::new(
        client_ip(req, config),
        auth_core::net::DEFAULT_V6_PREFIX,
        user_agent,
    )
}

/// Cookie-carried credentials may only drive a change when the request comes from our own origin:
/// SameSite keeps most cross-site requests from carrying them, and this check refuses the rest.
pub fn require_same_origin(req: &HttpRequest, config: &HttpConfig) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if origin == Some(config.public_origin.trim_end_matches('/')) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenOrigin)
    }
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A caller of our own API, authenticated by an access token in `Authorization: Bearer` or in the
/// access cookie (then with the same-origin check for changes), whose session is still active.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub principal: Principal,
    /// Whether the token came from a cookie (a browser), so answers should use cookies too.
    pub via_cookie: bool,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(ApiError::Internal)?
                .clone();
            let (token, via_cookie) = match bearer(&req) {
                Some(t) => (t.to_owned(), false),
                None => {
                    let c = req
                        .cookie(cookie_names::ACCESS)
                        .ok_or(ApiError::Unauthorized)?;
                    require_same_origin(&req, &state.config)?;
                    (c.value().to_owned(), true)
                }
            };
            let principal = state.service.authenticate(&token).await?;
            Ok(Authenticated {
                principal,
                via_cookie,
            })
        })
    }
}

/// For other services: the verified claims of a bearer access token, checked against our JWKS
/// alone (no call to us). Needs `web::Data<Arc<dyn AccessVerifier>>` in the app, for example a
/// `JwksVerifier` from `auth-jwt`. Being stateless, it cannot see a revoked session before the
/// token expires (at most the access-token lifetime).
#[derive(Debug, Clone)]
pub struct BearerClaims(pub AccessClaims);

impl FromRequest for BearerClaims {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(verifier) = req.app_data::<web::Data<Arc<dyn AccessVerifier>>>() else {
            tracing::error!("BearerClaims used without an AccessVerifier in app data");
            return ready(Err(ApiError::Internal));
        };
        let claims = bearer(req).ok_or(ApiError::Unauthorized).and_then(|t| {
            verifier
                .verify_access(t)
                .map_err(|_| ApiError::Unauthorized)
        });
        ready(claims.map(BearerClaims))
    }
}
