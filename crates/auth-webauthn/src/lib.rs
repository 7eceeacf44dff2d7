//! WebAuthn adapter: passkey registration and usernameless sign-in ceremonies on `webauthn-rs`.
//!
//! [`WebAuthnAdapter`] implements [`auth_core::ports::WebAuthn`] for one relying party
//! ([`RelyingParty`]):
//!
//! - **Registration** asks for a discoverable credential with user verification, no attestation,
//!   and excludes the account's existing passkeys. The user handle is the account's [`UserId`]
//!   (its 16 UUID bytes), so a sign-in response names its account by itself.
//! - **Sign-in** is discoverable: no credential list, user verification required, usable from
//!   the browser's passkey autofill (conditional UI) as well as from a button.
//! - **Clone detection**: a signature counter that does not rise on a passkey registered as
//!   device-bound is [`WebAuthnError::PossibleClone`]; synced passkeys are not judged by their
//!   counter (see the `counter` module).
//!
//! Everything that crosses the port is JSON or bytes: options are the standard WebAuthn JSON
//! (`{"publicKey": {...}}`, binary fields base64url), responses are what the browser's
//! `PublicKeyCredential.toJSON()` gives, ceremony state is kept by the caller (any node can finish
//! a ceremony another began), and a passkey's record is `webauthn-rs`'s own credential as JSON.
//!
//! Verification never panics on input: a response that does not parse is
//! [`WebAuthnError::Malformed`], one that fails any check is [`WebAuthnError::Rejected`], and only
//! our own state and records failing to (de)serialise are [`WebAuthnError::Internal`].
#![warn(missing_docs)]

mod config;
mod counter;
mod options;
mod state;

pub use config::{Attachment, ConfigError, RelyingParty};

use crate::state::Kind;
use auth_core::UserId;
use auth_core::passkey::{Ceremony, CredentialUse, NewCredential, Passkey, WebAuthnError};
use auth_core::ports::WebAuthn;
use auth_core::user::User;
use serde::Deserialize;
use webauthn_rs::prelude as wa;

/// The only WebAuthn credential type.
const PUBLIC_KEY: &str = "public-key";

/// The WebAuthn relying party on `webauthn-rs`. Cheap to share: keep one per process.
#[derive(Debug)]
pub struct WebAuthnAdapter {
    webauthn: wa::Webauthn,
    attachment: Attachment,
}

impl WebAuthnAdapter {
    /// The relying party `config` describes.
    ///
    /// # Errors
    /// [`ConfigError`] if the origin is not a URL, the name is empty, or the id is not the origin's
    /// host or a registrable suffix of it.
    pub fn new(config: RelyingParty) -> Result<Self, ConfigError> {
        if config.name.trim().is_empty() {
            return Err(ConfigError::EmptyName);
        }
        let origin = wa::Url::parse(&config.origin)
            .map_err(|_| ConfigError::Origin(config.origin.clone()))?;
        let mismatch = |e: wa::WebauthnError| ConfigError::Mismatch {
            id: config.id.clone(),
            origin: config.origin.clone(),
            reason: e.to_string(),
        };
        let webauthn = wa::WebauthnBuilder::new(&config.id, &origin)
            .map_err(mismatch)?
            .rp_name(&config.name)
            .timeout(config.browser_timeout)
            .build()
            .map_err(mismatch)?;
        Ok(Self {
            webauthn,
            attachment: config.attachment,
        })
    }
}

impl WebAuthn for WebAuthnAdapter {
    fn start_registration(
        &self,
        user: &User,
        existing: &[Passkey],
    ) -> Result<Ceremony, WebAuthnError> {
        let exclude: Vec<wa::CredentialID> = existing
            .iter()
            .map(|p| wa::CredentialID::from(p.credential_id.clone()))
            .collect();
        let (challenge, registration) = self
            .webauthn
            .start_passkey_registration(
                *user.id.as_uuid(),
                user.email.as_str(),
                user.display_name.as_str(),
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| {
                WebAuthnError::Internal(format!("cannot start a passkey registration: {e}"))
            })?;
        let options = serde_json::to_value(&challenge).map_err(|e| {
            WebAuthnError::Internal(format!("cannot serialise registration options: {e}"))
        })?;
        Ok(Ceremony {
            options: options::registration(options, self.attachment)?,
            state: state::seal(Kind::Registration, &registration)?,
        })
    }

