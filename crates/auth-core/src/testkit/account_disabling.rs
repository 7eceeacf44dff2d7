//! The [`UserRepository`] contract for disabling and enabling accounts: a disable ends every
//! session and open attempt of the account with its event in one write, a disabled account opens
//! no session by any path (the refusal is part of the opening write, so it holds under a race),
//! and enabling lets it sign in again without reviving what the disable ended.

use super::{in_parallel, now, sample_passkey, sample_session, sign_in_event, stored_user};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::passkey::CredentialUse;
use crate::ports::{
    AuditEvent, AuditLog, Lifetimes, OsRng, PasskeyRepository, SessionRepository, UserRepository,
};
use crate::session::{RefreshToken, Rotation, Session};
use crate::time::Timestamp;
use crate::user::User;
use std::sync::Arc;
use std::time::Duration;

/// What the rules work on: accounts, their sessions, passkeys and activity.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// The port under test.
    pub users: Arc<dyn UserRepository>,
    /// Where sessions are opened and read.
    pub sessions: Arc<dyn SessionRepository>,
    /// Where passkeys are added.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// Where the events are read back.
    pub audit: Arc<dyn AuditLog>,
}

/// The rules' view of an adapter's store.
pub fn store<S>(s: S) -> Store
where
    S: UserRepository + SessionRepository + PasskeyRepository + AuditLog + Clone + 'static,
{
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s.clone()),
        passkeys: Arc::new(s.clone()),
        audit: Arc::new(s),
    }
}

/// Every rule in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules account_disabling @all store);
}

const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(3600),
    max: Duration::from_secs(7200),
    grace: Duration::ZERO,
};

fn event(user: UserId, kind: AuditKind, at: Timestamp) -> AuditEvent {
    AuditEvent {
        user_id: user,
        at,
        kind,
        ip: None,
        detail: Some("operator cli".to_owned()),
    }
}

/// Opens a session of `user` at `at`; whether the store opened it, and its refresh token.
async fn open(s: &Store, user: &User, at: Timestamp) -> (Session, RefreshToken, bool) {
    let session = sample_session(user.id, at);
    let token = RefreshToken::generate(&OsRng);
    let opened = s
        .sessions
        .open(&session, &token.hash(), &sign_in_event(&session, at))
        .await
        .unwrap();
    (session, token, opened)
}

async fn kinds(s: &Store, user: &User, kind: AuditKind) -> usize {
    let all = s.audit.recent(&user.id, 100).await.unwrap();
    all.iter().filter(|e| e.kind == kind).count()
}

/// `disable` sets `disabled_at`, starts a new attempt epoch, ends every active session (no
/// rotation, no per-request read succeeds any more) and stores its event, all at once.
pub async fn disable_ends_sessions_and_attempts_with_its_event(s: Store) {
    let (user, first) = stored_user(&*s.users, "disable").await;
    let at = now();
    let (second, token, opened) = open(&s, &user, at).await;
    assert!(opened, "an enabled account opens sessions");
    let when = at.plus(Duration::from_secs(1));
    let ev = event(user.id, AuditKind::AccountDisabled, when);
    assert!(s.users.disable(&user.id, &ev).await.unwrap(), "it changed");

    let stored = s.users.by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(
        stored.disabled_at,
        Some(when),
        "disabled_at is the event's time"
    );
    assert_eq!(
        stored.attempt_epoch,
        user.attempt_epoch.wrapping_add(1),
        "a new attempt epoch kills every open attempt"
    );
    assert!(
        s.sessions
            .list_active(&user.id, when)
            .await
            .unwrap()
            .is_empty(),
        "no session of the account is active"
    );
    for id in [first.id, second.id] {
        assert_eq!(
            s.sessions.get(&id).await.unwrap().unwrap().revoked_at,
            Some(when),
            "every session ended at the disable"
        );
        assert!(
            s.sessions
                .active_with_user(&id, when)
                .await
                .unwrap()
                .is_none(),
            "the per-request read refuses it"
        );
    }
    let rotation = s
        .sessions
        .rotate(
            &token.hash(),
            &RefreshToken::generate(&OsRng).hash(),
            when,
            LIFE,
            &None,
        )
        .await
        .unwrap();
    assert!(
        !matches!(rotation, Rotation::Rotated(_)),
        "a refresh token of a disabled account does not rotate"
    );
    let events = s.audit.recent(&user.id, 100).await.unwrap();
    assert!(events.contains(&ev), "the event is stored: {events:?}");
}

/// A second `disable` (or one of an unknown account) answers `false` and writes nothing.
pub async fn disable_of_a_disabled_or_unknown_account_changes_nothing(s: Store) {
    let (user, _) = stored_user(&*s.users, "disable-twice").await;
    let at = now();
    assert!(
        s.users
            .disable(&user.id, &event(user.id, AuditKind::AccountDisabled, at))
            .await
            .unwrap()
    );
    let before = s.users.by_id(&user.id).await.unwrap().unwrap();
    let later = at.plus(Duration::from_secs(5));
    assert!(
        !s.users
            .disable(&user.id, &event(user.id, AuditKind::AccountDisabled, later))
            .await
            .unwrap(),
        "already disabled"
    );
    assert_eq!(
        s.users.by_id(&user.id).await.unwrap().unwrap(),
        before,
        "neither the time nor the epoch moved"
    );
    assert_eq!(kinds(&s, &user, AuditKind::AccountDisabled).await, 1);
    let stranger = UserId::random(&OsRng);
    assert!(
        !s.users
            .disable(&stranger, &event(stranger, AuditKind::AccountDisabled, at))
            .await
            .unwrap(),
        "no such account"
    );
    assert!(
        !s.users
            .enable(&stranger, &event(stranger, AuditKind::AccountEnabled, at))
            .await
            .unwrap(),
        "no such account"
    );
}

