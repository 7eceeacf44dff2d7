//! The outbox of security events: written by the stores with the change each event reports
//! (see [`crate::outbox::outbox_event`]), read, claimed and settled by a dispatcher that delivers
//! them (webhooks), on any number of nodes at once.

use super::StoreError;
use crate::ids::UserId;
use crate::time::Timestamp;
use async_trait::async_trait;
use std::time::Duration;

/// One event waiting in the outbox, as a claim hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The position in the outbox: later events have higher numbers.
    pub seq: i64,
    /// The event's stable id (`msg_...`): the same on every attempt, so receivers can drop
    /// duplicates.
    pub id: String,
    /// The event type (one of [`crate::outbox::EVENT_TYPES`]).
    pub kind: String,
    /// The account it is about (which may no longer exist).
    pub user_id: UserId,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The event's data, a JSON object.
    pub payload: String,
    /// How many times it has been claimed, this claim included. Also the claim's fencing token:
    /// [`Outbox::settle`] and [`Outbox::retry`] act only while it is still the latest claim.
    pub attempts: u32,
    /// The destinations that already have it (names the dispatcher chose), kept across retries.
    pub done: Vec<String>,
}

/// What an outbox row is delivered to. The channels never wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Security events for webhooks, written by the stores with their change.
    Webhooks,
    /// Security notice mails, spooled before the request that causes them answers.
    Notices,
}

impl Channel {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Webhooks => "webhook",
            Channel::Notices => "notice",
        }
    }
}

/// The durable outbox.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims at most `limit` events of `channel` that are due at `now` (never claimed, or their retry time
    /// has come) and not held by another claim whose lease runs past `now`, oldest first, and
    /// holds them until `now + lease`: each claim adds one to `attempts`. An event is claimable
    /// only while no earlier event of the same account and channel is still in the outbox, so an account's
    /// events come out one at a time, in order. Parallel claimers (other nodes) never get the
    /// same event while its lease runs.
    ///
    /// # Errors
    /// Store failures only.
    async fn claim(
        &self,
        channel: Channel,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The claimed event was delivered everywhere: it leaves the outbox. `false`, with nothing
    /// changed, if the claim is no longer the latest (its lease ran out and another claimer took
    /// the event) or the event is gone.
    ///
    /// # Errors
    /// Store failures only.
    async fn settle(&self, entry: &OutboxEntry) -> Result<bool, StoreError>;

    /// The claimed event failed somewhere: it is released and becomes due again at `at`, with
    /// `done` as the destinations that have it. `false`, with nothing changed, as for
    /// [`Outbox::settle`].
    ///
    /// # Errors
    /// Store failures only.
    async fn retry(
        &self,
        entry: &OutboxEntry,
        done: &[String],
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives up the events that occurred before `before` (the end of their retry window) and
    /// removes them, claimed or not; returns how many.
    ///
    /// # Errors
    /// Store failures only.
    async fn give_up(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// How many events of `channel` are in the outbox.
    ///
    /// # Errors
    /// Store failures only.
    async fn pending(&self, channel: Channel) -> Result<u64, StoreError>;

    /// Spools one notice mail (`payload`, opaque to the store) on [`Channel::Notices`], due at
    /// `at`. `key` takes the place of the account: notices with different keys never wait for
    /// each other. Its `kind` is `notice`.
    ///
    /// # Errors
    /// Store failures only.
    async fn put_notice(
        &self,
        key: &UserId,
        at: Timestamp,
        payload: &str,
    ) -> Result<(), StoreError>;
}
