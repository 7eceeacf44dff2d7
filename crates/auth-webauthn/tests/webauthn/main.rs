//! Real registration and sign-in ceremonies between the adapter and a software passkey device.

mod malformed;
mod refused;
mod registration;
mod sign_in;

use auth_core::Policy;
use auth_core::passkey::{NewCredential, Passkey, PasskeyName, WebAuthnError};
use auth_core::ports::{OsRng, WebAuthn};
use auth_core::testkit::sample_user;
use auth_core::user::User;
use auth_core::{PasskeyId, Timestamp};
use auth_testsupport::Device;
use auth_webauthn::{Attachment, ConfigError, RelyingParty, WebAuthnAdapter};
use serde_json::{Value, json};

pub const ORIGIN: &str = "http://localhost:8080";

pub fn adapter() -> WebAuthnAdapter {
    adapter_for("localhost", ORIGIN)
}

pub fn adapter_for(id: &str, origin: &str) -> WebAuthnAdapter {
    WebAuthnAdapter::new(RelyingParty {
        id: id.to_owned(),
        origin: origin.to_owned(),
        name: "Auth Test".to_owned(),
        attachment: Attachment::PreferPlatform,
        browser_timeout: Policy::default().browser_timeout(),
    })
    .unwrap_or_else(|e| panic!("relying party {id} at {origin}: {e}"))
}

/// The passkey the service would store for `user` after this registration.
pub fn stored(user: &User, new: NewCredential) -> Passkey {
    Passkey {
        id: PasskeyId::random(&OsRng),
        user_id: user.id,
        credential_id: new.credential_id,
        name: PasskeyName::or_default(None),
        created_at: Timestamp::from_millis(0),
        last_used_at: None,
        backup_eligible: new.backup_eligible,
        backed_up: new.backed_up,
        transports: new.transports,
        sign_count: new.sign_count,
        credential: new.credential,
    }
}

/// Registers `device` for `user` through a whole ceremony.
pub async fn register(webauthn: &WebAuthnAdapter, user: &User, device: &mut Device) -> Passkey {
    let ceremony = webauthn
        .start_registration(user, &[])
        .expect("registration starts");
    let response = device
        .create(&ceremony.options)
        .await
        .expect("the device registers");
    stored(
        user,
        webauthn
            .finish_registration(&ceremony.state, &response)
            .expect("registration verifies"),
    )
}

/// Signs in with `device` and records the use as the service does.
pub async fn sign_in(
    webauthn: &WebAuthnAdapter,
    device: &mut Device,
    passkey: &mut Passkey,
) -> Result<(), WebAuthnError> {
    let ceremony = webauthn.start_login().expect("sign-in starts");
    let response = device
        .get(&ceremony.options)
        .await
        .expect("the device signs");
    let used = webauthn.finish_login(&ceremony.state, &response, passkey)?;
    passkey.credential = used.credential;
    passkey.sign_count = used.sign_count;
    passkey.backed_up = used.backed_up;
    Ok(())
}

fn b64url(bytes: &[u8]) -> String {
    String::from(passkey_types::Bytes::from(bytes))
}

/// Sets `value` at a JSON pointer, as a client that does not do as it is told would.
pub fn tamper(options: &Value, pointer: &str, value: Value) -> Value {
    let mut tampered = options.clone();
    *tampered
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {options}")) = value;
    tampered
}
