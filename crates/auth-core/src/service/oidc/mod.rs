//! The OpenID Connect provider's use cases: carrying out an authorization request for a signed-in
//! user (freshness, consent, the code), exchanging a code or a refresh token for tokens, userinfo,
//! revocation and RP-initiated logout. The rules of requests and codes are in [`crate::oidc`].

mod apps;
mod tokens;

pub use apps::ConsentedApp;

use super::{AuthService, Principal};
use crate::audit::AuditKind;
use crate::ids::{CeremonyId, SessionId, UserId};
use crate::oidc::{
    AuthorizationCode, AuthorizationRequest, AuthorizeError, CODE_TTL, CodeGrant, Consent,
    OAuthError, Registry, Scopes, StoredCode,
};
use crate::ports::{AuthorizationCodeStore, ConsentStore, IdTokenSigner, StoreError};
use crate::session::RefreshToken;
use crate::time::Timestamp;
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
                // The request carries no client address here; the app's sign-in that follows
                // (`app_signed_in`) has it.
                self.auth
                    .record(
                        who.user_id,
                        AuditKind::AppConsented,
                        &super::ClientInfo::default(),
                        Some(req.client.name.clone()),
                    )
                    .await;
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
