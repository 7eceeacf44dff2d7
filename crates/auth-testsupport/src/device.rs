//! A software passkey device for the tests: 1Password's `passkey` authenticator holding one
//! credential in memory, behind their WebAuthn client, speaking the browser's JSON.
//!
//! The authenticator marks every credential backup eligible and backed up (a synced passkey) and
//! counts signatures only when asked. A device-bound passkey (a security key, a TPM) is modelled by
//! clearing those two flags: in the attestation object of a registration, which attestation "none"
//! does not sign, and in the authenticator data of an assertion, which is then signed again with
//! the credential's own private key. The result is exactly what such an authenticator would send.

use async_trait::async_trait;
use passkey_authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey_client::Client;
use passkey_crypto::SecretKeyT;
use passkey_crypto::hash::Sha256Backend;
use passkey_crypto::rust_crypto::{RustCryptoBackend, RustCryptoSecretKey, RustCryptoSha2};
use passkey_types::ctap2::{Aaguid, Ctap2Error, Flags};
use passkey_types::webauthn::{
    AuthenticatedPublicKeyCredential, CreatedPublicKeyCredential, CredentialCreationOptions,
    CredentialRequestOptions,
};
use passkey_types::{Bytes, Passkey};
use serde_json::{Value, json};
use url::Url;

/// Offset of the flags byte in authenticator data, after the 32-byte RP id hash.
const FLAGS_AT: usize = 32;

/// The person at the device: present, verified when asked, and told "already registered" (which
/// ends the request) when the page excludes a credential the device holds.
struct Person;

#[async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        match hint {
            UiHint::InformExcludedCredentialFound(_) => Err(Ctap2Error::CredentialExcluded),
            _ => Ok(UserCheck {
                presence,
                verification,
            }),
        }
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// Why the device or its client refused a request.
#[derive(Debug)]
pub struct Refused(pub String);

/// One authenticator with at most one credential, as seen through a browser at `origin`.
#[derive(Debug, Clone)]
pub struct Device {
    origin: Url,
    credential: Option<Passkey>,
    counts: bool,
    device_bound: bool,
}

impl Device {
    /// A synced passkey, as password managers and phone platforms make them: backup eligible and
    /// backed up, signature counter always 0.
    pub fn synced(origin: &str) -> Self {
        Self {
            origin: url(origin),
            credential: None,
            counts: false,
            device_bound: false,
        }
    }

    /// A synced passkey whose authenticator nevertheless counts signatures.
    pub fn synced_counting(origin: &str) -> Self {
        Self {
            counts: true,
            ..Self::synced(origin)
        }
    }

    /// A device-bound passkey, as security keys make them: not backup eligible, counting.
    pub fn device_bound(origin: &str) -> Self {
        Self {
            origin: url(origin),
            credential: None,
            counts: true,
            device_bound: true,
        }
    }

    /// The same authenticator used from a page at another origin (a phishing site, say).
    pub fn at(&self, origin: &str) -> Self {
        Self {
            origin: url(origin),
            ..self.clone()
        }
    }

    /// The credential it holds.
    pub fn credential_id(&self) -> Option<Vec<u8>> {
        self.credential.as_ref().map(|p| p.credential_id.to_vec())
    }

    /// Its signature counter.
    pub fn counter(&self) -> Option<u32> {
        self.credential.as_ref().and_then(|p| p.counter)
    }

    /// `navigator.credentials.create(options)`, answered as `PublicKeyCredential.toJSON()`.
    pub async fn create(&mut self, options: &Value) -> Result<Value, Refused> {
        let request: CredentialCreationOptions = serde_json::from_value(options.clone())
            .map_err(|e| Refused(format!("options do not parse: {e}")))?;
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            self.credential.clone(),
            Person,
            RustCryptoBackend,
        );
        authenticator.set_make_credentials_with_signature_counter(self.counts);
        let mut client = Client::new(authenticator).allows_insecure_localhost(true);
        let mut created = client
            .register(&self.origin, request, passkey_client::DefaultClientData)
            .await
            .map_err(|e| Refused(format!("{e:?}")))?;
        self.credential = client.authenticator().store().clone();
        if self.device_bound {
            let auth_data = created.response.authenticator_data.to_vec();
            let at = find(&created.response.attestation_object, &auth_data).ok_or_else(|| {
                Refused("authenticator data not found in the attestation object".into())
            })?;
            created.response.attestation_object[at + FLAGS_AT] &= !(Flags::BE | Flags::BS).bits();
            created.response.authenticator_data[FLAGS_AT] &= !(Flags::BE | Flags::BS).bits();
        }
        Ok(registration_json(&created))
    }

    /// `navigator.credentials.get(options)`, answered as `PublicKeyCredential.toJSON()`.
    pub async fn get(&mut self, options: &Value) -> Result<Value, Refused> {
        let request: CredentialRequestOptions = serde_json::from_value(options.clone())
            .map_err(|e| Refused(format!("options do not parse: {e}")))?;
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            self.credential.clone(),
            Person,
            RustCryptoBackend,
        );
        authenticator.set_make_credentials_with_signature_counter(self.counts);
        let mut client = Client::new(authenticator).allows_insecure_localhost(true);
        let mut asserted = client
            .authenticate(&self.origin, request, passkey_client::DefaultClientData)
            .await
            .map_err(|e| Refused(format!("{e:?}")))?;
        self.credential = client.authenticator().store().clone();
        if self.device_bound {
            let credential = self
                .credential
                .as_ref()
                .ok_or_else(|| Refused("no credential".into()))?;
            asserted.response.authenticator_data[FLAGS_AT] &= !(Flags::BE | Flags::BS).bits();
            asserted.response.signature = sign(
                credential,
                &asserted.response.authenticator_data,
                &asserted.response.client_data_json,
            )?;
        }
        Ok(assertion_json(&asserted))
    }
}

fn url(origin: &str) -> Url {
    Url::parse(origin).unwrap_or_else(|e| panic!("test origin {origin}: {e}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the authenticator signs for an assertion: its data, then the hash of the client data.
fn sign(credential: &Passkey, auth_data: &[u8], client_data_json: &[u8]) -> Result<Bytes, Refused> {
    let mut key = RustCryptoSecretKey::from_cose_key(&credential.key)
        .map_err(|e| Refused(format!("{e:?}")))?;
    let mut signed = auth_data.to_vec();
    signed.extend_from_slice(&RustCryptoSha2::sha256(client_data_json));
    Ok(key.sign(&signed).into())
}

fn b64(bytes: &Bytes) -> Value {
    Value::String(String::from(bytes.clone()))
}

fn registration_json(c: &CreatedPublicKeyCredential) -> Value {
    let r = &c.response;
    json!({
        "id": c.id,
        "rawId": b64(&c.raw_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(&r.client_data_json),
            "authenticatorData": b64(&r.authenticator_data),
            "attestationObject": b64(&r.attestation_object),
            "publicKeyAlgorithm": r.public_key_algorithm,
            "transports": r.transports,
        },
        "authenticatorAttachment": c.authenticator_attachment,
        "clientExtensionResults": c.client_extension_results,
    })
}

fn assertion_json(c: &AuthenticatedPublicKeyCredential) -> Value {
    let r = &c.response;
    json!({
        "id": c.id,
        "rawId": b64(&c.raw_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(&r.client_data_json),
            "authenticatorData": b64(&r.authenticator_data),
            "signature": b64(&r.signature),
            "userHandle": r.user_handle.as_ref().map(b64),
        },
        "authenticatorAttachment": c.authenticator_attachment,
        "clientExtensionResults": c.client_extension_results,
    })
}
