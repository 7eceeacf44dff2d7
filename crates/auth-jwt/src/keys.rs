//! Ed25519 key material: signing keys kept in PKCS#8 PEM files, and the public halves that verify
//! tokens, each named by its RFC 7638 JWK thumbprint.

use auth_core::ports::Rng;
use auth_core::token::TokenError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{DecodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt;

/// Key material that cannot be read or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not an Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    #[error("the key is not an Ed25519 private key in PKCS#8 PEM")]
    Pem,
    /// The key could not be encoded as PKCS#8.
    #[error("the key could not be encoded as PKCS#8")]
    Encode,
    /// The bytes are not a point on the curve, or a weak (small-order) one.
    #[error("the bytes are not a usable Ed25519 public key")]
    PublicKey,
}

/// An Ed25519 signing key with its `kid`. `Debug` shows only the `kid`; the secret is wiped on drop.
#[derive(Clone)]
pub struct SigningKey {
    secret: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// A fresh key from 32 bytes of the random port.
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut_slice());
        Self::from_dalek(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a key written by [`SigningKey::to_pkcs8_pem`] or by
    /// `openssl genpkey -algorithm ed25519` (PKCS#8 v1 or v2). A v2 key whose embedded public key
    /// does not match its secret is rejected.
    ///
    /// # Errors
    /// [`KeyError::Pem`] for anything else.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map(Self::from_dalek)
            .map_err(|_| KeyError::Pem)
    }

    /// The key as PKCS#8 v2 PEM (with its public key), LF line endings, for a file only the server
    /// can read. The text is wiped from memory when dropped.
    ///
    /// # Errors
    /// [`KeyError::Encode`] if the encoder fails, which a valid key never makes it do.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// The public half, to keep verifying this key's tokens after it stops signing.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// A signer of tokens with `header`, ready to sign with this key.
    pub(crate) fn compact_signer(&self, header: &Header) -> Result<CompactSigner, KeyError> {
        let header = serde_json::to_vec(header).map_err(|_| KeyError::Encode)?;
        Ok(CompactSigner {
            key: self.secret.clone(),
            header: URL_SAFE_NO_PAD.encode(header),
        })
    }

    fn from_dalek(secret: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::from_dalek(secret.verifying_key());
        Self { secret, public }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// Signs JWS compact serializations (RFC 7515 §7.1) with one header and one Ed25519 key, both
/// prepared once: the header is encoded when the signer is made, and the key stays expanded.
/// (`jsonwebtoken::encode` reads its key from PKCS#8 and derives the public half again for every
/// token, which cost as much as the signature itself.)
#[derive(Clone)]
pub(crate) struct CompactSigner {
    key: ed25519_dalek::SigningKey,
    /// The protected header, in base64url.
    header: String,
}

impl CompactSigner {
    /// `header.claims.signature`, each part in base64url without padding.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
        let mut token = String::with_capacity(self.header.len() + claims.len() * 4 / 3 + 92);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

impl fmt::Debug for CompactSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactSigner").finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
    kid: String,
}

impl PublicKey {
    /// The key with these 32 bytes (the JWK `x`), named by its thumbprint.
    ///
    /// # Errors
    /// [`KeyError::PublicKey`] for bytes that are not a point on the curve or are a weak key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::PublicKey)?;
        if key.is_weak() {
            return Err(KeyError::PublicKey);
        }
        Ok(Self::from_dalek(key))
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as a JWK: `{"kty":"OKP","crv":"Ed25519","x":..,"kid":..,"alg":"EdDSA","use":"sig"}`.
    pub fn to_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.as_bytes()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The same key under the `kid` a JWKS document gave it.
    pub(crate) fn with_kid(self, kid: String) -> Self {
        Self { kid, ..self }
    }

    /// The key in the form `jsonwebtoken` verifies with: for EdDSA its "DER" is the raw 32 bytes.
    pub(crate) fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_ed_der(self.key.as_bytes())
    }

    fn from_dalek(key: ed25519_dalek::VerifyingKey) -> Self {
        let kid = thumbprint(&URL_SAFE_NO_PAD.encode(key.as_bytes()));
        Self { key, kid }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The RFC 7638 thumbprint of an Ed25519 JWK: base64url SHA-256 of its required members in
/// lexicographic order without whitespace (RFC 8037 §2). `x` is base64url, so needs no escaping.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let digest: [u8; 32] = Sha256::digest(canonical.as_bytes()).into();
    URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::ports::OsRng;

    /// RFC 8037 appendix A.1: the secret key `d`, its public key `x`, and (A.3) the thumbprint.
    const RFC_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC_KID: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    /// Hands out fixed bytes, so a "generated" key is a known one.
    struct FixedRng(Vec<u8>);

    impl Rng for FixedRng {
        fn fill(&self, buf: &mut [u8]) {
            buf.copy_from_slice(&self.0[..buf.len()]);
        }
    }

    fn rfc_key() -> SigningKey {
        SigningKey::generate(&FixedRng(URL_SAFE_NO_PAD.decode(RFC_D).unwrap()))
    }

    /// What `openssl genpkey -algorithm ed25519` writes: PKCS#8 v1, the seed after a fixed prefix.
    fn openssl_style_pem(seed: &[u8]) -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(seed);
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint_of_the_rfc_8037_example_key() {
        let key = rfc_key();
        assert_eq!(key.public_key().to_jwk()["x"], RFC_X);
        assert_eq!(key.kid(), RFC_KID);
    }

    #[test]
    fn kid_is_stable_across_pem_round_trips_and_public_key_copies() {
        let key = SigningKey::generate(&OsRng);
        let again = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(
            PublicKey::from_bytes(&key.public_key().to_bytes())
                .unwrap()
                .kid(),
            key.kid()
        );
        assert_eq!(key.kid().len(), 43, "base64url of 32 bytes, unpadded");
        assert_ne!(SigningKey::generate(&OsRng).kid(), key.kid());
    }

    #[test]
    fn pem_round_trip_keeps_the_secret() {
        let key = SigningKey::generate(&OsRng);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{}",
            &pem[..20]
        );
        let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.secret.to_bytes(), key.secret.to_bytes());
        // Files often gain surrounding whitespace or CRLF line ends.
        let crlf = format!("\n{}\n", pem.replace('\n', "\r\n"));
        assert_eq!(SigningKey::from_pkcs8_pem(&crlf).unwrap().kid(), key.kid());
    }

    #[test]
    fn reads_the_pkcs8_v1_pem_that_openssl_writes() {
        let pem = openssl_style_pem(&URL_SAFE_NO_PAD.decode(RFC_D).unwrap());
        assert_eq!(SigningKey::from_pkcs8_pem(&pem).unwrap().kid(), RFC_KID);
    }

    #[test]
    fn rejects_pem_that_is_not_an_ed25519_private_key() {
        let key = SigningKey::generate(&OsRng);
        let pem = key.to_pkcs8_pem().unwrap();
        let public_pem = {
            use ed25519_dalek::pkcs8::EncodePublicKey;
            key.secret
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
        };
        let mut flipped = pem.to_string().into_bytes();
        flipped[60] = if flipped[60] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            "",
            "not a key",
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
            &openssl_style_pem(&[7u8; 31]),
            &pem.replace("PRIVATE KEY", "EC PRIVATE KEY"),
            &public_pem,
            &flipped,
        ] {
            assert_eq!(
                SigningKey::from_pkcs8_pem(bad).map(|k| k.kid().to_owned()),
                Err(KeyError::Pem),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_v2_pem_whose_public_key_does_not_match_is_rejected() {
        let key = SigningKey::generate(&OsRng);
        let other = SigningKey::generate(&OsRng);
        let der = key.secret.to_pkcs8_der().unwrap();
        let mut bytes = der.as_bytes().to_vec();
        // PKCS#8 v2 ends with the 32-byte public key.
        let n = bytes.len();
        bytes[n - 32..].copy_from_slice(&other.public_key().to_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        assert!(SigningKey::from_pkcs8_pem(&pem).is_err());
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = SigningKey::generate(&OsRng);
        let pem = key.to_pkcs8_pem().unwrap();
        let shown = format!("{key:?} {:?} {key:#?}", key.public_key());
        assert_eq!(
            format!("{key:?}"),
            format!("SigningKey {{ kid: {:?}, .. }}", key.kid())
        );
        let secret_b64 = URL_SAFE_NO_PAD.encode(key.secret.to_bytes());
        let secret_hex: String = key
            .secret
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let pem_body = pem.lines().nth(1).unwrap();
        for leak in [
            secret_b64.as_str(),
            &secret_hex,
            pem_body,
            &format!("{:?}", key.secret.to_bytes()),
        ] {
            assert!(!shown.contains(leak), "{shown}");
        }
    }

    #[test]
    fn public_keys_reject_points_off_the_curve_and_weak_keys() {
        // The identity point encodes as 1 followed by zeros: small order, so weak.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::PublicKey));
        assert_eq!(PublicKey::from_bytes(&[0u8; 32]), Err(KeyError::PublicKey));
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(PublicKey::from_bytes(&off_curve), Err(KeyError::PublicKey));
    }

    #[test]
    fn the_jwk_has_exactly_the_published_members() {
        let key = SigningKey::generate(&OsRng);
        let jwk = key.public_key().to_jwk();
        let mut members: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        members.sort_unstable();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"]);
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(
            (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
            (
                &json!("OKP"),
                &json!("Ed25519"),
                &json!("EdDSA"),
                &json!("sig")
            )
        );
    }
}
