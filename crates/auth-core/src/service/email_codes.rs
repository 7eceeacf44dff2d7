//! Email-code attempts: starting them (sign-up, login, recovery, resend, email change) and
//! verifying their codes. Real and decoy attempts do the same work.

use super::{AuthService, ClientInfo, Key, Principal, key};
use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::audit::AuditKind;
use crate::code::{ClientSecret, CodeError, OtpCode};
use crate::email::EmailAddress;
use crate::ids::{AttemptId, UserId};
use crate::mail::Message;
use crate::ports::{EmailTakenOr, StoreError};
use crate::rate::{Quota, RateDecision};
use crate::session::AuthMethod;
use crate::token::{AttemptTicket, TokenError};
use crate::user::{DisplayName, User};
use std::time::Duration;

use super::sessions::SignedIn;

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

/// Starting an attempt (sign-up, login, recovery, resend, email change) failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A send limit was hit.
    #[error("too many codes requested")]
    RateLimited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
    /// The attempt token of a resend is not valid, or its attempt is gone.
    #[error("the attempt is not valid")]
    InvalidAttempt,
    /// A recent sign-in is required (email change).
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// The new address is the account's current one.
    #[error("that is already the account's address")]
    SameAddress,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
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
}

impl AuthService {
    /// Starts a sign-up. An unknown address gets a sign-up code; an address that already has an
    /// account gets a sign-in code instead. The caller cannot tell which.
    ///
    /// # Errors
    /// Rate limits and store failures, the same for both cases.
    pub async fn start_signup(
        &self,
        email: EmailAddress,
        name: DisplayName,
        client: &ClientInfo,
    ) -> Result<Started, StartError> {
        self.check_send_limits(&email, client).await?;
        match self.ports.users.by_email(&email).await? {
            None => {
                self.open_attempt(
                    email,
                    Purpose::Signup,
                    Subject::NewAccount { display_name: name },
                    Why::Asked,
                )
                .await
            }
            // Stored as a plain login, so it verifies as one; only its mail says why it came.
            Some(user) => {
                self.open_attempt(
                    email,
                    Purpose::Login,
                    Subject::Account { user_id: user.id },
                    Why::SignupWithTakenAddress,
                )
                .await
            }
        }
    }

    /// Starts an email-code sign-in. An unknown address gets a "no account here" notice and a
    /// decoy attempt; the caller cannot tell which.
    ///
    /// # Errors
    /// Rate limits and store failures, the same for both cases.
    pub async fn start_login(
        &self,
        email: EmailAddress,
        client: &ClientInfo,
    ) -> Result<Started, StartError> {
        self.start_for_account(email, Purpose::Login, client).await
    }

    /// Starts account recovery (lost passkeys), like [`AuthService::start_login`].
    ///
    /// # Errors
    /// Rate limits and store failures, the same for both cases.
    pub async fn start_recovery(
        &self,
        email: EmailAddress,
        client: &ClientInfo,
    ) -> Result<Started, StartError> {
        self.start_for_account(email, Purpose::Recovery, client)
            .await
    }

    async fn start_for_account(
        &self,
        email: EmailAddress,
        purpose: Purpose,
        client: &ClientInfo,
    ) -> Result<Started, StartError> {
        self.check_send_limits(&email, client).await?;
        let subject = match self.ports.users.by_email(&email).await? {
            Some(user) => Subject::Account { user_id: user.id },
            None => Subject::Decoy,
        };
        self.open_attempt(email, purpose, subject, Why::Asked).await
    }

