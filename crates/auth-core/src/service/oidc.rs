//! The OpenID Connect provider's use cases: carrying out an authorization request for a signed-in
//! user (freshness, consent, the code), exchanging a code or a refresh token for tokens, userinfo,
//! revocation and RP-initiated logout. The rules of requests and codes are in [`crate::oidc`].

use super::{AuthService, ClientInfo, Principal};
use crate::audit::AuditKind;
use crate::ids::{CeremonyId, SessionId, UserId};
use crate::oidc::{
    AuthorizationCode, AuthorizationRequest, AuthorizeError, CODE_TTL, CodeGrant, CodeTake,
    Consent, OAuthError, OidcClient, PkceVerifier, Registry, Scope, Scopes, StoredCode,
};
use crate::ports::{
    AuthorizationCodeStore, ConsentStore, IdTokenClaims, IdTokenSigner, StoreError,
};
use crate::session::{RefreshToken, Rotation, Session, SessionClient};
use crate::time::Timestamp;
use crate::user::User;
use std::sync::Arc;
use std::time::Duration;

/// How long an authorization request waits for the browser to sign in or consent.
pub const PENDING_TTL: Duration = Duration::from_secs(900);

/// The provider: the service, the registered clients and the OIDC ports.
pub struct OidcProvider {
    auth: Arc<AuthService>,
    registry: Registry,
    codes: Arc<dyn AuthorizationCodeStore>,
    consents: Arc<dyn ConsentStore>,
    signer: Arc<dyn IdTokenSigner>,
    issuer: String,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// What an authorization request needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// The user must sign in (again): hand the browser to the page.
    SignIn,
    /// The user must consent to the client's scopes.
    Consent,
    /// Done: send the browser here (the redirect URI with `code` and `state`).
    Redirect(String),
}

/// A token request failed: an RFC 6749 error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {description}", error.as_str())]
pub struct TokenRequestError {
    /// The code.
    pub error: OAuthError,
    /// A sentence for the developer.
    pub description: &'static str,
}

impl TokenRequestError {
    const fn new(error: OAuthError, description: &'static str) -> Self {
        Self { error, description }
    }
}

impl From<StoreError> for TokenRequestError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failed at the token endpoint");
        Self::new(OAuthError::TemporarilyUnavailable, "try again later")
    }
}

impl From<crate::token::TokenError> for TokenRequestError {
    fn from(e: crate::token::TokenError) -> Self {
        tracing::error!(error = %e, "token signing failed");
        Self::new(OAuthError::ServerError, "tokens could not be signed")
    }
}

/// A grant presented at the token endpoint.
#[derive(Debug)]
pub enum TokenGrant {
    /// `authorization_code`.
    Code {
        /// `code`.
        code: String,
        /// `redirect_uri`.
        redirect_uri: String,
        /// `code_verifier`.
        verifier: Option<String>,
    },
    /// `refresh_token`.
    Refresh {
        /// `refresh_token`.
        token: String,
    },
}

/// A successful token response.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The access token (a JWT that only userinfo accepts).
    pub access_token: String,
    /// Its lifetime.
    pub expires_in: Duration,
    /// The ID token.
    pub id_token: String,
    /// A refresh token, only with `offline_access`.
    pub refresh_token: Option<RefreshToken>,
    /// The scopes granted.
    pub scopes: Scopes,
}

/// What userinfo returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// `sub`.
    pub subject: UserId,
    /// `name`, with `profile`.
    pub name: Option<String>,
    /// `email`, with `email` (always verified: accounts exist only after that).
    pub email: Option<String>,
}

impl OidcProvider {
    /// A provider issuing as `issuer` (the public URL) for the clients of `registry`.
    pub fn new(
        auth: Arc<AuthService>,
        registry: Registry,
        codes: Arc<dyn AuthorizationCodeStore>,
        consents: Arc<dyn ConsentStore>,
        signer: Arc<dyn IdTokenSigner>,
        issuer: &str,
    ) -> Self {
        Self {
            auth,
            registry,
            codes,
            consents,
            signer,
            issuer: issuer.to_owned(),
        }
    }

