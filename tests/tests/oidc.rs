//! Signing an app in through us with OpenID Connect, end to end against the real server binary,
//! driven by the `openidconnect` crate (a strict client library nobody here wrote): discovery, the
//! authorization code flow with PKCE, the browser's hand-off to the page and its sign-in by an
//! email code read from the delivered mail, ID token validation by the library, userinfo, and a
//! refresh with `offline_access`. Runs on the embedded defaults and on PostgreSQL + Redis + SMTP.

use e2e::{Reply, Server, unique_email};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde_json::json;
use std::time::Duration;

/// The public URL the server believes in (its default); requests go to its real address.
const PUBLIC: &str = "http://localhost:8080";
const REDIRECT: &str = "http://localhost:9/cb";
const SECRET: &str = "an-e2e-client-secret-that-is-long-enough";

/// The settings of two clients: a confidential one (EdDSA ID tokens, its secret in a file of
/// `dir`) and a public one with RS256 ID tokens (an RSA key made by the openssl CLI, as an
/// operator would).
fn settings(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let rsa = dir.path().join("rsa.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&rsa)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI runs");
    assert!(made.success());
    vec![
        (
            "AUTH_OIDC__CLIENTS".to_owned(),
            format!(
                "[{{id=\"e2e-app\",name=\"E2E App\",redirect_uris=[\"{REDIRECT}\"],\
                 post_logout_redirect_uris=[\"http://localhost:9/bye\"],secret_file=\"{}\",\
                 first_party=true,scopes=[\"openid\",\"profile\",\"email\",\"offline_access\"]}},\
                 {{id=\"e2e-spa\",name=\"E2E SPA\",redirect_uris=[\"{REDIRECT}\"],public=true,\
                 first_party=true,id_token_signed_response_alg=\"RS256\",\
                 scopes=[\"openid\",\"email\",\"profile\",\"offline_access\"]}}]",
                secret.display()
            ),
        ),
        (
            "AUTH_OIDC__RSA_KEY_FILE".to_owned(),
            rsa.display().to_string(),
        ),
    ]
}

/// The library's HTTP client: ureq (the tests' own), redirects not followed, the public URL
/// mapped to the server's real address.
fn http_client(
    base: String,
) -> impl Fn(openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, std::io::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    move |req| {
        let (mut parts, body) = req.into_parts();
        let url = parts.uri.to_string().replacen(PUBLIC, &base, 1);
        parts.uri = url.parse().map_err(std::io::Error::other)?;
        let res = agent
            .run(ureq::http::Request::from_parts(parts, body))
            .map_err(std::io::Error::other)?;
        let (parts, mut body) = res.into_parts();
        let bytes = body.read_to_vec().map_err(std::io::Error::other)?;
        Ok(ureq::http::Response::from_parts(parts, bytes))
    }
}

