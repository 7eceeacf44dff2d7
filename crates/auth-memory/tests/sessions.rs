//! The session and passkey rules of `auth-core` on the in-memory adapters, with a manual clock:
//! the refresh grace for tabs that refresh at once, the recent sign-in that adding a passkey
//! needs, and the limit on passkey sign-in options. The WebAuthn adapter is a mock: these tests
//! are about what the service decides, the ceremonies themselves are tested with a software
//! authenticator in auth-webauthn and end to end.

mod common;

use auth_core::mail::Message;
use auth_core::passkey::{Ceremony, NewCredential};
use auth_core::ports::Clock;
use auth_core::ports::{MockWebAuthn, SessionRepository};
use auth_core::service::{ClientInfo, PasskeyError, RefreshError};
use auth_core::{CeremonyId, Policy};
use common::*;
use std::sync::Arc;
use std::time::Duration;

/// A relying party that starts every ceremony and accepts every registration.
fn accepting_webauthn() -> MockWebAuthn {
    let mut m = MockWebAuthn::new();
    m.expect_start_registration().returning(|_, _| {
        Ok(Ceremony {
            options: serde_json::json!({"publicKey": {}}),
            state: b"registration".to_vec(),
        })
    });
    m.expect_finish_registration().returning(|_, _| {
        Ok(NewCredential {
            credential_id: b"credential".to_vec(),
            credential: b"record".to_vec(),
            backup_eligible: true,
            backed_up: true,
            transports: vec!["internal".to_owned()],
            sign_count: 0,
        })
    });
    m.expect_start_login().returning(|| {
        Ok(Ceremony {
            options: serde_json::json!({"publicKey": {}}),
            state: b"login".to_vec(),
        })
    });
    m
}

fn passkey_world(policy: Policy) -> World {
    world_with(policy, |mut p| {
        p.webauthn = Arc::new(accepting_webauthn());
        p
    })
}

