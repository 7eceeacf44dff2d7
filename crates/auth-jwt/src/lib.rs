//! JWT adapter: signs and verifies the service's tokens with `jsonwebtoken`.
//!
//! - **Access tokens** are EdDSA (Ed25519) JWTs with `typ: "at+jwt"` and a `kid` that is the
//!   RFC 7638 thumbprint of the signing key. Anyone holding the published JWKS can verify them:
//!   [`JwtIssuer`] inside the service, [`JwksVerifier`] in other services.
//! - **Attempt tokens** are HS256 JWTs with `typ: "attempt+jwt"` and their own audience, under a
//!   server secret. Only this service ever reads them, so a shared secret suffices, and the
//!   different algorithm, type and audience keep the two kinds from ever standing in for each other.
//!
//! Verification is strict and uniform: one algorithm per kind, the key chosen by `kid`, issuer and
//! audience required and checked, `nbf` and `exp` judged by the [`auth_core::ports::Clock`] port with
//! a [`LEEWAY`] for clock skew between nodes, and every claim parsed into its domain type. Every
//! failure is the same [`auth_core::token::TokenError::Invalid`].
#![warn(missing_docs)]

mod access;
mod attempt;
mod id_token;
mod issuer;
mod jwks;
mod keys;
mod validity;

pub use attempt::ATTEMPT_AUDIENCE;
pub use id_token::{CLIENT_ACCESS_AUDIENCE, IdTokens, RsaKeyError, RsaSigningKey};
pub use issuer::{ConfigError, JwtIssuer, MIN_ATTEMPT_SECRET_LEN};
pub use jwks::{JwksError, JwksVerifier};
pub use keys::{KeyError, PublicKey, SigningKey};
pub use validity::LEEWAY;

/// The JOSE `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The JOSE `typ` of attempt tokens.
pub const ATTEMPT_TOKEN_TYPE: &str = "attempt+jwt";

/// Longer tokens are rejected before any decoding. Ours are well under 1 KiB; the bound keeps a
/// hostile header from costing more than a real token.
pub const MAX_TOKEN_LEN: usize = 4096;
