//! Rate limits and failure counters.

use super::StoreError;
use crate::rate::{Failures, Quota, RateDecision};
use crate::time::Timestamp;
use async_trait::async_trait;
use std::time::Duration;

/// Rate limits and failure counters, atomic in the store so every node shares them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// One GCRA step ([`crate::rate::gcra`]) under `key`: consumes capacity only when allowed.
    /// Under N parallel calls against a fresh key with `quota.limit = L`, exactly `min(N, L)` are
    /// allowed.
    ///
    /// # Errors
    /// Store failures only.
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError>;

    /// The failures recorded under `key` whose window has not ended at `now`.
    ///
    /// # Errors
    /// Store failures only.
    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError>;

    /// Records one failure at `now`, atomically. A key with no open window starts one of `window`.
    /// Returns the state after counting it.
    ///
    /// # Errors
    /// Store failures only.
    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError>;

    /// Forgets the failures under `key`.
    ///
    /// # Errors
    /// Store failures only.
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
}
