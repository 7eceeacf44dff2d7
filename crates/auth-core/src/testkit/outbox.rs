//! The [`Outbox`] contract: the changes write their events with them, an account's events come
//! out one at a time in order, a claim holds its events until its lease runs out, a failure
//! schedules a retry, and events past their window are given up.
//!
//! Claims reach every account, so these rules must not share their store with rules running at
//! the same time (each generated test has a fresh store).

use super::{PARALLEL, added, deleted, in_parallel, moved, now, sign_in_event, stored_user};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::passkey::Passkey;
use crate::ports::{
    AuditEvent, AuditLog, Channel, OsRng, Outbox, OutboxEntry, PasskeyRepository,
    SessionRepository, UserRepository,
};
use crate::session::RefreshToken;
use crate::time::Timestamp;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: the outbox, and the stores whose changes fill it.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Passkeys.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// The port under test.
    pub outbox: Arc<dyn Outbox>,
}

/// The rules' view of an adapter's store.
pub fn store<S>(s: S) -> Store
where
    S: UserRepository + SessionRepository + PasskeyRepository + AuditLog + Outbox + Clone + 'static,
{
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s.clone()),
        passkeys: Arc::new(s.clone()),
        audit: Arc::new(s.clone()),
        outbox: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules outbox @all store);
}

const LEASE: Duration = Duration::from_secs(30);

/// A webhook event of `user` (a passkey added) at `at`, written through the audit log.
async fn event_at(s: &Store, user: UserId, at: Timestamp, name: &str) {
    s.audit
        .record(&AuditEvent {
            user_id: user,
            at,
            kind: AuditKind::PasskeyAdded,
            ip: None,
            detail: Some(name.to_owned()),
        })
        .await
        .unwrap();
}

/// Claims and settles every due event, one round at a time, and returns them in that order.
pub(super) async fn drain(s: &Store, at: Timestamp) -> Vec<OutboxEntry> {
    let mut out = Vec::new();
    loop {
        let claimed = s
            .outbox
            .claim(Channel::Webhooks, at, LEASE, 100)
            .await
            .unwrap();
        if claimed.is_empty() {
            return out;
        }
        for entry in claimed {
            assert!(
                s.outbox.settle(&entry).await.unwrap(),
                "a fresh claim settles"
            );
            out.push(entry);
        }
    }
}

/// Sign-up, sign-in, passkey added, email changed and account deleted each put their event in the
/// outbox with the change, and they come out in that order, one at a time, with their payload;
/// events that are not webhook events stay out.
pub async fn the_changes_write_their_events_and_they_come_out_in_order(s: Store) {
    let (user, _) = stored_user(&*s.users, "outbox").await;
    let later = |secs| now().plus(Duration::from_secs(secs));
    let mut second = super::sample_session(user.id, later(1));
    second.method = crate::session::AuthMethod::Recovery;
    s.sessions
        .open(
            &second,
            &RefreshToken::generate(&OsRng).hash(),
            &sign_in_event(&second, later(1)),
        )
        .await
        .unwrap();
    let passkey: Passkey = super::sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    s.audit
        .record(&super::event_of(&user.id, AuditKind::ProfileUpdated))
        .await
        .unwrap();
    let new = super::unique_email("outbox-moved");
    assert!(
        s.users
            .change_email(&user.id, &new, &moved(&user.id))
            .await
            .unwrap()
    );
    assert!(s.users.delete(&user.id, &deleted(&user.id)).await.unwrap());

    let mut rounds = Vec::new();
    loop {
        let claimed = s
            .outbox
            .claim(Channel::Webhooks, later(60), LEASE, 100)
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        assert_eq!(claimed.len(), 1, "one event of an account at a time");
        assert!(s.outbox.settle(&claimed[0]).await.unwrap());
        rounds.push(claimed[0].clone());
    }
    let kinds: Vec<&str> = rounds.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "account_created",
            "recovery_used",
            "passkey_added",
            "email_changed",
            "account_deleted"
        ],
        "every change's event, in order, and nothing else"
    );
    for entry in &rounds {
        assert_eq!(entry.user_id, user.id);
        assert_eq!(entry.attempts, 1);
        assert!(entry.done.is_empty());
        assert!(entry.id.starts_with("msg_"), "{}", entry.id);
        let data: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
        assert_eq!(data["account_id"], user.id.to_string(), "{}", entry.payload);
    }
    let data: serde_json::Value = serde_json::from_str(&rounds[2].payload).unwrap();
    assert_eq!(data["passkey_name"], "passkey_added in a contract rule");
    assert_eq!(data["ip"], "192.0.2.7");
    let ids: HashSet<&str> = rounds.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), rounds.len(), "every event has its own id");
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 0);
}