    fn finish_registration(
        &self,
        state: &[u8],
        response: &serde_json::Value,
    ) -> Result<NewCredential, WebAuthnError> {
        let registration: wa::PasskeyRegistration = state::open(Kind::Registration, state)?;
        let response: wa::RegisterPublicKeyCredential = parse(response)?;
        if response.type_ != PUBLIC_KEY {
            return Err(WebAuthnError::Malformed);
        }
        // The browser reports whether it made a discoverable credential (`credProps`). One that
        // says it did not cannot sign in without a username, so it is no passkey for us.
        if response.extensions.cred_props.as_ref().and_then(|p| p.rk) == Some(false) {
            tracing::debug!("passkey registration rejected: the credential is not discoverable");
            return Err(WebAuthnError::Rejected);
        }
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &registration)
            .map_err(verification_error)?;
        // The id the browser reports must be the one the authenticator attested: it is what
        // sign-in responses will name.
        if response.raw_id.as_slice() != passkey.cred_id().as_slice() {
            tracing::debug!(
                "passkey registration rejected: rawId is not the attested credential id"
            );
            return Err(WebAuthnError::Rejected);
        }
        let flags = wa::Credential::from(passkey.clone());
        Ok(NewCredential {
            credential_id: passkey.cred_id().to_vec(),
            credential: record(&passkey)?,
            backup_eligible: flags.backup_eligible,
            backed_up: flags.backup_state,
            transports: transports(&response),
            sign_count: flags.counter,
        })
    }

    fn start_login(&self) -> Result<Ceremony, WebAuthnError> {
        let (challenge, authentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| WebAuthnError::Internal(format!("cannot start a passkey sign-in: {e}")))?;
        let options = serde_json::to_value(&challenge).map_err(|e| {
            WebAuthnError::Internal(format!("cannot serialise sign-in options: {e}"))
        })?;
        Ok(Ceremony {
            options: options::login(options)?,
            state: state::seal(Kind::Login, &authentication)?,
        })
    }

    fn identify(&self, response: &serde_json::Value) -> Result<(UserId, Vec<u8>), WebAuthnError> {
        let response: wa::PublicKeyCredential = parse(response)?;
        let (user, credential_id) = self.identify_parsed(&response)?;
        Ok((user, credential_id.to_vec()))
    }

    fn finish_login(
        &self,
        state: &[u8],
        response: &serde_json::Value,
        passkey: &Passkey,
    ) -> Result<CredentialUse, WebAuthnError> {
        let authentication: wa::DiscoverableAuthentication = state::open(Kind::Login, state)?;
        let response: wa::PublicKeyCredential = parse(response)?;
        let mut stored: wa::Passkey = serde_json::from_slice(&passkey.credential).map_err(|e| {
            WebAuthnError::Internal(format!("cannot read the stored passkey record: {e}"))
        })?;
        if stored.cred_id().as_slice() != passkey.credential_id.as_slice() {
            return Err(WebAuthnError::Internal(
                "the stored passkey record is for another credential".into(),
            ));
        }
        // The caller looked the passkey up by what the response names; make sure it names this one.
        let (user, credential_id) = self.identify_parsed(&response)?;
        if user != passkey.user_id || credential_id != passkey.credential_id.as_slice() {
            return Err(WebAuthnError::Rejected);
        }

        let before = wa::Credential::from(stored.clone());
        let synced = before.backup_eligible || passkey.backup_eligible;
        // The library judges every counter. A synced passkey's counter is per device, so two
        // genuine devices disagree; it is verified against a copy without a counter instead, and
        // only device-bound passkeys are held to theirs (see the `counter` module).
        let judged = if synced {
            wa::Passkey::from(wa::Credential {
                counter: 0,
                ..before.clone()
            })
        } else {
            stored.clone()
        };
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&response, authentication, &judged)
            .map_err(|e| match e {
                wa::WebauthnError::CredentialPossibleCompromise if !synced => {
                    WebAuthnError::PossibleClone
                }
                e => verification_error(e),
            })?;
        if counter::looks_cloned(
            passkey.sign_count.max(before.counter),
            result.counter(),
            synced,
        ) {
            return Err(WebAuthnError::PossibleClone);
        }
        stored.update_credential(&result).ok_or_else(|| {
            WebAuthnError::Internal("the verified credential is not the stored one".into())
        })?;
        let after = wa::Credential::from(stored.clone());
        Ok(CredentialUse {
            credential: record(&stored)?,
            sign_count: after.counter,
            backed_up: result.backup_state(),
        })
    }
}

impl WebAuthnAdapter {
    /// The account and credential a parsed sign-in response names.
    fn identify_parsed<'a>(
        &self,
        response: &'a wa::PublicKeyCredential,
    ) -> Result<(UserId, &'a [u8]), WebAuthnError> {
        if response.type_ != PUBLIC_KEY {
            return Err(WebAuthnError::Malformed);
        }
        let (user, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(response)
            .map_err(|e| {
                tracing::debug!(error = %e, "passkey sign-in response names no account");
                WebAuthnError::Malformed
            })?;
        Ok((UserId::from_uuid(user), credential_id))
    }
}

/// A response from the browser, or [`WebAuthnError::Malformed`].
fn parse<'a, T: Deserialize<'a>>(response: &'a serde_json::Value) -> Result<T, WebAuthnError> {
    T::deserialize(response).map_err(|e| {
        tracing::debug!(error = %e, "passkey response does not parse");
        WebAuthnError::Malformed
    })
}

/// What a failed verification means for the caller. Content that does not decode (base64, CBOR,
/// client data JSON) is malformed; every failed check is a rejection. The library's reason goes to
/// the debug log, which is where a developer looks when a real browser is refused.
fn verification_error(e: wa::WebauthnError) -> WebAuthnError {
    use wa::WebauthnError as E;
    tracing::debug!(error = %e, "passkey response rejected");
    match e {
        E::ParseBase64Failure(_)
        | E::ParseCBORFailure(_)
        | E::ParseJSONFailure(_)
        | E::ParseNOMFailure
        | E::ParseInsufficientBytesAvailable => WebAuthnError::Malformed,
        _ => WebAuthnError::Rejected,
    }
}

/// The passkey's record for the store: `webauthn-rs`'s credential as JSON.
fn record(passkey: &wa::Passkey) -> Result<Vec<u8>, WebAuthnError> {
    serde_json::to_vec(passkey)
        .map_err(|e| WebAuthnError::Internal(format!("cannot serialise the passkey record: {e}")))
}

/// The transports the browser reported for a new credential, by their WebAuthn names
/// (`internal`, `hybrid`, `usb`, ...).
fn transports(response: &wa::RegisterPublicKeyCredential) -> Vec<String> {
    let mut names: Vec<String> = response
        .response
        .transports
        .iter()
        .flatten()
        .filter_map(|t| match serde_json::to_value(t) {
            Ok(serde_json::Value::String(name)) => Some(name),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}
