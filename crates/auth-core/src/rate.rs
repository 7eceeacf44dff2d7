//! Rate-limit rules: the GCRA arithmetic every store applies atomically, and exponential backoff
//! for repeated failures.
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT). A quota of `limit` requests
//! per `period` has emission interval `T = period / limit`; a request at `now` is allowed when
//! `max(TAT, now) + T - now <= period`, and then TAT moves to `max(TAT, now) + T`. A quota with
//! `limit = 1` is therefore a minimum gap of `period` between requests.
//!
//! The TAT and `T` count microseconds, so a quota of more than one request per millisecond keeps
//! its rate (in whole milliseconds, `T` would round down to 1 ms and cap every key at 1,000/s).
//! Waits are reported in whole milliseconds, rounded up.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `limit` requests per `period`, all of which may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests allowed per period (at least 1).
    pub limit: u32,
    /// The period.
    #[serde(with = "crate::policy::duration_serde")]
    pub period: Duration,
}

impl Quota {
    /// `limit` per `period`.
    pub const fn new(limit: u32, period: Duration) -> Self {
        Self { limit, period }
    }

    /// The emission interval in microseconds (at least 1).
    pub fn interval_us(&self) -> i64 {
        (micros_of(self.period) / i64::from(self.limit.max(1))).max(1)
    }

    /// The period in microseconds (at least 1).
    pub fn period_us(&self) -> i64 {
        micros_of(self.period).max(1)
    }
}

fn micros_of(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `now` as GCRA states count time: microseconds since the epoch.
pub fn micros(now: Timestamp) -> i64 {
    now.as_millis().saturating_mul(1000)
}

/// Microseconds as whole milliseconds, rounded up (a wait, or a key's lifetime).
fn ceil_ms(us: i64) -> i64 {
    us.div_euclid(1000) + i64::from(us.rem_euclid(1000) != 0)
}

/// What a limiter said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead.
    Allowed,
    /// Not before `retry_after` has passed.
    Limited {
        /// How long until the request would be allowed.
        retry_after: Duration,
    },
}

impl RateDecision {
    /// Whether it was allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed)
    }
}

/// One GCRA step: the decision, and the TAT to store if allowed (with how long the key must live).
/// `stored_tat` and the stored TAT are microseconds since the epoch.
pub fn gcra(stored_tat: Option<i64>, now: Timestamp, quota: Quota) -> (RateDecision, Option<Gcra>) {
    let now = micros(now);
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(quota.interval_us());
    let allow_at = new_tat.saturating_sub(quota.period_us());
    if allow_at <= now {
        (
            RateDecision::Allowed,
            Some(Gcra {
                tat: new_tat,
                ttl_ms: ceil_ms(new_tat - now),
            }),
        )
    } else {
        let wait = u64::try_from(ceil_ms(allow_at - now)).unwrap_or(u64::MAX);
        (
            RateDecision::Limited {
                retry_after: Duration::from_millis(wait),
            },
            None,
        )
    }
}

/// The state to store after an allowed GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// The new theoretical arrival time, in microseconds since the epoch.
    pub tat: i64,
    /// How long the key must be kept, in whole milliseconds (rounded up); after that it is
    /// equivalent to absent.
    pub ttl_ms: i64,
}

/// Failures recorded under one key within its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// How many.
    pub count: u32,
    /// When the last one happened.
    pub last_at: Option<Timestamp>,
    /// When the window (which starts at the first failure) ends and the count resets.
    pub window_ends: Option<Timestamp>,
}

/// The failure budget and backoff for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// Failures allowed within `window` before everything is refused until it ends.
    pub budget: u32,
    /// How long failures are remembered, from the first.
    #[serde(with = "crate::policy::duration_serde")]
    pub window: Duration,
    /// Failures that cost no waiting.
    pub free: u32,
    /// The first wait after the free failures; each later failure doubles it.
    #[serde(with = "crate::policy::duration_serde")]
    pub base: Duration,
    /// The longest single wait.
    #[serde(with = "crate::policy::duration_serde")]
    pub max: Duration,
}

impl Backoff {
    /// Whether one more try is allowed at `now`, given the failures so far.
    pub fn decide(&self, f: &Failures, now: Timestamp) -> RateDecision {
        let (Some(last), Some(window_ends)) = (f.last_at, f.window_ends) else {
            return RateDecision::Allowed;
        };
        if now >= window_ends {
            return RateDecision::Allowed;
        }
        if f.count >= self.budget {
            return RateDecision::Limited {
                retry_after: window_ends.since(now),
            };
        }
        let ready_at = last.plus(self.wait_after(f.count));
        if now < ready_at {
            return RateDecision::Limited {
                retry_after: ready_at.since(now),
            };
        }
        RateDecision::Allowed
    }

