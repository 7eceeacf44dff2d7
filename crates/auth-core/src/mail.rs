//! The mail the service sends, in domain terms. Rendering and delivery belong to a `Mailer` adapter.

use crate::code::OtpCode;
use crate::email::EmailAddress;
use crate::language::Language;
use crate::revert::RevertToken;
use crate::time::Timestamp;

/// One message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The single recipient.
    pub to: EmailAddress,
    /// The display name of the recipient's account, for the greeting; `None` whenever the mail
    /// must not say more about an account than its kind already does (decoys, sign-up codes).
    pub name: Option<String>,
    /// The language to write it in: the account's for mail to an account's own address, the
    /// requester's for mail to an address whose account (if any) the mail must not reveal.
    pub language: Language,
    /// What it says.
    pub message: Message,
}

/// The kinds of mail, each rendered by the mailer from its own template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A code that proves the address and creates the account. It carries nothing the requester
    /// chose (not even the display name): the address is not proven yet, so anything the requester
    /// typed would let them write into mail to a stranger.
    SignupCode {
        /// The code.
        code: OtpCode,
        /// How long the code lasts, in minutes.
        valid_minutes: u64,
    },
    /// A sign-in code for an existing account.
    LoginCode {
        /// The code.
        code: OtpCode,
        /// How long the code lasts, in minutes.
        valid_minutes: u64,
    },
    /// Someone signed up with an address that already has an account: a sign-in code instead.
    AlreadyRegistered {
        /// A sign-in code.
        code: OtpCode,
        /// How long the code lasts, in minutes.
        valid_minutes: u64,
    },
    /// A recovery code (lost passkey).
    RecoveryCode {
        /// The code.
        code: OtpCode,
        /// How long the code lasts, in minutes.
        valid_minutes: u64,
    },
    /// Someone asked to sign in or recover with an address that has no account.
    NoAccount,
    /// A code to confirm moving an account to this address.
    EmailChangeCode {
        /// The code.
        code: OtpCode,
        /// How long the code lasts, in minutes.
        valid_minutes: u64,
    },
    /// Someone tried to move an account to this address, which already has one.
    EmailChangeTaken,
    /// A passkey was added to the account.
    PasskeyAdded {
        /// Its name.
        name: String,
        /// When it was added.
        at: Timestamp,
        /// The device that added it, as a short readable guess from the user agent.
        device: String,
        /// The client IP, if known.
        ip: Option<String>,
    },
    /// A passkey was removed from the account.
    PasskeyRemoved {
        /// Its name.
        name: String,
        /// When it was removed.
        at: Timestamp,
        /// The device that removed it, as a short readable guess from the user agent.
        device: String,
        /// The client IP, if known.
        ip: Option<String>,
    },
    /// The account's address was changed away from this one. The mail carries a link (built by
    /// the mailer from the configured public URL) that undoes the change.
    EmailChanged {
        /// The new address, masked.
        new_address_masked: String,
        /// The undo link's single-use token.
        revert_token: RevertToken,
        /// How long the link works, in hours.
        valid_hours: u64,
    },
    /// The account was deleted; mailed to the address it had.
    AccountDeleted,
    /// Someone asked for a code (sign-in, recovery or sign-up) with the address of a disabled
    /// account: no code, but a notice that the account is disabled and whom to contact (the
    /// mailer adds the operator's support address). Sent where an unknown address gets
    /// [`Message::NoAccount`], so the requester cannot tell the two apart.
    DisabledAccount,
    /// An operator disabled the account: it cannot sign in, and every session ended.
    AccountDisabled,
    /// An operator enabled the account again.
    AccountEnabled,
    /// An operator deleted the account; mailed to the address it had.
    AccountDeletedByOperator,
    /// Someone signed in by email code to an account that has passkeys (or by recovery): if the
    /// owner's mailbox was taken over, this is how they see it.
    SignInNotice {
        /// Whether it was a recovery sign-in.
        recovery: bool,
        /// When.
        at: Timestamp,
        /// The device, as a short readable guess from the user agent ("Firefox on Linux").
        device: String,
        /// The client IP, if known.
        ip: Option<String>,
    },
}

impl Message {
    /// A stable name for logs and metrics (never the content).
    pub const fn kind(&self) -> &'static str {
        match self {
            Message::SignupCode { .. } => "signup_code",
            Message::LoginCode { .. } => "login_code",
            Message::AlreadyRegistered { .. } => "already_registered",
            Message::RecoveryCode { .. } => "recovery_code",
            Message::NoAccount => "no_account",
            Message::EmailChangeCode { .. } => "email_change_code",
            Message::EmailChangeTaken => "email_change_taken",
            Message::EmailChanged { .. } => "email_changed",
            Message::PasskeyAdded { .. } => "passkey_added",
            Message::PasskeyRemoved { .. } => "passkey_removed",
            Message::AccountDeleted => "account_deleted",
            Message::DisabledAccount => "disabled_account",
            Message::AccountDisabled => "account_disabled",
            Message::AccountEnabled => "account_enabled",
            Message::AccountDeletedByOperator => "account_deleted_by_operator",
            Message::SignInNotice { .. } => "sign_in_notice",
        }
    }
}
