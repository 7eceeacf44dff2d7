//! Email-code attempt chains on the in-memory adapters with a manual clock: attempts die with an
//! email change or a sign-out everywhere and resends cannot revive them nor outlive their chain;
//! every kind of wrong answers alike; codes read look-alike symbols as the ones they resemble.

mod common;

use auth_core::mail::Message;
use auth_core::service::{ResendError, VerifyError};
use common::*;
use std::time::Duration;

// --- Attempts die with an email change and a sign-out everywhere ---------------------------

#[tokio::test]
async fn an_email_change_kills_the_login_attempts_of_the_old_address_even_after_moving_back() {
    let w = world(relaxed());
    let owner = signed_up(&w, "first@example.com").await;
    // Someone who reads the old mailbox holds a login attempt for it.
    let held = w
        .service
        .start_login(email("first@example.com"), &outsider())
        .await
        .unwrap();
    let held_code = last_code(&w.mailer);
    let who = principal(&w, &owner.access_token).await;
    change_email(&w, &who, "second@example.com").await;
    let r = w
        .service
        .verify_code(&held.attempt_token, &held_code, &outsider())
        .await;
    assert!(matches!(r, Err(VerifyError::Invalid)), "{r:?}");

    // Moving back does not bring it to life either: it was started in an older epoch.
    let held = w
        .service
        .start_login(email("second@example.com"), &outsider())
        .await
        .unwrap();
    let held_code = last_code(&w.mailer);
    change_email(&w, &who, "third@example.com").await;
    change_email(&w, &who, "second@example.com").await;
    let r = w
        .service
        .verify_code(&held.attempt_token, &held_code, &outsider())
        .await;
    assert!(matches!(r, Err(VerifyError::Invalid)), "{r:?}");
}

