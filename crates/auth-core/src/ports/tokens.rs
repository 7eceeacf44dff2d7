//! Signed tokens: issuing and verifying them.

use crate::token::{AccessClaims, AttemptTicket, TokenError};

/// Signs and verifies tokens. Signing is CPU work, not I/O, so these methods are synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A signed access token.
    ///
    /// # Errors
    /// [`TokenError::Signing`] only if the key material is unusable.
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// The claims of a valid access token: signature, algorithm, `kid`, issuer, audience, `exp` and
    /// `nbf` are all checked.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// A signed attempt token.
    ///
    /// # Errors
    /// [`TokenError::Signing`] only if the key material is unusable.
    fn issue_attempt(&self, ticket: &AttemptTicket) -> Result<String, TokenError>;

    /// The ticket of a valid, unexpired attempt token.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_attempt(&self, token: &str) -> Result<AttemptTicket, TokenError>;

    /// The public keys that verify access tokens, as a JWKS document.
    fn jwks(&self) -> serde_json::Value;
}

/// Verifies access tokens only: what a service that accepts our tokens needs (for example from the
/// published JWKS), without the power to issue any.
pub trait AccessVerifier: Send + Sync {
    /// The claims of a valid access token (signature, algorithm, `kid`, issuer, audience, `exp` and
    /// `nbf` checked).
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;
}
