//! [`AttemptGate`] on Redis: each step of an email code is one script, so one round trip — a
//! start takes its send limits and stores its attempt together, and a guess is a look (the
//! network's guess limit and the attempt) and a settle (failure budget, guess, consume or count).

use crate::attempts::{decode, encode, fields};
use crate::errors::corrupt;
use crate::limits::integers;
use crate::{MAX_MS, RedisStore, span_ms};
use async_trait::async_trait;
use auth_core::attempt::Attempt;
use auth_core::ids::AttemptId;
use auth_core::ports::{AttemptGate, FailureBudget, Gated, Guess, StoreError};
use auth_core::rate::{Quota, RateDecision};
use auth_core::time::{Timestamp, duration_ms};
use redis::{ScriptInvocation, Value};
use std::time::Duration;

#[async_trait]
impl AttemptGate for RedisStore {
    async fn open(
        &self,
        limits: &[(String, Quota)],
        now: Timestamp,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<RateDecision, StoreError> {
        self.open_attempt(limits, now, attempt, replaces).await
    }

    async fn look(
        &self,
        key: &str,
        quota: Quota,
        id: &AttemptId,
        now: Timestamp,
    ) -> Result<Gated<Option<Attempt>>, StoreError> {
        let keys = &self.inner.keys;
        let mut look = self.inner.scripts.attempt_look.prepare_invoke();
        look.key(keys.gcra(key))
            .key(keys.attempt(id))
            .arg(now.as_millis());
        with_quota(&mut look, quota);
        let Value::Array(reply) = self.eval(&look).await? else {
            return Err(corrupt("the look script did not answer an array"));
        };
        let mut reply = reply.into_iter();
        match (reply.next(), reply.next(), reply.next()) {
            (Some(Value::Int(0)), Some(Value::Int(wait)), None) => limited(wait),
            (Some(Value::Int(1)), Some(found), None) => {
                let found = fields(found)?;
                if found.is_empty() {
                    Ok(Gated::Passed(None))
                } else {
                    decode(*id, &found).map(|a| Gated::Passed(Some(a)))
                }
            }
            _ => Err(corrupt("the look script answered an impossible reply")),
        }
    }

    async fn settle(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
        budget: FailureBudget<'_>,
        proven: bool,
    ) -> Result<Gated<Guess>, StoreError> {
        let keys = &self.inner.keys;
        let b = budget.backoff;
        let ms = |d: Duration| duration_ms(d).clamp(0, MAX_MS);
        let mut settle = self.inner.scripts.attempt_settle.prepare_invoke();
        settle
            .key(keys.failures(budget.key))
            .key(keys.attempt(id))
            .arg(now.as_millis())
            .arg(max_guesses)
            .arg(u8::from(proven))
            .arg(b.budget)
            .arg(b.free)
            .arg(ms(b.base))
            .arg(ms(b.max))
            .arg(span_ms(b.window));
        match integers::<2>(self.eval(&settle).await?)? {
            [0, wait] => limited(wait),
            [1, 0] => Ok(Gated::Passed(Guess::NotTaken)),
            [1, 1] => Ok(Gated::Passed(Guess::Wrong)),
            [1, 2] => Ok(Gated::Passed(Guess::Consumed)),
            _ => Err(corrupt("the settle script answered an impossible outcome")),
        }
    }
}

impl RedisStore {
    /// Takes `limits` and, if all allow, stores `attempt` (superseding `replaces`): one script.
    pub(crate) async fn open_attempt(
        &self,
        limits: &[(String, Quota)],
        now: Timestamp,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<RateDecision, StoreError> {
        let keys = &self.inner.keys;
        // The key lives as long as the core says a store keeps the attempt.
        let ttl = span_ms(attempt.kept_until().since(attempt.created_at));
        let mut open = self.inner.scripts.attempt_open.prepare_invoke();
        for (key, _) in limits {
            open.key(keys.gcra(key));
        }
        open.key(keys.attempt(&attempt.id));
        if let Some(old) = replaces {
            open.key(keys.attempt(&old));
        }
        open.arg(now.as_millis()).arg(limits.len());
        for (_, quota) in limits {
            with_quota(&mut open, *quota);
        }
        open.arg(ttl);
        for (field, value) in encode(attempt) {
            open.arg(field).arg(value);
        }
        match integers::<2>(self.eval(&open).await?)? {
            [1, 0 | 1] => Ok(RateDecision::Allowed),
            [0, wait] if wait > 0 => Ok(RateDecision::Limited {
                retry_after: Duration::from_millis(wait.unsigned_abs()),
            }),
            _ => Err(corrupt("the open script answered an impossible decision")),
        }
    }
}

/// The interval and period of `quota` in microseconds, as a script takes them: the quota's own
/// rounding (interval at least 1 µs, never above the period for limit 1), bounded so the Lua
/// arithmetic stays exact (a TAT stays below now plus twice the period, within 2^53).
pub(crate) fn with_quota(invocation: &mut ScriptInvocation<'_>, quota: Quota) {
    invocation
        .arg(quota.interval_us().clamp(1, MAX_US))
        .arg(quota.period_us().clamp(1, MAX_US));
}

/// The longest interval or period a script takes, in microseconds: about 71 years.
const MAX_US: i64 = 1 << 51;

/// A refusal with a wait a script reported, which must be positive.
fn limited<T>(wait: i64) -> Result<Gated<T>, StoreError> {
    if wait > 0 {
        Ok(Gated::Limited {
            retry_after: Duration::from_millis(wait.unsigned_abs()),
        })
    } else {
        Err(corrupt("a script refused without a wait"))
    }
}
