//! In-process adapters for every port of `auth-core`.
//!
//! [`MemoryStore`] keeps users, sessions, attempts, rate limits and audit events in memory; it is
//! the embedded default for ephemeral state (attempts, rate limits) and the fast test double for
//! the rest. [`MemoryMailer`] records mail instead of sending it. Locks are sharded or held only
//! for a few map operations, never across an `.await`.
#![warn(missing_docs)]

mod mailer;
mod store;

pub use mailer::MemoryMailer;
pub use store::{DEFAULT_CEREMONY_CAPACITY, MemoryStore};
