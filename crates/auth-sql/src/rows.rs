//! One row type per table, as both dialects read it, and its mapping to the domain type. `I` is
//! the dialect's id column ([`IdColumn`]); every other column has the same plain type in both.
//! The column names are the fields' names: each adapter's `SELECT` lists them.

use crate::error::{corrupt, count, hash32};
use crate::ids::IdColumn;
use auth_core::audit::AuditKind;
use auth_core::email::EmailAddress;
use auth_core::language::Language;
use auth_core::oidc::{ClientId, Consent, Scopes};
use auth_core::passkey::{Passkey, PasskeyName};
use auth_core::ports::{AuditEvent, OutboxEntry, StoreError};
use auth_core::revert::EmailRevert;
use auth_core::session::{AuthMethod, Session, SessionClient, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::{DisplayName, PublicProfile, User};

/// Reads a stored display name with the domain's parser.
///
/// # Errors
/// [`StoreError::Corrupt`] naming `what` if the domain refuses it.
pub fn display_name(what: &str, s: &str) -> Result<DisplayName, StoreError> {
    DisplayName::parse(s).map_err(|_| corrupt(what))
}

/// Reads a stored address with the domain's parser.
///
/// # Errors
/// [`StoreError::Corrupt`] naming `what` if the domain refuses it.
pub fn email(what: &str, s: &str) -> Result<EmailAddress, StoreError> {
    EmailAddress::parse(s).map_err(|_| corrupt(what))
}

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow<I> {
    id: I,
    email: String,
    display_name: String,
    public: bool,
    created_at: i64,
    attempt_epoch: i64,
    language: String,
    disabled_at: Option<i64>,
}

impl<I: IdColumn> UserRow<I> {
    /// The account it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id.into_id("users.id")?,
            email: email("users.email", &self.email)?,
            display_name: display_name("users.display_name", &self.display_name)?,
            public: self.public,
            created_at: Timestamp::from_millis(self.created_at),
            attempt_epoch: count("users.attempt_epoch", self.attempt_epoch)?,
            language: Language::try_from(self.language).map_err(|_| corrupt("users.language"))?,
            disabled_at: self.disabled_at.map(Timestamp::from_millis),
        })
    }
}

/// The `id` and `display_name` of a row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow<I> {
    id: I,
    display_name: String,
}

impl<I: IdColumn> ProfileRow<I> {
    /// The public profile it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_profile(self) -> Result<PublicProfile, StoreError> {
        Ok(PublicProfile {
            id: self.id.into_id("users.id")?,
            display_name: display_name("users.display_name", &self.display_name)?,
        })
    }
}

/// A row of `sessions`.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow<I> {
    id: I,
    user_id: I,
    method: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    user_agent: Option<String>,
    ip: Option<String>,
    revoked_at: Option<i64>,
    client_id: Option<String>,
    client_scopes: Option<String>,
}

impl<I: IdColumn> SessionRow<I> {
    /// The session it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: self.id.into_id("sessions.id")?,
            user_id: self.user_id.into_id("sessions.user_id")?,
            method: AuthMethod::parse(&self.method).ok_or_else(|| corrupt("sessions.method"))?,
            created_at: Timestamp::from_millis(self.created_at),
            last_seen_at: Timestamp::from_millis(self.last_seen_at),
            expires_at: Timestamp::from_millis(self.expires_at),
            user_agent: self.user_agent,
            ip: self.ip,
            revoked_at: self.revoked_at.map(Timestamp::from_millis),
            client: match (self.client_id, self.client_scopes) {
                (None, None) => None,
                (Some(id), Some(scopes)) => Some(SessionClient {
                    id: ClientId::parse(&id).map_err(|_| corrupt("sessions.client_id"))?,
                    scopes: Scopes::parse(&scopes)
                        .map_err(|_| corrupt("sessions.client_scopes"))?,
                }),
                _ => return Err(corrupt("sessions.client_id")),
            },
        })
    }
}

/// A row of `passkeys`, with `transports` as JSON text.
#[derive(Debug, sqlx::FromRow)]
pub struct PasskeyRow<I> {
    id: I,
    user_id: I,
    credential_id: Vec<u8>,
    credential: Vec<u8>,
    sign_count: i64,
    transports: String,
    backup_eligible: bool,
    backup_state: bool,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl<I: IdColumn> PasskeyRow<I> {
    /// The passkey it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_passkey(self) -> Result<Passkey, StoreError> {
        Ok(Passkey {
            id: self.id.into_id("passkeys.id")?,
            user_id: self.user_id.into_id("passkeys.user_id")?,
            credential_id: self.credential_id,
            name: PasskeyName::parse(&self.name).map_err(|_| corrupt("passkeys.name"))?,
            created_at: Timestamp::from_millis(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp::from_millis),
            backup_eligible: self.backup_eligible,
            backed_up: self.backup_state,
            // The tables check for a JSON array; the domain wants one of strings.
            transports: serde_json::from_str(&self.transports)
                .map_err(|_| corrupt("passkeys.transports"))?,
            sign_count: count("passkeys.sign_count", self.sign_count)?,
            credential: self.credential,
        })
    }
}

/// A row of `email_reverts`.
#[derive(Debug, sqlx::FromRow)]
pub struct RevertRow<I> {
    token_hash: Vec<u8>,
    user_id: I,
    old_email: String,
    changed_at: i64,
    expires_at: i64,
}

