//! The token side of the provider: client authentication, exchanging a code or a refresh
//! token, the ID token, userinfo and revocation.

use super::{OidcProvider, TokenGrant, TokenRequestError, TokenResponse, UserInfo};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::oidc::{
    AuthorizationCode, CodeTake, OAuthError, OidcClient, PkceVerifier, Scope, Scopes,
};
use crate::ports::{AuditEvent, IdTokenClaims, StoreError};
use crate::service::ClientInfo;
use crate::session::{RefreshToken, Rotation, Session, SessionClient};
use crate::token::AccessClaims;
use crate::user::User;

impl OidcProvider {
    /// The client `id` if `secret` authenticates it (`None` for public clients).
    fn client(&self, id: &str, secret: Option<&str>) -> Result<&OidcClient, TokenRequestError> {
        self.registry
            .get(id)
            .filter(|c| c.authenticates(secret))
            .ok_or(TokenRequestError::new(
                OAuthError::InvalidClient,
                "client authentication failed",
            ))
    }

    /// The token endpoint.
    ///
    /// # Errors
    /// RFC 6749 errors: `invalid_client` for a wrong client or secret; `invalid_grant` for a
    /// code or refresh token that is unknown, expired, used, for another client or redirect URI,
    /// or whose PKCE verifier does not answer the challenge (a replayed code also revokes the
    /// session it opened; a refresh token presented by another client revokes its session).
    pub async fn token(
        &self,
        client_id: &str,
        secret: Option<&str>,
        grant: TokenGrant,
        info: &ClientInfo,
    ) -> Result<TokenResponse, TokenRequestError> {
        let client = self.client(client_id, secret)?;
        match grant {
            TokenGrant::Code {
                code,
                redirect_uri,
                verifier,
            } => {
                self.exchange(client, &code, &redirect_uri, verifier.as_deref(), info)
                    .await
            }
            TokenGrant::Refresh { token } => self.refresh(client, &token, info).await,
        }
    }

    async fn exchange(
        &self,
        client: &OidcClient,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        info: &ClientInfo,
    ) -> Result<TokenResponse, TokenRequestError> {
        let bad = |d| TokenRequestError::new(OAuthError::InvalidGrant, d);
        let code = AuthorizationCode::parse(code).ok_or(bad("the code is not valid"))?;
        let now = self.auth.now();
        let grant = match self.codes.take(&code.hash(), now).await? {
            CodeTake::Taken(g) => g,
            CodeTake::Replayed(g) => {
                // Someone has the code twice: what it issued may be in the wrong hands.
                tracing::warn!(client = %g.client_id, "authorization code replayed; its session revoked");
                if self
                    .auth
                    .ports
                    .sessions
                    .revoke(&g.user_id, &g.issues, now)
                    .await?
                {
                    self.auth
                        .record(
                            g.user_id,
                            AuditKind::SessionRevoked,
                            info,
                            Some(g.issues.to_string()),
                        )
                        .await;
                }
                return Err(bad("the code has been used"));
            }
            CodeTake::Invalid => return Err(bad("the code is not valid")),
        };
        if grant.client_id != client.id {
            return Err(bad("the code was issued to another client"));
        }
        if grant.redirect_uri.as_str() != redirect_uri {
            return Err(bad("redirect_uri differs from the authorization request"));
        }
        match (&grant.code_challenge, verifier) {
            (None, None) => {}
            (Some(challenge), Some(v))
                if PkceVerifier::parse(v).is_some_and(|v| v.answers(challenge)) => {}
            _ => return Err(bad("the PKCE code_verifier does not match")),
        }
        let user = self.user(&grant.user_id).await?;
        let p = &self.auth.policy;
        let session = Session {
            id: grant.issues,
            user_id: grant.user_id,
            method: grant.method,
            // The sign-in time of the client's session is the user's: `auth_time` stays true,
            // and the absolute lifetime counts from the sign-in.
            created_at: grant.auth_time,
            last_seen_at: now,
            expires_at: now
                .plus(p.session_idle_ttl)
                .min(grant.auth_time.plus(p.session_max_ttl)),
            user_agent: info.user_agent.clone(),
            ip: info.ip.clone(),
            revoked_at: None,
            client: Some(SessionClient {
                id: client.id.clone(),
                scopes: grant.scopes,
            }),
        };
        let refresh = RefreshToken::generate(&*self.auth.ports.rng);
        // The sign-in event is written with the session, as for our own sign-ins.
        let event = AuditEvent {
            kind: AuditKind::AppSignedIn,
            at: now,
            detail: Some(format!("{}, {}", client.name, session.method.as_str())),
            ..self.auth.signed_in_event(&session, info)
        };
        // A disable since the code was issued: the store refuses the session in its own write.
        if !self
            .auth
            .ports
            .sessions
            .open(&session, &refresh.hash(), &event)
            .await?
        {
            return Err(bad("the account cannot sign in"));
        }
        // A replay that came while the session was being opened found nothing to revoke; the
        // store remembers it, so the session ends here and no token leaves.
        if self.codes.replayed(&code.hash()).await? {
            tracing::warn!(client = %client.id, "authorization code replayed during its exchange; its session revoked");
            if self
                .auth
                .ports
                .sessions
                .revoke(&session.user_id, &session.id, now)
                .await?
            {
                self.auth
                    .record(
                        session.user_id,
                        AuditKind::SessionRevoked,
                        info,
                        Some(session.id.to_string()),
                    )
                    .await;
            }
            return Err(bad("the code has been used"));
        }
        self.respond(client, &session, &user, grant.nonce, refresh)
    }