#[tokio::test]
async fn signing_out_everywhere_kills_every_open_attempt_of_the_account() {
    let w = world(relaxed());
    let owner = signed_up(&w, "out@example.com").await;
    let held = w
        .service
        .start_recovery(email("out@example.com"), &outsider())
        .await
        .unwrap();
    let held_code = last_code(&w.mailer);
    let who = principal(&w, &owner.access_token).await;
    w.service
        .revoke_all_sessions(&who, false, &client())
        .await
        .unwrap();
    let r = w
        .service
        .verify_code(&held.attempt_token, &held_code, &outsider())
        .await;
    assert!(matches!(r, Err(VerifyError::Invalid)), "{r:?}");

    // A start after the sign-out works as usual.
    w.clock.advance(Duration::from_secs(1));
    let fresh = w
        .service
        .start_login(email("out@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    assert!(
        w.service
            .verify_code(&fresh.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}

/// A right code for an attempt whose account moved on is refused like any wrong code, and spends
/// the attempt; it is no guess, so it costs the network none of its failure budget.
#[tokio::test]
async fn a_right_code_for_a_killed_attempt_is_refused_spent_and_costs_no_failure() {
    let mut policy = relaxed();
    policy.limits.address_failures.budget = 1;
    let w = world(policy);
    let owner = signed_up(&w, "spent@example.com").await;
    let held = w
        .service
        .start_login(email("spent@example.com"), &outsider())
        .await
        .unwrap();
    let held_code = last_code(&w.mailer);
    let who = principal(&w, &owner.access_token).await;
    w.service
        .revoke_all_sessions(&who, false, &client())
        .await
        .unwrap();
    for what in ["the right code of a killed attempt", "and once more"] {
        let r = w
            .service
            .verify_code(&held.attempt_token, &held_code, &outsider())
            .await;
        assert!(matches!(r, Err(VerifyError::Invalid)), "{what}: {r:?}");
    }

    // With a failure budget of one, a counted failure would refuse the next code of the network.
    let fresh = w
        .service
        .start_login(email("spent@example.com"), &outsider())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let r = w
        .service
        .verify_code(&fresh.attempt_token, &code, &outsider())
        .await;
    assert!(r.is_ok(), "no failure was counted: {r:?}");
}

#[tokio::test]
async fn a_resend_cannot_revive_a_killed_chain() {
    let w = world(relaxed());
    let owner = signed_up(&w, "chain@example.com").await;
    let held = w
        .service
        .start_login(email("chain@example.com"), &outsider())
        .await
        .unwrap();
    w.mailer.take();
    let who = principal(&w, &owner.access_token).await;
    w.service
        .revoke_all_sessions(&who, true, &client())
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(60));
    let resent = w
        .service
        .resend(&held.attempt_token, &outsider())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let r = w
        .service
        .verify_code(&resent.attempt_token, &code, &outsider())
        .await;
    assert!(
        matches!(r, Err(VerifyError::Invalid)),
        "a resend keeps the chain's epoch: {r:?}"
    );
}

#[tokio::test]
async fn a_resend_never_outlives_the_first_token_and_its_code_never_outlives_the_token() {
    let w = world(relaxed());
    signed_up(&w, "life@example.com").await;
    let first = w
        .service
        .start_login(email("life@example.com"), &client())
        .await
        .unwrap();
    assert_eq!(first.token_ttl, Duration::from_secs(30 * 60));
    w.clock.advance(Duration::from_secs(25 * 60));
    let second = w
        .service
        .resend(&first.attempt_token, &client())
        .await
        .unwrap();
    assert_eq!(
        second.token_ttl,
        Duration::from_secs(5 * 60),
        "the new token expires when the first one does"
    );
    assert_eq!(
        second.code_ttl,
        Duration::from_secs(5 * 60),
        "the code lasts no longer than its token"
    );
    let mails = w.mailer.take();
    assert!(
        matches!(
            mails.last().map(|m| &m.message),
            Some(Message::LoginCode {
                valid_minutes: 5,
                ..
            })
        ),
        "the mail says how long the code really lasts"
    );
    w.clock.advance(Duration::from_secs(5 * 60));
    let r = w.service.resend(&second.attempt_token, &client()).await;
    assert!(
        matches!(r, Err(ResendError::InvalidAttempt)),
        "the chain ends with its first token: {r:?}"
    );
}

#[tokio::test]
async fn a_resend_resolves_the_subject_from_the_address_again() {
    let w = world(relaxed());
    // Started while the address had no account: a decoy.
    let early = w
        .service
        .start_login(email("later@example.com"), &outsider())
        .await
        .unwrap();
    assert_eq!(w.mailer.take()[0].message, Message::NoAccount);
    signed_up(&w, "later@example.com").await;
    let resent = w
        .service
        .resend(&early.attempt_token, &outsider())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    assert!(
        w.service
            .verify_code(&resent.attempt_token, &code, &outsider())
            .await
            .is_ok(),
        "as a fresh start would, the resend finds the account"
    );

    // And the other way round: the account moved away, so the address gets a notice.
    let owner = signed_up(&w, "away@example.com").await;
    let held = w
        .service
        .start_login(email("away@example.com"), &outsider())
        .await
        .unwrap();
    w.mailer.take();
    let who = principal(&w, &owner.access_token).await;
    change_email(&w, &who, "elsewhere@example.com").await;
    w.service
        .resend(&held.attempt_token, &outsider())
        .await
        .unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "away@example.com");
    assert_eq!(mails[0].message, Message::NoAccount);
}

// --- Every kind of wrong answers alike -------------------------------------------------------

#[tokio::test]
async fn email_change_to_a_taken_address_answers_like_a_free_one_wrong_code_after_wrong_code() {
    let w = world(relaxed());
    let a = signed_up(&w, "a@example.com").await;
    let b = signed_up(&w, "b@example.com").await;
    signed_up(&w, "taken@example.com").await;
    let (wa, wb) = (
        principal(&w, &a.access_token).await,
        principal(&w, &b.access_token).await,
    );
    let free = w
        .service
        .start_email_change(&wa, email("free@example.com"), &client())
        .await
        .unwrap();
    let taken = w
        .service
        .start_email_change(&wb, email("taken@example.com"), &client())
        .await
        .unwrap();
    let kind = |r: Result<auth_core::user::User, VerifyError>| match r {
        Ok(_) => "ok",
        Err(VerifyError::Invalid) => "invalid",
        Err(VerifyError::RateLimited { .. }) => "rate_limited",
        Err(_) => "other",
    };
    let mut answers = (Vec::new(), Vec::new());
    for _ in 0..8 {
        answers.0.push(kind(
            w.service
                .verify_email_change(&wa, &free.attempt_token, "AAAAAAAA", &client())
                .await,
        ));
        answers.1.push(kind(
            w.service
                .verify_email_change(&wb, &taken.attempt_token, "AAAAAAAA", &client())
                .await,
        ));
    }
    assert!(
        answers.0.contains(&"rate_limited"),
        "the backoff bites: {:?}",
        answers.0
    );
    assert_eq!(answers.0, answers.1, "free and taken answer alike");
}

#[tokio::test]
async fn codes_read_look_alikes_as_the_symbols_they_resemble() {
    let w = world(relaxed());
    signed_up(&w, "typo@example.com").await;
    let started = w
        .service
        .start_login(email("typo@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    assert!(
        !code.contains(['I', 'L', 'O', 'U']),
        "codes never hold look-alikes"
    );
    let typed: String = code
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    assert!(
        w.service
            .verify_code(&started.attempt_token, &typed, &client())
            .await
            .is_ok()
    );
}

// --- Mail greets the account's owner by name, and nobody else ------------------------------

#[tokio::test]
async fn code_mails_to_an_account_carry_its_name_and_sign_up_and_decoy_mails_do_not() {
    let w = world(relaxed());
    w.service
        .start_signup(
            email("new@example.com"),
            auth_core::user::DisplayName::parse("Chosen <b>").unwrap(),
            &client(),
        )
        .await
        .unwrap();
    let signup = w.mailer.take();
    assert!(matches!(signup[0].message, Message::SignupCode { .. }));
    assert_eq!(signup[0].name, None, "sign-up codes carry nothing typed");

    signed_up(&w, "owner@example.com").await;
    w.mailer.take();
    for asked in ["login", "recovery", "signup"] {
        let to = email("owner@example.com");
        match asked {
            "login" => w.service.start_login(to, &client()).await.unwrap(),
            "recovery" => w.service.start_recovery(to, &client()).await.unwrap(),
            _ => w
                .service
                .start_signup(
                    to,
                    auth_core::user::DisplayName::parse("Other").unwrap(),
                    &client(),
                )
                .await
                .unwrap(),
        };
        let mails = w.mailer.take();
        assert_eq!(mails[0].name.as_deref(), Some("Tester"), "{asked}");
    }

    for asked in ["login", "recovery"] {
        let to = email("nobody@example.com");
        match asked {
            "login" => w.service.start_login(to, &client()).await.unwrap(),
            _ => w.service.start_recovery(to, &client()).await.unwrap(),
        };
        let mails = w.mailer.take();
        assert_eq!(mails[0].message, Message::NoAccount);
        assert_eq!(mails[0].name, None, "{asked} decoy");
    }
}
