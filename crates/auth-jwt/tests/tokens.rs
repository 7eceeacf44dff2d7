//! The token port against real signatures: round trips, forgeries, time, rotation and JWKS.

use auth_core::Timestamp;
use auth_core::code::ClientSecret;
use auth_core::ids::{AttemptId, SessionId, UserId};
use auth_core::ports::{AccessVerifier, OsRng, TokenIssuer};
use auth_core::session::AuthMethod;
use auth_core::testkit::ManualClock;
use auth_core::token::{AccessClaims, AttemptTicket, TokenError};
use auth_jwt::{
    ACCESS_TOKEN_TYPE, ATTEMPT_AUDIENCE, ATTEMPT_TOKEN_TYPE, ConfigError, JwksVerifier, JwtIssuer,
    LEEWAY, MAX_TOKEN_LEN, PublicKey, SigningKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const ISS: &str = "https://auth.example.test";
const AUD: &str = "https://api.example.test";
const SECRET: &[u8; 32] = b"attempt-token-secret-32-bytes-ok";
/// A whole second, so claims survive the trip through NumericDate seconds unchanged.
const T0: i64 = 1_750_000_000_000;

struct Fixture {
    key: SigningKey,
    clock: Arc<ManualClock>,
    issuer: JwtIssuer,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate(&OsRng);
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(T0)));
    let issuer = issuer_with(ISS, AUD, key.clone(), vec![], &clock);
    Fixture { key, clock, issuer }
}

fn issuer_with(
    iss: &str,
    aud: &str,
    key: SigningKey,
    older: Vec<PublicKey>,
    clock: &Arc<ManualClock>,
) -> JwtIssuer {
    JwtIssuer::new(iss, aud, key, older, SECRET)
        .unwrap()
        .with_clock(clock.clone())
}

fn now(f: &Fixture) -> Timestamp {
    use auth_core::ports::Clock;
    f.clock.now()
}

fn claims_at(at: Timestamp, method: AuthMethod) -> AccessClaims {
    AccessClaims {
        user_id: UserId::random(&OsRng),
        session_id: SessionId::random(&OsRng),
        method,
        auth_time: at.minus(Duration::from_secs(3600)),
        issued_at: at,
        expires_at: at.plus(Duration::from_secs(900)),
    }
}

fn ticket_at(at: Timestamp) -> AttemptTicket {
    AttemptTicket {
        attempt_id: AttemptId::random(&OsRng),
        secret: ClientSecret::generate(&OsRng),
        expires_at: at.plus(Duration::from_secs(1800)),
    }
}

fn access(v: &dyn AccessVerifier, token: &str) -> Result<AccessClaims, TokenError> {
    v.verify_access(token)
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn parts(token: &str) -> (Value, Value, String) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3, "{token}");
    let json =
        |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (json(p[0]), json(p[1]), p[2].to_owned())
}

/// Signs any header and claims with `key`, the way a forger holding the key (or a bug) would.
fn sign_ed(key: &SigningKey, header: &Header, claims: &Value) -> String {
    let pem = key.to_pkcs8_pem().unwrap();
    jsonwebtoken::encode(
        header,
        claims,
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn ed_header(kid: &str) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    h.kid = Some(kid.to_owned());
    h
}

fn good_access_claims(f: &Fixture) -> Value {
    let t = now(f).as_secs();
    json!({
        "iss": ISS, "aud": AUD, "sub": UserId::random(&OsRng).to_string(), "sid": SessionId::random(&OsRng).to_string(),
        "amr": ["otp"], "auth_time": t, "iat": t, "nbf": t, "exp": t + 900,
    })
}

// ---- round trips -----------------------------------------------------------------------------

#[test]
fn access_tokens_round_trip_for_every_method() {
    let f = fixture();
    for method in [
        AuthMethod::EmailCode,
        AuthMethod::Recovery,
        AuthMethod::Passkey,
    ] {
        let claims = claims_at(now(&f), method);
        let token = f.issuer.issue_access(&claims).unwrap();
        assert_eq!(
            TokenIssuer::verify_access(&f.issuer, &token),
            Ok(claims.clone())
        );
        assert_eq!(access(&f.issuer, &token), Ok(claims));
    }
}

#[test]
fn access_tokens_carry_the_documented_header_and_claims() {
    let f = fixture();
    let claims = claims_at(now(&f), AuthMethod::Passkey);
    let (header, payload, _) = parts(&f.issuer.issue_access(&claims).unwrap());
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": f.key.kid()})
    );
    let secs = |t: Timestamp| t.as_secs();
    assert_eq!(
        payload,
        json!({
            "iss": ISS, "aud": AUD, "sub": claims.user_id.to_string(), "sid": claims.session_id.to_string(),
            "amr": ["hwk", "user"], "auth_time": secs(claims.auth_time), "iat": secs(claims.issued_at),
            "nbf": secs(claims.issued_at), "exp": secs(claims.expires_at),
        })
    );
    assert_eq!(f.issuer.current_kid(), f.key.kid());
}