/// A disabled account opens no session: `open` and `open_with_passkey` answer `false` and
/// write nothing (no session, no event, no counter move).
pub async fn a_disabled_account_opens_no_session(s: Store) {
    let (user, _) = stored_user(&*s.users, "disabled-open").await;
    let passkey = sample_passkey(user.id);
    s.passkeys
        .add(&passkey, &crate::testkit::added(&passkey))
        .await
        .unwrap();
    let at = now();
    s.users
        .disable(&user.id, &event(user.id, AuditKind::AccountDisabled, at))
        .await
        .unwrap();
    let signed_in_before = kinds(&s, &user, AuditKind::SignedIn).await;

    let (session, _, opened) = open(&s, &user, at).await;
    assert!(!opened, "open refuses a disabled account");
    assert_eq!(s.sessions.get(&session.id).await.unwrap(), None);

    let other = sample_session(user.id, at);
    let used = CredentialUse {
        credential: b"{\"moved\":true}".to_vec(),
        sign_count: 9,
        backed_up: true,
    };
    assert!(
        !s.sessions
            .open_with_passkey(
                &passkey.id,
                &used,
                &other,
                &RefreshToken::generate(&OsRng).hash(),
                &sign_in_event(&other, at),
            )
            .await
            .unwrap(),
        "a passkey sign-in of a disabled account opens nothing"
    );
    assert_eq!(s.sessions.get(&other.id).await.unwrap(), None);
    let stored = s
        .passkeys
        .by_credential_id(&passkey.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.sign_count, passkey.sign_count,
        "the counter did not move"
    );
    assert_eq!(
        kinds(&s, &user, AuditKind::SignedIn).await,
        signed_in_before,
        "no sign-in event"
    );
}

/// `enable` clears `disabled_at`, starts a new epoch and stores its event; the account opens
/// sessions again, but those the disable ended stay ended. A second `enable` changes nothing.
pub async fn enable_lets_the_account_sign_in_again_without_reviving_sessions(s: Store) {
    let (user, first) = stored_user(&*s.users, "enable").await;
    let at = now();
    s.users
        .disable(&user.id, &event(user.id, AuditKind::AccountDisabled, at))
        .await
        .unwrap();
    let later = at.plus(Duration::from_secs(1));
    let ev = event(user.id, AuditKind::AccountEnabled, later);
    assert!(s.users.enable(&user.id, &ev).await.unwrap());
    let stored = s.users.by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, None);
    assert_eq!(stored.attempt_epoch, user.attempt_epoch.wrapping_add(2));
    assert!(s.audit.recent(&user.id, 100).await.unwrap().contains(&ev));
    assert!(
        s.sessions
            .active_with_user(&first.id, later)
            .await
            .unwrap()
            .is_none(),
        "the session the disable ended stays ended"
    );
    assert!(
        !s.users
            .enable(&user.id, &event(user.id, AuditKind::AccountEnabled, later))
            .await
            .unwrap(),
        "not disabled any more"
    );
    assert_eq!(kinds(&s, &user, AuditKind::AccountEnabled).await, 1);
    let (session, _, opened) = open(&s, &user, later).await;
    assert!(opened, "an enabled account opens sessions again");
    assert!(
        s.sessions
            .active_with_user(&session.id, later)
            .await
            .unwrap()
            .is_some()
    );
}

/// Sign-ins racing a disable: each opens before the disable (and the disable ends it) or opens
/// nothing, so afterwards no session of the account is active.
pub async fn sign_ins_racing_a_disable_leave_no_active_session(s: Store) {
    let (user, _) = stored_user(&*s.users, "disable-race").await;
    let at = now();
    let disabler = {
        let s = s.clone();
        tokio::spawn(async move {
            s.users
                .disable(&user.id, &event(user.id, AuditKind::AccountDisabled, at))
                .await
                .unwrap()
        })
    };
    let opened = in_parallel(|_| {
        let s = s.clone();
        let user = user.clone();
        async move { open(&s, &user, at).await }
    })
    .await;
    assert!(disabler.await.unwrap(), "the disable changed the account");
    assert!(
        s.sessions
            .list_active(&user.id, at)
            .await
            .unwrap()
            .is_empty(),
        "no session of a disabled account is active"
    );
    for (session, _, was_opened) in opened {
        let stored = s.sessions.get(&session.id).await.unwrap();
        if was_opened {
            assert!(
                stored.is_some_and(|st| st.revoked_at.is_some()),
                "a session opened before the disable was ended by it"
            );
        } else {
            assert_eq!(stored, None, "a refused open wrote nothing");
        }
    }
}
