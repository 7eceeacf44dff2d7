//! Every kind of mail rendered in text and HTML: complete, with the code only where it belongs,
//! links from the public URL only, values escaped, and a well-formed multipart mail.

use super::*;
use auth_core::EmailAddress;
use auth_core::code::OtpCode;
use auth_core::revert::RevertToken;

fn renderer() -> Renderer {
    Renderer::new(
        MailConfig::new(
            "Example Auth <no-reply@example.com>",
            "https://auth.example.com",
            "Example",
        )
        .unwrap(),
    )
}

fn code() -> OtpCode {
    OtpCode::parse("ABCD2345", 8).unwrap()
}

fn revert_token() -> RevertToken {
    RevertToken::parse("UQ6MUQ6MUQ6MUQ6MUQ6MUQ6MUQ6MUQ6MUQ6MUQ6MUQ4").unwrap()
}

/// Every kind of mail, each with a marker for what must appear in it.
pub(super) fn every_kind() -> Vec<Message> {
    vec![
        Message::SignupCode {
            code: code(),
            valid_minutes: 10,
        },
        Message::LoginCode {
            code: code(),
            valid_minutes: 10,
        },
        Message::AlreadyRegistered {
            code: code(),
            valid_minutes: 10,
        },
        Message::RecoveryCode {
            code: code(),
            valid_minutes: 10,
        },
        Message::NoAccount,
        Message::EmailChangeCode {
            code: code(),
            valid_minutes: 10,
        },
        Message::EmailChangeTaken,
        Message::EmailChanged {
            new_address_masked: "n***@example.org".to_owned(),
            revert_token: revert_token(),
            valid_hours: 72,
        },
        Message::PasskeyAdded {
            name: "Laptop".to_owned(),
            at: auth_core::Timestamp::from_millis(1_800_000_000_000),
            device: "Firefox on Linux".to_owned(),
            ip: Some("192.0.2.44".to_owned()),
        },
        Message::PasskeyRemoved {
            name: "Old phone".to_owned(),
            at: auth_core::Timestamp::from_millis(1_800_000_000_000),
            device: "Firefox on Linux".to_owned(),
            ip: Some("192.0.2.44".to_owned()),
        },
        Message::AccountDeleted,
        Message::DisabledAccount,
        Message::AccountDisabled,
        Message::AccountEnabled,
        Message::AccountDeletedByOperator,
        Message::SignInNotice {
            recovery: true,
            at: auth_core::Timestamp::from_millis(1_800_000_000_000),
            device: "Firefox on Linux".to_owned(),
            ip: Some("192.0.2.44".to_owned()),
        },
    ]
}

const fn has_code(m: &Message) -> bool {
    matches!(
        m,
        Message::SignupCode { .. }
            | Message::LoginCode { .. }
            | Message::AlreadyRegistered { .. }
            | Message::RecoveryCode { .. }
            | Message::EmailChangeCode { .. }
    )
}

#[test]
fn every_kind_renders_completely_in_text_and_html() {
    let r = renderer();
    let kinds = every_kind();
    assert_eq!(
        kinds.len(),
        16,
        "a new kind of mail needs a template and a case here"
    );
    for m in &kinds {
        let out = r.render(m);
        let kind = m.kind();
        for (part, body) in [
            ("subject", &out.subject),
            ("text", &out.text),
            ("html", &out.html),
        ] {
            assert!(
                !body.contains("{{") && !body.contains("}}"),
                "{kind} {part} has an unfilled placeholder"
            );
            assert!(
                body.contains("Example"),
                "{kind} {part} does not name the product"
            );
        }
        assert!(
            out.text.contains("https://auth.example.com/"),
            "{kind} text has no link"
        );
        assert!(
            out.html.contains("href=\"https://auth.example.com/"),
            "{kind} html has no link"
        );
        assert!(out.html.starts_with("<!DOCTYPE html>"), "{kind}");
        assert!(
            out.text.len() > 150,
            "{kind} text is too short to help anyone"
        );
    }
}

