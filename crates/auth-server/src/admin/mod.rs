//! Administration: the operator's commands (`cli`) on whichever store is configured, through the
//! same use cases as the admin API. This room wires what they need: the durable store, the
//! service, and a mail queue that is drained before the command exits.

pub mod cli;

use crate::app::{Database, ensure_data_dir, mail_transport, stores};
use crate::config::Config;
use crate::secrets;
use anyhow::Context;
use auth_core::AuthService;
use auth_core::ports::{OsRng, SystemClock, UserDirectory};
use auth_core::service::Ports;
use auth_jwt::JwtIssuer;
use auth_smtp::{MailQueue, QueueConfig};
use auth_webauthn::WebAuthnAdapter;
use std::sync::Arc;
use std::time::Duration;

/// What an operator's command works with.
pub(crate) struct Operations {
    pub(crate) service: Arc<AuthService>,
    pub(crate) directory: Arc<dyn UserDirectory>,
    mailer: Arc<MailQueue>,
    database: Database,
}

/// Why the commands could not start.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The database cannot be reached or opened.
    Store(anyhow::Error),
    /// Anything else (secrets, mail transport).
    Other(anyhow::Error),
}

impl Operations {
    /// Opens the configured store (applying migrations if the settings say so) and builds the
    /// service on it, with the configured mail transport.
    pub(crate) async fn open(config: &Config) -> Result<Self, OpenError> {
        let other = OpenError::Other;
        ensure_data_dir(&config.data_dir).map_err(other)?;
        let transport = mail_transport(config)
            .and_then(|t| t.build().context("invalid mail transport"))
            .map_err(other)?;
        let mailer = Arc::new(
            MailQueue::start(
                config.mail.ui.renderer.clone(),
                transport,
                QueueConfig::default(),
            )
            .context("cannot start the mail queue")
            .map_err(other)?,
        );
        let stores = stores(config).await.map_err(OpenError::Store)?;
        let secrets = secrets::load_or_create(&config.secrets).map_err(other)?;
        let tokens = JwtIssuer::new(
            &config.issuer,
            &config.audience,
            secrets.current,
            secrets.older,
            &secrets.attempt_key,
        )
        .context("invalid token settings")
        .map_err(other)?;
        let webauthn = WebAuthnAdapter::new(config.relying_party.clone())
            .context("invalid WebAuthn settings")
            .map_err(other)?;
        let ports = Ports {
            users: stores.users,
            sessions: stores.sessions,
            audit: stores.audit,
            passkeys: stores.passkeys,
            reverts: stores.reverts,
            attempts: stores.attempts,
            limiter: stores.limiter,
            gate: stores.gate,
            ceremonies: stores.ceremonies,
            webauthn: Arc::new(webauthn),
            mailer: mailer.clone(),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRng),
        };
        let service = AuthService::new(ports, config.policy.clone(), &secrets.pepper)
            .context("invalid policy")
            .map_err(other)?;
        Ok(Self {
            service: Arc::new(service),
            directory: stores.directory,
            mailer,
            database: stores.database,
        })
    }

    /// Waits for the queued mail to be delivered, then closes the store.
    pub(crate) async fn close(self) -> bool {
        let delivered = self.mailer.shutdown(Duration::from_secs(30)).await.is_ok();
        self.database.close().await;
        delivered
    }
}
