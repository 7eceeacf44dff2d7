//! The HTTP layer in process, over the in-memory adapters: bodies that are not JSON objects,
//! bounded metrics labels, the metrics listener, the origin check and the client address.

use crate::app::{World, relaxed};
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, web};
use auth_core::EmailAddress;
use auth_core::mail::Message;
use auth_core::user::DisplayName;
use auth_http::extract::client_info;
use auth_http::{HttpConfig, cookie_names};
use serde_json::{Value, json};

fn world(config: HttpConfig) -> World {
    crate::app::world(relaxed(), config)
}

macro_rules! app {
    ($state:expr) => {
        init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(auth_http::observe))
                .configure(auth_http::configure($state.clone()))
                .default_service(web::to(auth_http::not_found)),
        )
        .await
    };
}

/// A signed-up account's access token, straight from the use cases.
async fn access_token(w: &World) -> String {
    let client = auth_core::service::ClientInfo::new(None, 64, None);
    let started = w
        .state
        .service
        .start_signup(
            EmailAddress::parse("someone@example.com").unwrap(),
            DisplayName::parse("Someone").unwrap(),
            &client,
        )
        .await
        .unwrap();
    let code = w
        .mailer
        .take()
        .into_iter()
        .find_map(|m| match m.message {
            Message::SignupCode { code, .. } => Some(code.expose().to_owned()),
            _ => None,
        })
        .expect("a sign-up code");
    w.state
        .service
        .verify_code(&started.attempt_token, &code, &client)
        .await
        .unwrap()
        .access_token
}

fn json_request(method: &str, path: &str, body: &Value) -> TestRequest {
    TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(serde_json::to_vec(body).unwrap())
}

/// Sends `body` and expects the `invalid_request` problem, with no mail sent.
macro_rules! refused {
    ($app:expr, $w:expr, $req:expr) => {{
        let res = call_service(&$app, $req.to_request()).await;
        let status = res.status();
        let ctype = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = serde_json::from_slice(&read_body(res).await).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(ctype.as_deref(), Some("application/problem+json"));
        assert_eq!(body["code"], "invalid_request", "{body}");
        assert!(
            $w.mailer.take().is_empty(),
            "no mail goes out for a refused body"
        );
    }};
}

const ARRAYS: &[&str] = &[
    r#"["someone@example.com"]"#,
    r#"["a@example.com", "Name"]"#,
    "[]",
    r#"["Name", true]"#,
    " \n [ ] ",
    "\"someone@example.com\"",
    "42",
    "null",
    "true",
];