#[test]
fn code_mails_carry_the_grouped_code_and_notices_carry_none() {
    let r = renderer();
    for m in every_kind() {
        let out = r.render(&m);
        let kind = m.kind();
        for (part, body) in [("text", &out.text), ("html", &out.html)] {
            if has_code(&m) {
                assert!(body.contains("ABCD-2345"), "{kind} {part} lacks the code");
                assert!(
                    body.contains("10 minutes"),
                    "{kind} {part} lacks the lifetime"
                );
            } else {
                assert!(
                    !body.contains("ABCD") && !body.contains("2345"),
                    "{kind} {part} shows a code"
                );
                assert!(
                    !body.contains("minutes"),
                    "{kind} {part} talks about a code's lifetime"
                );
            }
        }
        assert_eq!(
            out.subject.contains("ABCD-2345"),
            has_code(&m),
            "{kind} subject"
        );
    }
}

#[test]
fn links_come_from_the_public_url_only() {
    let r = renderer();
    let no_account = r.render(&Message::NoAccount);
    assert!(no_account.text.contains("https://auth.example.com/#signup"));
    assert!(
        no_account
            .html
            .contains("href=\"https://auth.example.com/#signup\"")
    );
    let login = r.render(&Message::LoginCode {
        code: code(),
        valid_minutes: 10,
    });
    assert!(login.html.contains("href=\"https://auth.example.com/\""));
    for m in every_kind() {
        let out = r.render(&m);
        let hosts: Vec<&str> = out.html.split("href=\"").skip(1).collect();
        assert!(!hosts.is_empty());
        assert!(
            hosts
                .iter()
                .all(|h| h.starts_with("https://auth.example.com/")),
            "{}",
            m.kind()
        );
    }
}

#[test]
fn passkey_notices_name_the_passkey_escaped() {
    let out = renderer().render(&Message::PasskeyAdded {
        name: "<b>Laptop</b>".to_owned(),
        at: auth_core::Timestamp::from_millis(1_800_000_000_000),
        device: "Firefox on Linux".to_owned(),
        ip: None,
    });
    assert!(out.text.contains("\"<b>Laptop</b>\""));
    assert!(out.html.contains("&lt;b&gt;Laptop&lt;/b&gt;"));
    assert!(!out.html.contains("<b>Laptop"));
}

#[test]
fn the_email_changed_notice_names_only_the_masked_address() {
    let out = renderer().render(&Message::EmailChanged {
        new_address_masked: "n***@example.org".to_owned(),
        revert_token: revert_token(),
        valid_hours: 72,
    });
    assert!(out.text.contains("n***@example.org"));
    assert!(out.html.contains("changed to n***@example.org."));
}

#[test]
fn the_email_changed_notice_links_to_the_undo_screen_of_the_public_url() {
    let out = renderer().render(&Message::EmailChanged {
        new_address_masked: "n***@example.org".to_owned(),
        revert_token: revert_token(),
        valid_hours: 72,
    });
    let link = format!(
        "https://auth.example.com/#revert={}",
        revert_token().expose()
    );
    assert!(out.text.contains(&link), "{}", out.text);
    assert!(out.html.contains(&format!("href=\"{link}\"")));
    assert!(out.text.contains("72 hours"));
    assert!(!out.subject.contains(revert_token().expose()));
}

#[test]
fn the_sign_in_notice_says_when_from_what_device_and_where() {
    let out = renderer().render(&Message::SignInNotice {
        recovery: false,
        at: auth_core::Timestamp::from_millis(1_800_000_000_000),
        device: "<Firefox> on Linux".to_owned(),
        ip: None,
    });
    assert!(out.text.contains("an email code"));
    assert!(out.text.contains("2027-01-15 08:00 UTC"));
    assert!(out.text.contains("<Firefox> on Linux"));
    assert!(
        out.html.contains("&lt;Firefox&gt; on Linux"),
        "device names are escaped"
    );
    assert!(out.text.contains("IP address: unknown"));
}

