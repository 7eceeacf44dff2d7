//! The [`AttemptGate`] contract: a start stores its attempt only when every send limit allows and
//! charges exactly the limits up to the first refusal; a look reads only when its limit allows; a
//! settled guess checks the failure budget, takes one guess and consumes or counts it; and all of
//! that stays atomic under parallel callers.

use super::{PARALLEL, in_parallel, now, sample_attempt, unique, unique_email};
use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::ports::{AttemptGate, FailureBudget, Gated, Guess};
use crate::rate::{Backoff, Failures, Quota, RateDecision};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on.
pub type Store = Arc<dyn AttemptGate>;

/// The rules' view of an adapter's store.
pub fn store<S: AttemptGate + 'static>(s: S) -> Store {
    Arc::new(s)
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules attempt_gate @all store);
}

const MINUTE: Duration = Duration::from_secs(60);

fn attempt(tag: &str, t0: Timestamp) -> Attempt {
    sample_attempt(&unique_email(tag), Purpose::Login, Subject::Decoy, t0).0
}

/// A budget that never waits and never runs out within a rule.
fn lenient() -> Backoff {
    Backoff {
        budget: 1_000,
        window: MINUTE,
        free: 1_000,
        base: Duration::from_secs(1),
        max: Duration::from_secs(1),
    }
}

/// The limits of a start are taken in order: when all allow, the attempt is stored; the first
/// that refuses stops the start, its attempt is not stored, the limits before it stay charged
/// and those after it are untouched.
pub async fn open_stores_the_attempt_only_when_every_limit_allows(gate: Store) {
    let t0 = now();
    let (first, second, after) = (unique("open-a"), unique("open-b"), unique("open-c"));
    let limits = |third: &str| {
        vec![
            (first.clone(), Quota::new(3, MINUTE)),
            (second.clone(), Quota::new(1, MINUTE)),
            (third.to_owned(), Quota::new(1, MINUTE)),
        ]
    };
    let allowed = attempt("open", t0);
    assert_eq!(
        gate.open(&limits(&unique("open-c0")), t0, &allowed, None)
            .await
            .unwrap(),
        RateDecision::Allowed,
        "a start within every limit is allowed"
    );
    assert_eq!(
        gate.get(&allowed.id).await.unwrap(),
        Some(allowed.clone()),
        "an allowed start stores its attempt"
    );
    let refused = attempt("open-refused", t0);
    assert_eq!(
        gate.open(&limits(&after), t0, &refused, None)
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after: MINUTE
        },
        "the second limit refuses and says how long to wait"
    );
    assert_eq!(
        gate.get(&refused.id).await.unwrap(),
        None,
        "a refused start stores nothing"
    );
    let q = Quota::new(3, MINUTE);
    assert!(
        gate.acquire(&first, q, t0).await.unwrap().is_allowed(),
        "the limit before the refusal was charged twice, one of three is left"
    );
    assert!(
        !gate.acquire(&first, q, t0).await.unwrap().is_allowed(),
        "and then none"
    );
    assert!(
        gate.acquire(&after, Quota::new(1, MINUTE), t0)
            .await
            .unwrap()
            .is_allowed(),
        "the limit after the refusal was not charged"
    );
    assert_eq!(
        gate.open(&[], t0, &attempt("open-free", t0), None)
            .await
            .unwrap(),
        RateDecision::Allowed,
        "no limits, no refusal"
    );
}

/// A start that names the attempt it replaces supersedes it, as `create` does.
pub async fn open_supersedes_the_attempt_a_resend_names(gate: Store) {
    let t0 = now();
    let email = unique_email("open-resend");
    let (old, _) = sample_attempt(&email, Purpose::Login, Subject::Decoy, t0);
    let (new, _) = sample_attempt(&email, Purpose::Login, Subject::Decoy, t0);
    gate.create(&old, None).await.unwrap();
    let limits = [(unique("open-resend"), Quota::new(5, MINUTE))];
    assert!(
        gate.open(&limits, t0, &new, Some(old.id))
            .await
            .unwrap()
            .is_allowed()
    );
    assert_eq!(
        gate.get(&old.id).await.unwrap().unwrap().state,
        AttemptState::Superseded,
        "the replaced attempt is superseded"
    );
    assert_eq!(
        gate.get(&new.id).await.unwrap().unwrap().state,
        AttemptState::Active,
        "the new one is active"
    );
}