#[test]
fn attempt_tokens_round_trip_and_carry_only_id_secret_and_expiry() {
    let f = fixture();
    let ticket = ticket_at(now(&f));
    let token = f.issuer.issue_attempt(&ticket).unwrap();
    assert_eq!(f.issuer.verify_attempt(&token), Ok(ticket.clone()));
    let (header, payload, _) = parts(&token);
    assert_eq!(header, json!({"alg": "HS256", "typ": ATTEMPT_TOKEN_TYPE}));
    assert_eq!(
        payload,
        json!({
            "iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": ticket.attempt_id.to_string(),
            "secret": URL_SAFE_NO_PAD.encode(ticket.secret.as_bytes()), "exp": ticket.expires_at.as_secs(),
        })
    );
}

#[test]
fn sub_second_precision_is_dropped_towards_earlier() {
    let f = fixture();
    let mut claims = claims_at(now(&f), AuthMethod::EmailCode);
    claims.expires_at = claims.expires_at.plus(Duration::from_millis(999));
    let back = access(&f.issuer, &f.issuer.issue_access(&claims).unwrap()).unwrap();
    assert_eq!(
        back.expires_at,
        claims.expires_at.minus(Duration::from_millis(999))
    );
}

// ---- the two kinds never stand in for each other -----------------------------------------------

#[test]
fn an_access_token_is_never_an_attempt_token_and_vice_versa() {
    let f = fixture();
    let access_token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
        .unwrap();
    let attempt_token = f.issuer.issue_attempt(&ticket_at(now(&f))).unwrap();
    assert_eq!(
        f.issuer.verify_attempt(&access_token),
        Err(TokenError::Invalid)
    );
    assert_eq!(access(&f.issuer, &attempt_token), Err(TokenError::Invalid));
    let jwks = JwksVerifier::from_value(&f.issuer.jwks(), ISS, AUD).unwrap();
    assert_eq!(jwks.verify_access(&attempt_token), Err(TokenError::Invalid));
}

#[test]
fn relabelled_tokens_of_one_kind_do_not_pass_as_the_other() {
    let f = fixture();
    let t = now(&f).as_secs();
    let ticket_claims = json!({
        "iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": AttemptId::random(&OsRng).to_string(),
        "secret": URL_SAFE_NO_PAD.encode([1u8; 32]), "exp": t + 60,
    });
    // Attempt claims signed with the access key under the attempt `typ`: wrong algorithm.
    let mut h = ed_header(f.key.kid());
    h.typ = Some(ATTEMPT_TOKEN_TYPE.to_owned());
    assert_eq!(
        f.issuer
            .verify_attempt(&sign_ed(&f.key, &h, &ticket_claims)),
        Err(TokenError::Invalid)
    );
    // Access claims under HS256 with the attempt secret, dressed as an access token: wrong algorithm.
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    h.kid = Some(f.key.kid().to_owned());
    let forged = jsonwebtoken::encode(
        &h,
        &good_access_claims(&f),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(access(&f.issuer, &forged), Err(TokenError::Invalid));
    // Access claims under HS256 and the attempt `typ`: the audience and claims are wrong.
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some(ATTEMPT_TOKEN_TYPE.to_owned());
    let forged = jsonwebtoken::encode(
        &h,
        &good_access_claims(&f),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(f.issuer.verify_attempt(&forged), Err(TokenError::Invalid));
    // The control: the same recipe with the right claims does verify, so the cases above failed
    // for the reason they name.
    let good = jsonwebtoken::encode(&h, &ticket_claims, &EncodingKey::from_secret(SECRET)).unwrap();
    assert!(f.issuer.verify_attempt(&good).is_ok());
}

// ---- forgeries and tampering -------------------------------------------------------------------

#[test]
fn tampered_signature_payload_or_header_is_invalid() {
    let f = fixture();
    let token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
        .unwrap();
    let (header, mut payload, sig) = parts(&token);
    let [h, p, _]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();

    let mut sig_bytes = URL_SAFE_NO_PAD.decode(&sig).unwrap();
    sig_bytes[10] ^= 1;
    assert_eq!(
        access(
            &f.issuer,
            &format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&sig_bytes))
        ),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(&f.issuer, &format!("{h}.{p}.")),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(&f.issuer, &format!("{h}.{p}")),
        Err(TokenError::Invalid)
    );

    payload["sub"] = json!(UserId::random(&OsRng).to_string());
    assert_eq!(
        access(&f.issuer, &format!("{h}.{}.{sig}", b64json(&payload))),
        Err(TokenError::Invalid)
    );

    let mut header = header;
    header["typ"] = json!("JWT");
    assert_eq!(
        access(&f.issuer, &format!("{}.{p}.{sig}", b64json(&header))),
        Err(TokenError::Invalid)
    );

    let attempt = f.issuer.issue_attempt(&ticket_at(now(&f))).unwrap();
    let (_, mut payload, sig) = parts(&attempt);
    let h = attempt.split('.').next().unwrap();
    payload["secret"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32]));
    assert_eq!(
        f.issuer
            .verify_attempt(&format!("{h}.{}.{sig}", b64json(&payload))),
        Err(TokenError::Invalid)
    );
}

