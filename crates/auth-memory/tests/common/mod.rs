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
use auth_core::service::{AuthService, ClientInfo, Ports, Principal, SignedIn};
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
        gate: s.clone(),
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

/// A desktop browser's user agent, for the device names of security notices.
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A client on another network than [`client`].
pub fn outsider() -> ClientInfo {
    ClientInfo::new(
        Some([203, 0, 113, 66].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        Some("attacker/1".to_owned()),
    )
}

/// The code in the newest mail to `to` among `mails`.
pub fn code_to(mails: &[Mail], to: &str) -> Option<String> {
    mails.iter().rev().find_map(|m| match &m.message {
        Message::SignupCode { code, .. }
        | Message::LoginCode { code, .. }
        | Message::AlreadyRegistered { code, .. }
        | Message::RecoveryCode { code, .. }
        | Message::EmailChangeCode { code, .. }
            if m.to.as_str() == to =>
        {
            Some(code.expose().to_owned())
        }
        _ => None,
    })
}

/// The principal of a signed-in access token.
pub async fn principal(w: &World, access: &str) -> Principal {
    w.service.authenticate(access).await.unwrap()
}

/// Moves the signed-in account to `to`; the old address's undo token comes back.
pub async fn change_email(w: &World, who: &Principal, to: &str) -> String {
    let started = w
        .service
        .start_email_change(who, email(to), &client())
        .await
        .unwrap();
    let code = last_code(&w.mailer);
    w.service
        .verify_email_change(who, &started.attempt_token, &code, &client())
        .await
        .unwrap();
    let mails = w.mailer.take();
    mails
        .iter()
        .find_map(|m| match &m.message {
            Message::EmailChanged { revert_token, .. } => Some(revert_token.expose().to_owned()),
            _ => None,
        })
        .expect("the old address gets an undo link")
}
