//! Account-enumeration safety on PostgreSQL, Redis and a real SMTP server: for an address with an
//! account and one without, every start answers with the same status, body shape, header names and
//! cookie names, and limits bite the same way; only the mail differs. Every kind of failed
//! verification is one and the same answer. The embedded defaults get the same cases in process
//! (`auth-http`'s `tests/in_process/enumeration.rs`).

use e2e::{Reply, unique_email};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The tests, instantiated once per backend below.
macro_rules! suite {
    () => {
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
            assert_eq!(known.status, unknown.status);
            assert_eq!(shape(&known.json), shape(&unknown.json), "body shapes differ");
            assert_eq!(known.text.len(), unknown.text.len(), "body lengths differ");
            assert_eq!(known.header_names(), unknown.header_names(), "header names differ");
            let names = |r: &Reply| r.cookies().into_keys().collect::<BTreeSet<_>>();
            assert_eq!(names(known), names(unknown), "cookie names differ");
            assert_eq!(known.set_cookie("__Host-auth_attempt").map(|c| c.len()), unknown.set_cookie("__Host-auth_attempt").map(|c| c.len()));
            for k in known.header_names() {
                // Cookies hold fresh tokens and the request id is fresh per request; both are random.
                if !["set-cookie", "x-request-id"].contains(&k.as_str()) {
                    assert_eq!(known.headers[&k], unknown.headers[&k], "header {k} differs");
                }
            }
        }

        #[test]
        fn start_login_looks_the_same_for_known_and_unknown_addresses() {
            let s = start(&[]);
            let known = unique_email("known");
            let unknown = unique_email("unknown");
            s.sign_up(&known, "Known");
            let a = s.post("/v1/login/email", json!({ "email": known }));
            let b = s.post("/v1/login/email", json!({ "email": unknown }));
            assert_eq!(a.status, 202);
            assert_indistinguishable(&a, &b);
            let code_mail = s.mail_to(&known);
            let notice = s.mail_to(&unknown);
            assert!(code_mail.code().is_some(), "the account holder gets a code");
            assert_eq!(notice.code(), None, "the unknown address gets a notice without a code");
            assert!(notice.text.contains("/#signup"), "the notice offers to sign up: {}", notice.text);
        }

        #[test]
        fn start_signup_looks_the_same_for_new_and_taken_addresses() {
            let s = start(&[]);
            let taken = unique_email("taken");
            let fresh = unique_email("fresh");
            let owner = s.sign_up(&taken, "Owner");
            let a = s.post("/v1/signup", json!({ "email": taken, "display_name": "Impostor" }));
            let b = s.post("/v1/signup", json!({ "email": fresh, "display_name": "Newcomer" }));
            assert_eq!(a.status, 202);
            assert_indistinguishable(&a, &b);
            let sign_in_mail = s.mail_to(&taken);
            let signup_mail = s.mail_to(&fresh);
            assert_ne!(sign_in_mail.subject, signup_mail.subject, "a taken address is told it already has an account");
            // The taken address got a sign-in code: it signs in to the existing account, unchanged.
            let session = s.verify(&a, &sign_in_mail.code().expect("a sign-in code"));
            assert!(!session.created);
            assert_eq!(session.user_id, owner.user_id);
            assert_eq!(s.authed("GET", "/v1/me", &session.access, None).json["display_name"], "Owner");
        }

        #[test]
        fn start_recovery_looks_the_same_for_known_and_unknown_addresses() {
            let s = start(&[]);
            let known = unique_email("rec-known");
            let unknown = unique_email("rec-unknown");
            s.sign_up(&known, "Known");
            let a = s.post("/v1/recovery", json!({ "email": known }));
            let b = s.post("/v1/recovery", json!({ "email": unknown }));
            assert_indistinguishable(&a, &b);
            assert!(s.mail_to(&known).code().is_some());
            assert_eq!(s.mail_to(&unknown).code(), None);
        }

        #[test]
        fn starts_look_the_same_for_enabled_disabled_and_unknown_addresses() {
            let s = start(&[]);
            let enabled = unique_email("on");
            let disabled = unique_email("off");
            let unknown = unique_email("none");
            s.sign_up(&enabled, "On");
            let off = s.sign_up(&disabled, "Off");
            s.operator(&["users", "disable", &disabled]);
            let notice = s.mail_to(&disabled);
            assert!(notice.subject.contains("was disabled"), "the owner is told: {}", notice.subject);
            assert_eq!(s.authed("GET", "/v1/me", &off.access, None).status, 401, "its session ended at once");
            let body = |path: &str, email: &str| match path {
                "/v1/signup" => json!({ "email": email, "display_name": "Someone" }),
                _ => json!({ "email": email }),
            };
            for path in ["/v1/login/email", "/v1/recovery", "/v1/signup"] {
                let a = s.post(path, body(path, &enabled));
                let b = s.post(path, body(path, &disabled));
                let c = s.post(path, body(path, &unknown));
                assert_eq!(b.status, 202, "{path}");
                assert_indistinguishable(&a, &b);
                assert_indistinguishable(&b, &c);
                assert!(s.mail_to(&enabled).code().is_some(), "{path}: the enabled account gets a code");
                let told = s.mail_to(&disabled);
                assert_eq!(told.code(), None, "{path}: no code for a disabled account");
                assert!(told.text.contains("is disabled"), "{path}: {}", told.text);
                s.mail_to(&unknown);
                // Whatever code is guessed, the disabled account's attempt never verifies.
                let guess = s.post("/v1/codes/verify", json!({ "attempt_token": b.json["attempt_token"], "code": "ABCD2345" }));
                guess.assert_problem(400, "code_invalid");
            }
        }

        #[test]
        fn every_failed_verification_is_the_same_answer() {
            let s = start(&[]);
            let known = unique_email("uniform");
            s.sign_up(&known, "Uniform");
            let verify = |token: &Value, code: &str| s.post("/v1/codes/verify", json!({ "attempt_token": token, "code": code }));

            // Wrong code.
            let started = s.post("/v1/login/email", json!({ "email": known }));
            let code = s.mail_to(&known).code().unwrap();
            let wrong_code = if code == "AAAAAAAA" { "BBBBBBBB" } else { "AAAAAAAA" };
            let wrong = verify(&started.json["attempt_token"], wrong_code);
            // Used.
            s.verify(&started, &code);
            let used = verify(&started.json["attempt_token"], &code);
            // Superseded: a resend replaced its code.
            let first = s.post("/v1/login/email", json!({ "email": known }));
            let first_code = s.mail_to(&known).code().unwrap();
            s.post("/v1/codes/resend", json!({ "attempt_token": first.json["attempt_token"] }));
            s.mail_to(&known);
            let superseded = verify(&first.json["attempt_token"], &first_code);
            // Decoy (no account): no code exists, any guess fails.
            let decoy_start = s.post("/v1/login/email", json!({ "email": unique_email("decoy") }));
            let decoy = verify(&decoy_start.json["attempt_token"], "ABCD2345");
            // Unknown or forged attempt tokens.
            let tampered_token = {
                let t = started.json["attempt_token"].as_str().unwrap();
                let mut chars: Vec<char> = t.chars().collect();
                let i = chars.len() - 5;
                chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect::<String>()
            };
            let tampered = verify(&json!(tampered_token), "ABCD2345");
            let garbage = verify(&json!("not-a-token"), "ABCD2345");

            let answers = [&wrong, &used, &superseded, &decoy, &tampered, &garbage];
            for r in answers {
                r.assert_problem(400, "code_invalid");
                assert_eq!(r.text, wrong.text, "every failure has the very same body");
                assert_eq!(r.header_names(), wrong.header_names());
            }
        }

        #[test]
        fn rate_limits_bite_the_same_for_known_and_unknown_addresses() {
            let s = start(&[("AUTH_POLICY__LIMITS__SEND_GAP_PER_ADDRESS", "60s")]);
            let known = unique_email("rl-known");
            let unknown = unique_email("rl-unknown");
            // The sign-up mailed `known` once; mail `unknown` once too, so both are one send in.
            s.sign_up(&known, "Limited");
            assert_eq!(s.post("/v1/login/email", json!({ "email": unknown })).status, 202);
            let a = s.post("/v1/login/email", json!({ "email": known }));
            let b = s.post("/v1/login/email", json!({ "email": unknown }));
            a.assert_problem(429, "rate_limited");
            b.assert_problem(429, "rate_limited");
            assert_eq!(a.text, b.text);
            assert_eq!(a.header_names(), b.header_names());
            let wait = |r: &Reply| r.header("retry-after").expect("Retry-After").parse::<u64>().unwrap();
            assert!(wait(&a).abs_diff(wait(&b)) <= 1, "Retry-After {} vs {}", wait(&a), wait(&b));
            assert!((55..=60).contains(&wait(&b)), "Retry-After {} should be about the 60 s gap", wait(&b));
        }

        #[test]
        fn a_full_send_budget_answers_429_with_retry_after_per_ip() {
            let s = start(&[("AUTH_POLICY__LIMITS__SEND_PER_IP", "{limit=3,period=\"1h\"}")]);
            for i in 0..3 {
                assert_eq!(s.post("/v1/login/email", json!({ "email": unique_email(&format!("ip{i}")) })).status, 202);
            }
            let limited = s.post("/v1/signup", json!({ "email": unique_email("ip-next"), "display_name": "Nope" }));
            limited.assert_problem(429, "rate_limited");
            assert!(limited.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() > 0));
        }
    };
}

/// PostgreSQL, Redis and a real SMTP server, with codes read from its mailbox.
mod production {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::production(env)
    }

    suite!();
}
