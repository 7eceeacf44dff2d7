//! The [`SessionRepository`] contract: rotation with its idle and absolute lifetimes, reuse
//! detection, the grace for a token presented twice, listing and revocation, and parallel
//! rotation.

use super::{PARALLEL, in_parallel, now, sample_session, sign_in_event, stored_user};
use crate::ids::{SessionId, UserId};
use crate::ports::{Lifetimes, OsRng, SessionRepository, UserRepository};
use crate::session::{RefreshToken, Rotation, Session};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: sessions, and the accounts they belong to.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub sessions: Arc<dyn SessionRepository>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + SessionRepository + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules session_repository @all store);
}

const IDLE: Duration = Duration::from_secs(5000);
const MAX: Duration = Duration::from_secs(7200);

/// Without a grace, as before it existed: every second presentation is reuse.
const NO_GRACE: Lifetimes = Lifetimes {
    idle: IDLE,
    max: MAX,
    grace: Duration::ZERO,
};

/// With a grace of ten seconds.
const GRACE: Lifetimes = Lifetimes {
    idle: IDLE,
    max: MAX,
    grace: Duration::from_secs(10),
};

fn fresh_token() -> RefreshToken {
    RefreshToken::generate(&OsRng)
}

/// A new session of `user` signed in at `at` with the current token `token`.
async fn family_of(s: &Store, user: UserId, at: Timestamp, token: &RefreshToken) -> Session {
    let session = sample_session(user, at);
    s.sessions
        .open(&session, &token.hash(), &sign_in_event(&session, at))
        .await
        .unwrap();
    session
}

/// A stored account with one more session, its current token and the successor to present.
async fn family(s: &Store, at: Timestamp) -> (UserId, Session, RefreshToken, RefreshToken) {
    let (user, _) = stored_user(&*s.users, "sessions").await;
    let old = fresh_token();
    let session = family_of(s, user.id, at, &old).await;
    (user.id, session, old, fresh_token())
}

async fn rotate(
    s: &Store,
    old: &RefreshToken,
    new: &RefreshToken,
    at: Timestamp,
    life: Lifetimes,
) -> Rotation {
    s.sessions
        .rotate(&old.hash(), &new.hash(), at, life, &None)
        .await
        .unwrap()
}

async fn revoked(s: &Store, id: &SessionId) -> bool {
    s.sessions
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some()
}

/// `get` returns what `open` stored.
pub async fn get_returns_what_open_stored(s: Store) {
    let (_, session, _, _) = family(&s, now()).await;
    assert_eq!(
        s.sessions.get(&session.id).await.unwrap(),
        Some(session.clone()),
        "get returns what open stored"
    );
}

/// Presenting the current token rotates it: the expiry slides by the idle lifetime and the
/// sign-in time stays; an unknown token is invalid.
pub async fn rotation_slides_the_expiry_and_keeps_the_sign_in_time(s: Store) {
    let t0 = now();
    let (_, session, r1, r2) = family(&s, t0).await;
    let later = t0.plus(Duration::from_secs(60));
    let Rotation::Rotated(rotated) = rotate(&s, &r1, &r2, later, NO_GRACE).await else {
        panic!("presenting the current token rotates it");
    };
    assert_eq!(rotated.id, session.id);
    assert_eq!(rotated.last_seen_at, later, "rotation records when");
    assert_eq!(
        rotated.expires_at,
        later.plus(IDLE),
        "rotation slides the expiry by the idle lifetime"
    );
    assert_eq!(
        rotated.created_at, session.created_at,
        "rotation never moves the sign-in time"
    );
    assert_eq!(
        rotate(&s, &fresh_token(), &fresh_token(), later, NO_GRACE).await,
        Rotation::Invalid,
        "an unknown token is invalid"
    );
}

