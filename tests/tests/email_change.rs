//! Email changes end to end: confirming one signs out the other sessions and mails the old address
//! a link that undoes it; the link works once, over `POST /v1/email/revert`, and every bad link is
//! one `revert_invalid` problem. Deleting the account mails a notice.

use e2e::{Mail, unique_email};
use serde_json::json;

/// The token of the undo link in a notice: what follows `#revert=`.
fn revert_token(mail: &Mail) -> String {
    let (_, rest) = mail
        .text
        .split_once("/#revert=")
        .unwrap_or_else(|| panic!("the notice carries an undo link: {}", mail.text));
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        mail.html.contains(&format!("/#revert={token}\"")),
        "the HTML part links to it too"
    );
    token
}

macro_rules! suite {
    () => {
        #[test]
        fn an_email_change_signs_out_the_other_sessions_and_the_old_address_can_undo_it() {
            let s = start(&[]);
            let old = unique_email("undo-old");
            let new = unique_email("undo-new");
            let first = s.sign_up(&old, "Owner");
            let second = s.sign_in(&old);
            let started = s.authed("POST", "/v1/me/email", &first.access, Some(json!({ "email": new })));
            assert_eq!(started.status, 202, "{}", started.text);
            let code = s.mail_to(&new).code().expect("a code to the new address");
            let done = s.authed(
                "POST",
                "/v1/me/email/verify",
                &first.access,
                Some(json!({ "attempt_token": started.json["attempt_token"], "code": code })),
            );
            assert_eq!(done.status, 200, "{}", done.text);
            s.authed("GET", "/v1/me", &second.access, None).assert_problem(401, "unauthorized");
            assert_eq!(s.authed("GET", "/v1/me", &first.access, None).status, 200);

            let notice = s.mail_to(&old);
            assert!(notice.text.contains(s.origin()), "the link is built from the public URL: {}", notice.text);
            let token = revert_token(&notice);
            let undone = s.post("/v1/email/revert", json!({ "token": token }));
            assert_eq!(undone.status, 200, "{}", undone.text);
            assert_eq!(undone.json["restored"], true);
            assert_eq!(undone.json["sessions_ended"], 1);
            assert_eq!(undone.json["passkeys_removed"], 0);
            s.authed("GET", "/v1/me", &first.access, None).assert_problem(401, "unauthorized");
            // The old address signs in to the account again; the new one has none.
            assert_eq!(s.sign_in(&old).user_id, first.user_id);
            s.post("/v1/login/email", json!({ "email": new }));
            assert_eq!(s.mail_to(&new).code(), None);

            // The link works once.
            s.post("/v1/email/revert", json!({ "token": token })).assert_problem(400, "revert_invalid");
        }

        #[test]
        fn a_bad_undo_link_is_one_problem() {
            let s = start(&[]);
            for token in ["", "short", &"A".repeat(43), &"é".repeat(43)] {
                s.post("/v1/email/revert", json!({ "token": token })).assert_problem(400, "revert_invalid");
            }
            s.post("/v1/email/revert", json!({ "token": 7 })).assert_problem(400, "invalid_request");
            s.post("/v1/email/revert", json!({})).assert_problem(400, "invalid_request");
        }

        #[test]
        fn deleting_the_account_mails_a_notice() {
            let s = start(&[]);
            let email = unique_email("bye");
            let session = s.sign_up(&email, "Leaving");
            assert_eq!(s.authed("DELETE", "/v1/me", &session.access, None).status, 204);
            let notice = s.mail_to(&email);
            assert!(notice.subject.contains("deleted"), "{}", notice.subject);
            assert_eq!(notice.code(), None);
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
