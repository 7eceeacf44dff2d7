//! Bad input of every family gets a clear 4xx `problem+json` answer: never a panic, a 5xx, or an
//! internal detail.

use e2e::{Reply, Server, unique_email};
use serde_json::json;

#[track_caller]
fn clean_4xx(r: &Reply) {
    assert!(
        (400..500).contains(&r.status),
        "expected a 4xx, got {}: {}",
        r.status,
        r.text
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.text
    );
    let lower = r.text.to_lowercase();
    for leak in [
        "panick",
        "sqlx",
        "sqlite",
        "backtrace",
        "src/",
        ".rs:",
        "actix",
        "thread",
    ] {
        assert!(
            !lower.contains(leak),
            "the answer leaks `{leak}`: {}",
            r.text
        );
    }
}

#[test]
fn bodies_that_are_too_large_of_the_wrong_type_or_malformed_are_refused() {
    let s = Server::start();
    let huge = json!({ "email": format!("{}@example.com", "a".repeat(40_000)) });
    let r = s.post("/v1/login/email", huge);
    r.assert_problem(413, "payload_too_large");
    let r = s.raw(
        "POST",
        "/v1/login/email",
        "text/plain",
        b"email=a@example.com",
    );
    r.assert_problem(415, "unsupported_media_type");
    for body in [
        &b"{"[..],
        b"null",
        b"[]",
        b"\"a@example.com\"",
        b"{\"email\": }",
        b"\xff\xfe",
        b"",
    ] {
        let r = s.raw("POST", "/v1/login/email", "application/json", body);
        clean_4xx(&r);
        assert_eq!(r.json["code"], "invalid_request", "{}", r.text);
    }
    let r = s.post(
        "/v1/login/email",
        json!({ "email": "a@example.com", "admin": true }),
    );
    r.assert_problem(400, "invalid_request");
    assert!(
        r.json["detail"].as_str().unwrap().contains("unknown field"),
        "{}",
        r.text
    );
    let r = s.post("/v1/signup", json!({ "email": "a@example.com" }));
    r.assert_problem(400, "invalid_request");
}

#[test]
fn json_bodies_must_be_objects_not_arrays_of_their_fields() {
    let s = Server::start();
    let session = s.sign_up(&unique_email("arrays"), "Arrays");
    let before = std::fs::read_dir(s.outbox()).map_or(0, |d| d.count());
    for (path, body) in [
        ("/v1/login/email", json!(["someone@example.com"])),
        ("/v1/recovery", json!(["someone@example.com"])),
        ("/v1/signup", json!(["a@example.com", "Name"])),
        ("/v1/codes/verify", json!(["token", "ABCD2345"])),
        ("/v1/token/refresh", json!([session.refresh])),
    ] {
        let r = s.post(path, body);
        clean_4xx(&r);
        r.assert_problem(400, "invalid_request");
    }
    for (method, path, body) in [
        ("PATCH", "/v1/me", json!([])),
        ("PATCH", "/v1/me", json!(["Name", true])),
        ("POST", "/v1/me/email", json!(["new@example.com"])),
    ] {
        let r = s.authed(method, path, &session.access, Some(body));
        clean_4xx(&r);
        r.assert_problem(400, "invalid_request");
    }
    let me = s.authed("GET", "/v1/me", &session.access, None);
    assert_eq!(
        me.json["display_name"], "Arrays",
        "the profile is unchanged"
    );
    assert_eq!(
        std::fs::read_dir(s.outbox()).map_or(0, |d| d.count()),
        before,
        "no mail went out"
    );
}

#[test]
fn anything_but_exactly_one_address_is_refused() {
    let s = Server::start();
    for email in [
        json!("a@example.com,b@example.com"),
        json!("a@example.com; b@example.com"),
        json!("a@example.com b@example.com"),
        json!("Bob <bob@example.com>"),
        json!("not an email"),
        json!(format!("{}@example.com", "a".repeat(70))),
        json!(format!("a@{}.com", "b".repeat(250))),
        json!("a@example.com\r\nBcc: victim@example.com"),
        json!(""),
    ] {
        let r = s.post("/v1/login/email", json!({ "email": email }));
        clean_4xx(&r);
        assert_eq!(r.status, 422, "{email}: {}", r.text);
        assert_eq!(r.json["code"], "invalid_email");
    }
    for email in [
        json!(["a@example.com", "b@example.com"]),
        json!({ "address": "a@example.com" }),
        json!(42),
        json!(null),
    ] {
        let r = s.post("/v1/login/email", json!({ "email": email }));
        r.assert_problem(400, "invalid_request");
    }
    let r = s.post(
        "/v1/signup",
        json!({ "email": "a@example.com", "display_name": "x".repeat(65) }),
    );
    r.assert_problem(422, "invalid_display_name");
    let r = s.post(
        "/v1/signup",
        json!({ "email": "a@example.com", "display_name": "bad\u{202e}name" }),
    );
    r.assert_problem(422, "invalid_display_name");
    for invisible in ["\u{200b}", "\u{3164}", "\u{200b}\u{200d}\u{2060}"] {
        let r = s.post(
            "/v1/signup",
            json!({ "email": "a@example.com", "display_name": invisible }),
        );
        r.assert_problem(422, "invalid_display_name");
    }
    assert!(
        std::fs::read_dir(s.outbox())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no mail goes out for refused input"
    );
}

