//! [`RateLimiter`] on `rate_limits_us` (GCRA, in microseconds) and `failures`: each step is one
//! upsert.

use crate::PgStore;

use async_trait::async_trait;
use auth_core::ports::{RateLimiter, StoreError};
use auth_core::rate::{Failures, Quota, RateDecision, gcra, micros};
use auth_core::time::Timestamp;
use auth_sql::count;
use std::time::Duration;

#[async_trait]
impl RateLimiter for PgStore {
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        // A key without a row is an empty bucket, which always has room (the interval never
        // exceeds the period); if even it had none, no bucket would.
        let (decision, fresh) = gcra(None, now, quota);
        let Some(fresh) = fresh else {
            return Ok(decision);
        };
        // `auth_core::rate::gcra` in one statement: the new TAT is `max(TAT, now) + T`, and the
        // step is allowed when that minus the period is not after `now`. Parallel callers queue
        // on the row lock and each decides on the TAT the one before it left. The sum is taken as
        // `numeric` and saturated, as the domain's arithmetic saturates. A refused step changes
        // nothing and returns no row.
        let allowed: Option<i64> = sqlx::query_scalar(
            "INSERT INTO rate_limits_us AS r (key, tat_us) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE \
                 SET tat_us = LEAST(GREATEST(r.tat_us, $3)::numeric + $4, 9223372036854775807)::bigint \
                 WHERE LEAST(GREATEST(r.tat_us, $3)::numeric + $4, 9223372036854775807) - $5 <= $3 \
             RETURNING tat_us",
        )
        .bind(key)
        .bind(fresh.tat)
        .bind(micros(now))
        .bind(quota.interval_us())
        .bind(quota.period_us())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        if allowed.is_some() {
            return Ok(RateDecision::Allowed);
        }
        // Refused. How long to wait is read afterwards: the TAT can only have grown since, by
        // steps that were allowed in between, and then the longer wait is the true one.
        let tat: Option<i64> =
            sqlx::query_scalar("SELECT tat_us FROM rate_limits_us WHERE key = $1")
                .bind(key)
                .fetch_optional(self.pool()?)
                .await
                .map_err(|e| self.failed(e))?;
        match gcra(tat, now, quota) {
            (limited @ RateDecision::Limited { .. }, _) => Ok(limited),
            // Purged in between by a node whose clock is ahead: there is room again, but this
            // step was refused; the caller may retry at once.
            (RateDecision::Allowed, _) => Ok(RateDecision::Limited {
                retry_after: Duration::from_millis(1),
            }),
        }
    }

    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError> {
        // A window that has ended is as good as none; purging deletes it later.
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT count, last_at, window_ends FROM failures \
             WHERE key = $1 AND window_ends > $2",
        )
        .bind(key)
        .bind(now.as_millis())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map_or(Ok(Failures::default()), failures)
    }

    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        // A key with no open window at `now` (none yet, or its window has ended) starts one;
        // otherwise the count goes up within it. Nodes' clocks differ a little, so the latest
        // failure is the one that counts for backoff. Every `SET` expression reads the row as it
        // was, so the three agree on which case applies.
        let row: (i64, i64, i64) = sqlx::query_as(
            "INSERT INTO failures AS f (key, count, last_at, window_ends) VALUES ($1, 1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET \
                 count = CASE WHEN $2 < f.window_ends \
                     THEN LEAST(f.count + 1, 4294967295) ELSE 1 END, \
                 last_at = CASE WHEN $2 < f.window_ends \
                     THEN GREATEST(f.last_at, $2) ELSE $2 END, \
                 window_ends = CASE WHEN $2 < f.window_ends THEN f.window_ends ELSE $3 END \
             RETURNING count, last_at, window_ends",
        )
        .bind(key)
        .bind(now.as_millis())
        .bind(now.plus(window).as_millis())
        .fetch_one(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        failures(row)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM failures WHERE key = $1")
            .bind(key)
            .execute(self.pool()?)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }
}

/// Failures from `(count, last_at, window_ends)`.
fn failures((n, last_at, window_ends): (i64, i64, i64)) -> Result<Failures, StoreError> {
    Ok(Failures {
        count: count("failures.count", n)?,
        last_at: Some(Timestamp::from_millis(last_at)),
        window_ends: Some(Timestamp::from_millis(window_ends)),
    })
}
