//! The OpenID Connect endpoints in process: discovery, the authorization endpoint's refusals and
//! hand-offs, the consent screen, the token endpoint's strict form bodies and RFC 6749 errors,
//! userinfo and logout. The flow itself, with a real client library, is in the e2e suite.

use crate::app::{ORIGIN, TestApp, call, relaxed, unique_email, world};
use actix_web::{App, test, web};
use auth_core::oidc::{
    ClientId, ClientKind, ClientSecretHash, IdTokenAlg, OidcClient, RedirectUri, Registry, Scopes,
};
use auth_core::ports::OsRng;
use auth_core::service::OidcProvider;
use auth_http::HttpConfig;
use auth_jwt::{IdTokens, SigningKey};
use std::sync::Arc;

const CB: &str = "https://app.example/cb";
const SECRET: &str = "an-in-process-client-secret-of-enough-bytes";
/// RFC 7636, appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(id: &str, kind: ClientKind, first_party: bool) -> OidcClient {
    OidcClient {
        id: ClientId::parse(id).unwrap(),
        name: format!("App <{id}>"),
        redirect_uris: vec![RedirectUri::parse(CB).unwrap()],
        post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example/bye").unwrap()],
        kind,
        first_party,
        scopes: Scopes::parse("openid profile email offline_access").unwrap(),
        id_token_alg: IdTokenAlg::EdDSA,
    }
}

async fn oidc_app() -> TestApp<
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let mut w = world(
        relaxed(),
        HttpConfig {
            public_origin: ORIGIN.to_owned(),
            ..HttpConfig::default()
        },
    );
    let registry = Registry::new(vec![
        client("spa", ClientKind::Public, true),
        client(
            "web",
            ClientKind::Confidential(ClientSecretHash::of(SECRET).unwrap()),
            true,
        ),
        client("third", ClientKind::Public, false),
    ])
    .unwrap();
    let store = Arc::new(w.store.clone());
    w.state.oidc = Some(Arc::new(OidcProvider::new(
        w.state.service.clone(),
        registry,
        store.clone(),
        store,
        Arc::new(
            IdTokens::new(ORIGIN, &SigningKey::generate(&OsRng), None)
                .unwrap()
                .with_clock(w.clock.clone()),
        ),
        ORIGIN,
    )));
    let state = w.state.clone();
    let app = test::init_service(
        App::new()
            .wrap(auth_http::security_headers(&state.config))
            .configure(auth_http::configure(state.clone()))
            .default_service(web::to(auth_http::not_found)),
    )
    .await;
    TestApp {
        service: app,
        state,
        mailer: w.mailer,
        clock: w.clock,
        store: w.store,
    }
}

fn authorize(client_id: &str, extra: &str) -> String {
    format!(
        "/oauth2/authorize?client_id={client_id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &response_type=code&scope=openid%20email&state=st&code_challenge={CHALLENGE}\
         &code_challenge_method=S256{extra}"
    )
}

#[actix_web::test]
async fn discovery_names_our_endpoints_and_only_what_is_supported() {
    let app = oidc_app().await;
    let r = app
        .send(call("GET", "/.well-known/openid-configuration"))
        .await;
    assert_eq!(r.status, 200);
    let d = &r.json;
    assert_eq!(d["issuer"], ORIGIN);
    assert_eq!(d["jwks_uri"], format!("{ORIGIN}/.well-known/jwks.json"));
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    assert_eq!(d["end_session_endpoint"], format!("{ORIGIN}/oauth2/logout"));
}

#[actix_web::test]
async fn without_clients_the_provider_is_not_there() {
    let app = crate::app::spawn_app(relaxed()).await;
    let r = app
        .send(call("GET", "/.well-known/openid-configuration"))
        .await;
    r.assert_problem(404, "not_found");
}

