//! Every mail in German and with the configured branding; templates and sentences replaced from
//! a directory.

use super::tests::every_kind;
use super::*;
use crate::config::Branding;

fn branded() -> MailConfig {
    MailConfig::new(
        "Acme <no-reply@acme.example>",
        "https://id.acme.example",
        "Acme ID",
    )
    .unwrap()
    .with_branding(Branding {
        logo_url: Some("/brand/logo.png".to_owned()),
        accent_color: "#7a1f5c".to_owned(),
        support_email: Some("help@acme.example".to_owned()),
    })
    .unwrap()
}

#[test]
fn every_german_mail_is_complete_and_speaks_german() {
    let r = Renderer::new(branded());
    for m in every_kind() {
        let kind = m.kind();
        let out = r.render_in(&m, Some("Bo"), Language::De);
        for (part, body) in [("text", &out.text), ("html", &out.html)] {
            assert!(
                !body.contains("{{"),
                "{kind} {part} has an unfilled placeholder"
            );
            assert!(body.contains("Hallo"), "{kind} {part} greets in German");
            assert!(!body.contains("Hello"), "{kind} {part} has English");
            assert!(!body.contains("Go to"), "{kind} {part} has English");
        }
        assert!(out.html.contains("<html lang=\"de\">"), "{kind}");
        assert!(
            out.subject.contains("Acme ID") && !out.subject.contains("Your"),
            "{kind}: {}",
            out.subject
        );
    }
    let code = r.render_in(&every_kind()[1], None, Language::De);
    assert!(code.text.contains("Er gilt 10 Minuten"), "{}", code.text);
    assert_eq!(code.subject, "Ihr Anmeldecode für Acme ID: ABCD-2345");
}

#[test]
fn every_mail_carries_the_branding() {
    let r = Renderer::new(branded());
    for language in Language::ALL {
        for m in every_kind() {
            let kind = m.kind();
            let out = r.render_in(&m, None, language);
            assert!(
                out.text.contains("Acme ID"),
                "{kind} {language} text names the product"
            );
            assert!(
                out.html.contains("Acme ID"),
                "{kind} {language} html names the product"
            );
            assert!(
                out.html.contains(
                    "<img src=\"https://id.acme.example/brand/logo.png\" alt=\"Acme ID\""
                ),
                "{kind} {language} shows the logo from the public url"
            );
            assert!(
                out.html.contains("background:#7a1f5c;"),
                "{kind} {language} accent"
            );
            assert!(
                !out.html.contains("#1d4ed8"),
                "{kind} {language} default accent"
            );
            for body in [&out.text, &out.html] {
                assert!(
                    body.contains("help@acme.example"),
                    "{kind} {language} support"
                );
            }
        }
    }
    let plain =
        Renderer::new(MailConfig::new("a@example.com", "https://example.com", "Plain").unwrap())
            .render(&Message::NoAccount);
    assert!(
        !plain.html.contains("<img"),
        "no logo configured, none shown"
    );
    assert!(plain.html.contains("#1d4ed8"), "the default accent");
}

#[test]
fn build_writes_in_the_language_the_mail_carries() {
    let r = Renderer::new(branded());
    let mail = Mail {
        to: auth_core::EmailAddress::parse("bo@example.net").unwrap(),
        name: None,
        language: Language::De,
        message: Message::NoAccount,
    };
    let out = r.build(&mail).unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(out.formatted())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Kein Konto bei Acme ID für diese E-Mail-Adresse")
    );
    assert!(parsed.body_text(0).unwrap().starts_with("Hallo,"));
}

#[test]
fn branding_values_are_checked() {
    let base = || MailConfig::new("a@example.com", "https://example.com", "X").unwrap();
    let bad = [
        Branding {
            accent_color: "blue".to_owned(),
            ..Branding::default()
        },
        Branding {
            logo_url: Some("http://cdn.example/logo.png".to_owned()),
            ..Branding::default()
        },
        Branding {
            logo_url: Some("//cdn.example/logo.png".to_owned()),
            ..Branding::default()
        },
        Branding {
            support_email: Some("a@example.com, b@example.com".to_owned()),
            ..Branding::default()
        },
    ];
    for b in bad {
        assert!(
            matches!(
                base().with_branding(b.clone()),
                Err(ConfigError::Branding(_))
            ),
            "{b:?}"
        );
    }
}

#[test]
fn a_templates_dir_replaces_templates_and_sentences() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    std::fs::write(
        dir.path().join("mail/no_account.txt"),
        "{{greeting}}\n\nCUSTOM {{no-account-intro}}\n{{link}}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("locales/de")).unwrap();
    std::fs::write(
        dir.path().join("locales/de/mail.ftl"),
        "greeting-neutral = Guten Tag,\n",
    )
    .unwrap();
    let r = Renderer::with_templates_dir(branded(), dir.path()).unwrap();
    let out = r.render_in(&Message::NoAccount, None, Language::De);
    assert!(
        out.text.starts_with("Guten Tag,\n\nCUSTOM Jemand"),
        "{}",
        out.text
    );
    let en = r.render_in(&Message::NoAccount, None, Language::En);
    assert!(
        en.text.starts_with("Hello,\n\nCUSTOM Someone"),
        "{}",
        en.text
    );
    assert!(en.html.contains("Hello,"), "the html template stays");

    std::fs::write(dir.path().join("mail/login_code.html"), "{{nonsense}}").unwrap();
    let e = Renderer::with_templates_dir(branded(), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("login_code.html") && e.contains("nonsense"),
        "{e}"
    );
}

#[test]
fn the_mail_of_a_disabled_account_names_whom_to_contact_and_carries_no_code() {
    let with_support = Renderer::new(branded());
    for language in [Language::En, Language::De] {
        for m in [
            Message::DisabledAccount,
            Message::AccountDisabled,
            Message::AccountDeletedByOperator,
        ] {
            let out = with_support.render_in(&m, Some("Bo"), language);
            for body in [&out.text, &out.html] {
                let contact = body.matches("help@acme.example").count();
                // Once in the sentence, once more in the footer that every mail has.
                assert!(
                    contact >= 2,
                    "{} {language:?} names the support address",
                    m.kind()
                );
                assert!(!body.contains(" none"), "{}", m.kind());
            }
        }
    }
    let disabled = with_support.render_in(&Message::DisabledAccount, None, Language::En);
    assert!(
        disabled.subject.contains("disabled"),
        "{}",
        disabled.subject
    );
    assert!(disabled.text.contains("disabled, so no code was sent"));
    assert!(!disabled.text.contains("code:"), "no code in it");

    // Without a support address, the people who run the service.
    let plain = Renderer::new(
        MailConfig::new(
            "Acme <no-reply@acme.example>",
            "https://id.acme.example",
            "Acme ID",
        )
        .unwrap(),
    );
    let out = plain.render_in(&Message::DisabledAccount, None, Language::En);
    assert!(
        out.text.contains("contact the people who run Acme ID"),
        "{}",
        out.text
    );
    let out = plain.render_in(&Message::DisabledAccount, None, Language::De);
    assert!(
        out.text
            .contains("wenden Sie sich an die Betreiber von Acme ID"),
        "{}",
        out.text
    );
}
