//! Authorization codes (single use, short-lived, bound to everything the request named), PKCE
//! verification, and remembered consent.

use super::client::{ClientId, RedirectUri, Scopes};
use super::request::is_pkce_text;
use crate::ids::{SessionId, UserId};
use crate::ports::Rng;
use crate::session::{AuthMethod, TokenHash, is_token, random_token, token_hash};
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long an authorization code may be exchanged.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// How long after its expiry a store still remembers a code, so that presenting it again is
/// recognised as a replay (and revokes what it issued) rather than as unknown.
pub const CODE_REPLAY_MEMORY: Duration = Duration::from_secs(600);

/// An authorization code as the client gets it: 256 random bits. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode(String);

impl AuthorizationCode {
    /// A fresh code.
    pub fn generate(rng: &dyn Rng) -> Self {
        Self(random_token(rng))
    }

    /// Parses a code presented by a client (43 base64url characters).
    pub fn parse(s: &str) -> Option<Self> {
        is_token(s).then(|| Self(s.to_owned()))
    }

    /// The code, for the redirect.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores keep.
    pub fn hash(&self) -> TokenHash {
        token_hash(&self.0)
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

/// A PKCE `code_verifier`. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// Parses a verifier: 43 to 128 unreserved characters.
    pub fn parse(s: &str) -> Option<Self> {
        is_pkce_text(s).then(|| Self(s.to_owned()))
    }

    /// Whether it answers the S256 `challenge`: `BASE64URL(SHA256(verifier)) == challenge`,
    /// compared in constant time.
    pub fn answers(&self, challenge: &str) -> bool {
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()));
        computed.as_bytes().ct_eq(challenge.as_bytes()).into()
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// Everything an authorization code stands for: the token endpoint checks the client, redirect
/// URI and PKCE verifier against it, and the ID token carries its nonce, sign-in time and method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The redirect URI of the request, which the token request must repeat.
    pub redirect_uri: RedirectUri,
    /// The PKCE S256 challenge, if the request had one.
    pub code_challenge: Option<String>,
    /// The request's nonce, for the ID token.
    pub nonce: Option<String>,
    /// The scopes granted.
    pub scopes: Scopes,
    /// The account.
    pub user_id: UserId,
    /// Our own session that signed in (the browser's).
    pub session_id: SessionId,
    /// When that session signed in (`auth_time`).
    pub auth_time: Timestamp,
    /// How (`amr`).
    pub method: AuthMethod,
    /// The session the token endpoint opens for the client, chosen now so that a replayed code
    /// can revoke it without any further write at exchange time.
    pub issues: SessionId,
    /// When the code stops being exchangeable.
    pub expires_at: Timestamp,
}

/// An authorization code as stores keep it: its hash and its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// SHA-256 of the code.
    pub hash: TokenHash,
    /// What it stands for.
    pub grant: CodeGrant,
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTake {
    /// A live code, now used.
    Taken(CodeGrant),
    /// A code used before: a replay. The caller revokes what it issued (`grant.issues`).
    Replayed(CodeGrant),
    /// Unknown, or expired unused.
    Invalid,
}

/// A user's remembered decision to let a client have some scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The account.
    pub user_id: UserId,
    /// The client.
    pub client_id: ClientId,
    /// What was granted.
    pub scopes: Scopes,
    /// When (last).
    pub granted_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        let v = PkceVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert!(v.answers("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!v.answers("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!v.answers(""));
        assert!(PkceVerifier::parse("too-short").is_none());
        assert!(PkceVerifier::parse(&"a".repeat(129)).is_none());
        assert!(PkceVerifier::parse(&format!("{}+", "a".repeat(43))).is_none());
        assert_eq!(format!("{v:?}"), "PkceVerifier([redacted])");
    }

    #[test]
    fn codes_parse_only_their_own_shape_and_never_print() {
        let c = AuthorizationCode::generate(&OsRng);
        assert_eq!(AuthorizationCode::parse(c.expose()), Some(c.clone()));
        assert_eq!(AuthorizationCode::parse("abc"), None);
        assert_ne!(c.hash(), AuthorizationCode::generate(&OsRng).hash());
        assert_eq!(format!("{c:?}"), "AuthorizationCode([redacted])");
    }
}
