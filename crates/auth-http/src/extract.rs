//! Extractors: who the client is, who is signed in, what the JSON body says, and (for other
//! services) whose token this is.

use crate::error::ApiError;
use crate::{AppState, HttpConfig, cookie_names};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use auth_core::net::{IpNet, canonical_ip};
use auth_core::ports::AccessVerifier;
use auth_core::service::{ClientInfo, Principal};
use auth_core::token::AccessClaims;
use auth_core::user::User;
use futures_util::StreamExt;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

const MAX_USER_AGENT: usize = 256;

/// The client IP: the socket peer, unless that peer is a trusted proxy; then what the trusted
/// proxies say in `X-Forwarded-For`. See [`forwarded_client`] for how that is read.
pub fn client_ip(req: &HttpRequest, config: &HttpConfig) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let headers: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    Some(forwarded_client(peer, &headers, &config.trusted_proxies))
}

/// The client, given the socket `peer`, every `X-Forwarded-For` header in the order received,
/// and the trusted proxies.
///
/// Each proxy appends the address it received the request from, so the list is read from the
/// right, starting at the peer: while the hop we stand on is a trusted proxy, the entry to its
/// left is the address it saw. The first entry that is not a trusted proxy is the client. Ports are
/// stripped (`1.2.3.4:5678`, `[2001:db8::1]:443`) and IPv4-mapped addresses count as IPv4.
///
/// An entry that cannot be read (`unknown`, a name, an empty entry, a header that is not text)
/// stops the reading, and the client is the last trusted hop we reached — a trusted proxy itself,
/// or the peer. Whatever lies left of such an entry was written by someone we cannot vouch for,
/// and skipping it would let a client choose its own address; stopping can only lump clients
/// together behind their proxy, which errs towards stricter limits. When every entry is a trusted
/// proxy, the left-most one is the client.
pub fn forwarded_client(peer: IpAddr, headers: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = canonical_ip(peer);
    if !is_trusted(client) {
        return client;
    }
    for entry in headers.iter().rev().flat_map(|h| h.rsplit(',')) {
        let Some(hop) = hop_address(entry) else {
            return client;
        };
        client = hop;
        if !is_trusted(hop) {
            return client;
        }
    }
    client
}

/// One `X-Forwarded-For` entry as an address, its port (if any) stripped.
fn hop_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else if let Ok(sock) = entry.parse::<SocketAddr>() {
        sock.ip()
    } else {
        entry
            .strip_prefix('[')
            .and_then(|e| e.strip_suffix(']'))
            .and_then(|e| e.parse::<Ipv6Addr>().ok())
            .map(IpAddr::V6)?
    };
    Some(canonical_ip(ip))
}

/// What the domain needs to know about the client.
pub fn client_info(req: &HttpRequest, config: &HttpConfig) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    ClientInfo::new(client_ip(req, config), config.v6_prefix, user_agent).with_language(
        crate::brand::request_language(req, config.ui.default_language),
    )
}

/// Cookie-carried credentials may only drive a change when the request comes from our own origin:
/// SameSite keeps most cross-site requests from carrying them, and this check refuses the rest.
pub fn require_same_origin(req: &HttpRequest, config: &HttpConfig) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    // The configured origin is normalised at start; browsers send the same form, and normalising
    // what arrives too makes the comparison independent of case and an explicit default port.
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::normalise_origin);
    if origin.as_deref() == Some(config.public_origin.as_str()) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenOrigin(config.public_origin.clone()))
    }
}

