//! Moving a signed-in account to a new address: the code to the new address, and its verification
//! with the undo link mailed to the old one.

use super::{EmailChangeError, Opening, REVERT_TTL, Started, VerifyError};
use crate::attempt::{Purpose, Subject};
use crate::audit::AuditKind;
use crate::email::EmailAddress;
use crate::mail::Message;
use crate::ports::EmailTakenOr;
use crate::revert::{EmailRevert, RevertToken};
use crate::service::{AuthService, ClientInfo, Principal};
use crate::user::User;

impl AuthService {
    /// Starts moving the signed-in account to `new_email`: a code goes to the new address (or, if
    /// that address has an account, a notice and a decoy attempt).
    ///
    /// # Errors
    /// A stale sign-in, the same address, rate limits, store failures.
    pub async fn start_email_change(
        &self,
        who: &Principal,
        new_email: EmailAddress,
        client: &ClientInfo,
    ) -> Result<Started, EmailChangeError> {
        if !self.is_recent(who) {
            return Err(EmailChangeError::ReauthRequired);
        }
        let me = self
            .ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(EmailChangeError::Gone)?;
        if me.email == new_email {
            return Err(EmailChangeError::SameAddress);
        }
        let limits = self.send_limits(&new_email, client);
        let opening = match self.ports.users.by_email(&new_email).await? {
            None => Opening::new(
                new_email.clone(),
                Purpose::EmailChange,
                Subject::Account {
                    user_id: who.user_id,
                },
                me.attempt_epoch,
            ),
            Some(_) => Opening::new(new_email.clone(), Purpose::EmailChange, Subject::Decoy, 0),
        };
        let started = self.open_attempt(opening, None, &limits, client).await?;
        // Only a request the limits let through is one.
        self.record(
            who.user_id,
            AuditKind::EmailChangeRequested,
            client,
            Some(new_email.masked()),
        )
        .await;
        Ok(started)
    }

    /// Verifies an email-change code for the signed-in account (whose sign-in must still be
    /// recent) and moves it to the new address. Every other session of the account ends, and the
    /// old address gets a notice with a link that undoes the change.
    ///
    /// # Errors
    /// As [`AuthService::verify_code`], plus [`VerifyError::ReauthRequired`] for a sign-in that
    /// is no longer recent and [`VerifyError::EmailTaken`] if the address was taken in the
    /// meantime.
    pub async fn verify_email_change(
        &self,
        who: &Principal,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<User, VerifyError> {
        if !self.is_recent(who) {
            return Err(VerifyError::ReauthRequired);
        }
        let (attempt, account) = self
            .check_code(attempt_token, code, client, |a| {
                a.purpose == Purpose::EmailChange
                    && matches!(a.subject, Subject::Account { user_id } if user_id == who.user_id)
            })
            .await?;
        let old = account.ok_or(VerifyError::Invalid)?;
        let now = self.now();
        // The link is kept before the change is made: should the change fail, nobody ever sees
        // the token of a link that points at nothing.
        let revert_token = RevertToken::generate(&*self.ports.rng);
        self.ports
            .reverts
            .put(&EmailRevert {
                token_hash: revert_token.hash(),
                user_id: old.id,
                old_email: old.email.clone(),
                changed_at: now,
                expires_at: now.plus(REVERT_TTL),
            })
            .await?;
        let event = self.event(
            who.user_id,
            AuditKind::EmailChanged,
            client,
            Some(format!(
                "{} -> {}",
                old.email.masked(),
                attempt.email.masked()
            )),
        );
        match self
            .ports
            .users
            .change_email(&who.user_id, &attempt.email, &event)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(VerifyError::Invalid),
            Err(EmailTakenOr::Taken) => return Err(VerifyError::EmailTaken),
            Err(EmailTakenOr::Store(e)) => return Err(e.into()),
        }
        let ended = self
            .ports
            .sessions
            .revoke_all(&who.user_id, Some(who.session_id), now)
            .await?;
        self.mail(
            old.email.clone(),
            Some(&old.display_name),
            old.language,
            Message::EmailChanged {
                new_address_masked: attempt.email.masked(),
                revert_token,
                valid_hours: REVERT_TTL.as_secs() / 3600,
            },
        )
        .await;
        if ended > 0 {
            self.record(
                who.user_id,
                AuditKind::SessionsRevoked,
                client,
                Some(format!("{ended} other sessions ended by the email change")),
            )
            .await;
        }
        Ok(User {
            email: attempt.email,
            attempt_epoch: old.attempt_epoch.wrapping_add(1),
            ..old
        })
    }
}
