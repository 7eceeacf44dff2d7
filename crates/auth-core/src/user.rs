//! Accounts and their public face.

use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::language::Language;
use crate::time::Timestamp;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};
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
    /// The language of mail to the account, and of the page once it has signed in.
    pub language: Language,
    /// When an operator disabled it; `None` while it may sign in. A disabled account keeps its
    /// data but opens no session by any path, and looks to outsiders like any other account.
    pub disabled_at: Option<Timestamp>,
}

impl User {
    /// Whether an operator has disabled it.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// What anyone may see of a public account: never its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicProfile {
    /// The account id.
    pub id: UserId,
    /// Its display name.
    pub display_name: DisplayName,
}

/// A name shown to people: in NFC, 1 to 64 characters after trimming, at least one of them visible,
/// no control characters and no bidi overrides.
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
    /// Holds control characters or bidi overrides, or nothing that can be seen.
    #[error("the display name holds characters that cannot be shown")]
    Invalid,
}

impl DisplayName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Parses a name as given by a person: trimmed and composed (NFC), so that one name looks and
    /// compares the same however it was typed.
    pub fn parse(input: &str) -> Result<Self, DisplayNameError> {
        let composed = ComposingNormalizerBorrowed::new_nfc().normalize(input);
        let s = composed.trim();
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
        // A name of zero-width spaces, joiners, fillers or lone marks shows nothing, so a person
        // could not tell it from no name (or from another such name).
        if !s.chars().any(visible) {
            return Err(DisplayNameError::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `c` draws something by itself: a letter, digit, punctuation or symbol that renderers do
/// not ignore. Spaces, controls, format characters (zero-width space and joiners, bidi marks),
/// combining marks on their own, private-use and unassigned code points do not count, nor do the
/// letters Unicode marks as default-ignorable (the Hangul fillers) or the blank braille pattern.
fn visible(c: char) -> bool {
    let drawn = GeneralCategoryGroup::Letter
        .union(GeneralCategoryGroup::Number)
        .union(GeneralCategoryGroup::Punctuation)
        .union(GeneralCategoryGroup::Symbol);
    drawn.contains(CodePointMapData::<GeneralCategory>::new().get(c))
        && !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        && c != '\u{2800}'
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

    #[test]
    fn names_without_a_visible_character_are_refused() {
        for invisible in [
            "\u{200b}",
            "\u{200b}\u{200b}\u{200b}",
            "\u{200c}\u{200d}",
            "\u{2060}\u{feff}",
            "\u{00ad}",
            "\u{3164}",
            "\u{115f}\u{1160}",
            "\u{ffa0}",
            "\u{2800}",
            "\u{0301}\u{0301}",
            "\u{fe0f}",
            "\u{e000}",
            "\u{3000}\u{200b}\u{3000}",
            "\u{180e}",
            "\u{1d173}",
            "\u{e0020}",
        ] {
            assert_eq!(
                DisplayName::parse(invisible),
                Err(DisplayNameError::Invalid),
                "{invisible:?}"
            );
        }
    }

    #[test]
    fn names_with_something_visible_keep_their_joiners() {
        for ok in [
            "A",
            "·",
            "😀",
            "👩\u{200d}💻",
            "\u{200b}Ada",
            "می\u{200c}خواهم",
            "李",
            "1",
        ] {
            assert!(DisplayName::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn names_are_stored_composed() {
        let decomposed = DisplayName::parse("Zoe\u{0308}").unwrap();
        let composed = DisplayName::parse("Zo\u{eb}").unwrap();
        assert_eq!(decomposed.as_str(), "Zo\u{eb}");
        assert_eq!(decomposed, composed);
        // The length limit counts composed characters.
        assert!(DisplayName::parse(&"e\u{0301}".repeat(64)).is_ok());
    }
}
