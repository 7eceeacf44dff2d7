//! The admin API of the real binary on its own listener (`server.admin_bind`), with a token read
//! from a file: refused without the token, served with it, absent from the public listener, and a
//! disable through it ends the account's session at once.

use e2e::{Reply, Server, unique_email};

const TOKEN: &str = "e2e-admin-token-0123456789abcdefghijklmnop";

fn admin(base: &str, method: &str, path: &str, token: Option<&str>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    Reply::from(
        agent
            .run(req.body(()).expect("request"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}")),
    )
}

#[test]
fn the_admin_api_serves_operators_with_a_token_on_its_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    // A free port for the admin listener (the log names only the main listener's port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let tokens = format!("[{{id=\"ops\",file=\"{}\"}}]", token_file.display());
    let s = Server::start_with(&[
        ("AUTH_SERVER__ADMIN_BIND", &bind),
        ("AUTH_ADMIN__TOKENS", &tokens),
    ]);
    let base = format!("http://{bind}");

    let email = unique_email("admin-e2e");
    let session = s.sign_up(&email, "Operated");

    for token in [None, Some("wrong")] {
        admin(&base, "GET", "/admin/v1/users", token).assert_problem(401, "unauthorized");
    }
    let doc = admin(&base, "GET", "/admin/v1/openapi.json", None);
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/admin/v1/users/{id}/disable"]["post"].is_object());
    assert_eq!(
        s.authed("GET", "/admin/v1/users", TOKEN, None).status,
        404,
        "not on the public listener"
    );

    let found = admin(
        &base,
        "GET",
        &format!("/admin/v1/users?query={email}"),
        Some(TOKEN),
    );
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["users"][0]["email"], email.as_str());
    let id = found.json["users"][0]["id"].as_str().unwrap().to_owned();

    let disabled = admin(
        &base,
        "POST",
        &format!("/admin/v1/users/{id}/disable"),
        Some(TOKEN),
    );
    assert_eq!(disabled.json["changed"], true, "{}", disabled.text);
    assert_eq!(
        s.authed("GET", "/v1/me", &session.access, None).status,
        401,
        "the session ended at once"
    );
    let notice = s.mail_to(&email);
    assert!(
        notice.subject.contains("was disabled"),
        "{}",
        notice.subject
    );
    let audit = admin(
        &base,
        "GET",
        &format!("/admin/v1/audit?user={id}&kind=account_disabled"),
        Some(TOKEN),
    );
    assert_eq!(
        audit.json["events"][0]["detail"], "by token ops",
        "{}",
        audit.text
    );
}
