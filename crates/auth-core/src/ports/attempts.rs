//! Email-code attempts.

use super::StoreError;
use crate::attempt::Attempt;
use crate::ids::AttemptId;
use crate::time::Timestamp;
use async_trait::async_trait;

/// Email-code attempts. Guess counting and consumption are atomic: under any number of parallel
/// calls, at most `max_guesses` guesses are handed out per attempt and exactly one `consume` wins.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Stores a new active attempt. If `replaces` names an attempt (a resend: one of the same
    /// address), that attempt is superseded in the same atomic step if it is still active. No
    /// other attempt is touched: several attempts for one address and purpose may be active at
    /// once, so a start from one client never invalidates an attempt that another client holds.
    ///
    /// # Errors
    /// Store failures only.
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError>;

    /// The attempt, in whatever state; `None` if unknown or already purged.
    ///
    /// # Errors
    /// Store failures only.
    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError>;

    /// Atomically takes one guess: if the attempt is active, unexpired at `now` and has evaluated
    /// fewer than `max_guesses`, its guess count goes up by one and the attempt (with the new count)
    /// is returned; otherwise nothing changes and `None` comes back.
    ///
    /// # Errors
    /// Store failures only.
    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError>;

    /// Atomically marks an active, unexpired attempt consumed. `true` for exactly one caller.
    ///
    /// # Errors
    /// Store failures only.
    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError>;
}
