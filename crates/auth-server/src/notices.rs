//! Security notice mails through the durable outbox: a [`Mailer`] that spools every notice (sign-in
//! notice, passkey added or removed, account deleted, disabled or enabled by an operator) in the outbox before the request that
//! causes it answers, and a task that renders and hands each to the mail transport, removing it
//! only once the transport accepted it, so a node that crashes loses none (another node, or this
//! one after its restart, sends it once its claim runs out). Codes and the other mails stay on
//! the in-memory queue: they expire in minutes and the person can ask again. So does the notice
//! of an email change, because it carries the secret undo link, which must not be stored in
//! clear: that one notice is lost if the node crashes before the queue sends it.

use crate::config::webhooks::Delivery;
use async_trait::async_trait;
use auth_core::email::EmailAddress;
use auth_core::ids::UserId;
use auth_core::language::Language;
use auth_core::mail::{Mail, Message};
use auth_core::ports::{
    Channel, Clock, MailError, Mailer, OsRng, Outbox, OutboxEntry, SystemClock,
};
use auth_core::time::Timestamp;
use auth_smtp::{Renderer, Transport};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long a claimed notice is held by its node: rendering and one delivery.
const LEASE: Duration = Duration::from_secs(60);
/// Notices sent per round.
const BATCH: u32 = 16;

/// A notice as the outbox keeps it: everything its mail needs, and nothing secret.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    to: String,
    name: Option<String>,
    language: String,
    notice: Notice,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Notice {
    SignIn {
        recovery: bool,
        at: i64,
        device: String,
        ip: Option<String>,
    },
    PasskeyAdded {
        name: String,
        at: i64,
        device: String,
        ip: Option<String>,
    },
    PasskeyRemoved {
        name: String,
        at: i64,
        device: String,
        ip: Option<String>,
    },
    AccountDeleted,
    AccountDisabled,
    AccountEnabled,
    AccountDeletedByOperator,
}

impl Stored {
    /// The stored form of `mail`, if it is a notice that goes through the outbox.
    fn of(mail: &Mail) -> Option<Self> {
        let notice = match &mail.message {
            Message::SignInNotice {
                recovery,
                at,
                device,
                ip,
            } => Notice::SignIn {
                recovery: *recovery,
                at: at.as_millis(),
                device: device.clone(),
                ip: ip.clone(),
            },
            Message::PasskeyAdded {
                name,
                at,
                device,
                ip,
            } => Notice::PasskeyAdded {
                name: name.clone(),
                at: at.as_millis(),
                device: device.clone(),
                ip: ip.clone(),
            },
            Message::PasskeyRemoved {
                name,
                at,
                device,
                ip,
            } => Notice::PasskeyRemoved {
                name: name.clone(),
                at: at.as_millis(),
                device: device.clone(),
                ip: ip.clone(),
            },
            Message::AccountDeleted => Notice::AccountDeleted,
            Message::AccountDisabled => Notice::AccountDisabled,
            Message::AccountEnabled => Notice::AccountEnabled,
            Message::AccountDeletedByOperator => Notice::AccountDeletedByOperator,
            _ => return None,
        };
        Some(Self {
            to: mail.to.as_str().to_owned(),
            name: mail.name.clone(),
            language: mail.language.as_str().to_owned(),
            notice,
        })
    }

    fn into_mail(self) -> Option<Mail> {
        let message = match self.notice {
            Notice::SignIn {
                recovery,
                at,
                device,
                ip,
            } => Message::SignInNotice {
                recovery,
                at: Timestamp::from_millis(at),
                device,
                ip,
            },
            Notice::PasskeyAdded {
                name,
                at,
                device,
                ip,
            } => Message::PasskeyAdded {
                name,
                at: Timestamp::from_millis(at),
                device,
                ip,
            },
            Notice::PasskeyRemoved {
                name,
                at,
                device,
                ip,
            } => Message::PasskeyRemoved {
                name,
                at: Timestamp::from_millis(at),
                device,
                ip,
            },
            Notice::AccountDeleted => Message::AccountDeleted,
            Notice::AccountDisabled => Message::AccountDisabled,
            Notice::AccountEnabled => Message::AccountEnabled,
            Notice::AccountDeletedByOperator => Message::AccountDeletedByOperator,
        };
        Some(Mail {
            to: EmailAddress::parse(&self.to).ok()?,
            name: self.name,
            language: Language::parse(&self.language).ok()?,
            message,
        })
    }
}

/// The [`Mailer`] the service uses: notices to the outbox, everything else to `queue`.
pub struct DurableNotices {
    outbox: Arc<dyn Outbox>,
    queue: Arc<dyn Mailer>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for DurableNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DurableNotices { .. }")
    }
}

#[async_trait]
impl Mailer for DurableNotices {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let Some(stored) = Stored::of(&mail) else {
            return self.queue.send(mail).await;
        };
        let payload = match serde_json::to_string(&stored) {
            Ok(p) => p,
            Err(_) => return self.queue.send(mail).await,
        };
        // Notices need no order among themselves: each gets a key of its own.
        let key = UserId::random(&OsRng);
        match self
            .outbox
            .put_notice(&key, SystemClock.now(), &payload)
            .await
        {
            Ok(()) => {
                self.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                // Better sent from memory than not at all.
                tracing::warn!(error = %e, mail = mail.message.kind(), "notice not spooled; queued in memory");
                self.queue.send(mail).await
            }
        }
    }
}

