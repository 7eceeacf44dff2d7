//! Disabled accounts on the in-memory adapters with a manual clock: no path signs in (email code,
//! recovery, sign-up of the taken address, refresh, access tokens), attempts started before the
//! disable die, sessions end at once, the owner is told instead of getting a code, and enabling
//! lets the account sign in again.

mod common;

use auth_core::audit::AuditKind;
use auth_core::mail::Message;
use auth_core::ports::{AuditLog, Clock, SessionRepository, UserRepository};
use auth_core::service::{AuthError, Operator, RefreshError, VerifyError};
use auth_core::user::DisplayName;
use common::*;
use std::time::Duration;

const ADDRESS: &str = "dora@example.com";

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_by_any_path_and_its_sessions_end_at_once() {
    let w = world(no_backoff());
    let signed = signed_up(&w, ADDRESS).await;
    w.mailer.take();
    // An attempt started before the disable, whose code arrived.
    let before = w
        .service
        .start_login(email(ADDRESS), &client())
        .await
        .unwrap();
    let old_code = last_code(&w.mailer);

    assert!(
        w.service
            .disable_account(&signed.user.id, &Operator::cli())
            .await
            .unwrap()
    );
    let mails = w.mailer.take();
    assert!(
        matches!(&mails[..], [m] if m.message == Message::AccountDisabled
            && m.to.as_str() == ADDRESS),
        "the owner is told: {mails:?}"
    );

    assert!(
        matches!(
            w.service.authenticate(&signed.access_token).await,
            Err(AuthError::Unauthenticated)
        ),
        "the access token of its session no longer authenticates"
    );
    assert!(
        matches!(
            w.service
                .refresh(signed.refresh_token.expose(), &client())
                .await,
            Err(RefreshError::Invalid)
        ),
        "its refresh token does not rotate"
    );
    assert!(
        w.store
            .list_active(&signed.user.id, w.clock.now())
            .await
            .unwrap()
            .is_empty(),
        "every session ended at once"
    );
    assert!(
        matches!(
            w.service
                .verify_code(&before.attempt_token, &old_code, &client())
                .await,
            Err(VerifyError::Invalid)
        ),
        "an attempt started before the disable died"
    );

    // New starts look like any other, and mail a notice instead of a code.
    w.clock.advance(Duration::from_secs(60));
    let starts = [
        w.service.start_login(email(ADDRESS), &client()).await,
        w.service.start_recovery(email(ADDRESS), &client()).await,
        w.service
            .start_signup(
                email(ADDRESS),
                DisplayName::parse("Intruder").unwrap(),
                &client(),
            )
            .await,
    ];
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 3, "one mail per start");
    for m in &mails {
        assert_eq!(m.message, Message::DisabledAccount, "no code: {m:?}");
        assert_eq!(m.to.as_str(), ADDRESS);
    }
    for started in starts {
        let started = started.expect("a start is answered as for any address");
        // No code was mailed; no guess can be right, whatever it is.
        for guess in ["AAAAAAAA", &old_code] {
            assert!(matches!(
                w.service
                    .verify_code(&started.attempt_token, guess, &client())
                    .await,
                Err(VerifyError::Invalid)
            ));
        }
    }
    let events = w.store.recent(&signed.user.id, 50).await.unwrap();
    let disabled: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AuditKind::AccountDisabled)
        .collect();
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        disabled[0].detail.as_deref(),
        Some("by cli"),
        "names the operator"
    );
    assert!(
        !events
            .iter()
            .any(|e| e.kind == AuditKind::SignedIn && e.at > disabled[0].at),
        "nothing signed in after the disable"
    );
}

#[tokio::test]
async fn an_enabled_account_signs_in_again_and_its_owner_is_told() {
    let w = world(relaxed());
    let signed = signed_up(&w, ADDRESS).await;
    let id = signed.user.id;
    w.service
        .disable_account(&id, &Operator::cli())
        .await
        .unwrap();
    assert!(
        !w.service
            .disable_account(&id, &Operator::cli())
            .await
            .unwrap(),
        "a second disable changes nothing"
    );
    w.mailer.take();
    assert!(
        w.service
            .enable_account(&id, &Operator::token("ops"))
            .await
            .unwrap()
    );
    let mails = w.mailer.take();
    assert!(matches!(&mails[..], [m] if m.message == Message::AccountEnabled));
    assert!(
        w.store
            .by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );

    w.clock.advance(Duration::from_secs(60));
    let started = w
        .service
        .start_login(email(ADDRESS), &client())
        .await
        .unwrap();
    let again = w
        .service
        .verify_code(&started.attempt_token, &last_code(&w.mailer), &client())
        .await
        .expect("an enabled account signs in");
    assert!(w.service.authenticate(&again.access_token).await.is_ok());
    assert!(
        w.service.authenticate(&signed.access_token).await.is_err(),
        "the session the disable ended stays ended"
    );
}

#[tokio::test]
async fn a_sign_in_proven_before_the_disable_opens_no_session_after_it() {
    // The code is right and the attempt still live when it is checked, but the account is
    // disabled before the session opens: the store's own check refuses it.
    let w = world(relaxed());
    let signed = signed_up(&w, ADDRESS).await;
    let user = w.store.by_id(&signed.user.id).await.unwrap().unwrap();
    let event = auth_core::ports::AuditEvent {
        user_id: user.id,
        at: w.clock.now(),
        kind: AuditKind::AccountDisabled,
        ip: None,
        detail: Some("by test".to_owned()),
    };
    assert!(w.store.disable(&user.id, &event).await.unwrap());
    let session = auth_core::testkit::sample_session(user.id, w.clock.now());
    let opened = w
        .store
        .open(
            &session,
            &auth_core::session::RefreshToken::generate(&auth_core::ports::OsRng).hash(),
            &auth_core::testkit::sign_in_event(&session, w.clock.now()),
        )
        .await
        .unwrap();
    assert!(
        !opened,
        "the opening write itself refuses a disabled account"
    );
}

#[tokio::test]
async fn operators_end_sessions_and_delete_accounts_with_a_notice() {
    let w = world(relaxed());
    let signed = signed_up(&w, ADDRESS).await;
    let id = signed.user.id;
    w.mailer.take();
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(
        w.service
            .revoke_account_sessions(&id, &Operator::cli())
            .await
            .unwrap(),
        1
    );
    assert!(w.service.authenticate(&signed.access_token).await.is_err());
    let events = w.store.recent(&id, 10).await.unwrap();
    assert_eq!(events[0].kind, AuditKind::AdminSessionsRevoked);
    assert_eq!(
        events[0].detail.as_deref(),
        Some("by cli; 1 sessions ended")
    );

    let found = w.service.find_account(ADDRESS).await.unwrap();
    assert_eq!(found.id, id, "found by address");
    assert_eq!(
        w.service.find_account(&id.to_string()).await.unwrap().id,
        id,
        "and by id"
    );
    w.service
        .delete_account_as(&id, &Operator::token("ops"))
        .await
        .unwrap();
    let mails = w.mailer.take();
    assert!(matches!(&mails[..], [m] if m.message == Message::AccountDeletedByOperator));
    assert!(matches!(
        w.service.find_account(ADDRESS).await,
        Err(auth_core::service::AdminError::NotFound)
    ));
    assert!(matches!(
        w.service.disable_account(&id, &Operator::cli()).await,
        Err(auth_core::service::AdminError::NotFound)
    ));
}