/// [`PARALLEL`] starts at once under one limit of `N`: exactly `N` are allowed, and exactly their
/// attempts are stored.
pub async fn parallel_opens_store_exactly_the_limit(gate: Store) {
    const N: u32 = 10;
    let t0 = now();
    let shared = unique("open-par");
    let outcomes = in_parallel(|i| {
        let gate = gate.clone();
        let limits = vec![
            (unique("open-par-own"), Quota::new(1, MINUTE)),
            (shared.clone(), Quota::new(N, MINUTE)),
        ];
        async move {
            let a = attempt(&format!("open-par-{i}"), t0);
            let decision = gate.open(&limits, t0, &a, None).await.unwrap();
            let stored = gate.get(&a.id).await.unwrap();
            (decision.is_allowed(), stored.is_some())
        }
    })
    .await;
    let allowed = outcomes.iter().filter(|(allowed, _)| *allowed).count();
    assert_eq!(
        allowed, N as usize,
        "{PARALLEL} parallel starts under a limit of {N} allow exactly {N}"
    );
    assert!(
        outcomes.iter().all(|(allowed, stored)| allowed == stored),
        "exactly the allowed starts stored their attempts"
    );
}

/// A look takes its limit and reads the attempt, in whatever state; an unknown attempt reads as
/// none; a refused look reads nothing.
pub async fn look_reads_the_attempt_only_when_its_limit_allows(gate: Store) {
    let t0 = now();
    let a = attempt("look", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("look");
    let q = Quota::new(2, MINUTE);
    assert_eq!(
        gate.look(&key, q, &a.id, t0).await.unwrap(),
        Gated::Passed(Some(a.clone())),
        "an allowed look reads the attempt"
    );
    let unknown = attempt("look-unknown", t0);
    assert_eq!(
        gate.look(&key, q, &unknown.id, t0).await.unwrap(),
        Gated::Passed(None),
        "an unknown attempt reads as none"
    );
    assert_eq!(
        gate.look(&key, q, &a.id, t0).await.unwrap(),
        Gated::Limited {
            retry_after: Duration::from_secs(30)
        },
        "the third look within the limit of two is refused"
    );
}

/// A wrong guess takes one guess and counts one failure; a proven one consumes the attempt and
/// forgets the failures; after that no guess is taken and nothing changes.
pub async fn settle_counts_a_wrong_guess_and_consumes_a_proven_one(gate: Store) {
    let t0 = now();
    let a = attempt("settle", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("settle-fail");
    let budget = FailureBudget {
        key: &key,
        backoff: lenient(),
    };
    assert_eq!(
        gate.settle(&a.id, t0, 5, budget, false).await.unwrap(),
        Gated::Passed(Guess::Wrong)
    );
    assert_eq!(gate.get(&a.id).await.unwrap().unwrap().guesses, 1);
    assert_eq!(
        gate.failures(&key, t0).await.unwrap().count,
        1,
        "a wrong guess counts one failure"
    );
    assert_eq!(
        gate.settle(&a.id, t0, 5, budget, true).await.unwrap(),
        Gated::Passed(Guess::Consumed)
    );
    let after = gate.get(&a.id).await.unwrap().unwrap();
    assert_eq!(
        after.state,
        AttemptState::Consumed,
        "a proven guess consumes"
    );
    assert_eq!(after.guesses, 2, "and takes a guess");
    assert_eq!(
        gate.failures(&key, t0).await.unwrap(),
        Failures::default(),
        "a proven guess forgets the failures"
    );
    for proven in [true, false] {
        assert_eq!(
            gate.settle(&a.id, t0, 5, budget, proven).await.unwrap(),
            Gated::Passed(Guess::NotTaken),
            "a consumed attempt takes no guess"
        );
    }
    assert_eq!(
        gate.failures(&key, t0).await.unwrap(),
        Failures::default(),
        "a guess not taken counts no failure"
    );
}

/// A guess of an unknown or expired attempt, or one beyond the budget of guesses, is not taken
/// and counts no failure.
pub async fn settle_takes_no_guess_of_a_dead_attempt(gate: Store) {
    let t0 = now();
    let a = attempt("settle-dead", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("settle-dead");
    let budget = FailureBudget {
        key: &key,
        backoff: lenient(),
    };
    let unknown = attempt("settle-unknown", t0);
    for (id, at, max, what) in [
        (unknown.id, t0, 5, "an unknown attempt"),
        (a.id, a.expires_at, 5, "an expired attempt"),
        (a.id, t0, 0, "an attempt out of guesses"),
    ] {
        assert_eq!(
            gate.settle(&id, at, max, budget, false).await.unwrap(),
            Gated::Passed(Guess::NotTaken),
            "{what} takes no guess"
        );
    }
    assert_eq!(gate.get(&a.id).await.unwrap().unwrap().guesses, 0);
    assert_eq!(
        gate.failures(&key, t0).await.unwrap(),
        Failures::default(),
        "no failure was counted"
    );
}

/// While the failures wait (backoff) or have spent their budget, a guess is refused with the
/// wait, takes no guess and counts no failure; once the wait is over it is taken.
pub async fn settle_is_refused_while_the_failures_wait(gate: Store) {
    let t0 = now();
    let a = attempt("settle-wait", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("settle-wait");
    let backoff = Backoff {
        budget: 2,
        window: Duration::from_secs(3600),
        free: 1,
        base: MINUTE,
        max: Duration::from_secs(600),
    };
    let budget = FailureBudget { key: &key, backoff };
    gate.record_failure(&key, t0, backoff.window).await.unwrap();
    assert_eq!(
        gate.settle(&a.id, t0, 5, budget, true).await.unwrap(),
        Gated::Limited {
            retry_after: MINUTE
        },
        "after a failure the next try waits the base"
    );
    let later = t0.plus(MINUTE);
    assert_eq!(
        gate.settle(&a.id, later, 5, budget, false).await.unwrap(),
        Gated::Passed(Guess::Wrong),
        "after the wait a guess is taken"
    );
    assert_eq!(
        gate.settle(&a.id, later.plus(Duration::from_secs(600)), 5, budget, true)
            .await
            .unwrap(),
        Gated::Limited {
            retry_after: Duration::from_secs(3600 - 60 - 600)
        },
        "a spent budget refuses until its window ends"
    );
    let stored = gate.get(&a.id).await.unwrap().unwrap();
    assert_eq!(stored.guesses, 1, "refused guesses were not taken");
    assert_eq!(stored.state, AttemptState::Active);
    assert_eq!(gate.failures(&key, later).await.unwrap().count, 2);
}

/// [`PARALLEL`] wrong guesses at once with a budget of 5: exactly 5 are taken and counted.
pub async fn parallel_settles_take_exactly_the_guess_budget(gate: Store) {
    let t0 = now();
    let a = attempt("settle-par", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("settle-par");
    let id = a.id;
    let outcomes = in_parallel(|_| {
        let gate = gate.clone();
        let key = key.clone();
        async move {
            let budget = FailureBudget {
                key: &key,
                backoff: lenient(),
            };
            gate.settle(&id, t0, 5, budget, false).await.unwrap()
        }
    })
    .await;
    let wrong = outcomes
        .iter()
        .filter(|o| **o == Gated::Passed(Guess::Wrong))
        .count();
    assert_eq!(wrong, 5, "{PARALLEL} parallel guesses take exactly 5");
    assert_eq!(gate.get(&a.id).await.unwrap().unwrap().guesses, 5);
    assert_eq!(
        gate.failures(&key, t0).await.unwrap().count,
        5,
        "every taken guess counted one failure"
    );
}

/// [`PARALLEL`] proven guesses at once: exactly one consumes the attempt.
pub async fn parallel_proven_settles_have_one_winner(gate: Store) {
    let t0 = now();
    let a = attempt("settle-win", t0);
    gate.create(&a, None).await.unwrap();
    let key = unique("settle-win");
    let id = a.id;
    let max = u32::try_from(PARALLEL).unwrap_or(u32::MAX);
    let outcomes = in_parallel(|_| {
        let gate = gate.clone();
        let key = key.clone();
        async move {
            let budget = FailureBudget {
                key: &key,
                backoff: lenient(),
            };
            gate.settle(&id, t0, max, budget, true).await.unwrap()
        }
    })
    .await;
    let winners = outcomes
        .iter()
        .filter(|o| **o == Gated::Passed(Guess::Consumed))
        .count();
    assert_eq!(winners, 1, "exactly one of {PARALLEL} proven guesses wins");
}
