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
use crate::revert::{EmailRevert, RevertToken};
use crate::session::AuthMethod;
use crate::time::Timestamp;
use crate::token::{AttemptTicket, TokenError};
use crate::user::{DisplayName, User};
use std::time::Duration;

/// How long the undo link of an email change works.
pub(super) const REVERT_TTL: Duration = Duration::from_secs(72 * 3600);

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
}

/// What an attempt is about to be opened for.
struct Opening {
    email: EmailAddress,
    purpose: Purpose,
    subject: Subject,
    /// See [`Attempt::account_epoch`].
    account_epoch: u32,
    why: Why,
}

impl Opening {
    fn new(email: EmailAddress, purpose: Purpose, subject: Subject, account_epoch: u32) -> Self {
        Self {
            email,
            purpose,
            subject,
            account_epoch,
            why: Why::Asked,
        }
    }

    /// A start for an address, as the account (or its absence) decides.
    fn for_account(email: EmailAddress, purpose: Purpose, user: Option<User>) -> Self {
        match user {
            Some(user) => Self::new(
                email,
                purpose,
                Subject::Account { user_id: user.id },
                user.attempt_epoch,
            ),
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
        let opening = match self.ports.users.by_email(&email).await? {
            None => Opening::new(
                email,
                Purpose::Signup,
                Subject::NewAccount { display_name: name },
                0,
            ),
            // Stored as a plain login, so it verifies as one; only its mail says why it came.
            Some(user) => Opening {
                why: Why::SignupWithTakenAddress,
                ..Opening::for_account(email, Purpose::Login, Some(user))
            },
        };
        self.open_attempt(opening, None).await
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
        let user = self.ports.users.by_email(&email).await?;
        self.open_attempt(Opening::for_account(email, purpose, user), None)
            .await
    }

    /// Sends a new code for the attempt an attempt token names; its old code stops working (and
    /// no other attempt is touched). The subject is resolved again from the address, as a fresh
    /// start would, but the chain keeps its epoch and never outlives its first token: a resend
    /// cannot revive an attempt that an email change or signing out everywhere killed.
    ///
    /// # Errors
    /// [`StartError::InvalidAttempt`] for a bad token or an attempt that was used or replaced;
    /// rate limits; store failures.
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
        if ticket.expires_at <= self.now() {
            return Err(StartError::InvalidAttempt);
        }
        let old = self
            .ports
            .attempts
            .get(&ticket.attempt_id)
            .await?
            .ok_or(StartError::InvalidAttempt)?;
        if old.state != AttemptState::Active {
            return Err(StartError::InvalidAttempt);
        }
        self.check_send_limits(&old.email, client).await?;
        let user = self.ports.users.by_email(&old.email).await?;
        // An account keeps the epoch its chain began in; any other account the address now
        // belongs to starts from its own, as a fresh start would.
        let carried = match old.subject {
            Subject::Account { user_id } => Some((user_id, old.account_epoch)),
            _ => None,
        };
        let epoch = |u: &User| {
            carried
                .filter(|(id, _)| *id == u.id)
                .map_or(u.attempt_epoch, |(_, e)| e)
        };
        let opening = match (old.purpose, old.subject.clone(), user) {
            // The new address of an email change must still be free; the account is the one that
            // asked, which a decoy does not remember, so a decoy stays one.
            (Purpose::EmailChange, Subject::Account { user_id }, None) => Opening::new(
                old.email,
                Purpose::EmailChange,
                Subject::Account { user_id },
                old.account_epoch,
            ),
            (Purpose::EmailChange, _, _) => {
                Opening::new(old.email, Purpose::EmailChange, Subject::Decoy, 0)
            }
            (Purpose::Signup, Subject::NewAccount { display_name }, None) => Opening::new(
                old.email,
                Purpose::Signup,
                Subject::NewAccount { display_name },
                0,
            ),
            (Purpose::Signup, _, Some(u)) => Opening {
                why: Why::SignupWithTakenAddress,
                account_epoch: epoch(&u),
                ..Opening::for_account(old.email, Purpose::Login, Some(u))
            },
            (purpose, _, Some(u)) => Opening {
                account_epoch: epoch(&u),
                ..Opening::for_account(old.email, purpose, Some(u))
            },
            (purpose, _, None) => Opening::for_account(old.email, purpose, None),
        };
        let resent = Resent {
            replaces: old.id,
            token_expires_at: ticket.expires_at,
        };
        self.open_attempt(opening, Some(resent)).await
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
        self.record(
            who.user_id,
            AuditKind::EmailChangeRequested,
            client,
            Some(new_email.masked()),
        )
        .await;
        self.open_attempt(opening, None).await
    }