    async fn refresh(
        &self,
        client: &OidcClient,
        token: &str,
        info: &ClientInfo,
    ) -> Result<TokenResponse, TokenRequestError> {
        let bad = |d| TokenRequestError::new(OAuthError::InvalidGrant, d);
        let old = RefreshToken::parse(token).ok_or(bad("the refresh token is not valid"))?;
        let new = old.successor(&self.auth.successors);
        let now = self.auth.now();
        let session = match self
            .auth
            .ports
            .sessions
            .rotate(
                &old.hash(),
                &new.hash(),
                now,
                self.auth.policy.lifetimes(),
                &info.ip,
            )
            .await?
        {
            Rotation::Rotated(s) => s,
            Rotation::Reused { session_id, .. } => {
                // The store wrote the event with the revocation.
                tracing::warn!(session = %session_id, "client refresh token reused; session revoked");
                return Err(bad("the refresh token is not valid"));
            }
            Rotation::Invalid => return Err(bad("the refresh token is not valid")),
        };
        let ours = session
            .client
            .as_ref()
            .is_some_and(|c| c.id == client.id && c.scopes.contains(Scope::OfflineAccess));
        if !ours {
            // Another client's token, or one of our own sessions: it leaked. End it.
            self.auth
                .ports
                .sessions
                .revoke(&session.user_id, &session.id, now)
                .await?;
            return Err(bad("the refresh token was not issued to this client"));
        }
        let user = self.user(&session.user_id).await?;
        self.respond(client, &session, &user, None, new)
    }

    async fn user(&self, id: &UserId) -> Result<User, TokenRequestError> {
        self.auth
            .ports
            .users
            .by_id(id)
            .await?
            // A disabled account signs in nowhere: a code issued before the disable, or a client's
            // refresh token, gets it nothing.
            .filter(|u| !u.is_disabled())
            .ok_or(TokenRequestError::new(
                OAuthError::InvalidGrant,
                "the account cannot sign in",
            ))
    }

