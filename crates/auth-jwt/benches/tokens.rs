//! Criterion benchmarks of the token hot paths: sign and verify an access token, issue and verify
//! an attempt token.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use auth_core::code::ClientSecret;
use auth_core::ids::{AttemptId, SessionId, UserId};
use auth_core::ports::{Clock, OsRng, SystemClock, TokenIssuer};
use auth_core::session::AuthMethod;
use auth_core::token::{AccessClaims, AttemptTicket};
use auth_jwt::{JwksVerifier, JwtIssuer, SigningKey};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn tokens(c: &mut Criterion) {
    let issuer = JwtIssuer::new(
        "https://auth.example",
        "https://api.example",
        SigningKey::generate(&OsRng),
        vec![],
        &[7u8; 32],
    )
    .unwrap();
    let jwks = JwksVerifier::from_value(
        &issuer.jwks(),
        "https://auth.example",
        "https://api.example",
    )
    .unwrap();
    let now = SystemClock.now();
    let claims = AccessClaims {
        user_id: UserId::random(&OsRng),
        session_id: SessionId::random(&OsRng),
        method: AuthMethod::Passkey,
        auth_time: now,
        issued_at: now,
        expires_at: now.plus(Duration::from_secs(900)),
    };
    let ticket = AttemptTicket {
        attempt_id: AttemptId::random(&OsRng),
        secret: ClientSecret::generate(&OsRng),
        expires_at: now.plus(Duration::from_secs(1800)),
    };
    let access = issuer.issue_access(&claims).unwrap();

    c.bench_function("access/sign", |b| {
        b.iter(|| issuer.issue_access(black_box(&claims)).unwrap())
    });
    c.bench_function("access/verify", |b| {
        b.iter(|| issuer.verify_access(black_box(&access)).unwrap())
    });
    c.bench_function("access/verify (jwks)", |b| {
        b.iter(|| {
            auth_core::ports::AccessVerifier::verify_access(&jwks, black_box(&access)).unwrap()
        })
    });
    c.bench_function("attempt/issue+verify", |b| {
        b.iter(|| {
            let token = issuer.issue_attempt(black_box(&ticket)).unwrap();
            issuer.verify_attempt(&token).unwrap()
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