#[test]
fn alg_none_is_refused_in_every_spelling() {
    let f = fixture();
    let claims = good_access_claims(&f);
    let token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
        .unwrap();
    let sig = token.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", ""] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": f.key.kid()});
        let unsigned = format!("{}.{}", b64json(&header), b64json(&claims));
        for t in [format!("{unsigned}."), format!("{unsigned}.{sig}")] {
            assert_eq!(access(&f.issuer, &t), Err(TokenError::Invalid), "{alg}");
        }
        let header = json!({"alg": alg, "typ": ATTEMPT_TOKEN_TYPE});
        let ticket = json!({"iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": AttemptId::random(&OsRng).to_string(), "secret": URL_SAFE_NO_PAD.encode([1u8; 32]), "exp": now(&f).as_secs() + 60});
        assert_eq!(
            f.issuer
                .verify_attempt(&format!("{}.{}.", b64json(&header), b64json(&ticket))),
            Err(TokenError::Invalid),
            "{alg}"
        );
    }
}

#[test]
fn hs256_forged_with_the_public_key_as_secret_is_refused() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let f = fixture();
    let public = f.key.public_key();
    let x = URL_SAFE_NO_PAD.encode(public.to_bytes());
    let pem = ed25519_dalek::VerifyingKey::from_bytes(&public.to_bytes())
        .unwrap()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    let jwks_text = f.issuer.jwks().to_string();
    let jwks = JwksVerifier::from_json(&jwks_text, ISS, AUD).unwrap();
    for secret in [
        &public.to_bytes()[..],
        x.as_bytes(),
        pem.as_bytes(),
        jwks_text.as_bytes(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut h = Header::new(alg);
            h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
            h.kid = Some(f.key.kid().to_owned());
            let forged = jsonwebtoken::encode(
                &h,
                &good_access_claims(&f),
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            assert_eq!(access(&f.issuer, &forged), Err(TokenError::Invalid));
            assert_eq!(jwks.verify_access(&forged), Err(TokenError::Invalid));
        }
    }
}

#[test]
fn a_properly_signed_token_needs_every_claim_in_its_form() {
    let f = fixture();
    let h = ed_header(f.key.kid());
    let good = good_access_claims(&f);
    assert!(
        access(&f.issuer, &sign_ed(&f.key, &h, &good)).is_ok(),
        "control: the recipe itself is sound"
    );
    for claim in [
        "iss",
        "aud",
        "sub",
        "sid",
        "amr",
        "auth_time",
        "iat",
        "nbf",
        "exp",
    ] {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &c)),
            Err(TokenError::Invalid),
            "without {claim}"
        );
    }
    let user = UserId::random(&OsRng);
    let t = now(&f).as_secs();
    for (claim, value) in [
        ("sub", json!("alice")),
        ("sub", json!(user.as_uuid().simple().to_string())),
        ("sub", json!(user.to_string().to_uppercase() + "x")),
        ("sid", json!("")),
        ("sid", json!(7)),
        ("amr", json!(["pwd"])),
        ("amr", json!([])),
        ("amr", json!("otp")),
        ("amr", json!(["rec", "otp"])),
        ("iss", json!([ISS])),
        ("iss", json!("https://evil.example")),
        ("aud", json!("https://other-api.example")),
        ("aud", json!(["https://other-api.example"])),
        ("aud", json!([])),
        ("exp", json!((t + 900).to_string())),
        ("exp", json!(t as f64 + 900.5)),
        ("exp", json!(-1)),
        ("nbf", json!(null)),
        ("auth_time", json!(i64::MAX)),
    ] {
        let mut c = good.clone();
        c[claim] = value.clone();
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &c)),
            Err(TokenError::Invalid),
            "{claim} = {value}"
        );
    }
}

