//! The admin API in process: every call needs a configured bearer token (a missing and a wrong one
//! get the same 401), accounts are listed, shown, disabled, enabled, signed out and deleted with
//! the token's id in their audit events, audit events are searched across accounts, and the
//! admin document describes exactly the routes it serves.

use crate::app::{Reply, call, last_code, relaxed, unique_email, world};
use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test, web};
use auth_core::service::AdminTokens;
use auth_http::HttpConfig;
use auth_http::admin::{AdminState, configure_admin};
use auth_memory::MemoryMailer;
use std::sync::Arc;

/// Signs up `email` by code on the public API; the verify answer.
async fn sign_up<S, B>(public: &S, mailer: &MemoryMailer, email: &str, name: &str) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let started = call("POST", "/v1/signup")
        .json(&serde_json::json!({ "email": email, "display_name": name }))
        .send(public)
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let done = call("POST", "/v1/codes/verify")
        .json(&serde_json::json!({
            "attempt_token": started.json["attempt_token"],
            "code": last_code(mailer, email),
        }))
        .send(public)
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    done
}

const TOKEN: &str = "an-admin-token-that-is-long-enough-0123456789";

macro_rules! admin_app {
    ($w:ident, $admin:ident, $public:ident) => {
        let $w = world(
            relaxed(),
            HttpConfig {
                public_origin: crate::app::ORIGIN.to_owned(),
                ..HttpConfig::default()
            },
        );
        let $admin = test::init_service(
            App::new()
                .wrap(auth_http::security_headers(&$w.state.config))
                .configure(configure_admin(AdminState {
                    service: $w.state.service.clone(),
                    directory: Arc::new($w.store.clone()),
                    tokens: AdminTokens::new([("ops", TOKEN)]),
                }))
                .default_service(web::to(auth_http::not_found)),
        )
        .await;
        let $public = test::init_service(
            App::new()
                .configure(auth_http::configure($w.state.clone()))
                .default_service(web::to(auth_http::not_found)),
        )
        .await;
    };
}

#[actix_web::test]
async fn without_the_right_token_every_operation_is_the_same_401() {
    admin_app!(w, admin, _public);
    let id = "00000000-0000-0000-0000-000000000000";
    let mut answers = Vec::new();
    for (method, path) in [
        ("GET", "/admin/v1/users".to_owned()),
        ("GET", format!("/admin/v1/users/{id}")),
        ("POST", format!("/admin/v1/users/{id}/disable")),
        ("DELETE", format!("/admin/v1/users/{id}")),
        ("GET", "/admin/v1/audit".to_owned()),
    ] {
        for auth in [None, Some("wrong"), Some(""), Some(&TOKEN[1..])] {
            let mut c = call(method, &path);
            if let Some(t) = auth {
                c = c.bearer(t);
            }
            let r = c.send(&admin).await;
            r.assert_problem(401, "unauthorized");
            answers.push(r.json.to_string());
        }
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer for every refusal: {answers:?}"
    );
    let _ = w;
}

