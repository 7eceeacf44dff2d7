//! Criterion benchmarks of the token hot paths: sign an access token and verify it (on first use
//! and again), issue and verify an attempt token, sign an ID token (EdDSA, and RS256 with a key
//! the openssl CLI makes).
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
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
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
    // A token seen for the first time: signature, parsing and rules. Each iteration verifies a
    // token signed for it in the untimed set-up (a new session id makes every one different).
    let fresh = || {
        let mut c = claims.clone();
        c.session_id = SessionId::random(&OsRng);
        issuer.issue_access(&c).unwrap()
    };
    c.bench_function("access/verify (first use)", |b| {
        b.iter_batched(
            fresh,
            |token| issuer.verify_access(&token).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The same token again, as a client sends it with every request: remembered, so only its
    // digest and time window are checked.
    c.bench_function("access/verify (used again)", |b| {
        b.iter(|| issuer.verify_access(black_box(&access)).unwrap())
    });
    c.bench_function("access/verify (jwks, first use)", |b| {
        b.iter_batched(
            fresh,
            |token| auth_core::ports::AccessVerifier::verify_access(&jwks, &token).unwrap(),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("attempt/issue+verify", |b| {
        b.iter(|| {
            let token = issuer.issue_attempt(black_box(&ticket)).unwrap();
            issuer.verify_attempt(&token).unwrap()
        })
    });
}

fn id_tokens(c: &mut Criterion) {
    use auth_core::oidc::{ClientId, IdTokenAlg};
    use auth_core::ports::{IdTokenClaims, IdTokenSigner};
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("rsa.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&pem)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI runs");
    assert!(made.success());
    let rsa = auth_jwt::RsaSigningKey::from_pkcs8(&std::fs::read(&pem).unwrap()).unwrap();
    let signer = auth_jwt::IdTokens::new(
        "https://auth.example",
        &SigningKey::generate(&OsRng),
        Some(std::sync::Arc::new(rsa)),
    )
    .unwrap();
    let now = SystemClock.now();
    let claims = IdTokenClaims {
        issuer: "https://auth.example".to_owned(),
        subject: UserId::random(&OsRng),
        audience: ClientId::parse("app").unwrap(),
        issued_at: now,
        expires_at: now.plus(Duration::from_secs(900)),
        auth_time: now,
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        method: AuthMethod::Passkey,
        session_id: SessionId::random(&OsRng),
        email: Some("ada@example.com".to_owned()),
        name: Some("Ada".to_owned()),
    };
    for alg in [IdTokenAlg::EdDSA, IdTokenAlg::RS256] {
        c.bench_function(&format!("id_token/sign {}", alg.as_str()), |b| {
            b.iter(|| signer.sign_id_token(black_box(&claims), alg).unwrap())
        });
    }
}

criterion_group!(benches, tokens, id_tokens);
criterion_main!(benches);
