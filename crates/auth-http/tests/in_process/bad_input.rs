//! Bad input of every family gets a clear 4xx `problem+json` answer: never a panic, a 5xx, or an
//! internal detail; and refused input sends no mail and changes nothing.

use crate::app::{ORIGIN, Reply, call, last_code, relaxed, spawn_app, unique_email};
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

#[actix_web::test]
async fn bodies_that_are_too_large_of_the_wrong_type_or_malformed_are_refused() {
    let app = spawn_app(relaxed()).await;
    let huge = json!({ "email": format!("{}@example.com", "a".repeat(40_000)) });
    app.send(call("POST", "/v1/login/email").json(&huge))
        .await
        .assert_problem(413, "payload_too_large");
    app.send(call("POST", "/v1/login/email").raw("text/plain", "email=a@example.com"))
        .await
        .assert_problem(415, "unsupported_media_type");
    for body in [
        &b"{"[..],
        b"null",
        b"[]",
        b"\"a@example.com\"",
        b"{\"email\": }",
        b"\xff\xfe",
        b"",
    ] {
        let r = app
            .send(call("POST", "/v1/login/email").raw("application/json", body))
            .await;
        clean_4xx(&r);
        assert_eq!(r.json["code"], "invalid_request", "{}", r.text);
    }
    let r = app
        .send(
            call("POST", "/v1/login/email")
                .json(&json!({ "email": "a@example.com", "admin": true })),
        )
        .await;
    r.assert_problem(400, "invalid_request");
    assert!(
        r.json["detail"].as_str().unwrap().contains("unknown field"),
        "{}",
        r.text
    );
    app.send(call("POST", "/v1/signup").json(&json!({ "email": "a@example.com" })))
        .await
        .assert_problem(400, "invalid_request");
    assert!(app.mailer.take().is_empty(), "no mail goes out");
}

#[actix_web::test]
async fn json_bodies_must_be_objects_not_arrays_of_their_fields() {
    let app = spawn_app(relaxed()).await;
    let session = app.sign_up(&unique_email("arrays"), "Arrays").await;
    let access = session.json["access_token"].as_str().unwrap().to_owned();
    let refresh = session.json["refresh_token"].clone();
    app.mailer.take();
    for (path, body) in [
        ("/v1/login/email", json!(["someone@example.com"])),
        ("/v1/recovery", json!(["someone@example.com"])),
        ("/v1/signup", json!(["a@example.com", "Name"])),
        ("/v1/codes/verify", json!(["token", "ABCD2345"])),
        ("/v1/token/refresh", json!([refresh])),
    ] {
        let r = app.send(call("POST", path).json(&body)).await;
        clean_4xx(&r);
        r.assert_problem(400, "invalid_request");
    }
    for (method, path, body) in [
        ("PATCH", "/v1/me", json!([])),
        ("PATCH", "/v1/me", json!(["Name", true])),
        ("POST", "/v1/me/email", json!(["new@example.com"])),
    ] {
        let r = app
            .send(call(method, path).bearer(&access).json(&body))
            .await;
        clean_4xx(&r);
        r.assert_problem(400, "invalid_request");
    }
    let me = app.send(call("GET", "/v1/me").bearer(&access)).await;
    assert_eq!(
        me.json["display_name"], "Arrays",
        "the profile is unchanged"
    );
    assert!(app.mailer.take().is_empty(), "no mail went out");
}

#[actix_web::test]
async fn anything_but_exactly_one_address_is_refused() {
    let app = spawn_app(relaxed()).await;
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
        let r = app
            .send(call("POST", "/v1/login/email").json(&json!({ "email": email })))
            .await;
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
        app.send(call("POST", "/v1/login/email").json(&json!({ "email": email })))
            .await
            .assert_problem(400, "invalid_request");
    }
    let signup = |name: &str| {
        call("POST", "/v1/signup").json(&json!({ "email": "a@example.com", "display_name": name }))
    };
    app.send(signup(&"x".repeat(65)))
        .await
        .assert_problem(422, "invalid_display_name");
    app.send(signup("bad\u{202e}name"))
        .await
        .assert_problem(422, "invalid_display_name");
    for invisible in ["\u{200b}", "\u{3164}", "\u{200b}\u{200d}\u{2060}"] {
        app.send(signup(invisible))
            .await
            .assert_problem(422, "invalid_display_name");
    }
    assert!(
        app.mailer.take().is_empty(),
        "no mail goes out for refused input"
    );
}

