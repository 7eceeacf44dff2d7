//! `EmailAddress`: exactly one normalised address, or a reason why not.
//!
//! One mailbox has one identity: the local part is lower-cased ASCII, and the domain goes through
//! IDNA (UTS 46, strict: STD3 rules, hyphen and DNS length checks) to its ASCII form, so
//! `user@bücher.example`, `user@BÜCHER.example` and `user@xn--bcher-kva.example` are one address.
//! The ASCII (punycode) form is what is stored, compared and mailed to: every SMTP relay accepts
//! it, and it needs no SMTPUTF8. A domain that IDNA refuses is not an address.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One email address, trimmed and lower-cased, its domain in IDNA ASCII form. Once parsed, nothing
/// re-checks it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Why a string is not one email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("the email address is empty")]
    Empty,
    /// Longer than 254 characters, or a local part over 64.
    #[error("the email address is too long")]
    TooLong,
    /// Separators or a second `@`: a list of addresses, not one.
    #[error("exactly one email address is allowed")]
    Multiple,
    /// Anything else that is not `local@domain.tld`.
    #[error("the email address is not valid")]
    Invalid,
}

const LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";

impl EmailAddress {
    /// Parses one address. Lists (`a@x, b@y`), display names (`Bob <b@x>`), quoted local parts and
    /// anything with whitespace inside are rejected rather than guessed at.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        if s.matches('@').count() > 1 || s.contains([',', ';']) || s.contains(char::is_whitespace) {
            return Err(EmailError::Multiple);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Invalid)?;
        if local.len() > 64 {
            return Err(EmailError::TooLong);
        }
        let local_ok = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c));
        if !local_ok {
            return Err(EmailError::Invalid);
        }
        let domain = ascii_domain(domain).ok_or(EmailError::Invalid)?;
        // Punycode can make a domain longer than it was typed.
        if local.len() + 1 + domain.len() > 254 {
            return Err(EmailError::TooLong);
        }
        Ok(Self(format!("{}@{domain}", local.to_ascii_lowercase())))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a***@example.com`: enough for a person to recognise their address in a notice.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

/// The domain's one ASCII form (UTS 46 mapping, lower case, punycode), if it is a domain a mail
/// can go to: at least two labels of letters, digits and inner hyphens, and a top level that is not
/// all digits.
fn ascii_domain(domain: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    valid_domain(&ascii).then_some(ascii)
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Addresses are personal data: logs get the masked form.
        write!(f, "EmailAddress({})", self.masked())
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_surrounding_space() {
        let e = EmailAddress::parse("  Alice.Smith+tag@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "alice.smith+tag@example.com");
        assert_eq!(e.masked(), "a***@example.com");
        assert_eq!(format!("{e:?}"), "EmailAddress(a***@example.com)");
    }

    #[test]
    fn rejects_lists_and_everything_that_is_not_one_address() {
        let cases = [
            ("", EmailError::Empty),
            ("a@x.com,b@y.com", EmailError::Multiple),
            ("a@x.com; b@y.com", EmailError::Multiple),
            ("a@x.com b@y.com", EmailError::Multiple),
            ("a@b@x.com", EmailError::Multiple),
            ("Bob <bob@x.com>", EmailError::Multiple),
            ("<bob@x.com>", EmailError::Invalid),
            ("\"bob\"@x.com", EmailError::Invalid),
            ("bob", EmailError::Invalid),
            ("bob@", EmailError::Invalid),
            ("@x.com", EmailError::Invalid),
            ("bob@localhost", EmailError::Invalid),
            ("bob@x..com", EmailError::Invalid),
            ("bob@-x.com", EmailError::Invalid),
            ("bob@x.123", EmailError::Invalid),
            (".bob@x.com", EmailError::Invalid),
            ("bo..b@x.com", EmailError::Invalid),
            ("bob@x.com\r\nBcc: eve@y.com", EmailError::Multiple),
            ("bob\u{0}@x.com", EmailError::Invalid),
        ];
        for (input, want) in cases {
            assert_eq!(EmailAddress::parse(input), Err(want), "{input:?}");
        }
        let long_local = format!("{}@x.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(EmailError::TooLong));
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn an_international_domain_has_one_ascii_identity() {
        let want = "user@xn--bcher-kva.example";
        for typed in [
            "user@bücher.example",
            "USER@BÜCHER.EXAMPLE",
            "user@xn--bcher-kva.example",
            "user@XN--BCHER-KVA.example",
            // A decomposed ü (u + combining diaeresis) and a full-width dot map to the same name.
            "user@bu\u{308}cher.example",
            "user@bücher\u{ff0e}example",
            // UTS 46 drops a zero-width space: it names the same domain.
            "user@bü\u{200b}cher.example",
        ] {
            assert_eq!(
                EmailAddress::parse(typed).map(|e| e.as_str().to_owned()),
                Ok(want.to_owned()),
                "{typed:?}"
            );
        }
        assert_eq!(
            EmailAddress::parse("user@bücher.example"),
            EmailAddress::parse("user@xn--bcher-kva.example")
        );
        assert_eq!(
            EmailAddress::parse("a@пример.рф").unwrap().as_str(),
            "a@xn--e1afmkfd.xn--p1ai"
        );
    }

    #[test]
    fn domains_that_do_not_survive_idna_are_refused() {
        for bad in [
            // Not valid punycode, or punycode of something IDNA forbids.
            "a@xn--.example",
            "a@xn--a.example",
            "a@xn--zz-zzzzzzzzzzzz.example",
            // Disallowed code points and STD3 violations.
            "a@exa_mple.com",
            "a@ex\u{fffd}ample.com",
            "a@ex%ample.com",
            "a@exam\u{ffff}ple.com",
            // Hyphens in the third and fourth place are reserved for xn--.
            "a@ab--cd.example",
            // A label that punycode makes longer than 63 octets.
            &format!("a@{}.example", "ü".repeat(60)),
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deserialising_goes_through_parse() {
        assert!(serde_json::from_str::<EmailAddress>("\"a@x.com\"").is_ok());
        assert!(serde_json::from_str::<EmailAddress>("\"a@x.com,b@x.com\"").is_err());
        assert!(serde_json::from_str::<EmailAddress>("[\"a@x.com\"]").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_reparses_to_itself(s in "\\PC{0,300}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert_eq!(EmailAddress::parse(e.as_str()), Ok(e.clone()));
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert!(!e.as_str().contains([',', ';', ' ', '<', '>']));
            }
        }

        #[test]
        fn parsed_addresses_are_ascii_and_their_unicode_domain_parses_to_them(s in "[a-z]{1,8}@[a-zäöüß\u{4e00}-\u{4e10}]{1,12}\\.[a-z]{2,4}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert!(e.as_str().is_ascii());
                let (_, domain) = e.as_str().split_once('@').unwrap();
                let (unicode, result) = idna::domain_to_unicode(domain);
                prop_assert!(result.is_ok());
                let again = EmailAddress::parse(&format!("{}@{unicode}", e.as_str().split_once('@').unwrap().0));
                prop_assert_eq!(again, Ok(e.clone()));
            }
        }

        #[test]
        fn simple_addresses_always_parse(local in "[a-z0-9]{1,20}", dom in "[a-z0-9]{1,20}", tld in "[a-z]{2,6}") {
            let s = format!("{local}@{dom}.{tld}");
            let parsed = EmailAddress::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }
    }
}
