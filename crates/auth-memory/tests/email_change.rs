//! Email change and the mails that warn an owner, on the in-memory adapters with a manual clock:
//! an email change is re-checked, ends the other sessions and can be undone from the old address;
//! deleting an account and code sign-ins to accounts with passkeys are mailed.

mod common;

use auth_core::mail::Message;
use auth_core::ports::{Clock, PasskeyRepository};
use auth_core::service::{ClientInfo, VerifyError};
use auth_core::testkit::sample_passkey;
use common::*;
use std::time::Duration;

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
    w.store
        .add(&old_passkey, &auth_core::testkit::added(&old_passkey))
        .await
        .unwrap();
    // The intruder added a passkey an hour ago, and now moves the account away.
    let mut planted = sample_passkey(owner.user.id);
    planted.created_at = w.clock.now().minus(Duration::from_secs(3600));
    w.store
        .add(&planted, &auth_core::testkit::added(&planted))
        .await
        .unwrap();
    let intruder = principal(&w, &owner.access_token).await;
    let token = change_email(&w, &intruder, "intruder@example.com").await;
    w.clock.advance(Duration::from_secs(3600));
    let mut later = sample_passkey(owner.user.id);
    later.created_at = w.clock.now();
    w.store
        .add(&later, &auth_core::testkit::added(&later))
        .await
        .unwrap();

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
    w.service.delete_account(&who, &client()).await.unwrap();
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

    let passkey = sample_passkey(owner.user.id);
    w.store
        .add(&passkey, &auth_core::testkit::added(&passkey))
        .await
        .unwrap();
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