#[actix_web::test]
async fn codes_of_the_wrong_length_or_alphabet_are_refused_without_spending_a_guess() {
    let app = spawn_app(relaxed()).await;
    let email = unique_email("format");
    app.sign_up(&email, "Format").await;
    let started = app
        .send(call("POST", "/v1/login/email").json(&json!({ "email": email })))
        .await;
    let code = last_code(&app.mailer, &email);
    let long = "A".repeat(10_000);
    for bad in [
        "",
        "ABC",
        "ABCD12345",
        "ABCD123!",
        "ABCD123É",
        "        ",
        &long,
    ] {
        let r = app
            .send(
                call("POST", "/v1/codes/verify")
                    .json(&json!({ "attempt_token": started.json["attempt_token"], "code": bad })),
            )
            .await;
        clean_4xx(&r);
        assert_eq!(r.json["code"], "invalid_code_format", "{bad:?}: {}", r.text);
    }
    // None of that counted as a guess; a lower-case, spaced code still works.
    let typed = format!("{} {}", code[..4].to_lowercase(), &code[4..]);
    app.verify(&started, &typed).await;
}

#[actix_web::test]
async fn garbage_tampered_and_foreign_tokens_are_refused() {
    let app = spawn_app(relaxed()).await;
    let session = app.sign_up(&unique_email("tokens"), "Tokens").await;
    let access = session.json["access_token"].as_str().unwrap().to_owned();
    let refresh = session.json["refresh_token"].as_str().unwrap().to_owned();
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    let parts: Vec<&str> = access.split('.').collect();
    let none_alg = format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{}.", parts[1]);
    let long = "x".repeat(5000);
    for token in ["garbage", "a.b.c", &tampered, &none_alg, &refresh, &long] {
        let r = app.send(call("GET", "/v1/me").bearer(token)).await;
        clean_4xx(&r);
        r.assert_problem(401, "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let empty = app
        .send(call("GET", "/v1/me").header("authorization", "Bearer "))
        .await;
    empty.assert_problem(401, "unauthorized");
    app.send(call("GET", "/v1/me").header("authorization", "Basic dXNlcjpwYXNz"))
        .await
        .assert_problem(401, "unauthorized");
    app.send(call("GET", "/v1/me").header("cookie", "__Host-auth_access=garbage"))
        .await
        .assert_problem(401, "unauthorized");
    // An access token is not an attempt token, nor a refresh token.
    app.send(
        call("POST", "/v1/codes/verify")
            .json(&json!({ "attempt_token": access, "code": "ABCD2345" })),
    )
    .await
    .assert_problem(400, "code_invalid");
    for bad in ["", "garbage", &access, &"A".repeat(43)] {
        app.send(call("POST", "/v1/token/refresh").json(&json!({ "refresh_token": bad })))
            .await
            .assert_problem(401, "refresh_invalid");
    }
    app.send(
        call("POST", "/v1/token/refresh")
            .header("cookie", "__Host-auth_refresh=%%%")
            .header("origin", ORIGIN)
            .json(&json!({})),
    )
    .await
    .assert_problem(401, "refresh_invalid");
    app.send(call("POST", "/v1/codes/resend").json(&json!({ "attempt_token": "garbage" })))
        .await
        .assert_problem(400, "attempt_invalid");
    app.send(call("POST", "/v1/codes/resend").json(&json!({})))
        .await
        .assert_problem(400, "attempt_invalid");
}

#[actix_web::test]
async fn absurd_pagination_and_paths_are_refused() {
    let app = spawn_app(relaxed()).await;
    let session = app.sign_up(&unique_email("paging"), "Pager").await;
    let access = session.json["access_token"].as_str().unwrap().to_owned();
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
        app.send(call("GET", &format!("/v1/profiles?{q}")))
            .await
            .assert_problem(400, "invalid_request");
        let r = app
            .send(call("GET", &format!("/v1/me/activity?{q}")).bearer(&access))
            .await;
        clean_4xx(&r);
    }
    for path in [
        "/v1/profiles/not-a-uuid",
        "/v1/nothing",
        "/v1/profiles/00000000-0000-0000-0000-000000000000",
    ] {
        app.send(call("GET", path))
            .await
            .assert_problem(404, "not_found");
    }
    app.send(call("DELETE", "/v1/me/sessions/not-a-uuid").bearer(&access))
        .await
        .assert_problem(404, "not_found");
    app.send(call("PUT", "/v1/login/email"))
        .await
        .assert_problem(405, "method_not_allowed");
    app.send(call("GET", "/v1/codes/verify"))
        .await
        .assert_problem(405, "method_not_allowed");
}

#[actix_web::test]
async fn security_headers_are_on_every_answer() {
    let app = spawn_app(relaxed()).await;
    for r in [
        app.send(call("GET", "/healthz")).await,
        app.send(call("GET", "/nope")).await,
        app.send(call("POST", "/v1/login/email").json(&json!({ "email": "x" })))
            .await,
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

#[actix_web::test]
async fn a_bad_undo_link_body_is_a_problem_like_every_other_body() {
    let app = spawn_app(relaxed()).await;
    for token in ["", "short", &"A".repeat(43)] {
        app.send(call("POST", "/v1/email/revert").json(&json!({ "token": token })))
            .await
            .assert_problem(400, "revert_invalid");
    }
    for body in [json!({ "token": 7 }), json!({}), json!(["token"])] {
        let r = app.send(call("POST", "/v1/email/revert").json(&body)).await;
        clean_4xx(&r);
        r.assert_problem(400, "invalid_request");
    }
}
