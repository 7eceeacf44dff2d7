//! Email-code attempts: what one code is for, and the state a store keeps for it.

use crate::code::CodeHash;
use crate::email::EmailAddress;
use crate::ids::{AttemptId, UserId};
use crate::time::Timestamp;
use crate::user::DisplayName;
use serde::{Deserialize, Serialize};

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
    /// Whether a guess may still be evaluated against it at `now`.
    pub fn accepts_guess(&self, now: Timestamp, max_guesses: u32) -> bool {
        self.state == AttemptState::Active && now < self.expires_at && self.guesses < max_guesses
    }
}
