//! Every email-code flow, end to end over HTTP against the real server binary, on both backends:
//! the embedded defaults and the production services, with codes read from the delivered mail.

use e2e::{jwt_claims, unique_email};
use serde_json::json;

/// The tests, instantiated once per backend below.
macro_rules! suite {
    () => {
        #[test]
        fn signup_creates_the_account_only_once_the_code_is_verified() {
            let s = start(&[]);
            let email = unique_email("signup");
            let started = s.post("/v1/signup", json!({ "email": email, "display_name": "Ada Lovelace" }));
            assert_eq!(started.status, 202, "{}", started.text);
            let mail = s.mail_to(&email);
            let code = mail.code().expect("the sign-up mail carries a code");
            assert!(mail.html.contains(&code[..4]), "the HTML part shows the code too");

            // Before verification there is no account: a login attempt gets the "no account" notice.
            let probe = s.post("/v1/login/email", json!({ "email": email }));
            assert_eq!(probe.status, 202);
            let notice = s.mail_to(&email);
            assert_eq!(notice.code(), None, "no account yet, so no sign-in code: {}", notice.text);

            let session = s.verify(&started, &code);
            assert!(session.created, "verifying the sign-up code creates the account");
            let me = s.authed("GET", "/v1/me", &session.access, None);
            assert_eq!(me.status, 200);
            assert_eq!(me.json["email"], email);
            assert_eq!(me.json["display_name"], "Ada Lovelace");
            assert_eq!(me.json["public"], false);

            // The code is single use.
            let again = s.post("/v1/codes/verify", json!({ "attempt_token": started.json["attempt_token"], "code": code }));
            again.assert_problem(400, "code_invalid");
        }

        #[test]
        fn login_by_code_signs_in_with_an_otp_access_token() {
            let s = start(&[]);
            let email = unique_email("login");
            let first = s.sign_up(&email, "Grace");
            let second = s.sign_in(&email);
            assert!(!second.created);
            assert_eq!(second.user_id, first.user_id);
            assert_ne!(second.id, first.id, "each sign-in is its own session");
            let claims = jwt_claims(&second.access);
            assert_eq!(claims["sub"], first.user_id);
            assert_eq!(claims["sid"], second.id);
            assert_eq!(claims["amr"], json!(["otp"]));
            assert_eq!(claims["aud"], "auth");
            assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 900, "access tokens last 15 minutes");
        }

        #[test]
        fn recovery_signs_in_and_is_recorded_as_recovery() {
            let s = start(&[]);
            let email = unique_email("recovery");
            s.sign_up(&email, "Lin");
            let started = s.post("/v1/recovery", json!({ "email": email }));
            assert_eq!(started.status, 202);
            let mail = s.mail_to(&email);
            assert!(mail.subject.to_lowercase().contains("recover"), "{}", mail.subject);
            let session = s.verify(&started, &mail.code().expect("a recovery code"));
            assert_eq!(jwt_claims(&session.access)["amr"], json!(["otp", "rec"]));
            let sessions = s.authed("GET", "/v1/me/sessions", &session.access, None);
            let current = sessions.json["sessions"].as_array().unwrap().iter().find(|x| x["current"] == true).unwrap().clone();
            assert_eq!(current["method"], "recovery");
        }

        #[test]
        fn resend_sends_a_new_code_and_the_old_one_stops_working() {
            let s = start(&[]);
            let email = unique_email("resend");
            s.sign_up(&email, "Resender");
            let started = s.post("/v1/login/email", json!({ "email": email }));
            let old_code = s.mail_to(&email).code().unwrap();
            let resent = s.post("/v1/codes/resend", json!({ "attempt_token": started.json["attempt_token"] }));
            assert_eq!(resent.status, 202, "{}", resent.text);
            let new_code = s.mail_to(&email).code().unwrap();
            let stale = s.post("/v1/codes/verify", json!({ "attempt_token": started.json["attempt_token"], "code": old_code }));
            stale.assert_problem(400, "code_invalid");
            let session = s.verify(&resent, &new_code);
            assert!(!session.created);
        }

        #[test]
        fn refresh_rotates_and_reuse_revokes_the_whole_family() {
            let s = start(&[]);
            let email = unique_email("refresh");
            let session = s.sign_up(&email, "Rotator");
            let r1 = s.post("/v1/token/refresh", json!({ "refresh_token": session.refresh }));
            assert_eq!(r1.status, 200, "{}", r1.text);
            let rotated = e2e::Session::from_reply(&r1);
            assert_ne!(rotated.refresh, session.refresh, "a new refresh token every time");
            assert_eq!(rotated.id, session.id, "rotation keeps the session");
            assert_eq!(s.authed("GET", "/v1/me", &rotated.access, None).status, 200);

            // A second tab presenting the same token a moment later gets the same successor.
            let tab = s.post("/v1/token/refresh", json!({ "refresh_token": session.refresh }));
            assert_eq!(tab.status, 200, "{}", tab.text);
            assert_eq!(e2e::Session::from_reply(&tab).refresh, rotated.refresh, "one successor for both tabs");

            // Once the successor has moved on, replaying the spent token is theft: the family
            // dies, including the newest token.
            let r2 = s.post("/v1/token/refresh", json!({ "refresh_token": rotated.refresh }));
            assert_eq!(r2.status, 200, "{}", r2.text);
            let newest = e2e::Session::from_reply(&r2);
            let replay = s.post("/v1/token/refresh", json!({ "refresh_token": session.refresh }));
            replay.assert_problem(401, "refresh_invalid");
            s.post("/v1/token/refresh", json!({ "refresh_token": newest.refresh })).assert_problem(401, "refresh_invalid");
            s.authed("GET", "/v1/me", &newest.access, None).assert_problem(401, "unauthorized");

            // The owner sees why in their security activity (from another session).
            let other = s.sign_in(&email);
            let activity = s.authed("GET", "/v1/me/activity", &other.access, None);
            let kinds: Vec<&str> = activity.json["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
            assert!(kinds.contains(&"refresh_token_reused"), "{kinds:?}");
        }

        #[test]
        fn logout_revokes_the_session_and_clears_cookies() {
            let s = start(&[]);
            let session = s.sign_up(&unique_email("logout"), "Leaver");
            let out = s.authed("POST", "/v1/logout", &session.access, None);
            assert_eq!(out.status, 204);
            let cleared = out.set_cookie("__Host-auth_refresh").expect("the refresh cookie is cleared");
            assert!(cleared.contains("Max-Age=0"), "{cleared}");
            s.authed("GET", "/v1/me", &session.access, None).assert_problem(401, "unauthorized");
            s.post("/v1/token/refresh", json!({ "refresh_token": session.refresh })).assert_problem(401, "refresh_invalid");
        }

        #[test]
        fn sessions_are_listed_and_one_can_be_revoked_from_another() {
            let s = start(&[]);
            let email = unique_email("sessions");
            let laptop = s.sign_up(&email, "Two Devices");
            let phone = s.sign_in(&email);
            let list = s.authed("GET", "/v1/me/sessions", &laptop.access, None);
            let sessions = list.json["sessions"].as_array().unwrap();
            assert_eq!(sessions.len(), 2);
            assert_eq!(sessions.iter().filter(|x| x["current"] == true).count(), 1);
            assert!(sessions.iter().any(|x| x["id"] == phone.id));

            let path = format!("/v1/me/sessions/{}", phone.id);
            assert_eq!(s.authed("DELETE", &path, &laptop.access, None).status, 204);
            s.authed("GET", "/v1/me", &phone.access, None).assert_problem(401, "unauthorized");
            s.authed("DELETE", &path, &laptop.access, None).assert_problem(404, "not_found");
            assert_eq!(s.authed("GET", "/v1/me/sessions", &laptop.access, None).json["sessions"].as_array().unwrap().len(), 1);

            // Sign out everywhere else, then everywhere.
            let tablet = s.sign_in(&email);
            let others = s.authed("DELETE", "/v1/me/sessions?except_current=true", &laptop.access, None);
            assert_eq!(others.json["revoked"], 1);
            s.authed("GET", "/v1/me", &tablet.access, None).assert_problem(401, "unauthorized");
            assert_eq!(s.authed("GET", "/v1/me", &laptop.access, None).status, 200);
            assert_eq!(s.authed("DELETE", "/v1/me/sessions", &laptop.access, None).json["revoked"], 1);
            s.authed("GET", "/v1/me", &laptop.access, None).assert_problem(401, "unauthorized");
        }

        #[test]
        fn profiles_change_and_only_public_ones_can_be_browsed() {
            let s = start(&[]);
            let alice = s.sign_up(&unique_email("alice"), "Alice");
            let bob = s.sign_up(&unique_email("bob"), "Bob");
            let carol = s.sign_up(&unique_email("carol"), "Carol");
            let patched = s.authed("PATCH", "/v1/me", &alice.access, Some(json!({ "display_name": "Alice A.", "public": true })));
            assert_eq!(patched.status, 200, "{}", patched.text);
            assert_eq!(patched.json["display_name"], "Alice A.");
            assert_eq!(patched.json["public"], true);
            s.authed("PATCH", "/v1/me", &carol.access, Some(json!({ "public": true })));

            let page = s.request("GET", "/v1/profiles?limit=100", &[], None);
            assert_eq!(page.status, 200);
            let profiles = page.json["profiles"].as_array().unwrap();
            let ids: Vec<&str> = profiles.iter().filter_map(|p| p["id"].as_str()).collect();
            assert!(ids.contains(&alice.user_id.as_str()) && ids.contains(&carol.user_id.as_str()));
            assert!(!ids.contains(&bob.user_id.as_str()), "private profiles are not listed");
            assert!(!page.text.contains('@'), "public profiles never show addresses");
            for p in profiles {
                let mut keys: Vec<&String> = p.as_object().unwrap().keys().collect();
                keys.sort();
                assert_eq!(keys, ["display_name", "id"]);
            }

            // Paging: one at a time, following `next`, visits the same profiles.
            let mut seen = Vec::new();
            let mut path = "/v1/profiles?limit=1".to_owned();
            loop {
                let r = s.request("GET", &path, &[], None);
                seen.extend(r.json["profiles"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()));
                match r.json["next"].as_str() {
                    Some(next) => path = format!("/v1/profiles?limit=1&after={next}"),
                    None => break,
                }
            }
            assert_eq!(seen, ids);

            let one = s.request("GET", &format!("/v1/profiles/{}", alice.user_id), &[], None);
            assert_eq!(one.json["display_name"], "Alice A.");
            s.request("GET", &format!("/v1/profiles/{}", bob.user_id), &[], None).assert_problem(404, "not_found");
        }

        #[test]
        fn email_change_sends_a_code_to_the_new_address_and_a_notice_to_the_old() {
            let s = start(&[]);
            let old = unique_email("old");
            let new = unique_email("new");
            let session = s.sign_up(&old, "Mover");
            let started = s.authed("POST", "/v1/me/email", &session.access, Some(json!({ "email": new })));
            assert_eq!(started.status, 202, "{}", started.text);
            let code = s.mail_to(&new).code().expect("a code to the new address");
            let wrong_place = s.post("/v1/codes/verify", json!({ "attempt_token": started.json["attempt_token"], "code": code }));
            wrong_place.assert_problem(400, "code_invalid");
            let done = s.authed("POST", "/v1/me/email/verify", &session.access, Some(json!({ "attempt_token": started.json["attempt_token"], "code": code })));
            assert_eq!(done.status, 200, "{}", done.text);
            assert_eq!(done.json["email"], new);
            let notice = s.mail_to(&old);
            assert_eq!(notice.code(), None);
            assert!(notice.text.contains("***@example.test"), "the notice names the new address, masked: {}", notice.text);
            assert_eq!(s.authed("GET", "/v1/me", &session.access, None).json["email"], new);
            // The old address has no account any more; the new one does.
            s.post("/v1/login/email", json!({ "email": old }));
            assert_eq!(s.mail_to(&old).code(), None);
            assert_eq!(s.sign_in(&new).user_id, session.user_id);
        }

        #[test]
        fn deleting_the_account_removes_it_and_every_session() {
            let s = start(&[]);
            let email = unique_email("delete");
            let session = s.sign_up(&email, "Gone Soon");
            let other = s.sign_in(&email);
            let deleted = s.authed("DELETE", "/v1/me", &session.access, None);
            assert_eq!(deleted.status, 204, "{}", deleted.text);
            s.authed("GET", "/v1/me", &session.access, None).assert_problem(401, "unauthorized");
            s.authed("GET", "/v1/me", &other.access, None).assert_problem(401, "unauthorized");
            s.post("/v1/token/refresh", json!({ "refresh_token": other.refresh })).assert_problem(401, "refresh_invalid");
            assert!(s.mail_to(&email).subject.contains("deleted"), "the address is told the account was deleted");
            s.post("/v1/login/email", json!({ "email": email }));
            assert_eq!(s.mail_to(&email).code(), None, "a deleted account gets the no-account notice");
            // The address is free to sign up again, as a new account.
            let again = s.sign_up(&email, "Back Again");
            assert!(again.created);
            assert_ne!(again.user_id, session.user_id);
        }

        #[test]
        fn five_wrong_guesses_kill_the_attempt() {
            // No backoff here, so that only the per-attempt budget is at work.
            let s = start(&[("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__FREE", "10")]);
            let email = unique_email("guess");
            s.sign_up(&email, "Guesser");
            let started = s.post("/v1/login/email", json!({ "email": email }));
            let code = s.mail_to(&email).code().unwrap();
            let wrong = if code == "AAAAAAAA" { "BBBBBBBB" } else { "AAAAAAAA" };
            for _ in 0..5 {
                s.post("/v1/codes/verify", json!({ "attempt_token": started.json["attempt_token"], "code": wrong })).assert_problem(400, "code_invalid");
            }
            let right = s.post("/v1/codes/verify", json!({ "attempt_token": started.json["attempt_token"], "code": code }));
            right.assert_problem(400, "code_invalid");
        }

        #[test]
        fn browsers_get_cookies_and_must_come_from_our_origin() {
            let s = start(&[]);
            let email = unique_email("browser");
            s.sign_up(&email, "Cookie Monster");
            let started = s.post("/v1/login/email", json!({ "email": email }));
            let attempt_cookie = started.set_cookie("__Host-auth_attempt").expect("attempt cookie").to_owned();
            for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
                assert!(attempt_cookie.contains(attr), "{attempt_cookie} lacks {attr}");
            }
            let cookie = format!("__Host-auth_attempt={}", started.cookies()["__Host-auth_attempt"]);
            let code = s.mail_to(&email).code().unwrap();
            let body = json!({ "code": code });

            let foreign = s.request("POST", "/v1/codes/verify", &[("cookie", &cookie), ("origin", "https://evil.example")], Some(&body));
            foreign.assert_problem(403, "forbidden_origin");
            let no_origin = s.request("POST", "/v1/codes/verify", &[("cookie", &cookie)], Some(&body));
            no_origin.assert_problem(403, "forbidden_origin");

            let ok = s.request("POST", "/v1/codes/verify", &[("cookie", &cookie), ("origin", s.origin())], Some(&body));
            assert_eq!(ok.status, 200, "{}", ok.text);
            assert!(ok.json.get("refresh_token").is_none(), "browsers never see the refresh token in JSON");
            let jar = ok.cookies();
            assert!(jar.contains_key("__Host-auth_access") && jar.contains_key("__Host-auth_refresh"));
            let access = format!("__Host-auth_access={}", jar["__Host-auth_access"]);
            assert_eq!(s.request("GET", "/v1/me", &[("cookie", &access)], None).status, 200, "the access cookie authenticates reads");
            let patch = json!({ "display_name": "Changed" });
            s.request("PATCH", "/v1/me", &[("cookie", &access), ("origin", "https://evil.example")], Some(&patch)).assert_problem(403, "forbidden_origin");
            assert_eq!(s.request("PATCH", "/v1/me", &[("cookie", &access), ("origin", s.origin())], Some(&patch)).status, 200);

            let refresh = format!("__Host-auth_refresh={}", jar["__Host-auth_refresh"]);
            let rotated = s.request("POST", "/v1/token/refresh", &[("cookie", &refresh), ("origin", s.origin())], Some(&json!({})));
            assert_eq!(rotated.status, 200, "{}", rotated.text);
            assert!(rotated.cookies().contains_key("__Host-auth_refresh"), "a rotated refresh token comes back as a cookie");
        }

        #[test]
        fn access_tokens_verify_against_the_published_jwks() {
            let s = start(&[]);
            let session = s.sign_up(&unique_email("jwks"), "Verifier");
            let jwks = s.request("GET", "/.well-known/jwks.json", &[], None);
            assert_eq!(jwks.status, 200);
            let key = &jwks.json["keys"][0];
            assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()), (Some("OKP"), Some("Ed25519"), Some("EdDSA")));
            assert!(!jwks.text.contains("\"d\""), "the JWKS holds no private key");
            let verifier = auth_jwt::JwksVerifier::from_json(&jwks.text, "http://localhost:8080", "auth").expect("a usable JWKS");
            use auth_core::ports::AccessVerifier as _;
            let claims = verifier.verify_access(&session.access).expect("our token verifies with the published keys");
            assert_eq!(claims.session_id.to_string(), session.id);
        }

        #[test]
        fn repeated_failures_back_off_exponentially_across_new_codes() {
            let s = start(&[]);
            let email = unique_email("backoff");
            s.sign_up(&email, "Backoff");
            let started = s.post("/v1/login/email", json!({ "email": email }));
            s.mail_to(&email);
            let guess = |token: &serde_json::Value| s.post("/v1/codes/verify", json!({ "attempt_token": token, "code": "ZZZZ9999" }));
            for _ in 0..3 {
                guess(&started.json["attempt_token"]).assert_problem(400, "code_invalid");
            }
            // Three free failures, then a wait of 2 s that a new code does not buy back.
            let limited = guess(&started.json["attempt_token"]);
            limited.assert_problem(429, "rate_limited");
            assert_eq!(limited.header("retry-after"), Some("2"));
            let fresh = s.post("/v1/login/email", json!({ "email": email }));
            s.mail_to(&email);
            guess(&fresh.json["attempt_token"]).assert_problem(429, "rate_limited");
            std::thread::sleep(std::time::Duration::from_millis(2100));
            guess(&fresh.json["attempt_token"]).assert_problem(400, "code_invalid");
            let doubled = guess(&fresh.json["attempt_token"]);
            doubled.assert_problem(429, "rate_limited");
            assert_eq!(doubled.header("retry-after"), Some("4"), "the wait doubles");
        }

        #[test]
        fn an_account_made_in_german_gets_german_mail_whatever_later_requests_say() {
            let s = start(&[]);
            let email = unique_email("deutsch");
            let german = [("accept-language", "de-DE,de;q=0.9,en;q=0.5")];
            let body = json!({ "email": email, "display_name": "Grete" });
            let started = s.request("POST", "/v1/signup", &german, Some(&body));
            assert_eq!(started.status, 202, "{}", started.text);
            let mail = s.mail_to(&email);
            assert!(mail.subject.starts_with("Ihr Registrierungscode für "), "{}", mail.subject);
            assert_eq!(mail.text.lines().next(), Some("Hallo,"), "{}", mail.text);
            assert!(mail.html.contains("<html lang=\"de\">"));
            let code = mail.code().expect("a code in the German mail");
            let verify = json!({ "attempt_token": started.json["attempt_token"], "code": code });
            let done = s.request("POST", "/v1/codes/verify", &german, Some(&verify));
            assert_eq!(done.status, 200, "{}", done.text);
            let session = e2e::Session::from_reply(&done);
            let me = s.authed("GET", "/v1/me", &session.access, None);
            assert_eq!(me.json["language"], "de", "the account keeps the sign-up's language");

            // A sign-in from an English browser still mails the German account in German.
            let english = [("accept-language", "en-US,en")];
            let login = json!({ "email": email });
            let started = s.request("POST", "/v1/login/email", &english, Some(&login));
            assert_eq!(started.status, 202);
            let mail = s.mail_to(&email);
            assert!(mail.subject.starts_with("Ihr Anmeldecode für "), "{}", mail.subject);
            assert_eq!(mail.text.lines().next(), Some("Hallo Grete,"), "{}", mail.text);
            assert!(mail.text.contains("Geben Sie diesen Code ein"), "{}", mail.text);

            // Switched to English, the account's mail is English even from a German browser.
            let patched = s.authed("PATCH", "/v1/me", &session.access, Some(json!({ "language": "en" })));
            assert_eq!(patched.status, 200, "{}", patched.text);
            s.request("POST", "/v1/login/email", &german, Some(&login));
            let mail = s.mail_to(&email);
            assert_eq!(mail.text.lines().next(), Some("Hello Grete,"), "{}", mail.text);
        }
    };
}

/// SQLite, in-process ephemeral state, `.eml` outbox: the zero-set-up defaults.
mod embedded {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::embedded(env)
    }

    suite!();
}

/// PostgreSQL, Redis and a real SMTP server, with codes read from its mailbox.
mod production {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::production(env)
    }

    suite!();
}
