//! A circuit breaker in front of the pool, so a database that is down costs a request nothing.
//!
//! Without it every call waits the whole acquire timeout for a connection that cannot be opened,
//! and under load every request and `/readyz` hang that long before their 503. Once a call fails
//! to reach the server, the breaker opens: further calls fail at once, and one background probe
//! tries the server every [`PROBE_INTERVAL`] and closes the breaker as soon as it answers.

use auth_core::ports::StoreError;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the probe tries a server that is down.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// Open while the server is known to be unreachable. Clones share the state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Breaker {
    open: Arc<AtomicBool>,
}

impl Breaker {
    /// Refuses at once while the breaker is open.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.open.load(Ordering::Acquire) {
            Err(StoreError::Unavailable(
                "postgres is unreachable; waiting for the probe to reach it again".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Notes a failed call: a failure to reach the server opens the breaker and starts the one
    /// probe that closes it again. Errors the server itself answered (a constraint, a deadlock)
    /// say it is up and leave the breaker as it is.
    pub(crate) fn observe(&self, e: &sqlx::Error, pool: &PgPool) {
        if !unreachable(e) || pool.is_closed() {
            return;
        }
        if self
            .open
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // already open: its probe is running
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to probe from: stay closed rather than open for good.
            self.open.store(false, Ordering::Release);
            return;
        };
        let open = Arc::clone(&self.open);
        let pool = pool.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(PROBE_INTERVAL).await;
                if pool.is_closed() || sqlx::query("SELECT 1").execute(&pool).await.is_ok() {
                    open.store(false, Ordering::Release);
                    return;
                }
            }
        });
    }
}

/// Whether `e` means the server could not be reached at all (refused, lost or silent
/// connection), as opposed to an answer from it.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // A server shutting down tells its connections so before it stops listening: class 08
        // (connection exception) and 57P01-57P03 (shutdown, crash, not accepting connections).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_to_reach_the_server_count() {
        assert!(unreachable(&sqlx::Error::PoolTimedOut));
        assert!(unreachable(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!unreachable(&sqlx::Error::RowNotFound));
        assert!(!unreachable(&sqlx::Error::PoolClosed));
    }
}
