//! ID tokens of the OpenID Connect provider: EdDSA with the current signing key (the default), or
//! RS256 with an operator-supplied RSA key for clients that ask for it.
//!
//! RS256 is signed by `ring` (`RsaKeyPair` with `RSA_PKCS1_SHA256`), whose RSA private-key
//! operation runs in constant time and is blinded. The `rsa` crate, which `jsonwebtoken`'s
//! `rust_crypto` backend would use, carries a timing advisory for exactly that operation, so it
//! never signs here.

use crate::access::{AccessRules, AccessSigner};
use crate::keys::{CompactSigner, SigningKey};
use auth_core::oidc::IdTokenAlg;
use auth_core::ports::{Clock, IdTokenClaims, IdTokenSigner};
use auth_core::token::{AccessClaims, TokenError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// An RSA key that cannot be used for RS256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RsaKeyError {
    /// Not PEM or DER of a PKCS#8 RSA private key.
    #[error("not a PKCS#8 RSA private key (PEM or DER)")]
    Format,
    /// `ring` refuses it (for instance a modulus under 2048 bits).
    #[error("the RSA key is unusable: at least 2048 bits and a valid key are required")]
    Rejected,
}

/// An RSA private key for RS256 ID tokens, with its `kid` and public JWK.
pub struct RsaSigningKey {
    pair: RsaKeyPair,
    kid: String,
    jwk: Value,
}

impl RsaSigningKey {
    /// Reads a PKCS#8 key, PEM (`-----BEGIN PRIVATE KEY-----`) or DER, as
    /// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` writes it.
    ///
    /// # Errors
    /// [`RsaKeyError`].
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, RsaKeyError> {
        let der = match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => pem_body(text)?,
            _ => bytes.to_vec(),
        };
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| RsaKeyError::Rejected)?;
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|&x| x == 0).collect() };
        let n = URL_SAFE_NO_PAD.encode(strip(&public.n));
        let e = URL_SAFE_NO_PAD.encode(strip(&public.e));
        // RFC 7638 thumbprint: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Ok(Self { pair, kid, jwk })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, header_and_claims: &str) -> Result<String, TokenError> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                header_and_claims.as_bytes(),
                &mut sig,
            )
            .map_err(|_| TokenError::Signing("RS256 signing failed".to_owned()))?;
        Ok(URL_SAFE_NO_PAD.encode(sig))
    }
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn pem_body(text: &str) -> Result<Vec<u8>, RsaKeyError> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in text.lines().map(str::trim) {
        if line == "-----BEGIN PRIVATE KEY-----" {
            inside = true;
        } else if line == "-----END PRIVATE KEY-----" {
            return base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| RsaKeyError::Format);
        } else if inside {
            b64.push_str(line);
        }
    }
    Err(RsaKeyError::Format)
}

/// The `aud` of the access tokens apps get: only userinfo accepts them, never our API or a
/// service that accepts our own access tokens.
pub const CLIENT_ACCESS_AUDIENCE: &str = "userinfo";

/// Signs ID tokens (EdDSA with the current Ed25519 key, RS256 with the RSA key if configured) and
/// the access tokens of apps (EdDSA, audience [`CLIENT_ACCESS_AUDIENCE`]).
pub struct IdTokens {
    ed_kid: String,
    ed: CompactSigner,
    rsa: Option<Arc<RsaSigningKey>>,
    access: AccessSigner,
    rules: AccessRules,
}

impl IdTokens {
    /// A signer for `issuer` with the current Ed25519 key and, optionally, an RSA key. App
    /// access tokens verify with the current key only: after a rotation and restart, apps
    /// refresh (they live 15 minutes).
    ///
    /// # Errors
    /// [`crate::KeyError`] if the Ed25519 key cannot be encoded.
    pub fn new(
        issuer: &str,
        current: &SigningKey,
        rsa: Option<Arc<RsaSigningKey>>,
    ) -> Result<Self, crate::KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(current.kid().to_owned());
        Ok(Self {
            ed_kid: current.kid().to_owned(),
            ed: current.compact_signer(&header)?,
            rsa,
            access: AccessSigner::new(issuer, CLIENT_ACCESS_AUDIENCE, current)?,
            rules: AccessRules::new(issuer, CLIENT_ACCESS_AUDIENCE, [current.public_key()]),
        })
    }

    /// The same signer judging time by `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.rules.set_clock(clock);
        self
    }

    /// The public JWK of the RSA key, for the JWKS.
    pub fn rsa_jwk(&self) -> Option<&Value> {
        self.rsa.as_deref().map(RsaSigningKey::jwk)
    }
}

impl fmt::Debug for IdTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokens")
            .field("ed_kid", &self.ed_kid)
            .field("rsa", &self.rsa)
            .finish_non_exhaustive()
    }
}

fn payload(c: &IdTokenClaims) -> Value {
    let mut v = json!({
        "iss": c.issuer,
        "sub": c.subject.to_string(),
        "aud": c.audience.as_str(),
        "azp": c.audience.as_str(),
        "exp": c.expires_at.as_secs(),
        "iat": c.issued_at.as_secs(),
        "auth_time": c.auth_time.as_secs(),
        "amr": c.method.amr(),
        "sid": c.session_id.to_string(),
    });
    if let Some(n) = &c.nonce {
        v["nonce"] = json!(n);
    }
    if let Some(e) = &c.email {
        v["email"] = json!(e);
        v["email_verified"] = json!(true);
    }
    if let Some(n) = &c.name {
        v["name"] = json!(n);
    }
    v
}

impl IdTokenSigner for IdTokens {
    fn issue_client_access(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.access.sign(claims)
    }

    fn verify_client_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.rules.verify(token)
    }

    fn sign_id_token(&self, claims: &IdTokenClaims, alg: IdTokenAlg) -> Result<String, TokenError> {
        let body = payload(claims);
        match alg {
            IdTokenAlg::EdDSA => self.ed.sign(&body),
            IdTokenAlg::RS256 => {
                let rsa = self.rsa.as_ref().ok_or_else(|| {
                    TokenError::Signing("no RSA key is configured for RS256".to_owned())
                })?;
                let header = json!({ "alg": "RS256", "typ": "JWT", "kid": rsa.kid });
                let signing_input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(body.to_string())
                );
                let sig = rsa.sign(&signing_input)?;
                Ok(format!("{signing_input}.{sig}"))
            }
        }
    }

    fn algorithms(&self) -> Vec<IdTokenAlg> {
        let mut algs = vec![IdTokenAlg::EdDSA];
        if self.rsa.is_some() {
            algs.push(IdTokenAlg::RS256);
        }
        algs
    }
}
