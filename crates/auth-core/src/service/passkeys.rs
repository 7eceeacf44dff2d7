//! Passkeys: registering one for the signed-in account, signing in with one (usernameless, also
//! for browser autofill), and listing, renaming and deleting them.

use super::{AccountError, AuthService, ClientInfo, Key, Principal, key};
use super::{SignedIn, VerifyError};
use crate::audit::AuditKind;
use crate::ids::{CeremonyId, PasskeyId};
use crate::mail::Message;
use crate::passkey::{Passkey, PasskeyName, WebAuthnError};
use crate::ports::{CredentialTakenOr, StoreError};
use crate::rate::RateDecision;
use crate::session::AuthMethod;
use crate::token::TokenError;
use std::time::Duration;

/// A WebAuthn ceremony has begun: the browser gets the options, the server keeps the state.
#[derive(Debug, Clone)]
pub struct PasskeyStart {
    /// Names the kept state; the finish call must bring it back.
    pub ceremony_id: CeremonyId,
    /// `{"publicKey": ...}` for `navigator.credentials.create()` or `.get()`.
    pub options: serde_json::Value,
    /// How long the ceremony may take.
    pub ttl: Duration,
}

/// A passkey ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Unknown, expired or replayed ceremony; a rejected response (origin, RP id, signature, user
    /// verification); an unknown credential or one of another account; a possible clone: one
    /// answer for all, on purpose.
    #[error("the passkey could not be verified")]
    Invalid,
    /// The response is not a WebAuthn response.
    #[error("the passkey response is malformed")]
    Malformed,
    /// This authenticator's credential is already registered.
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    /// A recent sign-in is required (adding a passkey).
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// Too many attempts from this client.
    #[error("too many attempts")]
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
    /// The WebAuthn adapter failed.
    #[error("webauthn failed: {0}")]
    Internal(String),
}

impl From<VerifyError> for PasskeyError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Store(e) => PasskeyError::Store(e),
            VerifyError::Token(e) => PasskeyError::Token(e),
            _ => PasskeyError::Invalid,
        }
    }
}

fn webauthn_error(e: WebAuthnError) -> PasskeyError {
    match e {
        WebAuthnError::Malformed => PasskeyError::Malformed,
        WebAuthnError::Rejected | WebAuthnError::PossibleClone => PasskeyError::Invalid,
        WebAuthnError::Internal(m) => PasskeyError::Internal(m),
    }
}

impl AuthService {
    /// Starts registering a passkey for the signed-in account. Needs a recent sign-in, whatever
    /// the method: a new passkey is a new way in, and its own sign-in is always fresh, so a
    /// stolen session must not be able to add one.
    ///
    /// # Errors
    /// [`PasskeyError::ReauthRequired`]; store and adapter failures.
    pub async fn start_passkey_registration(
        &self,
        who: &Principal,
    ) -> Result<PasskeyStart, PasskeyError> {
        if !self.is_recent(who) {
            return Err(PasskeyError::ReauthRequired);
        }
        let user = self
            .ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        let existing = self.ports.passkeys.list(&who.user_id).await?;
        let ceremony = self
            .ports
            .webauthn
            .start_registration(&user, &existing)
            .map_err(webauthn_error)?;
        // The kept state starts with the account it is for, so no other account can finish it.
        let mut state = who.user_id.as_uuid().as_bytes().to_vec();
        state.extend_from_slice(&ceremony.state);
        self.keep_ceremony(ceremony.options, &state).await
    }

