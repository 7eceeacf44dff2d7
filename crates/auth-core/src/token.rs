//! What signed tokens say. Signing and verifying them is the [`crate::ports::TokenIssuer`] port's job.

use crate::code::ClientSecret;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::session::AuthMethod;
use crate::time::Timestamp;

/// The claims of an access token, in domain terms. Issuer and audience are the issuer's concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The account (`sub`).
    pub user_id: UserId,
    /// The session (`sid`).
    pub session_id: SessionId,
    /// How the session signed in (`amr`).
    pub method: AuthMethod,
    /// When the session signed in (`auth_time`).
    pub auth_time: Timestamp,
    /// When the token was issued (`iat`, `nbf`).
    pub issued_at: Timestamp,
    /// When it expires (`exp`).
    pub expires_at: Timestamp,
}

/// What an attempt token names: the attempt, and the secret its code hash is bound to. Never the
/// code, the address or the purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptTicket {
    /// The attempt.
    pub attempt_id: AttemptId,
    /// The client-only secret.
    pub secret: ClientSecret,
    /// When the token stops being accepted.
    pub expires_at: Timestamp,
}

/// A token that is not valid. Deliberately says nothing more: callers answer one way for all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, tampered with, expired, for another audience, or signed by an unknown key.
    #[error("the token is not valid")]
    Invalid,
    /// The signer itself failed (bad key material).
    #[error("the token could not be signed: {0}")]
    Signing(String),
}
