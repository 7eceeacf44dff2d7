//! The file outbox: every mail becomes an `.eml` file in a directory. The zero-setup default for
//! one machine and development; any mail client opens the files.

use crate::config::ConfigError;
use crate::transport::{DeliveryError, Outgoing, Transport};
use async_trait::async_trait;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};
use std::fmt;
use std::path::{Path, PathBuf};

/// Writes each mail to `{dir}/{uuid}.eml` through lettre's file transport.
#[derive(Clone)]
pub struct FileOutbox {
    dir: PathBuf,
    inner: AsyncFileTransport<Tokio1Executor>,
}

impl FileOutbox {
    /// An outbox in `dir`, created if missing. The files hold codes, so a new directory is
    /// readable by its owner only (on Unix).
    ///
    /// # Errors
    /// [`ConfigError::Outbox`] if the directory cannot be created.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let dir = dir.as_ref().to_path_buf();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(ConfigError::Outbox)?;
        Ok(Self {
            inner: AsyncFileTransport::new(&dir),
            dir,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Transport for FileOutbox {
    async fn deliver(&self, mail: &Outgoing) -> Result<(), DeliveryError> {
        let id = self
            .inner
            .send_raw(mail.envelope(), mail.formatted())
            .await
            .map_err(|e| {
                DeliveryError::transient(format!("the outbox cannot write the mail: {e}"))
            })?;
        let file = format!("{id}.eml");
        tracing::info!(mail = mail.kind(), to = mail.to_masked(), file = %file, "mail written to the outbox");
        Ok(())
    }
}

impl fmt::Debug for FileOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileOutbox")
            .field("dir", &self.dir)
            .finish()
    }
}
