//! Issuer, audience and keys: foreign issuers and audiences, unknown kids, other secrets, key
//! rotation, the JWKS document, configuration checks and a `Debug` that hides secrets.

use super::*;

#[test]
fn tokens_for_another_issuer_or_audience_are_refused() {
    let f = fixture();
    let other_iss = issuer_with(
        "https://other-auth.example",
        AUD,
        f.key.clone(),
        vec![],
        &f.clock,
    );
    let other_aud = issuer_with(
        ISS,
        "https://other-api.example",
        f.key.clone(),
        vec![],
        &f.clock,
    );
    for other in [&other_iss, &other_aud] {
        let token = other
            .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
            .unwrap();
        assert!(access(other, &token).is_ok());
        assert_eq!(access(&f.issuer, &token), Err(TokenError::Invalid));
    }
    let foreign_attempt = other_iss.issue_attempt(&ticket_at(now(&f))).unwrap();
    assert_eq!(
        f.issuer.verify_attempt(&foreign_attempt),
        Err(TokenError::Invalid)
    );
}

#[test]
fn unknown_kid_is_refused_even_with_a_good_signature() {
    let f = fixture();
    let stranger = SigningKey::generate(&OsRng);
    let claims = good_access_claims(&f);
    assert_eq!(
        access(
            &f.issuer,
            &sign_ed(&stranger, &ed_header(stranger.kid()), &claims)
        ),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(
            &f.issuer,
            &sign_ed(&stranger, &ed_header(f.key.kid()), &claims)
        ),
        Err(TokenError::Invalid),
        "our kid, their key"
    );
    assert_eq!(
        access(
            &f.issuer,
            &sign_ed(&f.key, &ed_header("no-such-kid"), &claims)
        ),
        Err(TokenError::Invalid),
        "our key, unknown kid"
    );
}

#[test]
fn attempt_tokens_under_another_secret_are_refused() {
    let f = fixture();
    let other = JwtIssuer::new(ISS, AUD, f.key.clone(), vec![], &[9u8; 32])
        .unwrap()
        .with_clock(f.clock.clone());
    let token = other.issue_attempt(&ticket_at(now(&f))).unwrap();
    assert!(other.verify_attempt(&token).is_ok());
    assert_eq!(f.issuer.verify_attempt(&token), Err(TokenError::Invalid));
}

#[test]
fn rotation_keeps_retained_keys_verifying_and_forgets_removed_ones() {
    let f = fixture();
    let old_token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::Passkey))
        .unwrap();
    let new_key = SigningKey::generate(&OsRng);

    let rotated = issuer_with(
        ISS,
        AUD,
        new_key.clone(),
        vec![f.key.public_key().clone()],
        &f.clock,
    );
    assert!(
        access(&rotated, &old_token).is_ok(),
        "a retained key still verifies"
    );
    let new_token = rotated
        .issue_access(&claims_at(now(&f), AuthMethod::Passkey))
        .unwrap();
    assert_eq!(
        parts(&new_token).0["kid"],
        new_key.kid(),
        "new tokens use the current key"
    );
    assert_eq!(rotated.current_kid(), new_key.kid());
    assert_eq!(
        access(&f.issuer, &new_token),
        Err(TokenError::Invalid),
        "the old issuer does not know the new key"
    );
    let kids: Vec<Value> = rotated.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(
        kids,
        [json!(new_key.kid()), json!(f.key.kid())],
        "current first"
    );

    let removed = issuer_with(ISS, AUD, new_key, vec![], &f.clock);
    assert_eq!(
        access(&removed, &old_token),
        Err(TokenError::Invalid),
        "a removed key no longer verifies"
    );
    assert!(access(&removed, &new_token).is_ok());
}

#[test]
fn the_jwks_lists_public_parts_only_and_each_key_once() {
    let f = fixture();
    let older = SigningKey::generate(&OsRng);
    let issuer = issuer_with(
        ISS,
        AUD,
        f.key.clone(),
        vec![
            older.public_key().clone(),
            f.key.public_key().clone(),
            older.public_key().clone(),
        ],
        &f.clock,
    );
    let jwks = issuer.jwks();
    assert_eq!(
        jwks,
        json!({"keys": [f.key.public_key().to_jwk(), older.public_key().to_jwk()]})
    );
    assert_eq!(
        jwks["keys"][0]["x"],
        URL_SAFE_NO_PAD.encode(f.key.public_key().to_bytes())
    );
    assert!(!jwks.to_string().contains("\"d\""));
}

#[test]
fn configuration_is_checked() {
    let key = || SigningKey::generate(&OsRng);
    let err = |iss: &str, aud: &str, secret: &[u8]| {
        JwtIssuer::new(iss, aud, key(), vec![], secret).unwrap_err()
    };
    assert_eq!(err("", AUD, SECRET), ConfigError::EmptyIssuer);
    assert_eq!(err(ISS, "", SECRET), ConfigError::EmptyAudience);
    assert_eq!(
        err(ISS, ATTEMPT_AUDIENCE, SECRET),
        ConfigError::ReservedAudience
    );
    assert_eq!(
        err(ISS, AUD, &SECRET[..31]),
        ConfigError::AttemptSecretTooShort
    );
    assert_eq!(
        ConfigError::AttemptSecretTooShort.to_string(),
        "the attempt-token secret must be at least 32 bytes"
    );
}

#[test]
fn debug_shows_kids_but_no_secret() {
    let f = fixture();
    let shown = format!("{:?} {:#?}", f.issuer, f.issuer);
    assert!(shown.contains(f.key.kid()), "{shown}");
    assert!(shown.contains(ISS), "{shown}");
    let pem = f.key.to_pkcs8_pem().unwrap();
    let secret_text = String::from_utf8_lossy(SECRET).into_owned();
    for leak in [
        secret_text.as_str(),
        &format!("{:?}", SECRET.as_slice()),
        pem.lines().nth(1).unwrap(),
    ] {
        assert!(!shown.contains(leak), "{shown}");
    }
}
