//! Languages and branding: the request's language chooses the page's and the mail's, an account
//! keeps its own, and the page carries the configured product name, logo, accent and support
//! address.

use crate::app::{ORIGIN, call, mails_to, relaxed, spawn_app, spawn_app_with, unique_email};
use auth_core::Language;
use auth_http::HttpConfig;
use auth_http::brand::{Accent, Ui};
use auth_i18n::{Catalog, Domain};
use serde_json::json;
use std::sync::Arc;

#[actix_web::test]
async fn the_page_language_follows_query_then_cookie_then_accept_language_then_default() {
    let app = spawn_app(relaxed()).await;
    let cases = [
        (call("GET", "/"), "en"),
        (
            call("GET", "/").header("accept-language", "de-AT,de;q=0.9"),
            "de",
        ),
        (
            call("GET", "/").header("accept-language", "fr, de;q=0.5, en;q=0.4"),
            "de",
        ),
        (
            call("GET", "/")
                .header("accept-language", "de")
                .header("cookie", "lang=en"),
            "en",
        ),
        (
            call("GET", "/?lang=de")
                .header("accept-language", "en")
                .header("cookie", "lang=en"),
            "de",
        ),
        (
            call("GET", "/?lang=xx").header("accept-language", "de"),
            "de",
        ),
    ];
    for (request, lang) in cases {
        let page = app.send(request).await;
        assert_eq!(page.status, 200);
        assert!(
            page.text.contains(&format!("<html lang=\"{lang}\">")),
            "expected {lang}: {}",
            &page.text[..200]
        );
        assert!(!page.text.contains("{{"), "every placeholder is filled");
        assert_eq!(page.header("vary"), Some("Accept-Language, Cookie"));
    }
    let chosen = app.send(call("GET", "/?lang=de")).await;
    assert_eq!(
        chosen.cookie("lang").as_deref(),
        Some("de"),
        "the choice is kept"
    );
    assert!(chosen.text.contains("aria-current=\"true\">Deutsch</a>"));
    assert!(app.send(call("GET", "/")).await.cookie("lang").is_none());

    let messages = app
        .send(call("GET", "/ui/messages.json").header("accept-language", "de"))
        .await;
    assert_eq!(messages.status, 200);
    assert_eq!(messages.json["lang"], "de");
    assert_eq!(messages.json["language-chooser"], "Sprache");
}

#[actix_web::test]
async fn the_page_carries_the_branding() {
    let ui = Ui {
        product_name: "Acme <ID>".to_owned(),
        logo_url: Some("https://cdn.acme.example/logo.svg".to_owned()),
        accent: Accent::parse("#7a1f5c").unwrap(),
        support_email: Some("help@acme.example".to_owned()),
        default_language: Language::De,
        catalog: Catalog::builtin(Domain::Page),
        generated: Default::default(),
    };
    let app = spawn_app_with(
        relaxed(),
        HttpConfig {
            public_origin: ORIGIN.to_owned(),
            ui: Arc::new(ui),
            ..HttpConfig::default()
        },
    )
    .await;
    let page = app.send(call("GET", "/")).await;
    assert!(
        page.text.contains("<html lang=\"de\">"),
        "the default language"
    );
    assert!(page.text.contains("<title>Acme &lt;ID&gt;</title>"));
    assert!(page.text.contains("<span>Acme &lt;ID&gt;</span>"));
    assert!(
        page.text
            .contains("<img src=\"https://cdn.acme.example/logo.svg\" alt=\"\">")
    );
    assert!(
        page.text
            .contains("<a href=\"mailto:help@acme.example\">help@acme.example</a>")
    );
    assert!(page.text.contains("Fragen? Schreiben Sie an"));
    assert!(page.text.contains("href=\"/ui/brand.css\""));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.acme.example;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");

    let css = app.send(call("GET", "/ui/brand.css")).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text.contains("--accent: #7a1f5c;"), "{}", css.text);
    assert!(css.text.contains("prefers-color-scheme: dark"));
}

#[actix_web::test]
async fn mail_to_an_unknown_address_speaks_the_requests_language_and_an_account_keeps_its_own() {
    let app = spawn_app(relaxed()).await;
    // Sign-up in German: the code mail and the new account are German.
    let email = unique_email("lang");
    let started = app
        .send(
            call("POST", "/v1/signup")
                .header("accept-language", "de-DE")
                .json(&json!({ "email": email, "display_name": "Jo" })),
        )
        .await;
    let mails = mails_to(&app.mailer, &email);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].language, Language::De);
    let code = crate::app::code_of(&mails[0]).unwrap();
    // The account is created by the request that verifies the code, from the same browser.
    let done = app
        .send(
            call("POST", "/v1/codes/verify")
                .header("accept-language", "de-DE")
                .json(&json!({ "attempt_token": started.json["attempt_token"], "code": code })),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let token = done.json["access_token"].as_str().unwrap().to_owned();
    let me = app.send(call("GET", "/v1/me").bearer(&token)).await;
    assert_eq!(
        me.json["language"], "de",
        "the account keeps the sign-up's language"
    );

    // Mail to the account follows the account, whatever the request says.
    app.send(
        call("POST", "/v1/login/email")
            .header("accept-language", "en")
            .json(&json!({ "email": email })),
    )
    .await;
    assert_eq!(mails_to(&app.mailer, &email)[0].language, Language::De);

    // An unknown address: the request's language, both ways.
    let nobody = unique_email("nobody");
    for (header, lang) in [("de", Language::De), ("en-GB", Language::En)] {
        app.send(
            call("POST", "/v1/login/email")
                .header("accept-language", header)
                .json(&json!({ "email": nobody })),
        )
        .await;
        assert_eq!(mails_to(&app.mailer, &nobody)[0].language, lang);
    }

    // PATCH /v1/me changes it; a language we do not speak is refused.
    let patched = app
        .send(
            call("PATCH", "/v1/me")
                .bearer(&token)
                .json(&json!({ "language": "en" })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["language"], "en");
    app.send(
        call("POST", "/v1/login/email")
            .header("accept-language", "de")
            .json(&json!({ "email": email })),
    )
    .await;
    assert_eq!(mails_to(&app.mailer, &email)[0].language, Language::En);
    app.send(
        call("PATCH", "/v1/me")
            .bearer(&token)
            .json(&json!({ "language": "fr" })),
    )
    .await
    .assert_problem(422, "invalid_language");
}

#[actix_web::test]
async fn the_german_page_shows_no_english_sentence_of_the_catalog() {
    let app = spawn_app(relaxed()).await;
    let page = app.send(call("GET", "/?lang=de")).await;
    let catalog = Catalog::builtin(Domain::Page);
    let (en, de) = (
        catalog.patterns(Language::En),
        catalog.patterns(Language::De),
    );
    let mut checked = 0;
    for (id, english) in &en {
        // Words both languages share ("Passkeys") and one-word labels prove nothing.
        if english == &de[id] || english.len() < 12 || english.contains('{') {
            continue;
        }
        assert!(
            !page.text.contains(english.as_str()),
            "`{id}` is English on the German page"
        );
        checked += 1;
    }
    assert!(
        checked > 40,
        "the document's sentences come from the catalog ({checked})"
    );
    assert!(page.text.contains("Mit Passkey anmelden"));
}