/// A GET as a browser makes it, cookies by hand, redirects not followed.
fn browse(s: &Server, path_or_url: &str, cookie: Option<&str>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let url = path_or_url.replacen(PUBLIC, &s.base, 1);
    let url = if url.starts_with('/') {
        format!("{}{url}", s.base)
    } else {
        url
    };
    let mut req = ureq::http::Request::builder().method("GET").uri(&url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Reply::from(agent.run(req.body(()).unwrap()).unwrap())
}

/// Signs in by email code the way the page does (cookies, our Origin) and returns the cookie
/// header of the signed-in browser.
fn browser_sign_in(s: &Server, email: &str) -> String {
    let origin = s.origin();
    let started = s.request(
        "POST",
        "/v1/login/email",
        &[("origin", origin)],
        Some(&json!({ "email": email })),
    );
    assert_eq!(started.status, 202, "{}", started.text);
    let attempt = started.cookies()["__Host-auth_attempt"].clone();
    let code = s.mail_to(email).code().expect("a sign-in code");
    let cookie = format!("__Host-auth_attempt={attempt}");
    let verified = s.request(
        "POST",
        "/v1/codes/verify",
        &[("origin", origin), ("cookie", &cookie)],
        Some(&json!({ "code": code })),
    );
    assert_eq!(verified.status, 200, "{}", verified.text);
    let jar = verified.cookies();
    format!("__Host-auth_access={}", jar["__Host-auth_access"])
}

fn location(r: &Reply) -> String {
    assert_eq!(r.status, 303, "a redirect: {} {}", r.status, r.text);
    r.header("location").expect("a Location").to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                let bytes = s.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' && i + 2 < bytes.len() {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn code_flow(s: &Server) {
    flow(s, "e2e-app", Some(SECRET), true);
}

/// A public client whose ID tokens are RS256: the library checks them against the RSA key in
/// our JWKS.
fn rs256_flow(s: &Server) {
    flow(s, "e2e-spa", None, false);
}

fn flow(s: &Server, client_id: &str, secret: Option<&str>, logout: bool) {
    let http = http_client(s.base.clone());
    let metadata =
        CoreProviderMetadata::discover(&IssuerUrl::new(PUBLIC.to_owned()).unwrap(), &http)
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("offline_access".to_owned()))
        .set_pkce_challenge(challenge)
        .url();

    let email = unique_email("oidc");
    s.sign_up(&email, "Ada Lovelace");

    // The app sends the browser to us; its SameSite=Strict cookies stay behind on that
    // cross-site navigation, so the request is held and the browser goes to the page.
    let page = location(&browse(s, url.as_str(), None));
    let pending = query_param(&page, "oidc").expect("the page gets the held request's id");
    assert!(page.starts_with("/?oidc="), "{page}");

    // The page signs in by email code, then returns to the held request.
    let cookie = browser_sign_in(s, &email);
    let back = location(&browse(
        s,
        &format!("/oauth2/authorize?pending={pending}"),
        Some(&cookie),
    ));
    assert!(back.starts_with(REDIRECT), "back to the app: {back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(query_param(&back, "iss").as_deref(), Some(PUBLIC));
    let code = query_param(&back, "code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request(&http)
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the library accepts the ID token: signature, iss, aud, exp, nonce");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(email.as_str()));
    assert_eq!(claims.email_verified(), Some(true));
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(amr, ["otp"], "signed in by email code");

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("a userinfo endpoint")
        .request(&http)
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some(email.as_str()));

    // The app's token is not a key to our own API.
    let me = s.authed("GET", "/v1/me", tokens.access_token().secret(), None);
    assert_eq!(me.status, 401, "{}", me.text);

    let refresh: RefreshToken = tokens.refresh_token().expect("offline_access").clone();
    let renewed = client
        .exchange_refresh_token(&refresh)
        .expect("a token endpoint")
        .request(&http)
        .expect("the refresh");
    assert_ne!(
        renewed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "rotated"
    );
    let again = renewed
        .id_token()
        .expect("a new ID token")
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the renewed ID token verifies");
    assert_eq!(again.subject(), claims.subject());

    if !logout {
        return;
    }
    // Our own session list shows which app a session belongs to, by id and name.
    let sessions = s.request("GET", "/v1/me/sessions", &[("cookie", &cookie)], None);
    assert!(
        sessions.json["sessions"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|x| x["app"] == client_id
                && x["app_name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("E2E "))),
        "{}",
        sessions.text
    );
    // A logout to an unregistered address is refused without a redirect; a registered one works.
    let refused = browse(
        s,
        "/oauth2/logout?client_id=e2e-app&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        Some(&cookie),
    );
    assert_eq!(refused.status, 400);
    assert!(refused.header("location").is_none());
    let confirm = browse(
        s,
        "/oauth2/logout?client_id=e2e-app&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fbye&state=s1",
        Some(&cookie),
    );
    assert_eq!(confirm.status, 200, "a confirmation page");
    let out = s.request_raw_form(
        "/oauth2/logout",
        "client_id=e2e-app&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fbye&state=s1",
        &cookie,
    );
    assert_eq!(location(&out), "http://localhost:9/bye?state=s1");
    let me = s.request("GET", "/v1/me", &[("cookie", &cookie)], None);
    assert_eq!(me.status, 401, "our session ended too: {}", me.text);
}

fn untrusted_redirect(s: &Server) {
    let r = browse(
        s,
        "/oauth2/authorize?client_id=e2e-app&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid",
        None,
    );
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none(), "no redirect");
    assert!(r.text.contains("redirect_uri"), "{}", r.text);
}

mod embedded {
    use super::*;

    #[test]
    fn the_code_flow_signs_the_app_in() {
        let dir = tempfile::tempdir().unwrap();
        let env = settings(&dir);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let s = Server::start_with(&env);
        code_flow(&s);
        rs256_flow(&s);
        untrusted_redirect(&s);
    }
}

mod production {
    use super::*;

    #[test]
    fn the_code_flow_signs_the_app_in() {
        let dir = tempfile::tempdir().unwrap();
        let env = settings(&dir);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let s = Server::start_production(&env);
        code_flow(&s);
        rs256_flow(&s);
        untrusted_redirect(&s);
    }
}
