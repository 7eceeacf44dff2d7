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

/// What an ID token says (OpenID Connect Core, section 2), in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`: the public URL.
    pub issuer: String,
    /// `sub`: the account's stable id.
    pub subject: crate::ids::UserId,
    /// `aud` (and `azp`): the client.
    pub audience: crate::oidc::ClientId,
    /// `iat`.
    pub issued_at: crate::time::Timestamp,
    /// `exp`.
    pub expires_at: crate::time::Timestamp,
    /// `auth_time`: when the user signed in.
    pub auth_time: crate::time::Timestamp,
    /// `nonce`, from the authorization request.
    pub nonce: Option<String>,
    /// `amr`, from how the user signed in.
    pub method: crate::session::AuthMethod,
    /// `sid`: the client's session at our side.
    pub session_id: crate::ids::SessionId,
    /// `email` and `email_verified`, with the `email` scope.
    pub email: Option<String>,
    /// `name`, with the `profile` scope.
    pub name: Option<String>,
}

/// The tokens the OpenID Connect provider hands to apps: ID tokens, signed with the algorithm
/// each client asked for, and access tokens for userinfo, which carry an audience of their own so
/// that neither our API nor any service that accepts our access tokens takes them. CPU work, so
/// synchronous.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait IdTokenSigner: Send + Sync {
    /// An access token for an app's session, good only at userinfo.
    ///
    /// # Errors
    /// [`TokenError::Signing`] only if the key material is unusable.
    fn issue_client_access(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// The claims of a valid app access token (signature, `kid`, issuer, its own audience, `exp`
    /// and `nbf` checked).
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else, our own access tokens included.
    fn verify_client_access(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// A signed ID token.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if no key for `alg` is configured or the key is unusable.
    fn sign_id_token(
        &self,
        claims: &IdTokenClaims,
        alg: crate::oidc::IdTokenAlg,
    ) -> Result<String, TokenError>;

    /// The algorithms it can sign with.
    fn algorithms(&self) -> Vec<crate::oidc::IdTokenAlg>;
}