#[actix_web::test]
async fn an_unknown_client_or_unregistered_redirect_uri_gets_our_page_and_no_redirect() {
    let app = oidc_app().await;
    for path in [
        authorize("nobody", ""),
        authorize("spa", "").replace("app.example%2Fcb", "evil.example%2Fcb"),
        authorize("spa", "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
    ] {
        let r = app.send(call("GET", &path)).await;
        assert_eq!(r.status, 400, "{path}");
        assert!(r.header("location").is_none(), "never redirected: {path}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
}

#[actix_web::test]
async fn other_errors_and_prompt_none_without_a_session_go_back_to_the_app() {
    let app = oidc_app().await;
    let r = app
        .send(call("GET", &authorize("spa", "&prompt=none")))
        .await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with("https://app.example/cb?error=login_required&"),
        "{to}"
    );
    assert!(to.contains("state=st"), "{to}");
    let r = app
        .send(call(
            "GET",
            &authorize("spa", "")
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
        ))
        .await;
    assert!(
        r.header("location")
            .unwrap()
            .contains("error=invalid_request")
    );
}

#[actix_web::test]
async fn without_our_cookie_the_request_is_held_and_the_browser_goes_to_the_page() {
    let app = oidc_app().await;
    let r = app.send(call("GET", &authorize("spa", ""))).await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap();
    assert!(to.starts_with("/?oidc="), "{to}");
    let id = &to["/?oidc=".len()..];
    // The page returns without a session still: the request is held again.
    let again = app
        .send(call("GET", &format!("/oauth2/authorize?pending={id}")))
        .await;
    assert!(again.header("location").unwrap().starts_with("/?oidc="));
    let gone = app
        .send(call("GET", &format!("/oauth2/authorize?pending={id}")))
        .await;
    assert_eq!(gone.status, 400, "a held request is used once");
}

#[actix_web::test]
async fn a_third_party_app_gets_the_pages_consent_screen_and_a_decision_goes_back_to_the_app() {
    let app = oidc_app().await;
    let signed = app.sign_up(&unique_email("consent"), "Ada").await;
    let cookie = format!(
        "__Host-auth_access={}",
        signed.json["access_token"].as_str().unwrap()
    );
    let held = |r: &crate::app::Reply| {
        let to = r.header("location").unwrap().to_owned();
        assert!(
            to.starts_with("/?oidc=") && to.ends_with("#consent"),
            "{to}"
        );
        to["/?oidc=".len()..to.len() - "#consent".len()].to_owned()
    };
    let r = app
        .send(call("GET", &authorize("third", "")).header("cookie", &cookie))
        .await;
    let pending = held(&r);
    let shown = app
        .send(call("GET", &format!("/oauth2/consent?pending={pending}")))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["client_name"], "App <third>");
    assert_eq!(shown.json["scopes"], serde_json::json!(["openid", "email"]));
    let decide = |allow: bool, origin: &str| {
        call("POST", "/oauth2/consent")
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&serde_json::json!({ "pending": pending, "allow": allow }))
    };
    let foreign = app.send(decide(true, "https://evil.example")).await;
    assert_eq!(
        foreign.status, 403,
        "another origin cannot consent: {}",
        foreign.text
    );
    let denied = app.send(decide(false, ORIGIN)).await;
    assert_eq!(denied.status, 200, "{}", denied.text);
    let to = denied.json["redirect"].as_str().unwrap();
    assert!(
        to.starts_with("https://app.example/cb?error=access_denied&"),
        "{to}"
    );

    // Asked again, and allowed: a code, and the decision is remembered.
    let r = app
        .send(call("GET", &authorize("third", "")).header("cookie", &cookie))
        .await;
    let pending = held(&r);
    let allowed = app
        .send(
            call("POST", "/oauth2/consent")
                .header("cookie", &cookie)
                .header("origin", ORIGIN)
                .json(&serde_json::json!({ "pending": pending, "allow": true })),
        )
        .await;
    assert!(
        allowed.json["redirect"]
            .as_str()
            .unwrap()
            .starts_with("https://app.example/cb?code="),
        "{}",
        allowed.text
    );
    let again = app
        .send(call("GET", &authorize("third", "")).header("cookie", &cookie))
        .await;
    assert!(
        again
            .header("location")
            .unwrap()
            .starts_with("https://app.example/cb?code=")
    );
}

