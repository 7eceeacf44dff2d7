//! Scale-out: two server processes on one PostgreSQL and one Redis behave as one service.

use e2e::{Server, unique_email};
use serde_json::json;

#[test]
fn two_nodes_share_codes_refresh_tokens_limits_and_revocations() {
    let gap = [("AUTH_POLICY__LIMITS__SEND_GAP_PER_ADDRESS", "60s")];
    let a = Server::start_production(&gap);
    let b = a.another_node(&gap);
    assert_ne!(a.base, b.base);

    // A code started on A is verified on B.
    let email = unique_email("nodes");
    let started = a.post(
        "/v1/signup",
        json!({ "email": email, "display_name": "Two Nodes" }),
    );
    assert_eq!(started.status, 202);
    let code = a.mail_to(&email).code().expect("a code");
    let session = b.verify(&started, &code);
    assert!(session.created);
    assert_eq!(
        a.authed("GET", "/v1/me", &session.access, None).json["email"],
        email,
        "A accepts B's access token"
    );

    // A refresh token issued by one node rotates on the other. A second tab presenting the
    // just-rotated token on the other node a moment later gets the same successor (the nodes
    // derive it under the same key); once that successor has moved on, replaying is caught.
    let on_a = a.post(
        "/v1/token/refresh",
        json!({ "refresh_token": session.refresh }),
    );
    assert_eq!(on_a.status, 200, "{}", on_a.text);
    let rotated = e2e::Session::from_reply(&on_a);
    let on_b = b.post(
        "/v1/token/refresh",
        json!({ "refresh_token": session.refresh }),
    );
    assert_eq!(on_b.status, 200, "the other tab, on B: {}", on_b.text);
    assert_eq!(
        e2e::Session::from_reply(&on_b).refresh,
        rotated.refresh,
        "both tabs hold the same successor"
    );
    let moved_on = b.post(
        "/v1/token/refresh",
        json!({ "refresh_token": rotated.refresh }),
    );
    assert_eq!(moved_on.status, 200, "{}", moved_on.text);
    a.post(
        "/v1/token/refresh",
        json!({ "refresh_token": session.refresh }),
    )
    .assert_problem(401, "refresh_invalid");
    let newest = e2e::Session::from_reply(&moved_on);
    b.post(
        "/v1/token/refresh",
        json!({ "refresh_token": newest.refresh }),
    )
    .assert_problem(401, "refresh_invalid");

    // Rate limits hit on A count on B: the 60 s gap for an address started by the sign-up on A.
    let limited = b.post("/v1/login/email", json!({ "email": email }));
    limited.assert_problem(429, "rate_limited");

    // A session revoked on B is rejected on A at once.
    let other = b.sign_up(&unique_email("nodes-revoke"), "Revoked");
    assert_eq!(a.authed("GET", "/v1/me", &other.access, None).status, 200);
    let path = format!("/v1/me/sessions/{}", other.id);
    assert_eq!(b.authed("DELETE", &path, &other.access, None).status, 204);
    a.authed("GET", "/v1/me", &other.access, None)
        .assert_problem(401, "unauthorized");
    a.post(
        "/v1/token/refresh",
        json!({ "refresh_token": other.refresh }),
    )
    .assert_problem(401, "refresh_invalid");
}
