//! Test harness: starts the real `auth-server` binary on port 0 with its own data directory (or
//! shares one started server among the tests of a file), talks to it over HTTP, and reads the
//! codes it sends from delivered mail (the outbox `.eml` files, or an SMTP server's mailbox) —
//! never from a back door.

mod mailbox;
mod reply;
mod server;
pub mod services;

pub use mailbox::{Mail, Mailbox, find_code};
pub use reply::{Reply, Session};
pub use server::{Production, RELAXED, Server, TestServer, embedded, production, server_binary};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A required test service setting, or a loud failure that says how to provide it.
pub fn service_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests need the real PostgreSQL, Redis and SMTP server. Start them and export \
             their addresses with `eval \"$(cargo xtask services --env)\"` (cargo xtask ci does this itself)"
        ),
    }
}

/// The claims of a JWT, decoded without verifying (verification is the server's and JWKS's job).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("json payload")
}

/// A fresh address for one test.
pub fn unique_email(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}-{t}-{n}@example.test")
}
