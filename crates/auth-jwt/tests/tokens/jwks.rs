//! `JwksVerifier`, the verifier other services use: it accepts what the issuer publishes and
//! nothing else.

use super::*;

#[test]
fn jwks_verifier_accepts_what_the_issuer_publishes_and_nothing_else() {
    let f = fixture();
    let older = SigningKey::generate(&OsRng);
    let old_issuer = issuer_with(ISS, AUD, older.clone(), vec![], &f.clock);
    let issuer = issuer_with(
        ISS,
        AUD,
        f.key.clone(),
        vec![older.public_key().clone()],
        &f.clock,
    );
    let from_text = JwksVerifier::from_json(&issuer.jwks().to_string(), ISS, AUD)
        .unwrap()
        .with_clock(f.clock.clone());
    let from_value = JwksVerifier::from_value(&issuer.jwks(), ISS, AUD)
        .unwrap()
        .with_clock(f.clock.clone());

    let claims = claims_at(now(&f), AuthMethod::Recovery);
    let current = issuer.issue_access(&claims).unwrap();
    let old = old_issuer.issue_access(&claims).unwrap();
    for v in [&from_text, &from_value] {
        assert_eq!(v.verify_access(&current), Ok(claims.clone()));
        assert_eq!(v.verify_access(&old), Ok(claims.clone()));
    }

    let stranger = issuer_with(ISS, AUD, SigningKey::generate(&OsRng), vec![], &f.clock);
    let wrong_iss =
        JwksVerifier::from_value(&issuer.jwks(), "https://other-auth.example", AUD).unwrap();
    let wrong_aud =
        JwksVerifier::from_value(&issuer.jwks(), ISS, "https://other-api.example").unwrap();
    assert_eq!(
        from_text.verify_access(&stranger.issue_access(&claims).unwrap()),
        Err(TokenError::Invalid)
    );
    assert_eq!(wrong_iss.verify_access(&current), Err(TokenError::Invalid));
    assert_eq!(wrong_aud.verify_access(&current), Err(TokenError::Invalid));
    assert_eq!(
        from_text.verify_access(&issuer.issue_attempt(&ticket_at(now(&f))).unwrap()),
        Err(TokenError::Invalid)
    );

    f.clock.advance(Duration::from_secs(900) + LEEWAY);
    assert_eq!(
        from_text.verify_access(&current),
        Err(TokenError::Invalid),
        "expired"
    );
}

#[test]
fn jwks_verifier_uses_the_system_clock_by_default() {
    use auth_core::ports::{Clock, SystemClock};
    let key = SigningKey::generate(&OsRng);
    let issuer = JwtIssuer::new(ISS, AUD, key, vec![], SECRET).unwrap();
    let verifier = JwksVerifier::from_value(&issuer.jwks(), ISS, AUD).unwrap();
    let fresh = claims_at(SystemClock.now(), AuthMethod::EmailCode);
    assert!(
        verifier
            .verify_access(&issuer.issue_access(&fresh).unwrap())
            .is_ok()
    );
    let stale = claims_at(
        SystemClock.now().minus(Duration::from_secs(3600)),
        AuthMethod::EmailCode,
    );
    assert_eq!(
        verifier.verify_access(&issuer.issue_access(&stale).unwrap()),
        Err(TokenError::Invalid)
    );
}