#[actix_web::test]
async fn the_token_endpoint_reads_strict_form_bodies_and_answers_rfc_6749_errors() {
    let app = oidc_app().await;
    let token = |body: &str| {
        call("POST", "/oauth2/token").raw("application/x-www-form-urlencoded", body.to_owned())
    };
    let cases = [
        (
            call("POST", "/oauth2/token").raw("application/json", "{}"),
            400,
            "invalid_request",
        ),
        (
            token("grant_type=authorization_code&grant_type=refresh_token&client_id=spa"),
            400,
            "invalid_request",
        ),
        (
            token("grant_type=password&client_id=spa"),
            400,
            "unsupported_grant_type",
        ),
        (
            token("grant_type=authorization_code&client_id=spa"),
            400,
            "invalid_request",
        ),
        (
            token(
                "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
            ),
            401,
            "invalid_client",
        ),
        (
            token(
                "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=web&client_secret=wrong",
            ),
            401,
            "invalid_client",
        ),
        (
            token(
                "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=spa",
            ),
            400,
            "invalid_grant",
        ),
        (
            token("grant_type=refresh_token&refresh_token=abc&client_id=spa"),
            400,
            "invalid_grant",
        ),
    ];
    for (c, status, error) in cases {
        let r = app.send(c).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.json["error"], error, "{}", r.text);
        assert!(r.json["error_description"].is_string());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("web:wrong-secret");
    let r = app
        .send(
            token("grant_type=refresh_token&refresh_token=abc")
                .header("authorization", &format!("Basic {basic}")),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "invalid_client");
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let both = base64::engine::general_purpose::STANDARD.encode(format!("web:{SECRET}"));
    let r = app
        .send(
            token(&format!(
                "grant_type=refresh_token&refresh_token=abc&client_secret={SECRET}"
            ))
            .header("authorization", &format!("Basic {both}")),
        )
        .await;
    assert_eq!(
        r.json["error"], "invalid_request",
        "one authentication method at a time"
    );
}