    /// Finishes a registration: checks again that the sign-in is recent, verifies the response,
    /// stores the passkey, mails a notice.
    ///
    /// # Errors
    /// [`PasskeyError::ReauthRequired`]; [`PasskeyError::Invalid`] for every kind of wrong;
    /// [`PasskeyError::AlreadyRegistered`].
    pub async fn finish_passkey_registration(
        &self,
        who: &Principal,
        ceremony: &CeremonyId,
        response: &serde_json::Value,
        name: Option<PasskeyName>,
        device_hint: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Passkey, PasskeyError> {
        // Checked before the ceremony is taken, so a person who signs in again can still finish
        // with the options they already have, if those have not expired.
        if !self.is_recent(who) {
            return Err(PasskeyError::ReauthRequired);
        }
        let state = self
            .ports
            .ceremonies
            .take(ceremony, self.now())
            .await?
            .ok_or(PasskeyError::Invalid)?;
        let (owner, state) = state.split_at_checked(16).ok_or(PasskeyError::Invalid)?;
        if owner != who.user_id.as_uuid().as_bytes() {
            return Err(PasskeyError::Invalid);
        }
        let new = self
            .ports
            .webauthn
            .finish_registration(state, response)
            .map_err(webauthn_error)?;
        let user = self
            .ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        let passkey = Passkey {
            id: PasskeyId::random(&*self.ports.rng),
            user_id: who.user_id,
            credential_id: new.credential_id,
            name: name.unwrap_or_else(|| PasskeyName::or_default(device_hint)),
            created_at: self.now(),
            last_used_at: None,
            backup_eligible: new.backup_eligible,
            backed_up: new.backed_up,
            transports: new.transports,
            sign_count: new.sign_count,
            credential: new.credential,
        };
        let event = self.event(
            who.user_id,
            AuditKind::PasskeyAdded,
            client,
            Some(passkey.name.to_string()),
        );
        match self.ports.passkeys.add(&passkey, &event).await {
            Ok(()) => {}
            Err(CredentialTakenOr::Taken) => return Err(PasskeyError::AlreadyRegistered),
            Err(CredentialTakenOr::Store(e)) => return Err(e.into()),
        }
        self.mail(
            user.email,
            Some(&user.display_name),
            user.language,
            Message::PasskeyAdded {
                name: passkey.name.to_string(),
                at: passkey.created_at,
                device: crate::useragent::describe(client.user_agent.as_deref()),
                ip: client.ip.clone(),
            },
        )
        .await;
        Ok(passkey)
    }

    /// Starts a usernameless passkey sign-in (also for browser autofill). Every start keeps a
    /// ceremony server side, so starts are rate limited per client network (generously: the page
    /// asks on every visit); finishing is limited like code guesses.
    ///
    /// # Errors
    /// [`PasskeyError::RateLimited`]; store and adapter failures.
    pub async fn start_passkey_login(
        &self,
        client: &ClientInfo,
    ) -> Result<PasskeyStart, PasskeyError> {
        if let RateDecision::Limited { retry_after } = self
            .ports
            .limiter
            .acquire(
                &key(Key::PasskeyOptionsIp(client)),
                self.policy.limits.passkey_options_per_ip,
                self.now(),
            )
            .await?
        {
            return Err(PasskeyError::RateLimited { retry_after });
        }
        let ceremony = self.ports.webauthn.start_login().map_err(webauthn_error)?;
        self.keep_ceremony(ceremony.options, &ceremony.state).await
    }

    /// Finishes a passkey sign-in: the response's user handle names the account, the credential
    /// must be one of its passkeys, and the signature must verify. Opens a session like a code
    /// sign-in, with `amr` saying passkey.
    ///
    /// # Errors
    /// [`PasskeyError::Invalid`] for every kind of wrong; rate limits; store failures.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &CeremonyId,
        response: &serde_json::Value,
        client: &ClientInfo,
    ) -> Result<SignedIn, PasskeyError> {
        if let RateDecision::Limited { retry_after } = self
            .ports
            .limiter
            .acquire(
                &key(Key::GuessIp(client)),
                self.policy.limits.guesses_per_ip,
                self.now(),
            )
            .await?
        {
            return Err(PasskeyError::RateLimited { retry_after });
        }
        let state = self
            .ports
            .ceremonies
            .take(ceremony, self.now())
            .await?
            .ok_or(PasskeyError::Invalid)?;
        let (user_id, credential_id) = self
            .ports
            .webauthn
            .identify(response)
            .map_err(webauthn_error)?;
        let (passkey, user) = self
            .ports
            .passkeys
            .with_account(&credential_id)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        if passkey.user_id != user_id || user.id != user_id || user.is_disabled() {
            return Err(PasskeyError::Invalid);
        }
        let used = match self.ports.webauthn.finish_login(&state, response, &passkey) {
            Ok(used) => used,
            Err(WebAuthnError::PossibleClone) => {
                tracing::warn!(user = %user_id, passkey = %passkey.id, "passkey counter went backwards; possible clone");
                self.record(
                    user_id,
                    AuditKind::PasskeyCloneSuspected,
                    client,
                    Some(passkey.name.to_string()),
                )
                .await;
                return Err(PasskeyError::Invalid);
            }
            Err(e) => return Err(webauthn_error(e)),
        };
        // The counter, the session, its refresh token and the sign-in event in one write: a
        // passkey deleted meanwhile opens nothing.
        let (session, refresh) = self.new_session(user_id, AuthMethod::Passkey, client);
        let event = self.signed_in_event(&session, client);
        if !self
            .ports
            .sessions
            .open_with_passkey(&passkey.id, &used, &session, &refresh.hash(), &event)
            .await?
        {
            return Err(PasskeyError::Invalid);
        }
        Ok(self.signed_in(user, session, refresh)?)
    }

