//! The token port against real signatures: round trips, forgeries, time, rotation and JWKS.

mod forgeries;
mod jwks;
mod keys;
mod round_trips;
mod time;

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
