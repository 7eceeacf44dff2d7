//! CORS for the JSON API (`/v1/...`), for single-page apps on the origins listed in
//! `server.cors_origins`, with bearer tokens only: no `Access-Control-Allow-Credentials`, so a
//! browser never sends our cookies along nor lets the app read an answer made with them, and
//! [`crate::extract::Authenticated`] refuses a cookie that arrives with a foreign `Origin`.
//! A preflight from an allowed origin is answered here; one from any other origin goes on to the
//! routes, which answer as without CORS (`405 method_not_allowed`, no CORS headers). Every API
//! answer names `Origin` in `Vary` once CORS is configured, since its headers depend on it.
//! Wrap the app with `actix_web::middleware::from_fn(auth_http::cors)`.

use crate::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

/// The methods the API uses.
const METHODS: &str = "GET, POST, PATCH, DELETE";
/// The request headers the API reads (beyond the CORS-safelisted ones).
const HEADERS: &str = "Authorization, Content-Type, X-Request-Id";
/// The answer headers an app may read (beyond the CORS-safelisted ones).
const EXPOSE: &str = "Retry-After, X-Request-Id";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The request's `Origin` when it is one the operator allows for CORS.
fn allowed_origin(req: &ServiceRequest, allowed: &[String]) -> Option<HeaderValue> {
    let value = req.headers().get(header::ORIGIN)?;
    let origin = crate::normalise_origin(value.to_str().ok()?)?;
    allowed.contains(&origin).then(|| value.clone())
}

fn add_vary(headers: &mut HeaderMap, names: &'static str) {
    headers.append(header::VARY, HeaderValue::from_static(names));
}

/// Middleware: CORS on `/v1/...` for `HttpConfig::cors_origins`.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let allowed = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.cors_origins.clone())
        .unwrap_or_default();
    if allowed.is_empty() || !req.path().starts_with("/v1/") {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let origin = allowed_origin(&req, &allowed);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &origin) {
        let mut res = HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
            .finish();
        add_vary(
            res.headers_mut(),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    add_vary(headers, "Origin");
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
    }
    Ok(res.map_into_left_body())
}