#[test]
fn build_makes_a_multipart_alternative_mail_to_one_recipient() {
    let mail = Mail {
        to: EmailAddress::parse("bob@example.net").unwrap(),
        name: None,
        language: Language::En,
        message: Message::LoginCode {
            code: code(),
            valid_minutes: 10,
        },
    };
    let out = renderer().build(&mail).unwrap();
    assert_eq!(out.kind(), "login_code");
    assert_eq!(out.to_masked(), "b***@example.net");
    assert_eq!(out.envelope().to().len(), 1);
    assert_eq!(out.envelope().to()[0].to_string(), "bob@example.net");
    assert_eq!(
        out.envelope().from().map(ToString::to_string).as_deref(),
        Some("no-reply@example.com")
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(out.formatted())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Your Example sign-in code: ABCD-2345")
    );
    assert!(parsed.body_text(0).unwrap().contains("ABCD-2345"));
    assert!(parsed.body_html(0).unwrap().contains("ABCD-2345"));
    let raw = String::from_utf8_lossy(out.formatted());
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("Auto-Submitted: auto-generated"));
    assert!(
        parsed
            .message_id()
            .is_some_and(|id| id.ends_with("@example.com"))
    );
    assert_eq!(
        format!("{:?}", renderer().render(&mail.message)),
        "Rendered([redacted])"
    );
    assert!(!format!("{out:?}").contains("ABCD"));
}

#[test]
fn mail_to_an_account_greets_its_owner_by_name_escaped() {
    let name = "Bo <script>alert(1)</script> & Al";
    for m in every_kind().iter().filter(|m| greets_by_name(m)) {
        let kind = m.kind();
        let out = renderer().render_in(m, Some(name), Language::En);
        assert!(
            out.text.starts_with(&format!("Hello {name},\n")),
            "{kind} text"
        );
        assert!(
            out.html
                .contains("Hello Bo &lt;script&gt;alert(1)&lt;/script&gt; &amp; Al,"),
            "{kind} html"
        );
        assert!(!out.html.contains("<script>"), "{kind} html is not escaped");
        assert!(
            !out.subject.contains("Bo"),
            "{kind} subject names the owner"
        );
    }
}

#[test]
fn mail_that_must_not_reveal_an_account_greets_neutrally_even_when_given_a_name() {
    let neutral: Vec<Message> = every_kind()
        .into_iter()
        .filter(|m| !greets_by_name(m))
        .collect();
    let kinds: Vec<&str> = neutral.iter().map(Message::kind).collect();
    assert_eq!(
        kinds,
        [
            "signup_code",
            "no_account",
            "email_change_code",
            "email_change_taken"
        ]
    );
    for m in &neutral {
        let out = renderer().render_in(m, Some("Mallory"), Language::En);
        assert!(out.text.starts_with("Hello,\n"), "{}", m.kind());
        assert!(!out.text.contains("Mallory"), "{}", m.kind());
        assert!(!out.html.contains("Mallory"), "{}", m.kind());
    }
}

#[test]
fn build_greets_by_the_name_the_mail_carries() {
    let mail = Mail {
        to: EmailAddress::parse("bob@example.net").unwrap(),
        name: Some("Bob".to_owned()),
        language: Language::En,
        message: Message::AccountDeleted,
    };
    let out = renderer().build(&mail).unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(out.formatted())
        .unwrap();
    assert!(parsed.body_text(0).unwrap().starts_with("Hello Bob,"));
    assert!(parsed.body_html(0).unwrap().contains("Hello Bob,"));
}

