//! The [`Housekeeping`] contract: ended sessions, old spent refresh tokens and old audit events
//! go; live sessions, their current tokens and recent events stay.
//!
//! Purging deletes across every account, so these rules must not share their store with rules
//! running at the same time (each generated test has a fresh store).

use super::{now, sample_session, sign_in_event, stored_user};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::ports::{
    AuditEvent, AuditLog, Housekeeping, Lifetimes, OsRng, Purged, Retention, SessionRepository,
    UserRepository,
};
use crate::session::{RefreshToken, Rotation, Session};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: the purge, and the stores it cleans.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// Sessions and refresh tokens.
    pub sessions: Arc<dyn SessionRepository>,
    /// Audit events.
    pub audit: Arc<dyn AuditLog>,
    /// The port under test.
    pub keeper: Arc<dyn Housekeeping>,
}

/// The rules' view of an adapter's store.
pub fn store<S>(s: S) -> Store
where
    S: UserRepository + SessionRepository + AuditLog + Housekeeping + Clone + 'static,
{
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s.clone()),
        audit: Arc::new(s.clone()),
        keeper: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules housekeeping @all store);
}

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(30 * 86_400),
    max: Duration::from_secs(90 * 86_400),
    grace: Duration::ZERO,
};

const RETENTION: Retention = Retention {
    spent_tokens: DAY,
    audit: Duration::from_secs(90 * 86_400),
};

/// One account's sessions, tokens and events before and after the first purge.
struct Purging {
    user: UserId,
    /// A live session that has rotated twice: `a` spent at t0, `b` a day later, `c` current.
    live: Session,
    a: RefreshToken,
    b: RefreshToken,
    c: RefreshToken,
    expired: Session,
    expired_token: RefreshToken,
    revoked: Session,
    /// When the purge ran.
    at: Timestamp,
    purged: Purged,
}

fn fresh_token() -> RefreshToken {
    RefreshToken::generate(&OsRng)
}

async fn rotate(s: &Store, old: &RefreshToken, new: &RefreshToken, at: Timestamp) -> Rotation {
    s.sessions
        .rotate(&old.hash(), &new.hash(), at, LIFE, &None)
        .await
        .unwrap()
}

/// A live session, an expired one, a revoked one, an old and a kept audit event; then a purge.
async fn purged(s: &Store) -> Purging {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "purge").await;
    let live = sample_session(user.id, t0);
    let [a, b, c] = [(); 3].map(|()| fresh_token());
    // The sign-in events are older than the audit retention, so that they go in the purge.
    let ancient = t0.minus(90 * DAY);
    s.sessions
        .open(&live, &a.hash(), &sign_in_event(&live, ancient))
        .await
        .unwrap();
    for (old, new, at) in [(&a, &b, t0), (&b, &c, t0.plus(DAY))] {
        assert!(matches!(
            rotate(s, old, new, at).await,
            Rotation::Rotated(_)
        ));
    }
    let expired_token = fresh_token();
    let expired = sample_session(user.id, t0.minus(2 * HOUR));
    s.sessions
        .open(
            &expired,
            &expired_token.hash(),
            &sign_in_event(&expired, ancient),
        )
        .await
        .unwrap();
    let revoked = sample_session(user.id, t0);
    s.sessions
        .open(
            &revoked,
            &fresh_token().hash(),
            &sign_in_event(&revoked, ancient),
        )
        .await
        .unwrap();
    assert!(s.sessions.revoke(&user.id, &revoked.id, t0).await.unwrap());

    let at = t0.plus(DAY).plus(Duration::from_secs(1));
    for (when, detail) in [(at.minus(91 * DAY), "old"), (at.minus(89 * DAY), "kept")] {
        let event = AuditEvent {
            user_id: user.id,
            at: when,
            kind: AuditKind::SignedIn,
            ip: None,
            detail: Some(detail.to_owned()),
        };
        s.audit.record(&event).await.unwrap();
    }
    let purged = s.keeper.purge(at, RETENTION).await.unwrap();
    Purging {
        user: user.id,
        live,
        a,
        b,
        c,
        expired,
        expired_token,
        revoked,
        at,
        purged,
    }
}

/// Expired and revoked sessions go with their tokens, and the purge counts what it deleted.
pub async fn purge_deletes_ended_sessions_and_their_tokens(s: Store) {
    let p = purged(&s).await;
    assert!(
        p.purged.sessions >= 2 && p.purged.refresh_tokens >= 1 && p.purged.audit_events >= 1,
        "purge counts what it deleted: {:?}",
        p.purged
    );
    assert_eq!(
        s.sessions.get(&p.expired.id).await.unwrap(),
        None,
        "an expired session is purged"
    );
    assert_eq!(
        s.sessions.get(&p.revoked.id).await.unwrap(),
        None,
        "a revoked session is purged"
    );
    assert_eq!(
        rotate(&s, &p.expired_token, &fresh_token(), p.at).await,
        Rotation::Invalid,
        "the tokens of a purged session are unknown"
    );
}

/// A live session stays, and its current token is never purged.
pub async fn purge_keeps_live_sessions_and_their_current_token(s: Store) {
    let p = purged(&s).await;
    assert!(
        s.sessions.get(&p.live.id).await.unwrap().is_some(),
        "a live session stays"
    );
    assert!(
        matches!(
            rotate(&s, &p.c, &fresh_token(), p.at).await,
            Rotation::Rotated(_)
        ),
        "the current token of a live session is never purged"
    );
}

/// Only audit events older than the retention go.
pub async fn purge_deletes_only_audit_events_older_than_the_retention(s: Store) {
    let p = purged(&s).await;
    let recent: Vec<Option<String>> = s
        .audit
        .recent(&p.user, 10)
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
}

/// A token spent longer ago than the retention is forgotten; one spent within it is still
/// recognised as reuse.
pub async fn purge_forgets_only_tokens_spent_before_the_retention(s: Store) {
    let p = purged(&s).await;
    assert_eq!(
        rotate(&s, &p.a, &fresh_token(), p.at).await,
        Rotation::Invalid,
        "a token spent longer ago than the retention is forgotten"
    );
    assert_eq!(
        rotate(&s, &p.b, &fresh_token(), p.at).await,
        Rotation::Reused {
            session_id: p.live.id,
            user_id: p.user
        },
        "a token spent within the retention is still recognised as reuse"
    );
}

/// A session revoked by reuse after a purge goes on the next one.
pub async fn a_session_revoked_by_reuse_goes_on_the_next_purge(s: Store) {
    let p = purged(&s).await;
    assert!(matches!(
        rotate(&s, &p.c, &fresh_token(), p.at).await,
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        rotate(&s, &p.b, &fresh_token(), p.at).await,
        Rotation::Reused { .. }
    ));
    let again = s.keeper.purge(p.at, RETENTION).await.unwrap();
    assert!(
        again.sessions >= 1,
        "the session revoked by reuse goes on the next purge: {again:?}"
    );
    assert_eq!(s.sessions.get(&p.live.id).await.unwrap(), None);
}