fn raw(method: &str, path: &str, body: &str) -> TestRequest {
    TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

#[actix_web::test]
async fn code_flow_bodies_must_be_json_objects() {
    let w = world(HttpConfig::default());
    let app = app!(w.state);
    for path in [
        "/v1/signup",
        "/v1/login/email",
        "/v1/recovery",
        "/v1/codes/resend",
        "/v1/codes/verify",
        "/v1/token/refresh",
    ] {
        for body in ARRAYS {
            refused!(app, w, raw("POST", path, body));
        }
    }
    // The object form still works.
    let res = call_service(
        &app,
        json_request(
            "POST",
            "/v1/login/email",
            &json!({ "email": "someone@example.com" }),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn account_bodies_must_be_json_objects() {
    let w = world(HttpConfig::default());
    let token = access_token(&w).await;
    let app = app!(w.state);
    let bearer = ("authorization", format!("Bearer {token}"));
    for (method, path) in [
        ("PATCH", "/v1/me"),
        ("POST", "/v1/me/email"),
        ("POST", "/v1/me/email/verify"),
    ] {
        for body in ARRAYS {
            refused!(
                app,
                w,
                raw(method, path, body).insert_header(bearer.clone())
            );
        }
    }
    let res = call_service(
        &app,
        json_request("PATCH", "/v1/me", &json!({ "display_name": "Renamed" }))
            .insert_header(bearer)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn passkey_bodies_must_be_json_objects() {
    let w = world(HttpConfig::default());
    let token = access_token(&w).await;
    let app = app!(w.state);
    let bearer = ("authorization", format!("Bearer {token}"));
    for (method, path) in [
        ("POST", "/v1/passkeys/register/finish"),
        (
            "PATCH",
            "/v1/me/passkeys/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        for body in ARRAYS {
            refused!(
                app,
                w,
                raw(method, path, body).insert_header(bearer.clone())
            );
        }
    }
    for body in ARRAYS {
        refused!(app, w, raw("POST", "/v1/passkeys/login/finish", body));
    }
}

#[actix_web::test]
async fn bodies_of_the_wrong_type_or_size_keep_their_problems() {
    let w = world(HttpConfig::default());
    let app = app!(w.state);
    let res = call_service(
        &app,
        TestRequest::post()
            .uri("/v1/login/email")
            .insert_header(("content-type", "text/plain"))
            .set_payload("{}")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(r#"{{"email": "{}"}}"#, "a".repeat(20_000));
    let res = call_service(&app, raw("POST", "/v1/login/email", &big).to_request()).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let res = call_service(
        &app,
        raw(
            "POST",
            "/v1/login/email",
            r#"{"email": "a@example.com", "admin": true}"#,
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

fn label_sets(metrics: &str, family: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with(family))
        .filter_map(|l| {
            l.split_once('{')
                .and_then(|(_, rest)| rest.rsplit_once('}'))
        })
        .map(|(labels, _)| labels.to_owned())
        .collect()
}

#[actix_web::test]
async fn metrics_labels_stay_bounded_whatever_the_method_and_path() {
    let w = world(HttpConfig::default());
    let app = app!(w.state);
    for i in 0..200 {
        for (method, path) in [
            (format!("BREW{i}"), "/v1/me".to_owned()),
            (format!("X-{i}"), format!("/nothing/{i}")),
            ("GET".to_owned(), format!("/v1/no/such/{i}?q={i}")),
            ("GET".to_owned(), format!("/v1/profiles/{i}")),
            ("DELETE".to_owned(), format!("/v1/me/sessions/{i}")),
        ] {
            let req = TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&path)
                .to_request();
            let _ = call_service(&app, req).await;
        }
    }
    let text = w.state.metrics.render();
    let series = label_sets(&text, "auth_http_requests_total");
    assert!(series.len() <= 12, "{series:#?}");
    for labels in &series {
        assert!(
            !labels.contains("BREW") && !labels.contains("X-"),
            "{labels}"
        );
        assert!(
            !labels.contains("/nothing") && !labels.contains("/no/such"),
            "{labels}"
        );
    }
    assert!(
        series.iter().any(|l| l.contains("method=\"other\"")
            && l.contains("route=\"/v1/me\"")
            && l.contains("status=\"405\"")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("route=\"unmatched\"") && l.contains("status=\"404\"")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("route=\"/v1/profiles/{id}\"")),
        "{series:#?}"
    );
    let latency = label_sets(&text, "auth_http_request_duration_seconds_bucket");
    let routes: std::collections::BTreeSet<&str> = latency
        .iter()
        .filter_map(|l| l.split(',').find(|p| p.starts_with("route=")))
        .collect();
    assert!(routes.len() <= 4, "{routes:#?}");
}

#[actix_web::test]
async fn metrics_leave_the_api_when_they_have_a_listener_of_their_own() {
    let w = world(HttpConfig {
        metrics_on_api: false,
        ..HttpConfig::default()
    });
    let api = app!(w.state);
    let res = call_service(&api, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let metrics =
        init_service(App::new().configure(auth_http::configure_metrics(w.state.clone()))).await;
    let res = call_service(&metrics, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    assert!(text.contains("auth_http_requests"), "{text}");
    let res = call_service(&metrics, TestRequest::get().uri("/v1/me").to_request()).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "only /metrics is there"
    );

    let w = world(HttpConfig::default());
    let api = app!(w.state);
    let res = call_service(&api, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "by default they are on the API"
    );
}

#[actix_web::test]
async fn a_public_origin_with_upper_case_or_a_default_port_still_accepts_its_own_pages() {
    let origin = auth_http::normalise_origin("HTTPS://Auth.Example.COM:443/").unwrap();
    assert_eq!(origin, "https://auth.example.com");
    let w = world(HttpConfig {
        public_origin: origin,
        ..HttpConfig::default()
    });
    let app = app!(w.state);
    for (sent, status) in [
        ("https://auth.example.com", StatusCode::BAD_REQUEST),
        ("https://AUTH.example.com:443", StatusCode::BAD_REQUEST),
        ("https://auth.example.com:8443", StatusCode::FORBIDDEN),
        ("http://auth.example.com", StatusCode::FORBIDDEN),
        ("https://evil.example.com", StatusCode::FORBIDDEN),
        ("null", StatusCode::FORBIDDEN),
    ] {
        // A cookie-carried attempt token: the origin is checked first, then the token (here
        // garbage, so a same-origin request ends in `attempt_invalid`).
        let res = call_service(
            &app,
            json_request("POST", "/v1/codes/resend", &json!({}))
                .insert_header(("origin", sent))
                .insert_header(("cookie", format!("{}=garbage", cookie_names::ATTEMPT)))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), status, "Origin: {sent}");
    }
}

#[test]
fn origins_are_normalised_or_refused() {
    for (given, want) in [
        ("http://localhost:8080", Some("http://localhost:8080")),
        ("http://LocalHost:8080/", Some("http://localhost:8080")),
        ("HTTP://example.com:80", Some("http://example.com")),
        ("https://example.com:443", Some("https://example.com")),
        ("https://example.com:80", Some("https://example.com:80")),
        ("http://[::1]:8080", Some("http://[::1]:8080")),
        ("http://[::1]", Some("http://[::1]")),
        ("https://[2001:DB8::1]:443", Some("https://[2001:db8::1]")),
        ("https://example.com/path", None),
        ("https://user@example.com", None),
        ("https://example.com:", None),
        ("https://example.com:99999", None),
        ("https://example.com:+80", None),
        ("ftp://example.com", None),
        ("https://", None),
        ("example.com", None),
        ("https://[::1", None),
    ] {
        assert_eq!(
            auth_http::normalise_origin(given).as_deref(),
            want,
            "{given}"
        );
    }
}

#[test]
fn the_client_network_comes_from_a_trusted_proxy_and_the_configured_prefix() {
    let config = HttpConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        v6_prefix: 48,
        ..HttpConfig::default()
    };
    let req = TestRequest::default()
        .peer_addr("[::ffff:10.1.2.3]:40000".parse().unwrap())
        .insert_header(("x-forwarded-for", "1.1.1.1, [2001:db8:1:2::7]:443"))
        .to_http_request();
    let client = client_info(&req, &config);
    assert_eq!(client.ip.as_deref(), Some("2001:db8:1:2::7"));
    assert_eq!(client.network.as_deref(), Some("2001:db8:1::/48"));
    let direct = TestRequest::default()
        .peer_addr("203.0.113.9:40000".parse().unwrap())
        .insert_header(("x-forwarded-for", "1.1.1.1"))
        .to_http_request();
    assert_eq!(
        client_info(&direct, &config).ip.as_deref(),
        Some("203.0.113.9")
    );
}

/// A store whose health check never answers.
struct Hanging;

#[async_trait::async_trait]
impl auth_core::ports::HealthCheck for Hanging {
    fn name(&self) -> &'static str {
        "hanging"
    }

    async fn check(&self) -> Result<(), auth_core::ports::StoreError> {
        std::future::pending().await
    }
}

/// A store that is up.
struct Up;

#[async_trait::async_trait]
impl auth_core::ports::HealthCheck for Up {
    fn name(&self) -> &'static str {
        "up"
    }

    async fn check(&self) -> Result<(), auth_core::ports::StoreError> {
        Ok(())
    }
}

#[actix_web::test]
async fn readyz_answers_within_a_second_when_a_store_hangs() {
    let mut w = crate::app::world(
        relaxed(),
        HttpConfig {
            public_origin: crate::app::ORIGIN.to_owned(),
            ..HttpConfig::default()
        },
    );
    w.state.health = std::sync::Arc::new(vec![
        std::sync::Arc::new(Hanging),
        std::sync::Arc::new(Hanging),
        std::sync::Arc::new(Up),
    ]);
    let app = init_service(App::new().configure(auth_http::configure(w.state.clone()))).await;
    let started = std::time::Instant::now();
    // Bounded, so the test fails instead of hanging when the handler waits for a hung store.
    let reply = actix_web::rt::time::timeout(
        std::time::Duration::from_secs(5),
        crate::app::call("GET", "/readyz").send(&app),
    )
    .await
    .expect("readyz answers while a store hangs");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "readyz took {:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.json["checks"]["hanging"], "unavailable");
    assert_eq!(reply.json["checks"]["up"], "ok");
}
