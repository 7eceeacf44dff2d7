//! Undoing an email change: the link mailed to the old address carries a single-use token that
//! moves the account back, ends every session and removes the passkeys added around the change.
//! Stores keep only the token's hash.

use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::ports::Rng;
use crate::session::{TokenHash, is_token, random_token, token_hash};
use crate::time::Timestamp;
use std::fmt;

/// The token of an undo link, as the old address receives it: 256 random bits. `Debug` never
/// shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RevertToken(String);

impl RevertToken {
    /// A fresh token.
    pub fn generate(rng: &dyn Rng) -> Self {
        Self(random_token(rng))
    }

    /// Parses a token presented by a client (43 base64url characters).
    pub fn parse(s: &str) -> Option<Self> {
        is_token(s).then(|| Self(s.to_owned()))
    }

    /// The token, for the mail that carries it and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores keep: SHA-256 of the token (256 random bits need no slow hash).
    pub fn hash(&self) -> TokenHash {
        token_hash(&self.0)
    }
}

impl fmt::Debug for RevertToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevertToken([redacted])")
    }
}

/// One undo link as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRevert {
    /// The hash of the link's token.
    pub token_hash: TokenHash,
    /// The account that changed its address.
    pub user_id: UserId,
    /// The address it had before, which the link restores.
    pub old_email: EmailAddress,
    /// When the change was made.
    pub changed_at: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn revert_tokens_parse_only_their_own_shape_and_never_show_in_debug() {
        let t = RevertToken::generate(&OsRng);
        assert_eq!(RevertToken::parse(t.expose()), Some(t.clone()));
        assert_eq!(RevertToken::parse("short"), None);
        assert_eq!(RevertToken::parse(&"*".repeat(43)), None);
        assert_ne!(t.hash(), RevertToken::generate(&OsRng).hash());
        assert_eq!(format!("{t:?}"), "RevertToken([redacted])");
    }
}
