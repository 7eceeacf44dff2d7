//! JWKS documents, and [`JwksVerifier`]: accepting our access tokens elsewhere from the published keys.

use crate::access::AccessRules;
use crate::issuer::{ConfigError, check_names};
use crate::keys::PublicKey;
use auth_core::ports::{AccessVerifier, Clock};
use auth_core::token::{AccessClaims, TokenError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// The JWKS document listing `keys`, in order.
pub(crate) fn document(keys: &[PublicKey]) -> Value {
    json!({ "keys": keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
}

/// A JWKS document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The text is not JSON.
    #[error("the JWKS is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    /// The document is not an object with a `keys` array.
    #[error("the JWKS has no \"keys\" array")]
    NoKeySet,
    /// An entry of `keys` is malformed.
    #[error("key {index} of the JWKS is unusable: {reason}")]
    BadKey {
        /// Its position in `keys`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two Ed25519 entries share a `kid`, so a token's `kid` would not name one key.
    #[error("the JWKS has more than one key with kid {0:?}")]
    DuplicateKid(String),
    /// No entry is an Ed25519 signing key.
    #[error("the JWKS has no Ed25519 signing key")]
    NoUsableKey,
    /// The expected issuer or audience is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Verifies our access tokens from the published JWKS, without the power to issue any: what
/// another service needs. Applies exactly the rules of [`crate::JwtIssuer`].
///
/// It holds the keys it was built with; when a token names an unknown `kid` (after a rotation),
/// fetch the JWKS again and build a new one.
pub struct JwksVerifier {
    rules: AccessRules,
}

impl JwksVerifier {
    /// A verifier from the text of a JWKS document (as served at `/.well-known/jwks.json`).
    ///
    /// # Errors
    /// [`JwksError`] as for [`JwksVerifier::from_value`], or [`JwksError::NotJson`].
    pub fn from_json(jwks: &str, issuer: &str, audience: &str) -> Result<Self, JwksError> {
        let doc: Value = serde_json::from_str(jwks).map_err(JwksError::NotJson)?;
        Self::from_value(&doc, issuer, audience)
    }

    /// A verifier from a JWKS document, for tokens with `iss = issuer` and `aud = audience`.
    ///
    /// Entries that are not Ed25519 signing keys (another `kty` or `crv`, `use` other than `sig`,
    /// `alg` other than `EdDSA`) are skipped: they are for other verifiers. An Ed25519 entry
    /// without a `kid`, with a malformed or weak `x`, or with a private part `d` is an error.
    ///
    /// # Errors
    /// [`JwksError`] for a malformed document, as above; when no usable key remains; for an empty
    /// issuer or audience.
    pub fn from_value(jwks: &Value, issuer: &str, audience: &str) -> Result<Self, JwksError> {
        check_names(issuer, audience)?;
        let keys = parse(jwks)?;
        Ok(Self {
            rules: AccessRules::new(issuer, audience, &keys),
        })
    }

    /// The same verifier reading time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.rules.set_clock(clock);
        self
    }

    /// The `kid`s it accepts, sorted.
    pub fn kids(&self) -> Vec<&str> {
        self.rules.kids().collect()
    }
}

impl AccessVerifier for JwksVerifier {
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.rules.verify(token)
    }
}

impl fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("rules", &self.rules)
            .finish()
    }
}

