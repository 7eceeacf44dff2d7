//! Passkeys: the credentials an account signs in with first, and the WebAuthn ceremony types that
//! cross the port. The WebAuthn adapter's own records travel as opaque bytes or JSON, so no adapter
//! type ever appears here.

use crate::ids::{PasskeyId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A registered passkey. Only public material: a private key never reaches the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// Our id for it.
    pub id: PasskeyId,
    /// Its account.
    pub user_id: UserId,
    /// The authenticator's credential id (unique across all accounts).
    pub credential_id: Vec<u8>,
    /// The name its owner gave it.
    pub name: PasskeyName,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed in.
    pub last_used_at: Option<Timestamp>,
    /// Whether it may be synced to other devices (backup eligible).
    pub backup_eligible: bool,
    /// Whether it is currently backed up (synced).
    pub backed_up: bool,
    /// How the authenticator can be reached (`internal`, `hybrid`, `usb`, ...).
    pub transports: Vec<String>,
    /// The signature counter last seen.
    pub sign_count: u32,
    /// The WebAuthn adapter's record of the credential (public key and flags), opaque here.
    pub credential: Vec<u8>,
}

/// A passkey's name: 1 to 64 characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasskeyName(String);

impl PasskeyName {
    /// Parses a name given by a person (the same rules as display names).
    pub fn parse(input: &str) -> Result<Self, crate::user::DisplayNameError> {
        crate::user::DisplayName::parse(input).map(|d| Self(d.as_str().to_owned()))
    }

    /// A name made from what the authenticator or browser said, cut to fit; `Passkey` if nothing usable.
    pub fn or_default(hint: Option<&str>) -> Self {
        let cleaned: String = hint
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        Self::parse(&cleaned).unwrap_or_else(|_| Self("Passkey".to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasskeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasskeyName({:?})", self.0)
    }
}

impl fmt::Display for PasskeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PasskeyName {
    type Error = crate::user::DisplayNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PasskeyName> for String {
    fn from(n: PasskeyName) -> Self {
        n.0
    }
}

/// The start of a ceremony: what the browser gets, and what the server keeps (single use).
#[derive(Debug, Clone, PartialEq)]
pub struct Ceremony {
    /// The options for `navigator.credentials.create()` / `.get()`, as JSON (`{"publicKey": ...}`).
    pub options: serde_json::Value,
    /// The adapter's ceremony state, opaque here.
    pub state: Vec<u8>,
}

/// A credential the authenticator just created, as the adapter verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The adapter's record of it.
    pub credential: Vec<u8>,
    /// Backup eligible.
    pub backup_eligible: bool,
    /// Backed up.
    pub backed_up: bool,
    /// Transports the browser reported.
    pub transports: Vec<String>,
    /// The initial signature counter.
    pub sign_count: u32,
}

/// What a successful passkey sign-in says about the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    /// The adapter's updated record (counter, backup state).
    pub credential: Vec<u8>,
    /// The new signature counter.
    pub sign_count: u32,
    /// Whether it is backed up now.
    pub backed_up: bool,
}

/// Why a ceremony failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    /// The response is not a WebAuthn response at all.
    #[error("the passkey response is malformed")]
    Malformed,
    /// Verification failed: wrong challenge (replay), origin, RP id, signature, missing user
    /// verification, unknown credential.
    #[error("the passkey response was rejected")]
    Rejected,
    /// The signature counter went backwards on a credential that is not synced: possibly cloned.
    #[error("the passkey may have been cloned")]
    PossibleClone,
    /// The adapter itself failed (configuration, serialisation of its own state).
    #[error("webauthn failed: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_names_need_a_visible_character_and_are_composed() {
        assert!(PasskeyName::parse("\u{200b}").is_err());
        assert!(PasskeyName::parse("\u{3164}\u{200d}").is_err());
        assert_eq!(
            PasskeyName::parse("Cle\u{301}").unwrap().as_str(),
            "Cl\u{e9}"
        );
        assert_eq!(
            PasskeyName::or_default(Some("\u{200b}")).as_str(),
            "Passkey"
        );
    }

    #[test]
    fn names_are_bounded_and_defaults_are_sensible() {
        assert_eq!(PasskeyName::parse(" Laptop ").unwrap().as_str(), "Laptop");
        assert!(PasskeyName::parse("").is_err());
        assert_eq!(PasskeyName::or_default(None).as_str(), "Passkey");
        assert_eq!(PasskeyName::or_default(Some("  ")).as_str(), "Passkey");
        assert_eq!(
            PasskeyName::or_default(Some("iCloud\u{0} Keychain")).as_str(),
            "iCloud Keychain"
        );
        assert_eq!(
            PasskeyName::or_default(Some(&"x".repeat(100)))
                .as_str()
                .len(),
            64
        );
    }
}
