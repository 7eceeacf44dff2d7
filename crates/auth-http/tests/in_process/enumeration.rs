//! Account-enumeration safety, in process: for an address with an account and one without, every
//! start answers with the same status, body shape and length, headers and cookie; every kind of
//! failed verification is one answer.

use crate::app::{Reply, call, code_of, last_code, mails_to, relaxed, spawn_app, unique_email};
use auth_core::mail::Message;
use serde_json::{Value, json};
use std::time::Duration;

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
            mails_to(&app.mailer, &known)
                .iter()
                .any(|m| code_of(m).is_some()),
            "{path}: the account holder gets a code"
        );
        assert!(
            mails_to(&app.mailer, &unknown)
                .iter()
                .all(|m| code_of(m).is_none()),
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
    let verify = |token: &Value, code: &str| {
        call("POST", "/v1/codes/verify").json(&json!({ "attempt_token": token, "code": code }))
    };
    // Used: a code that already signed in.
    let spent = app
        .send(call("POST", "/v1/login/email").json(&json!({ "email": known })))
        .await;
    let spent_code = last_code(&app.mailer, &known);
    app.verify(&spent, &spent_code).await;
    let used = app
        .send(verify(&spent.json["attempt_token"], &spent_code))
        .await;
    // Superseded: a resend replaced the code.
    let first = app
        .send(call("POST", "/v1/login/email").json(&json!({ "email": known })))
        .await;
    let first_code = last_code(&app.mailer, &known);
    let resent = app
        .send(
            call("POST", "/v1/codes/resend")
                .json(&json!({ "attempt_token": first.json["attempt_token"] })),
        )
        .await;
    assert_eq!(resent.status, 202, "{}", resent.text);
    let superseded = app
        .send(verify(&first.json["attempt_token"], &first_code))
        .await;
    // Tampered: one character of a real attempt token changed.
    let tampered_token = {
        let t = first.json["attempt_token"].as_str().unwrap();
        let mut chars: Vec<char> = t.chars().collect();
        let i = chars.len() - 5;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let tampered = app.send(verify(&json!(tampered_token), "ABCD2345")).await;
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
        used,
        superseded,
        tampered,
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

#[actix_web::test]
async fn signing_up_a_taken_address_looks_the_same_and_signs_in_to_the_account_unchanged() {
    let app = spawn_app(relaxed()).await;
    let taken = unique_email("taken");
    let fresh = unique_email("fresh");
    let owner = app.sign_up(&taken, "Owner").await;
    app.mailer.take();
    let signup = |email: &str, name: &str| {
        call("POST", "/v1/signup").json(&json!({ "email": email, "display_name": name }))
    };
    let a = app.send(signup(&taken, "Impostor")).await;
    let b = app.send(signup(&fresh, "Newcomer")).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_indistinguishable(&a, &b);
    let mails = app.mailer.take();
    let to = |addr: &str| {
        mails
            .iter()
            .find(|m| m.to.as_str() == addr)
            .unwrap_or_else(|| panic!("a mail to {addr}"))
    };
    let Message::AlreadyRegistered { code, .. } = &to(&taken).message else {
        panic!(
            "a taken address is told it already has an account: {:?}",
            to(&taken).message
        )
    };
    assert!(matches!(to(&fresh).message, Message::SignupCode { .. }));
    let session = app.verify(&a, code.expose()).await;
    assert_eq!(session.json["created"], false, "{}", session.text);
    assert_eq!(session.json["user"]["id"], owner.json["user"]["id"]);
    let access = session.json["access_token"].as_str().unwrap();
    let me = app.send(call("GET", "/v1/me").bearer(access)).await;
    assert_eq!(me.json["display_name"], "Owner");
}

#[actix_web::test]
async fn rate_limits_bite_the_same_for_known_and_unknown_addresses() {
    let mut policy = relaxed();
    policy.limits.send_gap_per_address = Duration::from_secs(60);
    let app = spawn_app(policy).await;
    let known = unique_email("rl-known");
    let unknown = unique_email("rl-unknown");
    // The sign-up mailed `known` once; mail `unknown` once too, so both are one send in.
    app.sign_up(&known, "Limited").await;
    let login = |email: &str| call("POST", "/v1/login/email").json(&json!({ "email": email }));
    assert_eq!(app.send(login(&unknown)).await.status, 202);
    app.clock.advance(Duration::from_secs(1));
    let a = app.send(login(&known)).await;
    let b = app.send(login(&unknown)).await;
    a.assert_problem(429, "rate_limited");
    b.assert_problem(429, "rate_limited");
    assert_eq!(a.text, b.text);
    assert_eq!(a.header("retry-after"), b.header("retry-after"));
    let wait: u64 = b.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (58..=60).contains(&wait),
        "Retry-After {wait} should be about the 60 s gap"
    );
}

#[actix_web::test]
async fn a_full_send_budget_answers_429_with_retry_after_per_ip() {
    let mut policy = relaxed();
    policy.limits.send_per_ip.limit = 3;
    let app = spawn_app(policy).await;
    for i in 0..3 {
        let r = app
            .send(
                call("POST", "/v1/login/email")
                    .json(&json!({ "email": unique_email(&format!("ip{i}")) })),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let limited = app
        .send(
            call("POST", "/v1/signup")
                .json(&json!({ "email": unique_email("ip-next"), "display_name": "Nope" })),
        )
        .await;
    limited.assert_problem(429, "rate_limited");
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|v| v.parse::<u64>().unwrap() > 0)
    );
    let elsewhere = app
        .send(
            call("POST", "/v1/login/email")
                .from(crate::app::OTHER_CLIENT)
                .json(&json!({ "email": unique_email("ip-other") })),
        )
        .await;
    assert_eq!(elsewhere.status, 202, "another network has its own budget");
}

#[actix_web::test]
async fn every_start_looks_the_same_for_a_disabled_account_as_for_an_unknown_address() {
    let app = spawn_app(relaxed()).await;
    let disabled = unique_email("disabled");
    signed_up(&app.service, &app.mailer, &disabled).await;
    let user = app
        .state
        .service
        .find_account(&disabled)
        .await
        .expect("the account exists");
    app.state
        .service
        .disable_account(&user.id, &auth_core::service::Operator::cli())
        .await
        .unwrap();
    mails_to(&app.mailer, &disabled);
    for (path, name) in [
        ("/v1/login/email", None),
        ("/v1/recovery", None),
        ("/v1/signup", Some("Someone")),
    ] {
        let unknown = unique_email("unknown");
        let body = |email: &str| match name {
            Some(n) => json!({ "email": email, "display_name": n }),
            None => json!({ "email": email }),
        };
        let a = call("POST", path)
            .json(&body(&disabled))
            .send(&app.service)
            .await;
        let b = call("POST", path)
            .json(&body(&unknown))
            .send(&app.service)
            .await;
        assert_eq!(a.status, 202, "{path}: {}", a.text);
        assert_indistinguishable(&a, &b);
        let told = mails_to(&app.mailer, &disabled);
        assert!(
            told.len() == 1 && told[0].message == Message::DisabledAccount,
            "{path}: one notice, no code: {told:?}"
        );
    }
}
