//! The ports: what the domain needs from the outside world, named by role, one file per area and
//! all of them re-exported here. Adapters implement them by technology; every storage port has
//! contract rules in [`crate::testkit`] that each adapter runs.

mod accounts;
mod attempts;
mod directory;
mod gate;
mod limits;
mod mailer;
mod oidc;
mod outbox;
mod passkeys;
mod sessions;
mod tokens;

pub use accounts::*;
pub use attempts::*;
pub use directory::*;
pub use gate::*;
pub use limits::*;
pub use mailer::*;
pub use oidc::*;
pub use outbox::*;
pub use passkeys::*;
pub use sessions::*;
pub use tokens::*;

use crate::time::Timestamp;
use async_trait::async_trait;
use std::error::Error as StdError;

/// Any error from the technology behind a port.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A store failed. Every port method that touches a store returns this for technology failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or timed out; the request may succeed later.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with something the adapter cannot make sense of.
    #[error("store returned unusable data: {0}")]
    Corrupt(String),
}

/// A store that `/readyz` checks.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short name for the report (`sqlite`, `postgres`, `redis`).
    fn name(&self) -> &'static str;

    /// Answers once the store can serve requests.
    ///
    /// # Errors
    /// The reason it cannot.
    async fn check(&self) -> Result<(), StoreError>;
}

/// The time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Randomness for codes, secrets, ids and tokens. Must be a CSPRNG outside tests.
pub trait Rng: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        // Without OS randomness no code or token can be safe, so there is nothing sensible to
        // fall back to; getrandom only fails on broken platforms.
        #[allow(
            clippy::expect_used,
            reason = "no safe fallback exists for a missing CSPRNG"
        )]
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}