    /// Sends a new code for the attempt an attempt token names; the old code stops working.
    ///
    /// # Errors
    /// [`StartError::InvalidAttempt`] for a bad token or a used attempt; rate limits; store failures.
    pub async fn resend(
        &self,
        attempt_token: &str,
        client: &ClientInfo,
    ) -> Result<Started, StartError> {
        let ticket = self
            .ports
            .tokens
            .verify_attempt(attempt_token)
            .map_err(|_| StartError::InvalidAttempt)?;
        let old = self
            .ports
            .attempts
            .get(&ticket.attempt_id)
            .await?
            .ok_or(StartError::InvalidAttempt)?;
        if old.state == AttemptState::Consumed {
            return Err(StartError::InvalidAttempt);
        }
        self.check_send_limits(&old.email, client).await?;
        self.open_attempt(old.email, old.purpose, old.subject, Why::Asked)
            .await
    }

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
    ) -> Result<Started, StartError> {
        if !self.is_recent(who) {
            return Err(StartError::ReauthRequired);
        }
        let me = self
            .ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(StartError::InvalidAttempt)?;
        if me.email == new_email {
            return Err(StartError::SameAddress);
        }
        self.check_send_limits(&new_email, client).await?;
        let subject = match self.ports.users.by_email(&new_email).await? {
            None => Subject::Account {
                user_id: who.user_id,
            },
            Some(_) => Subject::Decoy,
        };
        self.record(
            who.user_id,
            AuditKind::EmailChangeRequested,
            client,
            Some(new_email.masked()),
        )
        .await;
        self.open_attempt(new_email, Purpose::EmailChange, subject, Why::Asked)
            .await
    }

    async fn check_send_limits(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), StartError> {
        let l = &self.policy.limits;
        let gap = (!l.send_gap_per_address.is_zero()).then(|| {
            (
                key(Key::SendGap(email)),
                Quota::new(1, l.send_gap_per_address),
            )
        });
        let quotas = [
            Some((key(Key::SendIp(client)), l.send_per_ip)),
            gap,
            Some((key(Key::SendAddress(email)), l.send_per_address)),
            Some(("send:global".to_owned(), l.send_global)),
        ];
        for (k, quota) in quotas.into_iter().flatten() {
            if let RateDecision::Limited { retry_after } =
                self.ports.limiter.acquire(&k, quota, self.now()).await?
            {
                return Err(StartError::RateLimited { retry_after });
            }
        }
        Ok(())
    }

    /// Makes, stores and mails one attempt. Real and decoy attempts do the same work.
    async fn open_attempt(
        &self,
        email: EmailAddress,
        purpose: Purpose,
        subject: Subject,
        why: Why,
    ) -> Result<Started, StartError> {
        let rng = &*self.ports.rng;
        let now = self.now();
        let id = AttemptId::random(rng);
        let secret = ClientSecret::generate(rng);
        let code = OtpCode::generate(rng, self.policy.code_length);
        let attempt = Attempt {
            id,
            purpose,
            email: email.clone(),
            code_hash: self.hasher.hash(&id, &secret, &code),
            created_at: now,
            expires_at: now.plus(self.policy.code_ttl),
            guesses: 0,
            state: AttemptState::Active,
            subject,
        };
        let ticket = AttemptTicket {
            attempt_id: id,
            secret,
            expires_at: now.plus(self.policy.attempt_token_ttl),
        };
        let attempt_token = self.ports.tokens.issue_attempt(&ticket)?;
        self.ports.attempts.create(&attempt).await?;
        let message = self.message_for(&attempt, code, why);
        self.mail(email, message).await;
        Ok(Started {
            attempt_token,
            code_ttl: self.policy.code_ttl,
            token_ttl: self.policy.attempt_token_ttl,
        })
    }

    fn message_for(&self, attempt: &Attempt, code: OtpCode, why: Why) -> Message {
        let valid_minutes = self.policy.code_ttl.as_secs().div_ceil(60);
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
            (Subject::Decoy, _) => Message::NoAccount,
        }
    }

    /// Verifies a sign-up, login or recovery code and signs in. A verified sign-up creates the
    /// account (with its first session) only now.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] for every kind of wrong (see its docs); malformed codes; rate limits.
    pub async fn verify_code(
        &self,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, VerifyError> {
        let attempt = self
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
        match attempt.subject {
            Subject::NewAccount { display_name } => {
                self.create_account(attempt.email, display_name, client)
                    .await
            }
            Subject::Account { user_id } => {
                let user = self
                    .ports
                    .users
                    .by_id(&user_id)
                    .await?
                    .ok_or(VerifyError::Invalid)?;
                self.sign_in(user, method, client).await
            }
            Subject::Decoy => Err(VerifyError::Invalid),
        }
    }

    /// Verifies an email-change code for the signed-in account and moves it to the new address;
    /// the old address gets a notice.
    ///
    /// # Errors
    /// As [`AuthService::verify_code`], plus [`VerifyError::EmailTaken`] if the address was taken
    /// in the meantime.
    pub async fn verify_email_change(
        &self,
        who: &Principal,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<User, VerifyError> {
        let attempt = self
            .check_code(attempt_token, code, client, |a| {
                a.purpose == Purpose::EmailChange
                    && matches!(a.subject, Subject::Account { user_id } if user_id == who.user_id)
            })
            .await?;
        let old = self
            .ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(VerifyError::Invalid)?;
        match self
            .ports
            .users
            .change_email(&who.user_id, &attempt.email)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(VerifyError::Invalid),
            Err(EmailTakenOr::Taken) => return Err(VerifyError::EmailTaken),
            Err(EmailTakenOr::Store(e)) => return Err(e.into()),
        }
        self.mail(
            old.email.clone(),
            Message::EmailChanged {
                new_address_masked: attempt.email.masked(),
            },
        )
        .await;
        self.record(
            who.user_id,
            AuditKind::EmailChanged,
            client,
            Some(format!(
                "{} -> {}",
                old.email.masked(),
                attempt.email.masked()
            )),
        )
        .await;
        Ok(User {
            email: attempt.email,
            ..old
        })
    }

    /// The shared heart of code verification: limits, one atomic guess, a constant-time compare,
    /// one atomic consumption. `fits` says whether the attempt may be used by this caller.
    async fn check_code(
        &self,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
        fits: impl Fn(&Attempt) -> bool,
    ) -> Result<Attempt, VerifyError> {
        let code = OtpCode::parse(code, self.policy.code_length)?;
        let limits = &self.policy.limits;
        if let RateDecision::Limited { retry_after } = self
            .ports
            .limiter
            .acquire(
                &key(Key::GuessIp(client)),
                limits.guesses_per_ip,
                self.now(),
            )
            .await?
        {
            return Err(VerifyError::RateLimited { retry_after });
        }
        let ticket = self
            .ports
            .tokens
            .verify_attempt(attempt_token)
            .map_err(|_| VerifyError::Invalid)?;
        let Some(stored) = self.ports.attempts.get(&ticket.attempt_id).await? else {
            return Err(VerifyError::Invalid);
        };
        if !fits(&stored) {
            return Err(VerifyError::Invalid);
        }
        let fail_key = key(Key::Failures(&stored.email));
        let failures = self.ports.limiter.failures(&fail_key, self.now()).await?;
        if let RateDecision::Limited { retry_after } =
            limits.address_failures.decide(&failures, self.now())
        {
            return Err(VerifyError::RateLimited { retry_after });
        }
        let Some(taken) = self
            .ports
            .attempts
            .take_guess(&ticket.attempt_id, self.now(), self.policy.max_guesses)
            .await?
        else {
            return Err(VerifyError::Invalid);
        };
        let candidate = self.hasher.hash(&ticket.attempt_id, &ticket.secret, &code);
        let right = taken.code_hash.matches(&candidate) && taken.subject != Subject::Decoy;
        if !right {
            self.ports
                .limiter
                .record_failure(&fail_key, self.now(), limits.address_failures.window)
                .await?;
            if let Subject::Account { user_id } = taken.subject {
                self.record(
                    user_id,
                    AuditKind::CodeRejected,
                    client,
                    Some(taken.purpose.as_str().to_owned()),
                )
                .await;
            }
            return Err(VerifyError::Invalid);
        }
        if !self
            .ports
            .attempts
            .consume(&ticket.attempt_id, self.now())
            .await?
        {
            return Err(VerifyError::Invalid);
        }
        self.ports.limiter.clear_failures(&fail_key).await?;
        Ok(taken)
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
        };
        let (session, refresh) = self.new_session(user.id, AuthMethod::EmailCode, client);
        match self
            .ports
            .users
            .create(&user, &session, &refresh.hash())
            .await
        {
            Ok(()) => {
                self.record(user.id, AuditKind::SignedUp, client, None)
                    .await;
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
