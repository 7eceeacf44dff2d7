//! ID tokens: EdDSA with the current key and RS256 with an operator's RSA key (made by the
//! openssl CLI, as the operator would), each verified against the public key the JWKS publishes.

use auth_core::Timestamp;
use auth_core::ids::{SessionId, UserId};
use auth_core::oidc::{ClientId, IdTokenAlg};
use auth_core::ports::{IdTokenClaims, IdTokenSigner, OsRng, TokenIssuer};
use auth_core::session::AuthMethod;
use auth_jwt::{IdTokens, JwtIssuer, RsaKeyError, RsaSigningKey, SigningKey};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::process::Command;

fn claims() -> IdTokenClaims {
    let now = Timestamp::from_millis(4_000_000_000_000);
    IdTokenClaims {
        issuer: "https://auth.example.test".to_owned(),
        subject: UserId::random(&OsRng),
        audience: ClientId::parse("app").unwrap(),
        issued_at: now,
        expires_at: now.plus(std::time::Duration::from_secs(900)),
        auth_time: now,
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        method: AuthMethod::Passkey,
        session_id: SessionId::random(&OsRng),
        email: Some("ada@example.test".to_owned()),
        name: None,
    }
}

fn rsa_pem() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rsa.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI runs");
    assert!(status.success());
    std::fs::read(&path).unwrap()
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_audience(&["app"]);
    v.set_issuer(&["https://auth.example.test"]);
    v
}

#[test]
fn eddsa_id_tokens_verify_with_the_published_key_and_carry_the_claims() {
    let key = SigningKey::generate(&OsRng);
    let signer = IdTokens::new("https://auth.example.test", &key, None).unwrap();
    assert_eq!(signer.algorithms(), vec![IdTokenAlg::EdDSA]);
    let token = signer.sign_id_token(&claims(), IdTokenAlg::EdDSA).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_key().to_jwk()).unwrap();
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation(Algorithm::EdDSA),
    )
    .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    let c = data.claims;
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["amr"], serde_json::json!(["hwk", "user"]));
    assert_eq!(c["email"], "ada@example.test");
    assert_eq!(c["email_verified"], true);
    assert!(c.get("name").is_none(), "no name without the profile scope");
    assert!(
        signer.sign_id_token(&claims(), IdTokenAlg::RS256).is_err(),
        "RS256 without an RSA key fails instead of falling back"
    );
}

#[test]
fn rs256_id_tokens_verify_with_the_rsa_key_the_jwks_publishes() {
    let rsa = RsaSigningKey::from_pkcs8(&rsa_pem()).unwrap();
    let kid = rsa.kid().to_owned();
    let key = SigningKey::generate(&OsRng);
    let signer = IdTokens::new(
        "https://auth.example.test",
        &key,
        Some(std::sync::Arc::new(rsa)),
    )
    .unwrap();
    let jwk_value = signer.rsa_jwk().unwrap().clone();
    assert_eq!(jwk_value["alg"], "RS256");
    let issuer = JwtIssuer::new("https://auth.example.test", "auth", key, [], &[7u8; 32])
        .unwrap()
        .with_published_key(jwk_value.clone());
    let jwks = issuer.jwks();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str()),
        "the JWKS lists the RSA key"
    );
    let token = signer.sign_id_token(&claims(), IdTokenAlg::RS256).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk_value).unwrap();
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation(Algorithm::RS256),
    )
    .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(data.claims["nonce"], "n-0S6_WzA2Mj");
}

#[test]
fn rsa_keys_must_be_pkcs8_and_large_enough() {
    assert_eq!(
        RsaSigningKey::from_pkcs8(
            b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n"
        )
        .unwrap_err(),
        RsaKeyError::Format
    );
    assert_eq!(
        RsaSigningKey::from_pkcs8(b"\x30\x03\x02\x01\x00").unwrap_err(),
        RsaKeyError::Rejected
    );
    let ed = SigningKey::generate(&OsRng).to_pkcs8_pem().unwrap();
    assert!(
        RsaSigningKey::from_pkcs8(ed.as_bytes()).is_err(),
        "an Ed25519 key is not an RSA key"
    );
}

#[test]
fn an_apps_access_token_is_good_at_userinfo_only_and_ours_is_not_good_there() {
    let key = SigningKey::generate(&OsRng);
    let signer = IdTokens::new("https://auth.example.test", &key, None).unwrap();
    let issuer = JwtIssuer::new("https://auth.example.test", "auth", key, [], &[7u8; 32]).unwrap();
    let now = auth_core::ports::Clock::now(&auth_core::ports::SystemClock);
    let claims = auth_core::token::AccessClaims {
        user_id: UserId::random(&OsRng),
        session_id: SessionId::random(&OsRng),
        method: AuthMethod::EmailCode,
        auth_time: now,
        issued_at: now,
        expires_at: now.plus(std::time::Duration::from_secs(900)),
    };
    let apps = signer.issue_client_access(&claims).unwrap();
    let back = signer.verify_client_access(&apps).unwrap();
    assert_eq!(
        (back.user_id, back.session_id),
        (claims.user_id, claims.session_id)
    );
    assert_eq!(auth_jwt::CLIENT_ACCESS_AUDIENCE, "userinfo");
    assert!(
        issuer.verify_access(&apps).is_err(),
        "our API and services that accept our tokens refuse an app's token (another audience)"
    );
    let ours = issuer.issue_access(&claims).unwrap();
    assert!(
        signer.verify_client_access(&ours).is_err(),
        "userinfo refuses our own tokens"
    );
}
