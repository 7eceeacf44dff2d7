//! Time: expiry and tokens from the future, each with the leeway and no more.

use super::*;

#[test]
fn expired_tokens_are_refused_once_the_leeway_is_spent() {
    let f = fixture();
    let claims = claims_at(now(&f), AuthMethod::EmailCode);
    let token = f.issuer.issue_access(&claims).unwrap();
    let ticket = ticket_at(now(&f));
    let attempt = f.issuer.issue_attempt(&ticket).unwrap();

    f.clock
        .advance(claims.expires_at.since(now(&f)) + LEEWAY - Duration::from_millis(1));
    assert!(access(&f.issuer, &token).is_ok(), "within the leeway");
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(access(&f.issuer, &token), Err(TokenError::Invalid));

    f.clock
        .advance(ticket.expires_at.since(now(&f)) + LEEWAY - Duration::from_millis(1));
    assert!(
        f.issuer.verify_attempt(&attempt).is_ok(),
        "within the leeway"
    );
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(f.issuer.verify_attempt(&attempt), Err(TokenError::Invalid));
}

#[test]
fn tokens_from_the_future_are_refused_beyond_the_leeway() {
    let f = fixture();
    let soon = claims_at(now(&f).plus(LEEWAY), AuthMethod::EmailCode);
    assert!(
        access(&f.issuer, &f.issuer.issue_access(&soon).unwrap()).is_ok(),
        "a clock a little ahead is tolerated"
    );
    let later = claims_at(
        now(&f).plus(LEEWAY + Duration::from_secs(1)),
        AuthMethod::EmailCode,
    );
    let token = f.issuer.issue_access(&later).unwrap();
    assert_eq!(access(&f.issuer, &token), Err(TokenError::Invalid));
    f.clock.advance(Duration::from_secs(1));
    assert!(
        access(&f.issuer, &token).is_ok(),
        "valid once its nbf is near"
    );
}

#[test]
fn a_token_verified_before_is_judged_by_the_clock_on_every_use() {
    let f = fixture();
    let claims = claims_at(now(&f), AuthMethod::Passkey);
    let token = f.issuer.issue_access(&claims).unwrap();
    for _ in 0..3 {
        assert_eq!(access(&f.issuer, &token), Ok(claims.clone()), "used again");
    }
    f.clock.advance(Duration::from_secs(900) + LEEWAY);
    assert_eq!(
        access(&f.issuer, &token),
        Err(TokenError::Invalid),
        "a remembered token expires like any other"
    );
}
