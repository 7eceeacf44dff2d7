//! Embedding `auth-core` in another Rust service with the in-memory adapters: sign up by email
//! code, sign in again, and check an access token — no database, no network.
//!
//! Run it with `cargo run -p auth-memory --example embed`; `cargo test` runs it too.

use auth_core::mail::Message;
use auth_core::ports::{OsRng, SystemClock};
use auth_core::service::{ClientInfo, Ports};
use auth_core::user::DisplayName;
use auth_core::{AuthService, EmailAddress, Policy};
use auth_jwt::{JwtIssuer, SigningKey};
use auth_memory::{MemoryMailer, MemoryStore};
use auth_webauthn::{Attachment, RelyingParty, WebAuthnAdapter};
use std::sync::Arc;

/// The code in the newest mail; a real service would hand `Mail` to its own mailer instead.
fn code_from(mailer: &MemoryMailer) -> Option<String> {
    mailer
        .take()
        .into_iter()
        .rev()
        .find_map(|mail| match mail.message {
            Message::SignupCode { code, .. } | Message::LoginCode { code, .. } => {
                Some(code.expose().to_owned())
            }
            _ => None,
        })
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    // One store for every storage port; swap any of them for another adapter (SQLite, Postgres,
    // Redis) without touching the rest.
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::new());
    // Keep these secrets in your secret store: the signing key, the attempt-token key, the pepper.
    let signing_key = SigningKey::generate(&OsRng);
    let tokens = JwtIssuer::new(
        "https://auth.example.com",
        "my-service",
        signing_key,
        [],
        &[1u8; 32],
    )?;
    let ports = Ports {
        users: store.clone(),
        attempts: store.clone(),
        sessions: store.clone(),
        limiter: store.clone(),
        gate: store.clone(),
        audit: store.clone(),
        passkeys: store.clone(),
        reverts: store.clone(),
        ceremonies: store,
        webauthn: Arc::new(WebAuthnAdapter::new(RelyingParty {
            id: "auth.example.com".to_owned(),
            origin: "https://auth.example.com".to_owned(),
            name: "Example".to_owned(),
            attachment: Attachment::PreferPlatform,
            browser_timeout: Policy::default().browser_timeout(),
        })?),
        mailer: mailer.clone(),
        tokens: Arc::new(tokens),
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRng),
    };
    let auth = AuthService::new(ports, Policy::default(), &[2u8; 32])?;
    let client = ClientInfo::new(
        Some([203, 0, 113, 9].into()),
        auth_core::net::DEFAULT_V6_PREFIX,
        None,
    );

    let email = EmailAddress::parse("ada@example.com")?;
    let started = auth
        .start_signup(email, DisplayName::parse("Ada")?, &client)
        .await?;
    let code = code_from(&mailer).ok_or("no code was mailed")?;
    let signed_in = auth
        .verify_code(&started.attempt_token, &code, &client)
        .await?;

    let who = auth.authenticate(&signed_in.access_token).await?;
    assert_eq!(who.user_id, signed_in.user.id);
    Ok(format!(
        "{} signed up; session {}",
        signed_in.user.display_name, who.session_id
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let line = run().await?;
    #[allow(clippy::print_stdout, reason = "an example shows its result")]
    {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_example_signs_up_and_authenticates() {
        let line = super::run().await.expect("the example runs");
        assert!(line.starts_with("Ada signed up; session "), "{line}");
    }
}
