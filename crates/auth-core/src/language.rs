//! The languages the page and the mail speak, and the choice of one from what a client asks for.
//!
//! An account stores its language so that mail to it is written in it; mail to an address
//! without an account uses the language of the request that caused it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A language with complete catalogs: English or German.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Language {
    /// English, the default.
    #[default]
    En,
    /// German.
    De,
}

/// A language tag that names no language of [`Language::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the language must be one of: en, de")]
pub struct UnknownLanguage;

impl Language {
    /// Every language, the default first.
    pub const ALL: [Language; 2] = [Language::En, Language::De];

    /// The BCP 47 primary tag: `en` or `de`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
        }
    }

    /// The language a tag names: `de`, `de-AT` and `DE_ch` are German. Only the primary
    /// subtag counts.
    ///
    /// # Errors
    /// [`UnknownLanguage`] for any other tag.
    pub fn parse(tag: &str) -> Result<Self, UnknownLanguage> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(primary))
            .ok_or(UnknownLanguage)
    }

    /// The first language of an `Accept-Language` header that we speak, by quality (highest
    /// first, ties in the header's order); `None` if the header names none of ours. Entries with
    /// `q=0` are refused languages and never chosen; a malformed quality counts as 0.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(u16, Language)> = None;
        // At most 32 entries: a header is not a place for unbounded work.
        for entry in header.split(',').take(32) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), quality)
                .unwrap_or(0);
            let Ok(lang) = Self::parse(tag) else { continue };
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

/// A quality value (`0`, `0.5`, `1.000`) in thousandths, `None` when malformed.
fn quality(s: &str) -> Option<u16> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = whole + frac;
    (q <= 1000).then_some(q)
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Language {
    type Error = UnknownLanguage;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        // Stored and wire values are exact; only headers and page input are forgiving.
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == value)
            .ok_or(UnknownLanguage)
    }
}

impl From<Language> for &'static str {
    fn from(value: Language) -> Self {
        value.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_primary_tags_only() {
        assert_eq!(Language::parse("de-AT"), Ok(Language::De));
        assert_eq!(Language::parse("EN_gb"), Ok(Language::En));
        assert_eq!(Language::parse("fr"), Err(UnknownLanguage));
        assert_eq!(Language::parse(""), Err(UnknownLanguage));
        assert_eq!(Language::try_from("DE".to_owned()), Err(UnknownLanguage));
        assert_eq!(Language::try_from("de".to_owned()), Ok(Language::De));
    }

    #[test]
    fn accept_language_follows_quality_then_order() {
        let pick = Language::from_accept_language;
        assert_eq!(pick("de-DE,de;q=0.9,en;q=0.8"), Some(Language::De));
        assert_eq!(pick("fr-FR, en;q=0.5, de;q=0.7"), Some(Language::De));
        assert_eq!(pick("en, de"), Some(Language::En));
        assert_eq!(pick("de;q=0, en;q=0.1"), Some(Language::En));
        assert_eq!(pick("fr, it"), None);
        assert_eq!(pick("de;q=2, en;q=0.2"), Some(Language::En));
        assert_eq!(pick("de;q=0.x"), None);
        assert_eq!(pick(""), None);
    }
}
