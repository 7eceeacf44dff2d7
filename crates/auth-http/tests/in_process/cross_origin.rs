//! Other origins of the operator's: `return_to` after a sign-in (only to the origins of
//! `server.allowed_return_origins`, never an open redirect) and CORS on the JSON API (only for
//! `server.cors_origins`, only with bearer tokens, never with our cookies).

use crate::app::{ORIGIN, TestApp, call, relaxed, spawn_app, spawn_app_with, unique_email};
use auth_http::HttpConfig;

const APP: &str = "https://app.example";

async fn configured() -> TestApp<
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
> {
    spawn_app_with(
        relaxed(),
        HttpConfig {
            public_origin: ORIGIN.to_owned(),
            return_origins: vec![APP.to_owned(), "http://localhost:3000".to_owned()],
            cors_origins: vec![APP.to_owned()],
            ..HttpConfig::default()
        },
    )
    .await
}

fn encoded(url: &str) -> String {
    form_urlencoded::byte_serialize(url.as_bytes()).collect()
}

#[actix_web::test]
async fn return_to_follows_only_the_allowed_origins() {
    let app = configured().await;
    for (to, expected) in [
        (
            "https://app.example/signed-in?x=1",
            "https://app.example/signed-in?x=1",
        ),
        ("https://APP.example:443", "https://app.example/"),
        ("http://localhost:3000/cb", "http://localhost:3000/cb"),
    ] {
        let r = app
            .send(call("GET", &format!("/ui/return?to={}", encoded(to))))
            .await;
        assert_eq!(r.status, 303, "{to}");
        assert_eq!(r.header("location"), Some(expected), "{to}");
    }
    for to in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "https://app.example@evil.example/",
        "https://app.example%2F@evil.example/",
        "https://evil.example\\@app.example/",
        "https://app.example.evil.example/",
        "http://app.example/",
        "https%3A%2F%2Fevil.example",
        "",
    ] {
        let r = app
            .send(call("GET", &format!("/ui/return?to={}", encoded(to))))
            .await;
        assert_eq!(r.status, 303, "{to}");
        assert_eq!(r.header("location"), Some("/"), "{to} must not be followed");
    }
    // Twice encoded: decoded once, it is still not a URL of an allowed origin.
    let twice = encoded(&encoded("https://evil.example/"));
    let r = app
        .send(call("GET", &format!("/ui/return?to={twice}")))
        .await;
    assert_eq!(r.header("location"), Some("/"));
    let r = app.send(call("GET", "/ui/return")).await;
    assert_eq!(r.header("location"), Some("/"));
}

#[actix_web::test]
async fn return_to_goes_nowhere_when_no_origin_is_allowed() {
    let app = spawn_app(relaxed()).await;
    let r = app
        .send(call(
            "GET",
            &format!("/ui/return?to={}", encoded("https://app.example/")),
        ))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
}

fn preflight(path: &str, origin: &str) -> crate::app::Call {
    call("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
}

#[actix_web::test]
async fn an_allowed_origin_gets_a_preflight_answer_without_credentials() {
    let app = configured().await;
    for path in [
        "/v1/me",
        "/v1/me/sessions/00000000-0000-0000-0000-000000000000",
    ] {
        let r = app.send(preflight(path, APP)).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
        assert_eq!(r.header("access-control-allow-origin"), Some(APP));
        let methods = r.header("access-control-allow-methods").unwrap_or_default();
        for m in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(methods.contains(m), "{methods} lacks {m}");
        }
        let headers = r
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{headers}"
        );
        assert!(r.header("access-control-max-age").is_some());
        assert_eq!(
            r.header("access-control-allow-credentials"),
            None,
            "never with cookies"
        );
        assert!(r.header("vary").unwrap_or_default().contains("Origin"));
    }
}

#[actix_web::test]
async fn other_origins_get_no_cors_answer() {
    let app = configured().await;
    for origin in [
        "https://evil.example",
        "https://app.example.evil.example",
        "null",
        "http://app.example",
    ] {
        let r = app.send(preflight("/v1/me", origin)).await;
        r.assert_problem(405, "method_not_allowed");
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin}");
        assert_eq!(r.header("access-control-allow-methods"), None, "{origin}");
    }
    // Without configured origins, even the app's preflight is refused as before.
    let plain = spawn_app(relaxed()).await;
    let r = plain.send(preflight("/v1/me", APP)).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("access-control-allow-origin"), None);
    // Outside the JSON API there is no CORS.
    let r = app.send(preflight("/oauth2/token", APP)).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn an_allowed_origin_reads_with_a_bearer_token_but_never_with_our_cookie() {
    let app = configured().await;
    let signed_up = app.sign_up(&unique_email("cors"), "Cora Cors").await;
    let token = signed_up.json["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let r = app
        .send(call("GET", "/v1/me").bearer(&token).header("origin", APP))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    assert!(
        r.header("access-control-expose-headers")
            .unwrap_or_default()
            .contains("Retry-After")
    );
    assert!(r.header("vary").unwrap_or_default().contains("Origin"));
    // An error answer carries the CORS headers too, so the app can read the problem.
    let r = app.send(call("GET", "/v1/me").header("origin", APP)).await;
    r.assert_problem(401, "unauthorized");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));

    // The same token as our access cookie, sent along by a script on another origin (allowed or
    // not, read or change): not authenticated by it.
    let cookie = format!("{}={token}", auth_http::cookie_names::ACCESS);
    for origin in [APP, "https://evil.example"] {
        for method in ["GET", "PATCH"] {
            let mut c = call(method, "/v1/me")
                .header("cookie", &cookie)
                .header("origin", origin);
            if method == "PATCH" {
                c = c.json(&serde_json::json!({ "display_name": "Taken" }));
            }
            app.send(c).await.assert_problem(403, "forbidden_origin");
        }
    }
    // Our own page's reads (no Origin on a same-origin GET, or our own) still use the cookie.
    let own = app
        .send(call("GET", "/v1/me").header("cookie", &cookie))
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let own = app
        .send(
            call("GET", "/v1/me")
                .header("cookie", &cookie)
                .header("origin", ORIGIN),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    // Without CORS configured, a foreign answer names no origin either.
    assert_eq!(own.header("access-control-allow-origin"), None);
}
