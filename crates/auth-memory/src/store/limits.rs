//! Rate limits and failure counters: [`RateLimiter`] on sharded maps.

use super::MemoryStore;
use async_trait::async_trait;
use auth_core::ports::{RateLimiter, StoreError};
use auth_core::rate::{Failures, Quota, RateDecision, gcra, micros};
use auth_core::time::Timestamp;
use std::time::Duration;

#[async_trait]
impl RateLimiter for MemoryStore {
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        let key = key.to_owned();
        let mut shard = self.inner.rates.lock(&key);
        let stored = shard.map.get(&key).copied();
        let (decision, next) = gcra(stored, now, quota);
        if let Some(next) = next {
            let now_us = micros(now);
            shard.insert_sweeping(key, next.tat, |tat| *tat < now_us);
        }
        Ok(decision)
    }

    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError> {
        let key = key.to_owned();
        let shard = self.inner.failures.lock(&key);
        Ok(shard
            .map
            .get(&key)
            .filter(|f| f.window_ends.is_some_and(|end| now < end))
            .copied()
            .unwrap_or_default())
    }

    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let key = key.to_owned();
        let mut shard = self.inner.failures.lock(&key);
        let open = shard
            .map
            .get(&key)
            .filter(|f| f.window_ends.is_some_and(|end| now < end))
            .copied();
        let next = match open {
            Some(f) => Failures {
                count: f.count.saturating_add(1),
                last_at: Some(now),
                window_ends: f.window_ends,
            },
            None => Failures {
                count: 1,
                last_at: Some(now),
                window_ends: Some(now.plus(window)),
            },
        };
        shard.insert_sweeping(key, next, |f| f.window_ends.is_none_or(|end| end < now));
        Ok(next)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.inner.failures.lock(&key).map.remove(&key);
        Ok(())
    }
}
