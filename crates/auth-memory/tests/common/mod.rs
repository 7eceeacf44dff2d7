//! The world the use-case tests run in: the in-memory adapters, a manual clock, a recording
//! mailer, and helpers to read codes from the mails it recorded.
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use auth_core::EmailAddress;
use auth_core::Policy;
use auth_core::mail::{Mail, Message};
use auth_core::ports::OsRng;
use auth_core::service::{AuthService, ClientInfo, Ports, SignedIn};
use auth_core::testkit::ManualClock;
use auth_core::time::Timestamp;
use auth_core::user::DisplayName;
use auth_jwt::{JwtIssuer, SigningKey};
use auth_memory::{MemoryMailer, MemoryStore};
use std::sync::Arc;
use std::time::Duration;

pub struct World {
    pub service: Arc<AuthService>,
    pub store: MemoryStore,
    pub mailer: Arc<MemoryMailer>,
    pub clock: Arc<ManualClock>,
}

pub fn world(policy: Policy) -> World {
    world_with(policy, |p| p)
}

pub fn world_with(policy: Policy, adjust: impl FnOnce(Ports) -> Ports) -> World {
    let store = MemoryStore::new();
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_800_000_000_000)));
    let issuer = JwtIssuer::new(
        "https://auth.test",
        "auth",
        SigningKey::generate(&OsRng),
        [],
        &[7u8; 32],
    )
    .expect("issuer")
    .with_clock(clock.clone());
    let s = Arc::new(store.clone());
    let ports = Ports {
        users: s.clone(),
        attempts: s.clone(),
        sessions: s.clone(),
        limiter: s.clone(),
        audit: s.clone(),
        passkeys: s.clone(),
        reverts: s.clone(),
        ceremonies: s,
        // These tests are about email codes; passkey ceremonies are tested with a software
        // authenticator in auth-webauthn and end to end.
        webauthn: Arc::new(auth_core::ports::MockWebAuthn::new()),
        mailer: mailer.clone(),
        tokens: Arc::new(issuer),
        clock: clock.clone(),
        rng: Arc::new(OsRng),
    };
    let service = Arc::new(AuthService::new(adjust(ports), policy, &[42u8; 32]).expect("service"));
    World {
        service,
        store,
        mailer,
        clock,
    }
}

pub fn client() -> ClientInfo {
    ClientInfo::new(
        Some([198, 51, 100, 7].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some("tests".to_owned()),
    )
}

pub fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

pub fn last_code(mailer: &MemoryMailer) -> String {
    let mails: Vec<Mail> = mailer.take();
    let code = mails.iter().rev().find_map(|m| match &m.message {
        Message::SignupCode { code, .. }
        | Message::LoginCode { code, .. }
        | Message::AlreadyRegistered { code, .. }
        | Message::RecoveryCode { code, .. }
        | Message::EmailChangeCode { code, .. } => Some(code.expose().to_owned()),
        _ => None,
    });
    code.expect("a mail with a code")
}

pub fn wrong(code: &str) -> &'static str {
    if code == "AAAAAAAA" {
        "BBBBBBBB"
    } else {
        "AAAAAAAA"
    }
}

pub async fn signed_up(w: &World, address: &str) -> SignedIn {
    let started = w
        .service
        .start_signup(
            email(address),
            DisplayName::parse("Tester").unwrap(),
            &client(),
        )
        .await
        .unwrap();
    w.service
        .verify_code(&started.attempt_token, &last_code(&w.mailer), &client())
        .await
        .unwrap()
}

/// The default policy without the minimum gap between two codes to one address, which these
/// tests (one address, many codes, no real time passing) would otherwise meet at once.
pub fn relaxed() -> Policy {
    let mut p = Policy::default();
    p.limits.send_gap_per_address = Duration::ZERO;
    p
}

pub fn no_backoff() -> Policy {
    let mut p = relaxed();
    p.limits.guesses_per_ip.limit = 1000;
    p.limits.address_failures.free = 100;
    p.limits.address_failures.budget = 100;
    p
}