/// However often a session rotates, its expiry never passes `created_at + max`.
pub async fn expiry_never_passes_the_absolute_cap(s: Store) {
    let t0 = now();
    let (_, _, r1, r2) = family(&s, t0).await;
    let later = t0.plus(Duration::from_secs(60));
    assert!(matches!(
        rotate(&s, &r1, &r2, later, NO_GRACE).await,
        Rotation::Rotated(_)
    ));
    let near_cap = t0.plus(Duration::from_secs(5000));
    let Rotation::Rotated(capped) = rotate(&s, &r2, &fresh_token(), near_cap, NO_GRACE).await
    else {
        panic!("the current token rotates");
    };
    assert_eq!(
        capped.expires_at,
        t0.plus(MAX),
        "expiry never passes created_at + max"
    );
}

/// Presenting a spent token is reuse: the family is revoked, even its current token is dead.
pub async fn reuse_of_a_spent_token_revokes_the_family(s: Store) {
    let t0 = now();
    let (user, session, r1, r2) = family(&s, t0).await;
    let r3 = fresh_token();
    let later = t0.plus(Duration::from_secs(60));
    assert!(matches!(
        rotate(&s, &r1, &r2, later, NO_GRACE).await,
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        rotate(&s, &r2, &r3, later, NO_GRACE).await,
        Rotation::Rotated(_)
    ));
    assert_eq!(
        rotate(&s, &r1, &fresh_token(), later, NO_GRACE).await,
        Rotation::Reused {
            session_id: session.id,
            user_id: user
        },
        "a spent token is reported as reuse"
    );
    assert!(revoked(&s, &session.id).await, "reuse revokes the session");
    assert_eq!(
        rotate(&s, &r3, &fresh_token(), later, NO_GRACE).await,
        Rotation::Invalid,
        "after reuse even the current token is dead"
    );
}

/// A session at or past its expiry does not rotate.
pub async fn an_expired_session_does_not_rotate(s: Store) {
    let (_, old, token, next) = family(&s, now()).await;
    assert_eq!(
        rotate(&s, &token, &next, old.expires_at, NO_GRACE).await,
        Rotation::Invalid,
        "an expired session does not rotate"
    );
}

/// [`PARALLEL`] rotations at once of one token without a grace: exactly one wins.
pub async fn parallel_rotations_of_one_token_have_one_winner(s: Store) {
    let t0 = now();
    let (_, _, tok, _) = family(&s, t0).await;
    let later = t0.plus(Duration::from_secs(60));
    let outcomes = in_parallel(|_| {
        let sessions = s.sessions.clone();
        let tok = tok.clone();
        async move {
            sessions
                .rotate(&tok.hash(), &fresh_token().hash(), later, NO_GRACE, &None)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Rotated(_)))
            .count(),
        1,
        "{PARALLEL} parallel rotations of one token: exactly one wins"
    );
}

/// The same `old` presented again with the same `new` shortly after it was rotated gets the same,
/// live session and changes nothing; its successor is current; once that successor has moved
/// on, the old token is reuse and revokes the family.
pub async fn within_the_grace_a_second_presentation_gets_the_same_successor(s: Store) {
    let t0 = now();
    let (_, session, old, new) = family(&s, t0).await;
    let at = t0.plus(Duration::from_secs(1));
    let Rotation::Rotated(first) = rotate(&s, &old, &new, at, GRACE).await else {
        panic!("the current token rotates");
    };
    let again = at.plus(Duration::from_millis(9_999));
    let Rotation::Rotated(second) = rotate(&s, &old, &new, again, GRACE).await else {
        panic!("the just-rotated token presented again within the grace gets the same successor");
    };
    assert_eq!(
        (second.id, second.revoked_at),
        (session.id, None),
        "the second caller gets the same, live session"
    );
    assert_eq!(
        second.expires_at, first.expires_at,
        "the second presentation changes nothing"
    );
    assert!(
        matches!(
            rotate(&s, &new, &fresh_token(), again, GRACE).await,
            Rotation::Rotated(_)
        ),
        "the one successor is current and rotates"
    );
    assert!(
        matches!(
            rotate(&s, &old, &new, again, GRACE).await,
            Rotation::Reused { .. }
        ),
        "within the grace, but the successor has moved on: reuse"
    );
    assert!(
        revoked(&s, &session.id).await,
        "and that revokes the family"
    );
}

