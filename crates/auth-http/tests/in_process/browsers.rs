//! Browsers get `__Host-` cookies instead of tokens in JSON, and cookie-carried credentials only
//! drive a change when the request comes from our own origin.

use crate::app::{ORIGIN, call, last_code, relaxed, spawn_app, unique_email};
use serde_json::json;

#[actix_web::test]
async fn browsers_get_host_cookies_and_must_come_from_our_origin() {
    let app = spawn_app(relaxed()).await;
    let email = unique_email("browser");
    let started = call("POST", "/v1/signup")
        .json(&json!({ "email": email, "display_name": "Cookie Monster" }))
        .send(&app.service)
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let line = &started.set_cookies()["__Host-auth_attempt"];
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(attr), "{line} lacks {attr}");
    }
    assert!(
        !line.contains("Domain="),
        "a __Host- cookie names no domain: {line}"
    );
    let cookie = format!(
        "__Host-auth_attempt={}",
        started.cookie("__Host-auth_attempt").unwrap()
    );
    let body = json!({ "code": last_code(&app.mailer, &email) });

    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut c = call("POST", "/v1/codes/verify").header("cookie", &cookie);
        if let Some(o) = origin {
            c = c.header("origin", o);
        }
        c.json(&body)
            .send(&app.service)
            .await
            .assert_problem(403, "forbidden_origin");
    }

    let ok = call("POST", "/v1/codes/verify")
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .json(&body)
        .send(&app.service)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(
        ok.json.get("refresh_token").is_none(),
        "browsers never see the refresh token in JSON: {}",
        ok.text
    );
    let access = format!(
        "__Host-auth_access={}",
        ok.cookie("__Host-auth_access").expect("access cookie")
    );
    let refresh = format!(
        "__Host-auth_refresh={}",
        ok.cookie("__Host-auth_refresh").expect("refresh cookie")
    );

    let me = call("GET", "/v1/me")
        .header("cookie", &access)
        .send(&app.service)
        .await;
    assert_eq!(me.status, 200, "the access cookie authenticates reads");
    let patch = json!({ "display_name": "Changed" });
    call("PATCH", "/v1/me")
        .header("cookie", &access)
        .header("origin", "https://evil.example")
        .json(&patch)
        .send(&app.service)
        .await
        .assert_problem(403, "forbidden_origin");
    let changed = call("PATCH", "/v1/me")
        .header("cookie", &access)
        .header("origin", ORIGIN)
        .json(&patch)
        .send(&app.service)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);

    let rotated = call("POST", "/v1/token/refresh")
        .header("cookie", &refresh)
        .header("origin", ORIGIN)
        .json(&json!({}))
        .send(&app.service)
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert!(
        rotated.cookie("__Host-auth_refresh").is_some(),
        "a rotated refresh token comes back as a cookie"
    );
}

#[actix_web::test]
async fn bearer_calls_need_no_origin_and_get_tokens_in_json() {
    let app = spawn_app(relaxed()).await;
    let email = unique_email("api");
    let started = call("POST", "/v1/signup")
        .json(&json!({ "email": email, "display_name": "Api Client" }))
        .send(&app.service)
        .await;
    let signed_in = call("POST", "/v1/codes/verify")
        .json(&json!({
            "attempt_token": started.json["attempt_token"],
            "code": last_code(&app.mailer, &email),
        }))
        .send(&app.service)
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let access = signed_in.json["access_token"]
        .as_str()
        .expect("access token");
    assert!(
        signed_in.json["refresh_token"].is_string(),
        "{}",
        signed_in.text
    );
    let changed = call("PATCH", "/v1/me")
        .bearer(access)
        .json(&json!({ "display_name": "Renamed" }))
        .send(&app.service)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["display_name"], "Renamed");
}

#[actix_web::test]
async fn in_development_a_page_opened_at_another_host_goes_to_the_public_url() {
    let app = spawn_app(relaxed()).await;
    for (path, host) in [
        ("/", "127.0.0.1:8080"),
        ("/app.js?v=1", "127.0.0.1:8080"),
        ("/", "[::1]:8080"),
    ] {
        let r = call("GET", path)
            .header("host", host)
            .send(&app.service)
            .await;
        assert_eq!(r.status, 307, "{host}{path}");
        assert_eq!(
            r.header("location"),
            Some(format!("{ORIGIN}{path}").as_str())
        );
    }
    // At the public URL's host the page is served, and the API is never redirected.
    let page = call("GET", "/")
        .header("host", "localhost:8080")
        .send(&app.service)
        .await;
    assert_eq!(page.status, 200);
    let api = call("GET", "/healthz")
        .header("host", "127.0.0.1:8080")
        .send(&app.service)
        .await;
    assert_eq!(api.status, 200);
}

#[actix_web::test]
async fn in_production_a_page_is_not_redirected_by_its_host() {
    let config = auth_http::HttpConfig {
        public_origin: "https://auth.example.com".to_owned(),
        ..auth_http::HttpConfig::default()
    };
    let app = crate::app::spawn_app_with(relaxed(), config).await;
    let page = call("GET", "/")
        .header("host", "10.0.0.5:8080")
        .send(&app.service)
        .await;
    assert_eq!(page.status, 200);
}

#[actix_web::test]
async fn a_refused_origin_is_told_which_address_to_open() {
    let app = spawn_app(relaxed()).await;
    let r = call("POST", "/v1/token/refresh")
        .header("cookie", "__Host-auth_refresh=whatever")
        .header("origin", "http://127.0.0.1:8080")
        .json(&json!({}))
        .send(&app.service)
        .await;
    r.assert_problem(403, "forbidden_origin");
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("open {ORIGIN}")), "{detail}");
}
