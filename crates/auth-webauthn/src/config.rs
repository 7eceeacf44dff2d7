//! The relying party's settings and why they can be refused.

use serde::Deserialize;

/// Who we are to authenticators and browsers. Fixed for the life of the deployment: every passkey is
/// bound to `id`, so changing it strands every registered passkey.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RelyingParty {
    /// The relying party id, a registrable domain suffix of the origin's host: `auth.example.com`,
    /// `example.com`, or `localhost` in development.
    pub id: String,
    /// The web origin the browser runs the ceremonies on, scheme and port included:
    /// `https://auth.example.com`, `http://localhost:8080`. Responses from any other origin are
    /// rejected.
    pub origin: String,
    /// The service's name as authenticators show it.
    pub name: String,
    /// Which authenticators may hold new passkeys.
    #[serde(default)]
    pub attachment: Attachment,
    /// How long the browser waits for the person: `Policy::browser_timeout`, so the browser gives
    /// up before the server forgets the ceremony.
    #[serde(
        default = "default_browser_timeout",
        with = "auth_core::policy::duration_serde"
    )]
    pub browser_timeout: std::time::Duration,
}

fn default_browser_timeout() -> std::time::Duration {
    auth_core::Policy::default().browser_timeout()
}

/// Which kinds of authenticator registration asks for.
///
/// Sign-in is never restricted: any passkey the account registered may sign in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attachment {
    /// Offer the device's own authenticator (Touch ID, Windows Hello, Android, a password manager)
    /// first, but let the person pick a security key or a phone instead. Sent as the WebAuthn
    /// `hints: ["client-device"]`, which browsers that do not know hints ignore.
    #[default]
    PreferPlatform,
    /// Only the device's own authenticator (`authenticatorAttachment: "platform"`): security keys
    /// and phones are not offered.
    PlatformOnly,
    /// No preference: the browser offers every kind of authenticator alike.
    Any,
}

/// The relying party settings are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The origin does not parse as a URL.
    #[error("the relying party origin {0:?} is not a URL")]
    Origin(String),
    /// The name is empty.
    #[error("the relying party name must not be empty")]
    EmptyName,
    /// The id does not fit the origin (it must be the origin's host or a registrable suffix of it),
    /// or the origin is not one a browser runs WebAuthn on.
    #[error("the relying party id {id:?} does not fit the origin {origin:?}: {reason}")]
    Mismatch {
        /// The configured id.
        id: String,
        /// The configured origin.
        origin: String,
        /// What the WebAuthn library said.
        reason: String,
    },
}