#[test]
fn headers_must_be_exactly_ours() {
    let f = fixture();
    let claims = good_access_claims(&f);
    let mut no_kid = ed_header(f.key.kid());
    no_kid.kid = None;
    let mut no_typ = ed_header(f.key.kid());
    no_typ.typ = None;
    let mut jwt_typ = ed_header(f.key.kid());
    jwt_typ.typ = Some("JWT".to_owned());
    let mut crit = ed_header(f.key.kid());
    crit.crit = Some(vec!["exp".to_owned()]);
    for h in [no_kid, no_typ, jwt_typ, crit] {
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &claims)),
            Err(TokenError::Invalid),
            "{h:?}"
        );
    }
}

#[test]
fn attempt_headers_must_be_exactly_ours() {
    let f = fixture();
    let ticket = json!({
        "iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": AttemptId::random(&OsRng).to_string(),
        "secret": URL_SAFE_NO_PAD.encode([1u8; 32]), "exp": now(&f).as_secs() + 60,
    });
    let sign =
        |h: &Header| jsonwebtoken::encode(h, &ticket, &EncodingKey::from_secret(SECRET)).unwrap();
    let mut ours = Header::new(Algorithm::HS256);
    ours.typ = Some(ATTEMPT_TOKEN_TYPE.to_owned());
    assert!(
        f.issuer.verify_attempt(&sign(&ours)).is_ok(),
        "control: the recipe itself is sound"
    );
    let mut with_kid = ours.clone();
    with_kid.kid = Some(f.key.kid().to_owned());
    let mut no_typ = ours.clone();
    no_typ.typ = None;
    let mut access_typ = ours.clone();
    access_typ.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    let mut crit = ours.clone();
    crit.crit = Some(vec!["exp".to_owned()]);
    let mut hs512 = ours;
    hs512.alg = Algorithm::HS512;
    for h in [with_kid, no_typ, access_typ, crit, hs512] {
        assert_eq!(
            f.issuer.verify_attempt(&sign(&h)),
            Err(TokenError::Invalid),
            "{h:?}"
        );
    }
    for (claim, value) in [
        ("aid", json!("attempt-1")),
        ("secret", json!(URL_SAFE_NO_PAD.encode([1u8; 31]))),
        ("secret", json!("AQ==")),
        ("aud", json!(AUD)),
    ] {
        let mut c = ticket.clone();
        c[claim] = value.clone();
        let token = jsonwebtoken::encode(
            &Header {
                typ: Some(ATTEMPT_TOKEN_TYPE.to_owned()),
                ..Header::new(Algorithm::HS256)
            },
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            f.issuer.verify_attempt(&token),
            Err(TokenError::Invalid),
            "{claim} = {value}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let f = fixture();
    let mut claims = good_access_claims(&f);
    claims["pad"] = json!("x".repeat(MAX_TOKEN_LEN));
    let big = sign_ed(&f.key, &ed_header(f.key.kid()), &claims);
    assert!(big.len() > MAX_TOKEN_LEN);
    assert_eq!(access(&f.issuer, &big), Err(TokenError::Invalid));
    claims["pad"] = json!("x".repeat(100));
    assert!(
        access(
            &f.issuer,
            &sign_ed(&f.key, &ed_header(f.key.kid()), &claims)
        )
        .is_ok(),
        "unknown claims are fine"
    );
}

// ---- time --------------------------------------------------------------------------------------

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

// ---- issuer, audience and keys -----------------------------------------------------------------

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

// ---- JwksVerifier ------------------------------------------------------------------------------

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
