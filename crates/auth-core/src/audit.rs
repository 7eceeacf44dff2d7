//! The kinds of security event an account's activity records. One enum, so the stores, the API and
//! the page all speak the same closed set of names.

use serde::{Deserialize, Serialize};

macro_rules! audit_kinds {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// What happened to an account. Stored and served as the snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum AuditKind {
            $(#[doc = $doc] $variant,)*
        }

        impl AuditKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [AuditKind] = &[$(AuditKind::$variant,)*];

            /// The stable name, as stored and served.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $name,)*
                }
            }

            /// The kind with this stable name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(AuditKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_kinds! {
    SignedUp => "signed_up": "The account was created by a verified sign-up code.",
    SignedIn => "signed_in": "A session was opened (the detail names the method).",
    SignedOut => "signed_out": "The session signed itself out.",
    SessionRevoked => "session_revoked": "One session was ended from the session list.",
    SessionsRevoked => "sessions_revoked": "Every session (or every other one) was ended.",
    ProfileUpdated => "profile_updated": "The display name or the public flag changed.",
    EmailChangeRequested => "email_change_requested": "A code was sent to a new address.",
    EmailChanged => "email_changed": "The account moved to a new address.",
    CodeRejected => "code_rejected": "A wrong code was entered for the account.",
    PasskeyAdded => "passkey_added": "A passkey was registered.",
    PasskeyRenamed => "passkey_renamed": "A passkey was renamed.",
    PasskeyRemoved => "passkey_removed": "A passkey was deleted.",
    PasskeyCloneSuspected => "passkey_clone_suspected": "A passkey's counter went backwards: the sign-in was refused.",
    RefreshTokenReused => "refresh_token_reused": "A spent refresh token came back: its session was revoked.",
    EmailChangeReverted => "email_change_reverted": "An email change was undone from the link mailed to the old address: every session ended and recent passkeys were removed.",
    AccountDeleted => "account_deleted": "The account was deleted (kept only in the outbox: the audit trail goes with the account).",
    AccountDisabled => "account_disabled": "An operator disabled the account: every session ended (the detail names the operator).",
    AccountEnabled => "account_enabled": "An operator enabled the account again (the detail names the operator).",
    AdminSessionsRevoked => "admin_sessions_revoked": "An operator ended every session of the account (the detail names the operator and how many).",
    AppSignedIn => "app_signed_in": "An app signed the account in through the provider (the detail names the app and the method).",
    AppConsented => "app_consented": "The account let an app sign it in and read what it asked for (the detail names the app).",
    AppConsentRevoked => "app_consent_revoked": "The account took an app's access back: its consent and its sessions ended (the detail names the app).",
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name_and_serde() {
        for &kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(AuditKind::parse("no_such_kind"), None);
    }
}
