//! `server.admin_bind` and `[[admin.tokens]]`: the admin API's own listener (off unless set) and
//! the bearer tokens that may call it, each read from a file. Checked once at start: a missing
//! or empty token file stops `serve` and `check-config` with one line naming it.

use anyhow::{Context, bail};
use auth_core::service::AdminTokens;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `[admin]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// `[[admin.tokens]]`.
    pub tokens: Vec<AdminTokenSettings>,
}

/// One `[[admin.tokens]]` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminTokenSettings {
    /// Names the operator in the audit trail (`by token <id>`).
    pub id: String,
    /// The file that holds the token.
    pub file: PathBuf,
}

/// The checked admin settings.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// Where the admin API listens; `None`: it is off.
    pub bind: Option<SocketAddr>,
    /// The tokens, hashed.
    pub tokens: AdminTokens,
}

impl AdminSettings {
    /// Reads every token file and parses the listener (`server.admin_bind`, the `bind` given).
    ///
    /// # Errors
    /// One line naming the setting: a bad address, a token without an id or a file, two tokens
    /// with one id, a token file that is missing or empty, or a listener without tokens.
    pub fn check(&self, bind: Option<&str>) -> anyhow::Result<AdminConfig> {
        let bind = bind
            .map(|b| {
                super::checked::parse_listen(b)
                    .with_context(|| format!("server.admin_bind: `{b}` is not an address and port"))
            })
            .transpose()?;
        let mut ids = BTreeSet::new();
        let mut tokens = Vec::new();
        for t in &self.tokens {
            if t.id.trim().is_empty() || t.id.chars().any(char::is_control) {
                bail!("admin.tokens: every token needs an id");
            }
            if !ids.insert(t.id.as_str()) {
                bail!("admin.tokens: the id {} is used twice", t.id);
            }
            let text = std::fs::read_to_string(&t.file).map_err(|e| {
                anyhow::anyhow!(
                    "admin.tokens {}: cannot read the token file {}: {e}",
                    t.id,
                    t.file.display()
                )
            })?;
            let token = text.trim_end_matches(['\r', '\n']);
            if token.trim().is_empty() {
                bail!(
                    "admin.tokens {}: the token file {} is empty",
                    t.id,
                    t.file.display()
                );
            }
            tokens.push((t.id.clone(), token.to_owned()));
        }
        if bind.is_some() && tokens.is_empty() {
            bail!("server.admin_bind is set, but [[admin.tokens]] names no token");
        }
        Ok(AdminConfig {
            bind,
            tokens: AdminTokens::new(tokens.iter().map(|(id, t)| (id.as_str(), t.as_str()))),
        })
    }
}
