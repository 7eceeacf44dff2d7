//! OpenID Connect provider rules: the registry of relying parties (clients), their scopes and
//! secrets, the parsing of authorization requests, and authorization codes with PKCE and consent.
//!
//! Everything here is pure: no HTTP, no storage. The HTTP edge hands in the request's parameters
//! and gets back what to do; codes and consents live behind the
//! [`AuthorizationCodeStore`](crate::ports::AuthorizationCodeStore) and
//! [`ConsentStore`](crate::ports::ConsentStore) ports.

mod client;
mod grant;
mod request;

pub use client::{
    ClientError, ClientId, ClientKind, ClientSecretHash, IdTokenAlg, OidcClient, RedirectUri,
    Registry, Scope, Scopes,
};
pub use grant::{
    AuthorizationCode, CODE_REPLAY_MEMORY, CODE_TTL, CodeGrant, CodeTake, Consent, PkceVerifier,
    StoredCode,
};
pub use request::{AuthorizationRequest, AuthorizeError, OAuthError, Prompt};