#[test]
fn passkey_notices_say_when_from_what_device_and_where_escaped() {
    for added in [true, false] {
        let (name, at, device, ip) = (
            "Laptop".to_owned(),
            auth_core::Timestamp::from_millis(1_800_000_000_000),
            "<Firefox> & co on Linux".to_owned(),
            Some("192.0.2.44".to_owned()),
        );
        let m = if added {
            Message::PasskeyAdded {
                name,
                at,
                device,
                ip,
            }
        } else {
            Message::PasskeyRemoved {
                name,
                at,
                device,
                ip,
            }
        };
        let out = renderer().render(&m);
        let kind = m.kind();
        assert!(
            out.text.contains("When: 2027-01-15 08:00 UTC"),
            "{kind} text"
        );
        assert!(
            out.text.contains("Device: <Firefox> & co on Linux"),
            "{kind} text"
        );
        assert!(out.text.contains("IP address: 192.0.2.44"), "{kind} text");
        assert!(out.html.contains("2027-01-15 08:00 UTC"), "{kind} html");
        assert!(
            out.html.contains("&lt;Firefox&gt; &amp; co on Linux"),
            "{kind} html escapes the device"
        );
        assert!(!out.html.contains("<Firefox>"), "{kind} html");
        assert!(out.html.contains("192.0.2.44"), "{kind} html");
    }
}

#[test]
fn security_notices_link_this_was_not_me_to_the_recovery_screen_of_the_public_url() {
    let r = renderer();
    let notices: Vec<Message> = every_kind()
        .into_iter()
        .filter(|m| {
            matches!(
                m,
                Message::PasskeyAdded { .. }
                    | Message::PasskeyRemoved { .. }
                    | Message::SignInNotice { .. }
            )
        })
        .collect();
    assert_eq!(notices.len(), 3);
    for m in &notices {
        let out = r.render(m);
        let kind = m.kind();
        assert!(
            out.text
                .contains("This wasn't me: recover your account with a code sent to this address:\nhttps://auth.example.com/#recover\n"),
            "{kind} text: {}",
            out.text
        );
        assert!(
            out.html
                .contains("This wasn&#39;t me: <a href=\"https://auth.example.com/#recover\""),
            "{kind} html"
        );
    }
    for m in every_kind().iter().filter(|m| !notices.contains(m)) {
        assert!(!r.render(m).text.contains("#recover"), "{}", m.kind());
    }
}

#[test]
fn the_length_hint_follows_the_code_the_policy_made() {
    let r = renderer();
    for (len, grouped) in [
        (8, "ABCD-2345"),
        (10, "ABCD-234-567"),
        (16, "ABCD-2345-67AB-CDEF"),
    ] {
        let code = OtpCode::parse(&"ABCD234567ABCDEF"[..len], len).unwrap();
        for m in every_kind().into_iter().filter(has_code) {
            let m = match m {
                Message::SignupCode { valid_minutes, .. } => Message::SignupCode {
                    code: code.clone(),
                    valid_minutes,
                },
                Message::LoginCode { valid_minutes, .. } => Message::LoginCode {
                    code: code.clone(),
                    valid_minutes,
                },
                Message::AlreadyRegistered { valid_minutes, .. } => Message::AlreadyRegistered {
                    code: code.clone(),
                    valid_minutes,
                },
                Message::RecoveryCode { valid_minutes, .. } => Message::RecoveryCode {
                    code: code.clone(),
                    valid_minutes,
                },
                Message::EmailChangeCode { valid_minutes, .. } => Message::EmailChangeCode {
                    code: code.clone(),
                    valid_minutes,
                },
                other => other,
            };
            let out = r.render(&m);
            let kind = m.kind();
            for (part, body) in [("text", &out.text), ("html", &out.html)] {
                assert!(
                    body.contains(&format!("The code has {len} characters")),
                    "{kind} {part} {len}"
                );
                assert_eq!(
                    body.matches(" characters").count(),
                    1,
                    "{kind} {part} names one length"
                );
                assert!(body.contains(grouped), "{kind} {part} shows {grouped}");
            }
            assert!(
                out.text.contains(&format!("\n    {grouped}\n")),
                "{kind} text keeps the code on a line of its own"
            );
            assert!(out.subject.ends_with(grouped), "{kind} subject");
        }
    }
    for m in every_kind().iter().filter(|m| !has_code(m)) {
        assert!(!r.render(m).text.contains("characters"), "{}", m.kind());
    }
}
