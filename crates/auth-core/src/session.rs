//! Sessions and refresh tokens: a session is one refresh-token family.

use crate::code::PepperTooShort;
use crate::ids::{SessionId, UserId};
use crate::oidc::{ClientId, Scopes};
use crate::ports::Rng;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// How a session was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// An email code (sign-up or login).
    EmailCode,
    /// An email code on the recovery path.
    Recovery,
    /// A passkey.
    Passkey,
}

impl AuthMethod {
    /// Stable name, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::EmailCode => "email_code",
            AuthMethod::Recovery => "recovery",
            AuthMethod::Passkey => "passkey",
        }
    }

    /// Inverse of [`AuthMethod::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email_code" => AuthMethod::EmailCode,
            "recovery" => AuthMethod::Recovery,
            "passkey" => AuthMethod::Passkey,
            _ => return None,
        })
    }

    /// RFC 8176 `amr` values for the access token.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethod::EmailCode => &["otp"],
            AuthMethod::Recovery => &["otp", "rec"],
            AuthMethod::Passkey => &["hwk", "user"],
        }
    }
}

/// The OpenID Connect client a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClient {
    /// The client.
    pub id: ClientId,
    /// The scopes its tokens carry.
    pub scopes: Scopes,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (`sid` in access tokens).
    pub id: SessionId,
    /// Its account.
    pub user_id: UserId,
    /// How it was signed in.
    pub method: AuthMethod,
    /// When it was signed in (`auth_time`); refreshing does not move it.
    pub created_at: Timestamp,
    /// When its refresh token was last used.
    pub last_seen_at: Timestamp,
    /// When it ends unless refreshed.
    pub expires_at: Timestamp,
    /// The client's user agent at sign-in, truncated.
    pub user_agent: Option<String>,
    /// The client's IP address at sign-in.
    pub ip: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The OpenID Connect client it was opened for, with the scopes granted; `None` for our own
    /// sessions (the page and the API). A client's session never authenticates our API.
    pub client: Option<SessionClient>,
}

impl Session {
    /// Whether it can still be used at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// 256 random bits as 43 base64url characters: the form of every bearer secret we hand out.
pub(crate) fn random_token(rng: &dyn Rng) -> String {
    let mut b = [0u8; 32];
    rng.fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether `s` has the form [`random_token`] makes.
pub(crate) fn is_token(s: &str) -> bool {
    s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32)
}

/// What stores keep of such a token: SHA-256 (256 random bits need no slow hash).
pub(crate) fn token_hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// A refresh token as the client holds it: 256 random bits. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A fresh token.
    pub fn generate(rng: &dyn Rng) -> Self {
        Self(random_token(rng))
    }

    /// Parses a token presented by a client (43 base64url characters).
    pub fn parse(s: &str) -> Option<Self> {
        is_token(s).then(|| Self(s.to_owned()))
    }

    /// The token, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores keep: SHA-256 of the token. A fast hash suffices for 256 random bits.
    pub fn hash(&self) -> TokenHash {
        token_hash(&self.0)
    }

    /// The token that replaces this one when it is rotated: a keyed hash of it, so presenting the
    /// same token twice (two tabs refreshing at once) asks the store for the same successor, and
    /// nobody without the key can tell it from random.
    pub fn successor(&self, key: &SuccessorKey) -> Self {
        let mut mac = key.0.clone();
        mac.update(self.0.as_bytes());
        Self(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

/// The server secret that refresh-token successors are derived under (see
/// [`RefreshToken::successor`]). Every node must hold the same one.
#[derive(Clone)]
pub struct SuccessorKey(Hmac<Sha256>);

impl SuccessorKey {
    /// The key derived from the pepper (at least 32 bytes), domain-separated from the code hashes
    /// made under it, so no new secret has to be configured or shared.
    ///
    /// # Errors
    /// A short pepper.
    pub fn from_pepper(pepper: &[u8]) -> Result<Self, PepperTooShort> {
        if pepper.len() < 32 {
            return Err(PepperTooShort);
        }
        let mut derive = Hmac::<Sha256>::new_from_slice(pepper).map_err(|_| PepperTooShort)?;
        derive.update(b"refresh-successor-v1");
        let key = derive.finalize().into_bytes();
        Ok(Self(
            Hmac::<Sha256>::new_from_slice(&key).map_err(|_| PepperTooShort)?,
        ))
    }
}

impl fmt::Debug for SuccessorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuccessorKey([redacted])")
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// The stored hash of a refresh token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was the family's current token: it is now spent and `new` is current. Also the answer
    /// when it was rotated into `new` less than the grace ago and `new` is still current: the
    /// same successor again.
    Rotated(Session),
    /// It had already been rotated (longer ago than the grace, or its successor has moved on):
    /// someone replayed it, so the whole family was revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
        /// Its account.
        user_id: UserId,
    },
    /// Unknown, or its session is revoked or expired.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn refresh_tokens_parse_only_their_own_shape() {
        let t = RefreshToken::generate(&OsRng);
        assert_eq!(RefreshToken::parse(t.expose()), Some(t.clone()));
        assert_eq!(RefreshToken::parse("short"), None);
        assert_eq!(RefreshToken::parse(&"*".repeat(43)), None);
        assert_ne!(t.hash(), RefreshToken::generate(&OsRng).hash());
        assert_eq!(format!("{t:?}"), "RefreshToken([redacted])");
    }

    #[test]
    fn a_successor_is_the_same_for_the_same_token_and_key_only() {
        let key = SuccessorKey::from_pepper(&[1u8; 32]).unwrap();
        let t = RefreshToken::generate(&OsRng);
        let next = t.successor(&key);
        assert_eq!(next, t.successor(&key), "deterministic");
        assert_eq!(RefreshToken::parse(next.expose()), Some(next.clone()));
        assert_ne!(next, t);
        assert_ne!(
            next,
            t.successor(&SuccessorKey::from_pepper(&[2u8; 32]).unwrap()),
            "another key, another successor"
        );
        assert_ne!(next, RefreshToken::generate(&OsRng).successor(&key));
        assert_eq!(format!("{key:?}"), "SuccessorKey([redacted])");
    }
}
