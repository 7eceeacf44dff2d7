//! Outgoing mail.

use crate::mail::Mail;
use async_trait::async_trait;

/// Outgoing mail. Implementations queue and return at once: a slow or dead relay must never slow
/// or fail the request that caused the mail.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Queues one message.
    ///
    /// # Errors
    /// [`MailError::QueueFull`] when the queue cannot take it; callers log and carry on.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// Mail that could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The queue is full or closed.
    #[error("the mail queue is full")]
    QueueFull,
}