/// Refuses a request that names another `Origin`, whatever its method: a cookie that comes with a
/// script's cross-origin request (a CORS read, even a `GET`) never authenticates it; apps on
/// other origins use bearer tokens. Requests without `Origin` (navigations, same-origin reads)
/// pass.
pub fn require_no_foreign_origin(req: &HttpRequest, config: &HttpConfig) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN) {
        None => Ok(()),
        Some(v) => {
            let origin = v.to_str().ok().and_then(crate::normalise_origin);
            if origin.as_deref() == Some(config.public_origin.as_str()) {
                Ok(())
            } else {
                Err(ApiError::ForbiddenOrigin(config.public_origin.clone()))
            }
        }
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
/// The session and the account come from one read of the store.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub principal: Principal,
    /// The caller's account, as it was when the request came in.
    pub user: User,
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
                    require_no_foreign_origin(&req, &state.config)?;
                    (c.value().to_owned(), true)
                }
            };
            let (principal, user) = state.service.authenticate_user(&token).await?;
            Ok(Authenticated {
                principal,
                user,
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

/// A JSON request body: the only way the API reads one. It must be declared `application/json`
/// (or `...+json`), arrive within [`HttpConfig::body_timeout`], fit in
/// [`HttpConfig::max_body_bytes`], and be a JSON object: serde's derived types would also accept
/// an array of the fields in order (`["a@example.com"]` for `{"email": ...}`), which no client of
/// ours sends and no reviewer of a request expects.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.clone());
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let config = config.ok_or(ApiError::Internal)?;
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let limit = config.max_body_bytes;
            if declared.is_some_and(|n| n > limit as u64) {
                return Err(ApiError::PayloadTooLarge);
            }
            let read = async {
                let mut body = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
                while let Some(chunk) = payload.next().await {
                    let chunk =
                        chunk.map_err(|_| ApiError::bad_request("the body could not be read"))?;
                    if body.len() + chunk.len() > limit {
                        return Err(ApiError::PayloadTooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = actix_web::rt::time::timeout(config.body_timeout, read)
                .await
                .map_err(|_| ApiError::BodyTimeout)??;
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(ApiError::bad_request("the body must be a JSON object"));
            }
            serde_json::from_slice(&body)
                .map(JsonBody)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_client_is_read_from_the_right_up_to_the_first_untrusted_hop() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"]);
        // (peer, X-Forwarded-For headers, the client)
        let cases: &[(&str, &[&str], &str)] = &[
            // A peer that is not a proxy is the client, whatever it claims.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("::ffff:203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // A trusted peer without the header is the client itself.
            ("10.0.0.1", &[], "10.0.0.1"),
            // One proxy: the entry it appended.
            ("10.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            // A client's own prefix stays left of the first untrusted hop.
            ("10.0.0.1", &["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
            // Two proxies; hops that are proxies are passed over.
            ("10.0.0.1", &["198.51.100.1, 10.0.0.2"], "198.51.100.1"),
            ("10.0.0.1", &["198.51.100.1,192.0.2.1"], "198.51.100.1"),
            // Several headers are one list, in the order received.
            (
                "10.0.0.1",
                &["1.1.1.1", "198.51.100.1", "10.0.0.2"],
                "198.51.100.1",
            ),
            // Ports are stripped, in every shape.
            ("10.0.0.1", &["198.51.100.1:5678"], "198.51.100.1"),
            ("10.0.0.1", &["[2001:db8::1]:443"], "2001:db8::1"),
            ("10.0.0.1", &["[2001:db8::1]"], "2001:db8::1"),
            ("10.0.0.1", &["2001:db8::1"], "2001:db8::1"),
            (
                "10.0.0.1",
                &["1.1.1.1, 198.51.100.1:80, 10.0.0.2:1234"],
                "198.51.100.1",
            ),
            // IPv4-mapped entries and peers count as IPv4, also for matching proxies.
            ("10.0.0.1", &["::ffff:198.51.100.1"], "198.51.100.1"),
            ("::ffff:10.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            (
                "10.0.0.1",
                &["198.51.100.1, ::ffff:10.0.0.2"],
                "198.51.100.1",
            ),
            // IPv6 proxies by CIDR.
            ("2001:db8:ffff:1::5", &["198.51.100.1"], "198.51.100.1"),
            (
                "2001:db8:ffff:1::5",
                &["2001:db8:1::7, 2001:db8:ffff::9"],
                "2001:db8:1::7",
            ),
            // An unreadable hop stops the reading at the last trusted hop: never what lies left of it.
            ("10.0.0.1", &["198.51.100.1, unknown"], "10.0.0.1"),
            ("10.0.0.1", &["198.51.100.1, 10.0.0.2, garbage"], "10.0.0.1"),
            ("10.0.0.1", &["198.51.100.1, garbage, 10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", &["198.51.100.1,"], "10.0.0.1"),
            ("10.0.0.1", &["198.51.100.1, , 10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", &["1.2.3.4:5678:9"], "10.0.0.1"),
            ("10.0.0.1", &["example.com"], "10.0.0.1"),
            ("10.0.0.1", &["198.51.100.1", ""], "10.0.0.1"),
            // Every hop trusted: the left-most.
            ("10.0.0.1", &["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
        ];
        for (peer, headers, want) in cases {
            assert_eq!(
                forwarded_client(ip(peer), headers, &proxies),
                ip(want),
                "peer {peer}, X-Forwarded-For {headers:?}"
            );
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            forwarded_client(ip("10.0.0.1"), &["198.51.100.1"], &[]),
            ip("10.0.0.1")
        );
    }
}
