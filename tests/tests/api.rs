//! The operations endpoints of the real binary: health and readiness over its real SQLite store,
//! and metrics that include the mail queue's. (The OpenAPI document is checked against the routes
//! in process, in `auth-http`'s tests.)

use e2e::Server;

#[test]
fn health_and_readiness_answer() {
    let s = e2e::embedded(&[]);
    let h = s.request("GET", "/healthz", &[], None);
    assert_eq!(h.status, 200);
    let r = s.request("GET", "/readyz", &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ready");
    assert_eq!(r.json["checks"]["sqlite"], "ok");
}

#[test]
fn metrics_count_requests_by_route_and_every_answer_has_a_request_id() {
    // A server of its own: the counts below are exact.
    let s = Server::start();
    let started = s.post(
        "/v1/login/email",
        serde_json::json!({ "email": e2e::unique_email("metrics") }),
    );
    assert_eq!(started.status, 202);
    let id = started.header("x-request-id").expect("a request id");
    assert!(id.len() >= 16, "{id}");
    let echoed = s.request(
        "GET",
        "/healthz",
        &[("x-request-id", "trace-abc_123")],
        None,
    );
    assert_eq!(
        echoed.header("x-request-id"),
        Some("trace-abc_123"),
        "a plain caller id is kept"
    );
    let replaced = s.request(
        "GET",
        "/healthz",
        &[("x-request-id", "bad id\twith spaces")],
        None,
    );
    assert_ne!(replaced.header("x-request-id"), Some("bad id\twith spaces"));
    s.post(
        "/v1/codes/verify",
        serde_json::json!({ "attempt_token": started.json["attempt_token"], "code": "ZZZZ9999" }),
    );

    let m = s.request("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    let text = &m.text;
    assert!(
        text.contains(
            r#"auth_http_requests_total{method="POST",route="/v1/login/email",status="202"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"auth_codes_requested_total{route="/v1/login/email"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"auth_code_verifications_total{outcome="invalid"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("auth_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("auth_mail_queued 1") || text.contains("auth_mail_queued 0"),
        "{text}"
    );
    assert!(text.contains("auth_mail_queue_depth"), "{text}");
    assert!(
        !text.contains("@example.test"),
        "metrics never name an address"
    );
}
