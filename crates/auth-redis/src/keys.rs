//! Key names: all under the store's prefix, personal data only as a hash, and hash tags chosen so
//! that every key one script touches lives in the same Redis Cluster slot (layout in the crate docs).

use auth_core::EmailAddress;
use auth_core::ids::AttemptId;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The key names of one store.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// The longest prefix accepted.
const MAX_PREFIX: usize = 64;

/// The length of an address tag, in hex digits.
const TAG_LEN: usize = 32;

impl Keys {
    /// Keys under `prefix`: 1 to 64 of `A-Z a-z 0-9 : _ . -`. Braces would move the hash tag and
    /// glob characters would make the prefix unusable in `SCAN MATCH`, so neither is allowed.
    pub(crate) fn new(prefix: &str) -> Result<Self, String> {
        let ok = (1..=MAX_PREFIX).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b));
        if !ok {
            return Err(format!(
                "the redis key prefix must be 1 to {MAX_PREFIX} of A-Z a-z 0-9 : _ . -"
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash tag shared by every attempt key of one address.
    pub(crate) fn address_tag(email: &EmailAddress) -> String {
        hash(email.as_str())
    }

    /// Whether `tag` could have come from [`Keys::address_tag`].
    pub(crate) fn is_address_tag(tag: &str) -> bool {
        tag.len() == TAG_LEN
            && tag
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// An attempt's key without its id: `P:attempt:{tag}:`.
    pub(crate) fn attempt_base(&self, tag: &str) -> String {
        format!("{}:attempt:{{{tag}}}:", self.prefix)
    }

    /// An attempt: `P:attempt:{tag}:<id>`.
    pub(crate) fn attempt(&self, tag: &str, id: &AttemptId) -> String {
        format!("{}{id}", self.attempt_base(tag))
    }

    /// Where an attempt's address tag is kept: `P:attempt-ref:{<id>}`.
    pub(crate) fn attempt_ref(&self, id: &AttemptId) -> String {
        format!("{}:attempt-ref:{{{id}}}", self.prefix)
    }

    /// The GCRA state of a limiter key: `P:gcra:{hash(key)}`.
    pub(crate) fn gcra(&self, key: &str) -> String {
        format!("{}:gcra:{{{}}}", self.prefix, hash(key))
    }

    /// The failures of a limiter key: `P:failures:{hash(key)}`.
    pub(crate) fn failures(&self, key: &str) -> String {
        format!("{}:failures:{{{}}}", self.prefix, hash(key))
    }

    /// An authorization code: `P:code:{hash(hex of the code's SHA-256)}`.
    pub(crate) fn code(&self, code_hash: &auth_core::session::TokenHash) -> String {
        let hex = code_hash
            .0
            .iter()
            .fold(String::with_capacity(64), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            });
        format!("{}:code:{{{}}}", self.prefix, hash(&hex))
    }

    /// A ceremony's state: `P:ceremony:{hash(id)}`.
    pub(crate) fn ceremony(&self, id: &str) -> String {
        format!("{}:ceremony:{{{}}}", self.prefix, hash(id))
    }
}

/// The first 128 bits of the SHA-256 of `s`, in lower-case hex: short, yet collision-free in
/// practice, and free of any personal data that `s` holds.
fn hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..TAG_LEN / 2]
        .iter()
        .fold(String::with_capacity(TAG_LEN), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::ports::OsRng;

    #[test]
    fn prefixes_with_braces_globs_or_spaces_are_refused() {
        for bad in [
            "",
            "a{b",
            "a}b",
            "a*",
            "a?",
            "a[b]",
            "a b",
            "ä",
            &"x".repeat(65),
        ] {
            assert!(Keys::new(bad).is_err(), "prefix {bad:?} must be refused");
        }
        for good in ["auth", "auth:prod", "test-1.a_b", &"x".repeat(64)] {
            assert!(Keys::new(good).is_ok(), "prefix {good:?} must be accepted");
        }
    }

    #[test]
    fn attempt_keys_share_the_address_tag_and_hide_the_address() {
        let keys = Keys::new("p").unwrap();
        let email = EmailAddress::parse("Someone@Example.test").unwrap();
        let tag = Keys::address_tag(&email);
        assert!(Keys::is_address_tag(&tag));
        let id = AttemptId::random(&OsRng);
        let names = [keys.attempt(&tag, &id), keys.attempt_base(&tag)];
        for name in &names {
            assert_eq!(
                hash_tag(name),
                Some(tag.as_str()),
                "{name} carries the address tag"
            );
            assert!(
                !name.contains("someone") && !name.contains('@'),
                "{name} holds no address"
            );
        }
        assert_eq!(keys.attempt(&tag, &id), format!("p:attempt:{{{tag}}}:{id}"));
        assert_eq!(
            hash_tag(&keys.attempt_ref(&id)),
            Some(id.to_string().as_str())
        );
    }

    #[test]
    fn limiter_and_ceremony_keys_are_hashed_and_tagged() {
        let keys = Keys::new("p").unwrap();
        for name in [
            keys.gcra("send:ip:192.0.2.1"),
            keys.failures("fail:addr:a@b.test"),
            keys.ceremony("c-1"),
        ] {
            let tag = hash_tag(&name).expect("tagged");
            assert!(Keys::is_address_tag(tag), "{name} is tagged with a hash");
            assert!(!name.contains("192.0.2.1") && !name.contains('@') && !name.contains("c-1"));
        }
        assert_ne!(
            keys.gcra("k"),
            keys.failures("k"),
            "GCRA state and failures never share a key"
        );
    }

    /// The part of a key Redis Cluster hashes, if it has a tag.
    fn hash_tag(key: &str) -> Option<&str> {
        let open = key.find('{')?;
        let close = key[open + 1..].find('}')?;
        Some(&key[open + 1..open + 1 + close])
    }
}