#[actix_web::test]
async fn userinfo_wants_a_clients_bearer_token() {
    let app = oidc_app().await;
    let r = app.send(call("GET", "/oauth2/userinfo")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    let ours = app.sign_up(&unique_email("userinfo"), "Ada").await;
    let r = app
        .send(call("GET", "/oauth2/userinfo").bearer(ours.json["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(r.status, 401, "our own session's token is no app's");
}

#[actix_web::test]
async fn logout_to_an_unregistered_address_is_refused_without_a_redirect() {
    let app = oidc_app().await;
    let r = app
        .send(call(
            "GET",
            "/oauth2/logout?client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    let r = app
        .send(call("POST", "/oauth2/logout").header("origin", ORIGIN).raw(
            "application/x-www-form-urlencoded",
            "post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye",
        ))
        .await;
    assert_eq!(r.status, 400, "a registered URI needs its client named");
    let r = app
        .send(call("POST", "/oauth2/logout").header("origin", ORIGIN).raw(
            "application/x-www-form-urlencoded",
            "client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=x",
        ))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("https://app.example/bye?state=x")
    );
}

#[actix_web::test]
async fn the_account_lists_the_apps_it_consented_to_and_removes_one() {
    let app = oidc_app().await;
    let signed = app.sign_up(&unique_email("apps"), "Ada").await;
    let token = signed.json["access_token"].as_str().unwrap().to_owned();
    let cookie = format!("__Host-auth_access={token}");
    let apps = |app_token: &str| call("GET", "/v1/me/apps").bearer(app_token);
    let listed = app.send(apps(&token)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json, serde_json::json!({ "apps": [] }));

    let r = app
        .send(call("GET", &authorize("third", "")).header("cookie", &cookie))
        .await;
    let to = r.header("location").unwrap().to_owned();
    let pending = &to["/?oidc=".len()..to.len() - "#consent".len()];
    let allowed = app
        .send(
            call("POST", "/oauth2/consent")
                .header("cookie", &cookie)
                .header("origin", ORIGIN)
                .json(&serde_json::json!({ "pending": pending, "allow": true })),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);

    let listed = app.send(apps(&token)).await;
    let list = listed.json["apps"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", listed.text);
    assert_eq!(list[0]["client_id"], "third");
    assert_eq!(list[0]["name"], "App <third>");
    assert_eq!(list[0]["scopes"], serde_json::json!(["openid", "email"]));
    assert!(list[0]["granted_at"].as_str().unwrap().ends_with('Z'));

    // Without a session, nothing; another origin with our cookie, refused.
    app.send(call("DELETE", "/v1/me/apps/third"))
        .await
        .assert_problem(401, "unauthorized");
    app.send(
        call("DELETE", "/v1/me/apps/third")
            .header("cookie", &cookie)
            .header("origin", "https://evil.example"),
    )
    .await
    .assert_problem(403, "forbidden_origin");
    let removed = app
        .send(call("DELETE", "/v1/me/apps/third").bearer(&token))
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(
        app.send(apps(&token)).await.json,
        serde_json::json!({ "apps": [] })
    );
    for id in ["third", "spa", "nope%20nope"] {
        app.send(call("DELETE", &format!("/v1/me/apps/{id}")).bearer(&token))
            .await
            .assert_problem(404, "not_found");
    }
    // The next request asks for consent again.
    let again = app
        .send(call("GET", &authorize("third", "")).header("cookie", &cookie))
        .await;
    assert!(
        again.header("location").unwrap().ends_with("#consent"),
        "{:?}",
        again.header("location")
    );
    let activity = app
        .send(call("GET", "/v1/me/activity").bearer(&token))
        .await;
    let kinds: Vec<&str> = activity.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"app_consented") && kinds.contains(&"app_consent_revoked"),
        "{kinds:?}"
    );
}

#[actix_web::test]
async fn the_providers_own_pages_speak_the_browsers_language() {
    let app = oidc_app().await;
    let confirm =
        "/oauth2/logout?client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye";
    for (accept, lang, error_title, logout_title, button) in [
        (
            "en-GB,en;q=0.9",
            "en",
            "This sign-in request cannot be used",
            "Sign out?",
            ">Sign out</button>",
        ),
        (
            "de-DE,de;q=0.9",
            "de",
            "Diese Anmeldeanfrage kann nicht verwendet werden",
            "Abmelden?",
            ">Abmelden</button>",
        ),
    ] {
        let r = app
            .send(call("GET", &authorize("nobody", "")).header("accept-language", accept))
            .await;
        assert_eq!(r.status, 400);
        assert!(
            r.text.contains(&format!("<html lang=\"{lang}\">")),
            "{}",
            r.text
        );
        assert!(
            r.text.contains(&format!("<h1>{error_title}</h1>")),
            "{}",
            r.text
        );
        let r = app
            .send(call("GET", confirm).header("accept-language", accept))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.text.contains(&format!("<html lang=\"{lang}\">")),
            "{}",
            r.text
        );
        assert!(
            r.text.contains(&format!("<h1>{logout_title}</h1>")),
            "{}",
            r.text
        );
        assert!(r.text.contains(button), "{}", r.text);
        // The confirmation's form may go on to the app's origin, and posts its Origin.
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' https://app.example;"),
            "{csp}"
        );
        assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    }
    // The `lang` cookie the page's chooser sets wins over the browser's preference.
    let r = app
        .send(
            call("GET", confirm)
                .header("accept-language", "en")
                .header("cookie", "lang=de"),
        )
        .await;
    assert!(r.text.contains("<h1>Abmelden?</h1>"), "{}", r.text);
}
