//! The use cases. [`AuthService`] applies the rules to the ports; every public method is one use case
//! with its own error enum, and the cases an outsider must not tell apart collapse into one variant.

use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::code::{ClientSecret, CodeError, CodeHasher, OtpCode, PepperTooShort};
use crate::email::EmailAddress;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::ids::{CeremonyId, PasskeyId};
use crate::mail::{Mail, Message};
use crate::passkey::{Passkey, PasskeyName, WebAuthnError};
use crate::policy::Policy;
use crate::ports::{
    AttemptStore, AuditEvent, AuditLog, CeremonyStore, Clock, CredentialTakenOr, EmailTakenOr,
    Mailer, PasskeyRepository, RateLimiter, Rng, SessionRepository, StoreError, TokenIssuer,
    UserRepository, WebAuthn,
};
use crate::rate::{Quota, RateDecision};
use crate::session::{AuthMethod, RefreshToken, Rotation, Session};
use crate::time::Timestamp;
use crate::token::{AccessClaims, AttemptTicket, TokenError};
use crate::user::{DisplayName, PublicProfile, User};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// The ports a service runs on.
#[derive(Clone)]
pub struct Ports {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Email-code attempts.
    pub attempts: Arc<dyn AttemptStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Rate limits and failure counters.
    pub limiter: Arc<dyn RateLimiter>,
    /// Outgoing mail.
    pub mailer: Arc<dyn Mailer>,
    /// Token signing.
    pub tokens: Arc<dyn TokenIssuer>,
    /// Security activity.
    pub audit: Arc<dyn AuditLog>,
    /// Registered passkeys.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// WebAuthn ceremony state.
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// The WebAuthn relying party.
    pub webauthn: Arc<dyn WebAuthn>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Rng>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports { .. }")
    }
}

/// Who is asking, as far as the transport knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client IP (from the socket, or from a trusted proxy).
    pub ip: Option<String>,
    /// The user agent, truncated by the caller.
    pub user_agent: Option<String>,
}

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

/// A signed-in session's credentials.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The session.
    pub session: Session,
    /// Whether this sign-in created the account.
    pub created: bool,
    /// The access token.
    pub access_token: String,
    /// How long the access token lasts.
    pub access_ttl: Duration,
    /// The refresh token.
    pub refresh_token: RefreshToken,
}

/// New credentials from a refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The session, after rotation.
    pub session: Session,
    /// The new access token.
    pub access_token: String,
    /// How long it lasts.
    pub access_ttl: Duration,
    /// The new refresh token; the presented one is spent.
    pub refresh_token: RefreshToken,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// How the session signed in.
    pub method: AuthMethod,
    /// When it signed in.
    pub auth_time: Timestamp,
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

/// Refreshing failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, spent (the family is now revoked), expired or revoked: one answer.
    #[error("the refresh token is not valid")]
    Invalid,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Authenticating an access token failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, invalid or expired token, or its session is revoked.
    #[error("not signed in")]
    Unauthenticated,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The account is gone.
    #[error("the account no longer exists")]
    Gone,
    /// The named session is not one of the account's active sessions.
    #[error("no such session")]
    NoSuchSession,
    /// The named passkey is not one of the account's.
    #[error("no such passkey")]
    NoSuchPasskey,
    /// A recent sign-in is required.
    #[error("a recent sign-in is required")]
    ReauthRequired,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
    /// A recent sign-in is required (adding a passkey after a recovery sign-in).
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

/// How long a WebAuthn ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

/// The service: one per process, shared by every request.
pub struct AuthService {
    ports: Ports,
    policy: Policy,
    hasher: CodeHasher,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A policy number is out of bounds.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The pepper is too short.
    #[error(transparent)]
    Pepper(#[from] PepperTooShort),
}

/// Why an attempt is opened, when that changes its mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The person asked for exactly this.
    Asked,
    /// The person tried to sign up with an address that already has an account.
    SignupWithTakenAddress,
}