    async fn keep_ceremony(
        &self,
        options: serde_json::Value,
        state: &[u8],
    ) -> Result<PasskeyStart, PasskeyError> {
        let ceremony_id = CeremonyId::random(&*self.ports.rng);
        self.ports
            .ceremonies
            .put(&ceremony_id, state, self.now(), self.policy.ceremony_ttl)
            .await?;
        Ok(PasskeyStart {
            ceremony_id,
            options,
            ttl: self.policy.ceremony_ttl,
        })
    }

    /// The account's passkeys, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn passkeys(&self, who: &Principal) -> Result<Vec<Passkey>, StoreError> {
        self.ports.passkeys.list(&who.user_id).await
    }

    /// Renames one of the account's passkeys.
    ///
    /// # Errors
    /// [`AccountError::NoSuchPasskey`]; store failures.
    pub async fn rename_passkey(
        &self,
        who: &Principal,
        id: &PasskeyId,
        name: &PasskeyName,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        if !self.ports.passkeys.rename(&who.user_id, id, name).await? {
            return Err(AccountError::NoSuchPasskey);
        }
        self.record(
            who.user_id,
            AuditKind::PasskeyRenamed,
            client,
            Some(name.to_string()),
        )
        .await;
        Ok(())
    }

    /// Deletes one of the account's passkeys (needs a recent sign-in) and mails a notice.
    ///
    /// # Errors
    /// [`AccountError::ReauthRequired`]; [`AccountError::NoSuchPasskey`]; store failures.
    pub async fn delete_passkey(
        &self,
        who: &Principal,
        id: &PasskeyId,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        if !self.is_recent(who) {
            return Err(AccountError::ReauthRequired);
        }
        let list = self.ports.passkeys.list(&who.user_id).await?;
        let passkey = list
            .into_iter()
            .find(|p| p.id == *id)
            .ok_or(AccountError::NoSuchPasskey)?;
        let event = self.event(
            who.user_id,
            AuditKind::PasskeyRemoved,
            client,
            Some(passkey.name.to_string()),
        );
        if !self.ports.passkeys.delete(&who.user_id, id, &event).await? {
            return Err(AccountError::NoSuchPasskey);
        }
        if let Some(user) = self.ports.users.by_id(&who.user_id).await? {
            self.mail(
                user.email,
                Some(&user.display_name),
                user.language,
                Message::PasskeyRemoved {
                    name: passkey.name.to_string(),
                    at: self.now(),
                    device: crate::useragent::describe(client.user_agent.as_deref()),
                    ip: client.ip.clone(),
                },
            )
            .await;
        }
        Ok(())
    }
}
