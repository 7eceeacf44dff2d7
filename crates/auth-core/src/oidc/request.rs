//! Parsing an authorization request (`GET /oauth2/authorize`): who asks, where the answer goes,
//! and what is asked for. A request whose client or redirect URI cannot be trusted is never
//! answered by redirect; every other error goes back to the client's redirect URI.

use super::client::{OidcClient, RedirectUri, Registry, Scope, Scopes};
use std::collections::BTreeMap;
use std::time::Duration;

/// The OAuth 2.0 / OpenID Connect error codes we answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// A parameter is missing, repeated, malformed or not supported.
    InvalidRequest,
    /// Only `response_type=code` is supported.
    UnsupportedResponseType,
    /// A scope is unknown or not allowed for the client, or `openid` is missing.
    InvalidScope,
    /// `prompt=none` and nobody is signed in (or not recently enough).
    LoginRequired,
    /// `prompt=none` and the user has not consented yet.
    ConsentRequired,
    /// The user declined.
    AccessDenied,
    /// `request` objects are not supported.
    RequestNotSupported,
    /// `request_uri` is not supported.
    RequestUriNotSupported,
    /// Token endpoint: the client failed to authenticate.
    InvalidClient,
    /// Token endpoint: the code or refresh token is invalid, expired, used, or for another client.
    InvalidGrant,
    /// Token endpoint: the client may not use this grant.
    UnauthorizedClient,
    /// Token endpoint: an unknown grant type.
    UnsupportedGrantType,
    /// Something on our side failed.
    ServerError,
    /// Our stores are unavailable for now.
    TemporarilyUnavailable,
}

impl OAuthError {
    /// The code on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::LoginRequired => "login_required",
            OAuthError::ConsentRequired => "consent_required",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::RequestNotSupported => "request_not_supported",
            OAuthError::RequestUriNotSupported => "request_uri_not_supported",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::ServerError => "server_error",
            OAuthError::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An authorization request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client is unknown or the redirect URI is missing, repeated or not registered: we show
    /// the error ourselves and never redirect.
    Untrusted(&'static str),
    /// Anything else: sent back to the client's (registered) redirect URI.
    Redirect {
        /// Where to.
        redirect_uri: RedirectUri,
        /// The error code.
        error: OAuthError,
        /// A sentence for the developer.
        description: &'static str,
        /// The request's `state`, echoed.
        state: Option<String>,
    },
}

/// `prompt` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: never show anything; fail if sign-in or consent is needed.
    pub none: bool,
    /// `login`: sign in again even with a session.
    pub login: bool,
    /// `consent`: ask for consent even if it was given before.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: OidcClient,
    /// Its redirect URI, one of those registered.
    pub redirect_uri: RedirectUri,
    /// What it asks for (always with `openid`, all allowed for the client).
    pub scopes: Scopes,
    /// Echoed back with the code.
    pub state: Option<String>,
    /// Carried into the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge; required for public clients.
    pub code_challenge: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// The longest ago the user may have signed in.
    pub max_age: Option<Duration>,
    /// A hint at the account (an address), for the page's email field.
    pub login_hint: Option<String>,
}

/// Longest `state`, `nonce` and `login_hint` we carry.
const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 320;

