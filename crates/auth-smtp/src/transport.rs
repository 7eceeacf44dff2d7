//! The delivery side: the [`Transport`] trait the queue hands rendered mail to, the mail it hands
//! over, and the choice between the built-in transports.

use crate::config::ConfigError;
use crate::outbox::FileOutbox;
use crate::smtp::{SmtpConfig, SmtpRelay};
use async_trait::async_trait;
use lettre::address::Envelope;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Delivers rendered mail somewhere: a relay, a directory, a test's memory.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Hands over one mail. The queue calls this again after a transient failure, so a mail may
    /// arrive twice if a relay accepted it and the answer was lost; it keeps its Message-ID.
    ///
    /// # Errors
    /// [`DeliveryError::permanent`] when trying again cannot help (the relay refused the
    /// recipient or the message for good); [`DeliveryError::transient`] for everything else.
    async fn deliver(&self, mail: &Outgoing) -> Result<(), DeliveryError>;
}

/// One rendered mail on its way out. `Debug` shows the kind and the masked recipient only.
#[derive(Clone)]
pub struct Outgoing {
    kind: &'static str,
    to_masked: String,
    envelope: Envelope,
    formatted: Vec<u8>,
}

impl Outgoing {
    /// Wraps a formatted message (RFC 5322 bytes) and its SMTP envelope.
    pub fn new(
        kind: &'static str,
        to_masked: String,
        envelope: Envelope,
        formatted: Vec<u8>,
    ) -> Self {
        Self {
            kind,
            to_masked,
            envelope,
            formatted,
        }
    }

    /// The kind of mail, as [`auth_core::mail::Message::kind`] names it: safe to log.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The recipient, masked: safe to log.
    pub fn to_masked(&self) -> &str {
        &self.to_masked
    }

    /// Sender and recipient for SMTP.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The whole message. It holds the code: never log it.
    pub fn formatted(&self) -> &[u8] {
        &self.formatted
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("kind", &self.kind)
            .field("to", &self.to_masked)
            .finish_non_exhaustive()
    }
}

/// A delivery that did not happen. The reason is fit for logs: anything in it that looks like an
/// email address (relays like to quote the recipient) is masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DeliveryError {
    permanent: bool,
    reason: String,
}

impl DeliveryError {
    /// A failure that may pass: a relay that is down, busy or slow, a full disk.
    pub fn transient(reason: impl fmt::Display) -> Self {
        Self {
            permanent: false,
            reason: scrub(&reason.to_string()),
        }
    }

    /// A failure that trying again cannot fix.
    pub fn permanent(reason: impl fmt::Display) -> Self {
        Self {
            permanent: true,
            reason: scrub(&reason.to_string()),
        }
    }

    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

/// Masks every word that holds an `@`, so that logs never carry a whole address.
fn scrub(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.split_once('@') {
            Some((local, domain)) => {
                out.extend(local.chars().take(1));
                out.push_str("***@");
                out.push_str(domain);
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() || "<>()[]\"',;:".contains(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Which built-in transport to use.
#[derive(Debug, Clone)]
pub enum TransportConfig {
    /// Write each mail as an `.eml` file into this directory: the zero-setup default.
    Outbox {
        /// The directory; created (mode 0700 on Unix) if missing.
        dir: PathBuf,
    },
    /// Deliver through an SMTP relay.
    Smtp(SmtpConfig),
}

impl TransportConfig {
    /// Builds the transport. No connection is made yet: SMTP connects on the first mail, so a
    /// relay that is down at start does not stop the service.
    ///
    /// # Errors
    /// [`ConfigError`] for settings that cannot work, or when called outside a tokio runtime.
    pub fn build(&self) -> Result<Arc<dyn Transport>, ConfigError> {
        Ok(match self {
            TransportConfig::Outbox { dir } => Arc::new(FileOutbox::new(dir)?),
            TransportConfig::Smtp(config) => Arc::new(SmtpRelay::new(config)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_errors_never_carry_a_whole_address() {
        let e = DeliveryError::permanent(
            "permanent error (550): 5.1.1 <bob.smith@example.com>: recipient rejected",
        );
        assert_eq!(
            e.to_string(),
            "permanent error (550): 5.1.1 <b***@example.com>: recipient rejected"
        );
        assert!(e.is_permanent());
        let t = DeliveryError::transient("network error: connection refused (os error 111)");
        assert_eq!(
            t.to_string(),
            "network error: connection refused (os error 111)"
        );
        assert!(!t.is_permanent());
    }
}
