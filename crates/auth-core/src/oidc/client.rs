//! The registry of relying parties: who may ask us to sign their users in, where we may send the
//! answer, which scopes they may ask for, and how they prove who they are.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

/// A client configuration that cannot be used, named for the one line that stops the start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The id is empty, too long or has characters outside `A-Za-z0-9._-`.
    #[error("client id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    Id,
    /// Two clients share an id.
    #[error("client id {0} is declared twice")]
    Duplicate(String),
    /// The name is empty or longer than 100 characters.
    #[error("client name must be 1 to 100 characters")]
    Name,
    /// A redirect URI is not an absolute `https://` URL (or `http://` on a loopback host) without
    /// a fragment.
    #[error("{0:?} is not an https URL without a fragment (http only on localhost)")]
    RedirectUri(String),
    /// No redirect URI is registered.
    #[error("a client needs at least one redirect URI")]
    NoRedirectUri,
    /// A scope is not one we know.
    #[error("unknown scope {0:?} (openid, profile, email, offline_access)")]
    Scope(String),
    /// The allowed scopes leave out `openid`.
    #[error("the scopes of a client must include openid")]
    NoOpenid,
    /// A confidential client's secret is shorter than 32 bytes.
    #[error("a client secret must have at least 32 bytes")]
    ShortSecret,
    /// The ID token algorithm is neither `EdDSA` nor `RS256`.
    #[error("id_token_signed_response_alg must be EdDSA or RS256, not {0:?}")]
    Alg(String),
}

/// A client's id (`client_id`, `aud` of its ID tokens).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Parses an id: 1 to 64 characters of `A-Za-z0-9._-`.
    ///
    /// # Errors
    /// [`ClientError::Id`] for anything else.
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ClientError::Id)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientError;
    fn try_from(s: String) -> Result<Self, ClientError> {
        Self::parse(&s)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered redirect (or post-logout redirect) URI. Requests must name one exactly: no
/// prefix, case or normalisation tricks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Parses a URI for registration: `https://host...`, or `http://` on `localhost`,
    /// `127.0.0.1` or `[::1]` (development and native apps), at most 2000 characters, no
    /// fragment, no whitespace or control characters, no user info.
    ///
    /// # Errors
    /// [`ClientError::RedirectUri`] for anything else.
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::RedirectUri(s.to_owned());
        if s.len() > 2000
            || s.contains('#')
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        let rest = if let Some(r) = s.strip_prefix("https://") {
            r
        } else if let Some(r) = s.strip_prefix("http://") {
            let host = r.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() {
                    h
                } else {
                    host
                }
            });
            if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
                return Err(bad());
            }
            r
        } else {
            return Err(bad());
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A scope we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `openid`: required in every request.
    Openid,
    /// `profile`: the display name (`name`).
    Profile,
    /// `email`: `email` and `email_verified`.
    Email,
    /// `offline_access`: a refresh token.
    OfflineAccess,
}

impl Scope {
    /// Every scope, in the order documents list them.
    pub const ALL: [Scope; 4] = [
        Scope::Openid,
        Scope::Profile,
        Scope::Email,
        Scope::OfflineAccess,
    ];

    /// The scope's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Openid => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::OfflineAccess => "offline_access",
        }
    }

    /// Inverse of [`Scope::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Whether `s` is in the set.
    pub const fn contains(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }

    /// The set with `s` added.
    #[must_use]
    pub const fn with(self, s: Scope) -> Self {
        Self(self.0 | s.bit())
    }

    /// Whether every scope of `self` is in `other`.
    pub const fn is_subset(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The union.
    #[must_use]
    pub const fn union(self, other: Scopes) -> Self {
        Self(self.0 | other.0)
    }

    /// The scopes, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses a space-separated scope list (`scope` parameter). `Err` names the first unknown
    /// scope; empty items from repeated spaces are skipped.
    ///
    /// # Errors
    /// The first unknown scope.
    pub fn parse(s: &str) -> Result<Self, String> {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .try_fold(Self::empty(), |acc, x| {
                Scope::parse(x)
                    .map(|sc| acc.with(sc))
                    .ok_or_else(|| x.to_owned())
            })
    }

    /// The set as a space-separated list, as `scope` carries it.
    pub fn to_text(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({:?})", self.to_text())
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scopes::parse(&s).map_err(|x| serde::de::Error::custom(format!("unknown scope {x}")))
    }
}

