//! Verifying a code: the guess budget, the live subject of an attempt, and the session (or new
//! account) a right code opens.

use super::VerifyError;
use crate::attempt::{Attempt, Purpose, Subject};
use crate::audit::AuditKind;
use crate::code::OtpCode;
use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::mail::Message;
use crate::ports::{AuditEvent, EmailTakenOr, FailureBudget, Gated, Guess, StoreError};
use crate::rate::RateDecision;
use crate::service::sessions::SignedIn;
use crate::service::{AuthService, ClientInfo, Key, key};
use crate::session::AuthMethod;
use crate::user::{DisplayName, User};

impl AuthService {
    /// Verifies a sign-up, login or recovery code and signs in. A verified sign-up creates the
    /// account (with its first session) only now. A sign-in by code to an account that has
    /// passkeys is mailed to the account as a security notice.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] for every kind of wrong (see its docs); malformed codes; rate limits.
    pub async fn verify_code(
        &self,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, VerifyError> {
        let (attempt, account) = self
            .check_code(attempt_token, code, client, |a| {
                matches!(
                    a.purpose,
                    Purpose::Signup | Purpose::Login | Purpose::Recovery
                )
            })
            .await?;
        let method = if attempt.purpose == Purpose::Recovery {
            AuthMethod::Recovery
        } else {
            AuthMethod::EmailCode
        };
        let signed = match (attempt.subject, account) {
            (Subject::NewAccount { display_name }, _) => {
                self.create_account(attempt.email, display_name, client)
                    .await?
            }
            (Subject::Account { .. }, Some(user)) => self.sign_in(user, method, client).await?,
            _ => return Err(VerifyError::Invalid),
        };
        if !signed.created {
            self.notify_code_sign_in(&signed.user, method, client)
                .await?;
        }
        Ok(signed)
    }

    /// Mails the account a security notice of a sign-in by email code, if it has passkeys: its
    /// owner signs in with those, so a code sign-in may mean someone else reads their mail.
    async fn notify_code_sign_in(
        &self,
        user: &User,
        method: AuthMethod,
        client: &ClientInfo,
    ) -> Result<(), StoreError> {
        if self.ports.passkeys.list(&user.id).await?.is_empty() {
            return Ok(());
        }
        let notice = Message::SignInNotice {
            recovery: method == AuthMethod::Recovery,
            at: self.now(),
            device: crate::useragent::describe(client.user_agent.as_deref()),
            ip: client.ip.clone(),
        };
        self.mail(
            user.email.clone(),
            Some(&user.display_name),
            user.language,
            notice,
        )
        .await;
        Ok(())
    }

    /// The shared heart of code verification: limits, a constant-time compare, one atomic guess
    /// that also consumes the attempt or counts the failure. `fits` says whether the attempt may
    /// be used by this caller.
    ///
    /// Two calls of the gate, whatever the code: the first takes the network's guess limit and
    /// reads the attempt, the second checks the failure budget, takes a guess and settles it.
    /// The code is compared in between, in constant time, and nothing else depends on the
    /// compare before a guess is taken, so a right code shows itself (by what it does next) only
    /// through a counted guess. Every attempt takes the same path — decoys, attempts that do not
    /// fit the caller and dead ones included — and whatever is wrong with it counts as a wrong
    /// code, so no kind of wrong answers differently (or sooner) than another. The failure budget
    /// is kept per address and client network, so an outsider's wrong codes never lock the owner
    /// out. An account's attempt is right only while the account is still in the chain's epoch
    /// and, for a sign-in, still has the attempt's address; the account comes back with it.
    pub(super) async fn check_code(
        &self,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
        fits: impl Fn(&Attempt) -> bool,
    ) -> Result<(Attempt, Option<User>), VerifyError> {
        let code = OtpCode::parse(code, self.policy.code_length)?;
        let limits = &self.policy.limits;
        let guess_key = key(Key::GuessIp(client));
        let Ok(ticket) = self.ports.tokens.verify_attempt(attempt_token) else {
            // A forged or stale token spends the network's guesses like any other.
            if let RateDecision::Limited { retry_after } = self
                .ports
                .limiter
                .acquire(&guess_key, limits.guesses_per_ip, self.now())
                .await?
            {
                return Err(VerifyError::RateLimited { retry_after });
            }
            return Err(VerifyError::Invalid);
        };
        let stored = match self
            .ports
            .gate
            .look(
                &guess_key,
                limits.guesses_per_ip,
                &ticket.attempt_id,
                self.now(),
            )
            .await?
        {
            Gated::Limited { retry_after } => return Err(VerifyError::RateLimited { retry_after }),
            Gated::Passed(None) => return Err(VerifyError::Invalid),
            Gated::Passed(Some(stored)) => stored,
        };
        let fail_key = key(Key::Failures(&stored.email, client));
        let candidate = self.hasher.hash(&ticket.attempt_id, &ticket.secret, &code);
        let proven = stored.code_hash.matches(&candidate) && fits(&stored);
        let budget = FailureBudget {
            key: &fail_key,
            backoff: limits.address_failures,
        };
        let guess = match self
            .ports
            .gate
            .settle(
                &ticket.attempt_id,
                self.now(),
                self.policy.max_guesses,
                budget,
                proven,
            )
            .await?
        {
            Gated::Limited { retry_after } => return Err(VerifyError::RateLimited { retry_after }),
            Gated::Passed(guess) => guess,
        };
        // Only a consumed attempt is looked at further: the account behind it is read only for a
        // right code that took a guess. A right code whose account has moved on is no guess, so
        // it costs no failure, but the attempt is spent and the account hears of it like of a
        // wrong code.
        let (right, account) = match guess {
            Guess::NotTaken => return Err(VerifyError::Invalid),
            Guess::Wrong => (false, None),
            Guess::Consumed => self.live_subject(&stored).await?,
        };
        if !right {
            if let Subject::Account { user_id } = stored.subject {
                // Off the request path: a durable write here would make a wrong code for an
                // account slower than one for a decoy.
                self.record_later(
                    user_id,
                    AuditKind::CodeRejected,
                    client,
                    Some(stored.purpose.as_str().to_owned()),
                )
                .await;
            }
            return Err(VerifyError::Invalid);
        }
        Ok((stored, account))
    }

    /// Whether a proven attempt may still act for its subject, and the account it acts for. A
    /// decoy never may; an account's attempt only while the account is in the chain's epoch and,
    /// unless it moves the account to a new address, still has the attempt's address.
    async fn live_subject(&self, attempt: &Attempt) -> Result<(bool, Option<User>), StoreError> {
        match &attempt.subject {
            Subject::NewAccount { .. } => Ok((true, None)),
            Subject::Decoy => Ok((false, None)),
            Subject::Account { user_id } => {
                let live = self.ports.users.by_id(user_id).await?.filter(|u| {
                    !u.is_disabled()
                        && u.attempt_epoch == attempt.account_epoch
                        && (attempt.purpose == Purpose::EmailChange || u.email == attempt.email)
                });
                Ok((live.is_some(), live))
            }
        }
    }

    async fn create_account(
        &self,
        email: EmailAddress,
        display_name: DisplayName,
        client: &ClientInfo,
    ) -> Result<SignedIn, VerifyError> {
        let now = self.now();
        let user = User {
            id: UserId::random(&*self.ports.rng),
            email: email.clone(),
            display_name,
            public: false,
            created_at: now,
            attempt_epoch: 0,
            language: client.language,
            disabled_at: None,
        };
        let (session, refresh) = self.new_session(user.id, AuthMethod::EmailCode, client);
        // Written with the account, like a sign-in's event with its session.
        let event = AuditEvent {
            user_id: user.id,
            at: now,
            kind: AuditKind::SignedUp,
            ip: client.ip.clone(),
            detail: None,
        };
        match self
            .ports
            .users
            .create(&user, &session, &refresh.hash(), &event)
            .await
        {
            Ok(()) => {
                let access_token = self.access_token(&session)?;
                Ok(SignedIn {
                    user,
                    session,
                    created: true,
                    access_token,
                    access_ttl: self.policy.access_ttl,
                    refresh_token: refresh,
                })
            }
            // Someone else proved the same address first; this person proved it too, so they may
            // sign in to that account.
            Err(EmailTakenOr::Taken) => {
                let existing = self
                    .ports
                    .users
                    .by_email(&email)
                    .await?
                    .ok_or(VerifyError::Invalid)?;
                self.sign_in(existing, AuthMethod::EmailCode, client).await
            }
            Err(EmailTakenOr::Store(e)) => Err(e.into()),
        }
    }
}
