//! Email-code attempts: starting them (sign-up, login, recovery, resend, email change) and
//! verifying their codes. Real and decoy attempts do the same work. This room holds what its
//! three parts share (the results, the error enums, what an opening is and the mail it sends);
//! `start`, `verify` and `email_change` each hold one `impl AuthService` block.

mod email_change;
mod start;
mod verify;

use crate::attempt::{Attempt, Purpose, Subject};
use crate::code::{CodeError, OtpCode};
use crate::email::EmailAddress;
use crate::ids::AttemptId;
use crate::language::Language;
use crate::mail::Message;
use crate::ports::StoreError;
use crate::time::Timestamp;
use crate::token::TokenError;
use crate::user::{DisplayName, User};
use std::time::Duration;

/// How long the undo link of an email change works.
pub(super) const REVERT_TTL: Duration = Duration::from_secs(72 * 3600);

/// An attempt was started: the client keeps the token and waits for the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The signed attempt token.
    pub attempt_token: String,
    /// How long the code is valid.
    pub code_ttl: Duration,
    /// How long the attempt token is accepted.
    pub token_ttl: Duration,
}

/// Starting a sign-up, login or recovery failed: the same few ways whether or not the address has
/// an account.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A send limit was hit.
    #[error("too many codes requested")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Asking for a new code of an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    /// The attempt token is not valid, or its attempt is gone, used or replaced.
    #[error("the attempt is not valid")]
    InvalidAttempt,
    /// A send limit was hit.
    #[error("too many codes requested")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl From<StartError> for ResendError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::RateLimited { retry_after } => ResendError::RateLimited { retry_after },
            StartError::Store(e) => ResendError::Store(e),
            StartError::Token(e) => ResendError::Token(e),
        }
    }
}

/// Starting an email change failed.
#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    /// A recent sign-in is required.
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// The new address is the account's current one.
    #[error("that is already the account's address")]
    SameAddress,
    /// The account is gone.
    #[error("the account no longer exists")]
    Gone,
    /// A send limit was hit.
    #[error("too many codes requested")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl From<StartError> for EmailChangeError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::RateLimited { retry_after } => {
                EmailChangeError::RateLimited { retry_after }
            }
            StartError::Store(e) => EmailChangeError::Store(e),
            StartError::Token(e) => EmailChangeError::Token(e),
        }
    }
}

/// Verifying a code failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The input is not a code at all (length or alphabet); no guess was spent.
    #[error(transparent)]
    Malformed(#[from] CodeError),
    /// Wrong, expired, used, superseded, out of guesses, a decoy, for another purpose, or an unknown
    /// or invalid attempt token: one answer for all, on purpose.
    #[error("the code is not valid")]
    Invalid,
    /// Too many guesses from this client or for this address.
    #[error("too many attempts")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// A recent sign-in is required (email change).
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// The address was taken by another account before the change could be made.
    #[error("the email address belongs to another account")]
    EmailTaken,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Why an attempt is opened, when that changes its mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The person asked for exactly this.
    Asked,
    /// The person tried to sign up with an address that already has an account.
    SignupWithTakenAddress,
    /// The address belongs to a disabled account: the attempt is a decoy, and the mail tells the
    /// owner that the account is disabled instead of carrying a code.
    Disabled,
}

/// What an attempt is about to be opened for.
struct Opening {
    email: EmailAddress,
    purpose: Purpose,
    subject: Subject,
    /// See [`Attempt::account_epoch`].
    account_epoch: u32,
    why: Why,
    /// The account's display name for the greeting, only when the mail goes to that account's
    /// own address (never for a decoy or a sign-up code).
    name: Option<DisplayName>,
    /// The account's language, for mail to that account's own address; otherwise the mail
    /// speaks the requester's language.
    language: Option<Language>,
}

impl Opening {
    fn new(email: EmailAddress, purpose: Purpose, subject: Subject, account_epoch: u32) -> Self {
        Self {
            email,
            purpose,
            subject,
            account_epoch,
            why: Why::Asked,
            name: None,
            language: None,
        }
    }

    /// A start for an address, as the account (or its absence) decides. A disabled account gets
    /// what an unknown address gets (a decoy attempt that can never verify, and one mail) so that
    /// the answer and the work are the same; only the mail, which goes to the owner, says why.
    fn for_account(email: EmailAddress, purpose: Purpose, user: Option<User>) -> Self {
        match user {
            Some(user) if user.is_disabled() => Self {
                why: Why::Disabled,
                name: Some(user.display_name),
                language: Some(user.language),
                ..Self::new(email, purpose, Subject::Decoy, 0)
            },
            Some(user) => Self {
                name: Some(user.display_name),
                language: Some(user.language),
                ..Self::new(
                    email,
                    purpose,
                    Subject::Account { user_id: user.id },
                    user.attempt_epoch,
                )
            },
            None => Self::new(email, purpose, Subject::Decoy, 0),
        }
    }
}

/// A resend continues a chain: it replaces the attempt it came from and ends when the chain's
/// first token does.
#[derive(Debug, Clone, Copy)]
struct Resent {
    replaces: AttemptId,
    token_expires_at: Timestamp,
}

/// The mail an attempt sends: its code (with how long it lasts), or a notice for a decoy.
fn message_for(attempt: &Attempt, code: OtpCode, code_ttl: Duration, why: Why) -> Message {
    let valid_minutes = code_ttl.as_secs().div_ceil(60);
    match (&attempt.subject, attempt.purpose) {
        (Subject::NewAccount { .. }, _) => Message::SignupCode {
            code,
            valid_minutes,
        },
        (Subject::Account { .. }, Purpose::Login) if why == Why::SignupWithTakenAddress => {
            Message::AlreadyRegistered {
                code,
                valid_minutes,
            }
        }
        (Subject::Account { .. }, Purpose::Login | Purpose::Signup) => Message::LoginCode {
            code,
            valid_minutes,
        },
        (Subject::Account { .. }, Purpose::Recovery) => Message::RecoveryCode {
            code,
            valid_minutes,
        },
        (Subject::Account { .. }, Purpose::EmailChange) => Message::EmailChangeCode {
            code,
            valid_minutes,
        },
        (Subject::Decoy, Purpose::EmailChange) => Message::EmailChangeTaken,
        (Subject::Decoy, _) if why == Why::Disabled => Message::DisabledAccount,
        (Subject::Decoy, _) => Message::NoAccount,
    }
}
