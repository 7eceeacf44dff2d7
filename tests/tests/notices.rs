//! Security notice mails go through the durable outbox: a notice whose request has answered
//! survives the server being killed (SIGKILL) before the mail went out, and is sent after the
//! restart.

use e2e::{Server, unique_email};
use std::time::Duration;

#[test]
fn a_notice_survives_a_sigkill_between_the_request_and_its_delivery() {
    let mut s = Server::start_with(&[]);
    let email = unique_email("notice-kill");
    let account = s.sign_up(&email, "Noticed");
    s.kill();

    // The same data, but a relay nobody answers: the notice cannot go out.
    let dead = e2e::services::free_port();
    let relay = format!("smtp://127.0.0.1:{dead}");
    let mut broken = s.start_again(&[
        ("AUTH_MAIL__SMTP_URL", relay.as_str()),
        ("AUTH_WEBHOOK_DELIVERY__FIRST_RETRY", "200ms"),
        ("AUTH_WEBHOOK_DELIVERY__POLL_INTERVAL", "100ms"),
    ]);
    let gone = broken.authed("DELETE", "/v1/me", &account.access, None);
    assert_eq!(gone.status, 204, "{}", gone.text);
    // The request has answered; the notice has had time to fail at the relay at least once.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        broken.mailbox.all_for(&email).is_empty(),
        "nothing was delivered while the relay was away"
    );
    broken.kill();

    let restarted = broken.start_again(&[("AUTH_WEBHOOK_DELIVERY__POLL_INTERVAL", "100ms")]);
    let notice = restarted.mail_to_within(&email, Duration::from_secs(20));
    assert!(
        notice.subject.contains("was deleted"),
        "the deletion notice arrives after the restart: {}",
        notice.subject
    );
}