/// A change that does not happen writes no event: a passkey that is not the account's is not
/// removed, an unknown account is not moved or deleted.
pub async fn a_change_that_does_not_happen_writes_no_event(s: Store) {
    let (user, _) = stored_user(&*s.users, "outbox-none").await;
    let settled = drain(&s, now()).await;
    assert_eq!(settled.len(), 1, "the sign-up");
    let nobody = UserId::random(&OsRng);
    let passkey = super::sample_passkey(user.id);
    assert!(
        !s.passkeys
            .delete(&nobody, &passkey.id, &super::removed(&nobody))
            .await
            .unwrap()
    );
    let new = super::unique_email("outbox-none");
    assert!(
        !s.users
            .change_email(&nobody, &new, &moved(&nobody))
            .await
            .unwrap()
    );
    assert!(!s.users.delete(&nobody, &deleted(&nobody)).await.unwrap());
    assert_eq!(
        s.outbox.pending(Channel::Webhooks).await.unwrap(),
        0,
        "no event of a non-change"
    );
}

/// A claimed event is not handed out again while its lease runs; after it, a new claim takes it
/// and the stale claim can neither settle nor retry it.
pub async fn a_claim_holds_its_event_until_the_lease_runs_out(s: Store) {
    let user = UserId::random(&OsRng);
    let t0 = now();
    event_at(&s, user, t0, "held").await;
    let first = s
        .outbox
        .claim(Channel::Webhooks, t0, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    let during = t0.plus(LEASE - Duration::from_secs(1));
    assert!(
        s.outbox
            .claim(Channel::Webhooks, during, LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "not handed out while the lease runs"
    );
    let after = t0.plus(LEASE);
    let second = s
        .outbox
        .claim(Channel::Webhooks, after, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "handed out again once the lease ran out");
    assert_eq!(second[0].seq, first[0].seq);
    assert_eq!(second[0].attempts, 2);
    assert!(
        !s.outbox.settle(&first[0]).await.unwrap(),
        "a stale claim cannot settle"
    );
    assert!(
        !s.outbox.retry(&first[0], &[], after).await.unwrap(),
        "a stale claim cannot retry"
    );
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 1);
    assert!(s.outbox.settle(&second[0]).await.unwrap());
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 0);
}

