//! Webhook delivery: a background task that claims due events from the outbox (with a lease, so
//! on several nodes sharing PostgreSQL each event is worked on by one node at a time), posts each
//! to every endpoint that wants it, signed per the Standard Webhooks specification, and settles
//! it once every endpoint answered 2xx; otherwise it schedules a retry with exponential backoff
//! and jitter, keeping the endpoints that already have it. An account's later event waits until
//! its earlier one has left the outbox (the claim's rule), so each endpoint sees an account's
//! events in order. Events older than the retry window are given up and counted. Secrets and
//! URLs never reach the log (endpoints are named `webhooks[i]`).

mod http;
mod sign;

use crate::config::webhooks::{Delivery, Endpoint, RETRY_WINDOW, WebhookConfig};
use auth_core::ports::{Channel, Clock, Outbox, OutboxEntry, SystemClock};
use auth_core::time::Timestamp;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// How many events one round claims at most.
const BATCH: u32 = 32;
/// How often events past their window are given up.
const GIVE_UP_EVERY: Duration = Duration::from_secs(60);

/// Delivery counters, read by `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Deliveries an endpoint accepted (2xx).
    pub delivered: AtomicU64,
    /// Attempts that failed (no answer, or not 2xx).
    pub failed_attempts: AtomicU64,
    /// Events given up after the retry window.
    pub given_up: AtomicU64,
    /// Events in the outbox, as last counted.
    pub pending: AtomicU64,
}

/// The running dispatcher.
pub struct Webhooks {
    stats: Arc<Stats>,
    stop: Arc<(AtomicBool, Notify)>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhooks { .. }")
    }
}

struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    endpoints: Arc<[Endpoint]>,
    delivery: Delivery,
    client: Arc<http::Client>,
    stats: Arc<Stats>,
    stop: Arc<(AtomicBool, Notify)>,
}

impl Webhooks {
    /// Starts the dispatcher on the current Tokio runtime. Without endpoints it only gives up
    /// old events, so the outbox does not grow.
    pub fn start(outbox: Arc<dyn Outbox>, config: &WebhookConfig) -> Self {
        let stats = Arc::new(Stats::default());
        let stop = Arc::new((AtomicBool::new(false), Notify::new()));
        let dispatcher = Dispatcher {
            outbox,
            endpoints: config.endpoints.clone().into(),
            delivery: config.delivery.clone(),
            client: Arc::new(http::Client::default()),
            stats: stats.clone(),
            stop: stop.clone(),
        };
        let task = tokio::spawn(dispatcher.run());
        Self {
            stats,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Stops claiming and waits up to `grace` for the deliveries in flight; what is still in
    /// flight then is dropped and, its lease running out, delivered again later (by this node
    /// after a restart, or by another).
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.0.store(true, Ordering::SeqCst);
        self.stop.1.notify_waiters();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
            tracing::warn!("webhook deliveries still in flight at shutdown were left for later");
        }
    }
}

impl Dispatcher {
    fn stopped(&self) -> bool {
        self.stop.0.load(Ordering::SeqCst)
    }

    /// Waits `d`, or less if shutdown begins.
    async fn pause(&self, d: Duration) {
        let notified = self.stop.1.notified();
        if self.stopped() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = notified => {}
        }
    }

    /// Long enough for one event's requests to every endpoint, one after another, and its
    /// settling: one timeout more than the requests can take.
    fn lease(&self) -> Duration {
        let n = u32::try_from(self.endpoints.len()).unwrap_or(u32::MAX);
        self.delivery.timeout.saturating_mul(n.saturating_add(1))
    }

    async fn run(self) {
        let this = Arc::new(self);
        let mut last_give_up: Option<Timestamp> = None;
        while !this.stopped() {
            let now = SystemClock.now();
            if last_give_up.is_none_or(|t| now >= t.plus(GIVE_UP_EVERY)) {
                last_give_up = Some(now);
                this.give_up(now).await;
            }
            if this.endpoints.is_empty() {
                this.pause(GIVE_UP_EVERY).await;
                continue;
            }
            let claimed = match this
                .outbox
                .claim(Channel::Webhooks, now, this.lease(), BATCH)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim webhook events");
                    this.pause(this.delivery.poll_interval).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                this.pause(this.delivery.poll_interval).await;
                continue;
            }
            let mut deliveries = JoinSet::new();
            for entry in claimed {
                let this = this.clone();
                deliveries.spawn(async move { this.deliver(entry).await });
            }
            // Shutdown lets these finish (within its grace): the round is not cut short here.
            while deliveries.join_next().await.is_some() {}
        }
    }

    async fn give_up(&self, now: Timestamp) {
        match self.outbox.give_up(now.minus(RETRY_WINDOW)).await {
            Ok(0) => {}
            Ok(n) => {
                self.stats.given_up.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(events = n, "webhook events given up after the retry window");
            }
            Err(e) => tracing::warn!(error = %e, "cannot give up old webhook events"),
        }
        if let Ok(n) = self.outbox.pending(Channel::Webhooks).await {
            self.stats.pending.store(n, Ordering::Relaxed);
        }
    }

    /// Posts one event to every endpoint that wants it and does not have it yet, then settles it
    /// or schedules its retry.
    async fn deliver(&self, entry: OutboxEntry) {
        let body = sign::body(&entry);
        let mut done = entry.done.clone();
        let mut failed = false;
        for endpoint in self.endpoints.iter() {
            if !endpoint.wants(&entry.kind) || done.contains(&endpoint.key) {
                continue;
            }
            let sent_at = SystemClock.now();
            let headers = sign::headers(&endpoint.secret, &entry.id, sent_at, &body);
            let answer = self
                .client
                .post(
                    &endpoint.url,
                    &headers,
                    body.as_bytes(),
                    self.delivery.timeout,
                )
                .await;
            match answer {
                Ok(code) if (200..300).contains(&code) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    done.push(endpoint.key.clone());
                }
                Ok(code) => {
                    failed = true;
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(endpoint = %endpoint.name, event = %entry.id, status = code, attempt = entry.attempts, "webhook refused");
                }
                Err(e) => {
                    failed = true;
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(endpoint = %endpoint.name, event = %entry.id, error = %e, attempt = entry.attempts, "webhook not delivered");
                }
            }
        }
        let settled = if failed {
            let at = SystemClock
                .now()
                .plus(self.delivery.backoff(entry.attempts));
            self.outbox.retry(&entry, &done, at).await
        } else {
            self.outbox.settle(&entry).await
        };
        match settled {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(event = %entry.id, "webhook event claimed elsewhere after its lease ran out");
            }
            Err(e) => {
                tracing::warn!(event = %entry.id, error = %e, "cannot settle a webhook event")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatcher(first: u64, max: u64) -> Dispatcher {
        Dispatcher {
            outbox: Arc::new(auth_memory::MemoryStore::new()),
            endpoints: Vec::new().into(),
            delivery: Delivery {
                first_retry: Duration::from_secs(first),
                max_retry: Duration::from_secs(max),
                ..Delivery::default()
            },
            client: Arc::new(http::Client::default()),
            stats: Arc::default(),
            stop: Arc::new((AtomicBool::new(false), Notify::new())),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let d = dispatcher(10, 3600);
        for (attempts, full) in [(1, 10), (2, 20), (3, 40), (10, 3600), (40, 3600)] {
            let wait = d.delivery.backoff(attempts);
            let full = Duration::from_secs(full);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
        }
    }
}
