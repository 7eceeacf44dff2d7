//! A mailer that keeps what it is given, for tests and for embedding without mail.

use async_trait::async_trait;
use auth_core::mail::Mail;
use auth_core::ports::{MailError, Mailer};
use std::sync::Mutex;

/// Records every mail in order; [`MemoryMailer::take`] hands them over.
#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Mail>>,
}

impl MemoryMailer {
    /// An empty mailer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns everything sent so far.
    pub fn take(&self) -> Vec<Mail> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(mail);
        Ok(())
    }
}
