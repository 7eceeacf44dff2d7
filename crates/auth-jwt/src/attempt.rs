//! Attempt tokens: HS256 under a server secret, with their own `typ` and audience.
//!
//! HMAC rather than EdDSA because only this service ever reads them (no one else needs a public
//! key), issuing and checking one costs a few microseconds where Ed25519 costs tens, and the
//! separate secret and algorithm family mean neither kind of token verifies as the other.

use crate::validity::{check_window, from_secs};
use crate::{ATTEMPT_TOKEN_TYPE, MAX_TOKEN_LEN};
use auth_core::code::ClientSecret;
use auth_core::ids::AttemptId;
use auth_core::ports::{Clock, SystemClock};
use auth_core::token::{AttemptTicket, TokenError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The `aud` of every attempt token. An access audience may not take this value.
pub const ATTEMPT_AUDIENCE: &str = "attempt-token";

#[derive(Serialize)]
struct AttemptOut<'a> {
    iss: &'a str,
    aud: &'static str,
    aid: String,
    secret: String,
    exp: i64,
}

/// As read back; `iss` is named only so that an array is refused.
#[derive(Deserialize)]
struct AttemptIn {
    #[serde(rename = "iss")]
    _iss: String,
    aid: String,
    secret: String,
    exp: i64,
}

/// Issues and verifies attempt tokens under one secret.
pub(crate) struct AttemptTokens {
    issuer: String,
    header: Header,
    signing: EncodingKey,
    verifying: DecodingKey,
    validation: Validation,
    clock: Arc<dyn Clock>,
}

impl AttemptTokens {
    /// The caller has checked that `secret` is long enough.
    pub(crate) fn new(issuer: &str, secret: &[u8]) -> Self {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ATTEMPT_TOKEN_TYPE.to_owned());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["iss", "aud", "exp"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[ATTEMPT_AUDIENCE]);
        // As for access tokens: time comes from the clock port.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Self {
            issuer: issuer.to_owned(),
            header,
            signing: EncodingKey::from_secret(secret),
            verifying: DecodingKey::from_secret(secret),
            validation,
            clock: Arc::new(SystemClock),
        }
    }

    pub(crate) fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    pub(crate) fn sign(&self, ticket: &AttemptTicket) -> Result<String, TokenError> {
        let out = AttemptOut {
            iss: &self.issuer,
            aud: ATTEMPT_AUDIENCE,
            aid: ticket.attempt_id.to_string(),
            secret: URL_SAFE_NO_PAD.encode(ticket.secret.as_bytes()),
            exp: ticket.expires_at.as_secs(),
        };
        jsonwebtoken::encode(&self.header, &out, &self.signing)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    pub(crate) fn verify(&self, token: &str) -> Result<AttemptTicket, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // An attempt token names no key; one with a `kid` is something else.
        if header.alg != Algorithm::HS256
            || header.typ.as_deref() != Some(ATTEMPT_TOKEN_TYPE)
            || header.kid.is_some()
            || header.crit.is_some()
        {
            return Err(TokenError::Invalid);
        }
        let claims = jsonwebtoken::decode::<AttemptIn>(token, &self.verifying, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        check_window(self.clock.now(), None, claims.exp)?;
        let secret: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&claims.secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(TokenError::Invalid)?;
        Ok(AttemptTicket {
            attempt_id: AttemptId::parse(&claims.aid).ok_or(TokenError::Invalid)?,
            secret: ClientSecret::from_bytes(secret),
            expires_at: from_secs(claims.exp).ok_or(TokenError::Invalid)?,
        })
    }
}

impl fmt::Debug for AttemptTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttemptTokens")
            .field("iss", &self.issuer)
            .finish_non_exhaustive()
    }
}