/// Once the grace has passed, the spent token is reuse and its successor dies with the family.
pub async fn after_the_grace_a_spent_token_is_reuse(s: Store) {
    let t0 = now();
    let (user, session, old, new) = family(&s, t0).await;
    let at = t0.plus(Duration::from_secs(1));
    assert!(matches!(
        rotate(&s, &old, &new, at, GRACE).await,
        Rotation::Rotated(_)
    ));
    assert_eq!(
        rotate(&s, &old, &new, at.plus(GRACE.grace), GRACE).await,
        Rotation::Reused {
            session_id: session.id,
            user_id: user
        },
        "once the grace has passed, the spent token is reuse"
    );
    assert_eq!(
        rotate(&s, &new, &fresh_token(), at, GRACE).await,
        Rotation::Invalid,
        "and the successor died with its family"
    );
}

/// Within the grace but asking for another successor (derived under another key): reuse.
pub async fn within_the_grace_another_successor_is_reuse(s: Store) {
    let t0 = now();
    let (_, session, old, new) = family(&s, t0).await;
    let at = t0.plus(Duration::from_secs(1));
    assert!(matches!(
        rotate(&s, &old, &new, at, GRACE).await,
        Rotation::Rotated(_)
    ));
    assert!(
        matches!(
            rotate(&s, &old, &fresh_token(), at, GRACE).await,
            Rotation::Reused { .. }
        ),
        "a successor that is not the current token is reuse"
    );
    assert!(revoked(&s, &session.id).await);
}

/// A revoked session gives nothing within the grace either.
pub async fn a_revoked_session_does_not_come_back_within_the_grace(s: Store) {
    let t0 = now();
    let (user, session, old, new) = family(&s, t0).await;
    let at = t0.plus(Duration::from_secs(1));
    assert!(matches!(
        rotate(&s, &old, &new, at, GRACE).await,
        Rotation::Rotated(_)
    ));
    assert!(s.sessions.revoke(&user, &session.id, at).await.unwrap());
    assert_eq!(
        rotate(&s, &old, &new, at, GRACE).await,
        Rotation::Invalid,
        "a revoked session does not come back within the grace"
    );
}

/// [`PARALLEL`] presentations at once of one token, as tabs make them: every caller succeeds,
/// with one session and one successor.
pub async fn parallel_presentations_within_the_grace_all_succeed(s: Store) {
    let t0 = now();
    let (_, session, old, new) = family(&s, t0).await;
    let at = t0.plus(Duration::from_secs(1));
    let outcomes = in_parallel(|_| {
        let sessions = s.sessions.clone();
        let (old, new) = (old.clone(), new.clone());
        async move {
            sessions
                .rotate(&old.hash(), &new.hash(), at, GRACE, &None)
                .await
                .unwrap()
        }
    })
    .await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Rotation::Rotated(x) if x.id == session.id)),
        "{PARALLEL} parallel presentations within the grace all succeed: {outcomes:?}"
    );
    let next = fresh_token();
    assert!(
        matches!(
            rotate(&s, &new, &next, at, GRACE).await,
            Rotation::Rotated(_)
        ),
        "the successor they share is current"
    );
    assert!(
        matches!(
            rotate(&s, &next, &fresh_token(), at, GRACE).await,
            Rotation::Rotated(_)
        ),
        "and its own successor is the one current token of the family"
    );
}

