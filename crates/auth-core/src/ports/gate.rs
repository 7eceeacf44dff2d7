//! The steps of an email code that pass rate limits and change an attempt together, one port call
//! each, so a store that holds both can make each step one atomic round trip.

use super::{AttemptStore, RateLimiter, StoreError};
use crate::attempt::Attempt;
use crate::ids::AttemptId;
use crate::rate::{Backoff, Quota, RateDecision};
use crate::time::Timestamp;
use async_trait::async_trait;
use std::time::Duration;

/// What a limited step gave: its result, or how long the caller must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gated<T> {
    /// The limits let the step through.
    Passed(T),
    /// A limit stopped the step before it changed the attempt.
    Limited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
}

/// How a settled guess ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    /// No guess could be taken (the attempt is unknown, not active, expired or out of guesses,
    /// or another caller consumed it first); nothing changed.
    NotTaken,
    /// A guess was taken and the code was wrong: one failure was recorded under the key.
    Wrong,
    /// A guess was taken, the code was right: the attempt is consumed (this caller is the only
    /// one ever to see this) and the failures under the key are forgotten.
    Consumed,
}

/// The failure budget a guess is checked against and counted in.
#[derive(Debug, Clone, Copy)]
pub struct FailureBudget<'a> {
    /// The limiter key of the failures.
    pub key: &'a str,
    /// The budget and backoff.
    pub backoff: Backoff,
}

/// The attempts and limits of email codes together: each method is one step of a use case that
/// the service would otherwise make as several calls of [`RateLimiter`] and [`AttemptStore`].
/// The provided methods compose those calls, so any store that implements both ports implements
/// this one with an empty `impl`; a store that can do a whole step atomically in one round trip
/// (Redis, with one script) overrides them. Either way the outcome of each step is the same, and
/// the guess budget, the single consumption and the limits stay atomic under parallel callers.
#[async_trait]
pub trait AttemptGate: AttemptStore + RateLimiter {
    /// Takes the send limits (as [`RateLimiter::acquire_all`]: in order, stopping at the first
    /// that is limited, the ones before it charged) and, only if all allowed, stores `attempt`
    /// as [`AttemptStore::create`] would (superseding `replaces`). A limited start stores
    /// nothing.
    ///
    /// # Errors
    /// Store failures only; then the attempt may or may not be stored, and quotas may be charged.
    async fn open(
        &self,
        limits: &[(String, Quota)],
        now: Timestamp,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<RateDecision, StoreError> {
        let decision = self.acquire_all(limits, now).await?;
        if decision.is_allowed() {
            self.create(attempt, replaces).await?;
        }
        Ok(decision)
    }

    /// The first step of a guess: takes `quota` under `key` (as [`RateLimiter::acquire`]) and,
    /// if allowed, reads attempt `id` (as [`AttemptStore::get`], in whatever state). A limited
    /// call reads nothing.
    ///
    /// # Errors
    /// Store failures only.
    async fn look(
        &self,
        key: &str,
        quota: Quota,
        id: &AttemptId,
        now: Timestamp,
    ) -> Result<Gated<Option<Attempt>>, StoreError> {
        match self.acquire(key, quota, now).await? {
            RateDecision::Limited { retry_after } => Ok(Gated::Limited { retry_after }),
            RateDecision::Allowed => Ok(Gated::Passed(self.get(id).await?)),
        }
    }

    /// The second step of a guess, once the caller knows whether the code proves the attempt:
    /// if the failures under `budget.key` allow one more try at `now` ([`Backoff::decide`]),
    /// takes one guess of attempt `id` (as [`AttemptStore::take_guess`]), then consumes the
    /// attempt and forgets the failures if `proven`, or records one failure (in a window of
    /// `budget.backoff.window`) if not. A limited call and a guess not taken change nothing.
    /// Under parallel callers at most `max_guesses` guesses are taken and one caller at most
    /// gets [`Guess::Consumed`].
    ///
    /// # Errors
    /// Store failures only.
    async fn settle(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
        budget: FailureBudget<'_>,
        proven: bool,
    ) -> Result<Gated<Guess>, StoreError> {
        let failures = self.failures(budget.key, now).await?;
        if let RateDecision::Limited { retry_after } = budget.backoff.decide(&failures, now) {
            return Ok(Gated::Limited { retry_after });
        }
        if self.take_guess(id, now, max_guesses).await?.is_none() {
            return Ok(Gated::Passed(Guess::NotTaken));
        }
        if !proven {
            self.record_failure(budget.key, now, budget.backoff.window)
                .await?;
            return Ok(Gated::Passed(Guess::Wrong));
        }
        if !self.consume(id, now).await? {
            return Ok(Gated::Passed(Guess::NotTaken));
        }
        self.clear_failures(budget.key).await?;
        Ok(Gated::Passed(Guess::Consumed))
    }
}
