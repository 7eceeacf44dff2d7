//! Account-enumeration safety, in process: for an address with an account and one without, every
//! start answers with the same status, body shape and length, headers and cookie; every kind of
//! failed verification is one answer.

use crate::app::{Reply, call, last_code, mails_to, relaxed, spawn_app, unique_email};
use serde_json::{Value, json};

fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

#[track_caller]
fn assert_indistinguishable(known: &Reply, unknown: &Reply) {
    assert_eq!(
        known.status, unknown.status,
        "{} / {}",
        known.text, unknown.text
    );
    assert_eq!(
        shape(&known.json),
        shape(&unknown.json),
        "body shapes differ"
    );
    assert_eq!(known.text.len(), unknown.text.len(), "body lengths differ");
    let names = |r: &Reply| {
        let mut n: Vec<String> = r.headers.keys().map(|k| k.as_str().to_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(names(known), names(unknown), "header names differ");
    for name in names(known) {
        // Cookies hold fresh tokens and the request id is fresh per request.
        if name == "set-cookie" || name == "x-request-id" {
            continue;
        }
        assert_eq!(
            known.header(&name),
            unknown.header(&name),
            "header {name} differs"
        );
    }
    let cookie_shape = |r: &Reply| {
        r.set_cookies()
            .into_iter()
            .map(|(k, v)| (k, v.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(cookie_shape(known), cookie_shape(unknown), "cookies differ");
}

async fn signed_up<S, B>(service: &S, mailer: &auth_memory::MemoryMailer, email: &str)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let started = call("POST", "/v1/signup")
        .json(&json!({ "email": email, "display_name": "Known" }))
        .send(service)
        .await;
    let done = call("POST", "/v1/codes/verify")
        .json(&json!({
            "attempt_token": started.json["attempt_token"],
            "code": last_code(mailer, email),
        }))
        .send(service)
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
}

#[actix_web::test]
async fn every_start_looks_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app(relaxed()).await;
    let known = unique_email("known");
    signed_up(&app.service, &app.mailer, &known).await;
    for path in ["/v1/login/email", "/v1/recovery"] {
        let unknown = unique_email("unknown");
        let a = call("POST", path)
            .json(&json!({ "email": known }))
            .send(&app.service)
            .await;
        let b = call("POST", path)
            .json(&json!({ "email": unknown }))
            .send(&app.service)
            .await;
        assert_eq!(a.status, 202, "{path}: {}", a.text);
        assert_indistinguishable(&a, &b);
        assert!(
            mails_to(&app.mailer, &unknown)
                .iter()
                .all(|m| crate::app::code_of(m).is_none()),
            "{path}: an unknown address gets a notice, never a code"
        );
    }
    let taken = call("POST", "/v1/signup")
        .json(&json!({ "email": known, "display_name": "Again" }))
        .send(&app.service)
        .await;
    let free = call("POST", "/v1/signup")
        .json(&json!({ "email": unique_email("free"), "display_name": "Again" }))
        .send(&app.service)
        .await;
    assert_indistinguishable(&taken, &free);
}

#[actix_web::test]
async fn every_failed_verification_is_the_same_answer() {
    let app = spawn_app(relaxed()).await;
    let known = unique_email("known");
    signed_up(&app.service, &app.mailer, &known).await;
    let real = call("POST", "/v1/login/email")
        .json(&json!({ "email": known }))
        .send(&app.service)
        .await;
    let decoy = call("POST", "/v1/login/email")
        .json(&json!({ "email": unique_email("nobody") }))
        .send(&app.service)
        .await;
    let wrong = |token: &Value| json!({ "attempt_token": token, "code": "ZZZZ9999" });
    let answers = [
        call("POST", "/v1/codes/verify")
            .json(&wrong(&real.json["attempt_token"]))
            .send(&app.service)
            .await,
        call("POST", "/v1/codes/verify")
            .json(&wrong(&decoy.json["attempt_token"]))
            .send(&app.service)
            .await,
        call("POST", "/v1/codes/verify")
            .json(&json!({ "attempt_token": "garbage", "code": "ZZZZ9999" }))
            .send(&app.service)
            .await,
    ];
    for a in &answers {
        a.assert_problem(400, "code_invalid");
        assert_eq!(
            a.text,
            answers[0].text.clone(),
            "one answer for every kind of wrong"
        );
    }
}