/// [`PARALLEL`] presentations at once of a token spent longer ago than the grace: exactly one
/// is reuse and revokes the family; the others find it revoked and are merely invalid.
pub async fn parallel_reuse_revokes_the_family_once(s: Store) {
    let t0 = now();
    let (user, session, old, new) = family(&s, t0).await;
    assert!(matches!(
        rotate(&s, &old, &new, t0, GRACE).await,
        Rotation::Rotated(_)
    ));
    let late = t0.plus(Duration::from_secs(60));
    let outcomes = in_parallel(|_| {
        let sessions = s.sessions.clone();
        let (old, new) = (old.clone(), new.clone());
        async move {
            sessions
                .rotate(&old.hash(), &new.hash(), late, GRACE, &None)
                .await
                .unwrap()
        }
    })
    .await;
    let reused = Rotation::Reused {
        session_id: session.id,
        user_id: user,
    };
    assert_eq!(
        outcomes.iter().filter(|o| **o == reused).count(),
        1,
        "exactly one of {PARALLEL} parallel replays is reuse: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| *o == reused || *o == Rotation::Invalid),
        "the others are invalid: {outcomes:?}"
    );
    assert!(revoked(&s, &session.id).await, "reuse revoked the family");
    assert_eq!(
        rotate(&s, &new, &fresh_token(), late, GRACE).await,
        Rotation::Invalid,
        "the successor died with the family"
    );
}

/// `list_active` shows the live sessions of one account, newest first.
pub async fn list_active_shows_the_accounts_live_sessions_newest_first(s: Store) {
    let t0 = now();
    let (user, first) = stored_user(&*s.users, "listed").await;
    let (_, stranger_session) = stored_user(&*s.users, "stranger").await;
    let ended = family_of(&s, user.id, t0, &fresh_token()).await;
    assert!(s.sessions.revoke(&user.id, &ended.id, t0).await.unwrap());
    let a = family_of(&s, user.id, t0.plus(Duration::from_secs(1)), &fresh_token()).await;
    let b = family_of(&s, user.id, t0.plus(Duration::from_secs(2)), &fresh_token()).await;
    let later = t0.plus(Duration::from_secs(60));
    let listed: Vec<SessionId> = s
        .sessions
        .list_active(&user.id, later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(&listed[..2], &[b.id, a.id], "list_active is newest first");
    assert!(
        listed.contains(&first.id) && !listed.contains(&ended.id),
        "list_active shows active sessions only"
    );
    assert!(
        !listed.contains(&stranger_session.id),
        "list_active shows only the account's sessions"
    );
}

/// `revoke` ends one active session of the account once, never another account's.
pub async fn revoke_ends_one_session_of_its_own_account(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "revoker").await;
    let (_, stranger_session) = stored_user(&*s.users, "stranger").await;
    let a = family_of(&s, user.id, t0, &fresh_token()).await;
    assert!(
        !s.sessions
            .revoke(&user.id, &stranger_session.id, t0)
            .await
            .unwrap(),
        "cannot revoke another account's session"
    );
    assert!(!revoked(&s, &stranger_session.id).await);
    assert!(
        s.sessions.revoke(&user.id, &a.id, t0).await.unwrap(),
        "revoke of an active session is true"
    );
    assert!(
        !s.sessions.revoke(&user.id, &a.id, t0).await.unwrap(),
        "revoke twice is false"
    );
}

/// `revoke_all` ends every active session of one account but the kept one, and counts them;
/// without a kept one it ends them all.
pub async fn revoke_all_ends_every_session_but_the_kept_one(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "revoker").await;
    let (_, stranger_session) = stored_user(&*s.users, "stranger").await;
    family_of(&s, user.id, t0, &fresh_token()).await;
    let b = family_of(&s, user.id, t0.plus(Duration::from_secs(2)), &fresh_token()).await;
    let later = t0.plus(Duration::from_secs(60));
    let n = s
        .sessions
        .revoke_all(&user.id, Some(b.id), later)
        .await
        .unwrap();
    assert!(n >= 2, "revoke_all counts what it revoked");
    let left: Vec<SessionId> = s
        .sessions
        .list_active(&user.id, later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(left, vec![b.id], "revoke_all keeps only the kept session");
    assert_eq!(
        s.sessions.revoke_all(&user.id, None, later).await.unwrap(),
        1
    );
    assert!(
        s.sessions
            .list_active(&user.id, later)
            .await
            .unwrap()
            .is_empty(),
        "revoke_all without keep revokes all"
    );
    assert!(
        !revoked(&s, &stranger_session.id).await,
        "revoke_all touches one account only"
    );
}
