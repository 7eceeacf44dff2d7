//! Contract suites: one per port, run by every adapter against its real technology, plus the fakes
//! (clock, randomness) that make use-case tests deterministic.
//!
//! Each suite makes its own unique addresses and keys, so suites may share one database and run in
//! parallel. A failing contract panics with a message that names the rule it broke.

use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::audit::AuditKind;
use crate::code::{ClientSecret, CodeHasher, OtpCode};
use crate::email::EmailAddress;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::ports::{
    AttemptStore, AuditEvent, AuditLog, Clock, EmailRevertStore, EmailTakenOr, Housekeeping,
    Lifetimes, OsRng, RateLimiter, Retention, Rng, SessionRepository, SystemClock, UserRepository,
};
use crate::rate::{Quota, RateDecision};
use crate::revert::{EmailRevert, RevertToken};
use crate::session::{AuthMethod, RefreshToken, Rotation, Session};
use crate::time::Timestamp;
use crate::user::{DisplayName, User};
use futures::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How many callers the concurrency cases run at once.
pub const PARALLEL: usize = 64;

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn at(t: Timestamp) -> Self {
        Self(AtomicI64::new(t.as_millis()))
    }

    /// Moves it forward.
    pub fn advance(&self, d: Duration) {
        self.0
            .fetch_add(crate::time::duration_ms(d), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", UserId::random(&OsRng).as_uuid().simple())
}

/// A fresh address no other test uses.
pub fn unique_email(tag: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{}@example.test", unique(tag))).expect("generated address parses")
}

/// A user with a fresh address, not yet stored.
pub fn sample_user(tag: &str) -> User {
    User {
        id: UserId::random(&OsRng),
        email: unique_email(tag),
        display_name: DisplayName::parse("Contract Tester").expect("valid name"),
        public: false,
        created_at: now(),
        attempt_epoch: 0,
    }
}

/// A session for `user`, signed in at `at`, not yet stored.
pub fn sample_session(user: UserId, at: Timestamp) -> Session {
    Session {
        id: SessionId::random(&OsRng),
        user_id: user,
        method: AuthMethod::EmailCode,
        created_at: at,
        last_seen_at: at,
        expires_at: at.plus(Duration::from_secs(3600)),
        user_agent: Some("contract-test/1".to_owned()),
        ip: Some("192.0.2.1".to_owned()),
        revoked_at: None,
    }
}

/// An active attempt for `email` whose code is `ABCD1234` under the secret returned beside it.
pub fn sample_attempt(
    email: &EmailAddress,
    purpose: Purpose,
    subject: Subject,
    at: Timestamp,
) -> (Attempt, ClientSecret) {
    let id = AttemptId::random(&OsRng);
    let secret = ClientSecret::generate(&OsRng);
    let hasher = CodeHasher::new(&[9u8; 32]).expect("pepper is long enough");
    let code = OtpCode::parse("ABCD1234", 8).expect("valid code");
    let attempt = Attempt {
        id,
        purpose,
        email: email.clone(),
        subject,
        code_hash: hasher.hash(&id, &secret, &code),
        created_at: at,
        expires_at: at.plus(Duration::from_secs(600)),
        guesses: 0,
        state: AttemptState::Active,
        account_epoch: 0,
    };
    (attempt, secret)
}

async fn stored_user(users: &dyn UserRepository, tag: &str) -> (User, Session) {
    let user = sample_user(tag);
    let session = sample_session(user.id, now());
    users
        .create(&user, &session, &RefreshToken::generate(&OsRng).hash())
        .await
        .expect("creating a fresh user works");
    (user, session)
}

/// The [`UserRepository`] contract.
pub async fn user_repository(users: Arc<dyn UserRepository>, sessions: Arc<dyn SessionRepository>) {
    let (user, session) = stored_user(&*users, "users").await;

    // Created together with its first session.
    assert_eq!(
        users.by_id(&user.id).await.unwrap(),
        Some(user.clone()),
        "by_id returns what create stored"
    );
    assert_eq!(
        users.by_email(&user.email).await.unwrap(),
        Some(user.clone()),
        "by_email finds the normalised address"
    );
    assert_eq!(
        sessions.get(&session.id).await.unwrap(),
        Some(session.clone()),
        "create stores the first session too"
    );
    assert_eq!(
        users.by_email(&unique_email("nobody")).await.unwrap(),
        None,
        "unknown address gives None"
    );
    assert_eq!(
        users.by_id(&UserId::random(&OsRng)).await.unwrap(),
        None,
        "unknown id gives None"
    );

    // Unique address, and a refused create writes nothing at all.
    let mut twin = sample_user("twin");
    twin.email = user.email.clone();
    let twin_session = sample_session(twin.id, now());
    let refused = users
        .create(&twin, &twin_session, &RefreshToken::generate(&OsRng).hash())
        .await;
    assert!(
        matches!(refused, Err(EmailTakenOr::Taken)),
        "a second account with the same address is refused"
    );
    assert_eq!(
        users.by_id(&twin.id).await.unwrap(),
        None,
        "a refused create leaves no user"
    );
    assert_eq!(
        sessions.get(&twin_session.id).await.unwrap(),
        None,
        "a refused create leaves no session"
    );

    // Parallel creates of one address: exactly one wins.
    let email = unique_email("race");
    let results = join_all((0..PARALLEL).map(|_| {
        let users = users.clone();
        let email = email.clone();
        async move {
            let mut u = sample_user("race");
            u.email = email;
            let s = sample_session(u.id, now());
            users
                .create(&u, &s, &RefreshToken::generate(&OsRng).hash())
                .await
        }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        won, 1,
        "parallel creates with one address: exactly one succeeds"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(EmailTakenOr::Taken))),
        "the losers see Taken"
    );

    // Profile.
    let name = DisplayName::parse("Renamed").unwrap();
    let updated = users
        .update_profile(&user.id, &name, true)
        .await
        .unwrap()
        .expect("user exists");
    assert_eq!(
        (updated.display_name.as_str(), updated.public),
        ("Renamed", true),
        "update_profile stores both fields"
    );
    assert_eq!(
        users
            .update_profile(&UserId::random(&OsRng), &name, true)
            .await
            .unwrap(),
        None,
        "update_profile of nobody is None"
    );

    // Email change.
    let other = stored_user(&*users, "other").await.0;
    assert!(
        matches!(
            users.change_email(&user.id, &other.email).await,
            Err(EmailTakenOr::Taken)
        ),
        "change_email to a taken address is refused"
    );
    assert_eq!(
        users.by_id(&user.id).await.unwrap().unwrap().email,
        user.email,
        "a refused change_email writes nothing"
    );
    let fresh = unique_email("moved");
    let epoch = users.by_id(&user.id).await.unwrap().unwrap().attempt_epoch;
    assert_eq!(epoch, 0, "a new account starts in epoch 0");
    assert!(
        users.change_email(&user.id, &fresh).await.unwrap(),
        "change_email to a free address works"
    );
    assert_eq!(
        users.by_id(&user.id).await.unwrap().unwrap().attempt_epoch,
        1,
        "change_email starts a new attempt epoch"
    );
    assert!(
        users.end_attempts(&user.id).await.unwrap(),
        "end_attempts of an account is true"
    );
    let after = users.by_email(&fresh).await.unwrap().unwrap();
    assert_eq!(
        (after.attempt_epoch, after.email.clone()),
        (2, fresh.clone()),
        "end_attempts starts a new epoch and changes nothing else"
    );
    assert!(
        !users.end_attempts(&UserId::random(&OsRng)).await.unwrap(),
        "end_attempts of nobody is false"
    );
    assert!(
        matches!(
            users.change_email(&user.id, &other.email).await,
            Err(EmailTakenOr::Taken)
        ) && users.by_id(&user.id).await.unwrap().unwrap().attempt_epoch == 2,
        "a refused change_email leaves the epoch alone"
    );
    assert_eq!(
        users.by_email(&fresh).await.unwrap().map(|u| u.id),
        Some(user.id),
        "the account is found at its new address"
    );
    assert_eq!(
        users.by_email(&user.email).await.unwrap(),
        None,
        "the old address is free"
    );
    assert!(
        !users
            .change_email(&UserId::random(&OsRng), &unique_email("x"))
            .await
            .unwrap(),
        "change_email of nobody is false"
    );

    // Public listing: only public accounts, ordered by id, paged by cursor.
    let mut public = Vec::new();
    for _ in 0..5 {
        let (u, _) = stored_user(&*users, "pub").await;
        users
            .update_profile(&u.id, &u.display_name, true)
            .await
            .unwrap();
        public.push(u.id);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = users.list_public(cursor, 2).await.unwrap();
        assert!(page.len() <= 2, "list_public respects the limit");
        assert!(
            page.windows(2).all(|w| w[0].id < w[1].id),
            "list_public is ordered by id"
        );
        if let (Some(c), Some(first)) = (cursor, page.first()) {
            assert!(first.id > c, "list_public starts strictly after the cursor");
        }
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        seen.extend(page.iter().map(|p| p.id));
    }
    assert!(
        public.iter().all(|id| seen.contains(id)),
        "every public account appears in the listing"
    );
    assert!(
        !seen.contains(&other.id),
        "private accounts never appear in the listing"
    );

    // Delete takes the sessions with it.
    assert!(
        users.delete(&user.id).await.unwrap(),
        "delete of an existing account is true"
    );
    assert_eq!(
        users.by_id(&user.id).await.unwrap(),
        None,
        "a deleted account is gone"
    );
    assert_eq!(
        sessions.get(&session.id).await.unwrap(),
        None,
        "deleting an account deletes its sessions"
    );
    assert!(
        !users.delete(&user.id).await.unwrap(),
        "delete of a missing account is false"
    );
}

/// The [`AttemptStore`] contract, including the concurrency rules.
pub async fn attempt_store(store: Arc<dyn AttemptStore>) {
    let t0 = now();
    let email = unique_email("attempt");
    let user = UserId::random(&OsRng);
    let (a, _) = sample_attempt(
        &email,
        Purpose::Login,
        Subject::Account { user_id: user },
        t0,
    );
    store.create(&a, None).await.unwrap();
    assert_eq!(
        store.get(&a.id).await.unwrap(),
        Some(a.clone()),
        "get returns what create stored"
    );
    assert_eq!(
        store.get(&AttemptId::random(&OsRng)).await.unwrap(),
        None,
        "unknown attempt gives None"
    );

    // Each subject kind round-trips.
    for subject in [
        Subject::Decoy,
        Subject::NewAccount {
            display_name: DisplayName::parse("Zoë ✓").unwrap(),
        },
    ] {
        let (x, _) = sample_attempt(&unique_email("subject"), Purpose::Signup, subject, t0);
        store.create(&x, None).await.unwrap();
        assert_eq!(
            store.get(&x.id).await.unwrap(),
            Some(x),
            "every subject kind round-trips"
        );
    }

    // Guesses are counted and bounded.
    for n in 1..=3 {
        let g = store
            .take_guess(&a.id, t0, 3)
            .await
            .unwrap()
            .expect("guess within budget");
        assert_eq!(
            g.guesses, n,
            "take_guess returns the count after this guess"
        );
        assert_eq!(
            g.code_hash, a.code_hash,
            "take_guess returns the stored hash"
        );
    }
    assert_eq!(
        store.take_guess(&a.id, t0, 3).await.unwrap(),
        None,
        "no guess beyond the budget"
    );
    assert_eq!(
        store.get(&a.id).await.unwrap().unwrap().guesses,
        3,
        "a refused guess is not counted"
    );

    // Expiry.
    let (b, _) = sample_attempt(&unique_email("expiry"), Purpose::Login, Subject::Decoy, t0);
    store.create(&b, None).await.unwrap();
    assert_eq!(
        store.take_guess(&b.id, b.expires_at, 5).await.unwrap(),
        None,
        "no guess at or after expiry"
    );
    assert!(
        !store.consume(&b.id, b.expires_at).await.unwrap(),
        "no consumption at or after expiry"
    );

    // Single use.
    let (c, _) = sample_attempt(
        &unique_email("once"),
        Purpose::Recovery,
        Subject::Account { user_id: user },
        t0,
    );
    store.create(&c, None).await.unwrap();
    assert!(store.take_guess(&c.id, t0, 5).await.unwrap().is_some());
    assert!(
        store.consume(&c.id, t0).await.unwrap(),
        "the first consume wins"
    );
    assert!(
        !store.consume(&c.id, t0).await.unwrap(),
        "a second consume loses"
    );
    assert_eq!(
        store.take_guess(&c.id, t0, 5).await.unwrap(),
        None,
        "a consumed attempt takes no guesses"
    );
    assert_eq!(
        store.get(&c.id).await.unwrap().unwrap().state,
        AttemptState::Consumed
    );

    // Starts never touch each other: any number of attempts for one address and purpose stay
    // active side by side, so one client's start cannot kill the attempt another client holds.
    let shared = unique_email("side-by-side");
    let account = Subject::Account { user_id: user };
    let (first, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (second, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (recovery, _) = sample_attempt(&shared, Purpose::Recovery, account.clone(), t0);
    store.create(&first, None).await.unwrap();
    store.create(&second, None).await.unwrap();
    store.create(&recovery, None).await.unwrap();
    for (x, what) in [
        (&first, "the first"),
        (&second, "the second"),
        (&recovery, "another purpose's"),
    ] {
        assert_eq!(
            store.get(&x.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "a new attempt leaves {what} attempt of the address active"
        );
    }
    assert!(
        store.take_guess(&first.id, t0, 5).await.unwrap().is_some(),
        "the older of two starts still takes guesses"
    );

    // A resend replaces exactly the attempt it names.
    let (resent, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    store.create(&resent, Some(first.id)).await.unwrap();
    assert_eq!(
        store.get(&first.id).await.unwrap().unwrap().state,
        AttemptState::Superseded,
        "a resend supersedes the attempt it replaces"
    );
    assert_eq!(
        store.take_guess(&first.id, t0, 5).await.unwrap(),
        None,
        "a superseded attempt takes no guesses"
    );
    assert!(
        !store.consume(&first.id, t0).await.unwrap(),
        "a superseded attempt cannot be consumed"
    );
    for (x, what) in [
        (&second, "another start of the address"),
        (&recovery, "another purpose"),
        (&resent, "the new attempt"),
    ] {
        assert_eq!(
            store.get(&x.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "a resend leaves {what} active"
        );
    }
    // Replacing an attempt that is no longer active changes nothing about it.
    let (done, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    store.create(&done, None).await.unwrap();
    assert!(store.consume(&done.id, t0).await.unwrap());
    let (again, _) = sample_attempt(&shared, Purpose::Login, account, t0);
    store.create(&again, Some(done.id)).await.unwrap();
    assert_eq!(
        store.get(&done.id).await.unwrap().unwrap().state,
        AttemptState::Consumed,
        "a consumed attempt stays consumed when named as replaced"
    );
    assert_eq!(
        store.get(&again.id).await.unwrap().unwrap().state,
        AttemptState::Active
    );

    // The epoch of an account's chain round-trips.
    let (mut epoch, _) = sample_attempt(
        &unique_email("epoch"),
        Purpose::Recovery,
        Subject::Account { user_id: user },
        t0,
    );
    epoch.account_epoch = 7;
    store.create(&epoch, None).await.unwrap();
    assert_eq!(
        store.get(&epoch.id).await.unwrap().unwrap().account_epoch,
        7,
        "the account epoch round-trips"
    );

    // 64 parallel guesses evaluate at most the budget.
    let (p, _) = sample_attempt(
        &unique_email("parallel"),
        Purpose::Login,
        Subject::Decoy,
        t0,
    );
    store.create(&p, None).await.unwrap();
    let handed = join_all((0..PARALLEL).map(|_| {
        let store = store.clone();
        async move { store.take_guess(&p.id, t0, 5).await.unwrap().is_some() }
    }))
    .await;
    assert_eq!(
        handed.iter().filter(|&&x| x).count(),
        5,
        "{PARALLEL} parallel guesses evaluate exactly the budget of 5"
    );
    assert_eq!(
        store.get(&p.id).await.unwrap().unwrap().guesses,
        5,
        "the stored count is the budget"
    );

    // 64 parallel consumptions: exactly one.
    let (q, _) = sample_attempt(&unique_email("consume"), Purpose::Login, Subject::Decoy, t0);
    store.create(&q, None).await.unwrap();
    let won = join_all((0..PARALLEL).map(|_| {
        let store = store.clone();
        async move { store.consume(&q.id, t0).await.unwrap() }
    }))
    .await;
    assert_eq!(
        won.iter().filter(|&&x| x).count(),
        1,
        "{PARALLEL} parallel consumptions: exactly one wins"
    );
}

/// The [`SessionRepository`] contract, including parallel rotation and reuse detection.
pub async fn session_repository(
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
) {
    let t0 = now();
    let idle = Duration::from_secs(5000);
    let max = Duration::from_secs(7200);
    // Without a grace, as before it existed: every second presentation is reuse.
    let life = Lifetimes {
        idle,
        max,
        grace: Duration::ZERO,
    };
    let (user, first) = stored_user(&*users, "sessions").await;
    let r1 = RefreshToken::generate(&OsRng);
    let s = sample_session(user.id, t0);
    sessions.create(&s, &r1.hash()).await.unwrap();
    assert_eq!(
        sessions.get(&s.id).await.unwrap(),
        Some(s.clone()),
        "get returns what create stored"
    );

    // Rotation.
    let r2 = RefreshToken::generate(&OsRng);
    let later = t0.plus(Duration::from_secs(60));
    let Rotation::Rotated(rotated) = sessions
        .rotate(&r1.hash(), &r2.hash(), later, life)
        .await
        .unwrap()
    else {
        panic!("presenting the current token rotates it");
    };
    assert_eq!(rotated.id, s.id);
    assert_eq!(rotated.last_seen_at, later, "rotation records when");
    assert_eq!(
        rotated.expires_at,
        later.plus(idle),
        "rotation slides the expiry by the idle lifetime"
    );
    assert_eq!(
        rotated.created_at, s.created_at,
        "rotation never moves the sign-in time"
    );
    let unknown = RefreshToken::generate(&OsRng);
    assert_eq!(
        sessions
            .rotate(
                &unknown.hash(),
                &RefreshToken::generate(&OsRng).hash(),
                later,
                life
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "an unknown token is invalid"
    );

    // The absolute cap.
    let r3 = RefreshToken::generate(&OsRng);
    let near_cap = t0.plus(Duration::from_secs(5000));
    let Rotation::Rotated(capped) = sessions
        .rotate(&r2.hash(), &r3.hash(), near_cap, life)
        .await
        .unwrap()
    else {
        panic!("the current token rotates");
    };
    assert_eq!(
        capped.expires_at,
        t0.plus(max),
        "expiry never passes created_at + max"
    );

    // Reuse of a spent token revokes the family.
    let reused = sessions
        .rotate(
            &r1.hash(),
            &RefreshToken::generate(&OsRng).hash(),
            near_cap,
            life,
        )
        .await
        .unwrap();
    assert_eq!(
        reused,
        Rotation::Reused {
            session_id: s.id,
            user_id: user.id
        },
        "a spent token is reported as reuse"
    );
    assert!(
        sessions
            .get(&s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "reuse revokes the session"
    );
    assert_eq!(
        sessions
            .rotate(
                &r3.hash(),
                &RefreshToken::generate(&OsRng).hash(),
                near_cap,
                life
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "after reuse even the current token is dead"
    );

    // Expired sessions do not rotate.
    let old_token = RefreshToken::generate(&OsRng);
    let old = sample_session(user.id, t0);
    sessions.create(&old, &old_token.hash()).await.unwrap();
    assert_eq!(
        sessions
            .rotate(
                &old_token.hash(),
                &RefreshToken::generate(&OsRng).hash(),
                old.expires_at,
                life
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "an expired session does not rotate"
    );

    // Parallel rotation of one token: exactly one winner.
    let tok = RefreshToken::generate(&OsRng);
    let par = sample_session(user.id, t0);
    sessions.create(&par, &tok.hash()).await.unwrap();
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let sessions = sessions.clone();
            let tok = tok.clone();
            tokio::spawn(async move {
                sessions
                    .rotate(
                        &tok.hash(),
                        &RefreshToken::generate(&OsRng).hash(),
                        later,
                        life,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let outcomes = joined(tasks).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Rotated(_)))
            .count(),
        1,
        "{PARALLEL} parallel rotations of one token: exactly one wins"
    );

    refresh_grace(&*users, &sessions).await;

    // Listing and revocation.
    let (stranger, stranger_session) = stored_user(&*users, "stranger").await;
    let a = sample_session(user.id, t0.plus(Duration::from_secs(1)));
    let b = sample_session(user.id, t0.plus(Duration::from_secs(2)));
    sessions
        .create(&a, &RefreshToken::generate(&OsRng).hash())
        .await
        .unwrap();
    sessions
        .create(&b, &RefreshToken::generate(&OsRng).hash())
        .await
        .unwrap();
    let listed: Vec<SessionId> = sessions
        .list_active(&user.id, later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(&listed[..2], &[b.id, a.id], "list_active is newest first");
    assert!(
        listed.contains(&first.id) && !listed.contains(&s.id),
        "list_active shows active sessions only"
    );
    assert!(
        !listed.contains(&stranger_session.id),
        "list_active shows only the account's sessions"
    );
    assert!(
        !sessions
            .revoke(&user.id, &stranger_session.id, later)
            .await
            .unwrap(),
        "cannot revoke another account's session"
    );
    assert!(
        sessions
            .get(&stranger_session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        sessions.revoke(&user.id, &a.id, later).await.unwrap(),
        "revoke of an active session is true"
    );
    assert!(
        !sessions.revoke(&user.id, &a.id, later).await.unwrap(),
        "revoke twice is false"
    );
    let n = sessions
        .revoke_all(&user.id, Some(b.id), later)
        .await
        .unwrap();
    assert!(n >= 2, "revoke_all counts what it revoked");
    let left: Vec<SessionId> = sessions
        .list_active(&user.id, later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(left, vec![b.id], "revoke_all keeps only the kept session");
    assert_eq!(sessions.revoke_all(&user.id, None, later).await.unwrap(), 1);
    assert!(
        sessions
            .list_active(&user.id, later)
            .await
            .unwrap()
            .is_empty(),
        "revoke_all without keep revokes all"
    );
    assert!(
        sessions
            .get(&stranger_session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "revoke_all touches one account only"
    );
    drop(stranger);
}

/// The results of spawned tasks, in order; a task that panicked fails the contract with its panic.
async fn joined<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(v) => out.push(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

/// The grace of [`SessionRepository::rotate`]: the same `old` presented again with the same `new`
/// shortly after it was rotated gets the same session; later, or with another `new`, it is reuse.
async fn refresh_grace(users: &dyn UserRepository, sessions: &Arc<dyn SessionRepository>) {
    let t0 = now();
    let life = Lifetimes {
        idle: Duration::from_secs(5000),
        max: Duration::from_secs(7200),
        grace: Duration::from_secs(10),
    };
    let (user, _) = stored_user(users, "grace").await;
    let family = async || {
        let old = RefreshToken::generate(&OsRng);
        let s = sample_session(user.id, t0);
        sessions.create(&s, &old.hash()).await.unwrap();
        (s, old, RefreshToken::generate(&OsRng))
    };

    // Within the grace: both callers succeed, with one successor.
    let (s, old, new) = family().await;
    let at = t0.plus(Duration::from_secs(1));
    let Rotation::Rotated(first) = sessions
        .rotate(&old.hash(), &new.hash(), at, life)
        .await
        .unwrap()
    else {
        panic!("the current token rotates");
    };
    let again = at.plus(Duration::from_millis(9_999));
    let Rotation::Rotated(second) = sessions
        .rotate(&old.hash(), &new.hash(), again, life)
        .await
        .unwrap()
    else {
        panic!("the just-rotated token presented again within the grace gets the same successor");
    };
    assert_eq!(
        (second.id, second.revoked_at),
        (s.id, None),
        "the second caller gets the same, live session"
    );
    assert_eq!(
        second.expires_at, first.expires_at,
        "the second presentation changes nothing"
    );
    let next = RefreshToken::generate(&OsRng);
    assert!(
        matches!(
            sessions
                .rotate(&new.hash(), &next.hash(), again, life)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ),
        "the one successor is current and rotates"
    );
    assert!(
        matches!(
            sessions
                .rotate(&old.hash(), &new.hash(), again, life)
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ),
        "within the grace, but the successor has moved on: reuse"
    );
    assert!(
        sessions
            .get(&s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "and that revokes the family"
    );

    // After the grace: reuse, and the family is revoked.
    let (s, old, new) = family().await;
    assert!(matches!(
        sessions
            .rotate(&old.hash(), &new.hash(), at, life)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert_eq!(
        sessions
            .rotate(&old.hash(), &new.hash(), at.plus(life.grace), life)
            .await
            .unwrap(),
        Rotation::Reused {
            session_id: s.id,
            user_id: user.id
        },
        "once the grace has passed, the spent token is reuse"
    );
    assert_eq!(
        sessions
            .rotate(
                &new.hash(),
                &RefreshToken::generate(&OsRng).hash(),
                at,
                life
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "and the successor died with its family"
    );

    // Within the grace but asking for another successor (derived under another key): reuse.
    let (s, old, new) = family().await;
    assert!(matches!(
        sessions
            .rotate(&old.hash(), &new.hash(), at, life)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert!(
        matches!(
            sessions
                .rotate(
                    &old.hash(),
                    &RefreshToken::generate(&OsRng).hash(),
                    at,
                    life
                )
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ),
        "a successor that is not the current token is reuse"
    );
    assert!(
        sessions
            .get(&s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // A revoked session gives nothing within the grace either.
    let (s, old, new) = family().await;
    assert!(matches!(
        sessions
            .rotate(&old.hash(), &new.hash(), at, life)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert!(sessions.revoke(&user.id, &s.id, at).await.unwrap());
    assert_eq!(
        sessions
            .rotate(&old.hash(), &new.hash(), at, life)
            .await
            .unwrap(),
        Rotation::Invalid,
        "a revoked session does not come back within the grace"
    );

    // Parallel presentations of one token, as tabs make them: every caller succeeds, with one
    // session and one successor.
    let (s, old, new) = family().await;
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let sessions = sessions.clone();
            let (old, new) = (old.clone(), new.clone());
            tokio::spawn(async move {
                sessions
                    .rotate(&old.hash(), &new.hash(), at, life)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let outcomes = joined(tasks).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Rotation::Rotated(x) if x.id == s.id)),
        "{PARALLEL} parallel presentations within the grace all succeed: {outcomes:?}"
    );
    let next = RefreshToken::generate(&OsRng);
    assert!(
        matches!(
            sessions
                .rotate(&new.hash(), &next.hash(), at, life)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ),
        "the successor they share is current"
    );
    assert!(
        matches!(
            sessions
                .rotate(
                    &next.hash(),
                    &RefreshToken::generate(&OsRng).hash(),
                    at,
                    life
                )
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ),
        "and its own successor is the one current token of the family"
    );
}

/// The [`RateLimiter`] contract, including parallel acquisition.
pub async fn rate_limiter(limiter: Arc<dyn RateLimiter>) {
    let t0 = now();
    let q = Quota::new(3, Duration::from_secs(3));
    let k = unique("rl");
    for i in 0..3 {
        assert!(
            limiter.acquire(&k, q, t0).await.unwrap().is_allowed(),
            "request {i} of the burst is allowed"
        );
    }
    assert_eq!(
        limiter.acquire(&k, q, t0).await.unwrap(),
        RateDecision::Limited {
            retry_after: Duration::from_secs(1)
        },
        "the request after the burst waits one interval"
    );
    assert!(
        limiter
            .acquire(&k, q, t0.plus(Duration::from_secs(1)))
            .await
            .unwrap()
            .is_allowed(),
        "one interval later one more is allowed"
    );
    assert!(
        limiter
            .acquire(&unique("rl-other"), q, t0)
            .await
            .unwrap()
            .is_allowed(),
        "keys are independent"
    );

    // Parallel hits: exactly L allowed.
    const L: u32 = 10;
    let pk = unique("rl-par");
    let allowed = join_all((0..PARALLEL).map(|_| {
        let limiter = limiter.clone();
        let pk = pk.clone();
        async move {
            limiter
                .acquire(&pk, Quota::new(L, Duration::from_secs(60)), t0)
                .await
                .unwrap()
                .is_allowed()
        }
    }))
    .await;
    assert_eq!(
        allowed.iter().filter(|&&x| x).count(),
        L as usize,
        "{PARALLEL} parallel hits with limit {L} allow exactly {L}"
    );

    // Failures: counted within a window that starts at the first, cleared on demand.
    let fk = unique("fail");
    let window = Duration::from_secs(60);
    assert_eq!(
        limiter.failures(&fk, t0).await.unwrap().count,
        0,
        "no failures recorded yet"
    );
    let f1 = limiter.record_failure(&fk, t0, window).await.unwrap();
    assert_eq!(
        (f1.count, f1.last_at, f1.window_ends),
        (1, Some(t0), Some(t0.plus(window))),
        "the first failure opens the window"
    );
    let t1 = t0.plus(Duration::from_secs(10));
    let f2 = limiter.record_failure(&fk, t1, window).await.unwrap();
    assert_eq!(
        (f2.count, f2.last_at, f2.window_ends),
        (2, Some(t1), Some(t0.plus(window))),
        "later failures count within the same window"
    );
    assert_eq!(
        limiter.failures(&fk, t1).await.unwrap(),
        f2,
        "failures reads what record_failure wrote"
    );
    assert_eq!(
        limiter.failures(&fk, t0.plus(window)).await.unwrap().count,
        0,
        "failures are forgotten when the window ends"
    );
    let reopened = limiter
        .record_failure(&fk, t0.plus(window), window)
        .await
        .unwrap();
    assert_eq!(
        reopened.count, 1,
        "a failure after the window starts a new one"
    );
    limiter.clear_failures(&fk).await.unwrap();
    assert_eq!(
        limiter.failures(&fk, t1).await.unwrap().count,
        0,
        "clear_failures forgets them"
    );

    let pf = unique("fail-par");
    join_all((0..PARALLEL).map(|_| {
        let limiter = limiter.clone();
        let pf = pf.clone();
        async move { limiter.record_failure(&pf, t0, window).await.unwrap() }
    }))
    .await;
    assert_eq!(
        limiter.failures(&pf, t0).await.unwrap().count,
        PARALLEL as u32,
        "{PARALLEL} parallel failures all count"
    );
}

/// The [`AuditLog`] contract.
pub async fn audit_log(users: Arc<dyn UserRepository>, audit: Arc<dyn AuditLog>) {
    let (user, _) = stored_user(&*users, "audit").await;
    let t0 = now();
    for i in 0..5u64 {
        let event = AuditEvent {
            user_id: user.id,
            at: t0.plus(Duration::from_secs(i)),
            kind: AuditKind::ALL[i as usize],
            ip: Some("192.0.2.7".to_owned()),
            detail: (i % 2 == 0).then(|| "detail".to_owned()),
        };
        audit.record(&event).await.unwrap();
    }
    let recent = audit.recent(&user.id, 3).await.unwrap();
    let kinds: Vec<AuditKind> = recent.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AuditKind::ALL[4], AuditKind::ALL[3], AuditKind::ALL[2]],
        "recent is newest first and limited"
    );
    assert_eq!(recent[0].detail.as_deref(), Some("detail"));
    assert_eq!(recent[1].detail, None);
    assert_eq!(recent[0].ip.as_deref(), Some("192.0.2.7"));
    assert!(
        audit
            .recent(&UserId::random(&OsRng), 10)
            .await
            .unwrap()
            .is_empty(),
        "another account has no events"
    );
    users.delete(&user.id).await.unwrap();
    assert!(
        audit.recent(&user.id, 10).await.unwrap().is_empty(),
        "deleting the account deletes its history"
    );
}

/// A deterministic random source for use-case tests: a counter run through SHA-256.
#[derive(Debug, Default)]
pub struct CountingRng(std::sync::atomic::AtomicU64);

impl Rng for CountingRng {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let block = Sha256::digest(n.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

/// A passkey of `user` with a fresh random credential id, not yet stored.
pub fn sample_passkey(user: UserId) -> crate::passkey::Passkey {
    let mut credential_id = vec![0u8; 32];
    OsRng.fill(&mut credential_id);
    crate::passkey::Passkey {
        id: crate::ids::PasskeyId::random(&OsRng),
        user_id: user,
        credential_id,
        name: crate::passkey::PasskeyName::parse("Laptop").expect("valid name"),
        created_at: now(),
        last_used_at: None,
        backup_eligible: true,
        backed_up: false,
        transports: vec!["internal".to_owned(), "hybrid".to_owned()],
        sign_count: 0,
        credential: b"{\"opaque\":\"adapter record\"}".to_vec(),
    }
}

/// The [`crate::ports::PasskeyRepository`] contract.
pub async fn passkey_repository(
    users: Arc<dyn UserRepository>,
    passkeys: Arc<dyn crate::ports::PasskeyRepository>,
) {
    use crate::ports::CredentialTakenOr;
    let (user, _) = stored_user(&*users, "passkeys").await;
    let (other, _) = stored_user(&*users, "passkeys-other").await;
    let first = sample_passkey(user.id);
    let mut second = sample_passkey(user.id);
    second.created_at = first.created_at.plus(Duration::from_secs(1));
    passkeys.add(&first).await.unwrap();
    passkeys.add(&second).await.unwrap();
    let listed = passkeys.list(&user.id).await.unwrap();
    assert_eq!(
        listed,
        vec![first.clone(), second.clone()],
        "list returns what add stored, oldest first"
    );
    assert!(
        passkeys.list(&other.id).await.unwrap().is_empty(),
        "list shows one account's passkeys only"
    );
    assert_eq!(
        passkeys
            .by_credential_id(&first.credential_id)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(passkeys.by_credential_id(b"unknown").await.unwrap(), None);

    // A credential id is unique across all accounts, even under parallel adds.
    let mut stolen = sample_passkey(other.id);
    stolen.credential_id = first.credential_id.clone();
    assert!(
        matches!(passkeys.add(&stolen).await, Err(CredentialTakenOr::Taken)),
        "a credential id is unique across accounts"
    );
    let shared = sample_passkey(other.id).credential_id;
    let results = join_all((0..PARALLEL).map(|_| {
        let passkeys = passkeys.clone();
        let mut p = sample_passkey(other.id);
        p.credential_id = shared.clone();
        async move { passkeys.add(&p).await }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{PARALLEL} parallel adds of one credential: exactly one"
    );

    // Use, rename, delete.
    let at = now().plus(Duration::from_secs(5));
    assert!(
        passkeys
            .record_use(&first.id, b"updated", 7, true, at)
            .await
            .unwrap()
    );
    let used = passkeys
        .by_credential_id(&first.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            used.sign_count,
            used.backed_up,
            used.last_used_at,
            used.credential.as_slice()
        ),
        (7, true, Some(at), &b"updated"[..])
    );
    assert!(
        !passkeys
            .record_use(&crate::ids::PasskeyId::random(&OsRng), b"x", 1, false, at)
            .await
            .unwrap()
    );
    // The counter only moves forward: an older sign-in that lands later changes no counter,
    // record or backup state, only the last use.
    let later_at = at.plus(Duration::from_secs(5));
    assert!(
        passkeys
            .record_use(&first.id, b"stale", 5, false, later_at)
            .await
            .unwrap(),
        "an older counter still finds the passkey"
    );
    let kept = passkeys
        .by_credential_id(&first.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            kept.sign_count,
            kept.backed_up,
            kept.credential.as_slice(),
            kept.last_used_at
        ),
        (7, true, &b"updated"[..], Some(later_at)),
        "a counter below the stored one changes nothing but the last use"
    );
    assert!(
        passkeys
            .record_use(&first.id, b"zero", 0, false, at)
            .await
            .unwrap()
    );
    let kept = passkeys
        .by_credential_id(&first.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            kept.sign_count,
            kept.credential.as_slice(),
            kept.last_used_at
        ),
        (7, &b"updated"[..], Some(later_at)),
        "a zero after a count is backwards too, and the last use never moves back"
    );
    // Synced passkeys report 0 every time.
    let zero = sample_passkey(other.id);
    passkeys.add(&zero).await.unwrap();
    assert!(
        passkeys
            .record_use(&zero.id, b"synced", 0, true, at)
            .await
            .unwrap()
    );
    let synced = passkeys
        .by_credential_id(&zero.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            synced.sign_count,
            synced.backed_up,
            synced.credential.as_slice()
        ),
        (0, true, &b"synced"[..]),
        "a counter of 0 on a passkey at 0 is stored"
    );
    // Parallel sign-ins landing in any order leave the highest counter.
    let racing = sample_passkey(other.id);
    passkeys.add(&racing).await.unwrap();
    let tasks: Vec<_> = (1..=PARALLEL as u32)
        .rev()
        .map(|n| {
            let passkeys = passkeys.clone();
            let id = racing.id;
            tokio::spawn(async move {
                passkeys
                    .record_use(&id, format!("record {n}").as_bytes(), n, false, at)
                    .await
                    .unwrap()
            })
        })
        .collect();
    assert!(joined(tasks).await.into_iter().all(|found| found));
    let raced = passkeys
        .by_credential_id(&racing.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (raced.sign_count, raced.credential),
        (PARALLEL as u32, format!("record {PARALLEL}").into_bytes()),
        "{PARALLEL} parallel uses leave the highest counter with its own record"
    );

    let name = crate::passkey::PasskeyName::parse("Work phone").unwrap();
    assert!(
        !passkeys.rename(&other.id, &first.id, &name).await.unwrap(),
        "cannot rename another account's passkey"
    );
    assert!(passkeys.rename(&user.id, &first.id, &name).await.unwrap());
    assert_eq!(passkeys.list(&user.id).await.unwrap()[0].name, name);
    assert!(
        !passkeys.delete(&other.id, &first.id).await.unwrap(),
        "cannot delete another account's passkey"
    );
    assert!(passkeys.delete(&user.id, &first.id).await.unwrap());
    assert!(
        !passkeys.delete(&user.id, &first.id).await.unwrap(),
        "delete twice is false"
    );
    assert_eq!(passkeys.list(&user.id).await.unwrap(), vec![second.clone()]);

    // Deleting the account deletes its passkeys, and frees their credential ids.
    users.delete(&user.id).await.unwrap();
    assert_eq!(
        passkeys
            .by_credential_id(&second.credential_id)
            .await
            .unwrap(),
        None,
        "passkeys go with their account"
    );
}

/// The [`crate::ports::CeremonyStore`] contract. Expiry follows the caller's clock.
pub async fn ceremony_store(store: Arc<dyn crate::ports::CeremonyStore>) {
    use crate::ids::CeremonyId;
    let t0 = now();
    let ttl = Duration::from_secs(60);
    let id = CeremonyId::random(&OsRng);
    let state = vec![0u8, 159, 146, 150, 255];
    store.put(&id, &state, t0, ttl).await.unwrap();
    assert_eq!(
        store.take(&id, t0).await.unwrap(),
        Some(state.clone()),
        "take returns what put kept, bytes intact"
    );
    assert_eq!(
        store.take(&id, t0).await.unwrap(),
        None,
        "a ceremony is single use"
    );
    assert_eq!(
        store.take(&CeremonyId::random(&OsRng), t0).await.unwrap(),
        None,
        "unknown ceremonies give None"
    );

    let inside = CeremonyId::random(&OsRng);
    store.put(&inside, b"still here", t0, ttl).await.unwrap();
    assert_eq!(
        store
            .take(&inside, t0.plus(ttl - Duration::from_millis(1)))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"still here"[..]),
        "a ceremony just inside its lifetime is there"
    );
    let expired = CeremonyId::random(&OsRng);
    store.put(&expired, b"soon gone", t0, ttl).await.unwrap();
    assert_eq!(
        store.take(&expired, t0.plus(ttl)).await.unwrap(),
        None,
        "a ceremony is gone once its lifetime has passed"
    );

    let par = CeremonyId::random(&OsRng);
    store.put(&par, b"once", t0, ttl).await.unwrap();
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take(&par, t0).await.unwrap().is_some() })
        })
        .collect();
    assert_eq!(
        joined(tasks).await.iter().filter(|&&g| g).count(),
        1,
        "{PARALLEL} parallel takes: exactly one gets the state"
    );
}

/// The [`Housekeeping`] contract: ended sessions, old spent refresh tokens and old audit events
/// go; live sessions, their current tokens and recent events stay. Purging deletes across every
/// account, so this suite must not share its store with suites running at the same time.
pub async fn housekeeping(
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    audit: Arc<dyn AuditLog>,
    keeper: Arc<dyn Housekeeping>,
) {
    let t0 = now();
    let day = Duration::from_secs(86_400);
    let hour = Duration::from_secs(3600);
    let life = Lifetimes {
        idle: 30 * day,
        max: 90 * day,
        grace: Duration::ZERO,
    };
    let (user, _) = stored_user(&*users, "purge").await;

    // A live session that has rotated twice: `a` spent at t0, `b` a day later, `c` current.
    let live = sample_session(user.id, t0);
    let [a, b, c] = [(); 3].map(|()| RefreshToken::generate(&OsRng));
    sessions.create(&live, &a.hash()).await.unwrap();
    for (old, new, at) in [(&a, &b, t0), (&b, &c, t0.plus(day))] {
        assert!(matches!(
            sessions
                .rotate(&old.hash(), &new.hash(), at, life)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ));
    }
    // Sessions that have ended: one expired, one revoked.
    let expired_token = RefreshToken::generate(&OsRng);
    let expired = sample_session(user.id, t0.minus(2 * hour));
    sessions
        .create(&expired, &expired_token.hash())
        .await
        .unwrap();
    let revoked = sample_session(user.id, t0);
    sessions
        .create(&revoked, &RefreshToken::generate(&OsRng).hash())
        .await
        .unwrap();
    assert!(sessions.revoke(&user.id, &revoked.id, t0).await.unwrap());

    let at = t0.plus(day).plus(Duration::from_secs(1));
    let event = |when: Timestamp, detail: &str| AuditEvent {
        user_id: user.id,
        at: when,
        kind: AuditKind::SignedIn,
        ip: None,
        detail: Some(detail.to_owned()),
    };
    audit
        .record(&event(at.minus(91 * day), "old"))
        .await
        .unwrap();
    audit
        .record(&event(at.minus(89 * day), "kept"))
        .await
        .unwrap();

    let purged = keeper
        .purge(
            at,
            Retention {
                spent_tokens: day,
                audit: 90 * day,
            },
        )
        .await
        .unwrap();
    assert!(
        purged.sessions >= 2 && purged.refresh_tokens >= 1 && purged.audit_events >= 1,
        "purge counts what it deleted: {purged:?}"
    );

    assert_eq!(
        sessions.get(&expired.id).await.unwrap(),
        None,
        "an expired session is purged"
    );
    assert_eq!(
        sessions.get(&revoked.id).await.unwrap(),
        None,
        "a revoked session is purged"
    );
    assert_eq!(
        sessions
            .rotate(
                &expired_token.hash(),
                &RefreshToken::generate(&OsRng).hash(),
                at,
                life
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "the tokens of a purged session are unknown"
    );
    assert!(
        sessions.get(&live.id).await.unwrap().is_some(),
        "a live session stays"
    );
    let recent: Vec<Option<String>> = audit
        .recent(&user.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        recent,
        [Some("kept".to_owned())],
        "only events older than the retention go"
    );
    assert_eq!(
        sessions
            .rotate(&a.hash(), &RefreshToken::generate(&OsRng).hash(), at, life)
            .await
            .unwrap(),
        Rotation::Invalid,
        "a token spent longer ago than the retention is forgotten"
    );
    let d = RefreshToken::generate(&OsRng);
    assert!(
        matches!(
            sessions
                .rotate(&c.hash(), &d.hash(), at, life)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ),
        "the current token of a live session is never purged"
    );
    assert_eq!(
        sessions
            .rotate(&b.hash(), &RefreshToken::generate(&OsRng).hash(), at, life)
            .await
            .unwrap(),
        Rotation::Reused {
            session_id: live.id,
            user_id: user.id
        },
        "a token spent within the retention is still recognised as reuse"
    );
    let again = keeper
        .purge(
            at,
            Retention {
                spent_tokens: day,
                audit: 90 * day,
            },
        )
        .await
        .unwrap();
    assert!(
        again.sessions >= 1,
        "the session revoked by reuse goes on the next purge: {again:?}"
    );
    assert_eq!(sessions.get(&live.id).await.unwrap(), None);
}

/// The [`EmailRevertStore`] contract: links round-trip, work once (also under parallel takes),
/// expire, and go with their account.
pub async fn email_revert_store(
    users: Arc<dyn UserRepository>,
    reverts: Arc<dyn EmailRevertStore>,
) {
    let (user, _) = stored_user(&*users, "revert").await;
    let t0 = now();
    let link = |token: &RevertToken| EmailRevert {
        token_hash: token.hash(),
        user_id: user.id,
        old_email: unique_email("old"),
        changed_at: t0,
        expires_at: t0.plus(Duration::from_secs(72 * 3600)),
    };
    let token = RevertToken::generate(&OsRng);
    let kept = link(&token);
    reverts.put(&kept).await.unwrap();
    assert_eq!(
        reverts
            .take(&RevertToken::generate(&OsRng).hash(), t0)
            .await
            .unwrap(),
        None,
        "an unknown token takes nothing"
    );
    assert_eq!(
        reverts.take(&token.hash(), t0).await.unwrap(),
        Some(kept.clone()),
        "take returns what put kept"
    );
    assert_eq!(
        reverts.take(&token.hash(), t0).await.unwrap(),
        None,
        "a link works once"
    );

    // Expiry.
    let late = RevertToken::generate(&OsRng);
    let expiring = link(&late);
    reverts.put(&expiring).await.unwrap();
    assert_eq!(
        reverts
            .take(&late.hash(), expiring.expires_at)
            .await
            .unwrap(),
        None,
        "a link does not work at or after its expiry"
    );

    // Several links of one account are independent.
    let (a, b) = (RevertToken::generate(&OsRng), RevertToken::generate(&OsRng));
    reverts.put(&link(&a)).await.unwrap();
    reverts.put(&link(&b)).await.unwrap();
    assert!(reverts.take(&a.hash(), t0).await.unwrap().is_some());
    assert!(
        reverts.take(&b.hash(), t0).await.unwrap().is_some(),
        "taking one link leaves the account's others"
    );

    // Parallel takes of one link: exactly one gets it.
    let par = RevertToken::generate(&OsRng);
    reverts.put(&link(&par)).await.unwrap();
    // Like the other suites' parallel cases: the adapters' futures interleave at every I/O.
    let got = join_all((0..PARALLEL).map(|_| {
        let reverts = reverts.clone();
        let hash = par.hash();
        async move { reverts.take(&hash, t0).await.unwrap().is_some() }
    }))
    .await
    .into_iter()
    .filter(|&g| g)
    .count();
    assert_eq!(
        got, 1,
        "{PARALLEL} parallel takes of one link: exactly one gets it"
    );

    // Links go with their account.
    let gone = RevertToken::generate(&OsRng);
    reverts.put(&link(&gone)).await.unwrap();
    users.delete(&user.id).await.unwrap();
    assert_eq!(
        reverts.take(&gone.hash(), t0).await.unwrap(),
        None,
        "deleting the account deletes its links"
    );
}
