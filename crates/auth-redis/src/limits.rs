//! [`RateLimiter`] on Redis: GCRA state and failure counters, changed by scripts; several GCRA
//! steps go in one script.

use crate::errors::corrupt;
use crate::gate::with_quota;
use crate::{RedisStore, span_ms};
use async_trait::async_trait;
use auth_core::ports::{RateLimiter, StoreError};
use auth_core::rate::{Failures, Quota, RateDecision};
use auth_core::time::Timestamp;
use redis::Value;
use std::time::Duration;

#[async_trait]
impl RateLimiter for RedisStore {
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        self.acquire_all(&[(key.to_owned(), quota)], now).await
    }

    async fn acquire_all(
        &self,
        limits: &[(String, Quota)],
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        let mut acquire = self.inner.scripts.gcra_acquire_all.prepare_invoke();
        for (key, _) in limits {
            acquire.key(self.inner.keys.gcra(key));
        }
        acquire.arg(now.as_millis());
        for (_, quota) in limits {
            with_quota(&mut acquire, *quota);
        }
        match integers::<2>(self.eval(&acquire).await?)? {
            [1, _] => Ok(RateDecision::Allowed),
            [0, wait] if wait > 0 => Ok(RateDecision::Limited {
                retry_after: Duration::from_millis(wait.unsigned_abs()),
            }),
            _ => Err(corrupt(
                "the rate-limit script answered an impossible decision",
            )),
        }
    }

    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError> {
        let mut read = redis::cmd("HMGET");
        read.arg(self.inner.keys.failures(key))
            .arg("count")
            .arg("last_at")
            .arg("window_ends");
        let Value::Array(values) = self.query(&read).await? else {
            return Err(corrupt("HMGET did not answer an array"));
        };
        let values = values
            .into_iter()
            .map(optional_integer)
            .collect::<Result<Vec<_>, _>>()?;
        match values.as_slice() {
            [None, None, None] => Ok(Failures::default()),
            // A window that has ended is as good as none; the key is about to expire.
            [Some(_), Some(_), Some(ends)] if now.as_millis() >= *ends => Ok(Failures::default()),
            [Some(count), Some(last), Some(ends)] => failures([*count, *last, *ends]),
            _ => Err(corrupt("failure counters are incomplete")),
        }
    }

    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let mut record = self.inner.scripts.failures_record.prepare_invoke();
        record
            .key(self.inner.keys.failures(key))
            .arg(now.as_millis())
            .arg(span_ms(window));
        failures(integers::<3>(self.eval(&record).await?)?)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let mut delete = redis::cmd("DEL");
        delete.arg(self.inner.keys.failures(key));
        match self.query(&delete).await? {
            Value::Int(_) => Ok(()),
            _ => Err(corrupt("DEL did not answer an integer")),
        }
    }
}

/// Failures from `[count, last_at, window_ends]`. The count saturates like the other stores'.
fn failures([count, last, ends]: [i64; 3]) -> Result<Failures, StoreError> {
    if count < 1 {
        return Err(corrupt("a failure count is below one"));
    }
    Ok(Failures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        last_at: Some(Timestamp::from_millis(last)),
        window_ends: Some(Timestamp::from_millis(ends)),
    })
}

/// Exactly `N` integers, as a script answers them.
pub(crate) fn integers<const N: usize>(v: Value) -> Result<[i64; N], StoreError> {
    let Value::Array(items) = v else {
        return Err(corrupt("a script did not answer an array"));
    };
    let mut out = [0i64; N];
    if items.len() != N {
        return Err(corrupt(format!(
            "a script answered {} values instead of {N}",
            items.len()
        )));
    }
    for (slot, item) in out.iter_mut().zip(items) {
        match item {
            Value::Int(n) => *slot = n,
            _ => return Err(corrupt("a script answered something other than an integer")),
        }
    }
    Ok(out)
}

/// An integer stored as a string, or nothing.
fn optional_integer(v: Value) -> Result<Option<i64>, StoreError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| corrupt("a failure counter is not an integer")),
        _ => Err(corrupt("a failure counter is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_answers_are_checked() {
        let ints = |xs: &[i64]| Value::Array(xs.iter().map(|&x| Value::Int(x)).collect());
        assert_eq!(integers::<2>(ints(&[0, 5])).unwrap(), [0, 5]);
        assert!(integers::<2>(ints(&[1])).is_err());
        assert!(integers::<2>(Value::Nil).is_err());
        assert!(failures([0, 1, 2]).is_err());
        assert_eq!(
            failures([i64::from(u32::MAX) + 5, 1, 2]).unwrap().count,
            u32::MAX
        );
        assert_eq!(
            optional_integer(Value::BulkString(b"42".to_vec())).unwrap(),
            Some(42)
        );
        assert!(optional_integer(Value::BulkString(b"4x".to_vec())).is_err());
    }
}