#[test]
fn codes_of_the_wrong_length_or_alphabet_are_refused_without_spending_a_guess() {
    let s = Server::start();
    let email = unique_email("format");
    s.sign_up(&email, "Format");
    let started = s.post("/v1/login/email", json!({ "email": email }));
    let code = s.mail_to(&email).code().unwrap();
    for bad in [
        "",
        "ABC",
        "ABCD12345",
        "ABCD123!",
        "ABCD123É",
        "        ",
        &"A".repeat(10_000),
    ] {
        let r = s.post(
            "/v1/codes/verify",
            json!({ "attempt_token": started.json["attempt_token"], "code": bad }),
        );
        clean_4xx(&r);
        assert_eq!(r.json["code"], "invalid_code_format", "{bad:?}: {}", r.text);
    }
    // None of that counted as a guess; a lower-case, spaced code still works.
    let typed = format!("{} {}", code[..4].to_lowercase(), &code[4..]);
    let ok = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": started.json["attempt_token"], "code": typed }),
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[test]
fn garbage_tampered_and_foreign_tokens_are_refused() {
    let s = Server::start();
    let session = s.sign_up(&unique_email("tokens"), "Tokens");
    let mut tampered = session.access.clone();
    tampered.pop();
    tampered.push(if session.access.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let parts: Vec<&str> = session.access.split('.').collect();
    let none_alg = format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{}.", parts[1]);
    for token in [
        "",
        "garbage",
        "a.b.c",
        &tampered,
        &none_alg,
        &session.refresh,
        &"x".repeat(5000),
    ] {
        let r = s.authed("GET", "/v1/me", token, None);
        clean_4xx(&r);
        r.assert_problem(401, "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = s.request(
        "GET",
        "/v1/me",
        &[("authorization", "Basic dXNlcjpwYXNz")],
        None,
    );
    r.assert_problem(401, "unauthorized");
    let r = s.request(
        "GET",
        "/v1/me",
        &[("cookie", "__Host-auth_access=garbage")],
        None,
    );
    r.assert_problem(401, "unauthorized");
    // An access token is not an attempt token, nor a refresh token.
    let r = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": session.access, "code": "ABCD2345" }),
    );
    r.assert_problem(400, "code_invalid");
    for refresh in ["", "garbage", &session.access, &"A".repeat(43)] {
        let r = s.post("/v1/token/refresh", json!({ "refresh_token": refresh }));
        r.assert_problem(401, "refresh_invalid");
    }
    let r = s.request(
        "POST",
        "/v1/token/refresh",
        &[
            ("cookie", "__Host-auth_refresh=%%%"),
            ("origin", s.origin()),
        ],
        Some(&json!({})),
    );
    r.assert_problem(401, "refresh_invalid");
    let r = s.post("/v1/codes/resend", json!({ "attempt_token": "garbage" }));
    r.assert_problem(400, "attempt_invalid");
    let r = s.post("/v1/codes/resend", json!({}));
    r.assert_problem(400, "attempt_invalid");
}

#[test]
fn absurd_pagination_and_paths_are_refused() {
    let s = Server::start();
    let session = s.sign_up(&unique_email("paging"), "Pager");
    for q in [
        "limit=0",
        "limit=-1",
        "limit=101",
        "limit=100000000000000000000",
        "limit=abc",
        "limit=1.5",
        "after=garbage",
        "cursor=x",
    ] {
        let r = s.request("GET", &format!("/v1/profiles?{q}"), &[], None);
        r.assert_problem(400, "invalid_request");
        let r = s.authed(
            "GET",
            &format!("/v1/me/activity?{q}"),
            &session.access,
            None,
        );
        clean_4xx(&r);
    }
    for path in [
        "/v1/profiles/not-a-uuid",
        "/v1/nothing",
        "/v1/profiles/00000000-0000-0000-0000-000000000000",
    ] {
        s.request("GET", path, &[], None)
            .assert_problem(404, "not_found");
    }
    s.authed(
        "DELETE",
        "/v1/me/sessions/not-a-uuid",
        &session.access,
        None,
    )
    .assert_problem(404, "not_found");
    s.request("PUT", "/v1/login/email", &[], None)
        .assert_problem(405, "method_not_allowed");
    s.request("GET", "/v1/codes/verify", &[], None)
        .assert_problem(405, "method_not_allowed");
}

#[test]
fn security_headers_are_on_every_answer() {
    let s = Server::start();
    for r in [
        s.request("GET", "/healthz", &[], None),
        s.request("GET", "/nope", &[], None),
        s.post("/v1/login/email", json!({ "email": "x" })),
    ] {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert!(
            r.header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors 'none'"))
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}
