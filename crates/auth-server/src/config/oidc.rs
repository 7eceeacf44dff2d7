//! `[oidc]`: the relying parties that may sign their users in through us, and the RSA key of
//! RS256 ID tokens. Checked once at start: a client that cannot be used stops `serve` and
//! `check-config` with one line naming it.

use anyhow::{Context, bail};
use auth_core::oidc::{
    ClientId, ClientKind, ClientSecretHash, IdTokenAlg, OidcClient, RedirectUri, Registry, Scopes,
};
use auth_jwt::RsaSigningKey;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// `[oidc]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// `[[oidc.clients]]`.
    pub clients: Vec<ClientSettings>,
    /// A PKCS#8 RSA private key (PEM or DER, at least 2048 bits) for clients that want RS256.
    pub rsa_key_file: Option<PathBuf>,
}

/// One `[[oidc.clients]]` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// `client_id`.
    pub id: String,
    /// Shown on the consent screen.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// A confidential client's secret (at least 32 bytes), read from this file.
    pub secret_file: Option<PathBuf>,
    /// Our own app: no consent screen.
    pub first_party: bool,
    /// Allowed scopes (default: `openid profile email`).
    pub scopes: Option<Vec<String>>,
    /// `EdDSA` (default) or `RS256`.
    pub id_token_signed_response_alg: Option<String>,
}

/// The checked `[oidc]` settings.
#[derive(Clone, Default)]
pub struct OidcConfig {
    /// The clients.
    pub registry: Registry,
    /// The RS256 key, if configured.
    pub rsa: Option<Arc<RsaSigningKey>>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field(
                "clients",
                &self
                    .registry
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("rsa", &self.rsa.as_ref().map(|k| k.kid().to_owned()))
            .finish()
    }
}

impl ClientSettings {
    fn client(&self) -> anyhow::Result<OidcClient> {
        let id = ClientId::parse(&self.id)?;
        let uris = |list: &[String]| {
            list.iter()
                .map(|u| RedirectUri::parse(u))
                .collect::<Result<Vec<_>, _>>()
        };
        let kind = match (self.public, &self.secret_file) {
            (true, None) => ClientKind::Public,
            (false, Some(file)) => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read secret_file {}", file.display()))?;
                ClientKind::Confidential(ClientSecretHash::of(text.trim())?)
            }
            (true, Some(_)) => bail!("a public client has no secret_file"),
            (false, None) => bail!("set public = true, or a secret_file for a confidential client"),
        };
        let scopes = match &self.scopes {
            None => Scopes::parse("openid profile email").map_err(|s| anyhow::anyhow!("{s}"))?,
            Some(list) => Scopes::parse(&list.join(" ")).map_err(|s| {
                anyhow::anyhow!("unknown scope {s:?} (openid, profile, email, offline_access)")
            })?,
        };
        let client = OidcClient {
            id,
            name: self.name.trim().to_owned(),
            redirect_uris: uris(&self.redirect_uris)?,
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris)?,
            kind,
            first_party: self.first_party,
            scopes,
            id_token_alg: self
                .id_token_signed_response_alg
                .as_deref()
                .map_or(Ok(IdTokenAlg::EdDSA), IdTokenAlg::parse)?,
        };
        client.validate()?;
        Ok(client)
    }
}

impl OidcSettings {
    /// Checks every client (reading their secret files) and the RSA key.
    ///
    /// # Errors
    /// One line naming the client (`oidc.clients[grafana]: ...`) or the setting.
    pub fn check(&self) -> anyhow::Result<OidcConfig> {
        let rsa = match &self.rsa_key_file {
            Some(file) => {
                let bytes = std::fs::read(file).with_context(|| {
                    format!("oidc.rsa_key_file: cannot read {}", file.display())
                })?;
                Some(Arc::new(
                    RsaSigningKey::from_pkcs8(&bytes).context("oidc.rsa_key_file")?,
                ))
            }
            None => None,
        };
        let mut clients = Vec::with_capacity(self.clients.len());
        for (i, c) in self.clients.iter().enumerate() {
            let name = if c.id.is_empty() {
                i.to_string()
            } else {
                c.id.clone()
            };
            let client = c
                .client()
                .map_err(|e| anyhow::anyhow!("oidc.clients[{name}]: {e:#}"))?;
            if client.id_token_alg == IdTokenAlg::RS256 && rsa.is_none() {
                bail!("oidc.clients[{name}]: RS256 needs oidc.rsa_key_file");
            }
            clients.push(client);
        }
        let registry =
            Registry::new(clients).map_err(|(id, e)| anyhow::anyhow!("oidc.clients[{id}]: {e}"))?;
        Ok(OidcConfig { registry, rsa })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(id: &str) -> ClientSettings {
        ClientSettings {
            id: id.to_owned(),
            name: "App".to_owned(),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            public: true,
            ..ClientSettings::default()
        }
    }

    fn error(s: OidcSettings) -> String {
        s.check().unwrap_err().to_string()
    }

    #[test]
    fn a_valid_public_and_confidential_client_pass() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, format!("{}\n", "s".repeat(40))).unwrap();
        let conf = ClientSettings {
            public: false,
            secret_file: Some(secret),
            scopes: Some(vec!["openid".into(), "offline_access".into()]),
            ..public("web")
        };
        let c = OidcSettings {
            clients: vec![public("spa"), conf],
            rsa_key_file: None,
        }
        .check()
        .unwrap();
        assert!(
            c.registry
                .get("web")
                .unwrap()
                .authenticates(Some(&"s".repeat(40)))
        );
    }

    #[test]
    fn every_invalid_client_names_itself_in_one_line() {
        let one = |c: ClientSettings| OidcSettings {
            clients: vec![c],
            rsa_key_file: None,
        };
        for (client, want) in [
            (
                ClientSettings {
                    redirect_uris: vec!["http://evil.example/cb".into()],
                    ..public("a")
                },
                "oidc.clients[a]:",
            ),
            (
                ClientSettings {
                    public: false,
                    ..public("b")
                },
                "oidc.clients[b]: set public = true",
            ),
            (
                ClientSettings {
                    scopes: Some(vec!["email".into()]),
                    ..public("c")
                },
                "oidc.clients[c]: the scopes of a client must include openid",
            ),
            (
                ClientSettings {
                    scopes: Some(vec!["openid".into(), "admin".into()]),
                    ..public("d")
                },
                "oidc.clients[d]: unknown scope",
            ),
            (
                ClientSettings {
                    id_token_signed_response_alg: Some("HS256".into()),
                    ..public("e")
                },
                "oidc.clients[e]: id_token_signed_response_alg",
            ),
            (
                ClientSettings {
                    id_token_signed_response_alg: Some("RS256".into()),
                    ..public("f")
                },
                "oidc.clients[f]: RS256 needs oidc.rsa_key_file",
            ),
            (
                ClientSettings {
                    secret_file: Some("/nonexistent/secret".into()),
                    public: false,
                    ..public("g")
                },
                "oidc.clients[g]: cannot read secret_file",
            ),
            (public("bad id"), "oidc.clients[bad id]: client id"),
        ] {
            let e = error(one(client));
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let dup = OidcSettings {
            clients: vec![public("x"), public("x")],
            rsa_key_file: None,
        };
        assert!(error(dup).contains("declared twice"));
    }
}