enum Key<'a> {
    SendIp(&'a ClientInfo),
    SendAddress(&'a EmailAddress),
    SendGap(&'a EmailAddress),
    GuessIp(&'a ClientInfo),
    Failures(&'a EmailAddress),
}

/// Rate-limit keys name addresses by a hash, so limiter stores hold no personal data.
fn key(k: Key<'_>) -> String {
    let addr = |e: &EmailAddress| {
        let digest = Sha256::digest(e.as_str().as_bytes());
        digest[..12]
            .iter()
            .fold(String::with_capacity(24), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    };
    let ip = |c: &ClientInfo| c.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    match k {
        Key::SendIp(c) => format!("send:ip:{}", ip(c)),
        Key::SendAddress(e) => format!("send:addr:{}", addr(e)),
        Key::SendGap(e) => format!("send:gap:{}", addr(e)),
        Key::GuessIp(c) => format!("guess:ip:{}", ip(c)),
        Key::Failures(e) => format!("fail:addr:{}", addr(e)),
    }
}

impl AuthService {
    /// A service on `ports`, enforcing `policy`, hashing codes under `pepper` (at least 32 bytes).
    ///
    /// # Errors
    /// An invalid policy or a short pepper.
    pub fn new(ports: Ports, policy: Policy, pepper: &[u8]) -> Result<Self, BuildError> {
        policy.validate()?;
        Ok(Self {
            hasher: CodeHasher::new(pepper)?,
            ports,
            policy,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The JWKS document of the access-token keys.
    pub fn jwks(&self) -> serde_json::Value {
        self.ports.tokens.jwks()
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    // ---- starting attempts -------------------------------------------------------------------

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
            "email_change_requested",
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

    async fn mail(&self, to: EmailAddress, message: Message) {
        let kind = message.kind();
        if let Err(e) = self.ports.mailer.send(Mail { to, message }).await {
            // What the client sees must not depend on the mail queue.
            tracing::warn!(mail = kind, error = %e, "mail not queued");
        }
    }

    // ---- verifying codes ---------------------------------------------------------------------

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
            "email_changed",
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
                    "code_rejected",
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
                self.record(user.id, "signed_up", client, None).await;
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

    /// Opens a session for an account that has just proven itself (by code or by passkey).
    ///
    /// # Errors
    /// Store failures and signing failures.
    pub async fn sign_in(
        &self,
        user: User,
        method: AuthMethod,
        client: &ClientInfo,
    ) -> Result<SignedIn, VerifyError> {
        let (session, refresh) = self.new_session(user.id, method, client);
        self.ports
            .sessions
            .create(&session, &refresh.hash())
            .await?;
        self.record(
            user.id,
            "signed_in",
            client,
            Some(method.as_str().to_owned()),
        )
        .await;
        let access_token = self.access_token(&session)?;
        Ok(SignedIn {
            user,
            session,
            created: false,
            access_token,
            access_ttl: self.policy.access_ttl,
            refresh_token: refresh,
        })
    }

    fn new_session(
        &self,
        user_id: UserId,
        method: AuthMethod,
        client: &ClientInfo,
    ) -> (Session, RefreshToken) {
        let now = self.now();
        let session = Session {
            id: SessionId::random(&*self.ports.rng),
            user_id,
            method,
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(
                self.policy
                    .session_idle_ttl
                    .min(self.policy.session_max_ttl),
            ),
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
            revoked_at: None,
        };
        (session, RefreshToken::generate(&*self.ports.rng))
    }

    fn access_token(&self, session: &Session) -> Result<String, TokenError> {
        let now = self.now();
        self.ports.tokens.issue_access(&AccessClaims {
            user_id: session.user_id,
            session_id: session.id,
            method: session.method,
            auth_time: session.created_at,
            issued_at: now,
            expires_at: now.plus(self.policy.access_ttl),
        })
    }

    // ---- sessions ----------------------------------------------------------------------------

    /// Rotates a refresh token. Presenting a spent one revokes its whole session.
    ///
    /// # Errors
    /// [`RefreshError::Invalid`] for every kind of wrong; store and signing failures.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<Refreshed, RefreshError> {
        let old = RefreshToken::parse(refresh_token).ok_or(RefreshError::Invalid)?;
        let new = RefreshToken::generate(&*self.ports.rng);
        let p = &self.policy;
        match self
            .ports
            .sessions
            .rotate(
                &old.hash(),
                &new.hash(),
                self.now(),
                p.session_idle_ttl,
                p.session_max_ttl,
            )
            .await?
        {
            Rotation::Rotated(session) => {
                let access_token = self.access_token(&session)?;
                Ok(Refreshed {
                    session,
                    access_token,
                    access_ttl: p.access_ttl,
                    refresh_token: new,
                })
            }
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(session = %session_id, "refresh token reused; session revoked");
                self.record(
                    user_id,
                    "refresh_token_reused",
                    client,
                    Some(session_id.to_string()),
                )
                .await;
                Err(RefreshError::Invalid)
            }
            Rotation::Invalid => Err(RefreshError::Invalid),
        }
    }

    /// Checks an access token and that its session is still active.
    ///
    /// # Errors
    /// [`AuthError::Unauthenticated`] for every kind of wrong; store failures.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let claims = self
            .ports
            .tokens
            .verify_access(access_token)
            .map_err(|_| AuthError::Unauthenticated)?;
        let session = self
            .ports
            .sessions
            .get(&claims.session_id)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if session.user_id != claims.user_id || !session.is_active(self.now()) {
            return Err(AuthError::Unauthenticated);
        }
        Ok(Principal {
            user_id: session.user_id,
            session_id: session.id,
            method: session.method,
            auth_time: session.created_at,
        })
    }

    fn is_recent(&self, who: &Principal) -> bool {
        self.now().since(who.auth_time) <= self.policy.recent_auth
    }

    /// Signs the caller's session out.
    ///
    /// # Errors
    /// Store failures.
    pub async fn logout(&self, who: &Principal, client: &ClientInfo) -> Result<(), AccountError> {
        self.ports
            .sessions
            .revoke(&who.user_id, &who.session_id, self.now())
            .await?;
        self.record(who.user_id, "signed_out", client, None).await;
        Ok(())
    }

    /// The account's active sessions, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn sessions(&self, who: &Principal) -> Result<Vec<Session>, AccountError> {
        Ok(self
            .ports
            .sessions
            .list_active(&who.user_id, self.now())
            .await?)
    }

    /// Revokes one of the account's sessions.
    ///
    /// # Errors
    /// [`AccountError::NoSuchSession`] if it is not one of the account's active sessions.
    pub async fn revoke_session(
        &self,
        who: &Principal,
        id: &SessionId,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        if !self
            .ports
            .sessions
            .revoke(&who.user_id, id, self.now())
            .await?
        {
            return Err(AccountError::NoSuchSession);
        }
        self.record(who.user_id, "session_revoked", client, Some(id.to_string()))
            .await;
        Ok(())
    }

    /// Revokes every session of the account, or every other one; returns how many.
    ///
    /// # Errors
    /// Store failures.
    pub async fn revoke_all_sessions(
        &self,
        who: &Principal,
        keep_current: bool,
        client: &ClientInfo,
    ) -> Result<u64, AccountError> {
        let keep = keep_current.then_some(who.session_id);
        let n = self
            .ports
            .sessions
            .revoke_all(&who.user_id, keep, self.now())
            .await?;
        self.record(who.user_id, "sessions_revoked", client, Some(n.to_string()))
            .await;
        Ok(n)
    }

    // ---- account -----------------------------------------------------------------------------

    /// The caller's account.
    ///
    /// # Errors
    /// [`AccountError::Gone`] if it was deleted; store failures.
    pub async fn me(&self, who: &Principal) -> Result<User, AccountError> {
        self.ports
            .users
            .by_id(&who.user_id)
            .await?
            .ok_or(AccountError::Gone)
    }

    /// Changes the display name and/or the public flag.
    ///
    /// # Errors
    /// [`AccountError::Gone`] if it was deleted; store failures.
    pub async fn update_profile(
        &self,
        who: &Principal,
        name: Option<DisplayName>,
        public: Option<bool>,
        client: &ClientInfo,
    ) -> Result<User, AccountError> {
        let me = self.me(who).await?;
        let name = name.unwrap_or(me.display_name);
        let public = public.unwrap_or(me.public);
        let user = self
            .ports
            .users
            .update_profile(&who.user_id, &name, public)
            .await?
            .ok_or(AccountError::Gone)?;
        self.record(who.user_id, "profile_updated", client, None)
            .await;
        Ok(user)
    }

    /// Deletes the account with its sessions and history. Needs a recent sign-in.
    ///
    /// # Errors
    /// [`AccountError::ReauthRequired`]; [`AccountError::Gone`]; store failures.
    pub async fn delete_account(&self, who: &Principal) -> Result<(), AccountError> {
        if !self.is_recent(who) {
            return Err(AccountError::ReauthRequired);
        }
        if !self.ports.users.delete(&who.user_id).await? {
            return Err(AccountError::Gone);
        }
        tracing::info!(user = %who.user_id, "account deleted");
        Ok(())
    }

    /// The account's recent security activity, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn activity(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AccountError> {
        Ok(self
            .ports
            .audit
            .recent(&who.user_id, limit.clamp(1, 100))
            .await?)
    }

    /// Public profiles, by id, after the cursor.
    ///
    /// # Errors
    /// Store failures.
    pub async fn public_profiles(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        self.ports
            .users
            .list_public(after, limit.clamp(1, 100))
            .await
    }

    // ---- passkeys -----------------------------------------------------------------------------

    /// Starts registering a passkey for the signed-in account. After a recovery sign-in this needs
    /// a recent sign-in.
    ///
    /// # Errors
    /// [`PasskeyError::ReauthRequired`]; store and adapter failures.
    pub async fn start_passkey_registration(
        &self,
        who: &Principal,
    ) -> Result<PasskeyStart, PasskeyError> {
        if who.method == AuthMethod::Recovery && !self.is_recent(who) {
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

    /// Finishes a registration: verifies the response, stores the passkey, mails a notice.
    ///
    /// # Errors
    /// [`PasskeyError::Invalid`] for every kind of wrong; [`PasskeyError::AlreadyRegistered`].
    pub async fn finish_passkey_registration(
        &self,
        who: &Principal,
        ceremony: &CeremonyId,
        response: &serde_json::Value,
        name: Option<PasskeyName>,
        device_hint: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Passkey, PasskeyError> {
        let state = self
            .ports
            .ceremonies
            .take(ceremony)
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
        match self.ports.passkeys.add(&passkey).await {
            Ok(()) => {}
            Err(CredentialTakenOr::Taken) => return Err(PasskeyError::AlreadyRegistered),
            Err(CredentialTakenOr::Store(e)) => return Err(e.into()),
        }
        self.record(
            who.user_id,
            "passkey_added",
            client,
            Some(passkey.name.to_string()),
        )
        .await;
        self.mail(
            user.email,
            Message::PasskeyAdded {
                name: passkey.name.to_string(),
            },
        )
        .await;
        Ok(passkey)
    }

    /// Starts a usernameless passkey sign-in (also for browser autofill). Cheap and mail-free, so
    /// it is not rate limited; finishing is.
    ///
    /// # Errors
    /// Store and adapter failures.
    pub async fn start_passkey_login(&self) -> Result<PasskeyStart, PasskeyError> {
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
            .take(ceremony)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        let (user_id, credential_id) = self
            .ports
            .webauthn
            .identify(response)
            .map_err(webauthn_error)?;
        let passkey = self
            .ports
            .passkeys
            .by_credential_id(&credential_id)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        if passkey.user_id != user_id {
            return Err(PasskeyError::Invalid);
        }
        let used = match self.ports.webauthn.finish_login(&state, response, &passkey) {
            Ok(used) => used,
            Err(WebAuthnError::PossibleClone) => {
                tracing::warn!(user = %user_id, passkey = %passkey.id, "passkey counter went backwards; possible clone");
                self.record(
                    user_id,
                    "passkey_clone_suspected",
                    client,
                    Some(passkey.name.to_string()),
                )
                .await;
                return Err(PasskeyError::Invalid);
            }
            Err(e) => return Err(webauthn_error(e)),
        };
        self.ports
            .passkeys
            .record_use(
                &passkey.id,
                &used.credential,
                used.sign_count,
                used.backed_up,
                self.now(),
            )
            .await?;
        let user = self
            .ports
            .users
            .by_id(&user_id)
            .await?
            .ok_or(PasskeyError::Invalid)?;
        Ok(self.sign_in(user, AuthMethod::Passkey, client).await?)
    }

    async fn keep_ceremony(
        &self,
        options: serde_json::Value,
        state: &[u8],
    ) -> Result<PasskeyStart, PasskeyError> {
        let ceremony_id = CeremonyId::random(&*self.ports.rng);
        self.ports
            .ceremonies
            .put(&ceremony_id, state, CEREMONY_TTL)
            .await?;
        Ok(PasskeyStart {
            ceremony_id,
            options,
            ttl: CEREMONY_TTL,
        })
    }

    /// The account's passkeys, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn passkeys(&self, who: &Principal) -> Result<Vec<Passkey>, AccountError> {
        Ok(self.ports.passkeys.list(&who.user_id).await?)
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
            "passkey_renamed",
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
        if !self.ports.passkeys.delete(&who.user_id, id).await? {
            return Err(AccountError::NoSuchPasskey);
        }
        self.record(
            who.user_id,
            "passkey_removed",
            client,
            Some(passkey.name.to_string()),
        )
        .await;
        if let Some(user) = self.ports.users.by_id(&who.user_id).await? {
            self.mail(
                user.email,
                Message::PasskeyRemoved {
                    name: passkey.name.to_string(),
                },
            )
            .await;
        }
        Ok(())
    }

    /// One public profile; `None` if the account does not exist or is not public.
    ///
    /// # Errors
    /// Store failures.
    pub async fn public_profile(&self, id: &UserId) -> Result<Option<PublicProfile>, StoreError> {
        let user = self.ports.users.by_id(id).await?;
        Ok(user.filter(|u| u.public).map(|u| PublicProfile {
            id: u.id,
            display_name: u.display_name,
        }))
    }

    async fn record(
        &self,
        user_id: UserId,
        kind: &str,
        client: &ClientInfo,
        detail: Option<String>,
    ) {
        let event = AuditEvent {
            user_id,
            at: self.now(),
            kind: kind.to_owned(),
            ip: client.ip.clone(),
            detail,
        };
        if let Err(e) = self.ports.audit.record(&event).await {
            tracing::warn!(kind, error = %e, "audit event not recorded");
        }
    }
}
