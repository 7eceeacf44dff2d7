//! [`JwtIssuer`]: the service's own token port, with key rotation.

use crate::access::{AccessRules, AccessSigner};
use crate::attempt::{ATTEMPT_AUDIENCE, AttemptTokens};
use crate::jwks::document;
use crate::keys::{KeyError, PublicKey, SigningKey};
use auth_core::ports::{AccessVerifier, Clock, TokenIssuer};
use auth_core::token::{AccessClaims, AttemptTicket, TokenError};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The shortest attempt-token secret accepted, in bytes.
pub const MIN_ATTEMPT_SECRET_LEN: usize = 32;

/// An issuer that cannot be built from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The issuer (`iss`) is empty.
    #[error("the token issuer must not be empty")]
    EmptyIssuer,
    /// The audience (`aud`) is empty.
    #[error("the token audience must not be empty")]
    EmptyAudience,
    /// The access audience is the one reserved for attempt tokens.
    #[error("the token audience \"attempt-token\" is reserved for attempt tokens")]
    ReservedAudience,
    /// The attempt-token secret is shorter than [`MIN_ATTEMPT_SECRET_LEN`].
    #[error("the attempt-token secret must be at least 32 bytes")]
    AttemptSecretTooShort,
    /// The signing key cannot be used.
    #[error("the signing key is unusable")]
    Key(#[from] KeyError),
}

/// Checks what both [`JwtIssuer`] and [`crate::JwksVerifier`] need of issuer and audience.
pub(crate) fn check_names(issuer: &str, audience: &str) -> Result<(), ConfigError> {
    if issuer.is_empty() {
        return Err(ConfigError::EmptyIssuer);
    }
    if audience.is_empty() {
        return Err(ConfigError::EmptyAudience);
    }
    if audience == ATTEMPT_AUDIENCE {
        return Err(ConfigError::ReservedAudience);
    }
    Ok(())
}

/// Signs and verifies the service's tokens: implements [`TokenIssuer`] and [`AccessVerifier`].
///
/// New access tokens are signed with the current key. Older keys only verify: keep a retired key
/// here for at least one access-token lifetime after it stopped signing, then drop it. The JWKS
/// lists the current key first, then the older ones.
///
/// Time (`exp`, `nbf`) is read from the system clock unless [`JwtIssuer::with_clock`] says otherwise.
pub struct JwtIssuer {
    signer: AccessSigner,
    access: AccessRules,
    attempts: AttemptTokens,
    jwks: Value,
    current_kid: String,
}

impl JwtIssuer {
    /// An issuer of tokens with `iss = issuer` and `aud = audience`, signing with `current`,
    /// also accepting tokens of the `older` keys, and keeping attempt tokens under
    /// `attempt_secret` (at least 32 bytes; random, and distinct from every other secret). Every
    /// node must share the current key, the older keys and the attempt secret.
    ///
    /// # Errors
    /// [`ConfigError`] for an empty issuer or audience, the reserved audience, a short secret, or
    /// an unusable key.
    pub fn new(
        issuer: &str,
        audience: &str,
        current: SigningKey,
        older: impl IntoIterator<Item = PublicKey>,
        attempt_secret: &[u8],
    ) -> Result<Self, ConfigError> {
        check_names(issuer, audience)?;
        if attempt_secret.len() < MIN_ATTEMPT_SECRET_LEN {
            return Err(ConfigError::AttemptSecretTooShort);
        }
        let mut keys = vec![current.public_key().clone()];
        for key in older {
            // The kid is the key's thumbprint: an equal kid is the same key, listed once.
            if keys.iter().all(|k| k.kid() != key.kid()) {
                keys.push(key);
            }
        }
        let signer = AccessSigner::new(issuer, audience, &current)?;
        Ok(Self {
            signer,
            access: AccessRules::new(issuer, audience, &keys),
            attempts: AttemptTokens::new(issuer, attempt_secret),
            jwks: document(&keys),
            current_kid: current.kid().to_owned(),
        })
    }

    /// The same issuer publishing `jwk` in its JWKS too (the RS256 key of ID tokens). Access
    /// tokens never verify with it: their rules accept Ed25519 keys only.
    #[must_use]
    pub fn with_published_key(mut self, jwk: Value) -> Self {
        if let Some(keys) = self.jwks.get_mut("keys").and_then(Value::as_array_mut) {
            keys.push(jwk);
        }
        self
    }

    /// The same issuer reading time from `clock` (for tests, and for a server that injects its clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.access.set_clock(Arc::clone(&clock));
        self.attempts.set_clock(clock);
        self
    }

    /// The `kid` new access tokens carry.
    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.signer.sign(claims)
    }

    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.access.verify(token)
    }

    fn issue_attempt(&self, ticket: &AttemptTicket) -> Result<String, TokenError> {
        self.attempts.sign(ticket)
    }

    fn verify_attempt(&self, token: &str) -> Result<AttemptTicket, TokenError> {
        self.attempts.verify(token)
    }

    fn jwks(&self) -> Value {
        self.jwks.clone()
    }
}

impl AccessVerifier for JwtIssuer {
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.access.verify(token)
    }
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("current_kid", &self.current_kid)
            .field("access", &self.access)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
