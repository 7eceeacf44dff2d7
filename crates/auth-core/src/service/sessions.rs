//! Sessions: opening one after a proof, refreshing it, authenticating access tokens, and the
//! account's own view of its sessions.

use super::{AccountError, AuthService, ClientInfo, Principal, VerifyError};
use crate::audit::AuditKind;
use crate::ids::{SessionId, UserId};
use crate::ports::{AuditEvent, StoreError};
use crate::session::{AuthMethod, RefreshToken, Rotation, Session};
use crate::token::{AccessClaims, TokenError};
use crate::user::User;
use std::time::Duration;

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

impl AuthService {
    /// Opens a session for an account that has just proven itself (by code or by passkey).
    ///
    /// # Errors
    /// Store failures and signing failures.
    pub(super) async fn sign_in(
        &self,
        user: User,
        method: AuthMethod,
        client: &ClientInfo,
    ) -> Result<SignedIn, VerifyError> {
        let (session, refresh) = self.new_session(user.id, method, client);
        // The sign-in event is written with the session, not through the audit queue: a session
        // that exists always has its event, and nothing is left half-written if the store fails.
        let event = self.signed_in_event(&session, client);
        // The store refuses a disabled account in the same write, so a disable that raced this
        // sign-in either ends the session or leaves none.
        if user.is_disabled()
            || !self
                .ports
                .sessions
                .open(&session, &refresh.hash(), &event)
                .await?
        {
            return Err(VerifyError::Invalid);
        }
        self.signed_in(user, session, refresh)
    }

    /// The audit event of a sign-in that opens `session`.
    pub(super) fn signed_in_event(&self, session: &Session, client: &ClientInfo) -> AuditEvent {
        AuditEvent {
            user_id: session.user_id,
            at: session.created_at,
            kind: AuditKind::SignedIn,
            ip: client.ip.clone(),
            detail: Some(session.method.as_str().to_owned()),
        }
    }

    /// The credentials of a session that has just been opened.
    pub(super) fn signed_in(
        &self,
        user: User,
        session: Session,
        refresh: RefreshToken,
    ) -> Result<SignedIn, VerifyError> {
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

    pub(super) fn new_session(
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
            client: None,
        };
        (session, RefreshToken::generate(&*self.ports.rng))
    }

    pub(super) fn access_token(&self, session: &Session) -> Result<String, TokenError> {
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

    /// Rotates a refresh token. Presenting a spent one revokes its whole session, unless it was
    /// rotated less than the policy's grace ago and its successor is still current: then the
    /// answer carries that same successor again (two tabs refreshing at once).
    ///
    /// # Errors
    /// [`RefreshError::Invalid`] for every kind of wrong; store and signing failures.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<Refreshed, RefreshError> {
        let old = RefreshToken::parse(refresh_token).ok_or(RefreshError::Invalid)?;
        // Derived, not random: a second presentation of `old` must ask for the same successor.
        let new = old.successor(&self.successors);
        let p = &self.policy;
        match self
            .ports
            .sessions
            .rotate(
                &old.hash(),
                &new.hash(),
                self.now(),
                p.lifetimes(),
                &client.ip,
            )
            .await?
        {
            Rotation::Rotated(session) if session.client.is_some() => {
                // A client's refresh token belongs at the token endpoint, not here.
                Err(RefreshError::Invalid)
            }
            Rotation::Rotated(session) => {
                let access_token = self.access_token(&session)?;
                Ok(Refreshed {
                    session,
                    access_token,
                    access_ttl: p.access_ttl,
                    refresh_token: new,
                })
            }
            Rotation::Reused { session_id, .. } => {
                // The store wrote the event with the revocation.
                tracing::warn!(session = %session_id, "refresh token reused; session revoked");
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
        Ok(self.authenticate_user(access_token).await?.0)
    }

    /// Like [`AuthService::authenticate`], and the account as it is, from the same single read
    /// (the per-request check and `/v1/me` need no second query).
    ///
    /// # Errors
    /// [`AuthError::Unauthenticated`] for every kind of wrong, a deleted account included; store
    /// failures.
    pub async fn authenticate_user(
        &self,
        access_token: &str,
    ) -> Result<(Principal, User), AuthError> {
        let claims = self
            .ports
            .tokens
            .verify_access(access_token)
            .map_err(|_| AuthError::Unauthenticated)?;
        let (session, user) = self
            .ports
            .sessions
            .active_with_user(&claims.session_id, self.now())
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        // A client's session only reaches userinfo, never our own API.
        if session.user_id != claims.user_id
            || user.id != session.user_id
            || user.is_disabled()
            || session.client.is_some()
        {
            return Err(AuthError::Unauthenticated);
        }
        let principal = Principal {
            user_id: session.user_id,
            session_id: session.id,
            method: session.method,
            auth_time: session.created_at,
        };
        Ok((principal, user))
    }

    /// Signs the caller's session out.
    ///
    /// # Errors
    /// Store failures.
    pub async fn logout(&self, who: &Principal, client: &ClientInfo) -> Result<(), StoreError> {
        self.ports
            .sessions
            .revoke(&who.user_id, &who.session_id, self.now())
            .await?;
        self.record(who.user_id, AuditKind::SignedOut, client, None)
            .await;
        Ok(())
    }

    /// The account's active sessions, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn sessions(&self, who: &Principal) -> Result<Vec<Session>, StoreError> {
        self.ports
            .sessions
            .list_active(&who.user_id, self.now())
            .await
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
        self.record(
            who.user_id,
            AuditKind::SessionRevoked,
            client,
            Some(id.to_string()),
        )
        .await;
        Ok(())
    }

    /// Revokes every session of the account, or every other one, and kills every open email-code
    /// attempt of the account; returns how many sessions.
    ///
    /// # Errors
    /// Store failures.
    pub async fn revoke_all_sessions(
        &self,
        who: &Principal,
        keep_current: bool,
        client: &ClientInfo,
    ) -> Result<u64, StoreError> {
        let keep = keep_current.then_some(who.session_id);
        // Whoever signs out everywhere may suspect someone else: their open code attempts die too.
        self.ports.users.end_attempts(&who.user_id).await?;
        let n = self
            .ports
            .sessions
            .revoke_all(&who.user_id, keep, self.now())
            .await?;
        self.record(
            who.user_id,
            AuditKind::SessionsRevoked,
            client,
            Some(n.to_string()),
        )
        .await;
        Ok(n)
    }
}