/// Whether `s` is a PKCE challenge or verifier: 43 to 128 unreserved characters (RFC 7636).
pub(super) fn is_pkce_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl AuthorizationRequest {
    /// Parses the request's parameters (query or form pairs, in order) against `registry`.
    ///
    /// # Errors
    /// [`AuthorizeError::Untrusted`] when the client or redirect URI cannot be trusted;
    /// [`AuthorizeError::Redirect`] for every other problem.
    pub fn parse(params: &[(String, String)], registry: &Registry) -> Result<Self, AuthorizeError> {
        let mut map: BTreeMap<&str, &str> = BTreeMap::new();
        let mut repeated: Option<&str> = None;
        for (k, v) in params {
            if map.insert(k.as_str(), v.as_str()).is_some() {
                repeated.get_or_insert(k.as_str());
            }
        }
        if matches!(repeated, Some("client_id" | "redirect_uri")) {
            return Err(AuthorizeError::Untrusted(
                "client_id or redirect_uri is repeated",
            ));
        }
        let client = map
            .get("client_id")
            .and_then(|id| registry.get(id))
            .ok_or(AuthorizeError::Untrusted("unknown client_id"))?;
        let redirect_uri = map
            .get("redirect_uri")
            .and_then(|u| client.redirect_uri(u))
            .cloned()
            .ok_or(AuthorizeError::Untrusted(
                "redirect_uri is missing or not registered for this client",
            ))?;
        // From here on, errors go back to the client. `state` is echoed only if it is sane.
        let state = map
            .get("state")
            .filter(|s| s.len() <= MAX_STATE)
            .map(|s| (*s).to_owned());
        let fail = |error, description| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        };
        if repeated.is_some() {
            return Err(fail(OAuthError::InvalidRequest, "a parameter is repeated"));
        }
        if map.get("state").is_some_and(|s| s.len() > MAX_STATE) {
            return Err(fail(OAuthError::InvalidRequest, "state is too long"));
        }
        if map.contains_key("request") {
            return Err(fail(
                OAuthError::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if map.contains_key("request_uri") {
            return Err(fail(
                OAuthError::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        match map.get("response_type") {
            Some(&"code") => {}
            None => return Err(fail(OAuthError::InvalidRequest, "response_type is missing")),
            Some(_) => {
                return Err(fail(
                    OAuthError::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        if map.get("response_mode").is_some_and(|m| *m != "query") {
            return Err(fail(
                OAuthError::InvalidRequest,
                "only response_mode=query is supported",
            ));
        }
        let scopes = Scopes::parse(map.get("scope").copied().unwrap_or(""))
            .map_err(|_| fail(OAuthError::InvalidScope, "a scope is unknown"))?;
        if !scopes.contains(Scope::Openid) {
            return Err(fail(
                OAuthError::InvalidScope,
                "the openid scope is required",
            ));
        }
        if !scopes.is_subset(client.scopes) {
            return Err(fail(
                OAuthError::InvalidScope,
                "a scope is not allowed for this client",
            ));
        }
        let code_challenge = match (map.get("code_challenge"), map.get("code_challenge_method")) {
            (None, None) if client.is_public() => {
                return Err(fail(
                    OAuthError::InvalidRequest,
                    "PKCE is required for public clients",
                ));
            }
            (None, None) => None,
            (Some(c), Some(&"S256")) if is_pkce_text(c) => Some((*c).to_owned()),
            (Some(_), Some(&"S256")) => {
                return Err(fail(
                    OAuthError::InvalidRequest,
                    "code_challenge is malformed",
                ));
            }
            (Some(_) | None, Some(_)) | (Some(_), None) => {
                return Err(fail(
                    OAuthError::InvalidRequest,
                    "code_challenge_method must be S256, with a code_challenge",
                ));
            }
        };
        let nonce = match map.get("nonce") {
            Some(n) if n.is_empty() || n.len() > MAX_NONCE => {
                return Err(fail(
                    OAuthError::InvalidRequest,
                    "nonce is empty or too long",
                ));
            }
            n => n.map(|n| (*n).to_owned()),
        };
        let mut prompt = Prompt::default();
        for p in map
            .get("prompt")
            .copied()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
        {
            match p {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => {
                    return Err(fail(
                        OAuthError::InvalidRequest,
                        "prompt value not supported",
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(fail(OAuthError::InvalidRequest, "prompt=none stands alone"));
        }
        let max_age = match map.get("max_age") {
            None => None,
            Some(s) => Some(
                s.parse::<u32>()
                    .map(|n| Duration::from_secs(u64::from(n)))
                    .map_err(|_| {
                        fail(
                            OAuthError::InvalidRequest,
                            "max_age is not a number of seconds",
                        )
                    })?,
            ),
        };
        let login_hint = match map.get("login_hint") {
            Some(h) if h.len() > MAX_HINT => {
                return Err(fail(OAuthError::InvalidRequest, "login_hint is too long"));
            }
            h => h.map(|h| (*h).to_owned()),
        };
        Ok(Self {
            client: client.clone(),
            redirect_uri,
            scopes,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::{ClientId, ClientKind, ClientSecretHash, IdTokenAlg};
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn registry() -> Registry {
        let make = |id: &str, kind| OidcClient {
            id: ClientId::parse(id).unwrap(),
            name: "App".to_owned(),
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            kind,
            first_party: false,
            scopes: Scopes::parse("openid profile email").unwrap(),
            id_token_alg: IdTokenAlg::EdDSA,
        };
        Registry::new(vec![
            make("spa", ClientKind::Public),
            make(
                "web",
                ClientKind::Confidential(ClientSecretHash::of(&"s".repeat(32)).unwrap()),
            ),
        ])
        .unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base(client: &str) -> Vec<(&'static str, String)> {
        vec![
            ("client_id", client.to_owned()),
            ("redirect_uri", "https://app.example/cb".to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "openid email".to_owned()),
            ("state", "xyz".to_owned()),
            ("code_challenge", CHALLENGE.to_owned()),
            ("code_challenge_method", "S256".to_owned()),
        ]
    }

    fn parse_with(
        client: &str,
        change: &[(&'static str, Option<&str>)],
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let mut p = base(client);
        for (k, v) in change {
            p.retain(|(pk, _)| pk != k);
            if let Some(v) = v {
                p.push((k, (*v).to_owned()));
            }
        }
        let p: Vec<(String, String)> = p.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        AuthorizationRequest::parse(&p, &registry())
    }

    fn redirected(r: Result<AuthorizationRequest, AuthorizeError>) -> (OAuthError, Option<String>) {
        match r {
            Err(AuthorizeError::Redirect {
                error,
                state,
                redirect_uri,
                ..
            }) => {
                assert_eq!(redirect_uri.as_str(), "https://app.example/cb");
                (error, state)
            }
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_parses() {
        let r = parse_with(
            "spa",
            &[
                ("nonce", Some("n-1")),
                ("prompt", Some("login consent")),
                ("max_age", Some("300")),
            ],
        )
        .unwrap();
        assert_eq!(r.client.id.as_str(), "spa");
        assert_eq!(r.scopes.to_text(), "openid email");
        assert_eq!(r.nonce.as_deref(), Some("n-1"));
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        assert_eq!(r.max_age, Some(Duration::from_secs(300)));
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    }

    #[test]
    fn an_unknown_client_or_unregistered_redirect_is_never_redirected_to() {
        for change in [
            vec![("client_id", Some("nobody"))],
            vec![("client_id", None)],
            vec![("redirect_uri", Some("https://evil.example/cb"))],
            vec![("redirect_uri", Some("https://app.example/cb/"))],
            vec![("redirect_uri", Some("https://app.example/cb?x"))],
            vec![("redirect_uri", None)],
        ] {
            assert!(
                matches!(
                    parse_with("spa", &change),
                    Err(AuthorizeError::Untrusted(_))
                ),
                "{change:?}"
            );
        }
        let mut p = params(&[
            ("client_id", "spa"),
            ("redirect_uri", "https://app.example/cb"),
        ]);
        p.push((
            "redirect_uri".to_owned(),
            "https://evil.example/cb".to_owned(),
        ));
        assert!(matches!(
            AuthorizationRequest::parse(&p, &registry()),
            Err(AuthorizeError::Untrusted(_))
        ));
    }

    #[test]
    fn other_errors_go_back_to_the_client_with_its_state() {
        type Change<'a> = Vec<(&'static str, Option<&'a str>)>;
        let cases: Vec<(Change<'_>, OAuthError)> = vec![
            (
                vec![("response_type", Some("token"))],
                OAuthError::UnsupportedResponseType,
            ),
            (vec![("response_type", None)], OAuthError::InvalidRequest),
            (vec![("scope", Some("email"))], OAuthError::InvalidScope),
            (
                vec![("scope", Some("openid offline_access"))],
                OAuthError::InvalidScope,
            ),
            (
                vec![("scope", Some("openid admin"))],
                OAuthError::InvalidScope,
            ),
            (
                vec![("code_challenge_method", Some("plain"))],
                OAuthError::InvalidRequest,
            ),
            (
                vec![("code_challenge_method", None)],
                OAuthError::InvalidRequest,
            ),
            (
                vec![("code_challenge", Some("short"))],
                OAuthError::InvalidRequest,
            ),
            (
                vec![("prompt", Some("none login"))],
                OAuthError::InvalidRequest,
            ),
            (
                vec![("prompt", Some("select_account"))],
                OAuthError::InvalidRequest,
            ),
            (vec![("max_age", Some("-1"))], OAuthError::InvalidRequest),
            (
                vec![("request", Some("eyJ..."))],
                OAuthError::RequestNotSupported,
            ),
            (
                vec![("request_uri", Some("https://x"))],
                OAuthError::RequestUriNotSupported,
            ),
            (
                vec![("response_mode", Some("fragment"))],
                OAuthError::InvalidRequest,
            ),
            (vec![("nonce", Some(""))], OAuthError::InvalidRequest),
        ];
        for (change, want) in cases {
            let (got, state) = redirected(parse_with("spa", &change));
            assert_eq!(got, want, "{change:?}");
            assert_eq!(state.as_deref(), Some("xyz"), "{change:?}");
        }
    }

    #[test]
    fn pkce_is_required_for_public_clients_and_optional_for_confidential_ones() {
        let none = [("code_challenge", None), ("code_challenge_method", None)];
        assert_eq!(
            redirected(parse_with("spa", &none)).0,
            OAuthError::InvalidRequest
        );
        let r = parse_with("web", &none).unwrap();
        assert_eq!(r.code_challenge, None);
        assert!(parse_with("web", &[]).unwrap().code_challenge.is_some());
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        let mut p = params(&[
            ("client_id", "spa"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        p.push(("scope".to_owned(), "openid email".to_owned()));
        assert_eq!(
            redirected(AuthorizationRequest::parse(&p, &registry())).0,
            OAuthError::InvalidRequest
        );
    }
}