    /// The registered clients.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The algorithms ID tokens can be signed with.
    pub fn algorithms(&self) -> Vec<crate::oidc::IdTokenAlg> {
        self.signer.algorithms()
    }

    /// Carries out a parsed request for `who` (our own signed-in session, if any).
    /// `asked_at` is when the browser first brought this request (a sign-in at or after it
    /// satisfies `prompt=login`), `approved` whether the user just approved the consent screen
    /// for it.
    ///
    /// # Errors
    /// [`AuthorizeError::Redirect`] with `login_required` or `consent_required` under
    /// `prompt=none`, and `temporarily_unavailable` when a store fails.
    pub async fn authorize(
        &self,
        req: &AuthorizationRequest,
        who: Option<&Principal>,
        asked_at: Option<Timestamp>,
        approved: bool,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let now = self.auth.now();
        let fail = |error, description| AuthorizeError::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            error,
            description,
            state: req.state.clone(),
        };
        let fresh = who.filter(|w| {
            let recent = req.max_age.is_none_or(|max| now.since(w.auth_time) <= max);
            let relogged = !req.prompt.login || asked_at.is_some_and(|t| w.auth_time >= t);
            recent && relogged
        });
        let Some(who) = fresh else {
            if req.prompt.none {
                return Err(fail(
                    OAuthError::LoginRequired,
                    "nobody is signed in recently enough",
                ));
            }
            return Ok(AuthorizeStep::SignIn);
        };
        let unavailable = |e: StoreError| {
            tracing::warn!(error = %e, "store failed at the authorization endpoint");
            fail(OAuthError::TemporarilyUnavailable, "try again later")
        };
        if !req.client.first_party {
            let remembered = self
                .consents
                .get(&who.user_id, &req.client.id)
                .await
                .map_err(unavailable)?;
            let covered = remembered
                .as_ref()
                .is_some_and(|c| req.scopes.is_subset(c.scopes));
            if approved {
                let scopes = remembered.map_or(req.scopes, |c| c.scopes.union(req.scopes));
                self.consents
                    .grant(&Consent {
                        user_id: who.user_id,
                        client_id: req.client.id.clone(),
                        scopes,
                        granted_at: now,
                    })
                    .await
                    .map_err(unavailable)?;
            } else if !covered || req.prompt.consent {
                if req.prompt.none {
                    return Err(fail(
                        OAuthError::ConsentRequired,
                        "the user has not consented",
                    ));
                }
                return Ok(AuthorizeStep::Consent);
            }
        }
        let code = AuthorizationCode::generate(&*self.auth.ports.rng);
        let grant = CodeGrant {
            client_id: req.client.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            scopes: req.scopes,
            user_id: who.user_id,
            session_id: who.session_id,
            auth_time: who.auth_time,
            method: who.method,
            issues: SessionId::random(&*self.auth.ports.rng),
            expires_at: now.plus(CODE_TTL),
        };
        self.codes
            .put(&StoredCode {
                hash: code.hash(),
                grant,
            })
            .await
            .map_err(unavailable)?;
        let mut params = vec![("code", code.expose())];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        params.push(("iss", &self.issuer));
        Ok(AuthorizeStep::Redirect(with_query(
            req.redirect_uri.as_str(),
            &params,
        )))
    }

    /// The redirect that reports `error` to the client of a request.
    pub fn error_redirect(err: &AuthorizeError, issuer: &str) -> Option<String> {
        match err {
            AuthorizeError::Untrusted(_) => None,
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut params = vec![
                    ("error", error.as_str()),
                    ("error_description", description),
                ];
                if let Some(s) = state {
                    params.push(("state", s));
                }
                params.push(("iss", issuer));
                Some(with_query(redirect_uri.as_str(), &params))
            }
        }
    }

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
        self.auth
            .ports
            .sessions
            .create(&session, &refresh.hash())
            .await?;
        self.auth
            .record(
                user.id,
                AuditKind::SignedIn,
                info,
                Some(format!("{} via {}", session.method.as_str(), client.id)),
            )
            .await;
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
            .rotate(&old.hash(), &new.hash(), now, self.auth.policy.lifetimes())
            .await?
        {
            Rotation::Rotated(s) => s,
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(session = %session_id, "client refresh token reused; session revoked");
                self.auth
                    .record(
                        user_id,
                        AuditKind::RefreshTokenReused,
                        info,
                        Some(session_id.to_string()),
                    )
                    .await;
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
            .ok_or(TokenRequestError::new(
                OAuthError::InvalidGrant,
                "the account is gone",
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
            access_token: self.auth.access_token(session)?,
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
        let Some(user) = self.auth.ports.users.by_id(&session.user_id).await? else {
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
        let Ok(claims) = self.auth.ports.tokens.verify_access(access_token) else {
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
            if let Rotation::Rotated(s) = self
                .auth
                .ports
                .sessions
                .rotate(&old.hash(), &nobody.hash(), now, lifetimes)
                .await?
            {
                if owned(&s) {
                    self.auth
                        .ports
                        .sessions
                        .revoke(&s.user_id, &s.id, now)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Holds an authorization request while the browser signs in or consents, for
    /// [`PENDING_TTL`]: its parameters and when it was first asked. The id goes to the page.
    ///
    /// # Errors
    /// Store failures.
    pub async fn hold(
        &self,
        params: &[(String, String)],
        asked_at: Option<Timestamp>,
    ) -> Result<CeremonyId, StoreError> {
        let id = CeremonyId::random(&*self.auth.ports.rng);
        let asked_at = asked_at.unwrap_or_else(|| self.auth.now());
        self.put_pending(&id, params, asked_at).await?;
        Ok(id)
    }

    async fn put_pending(
        &self,
        id: &CeremonyId,
        params: &[(String, String)],
        asked_at: Timestamp,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&(params, asked_at))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.auth
            .ports
            .ceremonies
            .put(id, &bytes, self.auth.now(), PENDING_TTL)
            .await
    }

    /// Takes a held request back (once): its parameters and when it was first asked.
    ///
    /// # Errors
    /// Store failures.
    pub async fn resume(
        &self,
        id: &CeremonyId,
    ) -> Result<Option<(Vec<(String, String)>, Timestamp)>, StoreError> {
        let Some(bytes) = self.auth.ports.ceremonies.take(id, self.auth.now()).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Reads a held request without using it up (for the consent screen).
    ///
    /// # Errors
    /// Store failures.
    pub async fn peek(
        &self,
        id: &CeremonyId,
    ) -> Result<Option<(Vec<(String, String)>, Timestamp)>, StoreError> {
        let held = self.resume(id).await?;
        if let Some((params, asked_at)) = &held {
            self.put_pending(id, params, *asked_at).await?;
        }
        Ok(held)
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> Timestamp {
        self.auth.now()
    }

    /// RP-initiated logout: whether `uri` is a registered post-logout redirect URI of `client`.
    pub fn post_logout_uri(&self, client: &str, uri: &str) -> Option<String> {
        self.registry
            .get(client)
            .and_then(|c| c.post_logout_redirect_uri(uri))
            .map(|u| u.as_str().to_owned())
    }
}

/// `base` with `params` appended to its query, form-encoded.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut out = base.to_owned();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        sep = '&';
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query("https://a/cb", &[("code", "x y"), ("state", "&=")]),
            "https://a/cb?code=x%20y&state=%26%3D"
        );
        assert_eq!(
            with_query("https://a/cb?k=1", &[("code", "é")]),
            "https://a/cb?k=1&code=%C3%A9"
        );
    }
}