/// The SHA-256 of a confidential client's secret. Secrets are at least 32 random bytes chosen by
/// the operator, so a fast hash suffices; it keeps the secret itself out of memory dumps of the
/// registry, and comparing hashes in constant time says nothing about the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretHash([u8; 32]);

impl ClientSecretHash {
    /// The hash of `secret` (at least 32 bytes, surrounding whitespace of a file trimmed by the
    /// caller).
    ///
    /// # Errors
    /// [`ClientError::ShortSecret`].
    pub fn of(secret: &str) -> Result<Self, ClientError> {
        if secret.len() < 32 {
            return Err(ClientError::ShortSecret);
        }
        Ok(Self(Sha256::digest(secret.as_bytes()).into()))
    }

    /// Whether `presented` is the secret, compared in constant time (on hashes of equal length,
    /// so neither the length nor the content of the secret leaks through timing).
    pub fn matches(&self, presented: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&h).into()
    }
}

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash([redacted])")
    }
}

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKind {
    /// A browser or native app that cannot keep a secret: no client authentication, PKCE
    /// required.
    Public,
    /// A server-side app with a secret (`client_secret_basic` or `client_secret_post`).
    Confidential(ClientSecretHash),
}

/// The algorithm of a client's ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenAlg {
    /// Ed25519, our default.
    #[default]
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for clients that know nothing else.
    RS256,
}

impl IdTokenAlg {
    /// The JOSE name.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdTokenAlg::EdDSA => "EdDSA",
            IdTokenAlg::RS256 => "RS256",
        }
    }

    /// Inverse of [`IdTokenAlg::as_str`].
    ///
    /// # Errors
    /// [`ClientError::Alg`].
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        match s {
            "EdDSA" => Ok(IdTokenAlg::EdDSA),
            "RS256" => Ok(IdTokenAlg::RS256),
            _ => Err(ClientError::Alg(s.to_owned())),
        }
    }
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    /// Its id.
    pub id: ClientId,
    /// The name people see on the consent screen.
    pub name: String,
    /// Where authorization answers may go, matched exactly.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may send the browser, matched exactly.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Public or confidential.
    pub kind: ClientKind,
    /// A first-party app is ours: no consent screen.
    pub first_party: bool,
    /// The scopes it may ask for (always with `openid`).
    pub scopes: Scopes,
    /// How its ID tokens are signed.
    pub id_token_alg: IdTokenAlg,
}

impl OidcClient {
    /// Checks what cannot be expressed in the field types: a name of 1 to 100 characters, at
    /// least one redirect URI, `openid` among the scopes.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn validate(&self) -> Result<(), ClientError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ClientError::Name);
        }
        if self.redirect_uris.is_empty() {
            return Err(ClientError::NoRedirectUri);
        }
        if !self.scopes.contains(Scope::Openid) {
            return Err(ClientError::NoOpenid);
        }
        Ok(())
    }

    /// Whether `uri` is one of its redirect URIs, exactly.
    pub fn redirect_uri(&self, uri: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.0 == uri)
    }

    /// Whether `uri` is one of its post-logout redirect URIs, exactly.
    pub fn post_logout_redirect_uri(&self, uri: &str) -> Option<&RedirectUri> {
        self.post_logout_redirect_uris.iter().find(|r| r.0 == uri)
    }

    /// Whether it is a public client (no secret, PKCE required).
    pub fn is_public(&self) -> bool {
        matches!(self.kind, ClientKind::Public)
    }

    /// Checks the secret it presented: `None` only for a public client.
    pub fn authenticates(&self, secret: Option<&str>) -> bool {
        match (&self.kind, secret) {
            (ClientKind::Public, None) => true,
            (ClientKind::Confidential(h), Some(s)) => h.matches(s),
            _ => false,
        }
    }
}

/// The registered clients, by id.
#[derive(Debug, Clone, Default)]
pub struct Registry(BTreeMap<ClientId, OidcClient>);