    fn respond(
        &self,
        client: &OidcClient,
        session: &Session,
        user: &User,
        nonce: Option<String>,
        refresh: RefreshToken,
    ) -> Result<TokenResponse, TokenRequestError> {
        let scopes = session
            .client
            .as_ref()
            .map_or(Scopes::empty(), |c| c.scopes);
        let now = self.auth.now();
        let ttl = self.auth.policy.access_ttl;
        let claims = IdTokenClaims {
            issuer: self.issuer.clone(),
            subject: user.id,
            audience: client.id.clone(),
            issued_at: now,
            expires_at: now.plus(ttl),
            auth_time: session.created_at,
            nonce,
            method: session.method,
            session_id: session.id,
            email: scopes
                .contains(Scope::Email)
                .then(|| user.email.as_str().to_owned()),
            name: scopes
                .contains(Scope::Profile)
                .then(|| user.display_name.to_string()),
        };
        Ok(TokenResponse {
            access_token: self.signer.issue_client_access(&AccessClaims {
                user_id: session.user_id,
                session_id: session.id,
                method: session.method,
                auth_time: session.created_at,
                issued_at: now,
                expires_at: now.plus(ttl),
            })?,
            expires_in: ttl,
            id_token: self.signer.sign_id_token(&claims, client.id_token_alg)?,
            refresh_token: scopes.contains(Scope::OfflineAccess).then_some(refresh),
            scopes,
        })
    }

    /// Userinfo for a client's access token: `None` for anything that is not a live client
    /// session's token.
    ///
    /// # Errors
    /// Store failures.
    pub async fn userinfo(&self, access_token: &str) -> Result<Option<UserInfo>, StoreError> {
        let Some(session) = self.client_session(access_token).await? else {
            return Ok(None);
        };
        let Some(user) =
            (self.auth.ports.users.by_id(&session.user_id).await?).filter(|u| !u.is_disabled())
        else {
            return Ok(None);
        };
        let scopes = session
            .client
            .as_ref()
            .map_or(Scopes::empty(), |c| c.scopes);
        Ok(Some(UserInfo {
            subject: user.id,
            name: scopes
                .contains(Scope::Profile)
                .then(|| user.display_name.to_string()),
            email: scopes
                .contains(Scope::Email)
                .then(|| user.email.as_str().to_owned()),
        }))
    }

    async fn client_session(&self, access_token: &str) -> Result<Option<Session>, StoreError> {
        let Ok(claims) = self.signer.verify_client_access(access_token) else {
            return Ok(None);
        };
        let session = self.auth.ports.sessions.get(&claims.session_id).await?;
        Ok(session.filter(|s| {
            s.user_id == claims.user_id && s.client.is_some() && s.is_active(self.auth.now())
        }))
    }

    /// RFC 7009 revocation: ends the client session of an access or refresh token the client
    /// holds. Unknown tokens, and tokens of other clients, change nothing (the answer is the same).
    ///
    /// # Errors
    /// `invalid_client`; store failures.
    pub async fn revoke(
        &self,
        client_id: &str,
        secret: Option<&str>,
        token: &str,
    ) -> Result<(), TokenRequestError> {
        let client = self.client(client_id, secret)?;
        let now = self.auth.now();
        let owned = |s: &Session| s.client.as_ref().is_some_and(|c| c.id == client.id);
        if let Some(s) = self.client_session(token).await? {
            if owned(&s) {
                self.auth
                    .ports
                    .sessions
                    .revoke(&s.user_id, &s.id, now)
                    .await?;
            }
            return Ok(());
        }
        if let Some(old) = RefreshToken::parse(token) {
            // Stores find a session by its refresh token only by rotating it: spend it into a
            // random successor nobody holds, then end the session if it is the client's.
            let nobody = RefreshToken::generate(&*self.auth.ports.rng);
            let lifetimes = self.auth.policy.lifetimes();
            let rotation = self
                .auth
                .ports
                .sessions
                .rotate(&old.hash(), &nobody.hash(), now, lifetimes, &None)
                .await?;
            if let Rotation::Rotated(s) = rotation
                && owned(&s)
            {
                self.auth
                    .ports
                    .sessions
                    .revoke(&s.user_id, &s.id, now)
                    .await?;
            }
        }
        Ok(())
    }
}
