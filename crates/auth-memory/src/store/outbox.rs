//! The outbox of security events: [`Outbox`] on an ordered map, written by
//! [`Accounts::write_event`] under the same lock as the change each event reports.

use super::{Accounts, MemoryStore};
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, Channel, Outbox, OutboxEntry, StoreError};
use auth_core::time::Timestamp;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The outbox: events by position, and the next position.
#[derive(Default)]
pub(super) struct Queue {
    rows: BTreeMap<i64, Row>,
    next: i64,
}

struct Row {
    channel: Channel,
    entry: OutboxEntry,
    due: Timestamp,
    leased_until: Timestamp,
}

impl Accounts {
    /// Writes one event: to the account's activity while the account exists, and to the outbox
    /// if it is a webhook event. Every change that reports an event calls this under the write
    /// lock that makes the change.
    pub(super) fn write_event(&mut self, event: &AuditEvent) {
        if self.users.contains_key(&event.user_id) {
            self.audit
                .entry(event.user_id)
                .or_default()
                .push(event.clone());
        }
        let Some(out) = self.webhook_events.event(event) else {
            return;
        };
        self.outbox.push(
            Channel::Webhooks,
            out.kind,
            event.user_id,
            event.at,
            out.payload,
        );
    }
}

impl Queue {
    fn push(
        &mut self,
        channel: Channel,
        kind: &str,
        user_id: UserId,
        at: Timestamp,
        payload: String,
    ) {
        self.next += 1;
        let seq = self.next;
        self.rows.insert(
            seq,
            Row {
                channel,
                entry: OutboxEntry {
                    seq,
                    // Unique within the process, which is all an in-memory outbox outlives.
                    id: format!("msg_{:x}_{seq}", at.as_millis()),
                    kind: kind.to_owned(),
                    user_id,
                    occurred_at: at,
                    payload,
                    attempts: 0,
                    done: Vec::new(),
                },
                due: at,
                leased_until: Timestamp::from_millis(i64::MIN),
            },
        );
    }
}

/// The row `entry` names, if its claim is still the latest.
fn held<'a>(q: &'a mut Queue, entry: &OutboxEntry) -> Option<&'a mut Row> {
    q.rows
        .get_mut(&entry.seq)
        .filter(|r| r.entry.attempts == entry.attempts)
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn claim(
        &self,
        channel: Channel,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut acc = self.write();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for row in acc.outbox.rows.values_mut() {
            if out.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                break;
            }
            if row.channel != channel {
                continue;
            }
            // Only the oldest event of each account is a candidate.
            if !seen.insert(row.entry.user_id) {
                continue;
            }
            if row.due <= now && row.leased_until <= now {
                row.entry.attempts += 1;
                row.leased_until = now.plus(lease);
                out.push(row.entry.clone());
            }
        }
        Ok(out)
    }

    async fn settle(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        let mut acc = self.write();
        if held(&mut acc.outbox, entry).is_none() {
            return Ok(false);
        }
        acc.outbox.rows.remove(&entry.seq);
        Ok(true)
    }

    async fn retry(
        &self,
        entry: &OutboxEntry,
        done: &[String],
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        let Some(row) = held(&mut acc.outbox, entry) else {
            return Ok(false);
        };
        row.entry.done = done.to_vec();
        row.due = at;
        row.leased_until = Timestamp::from_millis(i64::MIN);
        Ok(true)
    }

    async fn give_up(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut acc = self.write();
        let n = acc.outbox.rows.len();
        acc.outbox.rows.retain(|_, r| r.entry.occurred_at >= before);
        Ok((n - acc.outbox.rows.len()) as u64)
    }

    async fn pending(&self, channel: Channel) -> Result<u64, StoreError> {
        let acc = self.read();
        Ok(acc
            .outbox
            .rows
            .values()
            .filter(|r| r.channel == channel)
            .count() as u64)
    }

    async fn put_notice(
        &self,
        key: &UserId,
        at: Timestamp,
        payload: &str,
    ) -> Result<(), StoreError> {
        self.write()
            .outbox
            .push(Channel::Notices, "notice", *key, at, payload.to_owned());
        Ok(())
    }
}
