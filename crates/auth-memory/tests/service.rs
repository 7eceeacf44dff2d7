//! The use cases of `auth-core` on the in-memory adapters, with a manual clock: the rules that
//! need time to pass or many callers at once, and ports that misbehave (mocks).

mod common;

use auth_core::attempt::Attempt;
use auth_core::attempt::Subject;
use auth_core::ids::AttemptId;
use auth_core::mail::Message;
use auth_core::ports::{AttemptGate, AttemptStore, MailError, OsRng, RateLimiter, StoreError};
use auth_core::rate::{Failures, Quota, RateDecision};
use auth_core::service::{
    AccountError, EmailChangeError, ProfileChange, RefreshError, StartError, VerifyError,
};
use auth_core::time::Timestamp;
use auth_core::user::DisplayName;
use auth_jwt::{JwtIssuer, SigningKey};
use common::*;
use std::sync::Arc;
use std::time::Duration;
#[tokio::test]
async fn a_code_expires_after_its_lifetime() {
    let w = world(relaxed());
    signed_up(&w, "exp@example.com").await;
    let started = w
        .service
        .start_login(email("exp@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.clock.advance(Duration::from_secs(10 * 60));
    let r = w
        .service
        .verify_code(&started.attempt_token, &code, &client())
        .await;
    assert!(matches!(r, Err(VerifyError::Invalid)), "{r:?}");
}

#[tokio::test]
async fn a_code_just_inside_its_lifetime_works() {
    let w = world(relaxed());
    signed_up(&w, "inside@example.com").await;
    let started = w
        .service
        .start_login(email("inside@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.clock.advance(Duration::from_secs(10 * 60 - 1));
    assert!(
        w.service
            .verify_code(&started.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_parallel_correct_submissions_yield_exactly_one_session() {
    let w = world(no_backoff());
    let user = signed_up(&w, "race@example.com").await;
    let started = w
        .service
        .start_login(email("race@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let service = w.service.clone();
            let token = started.attempt_token.clone();
            let code = code.clone();
            tokio::spawn(async move { service.verify_code(&token, &code, &client()).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(VerifyError::Invalid) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        won, 1,
        "exactly one session from 64 parallel correct submissions"
    );
    let principal = w.service.authenticate(&user.access_token).await.unwrap();
    assert_eq!(
        w.service.sessions(&principal).await.unwrap().len(),
        2,
        "the sign-up session and exactly one more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_parallel_wrong_guesses_evaluate_at_most_the_budget() {
    let w = world(no_backoff());
    signed_up(&w, "guesses@example.com").await;
    let started = w
        .service
        .start_login(email("guesses@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let bad = wrong(&code);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let service = w.service.clone();
            let token = started.attempt_token.clone();
            tokio::spawn(async move { service.verify_code(&token, bad, &client()).await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(VerifyError::Invalid)));
    }
    let id = auth_core_ticket(&w, &started.attempt_token);
    assert_eq!(
        w.store.get(&id).await.unwrap().unwrap().guesses,
        5,
        "only the budget of 5 was evaluated"
    );
    assert!(matches!(
        w.service
            .verify_code(&started.attempt_token, &code, &client())
            .await,
        Err(VerifyError::Invalid)
    ));
}

fn auth_core_ticket(w: &World, token: &str) -> AttemptId {
    use auth_core::ports::TokenIssuer;
    let issuer = JwtIssuer::new(
        "https://auth.test",
        "auth",
        SigningKey::generate(&OsRng),
        [],
        &[7u8; 32],
    )
    .unwrap()
    .with_clock(w.clock.clone());
    issuer.verify_attempt(token).unwrap().attempt_id
}

#[tokio::test]
async fn asking_for_new_codes_does_not_buy_more_guesses() {
    let mut policy = no_backoff();
    policy.limits.address_failures.budget = 7;
    let w = world(policy);
    signed_up(&w, "budget@example.com").await;
    let first = w
        .service
        .start_login(email("budget@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    for _ in 0..5 {
        let _ = w
            .service
            .verify_code(&first.attempt_token, wrong(&code), &client())
            .await;
    }
    let second = w
        .service
        .resend(&first.attempt_token, &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    for _ in 0..2 {
        assert!(matches!(
            w.service
                .verify_code(&second.attempt_token, wrong(&code), &client())
                .await,
            Err(VerifyError::Invalid)
        ));
    }
    // Seven failures for the address: even the right code must wait for the window to pass.
    let r = w
        .service
        .verify_code(&second.attempt_token, &code, &client())
        .await;
    assert!(matches!(r, Err(VerifyError::RateLimited { .. })), "{r:?}");
    w.clock.advance(Duration::from_secs(86_400));
    let third = w
        .service
        .start_login(email("budget@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    assert!(
        w.service
            .verify_code(&third.attempt_token, &code, &client())
            .await
            .is_ok(),
        "the budget comes back after the window"
    );
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let mut policy = no_backoff();
    policy.limits.address_failures.budget = 4;
    let w = world(policy);
    signed_up(&w, "reset@example.com").await;
    for _ in 0..2 {
        let started = w
            .service
            .start_login(email("reset@example.com"), &client())
            .await
            .unwrap();
        let code = last_code(&w.mailer);
        for _ in 0..3 {
            let _ = w
                .service
                .verify_code(&started.attempt_token, wrong(&code), &client())
                .await;
        }
        // Three failures plus a success, twice: six failures in all, yet never over the budget of 4.
        assert!(
            w.service
                .verify_code(&started.attempt_token, &code, &client())
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn a_code_is_only_valid_for_its_purpose() {
    let w = world(relaxed());
    let user = signed_up(&w, "purpose@example.com").await;
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    let change = w
        .service
        .start_email_change(&who, email("new@example.com"), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    let r = w
        .service
        .verify_code(&change.attempt_token, &code, &client())
        .await;
    assert!(
        matches!(r, Err(VerifyError::Invalid)),
        "an email-change code cannot sign in: {r:?}"
    );
    let login = w
        .service
        .start_login(email("purpose@example.com"), &client())
        .await
        .unwrap();
    let login_code = last_code(&w.mailer);
    let r = w
        .service
        .verify_email_change(&who, &login.attempt_token, &login_code, &client())
        .await;
    assert!(
        matches!(r, Err(VerifyError::Invalid)),
        "a login code cannot change the address: {r:?}"
    );
    assert!(
        w.service
            .verify_email_change(&who, &change.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unknown_addresses_get_a_decoy_that_never_verifies_and_a_notice() {
    let w = world(relaxed());
    let started = w
        .service
        .start_login(email("ghost@example.com"), &client())
        .await
        .unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].message, Message::NoAccount);
    let id = auth_core_ticket(&w, &started.attempt_token);
    let stored = w.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.subject,
        Subject::Decoy,
        "the decoy is stored like a real attempt"
    );
    for guess in ["AAAAAAAA", "ZZZZ9999", "12345678"] {
        assert!(matches!(
            w.service
                .verify_code(&started.attempt_token, guess, &client())
                .await,
            Err(VerifyError::Invalid)
        ));
    }
}

#[tokio::test]
async fn two_verified_signups_for_one_address_share_one_account() {
    let w = world(relaxed());
    let name = DisplayName::parse("Twin").unwrap();
    let a = w
        .service
        .start_signup(email("twin@example.com"), name.clone(), &client())
        .await
        .unwrap();
    let code_a = last_code(&w.mailer);
    // A second sign-up before the first is verified leaves the first attempt alone: it may be
    // someone else's, on another device.
    let b = w
        .service
        .start_signup(email("twin@example.com"), name, &client())
        .await
        .unwrap();
    let code_b = last_code(&w.mailer);
    let first = w
        .service
        .verify_code(&b.attempt_token, &code_b, &client())
        .await
        .unwrap();
    assert!(first.created);
    let second = w
        .service
        .verify_code(&a.attempt_token, &code_a, &client())
        .await
        .unwrap();
    assert!(!second.created, "the later proof signs in to the account");
    assert_eq!(second.user.id, first.user.id);
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_sign_in() {
    let w = world(relaxed());
    let user = signed_up(&w, "stale@example.com").await;
    w.clock.advance(Duration::from_secs(11 * 60));
    // The access token has 4 minutes left; the sign-in is 11 minutes old.
    let who = w.service.authenticate(&user.access_token).await.unwrap();
    assert!(matches!(
        w.service.delete_account(&who, &client()).await,
        Err(AccountError::ReauthRequired)
    ));
    assert!(matches!(
        w.service
            .start_email_change(&who, email("else@example.com"), &client())
            .await,
        Err(EmailChangeError::ReauthRequired)
    ));
    assert!(
        w.service
            .update_profile(
                &who,
                ProfileChange {
                    public: Some(true),
                    ..ProfileChange::default()
                },
                &client(),
            )
            .await
            .is_ok(),
        "ordinary changes need no recent sign-in"
    );
}

#[tokio::test]
async fn an_idle_session_expires_and_refreshing_slides_it() {
    let w = world(relaxed());
    let user = signed_up(&w, "idle@example.com").await;
    w.clock.advance(Duration::from_secs(29 * 86_400));
    let r = w
        .service
        .refresh(user.refresh_token.expose(), &client())
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(29 * 86_400));
    let r2 = w
        .service
        .refresh(r.refresh_token.expose(), &client())
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(31 * 86_400));
    assert!(
        matches!(
            w.service
                .refresh(r2.refresh_token.expose(), &client())
                .await,
            Err(RefreshError::Invalid)
        ),
        "31 idle days end it"
    );
}

#[tokio::test]
async fn a_full_mail_queue_changes_nothing_the_client_sees() {
    let mut failing = auth_core::ports::MockMailer::new();
    failing
        .expect_send()
        .returning(|_| Err(MailError::QueueFull));
    let w = world_with(relaxed(), |mut p| {
        p.mailer = Arc::new(failing);
        p
    });
    let started = w
        .service
        .start_login(email("quiet@example.com"), &client())
        .await;
    assert!(
        started.is_ok(),
        "a full queue is logged, not shown: {started:?}"
    );
}

#[tokio::test]
async fn a_store_that_is_down_fails_closed_with_a_store_error() {
    let mut down = auth_core::ports::MockAttemptStore::new();
    down.expect_create()
        .returning(|_, _| Err(StoreError::Unavailable("connection refused".into())));
    down.expect_get()
        .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
    let down = Arc::new(DownAttempts {
        attempts: down,
        limits: auth_memory::MemoryStore::new(),
    });
    let w = world_with(relaxed(), |mut p| {
        p.attempts = down.clone();
        p.gate = down;
        p
    });
    let r = w
        .service
        .start_login(email("down@example.com"), &client())
        .await;
    assert!(
        matches!(r, Err(StartError::Store(StoreError::Unavailable(_)))),
        "{r:?}"
    );
    assert!(
        w.mailer.take().is_empty(),
        "no mail goes out for an attempt that was not stored"
    );
}

/// Attempts that a mock answers (down, here) behind a gate whose limits work.
struct DownAttempts {
    attempts: auth_core::ports::MockAttemptStore,
    limits: auth_memory::MemoryStore,
}

#[async_trait::async_trait]
impl AttemptStore for DownAttempts {
    async fn create(&self, a: &Attempt, replaces: Option<AttemptId>) -> Result<(), StoreError> {
        self.attempts.create(a, replaces).await
    }
    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        self.attempts.get(id).await
    }
    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        self.attempts.take_guess(id, now, max).await
    }
    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        self.attempts.consume(id, now).await
    }
}

#[async_trait::async_trait]
impl RateLimiter for DownAttempts {
    async fn acquire(&self, k: &str, q: Quota, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.limits.acquire(k, q, now).await
    }
    async fn failures(&self, k: &str, now: Timestamp) -> Result<Failures, StoreError> {
        self.limits.failures(k, now).await
    }
    async fn record_failure(
        &self,
        k: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        self.limits.record_failure(k, now, window).await
    }
    async fn clear_failures(&self, k: &str) -> Result<(), StoreError> {
        self.limits.clear_failures(k).await
    }
}

impl AttemptGate for DownAttempts {}
