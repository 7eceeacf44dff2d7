//! [`MailQueue`], the production [`Mailer`]: `send` only puts the mail into a bounded channel; a
//! worker renders it and delivers it through a [`Transport`], retrying with exponential backoff.
//!
//! Nothing `send` does waits on the transport, so a slow or dead relay can fill the queue (and
//! then `send` answers [`MailError::QueueFull`] at once) but never slows a request.

use crate::config::ConfigError;
use crate::render::Renderer;
use crate::transport::{DeliveryError, Transport};
use async_trait::async_trait;
use auth_core::mail::Mail;
use auth_core::ports::{MailError, Mailer};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How the queue holds and retries mail.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Mails waiting for a worker before `send` answers `QueueFull`. Default 1024.
    pub capacity: usize,
    /// Mails delivered at the same time. Default 8, as many as [`crate::SmtpConfig`] opens
    /// connections by default: with fewer, some connections would sit unused.
    pub concurrency: usize,
    /// Delivery attempts per mail, the first included. Default 8.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each retry. Default 1 second.
    pub base_delay: Duration,
    /// The longest wait between two attempts. Default 60 seconds.
    pub max_delay: Duration,
    /// The longest one attempt may take before it counts as a transient failure. Default 60 seconds.
    pub attempt_timeout: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            capacity: 1024,
            concurrency: 8,
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// A snapshot of the queue's counters, for metrics. All but `depth` only ever grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailStats {
    /// Mails accepted by `send`.
    pub queued: u64,
    /// Mails `send` turned away because the queue was full or shut down.
    pub rejected: u64,
    /// Mails the transport accepted.
    pub sent: u64,
    /// Mails given up on: a permanent failure, no attempts left, or a mail that cannot be built.
    pub failed: u64,
    /// Attempts that failed and were tried again.
    pub retries: u64,
    /// Mails accepted and not yet sent or given up on (waiting or being delivered).
    pub depth: u64,
}

/// Shutdown ran out of time; the mails still pending were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the mail queue did not drain in time: {undelivered} mails were dropped")]
pub struct ShutdownTimedOut {
    /// Mails accepted and not delivered.
    pub undelivered: u64,
}

/// The production [`Mailer`]. Cheap to clone: clones share one queue and one worker.
#[derive(Clone)]
pub struct MailQueue {
    shared: Arc<Shared>,
}

struct Shared {
    tx: mpsc::Sender<Mail>,
    closed: AtomicBool,
    stop: watch::Sender<bool>,
    worker: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    transport: Arc<dyn Transport>,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    rejected: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    depth: AtomicU64,
}

/// What each delivery task needs.
struct Context {
    renderer: Renderer,
    transport: Arc<dyn Transport>,
    counters: Arc<Counters>,
    config: QueueConfig,
}

