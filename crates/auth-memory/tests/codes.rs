//! Email-code attempts against outsiders, on the in-memory adapters with a manual clock: attempts
//! die with an email change or a sign-out everywhere and resends cannot revive them; an email
//! change is re-checked, ends the other sessions and can be undone from the old address; code
//! sign-ins to accounts with passkeys are mailed; an outsider's network cannot lock an owner out
//! or spend the global budget; and every kind of wrong answers alike.

mod common;

use auth_core::Policy;
use auth_core::mail::{Mail, Message};
use auth_core::ports::{Clock, PasskeyRepository};
use auth_core::rate::Quota;
use auth_core::service::{ClientInfo, Principal, StartError, VerifyError};
use auth_core::testkit::sample_passkey;
use common::*;
use std::time::Duration;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A client on another network than [`client`].
fn outsider() -> ClientInfo {
    ClientInfo::new(
        Some([203, 0, 113, 66].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some("attacker/1".to_owned()),
    )
}

/// The code in the newest mail to `to` among `mails`.
fn code_to(mails: &[Mail], to: &str) -> Option<String> {
    mails.iter().rev().find_map(|m| match &m.message {
        Message::SignupCode { code, .. }
        | Message::LoginCode { code, .. }
        | Message::AlreadyRegistered { code, .. }
        | Message::RecoveryCode { code, .. }
        | Message::EmailChangeCode { code, .. }
            if m.to.as_str() == to =>
        {
            Some(code.expose().to_owned())
        }
        _ => None,
    })
}

async fn principal(w: &World, access: &str) -> Principal {
    w.service.authenticate(access).await.unwrap()
}

/// Moves the signed-in account to `to`; the old address's undo token comes back.
async fn change_email(w: &World, who: &Principal, to: &str) -> String {
    let started = w
        .service
        .start_email_change(who, email(to), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.service
        .verify_email_change(who, &started.attempt_token, &code, &client())
        .await
        .unwrap();
    let mails = w.mailer.take();
    mails
        .iter()
        .find_map(|m| match &m.message {
            Message::EmailChanged { revert_token, .. } => Some(revert_token.expose().to_owned()),
            _ => None,
        })
        .expect("the old address gets an undo link")
}

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
        matches!(r, Err(StartError::InvalidAttempt)),
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

// --- Email change: re-checked, other sessions end, an undo link -----------------------------

#[tokio::test]
async fn verifying_an_email_change_needs_a_sign_in_that_is_still_recent() {
    let w = world(relaxed());
    let owner = signed_up(&w, "slow@example.com").await;
    let who = principal(&w, &owner.access_token).await;
    let started = w
        .service
        .start_email_change(&who, email("slow2@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.clock.advance(Duration::from_secs(9 * 60));
    // The code is still valid, but the sign-in is now 11 minutes old.
    w.clock.advance(Duration::from_secs(2 * 60));
    let who = principal(&w, &owner.access_token).await;
    let r = w
        .service
        .verify_email_change(&who, &started.attempt_token, &code, &client())
        .await;
    assert!(matches!(r, Err(VerifyError::ReauthRequired)), "{r:?}");
    assert_eq!(
        w.service.me(&who).await.unwrap().email.as_str(),
        "slow@example.com"
    );
}

#[tokio::test]
async fn an_email_change_ends_every_other_session_and_mails_an_undo_link_to_the_old_address() {
    let w = world(relaxed());
    let owner = signed_up(&w, "keep@example.com").await;
    let other = w
        .service
        .start_login(email("keep@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let other = w
        .service
        .verify_code(&other.attempt_token, &code, &client())
        .await
        .unwrap();
    let who = principal(&w, &owner.access_token).await;
    let started = w
        .service
        .start_email_change(&who, email("moved@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let user = w
        .service
        .verify_email_change(&who, &started.attempt_token, &code, &client())
        .await
        .unwrap();
    assert_eq!(user.email.as_str(), "moved@example.com");
    assert!(
        w.service.authenticate(&other.access_token).await.is_err(),
        "the other session ended"
    );
    assert!(
        w.service.authenticate(&owner.access_token).await.is_ok(),
        "the session that made the change stays"
    );
    let mails = w.mailer.take();
    let notice = mails
        .iter()
        .find(|m| m.to.as_str() == "keep@example.com")
        .expect("a notice to the old address");
    let Message::EmailChanged {
        new_address_masked,
        revert_token,
        valid_hours,
    } = &notice.message
    else {
        panic!("{notice:?}")
    };
    assert_eq!(new_address_masked, "m***@example.com");
    assert_eq!(*valid_hours, 72);
    assert!(!format!("{notice:?}").contains(revert_token.expose()));
}

#[tokio::test]
async fn the_undo_link_moves_the_address_back_ends_every_session_and_removes_recent_passkeys() {
    let w = world(relaxed());
    let owner = signed_up(&w, "victim@example.com").await;
    let mut old_passkey = sample_passkey(owner.user.id);
    old_passkey.created_at = w.clock.now().minus(Duration::from_secs(3 * 86_400));
    w.store.add(&old_passkey).await.unwrap();
    // The intruder added a passkey an hour ago, and now moves the account away.
    let mut planted = sample_passkey(owner.user.id);
    planted.created_at = w.clock.now().minus(Duration::from_secs(3600));
    w.store.add(&planted).await.unwrap();
    let intruder = principal(&w, &owner.access_token).await;
    let token = change_email(&w, &intruder, "intruder@example.com").await;
    w.clock.advance(Duration::from_secs(3600));
    let mut later = sample_passkey(owner.user.id);
    later.created_at = w.clock.now();
    w.store.add(&later).await.unwrap();

    // The owner, days later, clicks the link.
    w.clock.advance(Duration::from_secs(2 * 86_400));
    let done = w
        .service
        .revert_email_change(&token, &client())
        .await
        .unwrap();
    assert!(done.restored);
    assert_eq!(done.passkeys_removed, 2);
    assert_eq!(done.sessions_ended, 1);
    assert!(
        w.service
            .refresh(owner.refresh_token.expose(), &client())
            .await
            .is_err(),
        "the intruder's session ended"
    );
    let left: Vec<_> = w
        .store
        .list(&owner.user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, vec![old_passkey.id], "only the older passkey stays");
    // The owner signs in at the old address again.
    let back = w
        .service
        .start_login(email("victim@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let signed = w
        .service
        .verify_code(&back.attempt_token, &code, &client())
        .await
        .unwrap();
    assert_eq!(signed.user.id, owner.user.id);
    // The link works once.
    assert!(
        w.service
            .revert_email_change(&token, &client())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_undo_link_when_the_address_was_taken_still_locks_the_intruder_out() {
    let w = world(relaxed());
    let owner = signed_up(&w, "lost@example.com").await;
    let intruder = principal(&w, &owner.access_token).await;
    let token = change_email(&w, &intruder, "theirs@example.com").await;
    // Someone else signs up with the freed address.
    signed_up(&w, "lost@example.com").await;
    let held = w
        .service
        .start_login(email("theirs@example.com"), &outsider())
        .await
        .unwrap();
    let held_code = last_code(&w.mailer);
    let done = w
        .service
        .revert_email_change(&token, &client())
        .await
        .unwrap();
    assert!(!done.restored, "the address could not be restored");
    assert!(w.service.authenticate(&owner.access_token).await.is_err());
    let r = w
        .service
        .verify_code(&held.attempt_token, &held_code, &outsider())
        .await;
    assert!(
        matches!(r, Err(VerifyError::Invalid)),
        "the intruder's open attempts die too: {r:?}"
    );
}

#[tokio::test]
async fn an_expired_or_made_up_undo_link_does_nothing() {
    let w = world(relaxed());
    let owner = signed_up(&w, "late@example.com").await;
    let who = principal(&w, &owner.access_token).await;
    let token = change_email(&w, &who, "new-late@example.com").await;
    w.clock.advance(Duration::from_secs(72 * 3600));
    assert!(
        w.service
            .revert_email_change(&token, &client())
            .await
            .is_err()
    );
    assert!(
        w.service
            .revert_email_change("not-a-token", &client())
            .await
            .is_err()
    );
    assert_eq!(
        w.service.me(&who).await.unwrap().email.as_str(),
        "new-late@example.com"
    );
}

#[tokio::test]
async fn deleting_the_account_mails_a_notice_to_its_address() {
    let w = world(relaxed());
    let owner = signed_up(&w, "bye@example.com").await;
    w.mailer.take();
    let who = principal(&w, &owner.access_token).await;
    w.service.delete_account(&who).await.unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "bye@example.com");
    assert_eq!(mails[0].message, Message::AccountDeleted);
}

// --- Code sign-ins to accounts with passkeys are mailed --------------------------------------

#[tokio::test]
async fn a_code_or_recovery_sign_in_to_an_account_with_passkeys_mails_a_notice() {
    let w = world(relaxed());
    let owner = signed_up(&w, "keys@example.com").await;
    let firefox = ClientInfo::new(
        Some([192, 0, 2, 44].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some(FIREFOX.to_owned()),
    );
    // Without passkeys a code sign-in is the ordinary way in: no notice.
    let started = w
        .service
        .start_login(email("keys@example.com"), &firefox)
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.service
        .verify_code(&started.attempt_token, &code, &firefox)
        .await
        .unwrap();
    assert!(w.mailer.take().is_empty(), "no notice without passkeys");

    w.store.add(&sample_passkey(owner.user.id)).await.unwrap();
    for recovery in [false, true] {
        let started = if recovery {
            w.service
                .start_recovery(email("keys@example.com"), &firefox)
                .await
        } else {
            w.service
                .start_login(email("keys@example.com"), &firefox)
                .await
        }
        .unwrap();
        let code = last_code(&w.mailer);
        w.service
            .verify_code(&started.attempt_token, &code, &firefox)
            .await
            .unwrap();
        let mails = w.mailer.take();
        assert_eq!(mails.len(), 1, "one notice");
        assert_eq!(mails[0].to.as_str(), "keys@example.com");
        assert_eq!(
            mails[0].message,
            Message::SignInNotice {
                recovery,
                at: w.clock.now(),
                device: "Firefox on Linux".to_owned(),
                ip: Some("192.0.2.44".to_owned()),
            }
        );
    }
}

// --- Outsiders cannot lock an owner out, nor spend the global budget ------------------------

#[tokio::test]
async fn an_attacker_network_hammering_an_address_cannot_stop_its_owner_from_another_network() {
    // The real limits, gap and failure budget included.
    let w = world(Policy::default());
    signed_up(&w, "owner@example.com").await;
    w.clock.advance(Duration::from_secs(60));

    // The owner starts first; whatever the attacker does next must not kill this attempt.
    let mine = w
        .service
        .start_login(email("owner@example.com"), &client())
        .await
        .unwrap();
    let my_first_code = code_to(&w.mailer.take(), "owner@example.com").unwrap();

    // The attacker's network: starts until every send limit bites, and wrong guesses on every
    // attempt it gets until the failure budget bites.
    let mut sends_refused = 0;
    let mut guesses_refused = 0;
    for _ in 0..10 {
        match w
            .service
            .start_login(email("owner@example.com"), &outsider())
            .await
        {
            Ok(theirs) => {
                for _ in 0..5 {
                    match w
                        .service
                        .verify_code(&theirs.attempt_token, "AAAAAAAA", &outsider())
                        .await
                    {
                        Err(VerifyError::RateLimited { .. }) => guesses_refused += 1,
                        Err(VerifyError::Invalid) => {}
                        r => panic!("{r:?}"),
                    }
                }
            }
            Err(StartError::RateLimited { .. }) => sends_refused += 1,
            Err(e) => panic!("{e:?}"),
        }
        w.clock.advance(Duration::from_secs(31));
    }
    assert!(
        sends_refused > 0 && guesses_refused > 0,
        "the attacker met its own limits ({sends_refused} sends, {guesses_refused} guesses refused)"
    );
    w.mailer.take();

    // The owner's first attempt survived every start of the attacker.
    assert!(
        w.service
            .verify_code(&mine.attempt_token, &my_first_code, &client())
            .await
            .is_ok(),
        "another client's starts never kill the owner's attempt"
    );
    // And a fresh start from the owner's network gets a code that works.
    let again = w
        .service
        .start_login(email("owner@example.com"), &client())
        .await
        .unwrap();
    let code = code_to(&w.mailer.take(), "owner@example.com").unwrap();
    assert!(
        w.service
            .verify_code(&again.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_absolute_per_address_cap_holds_against_many_networks() {
    let mut policy = relaxed();
    policy.limits.send_per_address_total = Quota::new(10, Duration::from_secs(3600));
    let w = world(policy);
    let mut refused = 0;
    for i in 0..20u8 {
        let net = ClientInfo::new(Some([203, 0, 113, i].into()), 64, None);
        if let Err(StartError::RateLimited { .. }) = w
            .service
            .start_login(email("bombed@example.com"), &net)
            .await
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "20 networks, a cap of 10 codes to one address");
}

#[tokio::test]
async fn a_flood_from_one_network_leaves_the_global_budget_to_every_other_network() {
    let mut policy = relaxed();
    // Generous per-network limits (as behind a large NAT), a small global budget.
    policy.limits.send_per_ip = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_per_address = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_per_address_total = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_global = Quota::new(100, Duration::from_secs(60));
    policy.limits.send_global_share_percent = 10;
    let w = world(policy);
    signed_up(&w, "legit@example.com").await;
    let mut sent = 0;
    for i in 0..500 {
        if w.service
            .start_login(email(&format!("flood{i}@example.com")), &outsider())
            .await
            .is_ok()
        {
            sent += 1;
        }
    }
    assert_eq!(sent, 10, "one network gets 10 % of the global budget");
    let started = w
        .service
        .start_login(email("legit@example.com"), &client())
        .await
        .expect("another network still gets codes");
    let code = code_to(&w.mailer.take(), "legit@example.com").unwrap();
    assert!(
        w.service
            .verify_code(&started.attempt_token, &code, &client())
            .await
            .is_ok()
    );
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