fn parse(doc: &Value) -> Result<Vec<PublicKey>, JwksError> {
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NoKeySet)?;
    let mut keys = Vec::new();
    let mut kids = HashSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let bad = |reason| JwksError::BadKey { index, reason };
        let entry = entry.as_object().ok_or(bad("not an object"))?;
        let Some(key) = ed25519_entry(entry).map_err(bad)? else {
            continue;
        };
        if !kids.insert(key.kid().to_owned()) {
            return Err(JwksError::DuplicateKid(key.kid().to_owned()));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// The key of an Ed25519 signing entry; `None` for an entry of another kind.
fn ed25519_entry(entry: &Map<String, Value>) -> Result<Option<PublicKey>, &'static str> {
    let member = |name: &str| match entry.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err("a member that must be a string is not"),
    };
    let ours = member("kty")? == Some("OKP")
        && member("crv")? == Some("Ed25519")
        && member("use")?.is_none_or(|u| u == "sig")
        && member("alg")?.is_none_or(|a| a == "EdDSA");
    if !ours {
        return Ok(None);
    }
    if entry.contains_key("d") {
        return Err("it contains a private key");
    }
    let kid = member("kid")?
        .filter(|k| !k.is_empty())
        .ok_or("it has no kid")?;
    let x = member("x")?.ok_or("it has no x")?;
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(x)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("its x is not 32 bytes of unpadded base64url")?;
    let key =
        PublicKey::from_bytes(&bytes).map_err(|_| "its x is not a usable Ed25519 public key")?;
    Ok(Some(key.with_kid(kid.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use auth_core::ports::OsRng;

    fn jwk() -> Value {
        SigningKey::generate(&OsRng).public_key().to_jwk()
    }

    fn with(mut v: Value, name: &str, value: Value) -> Value {
        v[name] = value;
        v
    }

    fn without(mut v: Value, name: &str) -> Value {
        v.as_object_mut().unwrap().remove(name);
        v
    }

    fn err(doc: Value) -> String {
        JwksVerifier::from_value(&doc, "iss", "aud")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_what_it_publishes() {
        let a = SigningKey::generate(&OsRng);
        let b = SigningKey::generate(&OsRng);
        let doc = document(&[a.public_key().clone(), b.public_key().clone()]);
        let v = JwksVerifier::from_json(&doc.to_string(), "iss", "aud").unwrap();
        let mut expected = vec![a.kid(), b.kid()];
        expected.sort_unstable();
        assert_eq!(v.kids(), expected);
    }

    #[test]
    fn skips_keys_of_other_kinds_but_needs_one_of_ours() {
        let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"});
        let enc = with(jwk(), "use", json!("enc"));
        let es = with(jwk(), "alg", json!("ES256"));
        let x448 = with(jwk(), "crv", json!("Ed448"));
        let ours = jwk();
        let v = JwksVerifier::from_value(
            &json!({"keys": [rsa, enc, es, x448, ours.clone()]}),
            "iss",
            "aud",
        )
        .unwrap();
        assert_eq!(v.kids(), [ours["kid"].as_str().unwrap()]);
        // No `use` and no `alg` is fine too: both are optional in RFC 7517.
        let bare = without(without(jwk(), "use"), "alg");
        assert_eq!(
            JwksVerifier::from_value(&json!({"keys": [bare]}), "iss", "aud")
                .unwrap()
                .kids()
                .len(),
            1
        );
        assert_eq!(
            err(json!({"keys": [rsa]})),
            "the JWKS has no Ed25519 signing key"
        );
        assert_eq!(
            err(json!({"keys": []})),
            "the JWKS has no Ed25519 signing key"
        );
    }

    #[test]
    fn malformed_documents_get_a_clear_error() {
        let cases = [
            (json!(null), "the JWKS has no \"keys\" array"),
            (json!([]), "the JWKS has no \"keys\" array"),
            (json!({"keys": {}}), "the JWKS has no \"keys\" array"),
            (
                json!({"keys": [1]}),
                "key 0 of the JWKS is unusable: not an object",
            ),
            (
                json!({"keys": [jwk(), with(jwk(), "kty", json!(1))]}),
                "key 1 of the JWKS is unusable: a member that must be a string is not",
            ),
            (
                json!({"keys": [without(jwk(), "kid")]}),
                "key 0 of the JWKS is unusable: it has no kid",
            ),
            (
                json!({"keys": [with(jwk(), "kid", json!(""))]}),
                "key 0 of the JWKS is unusable: it has no kid",
            ),
            (
                json!({"keys": [without(jwk(), "x")]}),
                "key 0 of the JWKS is unusable: it has no x",
            ),
            (
                json!({"keys": [with(jwk(), "x", json!("AAAA"))]}),
                "key 0 of the JWKS is unusable: its x is not 32 bytes of unpadded base64url",
            ),
            (
                json!({"keys": [with(jwk(), "x", json!("*"))]}),
                "key 0 of the JWKS is unusable: its x is not 32 bytes of unpadded base64url",
            ),
            (
                json!({"keys": [with(jwk(), "x", json!(URL_SAFE_NO_PAD.encode([0u8; 32])))]}),
                "key 0 of the JWKS is unusable: its x is not a usable Ed25519 public key",
            ),
            (
                json!({"keys": [with(jwk(), "d", json!("secret"))]}),
                "key 0 of the JWKS is unusable: it contains a private key",
            ),
        ];
        for (doc, expected) in cases {
            assert_eq!(err(doc.clone()), expected, "{doc}");
        }
        let twin = jwk();
        let kid = twin["kid"].as_str().unwrap().to_owned();
        assert_eq!(
            err(json!({"keys": [twin.clone(), with(jwk(), "kid", json!(kid))]})),
            format!("the JWKS has more than one key with kid {kid:?}")
        );
        assert_eq!(
            JwksVerifier::from_json("{", "iss", "aud")
                .unwrap_err()
                .to_string(),
            "the JWKS is not valid JSON"
        );
    }

    #[test]
    fn issuer_and_audience_are_required() {
        let doc = json!({"keys": [jwk()]});
        assert_eq!(
            JwksVerifier::from_value(&doc, "", "aud")
                .unwrap_err()
                .to_string(),
            "the token issuer must not be empty"
        );
        assert_eq!(
            JwksVerifier::from_value(&doc, "iss", "")
                .unwrap_err()
                .to_string(),
            "the token audience must not be empty"
        );
    }
}
