//! Access tokens on the wire, and the strict rules every one must pass, shared by the issuer and
//! by [`crate::JwksVerifier`] so the two can never drift apart.

use crate::keys::{CompactSigner, KeyError, PublicKey, SigningKey};
use crate::validity::{check_window, from_secs};
use crate::{ACCESS_TOKEN_TYPE, MAX_TOKEN_LEN};
use auth_core::ids::{SessionId, UserId};
use auth_core::ports::{Clock, SystemClock};
use auth_core::session::AuthMethod;
use auth_core::token::{AccessClaims, TokenError};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The claims as signed.
#[derive(Serialize)]
struct AccessOut<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    sid: String,
    amr: &'static [&'static str],
    auth_time: i64,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// The claims as read back: every one required, each in its one JSON type. `iss` and `aud` are
/// compared by `jsonwebtoken`; `iss` is named here only so that an array is refused.
#[derive(Deserialize)]
struct AccessIn {
    #[serde(rename = "iss")]
    _iss: String,
    sub: String,
    sid: String,
    amr: Vec<String>,
    auth_time: i64,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// Signs access tokens with one key.
pub(crate) struct AccessSigner {
    issuer: String,
    audience: String,
    signer: CompactSigner,
}

impl AccessSigner {
    pub(crate) fn new(issuer: &str, audience: &str, key: &SigningKey) -> Result<Self, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid().to_owned());
        Ok(Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            signer: key.compact_signer(&header)?,
        })
    }

    pub(crate) fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let out = AccessOut {
            iss: &self.issuer,
            aud: &self.audience,
            sub: claims.user_id.to_string(),
            sid: claims.session_id.to_string(),
            amr: claims.method.amr(),
            auth_time: claims.auth_time.as_secs(),
            iat: claims.issued_at.as_secs(),
            nbf: claims.issued_at.as_secs(),
            exp: claims.expires_at.as_secs(),
        };
        self.signer.sign(&out)
    }
}

/// How many verified tokens [`AccessRules`] remembers (about 100 bytes each).
const VERIFIED_CAPACITY: usize = 10_000;

/// A token that passed every rule but the time window: its claims, and the `nbf` it was signed
/// with.
#[derive(Clone)]
struct Verified {
    claims: AccessClaims,
    nbf: i64,
}

/// Verifies access tokens against a set of public keys.
///
/// A client sends the same access token with every request for its whole life, and checking the
/// Ed25519 signature is most of the work of an authenticated request. So the claims of tokens
/// that passed are remembered, keyed by the SHA-256 of the whole token: a token seen before skips
/// the signature and the parsing, never the time window, which is judged again on every use.
/// Only tokens that passed are remembered, so a flood of forged ones costs the full check each and
/// displaces nothing; the set of keys is fixed for the life of the rules, so a remembered token
/// was signed by a key that still verifies.
pub(crate) struct AccessRules {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
    clock: Arc<dyn Clock>,
    verified: quick_cache::sync::Cache<[u8; 32], Verified>,
}

impl AccessRules {
    /// Rules for tokens of `issuer` for `audience`, signed by any of `keys`.
    pub(crate) fn new<'a>(
        issuer: &str,
        audience: &str,
        keys: impl IntoIterator<Item = &'a PublicKey>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "nbf", "exp"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Time is judged below against the clock port, so that a node under a test clock verifies
        // what it issued; jsonwebtoken would read the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let keys = keys
            .into_iter()
            .map(|k| (k.kid().to_owned(), k.decoding_key()))
            .collect();
        Self {
            keys,
            validation,
            clock: Arc::new(SystemClock),
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
        }
    }

    pub(crate) fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The `kid`s this verifier accepts, sorted.
    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub(crate) fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now();
        if let Some(known) = self.verified.get(&digest) {
            check_window(now, Some(known.nbf), known.claims.expires_at.as_secs())?;
            return Ok(known.claims);
        }
        let fresh = self.check(token)?;
        check_window(now, Some(fresh.nbf), fresh.claims.expires_at.as_secs())?;
        self.verified.insert(digest, fresh.clone());
        Ok(fresh.claims)
    }

    /// Every rule but the time window.
    fn check(&self, token: &str) -> Result<Verified, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // `crit` names extensions the verifier must understand (RFC 7515 §4.1.11); we know none.
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.crit.is_some()
        {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(TokenError::Invalid)?;
        let claims = jsonwebtoken::decode::<AccessIn>(token, key, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        Ok(Verified {
            claims: AccessClaims {
                user_id: UserId::parse(&claims.sub).ok_or(TokenError::Invalid)?,
                session_id: SessionId::parse(&claims.sid).ok_or(TokenError::Invalid)?,
                method: method_of(&claims.amr).ok_or(TokenError::Invalid)?,
                auth_time: from_secs(claims.auth_time).ok_or(TokenError::Invalid)?,
                issued_at: from_secs(claims.iat).ok_or(TokenError::Invalid)?,
                expires_at: from_secs(claims.exp).ok_or(TokenError::Invalid)?,
            },
            nbf: claims.nbf,
        })
    }
}

impl fmt::Debug for AccessRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessRules")
            .field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The sign-in method whose `amr` is exactly `amr`.
fn method_of(amr: &[String]) -> Option<AuthMethod> {
    all_methods()
        .into_iter()
        .find(|m| m.amr().iter().copied().eq(amr.iter().map(String::as_str)))
}

fn all_methods() -> [AuthMethod; 3] {
    let all = [
        AuthMethod::EmailCode,
        AuthMethod::Recovery,
        AuthMethod::Passkey,
    ];
    for m in all {
        // Exhaustive on purpose: a new sign-in method fails to compile here instead of issuing
        // tokens that never verify.
        match m {
            AuthMethod::EmailCode | AuthMethod::Recovery | AuthMethod::Passkey => {}
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_maps_back_from_its_own_amr_and_only_from_it() {
        for m in all_methods() {
            let amr: Vec<String> = m.amr().iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(method_of(&amr), Some(m));
        }
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for other in [
            &[][..],
            &["rec", "otp"],
            &["otp", "otp"],
            &["hwk"],
            &["pwd"],
            &["otp", "rec", "x"],
        ] {
            assert_eq!(method_of(&owned(other)), None, "{other:?}");
        }
    }
}
