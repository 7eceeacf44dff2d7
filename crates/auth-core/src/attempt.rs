//! Email-code attempts: what one code is for, and the state a store keeps for it.

use crate::code::CodeHash;
use crate::email::EmailAddress;
use crate::ids::{AttemptId, UserId};
use crate::time::Timestamp;
use crate::user::DisplayName;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an [`crate::ports::AttemptStore`] keeps an attempt after it expires, readable in
/// whatever state, so that a late resend or verify still finds it and is answered as for an
/// expired code rather than an unknown one. A store may forget the attempt once this has passed
/// (Redis sets it into the key's TTL, PostgreSQL's purge deletes after it, memory sweeps after
/// it); every store reads it from here.
pub const ATTEMPT_GRACE: Duration = Duration::from_secs(3600);

/// What a code may be used for. A code is only ever valid for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Prove an address to create an account.
    Signup,
    /// Sign in to an existing account.
    Login,
    /// Sign in after losing every passkey.
    Recovery,
    /// Move a signed-in account to a new address.
    EmailChange,
}

impl Purpose {
    /// Stable name, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::Signup => "signup",
            Purpose::Login => "login",
            Purpose::Recovery => "recovery",
            Purpose::EmailChange => "email_change",
        }
    }

    /// Inverse of [`Purpose::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "signup" => Purpose::Signup,
            "login" => Purpose::Login,
            "recovery" => Purpose::Recovery,
            "email_change" => Purpose::EmailChange,
            _ => return None,
        })
    }
}

/// Whom an attempt would act for once its code is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A sign-up: the account is created only when the code is verified.
    NewAccount {
        /// The display name given at sign-up.
        display_name: DisplayName,
    },
    /// An existing account (login, recovery, email change).
    Account {
        /// The account.
        user_id: UserId,
    },
    /// An attempt for an address with no account (or a taken one, for an email change). It does
    /// the same storage work as a real one and can never verify.
    Decoy,
}

/// Where an attempt is in its life. Being out of guesses is derived from `guesses`, not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Waiting for its code.
    Active,
    /// Its code was verified once; it can never be used again.
    Consumed,
    /// A resend replaced its code with a newer one.
    Superseded,
}

impl AttemptState {
    /// Stable name, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptState::Active => "active",
            AttemptState::Consumed => "consumed",
            AttemptState::Superseded => "superseded",
        }
    }

    /// Inverse of [`AttemptState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => AttemptState::Active,
            "consumed" => AttemptState::Consumed,
            "superseded" => AttemptState::Superseded,
            _ => return None,
        })
    }
}

/// One code attempt as a store keeps it. The code itself is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Its id, also named by the client's attempt token.
    pub id: AttemptId,
    /// What the code is for.
    pub purpose: Purpose,
    /// The address the code was sent to.
    pub email: EmailAddress,
    /// Whom it acts for.
    pub subject: Subject,
    /// The keyed hash of the code.
    pub code_hash: CodeHash,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// Guesses evaluated so far (right or wrong).
    pub guesses: u32,
    /// Where it is in its life.
    pub state: AttemptState,
    /// For an account's attempt: the account's [`crate::user::User::attempt_epoch`] when the
    /// chain of attempts (a start and its resends) began. The attempt signs in only while the
    /// account is still in that epoch. Zero for sign-ups and decoys.
    pub account_epoch: u32,
}

impl Attempt {
    /// Until when a store keeps it: its expiry plus [`ATTEMPT_GRACE`].
    pub fn kept_until(&self) -> Timestamp {
        self.expires_at.plus(ATTEMPT_GRACE)
    }

    /// Whether a guess may still be evaluated against it at `now`.
    pub fn accepts_guess(&self, now: Timestamp, max_guesses: u32) -> bool {
        self.state == AttemptState::Active && now < self.expires_at && self.guesses < max_guesses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_kept_for_the_grace_after_it_expires() {
        let created_at = Timestamp::from_millis(1_000);
        let attempt = Attempt {
            id: AttemptId::from_uuid(uuid::Uuid::nil()),
            purpose: Purpose::Login,
            email: EmailAddress::parse("late@example.com").unwrap(),
            subject: Subject::Decoy,
            code_hash: CodeHash([0; 32]),
            created_at,
            expires_at: created_at.plus(Duration::from_secs(600)),
            guesses: 0,
            state: AttemptState::Active,
            account_epoch: 0,
        };
        assert_eq!(
            attempt.kept_until().since(attempt.expires_at),
            ATTEMPT_GRACE
        );
        assert_eq!(ATTEMPT_GRACE, Duration::from_secs(3600));
    }
}