impl Registry {
    /// A registry of `clients`, each validated.
    ///
    /// # Errors
    /// The first invalid client, with its id (or position) for the message.
    pub fn new(clients: Vec<OidcClient>) -> Result<Self, (String, ClientError)> {
        let mut map = BTreeMap::new();
        for c in clients {
            c.validate().map_err(|e| (c.id.to_string(), e))?;
            let id = c.id.clone();
            if map.insert(id.clone(), c).is_some() {
                return Err((id.to_string(), ClientError::Duplicate(id.to_string())));
            }
        }
        Ok(Self(map))
    }

    /// The client with id `id`.
    pub fn get(&self, id: &str) -> Option<&OidcClient> {
        ClientId::parse(id).ok().and_then(|id| self.0.get(&id))
    }

    /// Every client, by id.
    pub fn iter(&self) -> impl Iterator<Item = &OidcClient> {
        self.0.values()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any client has its ID tokens signed with `alg`.
    pub fn uses(&self, alg: IdTokenAlg) -> bool {
        self.0.values().any(|c| c.id_token_alg == alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_short_and_plain() {
        assert!(ClientId::parse("grafana").is_ok());
        assert!(ClientId::parse("my.app_2-x").is_ok());
        for bad in ["", "has space", "ümlaut", &"a".repeat(65), "a/b"] {
            assert_eq!(ClientId::parse(bad), Err(ClientError::Id), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com:8443/oauth/callback?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9000/cb",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://user@app.example.com/cb",
            "https:///cb",
            "javascript:alert(1)",
            "https://app.example.com/c b",
            "http://localhost.evil.com/cb",
            "/relative",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_parse_known_names_only_and_print_in_order() {
        let s = Scopes::parse("email  openid").unwrap();
        assert!(s.contains(Scope::Openid) && s.contains(Scope::Email));
        assert!(!s.contains(Scope::Profile));
        assert_eq!(s.to_text(), "openid email");
        assert_eq!(Scopes::parse("openid admin"), Err("admin".to_owned()));
        assert!(s.is_subset(Scopes::parse("openid profile email").unwrap()));
        assert!(!Scopes::parse("openid offline_access").unwrap().is_subset(s));
    }

    #[test]
    fn secrets_match_only_themselves_and_never_print() {
        let h = ClientSecretHash::of("0123456789abcdef0123456789abcdef").unwrap();
        assert!(h.matches("0123456789abcdef0123456789abcdef"));
        assert!(!h.matches("0123456789abcdef0123456789abcdeF"));
        assert!(!h.matches(""));
        assert_eq!(ClientSecretHash::of("short"), Err(ClientError::ShortSecret));
        assert_eq!(format!("{h:?}"), "ClientSecretHash([redacted])");
    }

    fn client(id: &str) -> OidcClient {
        OidcClient {
            id: ClientId::parse(id).unwrap(),
            name: "App".to_owned(),
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            kind: ClientKind::Public,
            first_party: false,
            scopes: Scopes::parse("openid").unwrap(),
            id_token_alg: IdTokenAlg::EdDSA,
        }
    }

    #[test]
    fn the_registry_refuses_duplicates_and_clients_without_openid_or_redirects() {
        assert!(Registry::new(vec![client("a"), client("b")]).is_ok());
        assert_eq!(
            Registry::new(vec![client("a"), client("a")]).unwrap_err().1,
            ClientError::Duplicate("a".to_owned())
        );
        let mut c = client("x");
        c.scopes = Scopes::parse("email").unwrap();
        assert_eq!(Registry::new(vec![c]).unwrap_err().1, ClientError::NoOpenid);
        let mut c = client("y");
        c.redirect_uris.clear();
        assert_eq!(
            Registry::new(vec![c]).unwrap_err().1,
            ClientError::NoRedirectUri
        );
    }

    #[test]
    fn public_clients_authenticate_without_a_secret_and_confidential_ones_with_theirs() {
        let public = client("p");
        assert!(public.authenticates(None));
        assert!(!public.authenticates(Some("anything")));
        let mut conf = client("c");
        conf.kind = ClientKind::Confidential(
            ClientSecretHash::of("0123456789abcdef0123456789abcdef").unwrap(),
        );
        assert!(conf.authenticates(Some("0123456789abcdef0123456789abcdef")));
        assert!(!conf.authenticates(Some("wrong")));
        assert!(!conf.authenticates(None));
    }
}