    /// Every send limit, cheapest to exhaust first; each consumes only when allowed. Everything an
    /// outsider can spend for an address is kept per client network, the absolute per-address cap
    /// comes after the network's own, and the global budget last, after this network's share of
    /// it: a client refused by its own limits never spends what everyone shares.
    async fn check_send_limits(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), StartError> {
        let l = &self.policy.limits;
        let gap = (!l.send_gap_per_address.is_zero()).then(|| {
            (
                key(Key::SendGap(email, client)),
                Quota::new(1, l.send_gap_per_address),
            )
        });
        let quotas = [
            Some((key(Key::SendIp(client)), l.send_per_ip)),
            gap,
            Some((key(Key::SendAddress(email, client)), l.send_per_address)),
            Some((key(Key::SendAddressTotal(email)), l.send_per_address_total)),
            Some((
                key(Key::SendGlobalShare(client)),
                l.send_global_per_network(),
            )),
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
        opening: Opening,
        resent: Option<Resent>,
    ) -> Result<Started, StartError> {
        let rng = &*self.ports.rng;
        let now = self.now();
        let id = AttemptId::random(rng);
        let secret = ClientSecret::generate(rng);
        let code = OtpCode::generate(rng, self.policy.code_length);
        let token_expires_at = resent.map_or_else(
            || now.plus(self.policy.attempt_token_ttl),
            |r| r.token_expires_at,
        );
        // A code never outlives the token that can use it.
        let expires_at = now.plus(self.policy.code_ttl).min(token_expires_at);
        let attempt = Attempt {
            id,
            purpose: opening.purpose,
            email: opening.email.clone(),
            code_hash: self.hasher.hash(&id, &secret, &code),
            created_at: now,
            expires_at,
            guesses: 0,
            state: AttemptState::Active,
            subject: opening.subject,
            account_epoch: opening.account_epoch,
        };
        let ticket = AttemptTicket {
            attempt_id: id,
            secret,
            expires_at: token_expires_at,
        };
        let attempt_token = self.ports.tokens.issue_attempt(&ticket)?;
        self.ports
            .attempts
            .create(&attempt, resent.map(|r| r.replaces))
            .await?;
        let code_ttl = expires_at.since(now);
        let message = message_for(&attempt, code, code_ttl, opening.why);
        self.mail(opening.email, message).await;
        Ok(Started {
            attempt_token,
            code_ttl,
            token_ttl: token_expires_at.since(now),
        })
    }

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
        self.mail(user.email.clone(), notice).await;
        Ok(())
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
        let ended = self
            .ports
            .sessions
            .revoke_all(&who.user_id, Some(who.session_id), now)
            .await?;
        self.mail(
            old.email.clone(),
            Message::EmailChanged {
                new_address_masked: attempt.email.masked(),
                revert_token,
                valid_hours: REVERT_TTL.as_secs() / 3600,
            },
        )
        .await;
        self.record(
            who.user_id,
            AuditKind::EmailChanged,
            client,
            Some(format!(
                "{} -> {}; {ended} other sessions ended",
                old.email.masked(),
                attempt.email.masked()
            )),
        )
        .await;
        Ok(User {
            email: attempt.email,
            attempt_epoch: old.attempt_epoch.wrapping_add(1),
            ..old
        })
    }

    /// The shared heart of code verification: limits, one atomic guess, a constant-time compare,
    /// one atomic consumption. `fits` says whether the attempt may be used by this caller.
    ///
    /// Every attempt takes the same path up to the guess — decoys, attempts that do not fit the
    /// caller and dead ones included — and whatever is wrong with it counts as a wrong code after
    /// the guess, so no kind of wrong answers differently (or sooner) than another. The failure
    /// budget is kept per address and client network, so an outsider's wrong codes never lock the
    /// owner out. An account's attempt is right only while the account is still in the chain's
    /// epoch and, for a sign-in, still has the attempt's address; the account comes back with it.
    async fn check_code(
        &self,
        attempt_token: &str,
        code: &str,
        client: &ClientInfo,
        fits: impl Fn(&Attempt) -> bool,
    ) -> Result<(Attempt, Option<User>), VerifyError> {
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
        let fail_key = key(Key::Failures(&stored.email, client));
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
        let (right, account) = if taken.code_hash.matches(&candidate) && fits(&taken) {
            self.live_subject(&taken).await?
        } else {
            (false, None)
        };
        if !right {
            self.ports
                .limiter
                .record_failure(&fail_key, self.now(), limits.address_failures.window)
                .await?;
            if let Subject::Account { user_id } = taken.subject {
                // Off the request path: a durable write here would make a wrong code for an
                // account slower than one for a decoy.
                self.record_later(
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
        Ok((taken, account))
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
                    u.attempt_epoch == attempt.account_epoch
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
        (Subject::Decoy, _) => Message::NoAccount,
    }
}