/// The sender task and the mailer in front of it.
pub struct Notices {
    mailer: Arc<DurableNotices>,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notices { .. }")
    }
}

struct Sender {
    outbox: Arc<dyn Outbox>,
    renderer: Renderer,
    transport: Arc<dyn Transport>,
    delivery: Delivery,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Notices {
    /// Starts the sender on the current Tokio runtime; the mailer in front of `queue` is
    /// [`Notices::mailer`].
    pub fn start(
        outbox: Arc<dyn Outbox>,
        queue: Arc<dyn Mailer>,
        renderer: Renderer,
        transport: Arc<dyn Transport>,
        delivery: Delivery,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let sender = Sender {
            outbox: outbox.clone(),
            renderer,
            transport,
            delivery,
            stop: stop.clone(),
            wake: wake.clone(),
        };
        let task = tokio::spawn(sender.run());
        Self {
            mailer: Arc::new(DurableNotices {
                outbox,
                queue,
                wake: wake.clone(),
            }),
            stop,
            wake,
            task: Mutex::new(Some(task)),
        }
    }

    /// The mailer for the service.
    pub fn mailer(&self) -> Arc<DurableNotices> {
        self.mailer.clone()
    }

    /// Stops the sender, waiting up to `grace` for the notices it is sending; the rest stay in
    /// the outbox for the next start (or another node).
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Sender {
    async fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let now = SystemClock.now();
            let claimed = self
                .outbox
                .claim(Channel::Notices, now, LEASE, BATCH)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot claim notices");
                    Vec::new()
                });
            if claimed.is_empty() {
                // A new notice wakes the sender at once; the poll finds those of other nodes.
                let _ =
                    tokio::time::timeout(self.delivery.poll_interval, self.wake.notified()).await;
                continue;
            }
            for entry in claimed {
                self.send(entry).await;
            }
        }
    }

    async fn send(&self, entry: OutboxEntry) {
        let mail = serde_json::from_str::<Stored>(&entry.payload)
            .ok()
            .and_then(Stored::into_mail);
        let Some(mail) = mail else {
            tracing::error!(notice = %entry.id, "a spooled notice cannot be read; dropped");
            let _ = self.outbox.settle(&entry).await;
            return;
        };
        let outcome = match self.renderer.build(&mail) {
            Ok(outgoing) => self.transport.deliver(&outgoing).await,
            Err(e) => {
                tracing::error!(notice = %entry.id, error = %e, "a notice cannot be rendered; dropped");
                let _ = self.outbox.settle(&entry).await;
                return;
            }
        };
        let settled = match outcome {
            Ok(()) => self.outbox.settle(&entry).await,
            Err(e) if e.is_permanent() => {
                tracing::warn!(notice = %entry.id, mail = mail.message.kind(), error = %e, "notice refused for good");
                self.outbox.settle(&entry).await
            }
            Err(e) => {
                tracing::info!(notice = %entry.id, mail = mail.message.kind(), error = %e, attempt = entry.attempts, "notice not delivered; retrying");
                let at = SystemClock
                    .now()
                    .plus(self.delivery.backoff(entry.attempts));
                self.outbox.retry(&entry, &[], at).await
            }
        };
        if let Err(e) = settled {
            tracing::warn!(notice = %entry.id, error = %e, "cannot settle a notice");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spooled_notice_comes_back_as_the_same_mail_and_secrets_are_never_spooled() {
        let to = EmailAddress::parse("owner@example.com").unwrap();
        let at = Timestamp::from_millis(1_800_000_000_000);
        let notices = [
            Message::SignInNotice {
                recovery: true,
                at,
                device: "Firefox on Linux".into(),
                ip: Some("192.0.2.1".into()),
            },
            Message::PasskeyAdded {
                name: "Laptop".into(),
                at,
                device: "Safari".into(),
                ip: None,
            },
            Message::PasskeyRemoved {
                name: "Phone".into(),
                at,
                device: "Chrome".into(),
                ip: None,
            },
            Message::AccountDeleted,
        ];
        for message in notices {
            let mail = Mail {
                to: to.clone(),
                name: Some("Owner".into()),
                language: Language::parse("de").unwrap(),
                message,
            };
            let json = serde_json::to_string(&Stored::of(&mail).unwrap()).unwrap();
            let back = serde_json::from_str::<Stored>(&json).unwrap().into_mail();
            assert_eq!(back, Some(mail));
        }
        let undo = Mail {
            to,
            name: None,
            language: Language::parse("en").unwrap(),
            message: Message::EmailChanged {
                new_address_masked: "n***@example.com".into(),
                revert_token: auth_core::revert::RevertToken::generate(&OsRng),
                valid_hours: 72,
            },
        };
        assert!(
            Stored::of(&undo).is_none(),
            "the undo link stays off the outbox"
        );
    }
}
