//! Key names: all under the store's prefix, personal data only as a hash, and hash tags chosen so
//! that every key one script touches lives in the same Redis Cluster slot (layout in the crate docs).

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

/// The length of a hash in a key name, in hex digits.
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

    /// The hash tag of every key an email-code step touches: the prefix itself. A step (a start,
    /// either half of a guess) is one script, and a script may only touch keys of one Redis
    /// Cluster slot; the send limits a start takes include the global budget that every start
    /// shares, so all of them, and the attempts, carry one tag.
    fn tag(&self) -> String {
        format!("{{{}}}", self.prefix)
    }

    /// An attempt: `P:attempt:{P}:<id>`.
    pub(crate) fn attempt(&self, id: &AttemptId) -> String {
        format!("{}:attempt:{}:{id}", self.prefix, self.tag())
    }

    /// The GCRA state of a limiter key, its TAT in microseconds: `P:rate:{P}:<hash(key)>`. (The
    /// `P:gcra:` keys of earlier releases held milliseconds; a node of such a release, during a
    /// rolling upgrade, keeps to those, and they expire on their own.)
    pub(crate) fn gcra(&self, key: &str) -> String {
        format!("{}:rate:{}:{}", self.prefix, self.tag(), hash(key))
    }

    /// The failures of a limiter key: `P:failures:{P}:<hash(key)>`.
    pub(crate) fn failures(&self, key: &str) -> String {
        format!("{}:failures:{}:{}", self.prefix, self.tag(), hash(key))
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
    fn email_code_keys_share_the_store_tag_and_hide_what_they_are_for() {
        let keys = Keys::new("p:x").unwrap();
        let id = AttemptId::random(&OsRng);
        assert_eq!(keys.attempt(&id), format!("p:x:attempt:{{p:x}}:{id}"));
        for name in [
            keys.attempt(&id),
            keys.gcra("send:ip:192.0.2.1"),
            keys.failures("fail:addr:a@b.test"),
        ] {
            assert_eq!(hash_tag(&name), Some("p:x"), "{name} carries the store tag");
            assert!(name.starts_with("p:x:"), "{name} is under the prefix");
            assert!(!name.contains("192.0.2.1") && !name.contains('@'));
        }
        assert_ne!(
            keys.gcra("k"),
            keys.failures("k"),
            "GCRA state and failures never share a key"
        );
        assert_ne!(keys.gcra("k"), keys.gcra("l"));
    }

    #[test]
    fn ceremony_keys_are_hashed_and_tagged_by_their_hash() {
        let keys = Keys::new("p").unwrap();
        let name = keys.ceremony("c-1");
        let tag = hash_tag(&name).expect("tagged");
        assert_eq!(tag.len(), TAG_LEN, "{name} is tagged with a hash");
        assert!(!name.contains("c-1"));
    }

    /// The part of a key Redis Cluster hashes, if it has a tag.
    fn hash_tag(key: &str) -> Option<&str> {
        let open = key.find('{')?;
        let close = key[open + 1..].find('}')?;
        Some(&key[open + 1..open + 1 + close])
    }
}
