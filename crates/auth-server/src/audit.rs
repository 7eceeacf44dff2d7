//! The audit trail behind a bounded queue for the events that must stay off the request path
//! ([`AuditLog::record_later`], e.g. a wrong code for an account: a synced write there would make
//! it slower than a wrong code for an address without an account). One background task drains
//! the queue into the store; a full queue drops the event with a warning rather than slow a
//! request; shutdown drains what is queued. Every other event is written at once, as before;
//! a sign-in's event does not pass through here at all: the session store writes it in the same
//! statement (or transaction) as the session it opens, so a session never exists without it, and
//! the sign-in costs no write of its own. Queueing it instead would save nothing on the request
//! and could lose it (a full queue drops events) while the session lives.

use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the writer waits after the first event of a batch before it writes.
const FLUSH_DELAY: Duration = Duration::from_millis(200);

/// An [`AuditLog`] whose `record_later` queues.
pub struct QueuedAudit {
    store: Arc<dyn AuditLog>,
    /// `None` once shutdown began: later events are written at once instead.
    tx: Mutex<Option<mpsc::Sender<AuditEvent>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for QueuedAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueuedAudit { .. }")
    }
}

impl QueuedAudit {
    /// Wraps `store` with a queue of `capacity` events and starts its writer on the current
    /// Tokio runtime.
    pub fn start(store: Arc<dyn AuditLog>, capacity: usize) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(capacity.max(1));
        let target = store.clone();
        let writer = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Writing at once would spend CPU and disk right beside the request that queued
                // the event, and so still slow it down a little on a busy machine. A pause
                // unties the write from that request; whatever queued meanwhile goes with it.
                tokio::time::sleep(FLUSH_DELAY).await;
                let mut batch = vec![first];
                while let Ok(event) = rx.try_recv() {
                    batch.push(event);
                }
                for event in batch {
                    if let Err(e) = target.record(&event).await {
                        tracing::warn!(kind = event.kind.as_str(), error = %e, "queued audit event not recorded");
                    }
                }
            }
        });
        Arc::new(Self {
            store,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Stops taking events into the queue and waits up to `limit` for the writer to store the
    /// ones already queued; `Err` if it did not finish in time.
    pub async fn shutdown(&self, limit: Duration) -> Result<(), tokio::time::error::Elapsed> {
        drop(
            self.tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match writer {
            Some(w) => tokio::time::timeout(limit, w).await.map(drop),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl AuditLog for QueuedAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.store.record(event).await
    }

    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.store.recent(user, limit).await
    }

    async fn record_later(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match tx {
            Some(tx) => {
                if tx.try_send(event.clone()).is_err() {
                    tracing::warn!(
                        kind = event.kind.as_str(),
                        "audit queue full; event dropped"
                    );
                }
                Ok(())
            }
            None => self.store.record(event).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::audit::AuditKind;
    use auth_core::ports::{OsRng, UserRepository};
    use auth_core::session::RefreshToken;
    use auth_core::testkit::{sample_session, sample_user, signed_up_event};
    use auth_memory::MemoryStore;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store whose writes wait until they are let through.
    struct Gate {
        inner: MemoryStore,
        open: AtomicBool,
    }

    #[async_trait]
    impl AuditLog for Gate {
        async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
            while !self.open.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.inner.record(event).await
        }

        async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
            self.inner.recent(user, limit).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn record_later_returns_before_the_write_and_shutdown_drains_the_queue() {
        let inner = MemoryStore::new();
        let user = sample_user("queued");
        let session = sample_session(user.id, user.created_at);
        inner
            .create(
                &user,
                &session,
                &RefreshToken::generate(&OsRng).hash(),
                &signed_up_event(&user),
            )
            .await
            .unwrap();
        let gate = Arc::new(Gate {
            inner: inner.clone(),
            open: AtomicBool::new(false),
        });
        let audit = QueuedAudit::start(gate.clone(), 16);
        let event = |kind| AuditEvent {
            user_id: user.id,
            at: user.created_at,
            kind,
            ip: None,
            detail: None,
        };
        // The store is blocked, yet queuing answers at once.
        tokio::time::timeout(
            Duration::from_millis(200),
            audit.record_later(&event(AuditKind::CodeRejected)),
        )
        .await
        .expect("record_later does not wait for the store")
        .unwrap();
        assert_eq!(
            inner.recent(&user.id, 10).await.unwrap(),
            [signed_up_event(&user)],
            "nothing is written while the store is blocked (the sign-up event came with the account)"
        );
        gate.open.store(true, Ordering::SeqCst);
        audit.shutdown(Duration::from_secs(5)).await.unwrap();
        let kinds: Vec<_> = inner
            .recent(&user.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [AuditKind::CodeRejected, AuditKind::SignedUp],
            "shutdown drains the queue"
        );
        // After shutdown, events are written at once.
        audit
            .record_later(&event(AuditKind::SignedIn))
            .await
            .unwrap();
        assert_eq!(inner.recent(&user.id, 10).await.unwrap().len(), 3);
    }
}
