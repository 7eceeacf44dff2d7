//! Outgoing mail for the passwordless auth service: the `Mailer` port implemented on lettre.
//!
//! - [`Renderer`] turns each [`auth_core::mail::Message`] into a multipart/alternative mail
//!   (plain text and HTML) from the templates in `templates/`, with links built only from the
//!   configured public URL ([`MailConfig`]).
//! - [`MailQueue`] is the [`auth_core::ports::Mailer`]: `send` never waits for delivery; a worker
//!   delivers with retries and exponential backoff, counts what happens ([`MailStats`]) and
//!   drains on [`MailQueue::shutdown`].
//! - Transports: [`FileOutbox`] writes `.eml` files (the zero-setup default) and [`SmtpRelay`]
//!   speaks SMTP over a few reused connections (with `TCP_NODELAY`, TLS by rustls);
//!   [`TransportConfig`] picks one.
//!   Anything else implements [`Transport`].
//!
//! Wiring, inside a tokio runtime:
//!
//! ```no_run
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_smtp::{MailConfig, MailQueue, QueueConfig, Renderer, SmtpConfig, TransportConfig};
//! use std::{sync::Arc, time::Duration};
//!
//! let renderer = Renderer::new(MailConfig::new("Example <no-reply@example.com>", "https://auth.example.com", "Example")?);
//! let transport = TransportConfig::Smtp(SmtpConfig::new("smtp://127.0.0.1:25")).build()?;
//! let queue = MailQueue::start(renderer, transport, QueueConfig::default())?;
//! let mailer: Arc<dyn auth_core::ports::Mailer> = Arc::new(queue.clone());
//! // ... serve, with `mailer` in the ports ...
//! queue.shutdown(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod config;
mod outbox;
mod queue;
mod render;
mod smtp;
mod template;
mod transport;

pub use config::{Branding, ConfigError, MailConfig};
pub use outbox::FileOutbox;
pub use queue::{MailQueue, MailStats, QueueConfig, ShutdownTimedOut};
pub use render::{RenderError, Rendered, Renderer};
pub use smtp::{SmtpConfig, SmtpPassword, SmtpRelay};
pub use transport::{DeliveryError, Outgoing, Transport, TransportConfig};
