//! Secrets: the code pepper, the attempt-token key and the signing keys. Each comes from its
//! configured file, or, when none is configured, is generated once into the data directory with
//! owner-only permissions. A configured path is never generated: nodes that each made their own
//! secret would not understand each other's codes and tokens, so a missing one stops the start.

use crate::config::{SecretPath, SecretPaths};
use anyhow::{Context, bail};
use auth_core::ports::{OsRng, Rng};
use auth_jwt::{PublicKey, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Everything secret the service runs on. `Debug` shows none of it.
pub struct Secrets {
    /// The code-hash pepper.
    pub pepper: Vec<u8>,
    /// The attempt-token key.
    pub attempt_key: Vec<u8>,
    /// The key that signs new access tokens.
    pub current: SigningKey,
    /// Keys that still verify tokens signed before a rotation.
    pub older: Vec<PublicKey>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("current_kid", &self.current.kid())
            .finish_non_exhaustive()
    }
}

/// Refuses configured secret paths that do not exist (or a configured key directory without a
/// key), before anything starts, with one line naming the setting and the path.
pub fn check_configured(secrets: &SecretPaths) -> anyhow::Result<()> {
    for source in [&secrets.pepper, &secrets.attempt_key] {
        if let SecretPath::Configured { setting, path } = source
            && !path.exists()
        {
            bail!(
                "{setting} {} does not exist; configured secrets are never generated, so give every node the same file",
                path.display()
            );
        }
    }
    if let SecretPath::Configured { setting, path } = &secrets.signing_keys
        && load_keys(path).map_or(true, |keys| keys.is_empty())
    {
        bail!(
            "{setting} {} holds no signing key; create one with `auth-server keys rotate` and give every node the same directory",
            path.display()
        );
    }
    Ok(())
}

/// Loads every secret, generating the missing ones at their default paths.
pub fn load_or_create(secrets: &SecretPaths) -> anyhow::Result<Secrets> {
    check_configured(secrets)?;
    let pepper = random_secret(&secrets.pepper, "code pepper")?;
    let attempt_key = random_secret(&secrets.attempt_key, "attempt-token key")?;
    let dir = secrets.signing_keys.path();
    let mut keys = load_keys(dir)?;
    if keys.is_empty() && matches!(secrets.signing_keys, SecretPath::Default(_)) {
        let (path, key) = write_new_key(dir)?;
        tracing::info!(kid = key.kid(), path = %path.display(), "generated a signing key");
        keys.push((path, key));
    }
    let (_, current) = keys.pop().context("no signing key")?;
    let older = keys
        .into_iter()
        .map(|(_, k)| k.public_key().clone())
        .collect();
    Ok(Secrets {
        pepper,
        attempt_key,
        current,
        older,
    })
}

/// A base64 secret of at least 32 bytes from its file; generated there if missing, but only at
/// its default path.
fn random_secret(source: &SecretPath, what: &str) -> anyhow::Result<Vec<u8>> {
    let path = match source {
        SecretPath::Configured { setting, path } if !path.exists() => {
            bail!("{setting} {} does not exist", path.display())
        }
        SecretPath::Configured { path, .. } | SecretPath::Default(path) => path,
    };
    if path.exists() {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} at {}", path.display()))?;
        let bytes = STANDARD
            .decode(text.trim())
            .with_context(|| format!("the {what} at {} is not base64", path.display()))?;
        if bytes.len() < 32 {
            bail!(
                "the {what} at {} must hold at least 32 bytes",
                path.display()
            );
        }
        return Ok(bytes);
    }
    let mut bytes = vec![0u8; 32];
    OsRng.fill(&mut bytes);
    write_private(path, STANDARD.encode(&bytes).as_bytes())?;
    tracing::info!(path = %path.display(), "generated the {what}; keep it, and give every node the same one");
    Ok(bytes)
}

/// Signing keys in `dir`, oldest first (file names carry the creation time).
pub fn load_keys(dir: &Path) -> anyhow::Result<Vec<(PathBuf, SigningKey)>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list the signing keys in {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let pem = fs::read_to_string(&p)
                .with_context(|| format!("cannot read the signing key {}", p.display()))?;
            let key = SigningKey::from_pkcs8_pem(&pem)
                .with_context(|| format!("{} is not an Ed25519 PKCS#8 key", p.display()))?;
            Ok((p, key))
        })
        .collect()
}

/// Generates a signing key into `dir`, named so that it sorts after every existing one.
pub fn write_new_key(dir: &Path) -> anyhow::Result<(PathBuf, SigningKey)> {
    let key = SigningKey::generate(&OsRng);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let path = dir.join(format!("signing-{:020}.pem", now.as_millis()));
    let pem = key
        .to_pkcs8_pem()
        .context("cannot encode the signing key")?;
    write_private(&path, pem.as_bytes())?;
    Ok((path, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