impl MailQueue {
    /// Starts the worker on the current tokio runtime.
    ///
    /// # Errors
    /// [`ConfigError::Queue`] for a zero capacity, concurrency or attempt count, or a maximum
    /// delay below the base delay; [`ConfigError::NoRuntime`] outside a tokio runtime.
    pub fn start(
        renderer: Renderer,
        transport: Arc<dyn Transport>,
        config: QueueConfig,
    ) -> Result<Self, ConfigError> {
        if config.capacity == 0 {
            return Err(ConfigError::Queue("the capacity must be at least 1"));
        }
        if config.concurrency == 0 {
            return Err(ConfigError::Queue("the concurrency must be at least 1"));
        }
        if config.max_attempts == 0 {
            return Err(ConfigError::Queue("at least one attempt is needed"));
        }
        if config.max_delay < config.base_delay {
            return Err(ConfigError::Queue(
                "the maximum delay must not be below the base delay",
            ));
        }
        if config.attempt_timeout.is_zero() {
            return Err(ConfigError::Queue(
                "the attempt timeout must be longer than zero",
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(config.capacity);
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let context = Arc::new(Context {
            renderer,
            transport: Arc::clone(&transport),
            counters: Arc::clone(&counters),
            config,
        });
        let worker = runtime.spawn(run(rx, stop_rx, context));
        let shared = Shared {
            tx,
            closed: AtomicBool::new(false),
            stop,
            worker: Mutex::new(Some(worker)),
            counters,
            transport,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The counters as they are now.
    pub fn stats(&self) -> MailStats {
        let c = &self.shared.counters;
        MailStats {
            queued: c.queued.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            depth: c.depth.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting mail (`send` answers `QueueFull` from now on), delivers what is queued and
    /// in flight, and returns once that is done or `timeout` has passed, whichever comes first.
    /// Retries go on during the drain, within the timeout. The first call drains; later calls
    /// return at once.
    ///
    /// # Errors
    /// [`ShutdownTimedOut`] with the number of mails dropped when the timeout ran out.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.stop.send_replace(true);
        let worker = self
            .shared
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut worker) = worker else {
            return Ok(());
        };
        match tokio::time::timeout(timeout, &mut worker).await {
            Ok(Ok(())) => {
                tracing::info!("mail queue drained");
                Ok(())
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the mail queue worker ended abnormally");
                Err(ShutdownTimedOut {
                    undelivered: self.shared.counters.depth.load(Ordering::SeqCst),
                })
            }
            Err(_) => {
                let undelivered = self.shared.counters.depth.load(Ordering::SeqCst);
                // Aborting the worker drops its task set, which aborts every delivery in flight.
                worker.abort();
                tracing::warn!(
                    undelivered,
                    "mail queue shutdown timed out; pending mail dropped"
                );
                Err(ShutdownTimedOut { undelivered })
            }
        }
    }
}

#[async_trait]
impl Mailer for MailQueue {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let c = &self.shared.counters;
        if self.shared.closed.load(Ordering::SeqCst) {
            c.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(MailError::QueueFull);
        }
        // Counted before the mail is in the channel, so the worker can never take it below zero.
        c.depth.fetch_add(1, Ordering::SeqCst);
        match self.shared.tx.try_send(mail) {
            Ok(()) => {
                c.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                c.depth.fetch_sub(1, Ordering::SeqCst);
                c.rejected.fetch_add(1, Ordering::Relaxed);
                Err(MailError::QueueFull)
            }
        }
    }
}

impl fmt::Debug for MailQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailQueue")
            .field("transport", &self.shared.transport)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The worker: takes mail while there is a free delivery slot, until told to stop or every sender
/// is gone; then takes in what is left in the channel and waits for every delivery to end.
async fn run(mut rx: mpsc::Receiver<Mail>, mut stop: watch::Receiver<bool>, context: Arc<Context>) {
    let slots = Arc::new(Semaphore::new(context.config.concurrency));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let mail = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            mail = rx.recv() => mail,
        };
        let Some(mail) = mail else { break };
        tasks.spawn(deliver(Arc::clone(&context), mail, slot));
    }
    rx.close();
    while let Some(mail) = rx.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        tasks.spawn(deliver(Arc::clone(&context), mail, slot));
    }
    while tasks.join_next().await.is_some() {}
}

/// Lowers the depth when a delivery ends, however it ends.
struct Pending(Arc<Counters>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn deliver(context: Arc<Context>, mail: Mail, _slot: tokio::sync::OwnedSemaphorePermit) {
    let _pending = Pending(Arc::clone(&context.counters));
    let counters = &context.counters;
    let kind = mail.message.kind();
    let to = mail.to.masked();
    let outgoing = match context.renderer.build(&mail) {
        Ok(outgoing) => outgoing,
        Err(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(mail = kind, to = %to, error = %e, "mail cannot be built; dropped");
            return;
        }
    };
    drop(mail);
    let config = &context.config;
    let mut attempt = 1;
    loop {
        let result = match tokio::time::timeout(
            config.attempt_timeout,
            context.transport.deliver(&outgoing),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::transient("the delivery attempt timed out")),
        };
        match result {
            Ok(()) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(mail = kind, to = %to, attempt, "mail delivered");
                return;
            }
            Err(e) if e.is_permanent() || attempt >= config.max_attempts => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(mail = kind, to = %to, attempts = attempt, error = %e, "mail delivery failed for good");
                return;
            }
            Err(e) => {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                let wait = backoff(config.base_delay, config.max_delay, attempt);
                tracing::warn!(
                    mail = kind,
                    to = %to,
                    attempt,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    error = %e,
                    "mail delivery failed; will retry"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`, capped at `max`,
/// then drawn from its upper half so that mails that failed together do not retry together.
fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let capped = base.saturating_mul(factor).min(max);
    let half = capped / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=spread))
}

#[cfg(test)]
mod tests;
