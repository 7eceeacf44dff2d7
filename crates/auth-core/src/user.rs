//! Accounts and their public face.

use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An account. It exists only once its address has been proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id, also the `sub` of its access tokens.
    pub id: UserId,
    /// Its proven address (unique).
    pub email: EmailAddress,
    /// What it is called.
    pub display_name: DisplayName,
    /// Whether anyone may see its profile in the public listing.
    pub public: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// Goes up whenever every open email-code attempt of the account must die: an email change
    /// (or its undoing) and signing out everywhere. An attempt started in an older epoch never
    /// signs in.
    pub attempt_epoch: u32,
}

/// What anyone may see of a public account: never its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicProfile {
    /// The account id.
    pub id: UserId,
    /// Its display name.
    pub display_name: DisplayName,
}

/// A name shown to people: 1 to 64 characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

/// Why a string is not a display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Empty after trimming.
    #[error("the display name is empty")]
    Empty,
    /// Over 64 characters.
    #[error("the display name is longer than 64 characters")]
    TooLong,
    /// Holds control or formatting characters.
    #[error("the display name holds characters that cannot be shown")]
    Invalid,
}

impl DisplayName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Parses a name as given by a person.
    pub fn parse(input: &str) -> Result<Self, DisplayNameError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DisplayNameError::Empty);
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(DisplayNameError::TooLong);
        }
        // Control characters and bidi overrides would let a name lie about what surrounds it.
        if s.chars().any(|c| {
            c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        }) {
            return Err(DisplayNameError::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({:?})", self.0)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DisplayName {
    type Error = DisplayNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DisplayName> for String {
    fn from(d: DisplayName) -> Self {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(DisplayName::parse("   "), Err(DisplayNameError::Empty));
        assert_eq!(
            DisplayName::parse(&"é".repeat(64))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
        assert_eq!(
            DisplayName::parse(&"é".repeat(65)),
            Err(DisplayNameError::TooLong)
        );
        assert_eq!(
            DisplayName::parse("a\u{0}b"),
            Err(DisplayNameError::Invalid)
        );
        assert_eq!(
            DisplayName::parse("evil\u{202e}txt"),
            Err(DisplayNameError::Invalid)
        );
    }
}
