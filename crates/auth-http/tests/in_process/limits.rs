//! Limits that need time to pass, with the manual clock instead of sleeping: backoff after repeated
//! wrong codes, and `Retry-After` on every 429.

use crate::app::{call, last_code, spawn_app, unique_email};
use auth_core::Policy;
use serde_json::{Value, json};
use std::time::Duration;

#[actix_web::test]
async fn repeated_failures_back_off_exponentially_and_a_new_code_does_not_buy_it_back() {
    let mut policy = Policy::default();
    policy.limits.send_gap_per_address = Duration::ZERO;
    let app = spawn_app(policy).await;
    let email = unique_email("backoff");
    let started = call("POST", "/v1/signup")
        .json(&json!({ "email": email, "display_name": "Backoff" }))
        .send(&app.service)
        .await;
    last_code(&app.mailer, &email);
    let guess = |token: Value| {
        call("POST", "/v1/codes/verify")
            .json(&json!({ "attempt_token": token, "code": "ZZZZ9999" }))
    };
    for _ in 0..3 {
        guess(started.json["attempt_token"].clone())
            .send(&app.service)
            .await
            .assert_problem(400, "code_invalid");
    }
    // Three free failures, then a wait of 2 s that a new code does not buy back.
    let limited = guess(started.json["attempt_token"].clone())
        .send(&app.service)
        .await;
    limited.assert_problem(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("2"));
    let fresh = call("POST", "/v1/signup")
        .json(&json!({ "email": email, "display_name": "Backoff" }))
        .send(&app.service)
        .await;
    assert_eq!(fresh.status, 202, "{}", fresh.text);
    guess(fresh.json["attempt_token"].clone())
        .send(&app.service)
        .await
        .assert_problem(429, "rate_limited");
    app.clock.advance(Duration::from_millis(2_001));
    guess(fresh.json["attempt_token"].clone())
        .send(&app.service)
        .await
        .assert_problem(400, "code_invalid");
    let doubled = guess(fresh.json["attempt_token"].clone())
        .send(&app.service)
        .await;
    doubled.assert_problem(429, "rate_limited");
    assert_eq!(doubled.header("retry-after"), Some("4"), "the wait doubles");
}
