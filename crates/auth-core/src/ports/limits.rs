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

    /// Several GCRA steps in one call: each `(key, quota)` in order, as [`RateLimiter::acquire`]
    /// would take it, stopping at the first that is limited. The quotas before it stay charged;
    /// it and every quota after it are left untouched. Returns that first limit's decision, or
    /// [`RateDecision::Allowed`] when every quota allowed (an empty list allows). Each step is
    /// atomic on its own, as with `acquire`; an adapter that can run the whole list as one atomic
    /// step in one round trip overrides this.
    ///
    /// # Errors
    /// Store failures only; the quotas already taken stay charged.
    async fn acquire_all(
        &self,
        limits: &[(String, Quota)],
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        for (key, quota) in limits {
            let decision = self.acquire(key, *quota, now).await?;
            if !decision.is_allowed() {
                return Ok(decision);
            }
        }
        Ok(RateDecision::Allowed)
    }

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
