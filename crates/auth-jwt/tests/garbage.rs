//! Hostile input of every shape is refused, never a panic.

use auth_core::ports::{AccessVerifier, OsRng, TokenIssuer};
use auth_core::token::TokenError;
use auth_jwt::{JwksVerifier, JwtIssuer, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::LazyLock;

const ISS: &str = "https://auth.example.test";
const AUD: &str = "https://api.example.test";

static ISSUER: LazyLock<JwtIssuer> = LazyLock::new(|| {
    JwtIssuer::new(ISS, AUD, SigningKey::generate(&OsRng), vec![], &[3u8; 32]).unwrap()
});
static JWKS: LazyLock<JwksVerifier> =
    LazyLock::new(|| JwksVerifier::from_value(&ISSUER.jwks(), ISS, AUD).unwrap());

/// Every verifier refuses `token`.
fn refused_everywhere(token: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        TokenIssuer::verify_access(&*ISSUER, token),
        Err(TokenError::Invalid)
    );
    prop_assert_eq!(ISSUER.verify_attempt(token), Err(TokenError::Invalid));
    prop_assert_eq!(JWKS.verify_access(token), Err(TokenError::Invalid));
    Ok(())
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("EdDSA"),
            Just("HS256"),
            Just("none"),
            Just("at+jwt"),
            Just("attempt+jwt"),
            Just(ISS),
            Just(AUD)
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_owned()),
                    Just("typ".to_owned()),
                    Just("kid".to_owned()),
                    Just("crit".to_owned()),
                    Just("iss".to_owned()),
                    Just("aud".to_owned()),
                    Just("sub".to_owned()),
                    Just("exp".to_owned()),
                    Just("nbf".to_owned()),
                    Just("amr".to_owned()),
                    "[a-z]{1,5}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

proptest! {
    #[test]
    fn arbitrary_text_is_refused(s in "\\PC{0,200}") {
        refused_everywhere(&s)?;
    }

    #[test]
    fn arbitrary_dotted_base64_is_refused(segments in prop::collection::vec("[A-Za-z0-9_=+/-]{0,60}", 0..6)) {
        refused_everywhere(&segments.join("."))?;
    }

    #[test]
    fn arbitrary_json_header_and_claims_are_refused(header in any_json(), claims in any_json(), sig in "[A-Za-z0-9_-]{0,90}") {
        refused_everywhere(&format!("{}.{}.{sig}", b64(&header), b64(&claims)))?;
    }

    #[test]
    fn a_real_header_over_arbitrary_claims_is_refused(claims in any_json(), mutate_sig in any::<bool>()) {
        // Our real header and signature, spliced onto a different body.
        let kid = ISSUER.current_kid();
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        let sig = if mutate_sig { "A".repeat(86) } else { String::new() };
        refused_everywhere(&format!("{}.{}.{sig}", b64(&header), b64(&claims)))?;
    }

    #[test]
    fn truncating_or_corrupting_a_real_token_is_refused(cut in 0usize..400, at in 0usize..400, byte in any::<u8>()) {
        let claims = auth_core::token::AccessClaims {
            user_id: auth_core::UserId::random(&OsRng),
            session_id: auth_core::SessionId::random(&OsRng),
            method: auth_core::session::AuthMethod::EmailCode,
            auth_time: auth_core::Timestamp::from_millis(0),
            issued_at: auth_core::Timestamp::from_millis(0),
            expires_at: auth_core::Timestamp::from_millis(i64::MAX / 2),
        };
        let token = ISSUER.issue_access(&claims).unwrap();
        let cut = cut.min(token.len().saturating_sub(1));
        refused_everywhere(&token[..cut])?;
        let mut bytes = token.clone().into_bytes();
        let at = at % bytes.len();
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        // Anything but a change that leaves the three decoded parts the same must fail.
        if let Ok(s) = String::from_utf8(bytes) {
            let same = s.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
                == token.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
            if !same {
                prop_assert_eq!(JWKS.verify_access(&s), Err(TokenError::Invalid));
            }
        }
    }

    #[test]
    fn arbitrary_jwks_text_never_panics(s in "\\PC{0,200}") {
        let _ = JwksVerifier::from_json(&s, ISS, AUD);
    }

    #[test]
    fn arbitrary_jwks_documents_never_panic(keys in prop::collection::vec(any_json(), 0..4), x in "[A-Za-z0-9_-]{0,50}") {
        let mut entries = keys;
        entries.push(json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": x}));
        let _ = JwksVerifier::from_value(&json!({"keys": entries}), ISS, AUD);
        let _ = JwksVerifier::from_value(&Value::Array(entries), ISS, AUD);
    }
}
