//! The OpenID Connect provider's use cases on the in-memory adapters with a manual clock: the
//! authorization code flow with PKCE, and every negative case of the token endpoint.

mod common;

use auth_core::oidc::{
    AuthorizationRequest, AuthorizeError, ClientId, ClientKind, ClientSecretHash, IdTokenAlg,
    OAuthError, OidcClient, RedirectUri, Registry, Scopes,
};
use auth_core::ports::OsRng;
use auth_core::service::{
    AuthorizeStep, OidcProvider, Principal, TokenGrant, TokenRequestError, TokenResponse,
};
use auth_jwt::{IdTokens, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{World, client, principal, relaxed, signed_up, world};

mod oidc_apps;
mod oidc_replay;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "a-confidential-client-secret-of-40-bytes!";
const CB: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn registered(id: &str, kind: ClientKind, first_party: bool) -> OidcClient {
    OidcClient {
        id: ClientId::parse(id).unwrap(),
        name: format!("App {id}"),
        redirect_uris: vec![RedirectUri::parse(CB).unwrap()],
        post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example/bye").unwrap()],
        kind,
        first_party,
        scopes: Scopes::parse("openid profile email offline_access").unwrap(),
        id_token_alg: IdTokenAlg::EdDSA,
    }
}

struct Op {
    w: World,
    op: OidcProvider,
}

fn provider() -> Op {
    let w = world(relaxed());
    let registry = Registry::new(vec![
        registered("spa", ClientKind::Public, true),
        registered(
            "web",
            ClientKind::Confidential(ClientSecretHash::of(SECRET).unwrap()),
            true,
        ),
        registered("third", ClientKind::Public, false),
    ])
    .unwrap();
    let store = Arc::new(w.store.clone());
    let signer = IdTokens::new("https://auth.test", &SigningKey::generate(&OsRng), None)
        .unwrap()
        .with_clock(w.clock.clone());
    let op = OidcProvider::new(
        w.service.clone(),
        registry,
        store.clone(),
        store,
        Arc::new(signer),
        "https://auth.test",
    );
    Op { w, op }
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn request(op: &Op, client_id: &str, extra: &[(&str, &str)]) -> AuthorizationRequest {
    let mut p: Vec<(String, String)> = [
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid email profile offline_access"),
        ("state", "st-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", &challenge()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    AuthorizationRequest::parse(&p, op.op.registry()).unwrap()
}

async fn user(op: &Op, address: &str) -> Principal {
    let s = signed_up(&op.w, address).await;
    principal(&op.w, &s.access_token).await
}

/// The code of a completed authorization.
async fn code_for(op: &Op, who: &Principal, req: &AuthorizationRequest) -> String {
    match op.op.authorize(req, Some(who), None, false).await.unwrap() {
        AuthorizeStep::Redirect(url) => {
            assert!(url.starts_with("https://app.example/cb?code="), "{url}");
            assert!(url.contains("&state=st-1"), "state is echoed: {url}");
            url.split(['?', '&'])
                .find_map(|p| p.strip_prefix("code="))
                .unwrap()
                .to_owned()
        }
        other => panic!("expected a code, got {other:?}"),
    }
}

fn exchange(code: &str, verifier: Option<&str>) -> TokenGrant {
    TokenGrant::Code {
        code: code.to_owned(),
        redirect_uri: CB.to_owned(),
        verifier: verifier.map(str::to_owned),
    }
}

fn claims(t: &TokenResponse) -> Value {
    let body = t.id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

fn grant_error(r: Result<TokenResponse, TokenRequestError>) -> OAuthError {
    r.expect_err("the token request must fail").error
}

#[tokio::test]
async fn the_code_flow_with_pkce_issues_tokens_carrying_the_nonce() {
    let op = provider();
    let who = user(&op, "ada@example.test").await;
    let req = request(&op, "spa", &[]);
    let code = code_for(&op, &who, &req).await;
    let t = op
        .op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    let c = claims(&t);
    assert_eq!(c["iss"], "https://auth.test");
    assert_eq!(c["aud"], "spa");
    assert_eq!(c["sub"], who.user_id.to_string());
    assert_eq!(c["nonce"], "nonce-1", "the nonce is carried through");
    assert_eq!(c["auth_time"], who.auth_time.as_secs());
    assert_eq!(c["amr"], serde_json::json!(["otp"]), "an email code is otp");
    assert_eq!(c["email"], "ada@example.test");
    assert!(
        t.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );
    let info = op.op.userinfo(&t.access_token).await.unwrap().unwrap();
    assert_eq!(info.subject, who.user_id);
    assert_eq!(info.email.as_deref(), Some("ada@example.test"));
    assert_eq!(info.name.as_deref(), Some("Tester"));
    assert!(
        op.w.service.authenticate(&t.access_token).await.is_err(),
        "a client's access token never authenticates our own API"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_pkce_verifier_fails() {
    let op = provider();
    let who = user(&op, "pkce@example.test").await;
    let req = request(&op, "spa", &[]);
    let code = code_for(&op, &who, &req).await;
    let other = "x".repeat(43);
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, exchange(&code, Some(&other)), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
    let code = code_for(&op, &who, &req).await;
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, exchange(&code, None), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let op = provider();
    let who = user(&op, "replay@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    let first = op
        .op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    assert!(op.op.userinfo(&first.access_token).await.unwrap().is_some());
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
    assert!(
        op.op.userinfo(&first.access_token).await.unwrap().is_none(),
        "the tokens of the first exchange are revoked"
    );
    let refresh = first.refresh_token.unwrap();
    assert_eq!(
        grant_error(
            op.op
                .token(
                    "spa",
                    None,
                    TokenGrant::Refresh {
                        token: refresh.expose().to_owned()
                    },
                    &client()
                )
                .await
        ),
        OAuthError::InvalidGrant,
        "and so is its refresh token"
    );
}

#[tokio::test]
async fn a_code_for_another_client_fails() {
    let op = provider();
    let who = user(&op, "other@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    assert_eq!(
        grant_error(
            op.op
                .token(
                    "web",
                    Some(SECRET),
                    exchange(&code, Some(VERIFIER)),
                    &client()
                )
                .await
        ),
        OAuthError::InvalidGrant
    );
}

#[tokio::test]
async fn an_expired_code_fails() {
    let op = provider();
    let who = user(&op, "late@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    op.w.clock.advance(Duration::from_secs(60));
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
}

#[tokio::test]
async fn a_wrong_client_secret_fails_and_the_right_one_works() {
    let op = provider();
    let who = user(&op, "secret@example.test").await;
    let req = request(&op, "web", &[]);
    let code = code_for(&op, &who, &req).await;
    for wrong in [Some("not-the-secret"), None] {
        assert_eq!(
            grant_error(
                op.op
                    .token("web", wrong, exchange(&code, Some(VERIFIER)), &client())
                    .await
            ),
            OAuthError::InvalidClient
        );
    }
    op.op
        .token(
            "web",
            Some(SECRET),
            exchange(&code, Some(VERIFIER)),
            &client(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token_and_refresh_fails() {
    let op = provider();
    let who = user(&op, "online@example.test").await;
    let req = request(&op, "spa", &[("scope", "openid email")]);
    let code = code_for(&op, &who, &req).await;
    let t = op
        .op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    assert!(t.refresh_token.is_none());
    // Our own session's refresh token is no client's.
    let ours = signed_up(&op.w, "ours@example.test").await;
    assert_eq!(
        grant_error(
            op.op
                .token(
                    "spa",
                    None,
                    TokenGrant::Refresh {
                        token: ours.refresh_token.expose().to_owned()
                    },
                    &client()
                )
                .await
        ),
        OAuthError::InvalidGrant
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_the_session() {
    let op = provider();
    let who = user(&op, "rotate@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    let t = op
        .op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    let r1 = t.refresh_token.unwrap();
    let refresh = |tok: &str| TokenGrant::Refresh {
        token: tok.to_owned(),
    };
    let t2 = op
        .op
        .token("spa", None, refresh(r1.expose()), &client())
        .await
        .unwrap();
    let r2 = t2.refresh_token.clone().unwrap();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(
        claims(&t2)["auth_time"],
        who.auth_time.as_secs(),
        "auth_time stays the sign-in's"
    );
    assert_eq!(
        grant_error(
            op.op
                .token("web", Some(SECRET), refresh(r2.expose()), &client())
                .await
        ),
        OAuthError::InvalidGrant,
        "another client cannot use it, and its use ends the session"
    );
    op.w.clock.advance(Duration::from_secs(60));
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, refresh(r1.expose()), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let op = provider();
    let req = request(&op, "spa", &[("prompt", "none")]);
    let err = op.op.authorize(&req, None, None, false).await.unwrap_err();
    let url = OidcProvider::error_redirect(&err, "https://auth.test").unwrap();
    assert!(
        url.starts_with("https://app.example/cb?error=login_required&"),
        "{url}"
    );
    assert!(url.contains("state=st-1"), "{url}");
    assert_eq!(
        op.op
            .authorize(&request(&op, "spa", &[]), None, None, false)
            .await
            .unwrap(),
        AuthorizeStep::SignIn
    );
}

#[tokio::test]
async fn max_age_and_prompt_login_force_a_new_sign_in() {
    let op = provider();
    let who = user(&op, "stale@example.test").await;
    op.w.clock.advance(Duration::from_secs(120));
    let req = request(&op, "spa", &[("max_age", "60")]);
    assert_eq!(
        op.op
            .authorize(&req, Some(&who), None, false)
            .await
            .unwrap(),
        AuthorizeStep::SignIn
    );
    let req = request(&op, "spa", &[("max_age", "600")]);
    assert!(matches!(
        op.op
            .authorize(&req, Some(&who), None, false)
            .await
            .unwrap(),
        AuthorizeStep::Redirect(_)
    ));
    let asked = auth_core::ports::Clock::now(&*op.w.clock);
    let req = request(&op, "spa", &[("prompt", "login")]);
    assert_eq!(
        op.op
            .authorize(&req, Some(&who), Some(asked), false)
            .await
            .unwrap(),
        AuthorizeStep::SignIn
    );
    let fresh = user(&op, "fresh@example.test").await;
    assert!(matches!(
        op.op
            .authorize(&req, Some(&fresh), Some(asked), false)
            .await
            .unwrap(),
        AuthorizeStep::Redirect(_)
    ));
}

#[tokio::test]
async fn consent_is_asked_once_for_a_third_party_client_and_remembered() {
    let op = provider();
    let who = user(&op, "consent@example.test").await;
    let req = request(&op, "third", &[]);
    assert_eq!(
        op.op
            .authorize(&req, Some(&who), None, false)
            .await
            .unwrap(),
        AuthorizeStep::Consent
    );
    let none = request(&op, "third", &[("prompt", "none")]);
    let err = op
        .op
        .authorize(&none, Some(&who), None, false)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AuthorizeError::Redirect {
            error: OAuthError::ConsentRequired,
            ..
        }
    ));
    assert!(matches!(
        op.op.authorize(&req, Some(&who), None, true).await.unwrap(),
        AuthorizeStep::Redirect(_)
    ));
    assert!(
        matches!(
            op.op
                .authorize(&req, Some(&who), None, false)
                .await
                .unwrap(),
            AuthorizeStep::Redirect(_)
        ),
        "the decision is remembered"
    );
    let again = request(&op, "third", &[("prompt", "consent")]);
    assert_eq!(
        op.op
            .authorize(&again, Some(&who), None, false)
            .await
            .unwrap(),
        AuthorizeStep::Consent
    );
}

#[tokio::test]
async fn revocation_ends_the_client_session() {
    let op = provider();
    let who = user(&op, "revoke@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    let t = op
        .op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    op.op
        .revoke("web", Some(SECRET), &t.access_token)
        .await
        .unwrap();
    assert!(
        op.op.userinfo(&t.access_token).await.unwrap().is_some(),
        "another client's revocation changes nothing"
    );
    op.op
        .revoke("spa", None, t.refresh_token.as_ref().unwrap().expose())
        .await
        .unwrap();
    assert!(
        op.op.userinfo(&t.access_token).await.unwrap().is_none(),
        "revoking the refresh token ends the session"
    );
    assert_eq!(
        op.op
            .revoke("spa", Some("a secret"), &t.access_token)
            .await
            .unwrap_err()
            .error,
        OAuthError::InvalidClient
    );
}

#[tokio::test]
async fn the_sessions_list_names_the_app_a_session_belongs_to() {
    let op = provider();
    let who = user(&op, "apps@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    op.op
        .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap();
    let sessions = op.w.service.sessions(&who).await.unwrap();
    let apps: Vec<Option<&str>> = sessions
        .iter()
        .map(|s| s.client.as_ref().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(apps.len(), 2, "our session and the app's");
    assert!(
        apps.contains(&Some("spa")) && apps.contains(&None),
        "{apps:?}"
    );
}

#[tokio::test]
async fn a_code_issued_before_the_account_was_disabled_cannot_be_exchanged() {
    let op = provider();
    let who = user(&op, "disabled@example.test").await;
    let code = code_for(&op, &who, &request(&op, "spa", &[])).await;
    assert!(
        op.w.service
            .disable_account(&who.user_id, &auth_core::service::Operator::cli())
            .await
            .unwrap()
    );
    assert_eq!(
        grant_error(
            op.op
                .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
                .await
        ),
        OAuthError::InvalidGrant,
        "the code gets a disabled account nothing"
    );
    assert!(
        auth_core::ports::SessionRepository::list_active(
            &op.w.store,
            &who.user_id,
            auth_core::ports::Clock::now(&*op.w.clock)
        )
        .await
        .unwrap()
        .is_empty(),
        "no client session opened"
    );
}