fn client_at(ip: [u8; 4]) -> ClientInfo {
    ClientInfo::new(
        Some(ip.into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some("tests".to_owned()),
    )
}

#[tokio::test]
async fn adding_a_passkey_needs_a_recent_sign_in_whatever_the_method() {
    let w = passkey_world(relaxed());
    let user = signed_up(&w, "adder@example.com").await;
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    assert!(
        w.service.start_passkey_registration(&who).await.is_ok(),
        "right after signing up, adding a passkey works"
    );
    w.clock.advance(Duration::from_secs(11 * 60));
    // The access token has 4 minutes left; the email-code sign-in is 11 minutes old.
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    assert!(
        matches!(
            w.service.start_passkey_registration(&who).await,
            Err(PasskeyError::ReauthRequired)
        ),
        "a stale email-code session cannot start adding a passkey"
    );
    let refreshed = w
        .service
        .refresh(user.refresh_token.expose(), &client())
        .await
        .unwrap();
    let who = w
        .service
        .authenticate(&refreshed.access_token)
        .await
        .unwrap();
    assert!(
        matches!(
            w.service.start_passkey_registration(&who).await,
            Err(PasskeyError::ReauthRequired)
        ),
        "refreshing does not make a sign-in recent"
    );
}

#[tokio::test]
async fn finishing_a_passkey_registration_checks_the_sign_in_again() {
    let w = passkey_world(relaxed());
    let user = signed_up(&w, "slow-adder@example.com").await;
    w.clock.advance(Duration::from_secs(9 * 60));
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    let start = w
        .service
        .start_passkey_registration(&who)
        .await
        .expect("9 minutes after signing in is recent");
    w.clock.advance(Duration::from_secs(2 * 60));
    let finished = w
        .service
        .finish_passkey_registration(
            &who,
            &start.ceremony_id,
            &serde_json::json!({}),
            None,
            None,
            &client(),
        )
        .await;
    assert!(
        matches!(finished, Err(PasskeyError::ReauthRequired)),
        "11 minutes after signing in, the finish is refused: {finished:?}"
    );
    assert!(
        w.service.passkeys(&who).await.unwrap().is_empty(),
        "and no passkey was added"
    );
}

#[tokio::test]
async fn a_fresh_sign_in_adds_a_passkey_start_to_finish() {
    let w = passkey_world(relaxed());
    let user = signed_up(&w, "fresh-adder@example.com").await;
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    let start = w.service.start_passkey_registration(&who).await.unwrap();
    let added = w
        .service
        .finish_passkey_registration(
            &who,
            &start.ceremony_id,
            &serde_json::json!({}),
            None,
            Some("Firefox on Linux"),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(w.service.passkeys(&who).await.unwrap(), vec![added]);
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_get_the_same_successor() {
    let w = world(relaxed());
    let user = signed_up(&w, "tabs@example.com").await;
    let old = user.refresh_token.expose().to_owned();
    let first = w.service.refresh(&old, &client()).await.unwrap();
    w.clock.advance(Duration::from_secs(9));
    let second = w
        .service
        .refresh(&old, &client())
        .await
        .expect("the other tab, 9 seconds later, is still signed in");
    assert_eq!(
        first.refresh_token, second.refresh_token,
        "both tabs hold the same successor"
    );
    assert_eq!(first.session.id, second.session.id);
    let next = w
        .service
        .refresh(second.refresh_token.expose(), &client())
        .await
        .expect("the shared successor works");
    assert!(
        w.service.authenticate(&next.access_token).await.is_ok(),
        "and the session is alive"
    );
}

#[tokio::test]
async fn a_spent_refresh_token_after_the_grace_revokes_the_session() {
    let w = world(relaxed());
    let user = signed_up(&w, "late-tab@example.com").await;
    let old = user.refresh_token.expose().to_owned();
    let first = w.service.refresh(&old, &client()).await.unwrap();
    w.clock.advance(Duration::from_secs(10));
    assert!(
        matches!(
            w.service.refresh(&old, &client()).await,
            Err(RefreshError::Invalid)
        ),
        "10 seconds later, the spent token is reuse"
    );
    let session = w.store.get(&first.session.id).await.unwrap().unwrap();
    assert!(session.revoked_at.is_some(), "reuse revokes the family");
    assert!(
        matches!(
            w.service
                .refresh(first.refresh_token.expose(), &client())
                .await,
            Err(RefreshError::Invalid)
        ),
        "and the successor dies with it"
    );
}

#[tokio::test]
async fn without_a_grace_every_second_presentation_is_reuse() {
    let mut policy = relaxed();
    policy.refresh_grace = Duration::ZERO;
    let w = world(policy);
    let user = signed_up(&w, "no-grace@example.com").await;
    let old = user.refresh_token.expose().to_owned();
    let first = w.service.refresh(&old, &client()).await.unwrap();
    assert!(matches!(
        w.service.refresh(&old, &client()).await,
        Err(RefreshError::Invalid)
    ));
    assert!(
        w.store
            .get(&first.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_refreshing_in_parallel_all_stay_signed_in_with_one_successor() {
    let w = world(relaxed());
    let user = signed_up(&w, "many-tabs@example.com").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let service = w.service.clone();
            let token = user.refresh_token.expose().to_owned();
            tokio::spawn(async move { service.refresh(&token, &client()).await })
        })
        .collect();
    let mut successors = Vec::new();
    for task in tasks {
        let refreshed = task.await.unwrap().expect("every tab's refresh succeeds");
        successors.push(refreshed.refresh_token.expose().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all of them");
    assert!(
        w.service.refresh(&successors[0], &client()).await.is_ok(),
        "and it is the session's current token"
    );
}

#[tokio::test]
async fn passkey_sign_in_options_are_limited_per_client_network() {
    let mut policy = relaxed();
    policy.limits.passkey_options_per_ip =
        auth_core::rate::Quota::new(10, Duration::from_secs(600));
    let w = passkey_world(policy);
    let here = client_at([198, 51, 100, 7]);
    for i in 0..10 {
        assert!(
            w.service.start_passkey_login(&here).await.is_ok(),
            "request {i} of the burst is allowed"
        );
    }
    let Err(PasskeyError::RateLimited { retry_after }) = w.service.start_passkey_login(&here).await
    else {
        panic!("the 11th request from one network is limited");
    };
    assert_eq!(retry_after, Duration::from_secs(60), "one interval");
    assert!(
        w.service
            .start_passkey_login(&client_at([203, 0, 113, 9]))
            .await
            .is_ok(),
        "another network is not affected"
    );
    w.clock.advance(retry_after);
    assert!(
        w.service.start_passkey_login(&here).await.is_ok(),
        "after the wait one more is allowed"
    );
}

#[tokio::test]
async fn the_default_options_limit_allows_a_page_load_every_second() {
    let w = passkey_world(relaxed());
    let here = client();
    for _ in 0..1200 {
        assert!(w.service.start_passkey_login(&here).await.is_ok());
        w.clock.advance(Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_passkey_ceremony_expires_on_the_service_clock() {
    let w = passkey_world(relaxed());
    let start = w.service.start_passkey_login(&client()).await.unwrap();
    w.clock.advance(w.service.policy().ceremony_ttl);
    let finished = w
        .service
        .finish_passkey_login(&start.ceremony_id, &serde_json::json!({}), &client())
        .await;
    assert!(
        matches!(finished, Err(PasskeyError::Invalid)),
        "an expired ceremony cannot be finished: {finished:?}"
    );
    assert!(
        matches!(
            w.service
                .finish_passkey_login(
                    &CeremonyId::random(&auth_core::ports::OsRng),
                    &serde_json::json!({}),
                    &client()
                )
                .await,
            Err(PasskeyError::Invalid)
        ),
        "nor an unknown one"
    );
}

#[tokio::test]
async fn passkey_notices_say_when_and_from_what_device_and_network() {
    let w = passkey_world(relaxed());
    let user = signed_up(&w, "noticed@example.com").await;
    w.mailer.take();
    let firefox = ClientInfo::new(
        Some([192, 0, 2, 44].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some(FIREFOX.to_owned()),
    );
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    let start = w.service.start_passkey_registration(&who).await.unwrap();
    w.clock.advance(Duration::from_secs(30));
    let added = w
        .service
        .finish_passkey_registration(
            &who,
            &start.ceremony_id,
            &serde_json::json!({}),
            None,
            None,
            &firefox,
        )
        .await
        .unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "noticed@example.com");
    assert_eq!(mails[0].name.as_deref(), Some("Tester"));
    assert_eq!(
        mails[0].message,
        Message::PasskeyAdded {
            name: added.name.to_string(),
            at: w.clock.now(),
            device: "Firefox on Linux".to_owned(),
            ip: Some("192.0.2.44".to_owned()),
        }
    );

    w.clock.advance(Duration::from_secs(60));
    w.service
        .delete_passkey(&who, &added.id, &firefox)
        .await
        .unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].message,
        Message::PasskeyRemoved {
            name: added.name.to_string(),
            at: w.clock.now(),
            device: "Firefox on Linux".to_owned(),
            ip: Some("192.0.2.44".to_owned()),
        }
    );
}
