//! Opening attempts: sign-up, login and recovery starts, resends, and the send limits and mail
//! that every opening shares. Real and decoy attempts do the same work.

use super::{Opening, ResendError, Resent, StartError, Started, Why, message_for};
use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::code::{ClientSecret, OtpCode};
use crate::email::EmailAddress;
use crate::ids::AttemptId;
use crate::rate::{Quota, RateDecision};
use crate::service::{AuthService, ClientInfo, Key, key};
use crate::token::AttemptTicket;
use crate::user::{DisplayName, User};

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
        let limits = self.send_limits(&email, client);
        let opening = match self.ports.users.by_email(&email).await? {
            None => Opening::new(
                email,
                Purpose::Signup,
                Subject::NewAccount { display_name: name },
                0,
            ),
            // A disabled account is answered as any start for it is: a decoy and its notice.
            Some(user) if user.is_disabled() => {
                Opening::for_account(email, Purpose::Login, Some(user))
            }
            // Stored as a plain login, so it verifies as one; only its mail says why it came.
            Some(user) => Opening {
                why: Why::SignupWithTakenAddress,
                ..Opening::for_account(email, Purpose::Login, Some(user))
            },
        };
        self.open_attempt(opening, None, &limits, client).await
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
        let limits = self.send_limits(&email, client);
        let user = self.ports.users.by_email(&email).await?;
        self.open_attempt(
            Opening::for_account(email, purpose, user),
            None,
            &limits,
            client,
        )
        .await
    }

    /// Sends a new code for the attempt an attempt token names; its old code stops working (and
    /// no other attempt is touched). The subject is resolved again from the address, as a fresh
    /// start would, but the chain keeps its epoch and never outlives its first token: a resend
    /// cannot revive an attempt that an email change or signing out everywhere killed.
    ///
    /// # Errors
    /// [`ResendError::InvalidAttempt`] for a bad token or an attempt that was used or replaced;
    /// rate limits; store failures.
    pub async fn resend(
        &self,
        attempt_token: &str,
        client: &ClientInfo,
    ) -> Result<Started, ResendError> {
        let ticket = self
            .ports
            .tokens
            .verify_attempt(attempt_token)
            .map_err(|_| ResendError::InvalidAttempt)?;
        if ticket.expires_at <= self.now() {
            return Err(ResendError::InvalidAttempt);
        }
        let old = self
            .ports
            .attempts
            .get(&ticket.attempt_id)
            .await?
            .ok_or(ResendError::InvalidAttempt)?;
        if old.state != AttemptState::Active {
            return Err(ResendError::InvalidAttempt);
        }
        let limits = self.send_limits(&old.email, client);
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
            (Purpose::Signup, _, Some(u)) if u.is_disabled() => {
                Opening::for_account(old.email, Purpose::Login, Some(u))
            }
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
        Ok(self
            .open_attempt(opening, Some(resent), &limits, client)
            .await?)
    }

    /// Every send limit, cheapest to exhaust first, for [`crate::ports::AttemptGate::open`]: each consumes only
    /// when allowed, and the first that refuses stops the rest. Everything an outsider can spend
    /// for an address is kept per client network, the absolute per-address cap comes after the
    /// network's own, and the global budget last, after this network's share of it: a client
    /// refused by its own limits never spends what everyone shares.
    pub(super) fn send_limits(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Vec<(String, Quota)> {
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
        quotas.into_iter().flatten().collect()
    }

    /// Makes one attempt and, if the send `limits` allow it, stores it (limits and attempt in one
    /// call of the gate) and mails it. Real and decoy attempts do the same work.
    pub(super) async fn open_attempt(
        &self,
        opening: Opening,
        resent: Option<Resent>,
        limits: &[(String, Quota)],
        client: &ClientInfo,
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
        if let RateDecision::Limited { retry_after } = self
            .ports
            .gate
            .open(limits, now, &attempt, resent.map(|r| r.replaces))
            .await?
        {
            return Err(StartError::RateLimited { retry_after });
        }
        let code_ttl = expires_at.since(now);
        let message = message_for(&attempt, code, code_ttl, opening.why);
        let language = opening.language.unwrap_or(client.language);
        self.mail(opening.email, opening.name.as_ref(), language, message)
            .await;
        Ok(Started {
            attempt_token,
            code_ttl,
            token_ttl: token_expires_at.since(now),
        })
    }
}
