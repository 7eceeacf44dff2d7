//! What only a real process shows: slow clients are cut off, and the metrics can live on a
//! listener of their own.

use e2e::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Writes `head` (and nothing more), then reads until the server closes the connection; returns
/// what it answered and how long that took. Fails if the server holds the connection for 10 s.
fn stall(s: &Server, head: &str) -> (String, Duration) {
    let addr = s.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the connection was still open after {:?}: {e}",
                started.elapsed()
            ),
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_client_that_stops_sending_its_body_is_cut_off_within_the_body_timeout() {
    let s = Server::start_with(&[("AUTH_SERVER__BODY_TIMEOUT", "1s")]);
    let (answer, took) = stall(
        &s,
        "POST /v1/login/email HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{\"email\": \"someone@",
    );
    assert!(took < Duration::from_secs(4), "held for {took:?}: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // The server is still there for everyone else.
    assert_eq!(s.request("GET", "/healthz", &[], None).status, 200);
}

#[test]
fn a_client_that_stops_sending_its_headers_is_cut_off_within_the_body_timeout() {
    let s = Server::start_with(&[("AUTH_SERVER__BODY_TIMEOUT", "1s")]);
    let (answer, took) = stall(&s, "POST /v1/login/email HTTP/1.1\r\nHost: loc");
    assert!(took < Duration::from_secs(4), "held for {took:?}: {answer}");
}

#[test]
fn metrics_bind_moves_the_metrics_off_the_public_listener() {
    let s = Server::start_with(&[("AUTH_SERVER__METRICS_BIND", "127.0.0.1:0")]);
    let metrics = s
        .metrics_base
        .clone()
        .expect("the metrics address is logged");
    assert_ne!(metrics, s.base);
    s.request("GET", "/healthz", &[], None);
    s.request("GET", "/metrics", &[], None)
        .assert_problem(404, "not_found");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(&format!("{metrics}/metrics")).call().unwrap();
    assert_eq!(res.status(), 200);
    let text = res.body_mut().read_to_string().unwrap();
    assert!(text.contains("auth_http_requests"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    assert_eq!(
        agent
            .get(&format!("{metrics}/healthz"))
            .call()
            .unwrap()
            .status(),
        404,
        "the metrics listener serves nothing else"
    );

    let plain = e2e::embedded(&[]);
    assert_eq!(plain.request("GET", "/metrics", &[], None).status, 200);
}