/// A failure releases the event until its retry time, keeping the destinations that have it; the
/// account's later events wait behind it, other accounts' do not.
pub async fn a_failure_schedules_a_retry_and_the_accounts_later_events_wait(s: Store) {
    let (a, b) = (UserId::random(&OsRng), UserId::random(&OsRng));
    let t0 = now();
    event_at(&s, a, t0, "a1").await;
    event_at(&s, a, t0, "a2").await;
    event_at(&s, b, t0, "b1").await;
    let claimed = s
        .outbox
        .claim(Channel::Webhooks, t0, LEASE, 10)
        .await
        .unwrap();
    let names: Vec<String> = claimed.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(
        claimed.len(),
        2,
        "the first event of each account: {names:?}"
    );
    let a1 = claimed.iter().find(|e| e.user_id == a).unwrap().clone();
    let b1 = claimed.iter().find(|e| e.user_id == b).unwrap().clone();
    assert!(a1.payload.contains("a1") && b1.payload.contains("b1"));
    let at = t0.plus(Duration::from_secs(60));
    let done = vec!["https://one.example/hook".to_owned()];
    assert!(s.outbox.retry(&a1, &done, at).await.unwrap());
    assert!(s.outbox.settle(&b1).await.unwrap());
    assert!(
        s.outbox
            .claim(
                Channel::Webhooks,
                t0.plus(Duration::from_secs(59)),
                LEASE,
                10
            )
            .await
            .unwrap()
            .is_empty(),
        "before its retry time nothing of the account is due, not even its later event"
    );
    let again = s
        .outbox
        .claim(Channel::Webhooks, at, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].seq, a1.seq);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(
        again[0].done, done,
        "the destinations that have it are kept"
    );
    assert!(s.outbox.settle(&again[0]).await.unwrap());
    let rest = drain(&s, at).await;
    assert_eq!(rest.len(), 1);
    assert!(rest[0].payload.contains("a2"));
}

/// Parallel claimers (spawned tasks) never get the same event: each event is claimed once, and
/// only the first of each account.
pub async fn parallel_claimers_never_share_an_event(s: Store) {
    let t0 = now();
    let accounts: Vec<UserId> = (0..PARALLEL).map(|_| UserId::random(&OsRng)).collect();
    for (i, user) in accounts.iter().enumerate() {
        event_at(&s, *user, t0, &format!("first {i}")).await;
        event_at(&s, *user, t0, &format!("second {i}")).await;
    }
    let outbox = s.outbox.clone();
    let claims = in_parallel(move |_| {
        let outbox = outbox.clone();
        async move { outbox.claim(Channel::Webhooks, t0, LEASE, 3).await.unwrap() }
    })
    .await;
    let claimed: Vec<OutboxEntry> = claims.into_iter().flatten().collect();
    let seqs: HashSet<i64> = claimed.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs.len(),
        claimed.len(),
        "no event was handed to two claimers"
    );
    let users: HashSet<UserId> = claimed.iter().map(|e| e.user_id).collect();
    assert_eq!(
        users.len(),
        claimed.len(),
        "at most one event of an account at a time"
    );
    assert!(claimed.iter().all(|e| e.payload.contains("first")));
    // Whatever the parallel claims left, one more claim takes: every first event exactly once.
    let rest = s
        .outbox
        .claim(Channel::Webhooks, t0, LEASE, 1000)
        .await
        .unwrap();
    assert_eq!(claimed.len() + rest.len(), PARALLEL);
}

/// Events that occurred before the end of their window are given up, claimed or not, and counted;
/// newer ones stay.
pub async fn events_past_their_window_are_given_up(s: Store) {
    let t0 = now();
    let day = Duration::from_secs(86_400);
    let (old, held, young) = (
        UserId::random(&OsRng),
        UserId::random(&OsRng),
        UserId::random(&OsRng),
    );
    event_at(&s, old, t0.minus(day * 2), "old").await;
    event_at(&s, held, t0.minus(day * 2), "held").await;
    event_at(&s, young, t0, "young").await;
    let claimed = s
        .outbox
        .claim(Channel::Webhooks, t0, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let given_up = s.outbox.give_up(t0.minus(day)).await.unwrap();
    assert_eq!(given_up, 2, "both old events, claimed or not");
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 1);
    let held = claimed.iter().find(|e| e.user_id == held).unwrap();
    assert!(
        !s.outbox.settle(held).await.unwrap(),
        "a given-up event is gone"
    );
    let young = claimed.iter().find(|e| e.user_id == young).unwrap();
    assert!(s.outbox.settle(young).await.unwrap());
}