    /// The wait imposed after `count` failures: none for the free ones, then doubling up to `max`.
    pub fn wait_after(&self, count: u32) -> Duration {
        if count < self.free.max(1) {
            return Duration::ZERO;
        }
        let exp = (count - self.free.max(1)).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(quota: Quota, times: &[i64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&t| {
                let (d, next) = gcra(tat, Timestamp::from_millis(t), quota);
                if let Some(n) = next {
                    tat = Some(n.tat);
                }
                d.is_allowed()
            })
            .collect()
    }

    #[test]
    fn gcra_allows_the_burst_then_one_per_interval() {
        let q = Quota::new(3, Duration::from_secs(3));
        assert_eq!(run(q, &[0, 0, 0, 0]), [true, true, true, false]);
        assert_eq!(
            run(q, &[0, 0, 0, 999, 1000, 1001]),
            [true, true, true, false, true, false]
        );
        assert_eq!(
            run(q, &[0, 0, 0, 10_000, 10_000, 10_000, 10_000]),
            [true, true, true, true, true, true, false]
        );
    }

    #[test]
    fn a_quota_of_more_than_one_per_millisecond_keeps_its_rate() {
        // 100 per 10 ms: one every 100 µs, which whole milliseconds would round up to one per ms.
        let q = Quota::new(100, Duration::from_millis(10));
        let mut times = vec![0; 100];
        times.extend([1; 11]);
        let allowed = run(q, &times);
        assert!(allowed[..100].iter().all(|a| *a), "the burst");
        assert_eq!(
            allowed[100..],
            [
                true, true, true, true, true, true, true, true, true, true, false
            ],
            "ten more a millisecond later"
        );
        let (refused, _) = gcra(
            Some(micros(Timestamp::from_millis(1)) + 10_050),
            Timestamp::from_millis(1),
            q,
        );
        assert_eq!(
            refused,
            RateDecision::Limited {
                retry_after: Duration::from_millis(1)
            },
            "a wait of 150 µs is reported as 1 ms"
        );
    }

    #[test]
    fn rounding_up_to_milliseconds() {
        assert_eq!([0, 1, 999, 1000, 1001, -1].map(ceil_ms), [0, 1, 1, 1, 2, 0]);
    }

    #[test]
    fn gcra_with_limit_one_is_a_minimum_gap_and_reports_the_wait() {
        let q = Quota::new(1, Duration::from_secs(60));
        let (first, state) = gcra(None, Timestamp::from_millis(0), q);
        assert!(first.is_allowed());
        let (second, none) = gcra(state.map(|s| s.tat), Timestamp::from_millis(20_000), q);
        assert_eq!(
            second,
            RateDecision::Limited {
                retry_after: Duration::from_secs(40)
            }
        );
        assert!(none.is_none());
        assert_eq!(state.unwrap().ttl_ms, 60_000);
        assert_eq!(state.unwrap().tat, 60_000_000, "microseconds");
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_and_caps() {
        let b = Backoff {
            budget: 10,
            window: Duration::from_secs(3600),
            free: 3,
            base: Duration::from_secs(2),
            max: Duration::from_secs(30),
        };
        let waits: Vec<u64> = (0..9).map(|n| b.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn backoff_refuses_inside_the_wait_and_after_the_budget() {
        let b = Backoff {
            budget: 5,
            window: Duration::from_secs(3600),
            free: 2,
            base: Duration::from_secs(10),
            max: Duration::from_secs(600),
        };
        let t0 = Timestamp::from_millis(1_000_000);
        let f = |count, last: i64| Failures {
            count,
            last_at: Some(t0.plus(Duration::from_secs(last as u64))),
            window_ends: Some(t0.plus(Duration::from_secs(3600))),
        };
        assert!(b.decide(&Failures::default(), t0).is_allowed());
        assert!(b.decide(&f(1, 0), t0).is_allowed());
        assert_eq!(
            b.decide(&f(2, 0), t0.plus(Duration::from_secs(4))),
            RateDecision::Limited {
                retry_after: Duration::from_secs(6)
            }
        );
        assert!(
            b.decide(&f(2, 0), t0.plus(Duration::from_secs(10)))
                .is_allowed()
        );
        assert_eq!(
            b.decide(&f(5, 0), t0.plus(Duration::from_secs(3000))),
            RateDecision::Limited {
                retry_after: Duration::from_secs(600)
            }
        );
        assert!(
            b.decide(&f(5, 0), t0.plus(Duration::from_secs(3600)))
                .is_allowed()
        );
    }
}