#[actix_web::test]
async fn an_operator_lists_disables_enables_and_deletes_accounts_with_an_audit_trail() {
    admin_app!(w, admin, public);
    let email = unique_email("admin");
    let signed = sign_up(&public, &w.mailer, &email, "Ada Admin").await;
    let access = signed.json["access_token"].as_str().unwrap().to_owned();
    let id = signed.json["user"]["id"].as_str().unwrap().to_owned();

    let list = call("GET", "/admin/v1/users?query=ADA%20ADMIN")
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["users"][0]["email"], email.as_str());
    let shown = call("GET", &format!("/admin/v1/users/{id}"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(shown.json["active_sessions"], 1);
    assert_eq!(shown.json["disabled_at"], serde_json::Value::Null);

    let r = call("POST", &format!("/admin/v1/users/{id}/disable"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(r.json["changed"], true, "{}", r.text);
    let me = call("GET", "/v1/me").bearer(&access).send(&public).await;
    me.assert_problem(401, "unauthorized");
    let again = call("POST", &format!("/admin/v1/users/{id}/disable"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(again.json["changed"], false);
    let r = call("POST", &format!("/admin/v1/users/{id}/enable"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(r.json["changed"], true);

    let audit = call(
        "GET",
        &format!("/admin/v1/audit?user={id}&kind=account_disabled"),
    )
    .bearer(TOKEN)
    .send(&admin)
    .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    let events = audit.json["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["detail"], "by token ops",
        "the token's id is the operator"
    );
    let all = call("GET", &format!("/admin/v1/audit?user={id}"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    let kinds: Vec<&str> = all.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"account_enabled") && kinds.contains(&"signed_up"),
        "{kinds:?}"
    );

    let r = call("POST", &format!("/admin/v1/users/{id}/sessions/revoke"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(r.status, 200);
    let r = call("DELETE", &format!("/admin/v1/users/{id}"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    assert_eq!(r.status, 204);
    let gone = call("GET", &format!("/admin/v1/users/{id}"))
        .bearer(TOKEN)
        .send(&admin)
        .await;
    gone.assert_problem(404, "not_found");
    let kinds: Vec<_> = w
        .mailer
        .take()
        .into_iter()
        .map(|m| m.message.kind())
        .collect();
    for k in [
        "account_disabled",
        "account_enabled",
        "account_deleted_by_operator",
    ] {
        assert!(kinds.contains(&k), "{k} mailed: {kinds:?}");
    }
}

#[actix_web::test]
async fn bad_queries_are_400_and_unknown_ids_404() {
    admin_app!(w, admin, _public);
    for path in [
        "/admin/v1/users?limit=0",
        "/admin/v1/users?after=nope",
        "/admin/v1/users?unknown=1",
        "/admin/v1/audit?kind=no_such_kind",
        "/admin/v1/audit?user=nope",
        "/admin/v1/audit?from=yesterday",
    ] {
        call("GET", path)
            .bearer(TOKEN)
            .send(&admin)
            .await
            .assert_problem(400, "invalid_request");
    }
    for (method, path) in [
        ("GET", "/admin/v1/users/not-an-id"),
        (
            "POST",
            "/admin/v1/users/00000000-0000-0000-0000-000000000000/enable",
        ),
        (
            "DELETE",
            "/admin/v1/users/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        call(method, path)
            .bearer(TOKEN)
            .send(&admin)
            .await
            .assert_problem(404, "not_found");
    }
    let _ = w;
}

#[actix_web::test]
async fn the_admin_document_describes_exactly_the_admin_routes() {
    admin_app!(w, admin, public);
    let doc = call("GET", "/admin/v1/openapi.json").send(&admin).await;
    assert_eq!(doc.status, 200);
    let paths = doc.json["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, ops) in paths {
        assert!(path.starts_with("/admin/v1/"), "{path}");
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in ops.as_object().unwrap().keys() {
            let r = call(&method.to_uppercase(), &concrete)
                .bearer(TOKEN)
                .send(&admin)
                .await;
            assert_ne!(r.json["code"], "method_not_allowed", "{method} {path}");
            if r.status == 404 {
                assert!(
                    concrete.contains("0000-0000"),
                    "{method} {path} is documented but not served"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 8, "every admin operation is documented");
    assert_eq!(
        doc.json["paths"]["/admin/v1/users"]["get"]["responses"]["401"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap(),
        "application/problem+json"
    );
    // Apart from the public document, and not served on the public API.
    let public_doc = call("GET", "/openapi.json").send(&public).await;
    assert!(!public_doc.text.contains("/admin/v1/"));
    call("GET", "/admin/v1/users")
        .bearer(TOKEN)
        .send(&public)
        .await
        .assert_problem(404, "not_found");
    let _ = w;
}