impl<I: IdColumn> RevertRow<I> {
    /// The undo link it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_revert(self) -> Result<EmailRevert, StoreError> {
        Ok(EmailRevert {
            token_hash: TokenHash(hash32("email_reverts.token_hash", &self.token_hash)?),
            user_id: self.user_id.into_id("email_reverts.user_id")?,
            old_email: email("email_reverts.old_email", &self.old_email)?,
            changed_at: Timestamp::from_millis(self.changed_at),
            expires_at: Timestamp::from_millis(self.expires_at),
        })
    }
}

/// A row of `audit_events`, without its sequence number.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow<I> {
    user_id: I,
    at: i64,
    kind: String,
    ip: Option<String>,
    detail: Option<String>,
}

impl<I: IdColumn> EventRow<I> {
    /// The event it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_event(self) -> Result<AuditEvent, StoreError> {
        Ok(AuditEvent {
            user_id: self.user_id.into_id("audit_events.user_id")?,
            at: Timestamp::from_millis(self.at),
            kind: AuditKind::parse(&self.kind).ok_or_else(|| {
                StoreError::Corrupt(format!("audit_events.kind `{}` is unknown", self.kind))
            })?,
            ip: self.ip,
            detail: self.detail,
        })
    }
}

/// A row of `outbox`, as a claim reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow<I> {
    seq: i64,
    id: String,
    kind: String,
    user_id: I,
    occurred_at: i64,
    payload: String,
    attempts: i32,
    done: String,
}

impl<I: IdColumn> OutboxRow<I> {
    /// The entry it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_entry(self) -> Result<OutboxEntry, StoreError> {
        Ok(OutboxEntry {
            seq: self.seq,
            id: self.id,
            kind: self.kind,
            user_id: self.user_id.into_id("outbox.user_id")?,
            occurred_at: Timestamp::from_millis(self.occurred_at),
            payload: self.payload,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| StoreError::Corrupt("outbox.attempts is negative".to_owned()))?,
            done: serde_json::from_str(&self.done)
                .map_err(|_| StoreError::Corrupt("outbox.done is not a list".to_owned()))?,
        })
    }
}

/// The columns of `users` but its id, as a join beside the row of another table reads them: each
/// named `user_<column>` ([`joined_user_columns!`](crate::joined_user_columns) lists them for
/// a join whose `users` is `u`), so that none clashes with the other table's.
#[derive(Debug, sqlx::FromRow)]
pub struct JoinedUser {
    user_email: String,
    user_display_name: String,
    user_public: bool,
    user_created_at: i64,
    user_attempt_epoch: i64,
    user_language: String,
    user_disabled_at: Option<i64>,
}

/// The select list of a [`JoinedUser`] from `users AS u`.
#[macro_export]
macro_rules! joined_user_columns {
    () => {
        "u.email AS user_email, u.display_name AS user_display_name, u.public AS user_public, \
         u.created_at AS user_created_at, u.attempt_epoch AS user_attempt_epoch, \
         u.language AS user_language, u.disabled_at AS user_disabled_at"
    };
}

impl JoinedUser {
    fn into_user(self, id: auth_core::ids::UserId) -> Result<User, StoreError> {
        Ok(User {
            id,
            email: email("users.email", &self.user_email)?,
            display_name: display_name("users.display_name", &self.user_display_name)?,
            public: self.user_public,
            created_at: Timestamp::from_millis(self.user_created_at),
            attempt_epoch: count("users.attempt_epoch", self.user_attempt_epoch)?,
            language: Language::try_from(self.user_language)
                .map_err(|_| corrupt("users.language"))?,
            disabled_at: self.user_disabled_at.map(Timestamp::from_millis),
        })
    }
}

/// A row of `sessions` joined with its account.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionUserRow<I> {
    #[sqlx(flatten)]
    session: SessionRow<I>,
    #[sqlx(flatten)]
    user: JoinedUser,
}

impl<I: IdColumn> SessionUserRow<I> {
    /// The session and its account.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_pair(self) -> Result<(Session, User), StoreError> {
        let session = self.session.into_session()?;
        let user = self.user.into_user(session.user_id)?;
        Ok((session, user))
    }
}

/// A row of `passkeys` joined with its account.
#[derive(Debug, sqlx::FromRow)]
pub struct PasskeyUserRow<I> {
    #[sqlx(flatten)]
    passkey: PasskeyRow<I>,
    #[sqlx(flatten)]
    user: JoinedUser,
}

impl<I: IdColumn> PasskeyUserRow<I> {
    /// The passkey and its account.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_pair(self) -> Result<(Passkey, User), StoreError> {
        let passkey = self.passkey.into_passkey()?;
        let user = self.user.into_user(passkey.user_id)?;
        Ok((passkey, user))
    }
}
/// A row of `oidc_consents`.
#[derive(Debug, sqlx::FromRow)]
pub struct ConsentRow<I> {
    user_id: I,
    client_id: String,
    scopes: String,
    granted_at: i64,
}

impl<I: IdColumn> ConsentRow<I> {
    /// The consent it holds.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a column holds a value the domain refuses.
    pub fn into_consent(self) -> Result<Consent, StoreError> {
        Ok(Consent {
            user_id: self.user_id.into_id("oidc_consents.user_id")?,
            client_id: ClientId::parse(&self.client_id)
                .map_err(|_| corrupt("oidc_consents.client_id"))?,
            scopes: Scopes::parse(&self.scopes).map_err(|_| corrupt("oidc_consents.scopes"))?,
            granted_at: Timestamp::from_millis(self.granted_at),
        })
    }
}