/// Opens a session of `user` from `ip`, rotates its first token, and presents that token again a
/// second later: reuse. Returns the session and the time of the reuse.
pub(super) async fn sign_in_and_reuse(
    s: &Store,
    user: UserId,
    ip: &Option<String>,
) -> (crate::session::Session, Timestamp) {
    let t0 = now();
    let session = super::sample_session(user, t0);
    let first = RefreshToken::generate(&OsRng);
    s.sessions
        .open(&session, &first.hash(), &sign_in_event(&session, t0))
        .await
        .unwrap();
    let life = crate::ports::Lifetimes {
        idle: Duration::from_secs(3600),
        max: Duration::from_secs(86_400),
        grace: Duration::ZERO,
    };
    let second = RefreshToken::generate(&OsRng).hash();
    s.sessions
        .rotate(&first.hash(), &second, t0, life, ip)
        .await
        .unwrap();
    let later = t0.plus(Duration::from_secs(1));
    let again = RefreshToken::generate(&OsRng).hash();
    let outcome = s
        .sessions
        .rotate(&first.hash(), &again, later, life, ip)
        .await
        .unwrap();
    assert!(
        matches!(outcome, crate::session::Rotation::Reused { .. }),
        "{outcome:?}"
    );
    (session, later)
}

/// A rotation that detects reuse writes the account's `refresh_token_reused` event with the
/// revocation: in its activity, and in the outbox with the payload
/// [`crate::outbox::outbox_event`] gives.
pub async fn reuse_writes_its_event_with_the_revocation(s: Store) {
    let (user, _) = stored_user(&*s.users, "outbox-reuse").await;
    let ip = Some("198.51.100.9".to_owned());
    let (session, later) = sign_in_and_reuse(&s, user.id, &ip).await;
    let recent = s.audit.recent(&user.id, 10).await.unwrap();
    assert_eq!(recent[0].kind, AuditKind::RefreshTokenReused);
    assert_eq!(recent[0].ip, ip);
    let events = drain(&s, later).await;
    let reused: Vec<&OutboxEntry> = events
        .iter()
        .filter(|e| e.kind == "refresh_token_reused")
        .collect();
    assert_eq!(reused.len(), 1, "one event of the reuse");
    assert_eq!(reused[0].occurred_at, later);
    let expected = crate::outbox::outbox_event(&AuditEvent::refresh_token_reused(
        user.id,
        &session.id,
        later,
        &ip,
    ))
    .unwrap();
    let got: serde_json::Value = serde_json::from_str(&reused[0].payload).unwrap();
    let want: serde_json::Value = serde_json::from_str(&expected.payload).unwrap();
    assert_eq!(got, want, "the payload outbox_event gives");
    assert_eq!(reused[0].kind, expected.kind);
}

/// Notices are a channel of their own: a claim of one channel never hands out or waits for the
/// other's rows, and each channel counts its own.
pub async fn notices_are_a_channel_of_their_own(s: Store) {
    let t0 = now();
    let key = UserId::random(&OsRng);
    event_at(&s, key, t0, "webhook").await;
    s.outbox.put_notice(&key, t0, "{\"mail\":1}").await.unwrap();
    s.outbox
        .put_notice(&UserId::random(&OsRng), t0, "{\"mail\":2}")
        .await
        .unwrap();
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 1);
    assert_eq!(s.outbox.pending(Channel::Notices).await.unwrap(), 2);
    let notices = s
        .outbox
        .claim(Channel::Notices, t0, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        notices.len(),
        2,
        "the webhook event of the same key does not hold them back"
    );
    assert!(notices.iter().all(|n| n.kind == "notice"));
    assert_eq!(notices[0].payload, "{\"mail\":1}");
    let hooks = s
        .outbox
        .claim(Channel::Webhooks, t0, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        hooks.len(),
        1,
        "a held notice does not hold back the webhook event"
    );
    assert_eq!(hooks[0].kind, "passkey_added");
    for n in &notices {
        assert!(s.outbox.settle(n).await.unwrap());
    }
    assert_eq!(s.outbox.pending(Channel::Notices).await.unwrap(), 0);
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 1);
}
