//! Criterion benchmarks of the code hot path: generate, hash, parse and verify.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use auth_core::code::{ClientSecret, CodeHasher, OtpCode};
use auth_core::ids::AttemptId;
use auth_core::ports::OsRng;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn codes(c: &mut Criterion) {
    let hasher = CodeHasher::new(&[42u8; 32]).unwrap();
    let id = AttemptId::random(&OsRng);
    let secret = ClientSecret::generate(&OsRng);
    let code = OtpCode::generate(&OsRng, 8);
    let stored = hasher.hash(&id, &secret, &code);

    c.bench_function("code/generate", |b| {
        b.iter(|| OtpCode::generate(black_box(&OsRng), 8))
    });
    c.bench_function("code/hash", |b| {
        b.iter(|| hasher.hash(black_box(&id), black_box(&secret), black_box(&code)))
    });
    c.bench_function("code/generate+hash", |b| {
        b.iter(|| {
            let code = OtpCode::generate(&OsRng, 8);
            hasher.hash(&id, &secret, &code)
        })
    });
    c.bench_function("code/parse+verify", |b| {
        b.iter(|| {
            let typed = OtpCode::parse(black_box("abcd-efgh"), 8).unwrap();
            stored.matches(&hasher.hash(&id, &secret, &typed))
        })
    });
}

criterion_group!(benches, codes);
criterion_main!(benches);
