//! Observability: a request id and a log line per request, and the Prometheus metrics served at
//! `/metrics`. Everything is derived from the route pattern and the status, so no handler has to
//! remember to count, and no secret (query, header, body) is ever read.

use crate::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use auth_core::ports::{OsRng, Rng};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Instant;
use tracing::Instrument;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The method as a label: one of the methods the API knows, or `other`. The method is chosen by the
/// client, so taking it as it comes would let anyone add series to `/metrics` without end.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    verifications: Family<OutcomeLabels, Counter>,
    codes_requested: Family<RouteLabels, Counter>,
    rate_limited: Family<RouteLabels, Counter>,
    unavailable: Family<RouteLabels, Counter>,
    hooks: Mutex<Vec<ScrapeHook>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(|_| {})
    }
}

impl Metrics {
    /// The HTTP metrics, plus whatever `extra` registers (the server adds the mail queue's).
    pub fn new(extra: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::with_prefix("auth");
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let verifications = Family::<OutcomeLabels, Counter>::default();
        let codes_requested = Family::<RouteLabels, Counter>::default();
        let rate_limited = Family::<RouteLabels, Counter>::default();
        let unavailable = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "code_verifications",
            "Code verifications by outcome",
            verifications.clone(),
        );
        registry.register(
            "codes_requested",
            "Accepted requests for a code (sign-up, login, recovery, resend, email change)",
            codes_requested.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by route",
            rate_limited.clone(),
        );
        registry.register(
            "store_unavailable",
            "Requests answered 503 because a store was down, by route",
            unavailable.clone(),
        );
        extra(&mut registry);
        Self {
            registry,
            requests,
            latency,
            verifications,
            codes_requested,
            rate_limited,
            unavailable,
            hooks: Mutex::new(Vec::new()),
        }
    }

    /// Runs `hook` before every scrape (to copy counters kept elsewhere into registered gauges).
    pub fn on_scrape(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        for hook in self
            .hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            hook();
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        out
    }

    fn record(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let route_label = RouteLabels {
            route: route.to_owned(),
        };
        self.requests
            .get_or_create(&HttpLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency.get_or_create(&route_label).observe(seconds);
        match status {
            429 => {
                self.rate_limited.get_or_create(&route_label).inc();
            }
            503 => {
                self.unavailable.get_or_create(&route_label).inc();
            }
            202 => {
                self.codes_requested.get_or_create(&route_label).inc();
            }
            _ => {}
        }
        if route == "/v1/codes/verify" || route == "/v1/me/email/verify" {
            let outcome = match status {
                200 => "success",
                400 => "invalid",
                422 => "malformed",
                429 => "rate_limited",
                503 => "unavailable",
                _ => "other",
            };
            self.verifications
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
        }
    }
}

/// A request id: the caller's `X-Request-Id` if it is short and plain, else a fresh one.
fn request_id(req: &ServiceRequest) -> String {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_owned()
        }
        _ => {
            let mut b = [0u8; 12];
            random_bytes(&mut b);
            let mut id = String::with_capacity(24);
            for x in b {
                id.push(char::from(HEX[usize::from(x >> 4)]));
                id.push(char::from(HEX[usize::from(x & 0xf)]));
            }
            id
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Fills `out` from a per-thread stock of random bytes, taken from the OS 4 KiB at a time: a fresh
/// request id for every request without a system call for each.
fn random_bytes(out: &mut [u8]) {
    use std::cell::RefCell;
    const STOCK: usize = 4096;
    thread_local! {
        static STOCKED: RefCell<(usize, Box<[u8; STOCK]>)> = RefCell::new((STOCK, Box::new([0; STOCK])));
    }
    STOCKED.with_borrow_mut(|(used, bytes)| {
        if *used + out.len() > STOCK {
            OsRng.fill(bytes.as_mut_slice());
            *used = 0;
        }
        out.copy_from_slice(&bytes[*used..*used + out.len()]);
        *used += out.len();
    });
}

/// Middleware: request id, one log line per request, and the HTTP metrics. Wrap the app with
/// `actix_web::middleware::from_fn(auth_http::observe)`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    let method = method_label(req.method());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", id = %id, method = %method);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    // The route is the matched pattern (`/v1/me/sessions/{id}`), never the path a client typed;
    // every path that matches no route is one `unmatched` series.
    let (status, route) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
        ),
        Err(e) => (
            e.as_response_error().status_code().as_u16(),
            "unmatched".to_owned(),
        ),
    };
    if let Some(m) = metrics {
        m.record(method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| tracing::info!(route = %route, status, elapsed_ms = elapsed.as_millis() as u64, "request"));
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::collections::HashSet;

    #[test]
    fn fresh_request_ids_are_24_hex_digits_and_never_repeat_across_refills() {
        let req = TestRequest::default().to_srv_request();
        // More ids than one stock of random bytes holds, so the refill is crossed.
        let ids: Vec<String> = (0..1000).map(|_| request_id(&req)).collect();
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(id.bytes().all(|b| HEX.contains(&b)), "{id}");
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn a_plain_caller_id_is_kept_and_anything_else_replaced() {
        let given = TestRequest::default()
            .insert_header(("x-request-id", "trace-abc_123"))
            .to_srv_request();
        assert_eq!(request_id(&given), "trace-abc_123");
        let bad = TestRequest::default()
            .insert_header(("x-request-id", "a b"))
            .to_srv_request();
        assert_eq!(request_id(&bad).len(), 24);
    }
}
