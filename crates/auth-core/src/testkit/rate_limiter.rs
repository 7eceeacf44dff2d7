//! The [`RateLimiter`] contract: the GCRA burst and interval, independent keys, failure windows,
//! and both under parallel callers.

use super::{PARALLEL, in_parallel, now, unique};
use crate::ports::RateLimiter;
use crate::rate::{Quota, RateDecision};
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on.
pub type Store = Arc<dyn RateLimiter>;

/// The rules' view of an adapter's store.
pub fn store<S: RateLimiter + 'static>(s: S) -> Store {
    Arc::new(s)
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules rate_limiter @all store);
}

const WINDOW: Duration = Duration::from_secs(60);

/// A burst of the quota is allowed, the next request waits one interval, one interval later one
/// more is allowed; keys are independent.
pub async fn a_burst_is_allowed_then_one_per_interval(limiter: Store) {
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
}

/// A quota of more than one request per millisecond keeps its rate: 2,000 per second allows its
/// burst of 2,000, then two more each millisecond (an interval of 500 µs), where whole
/// milliseconds would allow one.
pub async fn a_quota_above_one_per_millisecond_keeps_its_rate(limiter: Store) {
    let t0 = now();
    let q = Quota::new(2_000, Duration::from_secs(1));
    let k = unique("rl-fast");
    // The burst in one call: a store that expires a key by its own clock once its TAT has passed
    // (Redis) would drop the first, millisecond-long states while this rule's clock stands still.
    let burst = vec![(k.clone(), q); 2_000];
    assert!(
        limiter.acquire_all(&burst, t0).await.unwrap().is_allowed(),
        "the burst of 2,000 is allowed"
    );
    assert_eq!(
        limiter.acquire(&k, q, t0).await.unwrap(),
        RateDecision::Limited {
            retry_after: Duration::from_millis(1)
        },
        "after the burst, a wait of 500 µs, reported as 1 ms"
    );
    let t1 = t0.plus(Duration::from_millis(1));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(limiter.acquire(&k, q, t1).await.unwrap().is_allowed());
    }
    assert_eq!(got, [true, true, false], "two more a millisecond later");
}

/// [`PARALLEL`] hits at once on one key with a limit of `L`: exactly `L` are allowed.
pub async fn parallel_hits_allow_exactly_the_limit(limiter: Store) {
    const L: u32 = 10;
    let t0 = now();
    let pk = unique("rl-par");
    let allowed = in_parallel(|_| {
        let limiter = limiter.clone();
        let pk = pk.clone();
        async move {
            limiter
                .acquire(&pk, Quota::new(L, Duration::from_secs(60)), t0)
                .await
                .unwrap()
                .is_allowed()
        }
    })
    .await;
    assert_eq!(
        allowed.iter().filter(|&&x| x).count(),
        L as usize,
        "{PARALLEL} parallel hits with limit {L} allow exactly {L}"
    );
}

/// Failures count within a window that starts at the first and are forgotten when it ends; a
/// failure after it starts a new one.
pub async fn failures_count_within_a_window_that_starts_at_the_first(limiter: Store) {
    let t0 = now();
    let fk = unique("fail");
    assert_eq!(
        limiter.failures(&fk, t0).await.unwrap().count,
        0,
        "no failures recorded yet"
    );
    let f1 = limiter.record_failure(&fk, t0, WINDOW).await.unwrap();
    assert_eq!(
        (f1.count, f1.last_at, f1.window_ends),
        (1, Some(t0), Some(t0.plus(WINDOW))),
        "the first failure opens the window"
    );
    let t1 = t0.plus(Duration::from_secs(10));
    let f2 = limiter.record_failure(&fk, t1, WINDOW).await.unwrap();
    assert_eq!(
        (f2.count, f2.last_at, f2.window_ends),
        (2, Some(t1), Some(t0.plus(WINDOW))),
        "later failures count within the same window"
    );
    assert_eq!(
        limiter.failures(&fk, t1).await.unwrap(),
        f2,
        "failures reads what record_failure wrote"
    );
    assert_eq!(
        limiter.failures(&fk, t0.plus(WINDOW)).await.unwrap().count,
        0,
        "failures are forgotten when the window ends"
    );
    let reopened = limiter
        .record_failure(&fk, t0.plus(WINDOW), WINDOW)
        .await
        .unwrap();
    assert_eq!(
        reopened.count, 1,
        "a failure after the window starts a new one"
    );
}

/// `clear_failures` forgets a key's failures.
pub async fn clear_failures_forgets_them(limiter: Store) {
    let t0 = now();
    let fk = unique("fail-clear");
    limiter.record_failure(&fk, t0, WINDOW).await.unwrap();
    limiter.record_failure(&fk, t0, WINDOW).await.unwrap();
    limiter.clear_failures(&fk).await.unwrap();
    assert_eq!(
        limiter.failures(&fk, t0).await.unwrap().count,
        0,
        "clear_failures forgets them"
    );
}

/// [`PARALLEL`] failures recorded at once on one key all count.
pub async fn parallel_failures_all_count(limiter: Store) {
    let t0 = now();
    let pf = unique("fail-par");
    in_parallel(|_| {
        let limiter = limiter.clone();
        let pf = pf.clone();
        async move { limiter.record_failure(&pf, t0, WINDOW).await.unwrap() }
    })
    .await;
    assert_eq!(
        limiter.failures(&pf, t0).await.unwrap().count,
        PARALLEL as u32,
        "{PARALLEL} parallel failures all count"
    );
}

/// `acquire_all` takes its quotas in order and stops at the first refusal: the quotas before it
/// stay charged, those after it are untouched.
pub async fn acquire_all_charges_up_to_the_first_refusal(limiter: Store) {
    let t0 = now();
    let (open, shut, after) = (unique("all-a"), unique("all-b"), unique("all-c"));
    let one = Quota::new(1, WINDOW);
    assert!(limiter.acquire(&shut, one, t0).await.unwrap().is_allowed());
    assert_eq!(
        limiter
            .acquire_all(
                &[(open.clone(), one), (shut, one), (after.clone(), one)],
                t0
            )
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after: WINDOW
        },
        "the exhausted limit refuses"
    );
    assert!(
        !limiter.acquire(&open, one, t0).await.unwrap().is_allowed(),
        "the limit before the refusal was charged"
    );
    assert!(
        limiter.acquire(&after, one, t0).await.unwrap().is_allowed(),
        "the limit after it was not"
    );
}
