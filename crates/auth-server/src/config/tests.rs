//! Tests of the settings: defaults, bounds, and what validation refuses.
use super::*;

fn refused(s: &Settings) -> String {
    s.validate().expect_err("refused").to_string()
}

#[test]
fn defaults_are_valid_and_derive_paths_from_the_data_dir() {
    let s = Settings::default();
    let c = s.validate().unwrap();
    assert_eq!(
        c.database,
        DatabaseUrl::Sqlite {
            url: "sqlite://data/auth.db".to_owned(),
            file: Some(PathBuf::from("data/auth.db"))
        }
    );
    assert!(
        matches!(&c.mail.transport, MailTransport::Outbox(dir) if dir == Path::new("data/outbox"))
    );
    assert_eq!(c.issuer, "http://localhost:8080");
    assert_eq!(c.relying_party.id, "localhost");
    assert_eq!(c.bind, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        c.secrets.pepper,
        SecretPath::Default(PathBuf::from("data/secrets/pepper"))
    );
    let shown = s.effective(&c);
    assert_eq!(shown.database.url.as_deref(), Some("sqlite://data/auth.db"));
    assert_eq!(shown.webauthn.rp_id.as_deref(), Some("localhost"));
    assert_eq!(
        shown.secrets.signing_keys_dir,
        Some(PathBuf::from("data/keys"))
    );
}

#[test]
fn the_rp_id_is_the_host_or_a_parent_domain() {
    let mut s = Settings::default();
    s.server.public_url = "https://login.example.com".to_owned();
    assert_eq!(s.validate().unwrap().relying_party.id, "login.example.com");
    s.webauthn.rp_id = Some("example.com".to_owned());
    assert_eq!(s.validate().unwrap().relying_party.id, "example.com");
    s.webauthn.rp_id = Some("other.com".to_owned());
    assert!(refused(&s).starts_with("webauthn.rp_id"));
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let mut s = Settings::default();
    s.server.public_url = "https://auth.example.com/path".to_owned();
    assert!(refused(&s).starts_with("server.public_url"));
    s.server.public_url = "http://auth.example.com".to_owned();
    let e = refused(&s);
    assert!(
        e.starts_with("server.public_url") && e.contains("https"),
        "{e}"
    );
    let mut s = Settings::default();
    s.server.bind = "localhost".to_owned();
    assert!(refused(&s).starts_with("server.bind"));
    let mut s = Settings::default();
    s.policy.code_length = 6;
    assert_eq!(refused(&s), "policy.code_length must be between 8 and 16");
    let mut s = Settings::default();
    s.database.url = Some("mysql://db/auth".to_owned());
    assert!(refused(&s).starts_with("database.url"));
}

#[test]
fn the_mail_sender_and_relay_are_checked_before_serving() {
    let mut s = Settings::default();
    s.mail.from = "not an address".to_owned();
    assert!(refused(&s).starts_with("mail.from"), "{}", refused(&s));
    let mut s = Settings::default();
    s.mail.smtp_url = Some("http://relay.example.com".to_owned());
    assert!(refused(&s).starts_with("mail.smtp_url"), "{}", refused(&s));
    let mut s = Settings::default();
    s.mail.smtp_url = Some("smtp://relay.example.com:25".to_owned());
    s.mail.smtp_username = Some("auth".to_owned());
    s.mail.smtp_password_file = Some(PathBuf::from("/run/secrets/smtp"));
    assert!(
        refused(&s).contains("encrypted"),
        "credentials over plain SMTP: {}",
        refused(&s)
    );
    s.mail.smtp_url = Some("smtps://relay.example.com".to_owned());
    let c = s.validate().unwrap();
    assert!(matches!(
        c.mail.transport,
        MailTransport::Smtp {
            password_file: Some(_),
            ..
        }
    ));
}

#[test]
fn smtp_connections_are_bounded() {
    for (connections, valid) in [(0, false), (1, true), (64, true), (65, false)] {
        let mut s = Settings::default();
        s.mail.smtp_connections = connections;
        assert_eq!(s.validate().is_ok(), valid, "{connections}");
    }
}

#[test]
fn the_public_origin_is_normalised() {
    let mut s = Settings::default();
    for (url, origin) in [
        ("HTTPS://Auth.Example.COM:443/", "https://auth.example.com"),
        ("http://LOCALHOST:80", "http://localhost"),
        (
            "https://auth.example.com:8443",
            "https://auth.example.com:8443",
        ),
    ] {
        s.server.public_url = url.to_owned();
        assert_eq!(
            s.validate().unwrap().public_origin.as_str(),
            origin,
            "{url}"
        );
    }
    s.server.public_url = "HTTPS://Auth.Example.COM:443/".to_owned();
    assert_eq!(s.validate().unwrap().relying_party.id, "auth.example.com");
}

#[test]
fn other_apps_origins_are_normalised_and_checked_like_the_public_origin() {
    let mut s = Settings::default();
    s.server.allowed_return_origins = vec![
        "HTTPS://App.Example.com:443/".to_owned(),
        "http://localhost:3000".to_owned(),
    ];
    s.server.cors_origins = vec!["https://spa.example.com".to_owned()];
    let c = s.validate().unwrap();
    assert_eq!(
        c.allowed_return_origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(c.cors_origins, ["https://spa.example.com"]);
    for (key, bad) in [
        (
            "server.allowed_return_origins",
            "https://app.example.com/after",
        ),
        ("server.allowed_return_origins", "http://app.example.com"),
        ("server.allowed_return_origins", "*"),
        ("server.cors_origins", "https://user@spa.example.com"),
        ("server.cors_origins", "null"),
    ] {
        let mut s = Settings::default();
        if key == "server.cors_origins" {
            s.server.cors_origins = vec![bad.to_owned()];
        } else {
            s.server.allowed_return_origins = vec![bad.to_owned()];
        }
        let e = refused(&s);
        assert!(e.starts_with(key) && e.contains(bad), "{e}");
    }
}

#[test]
fn trusted_proxies_take_addresses_and_cidrs() {
    let mut s = Settings::default();
    s.server.trusted_proxies = vec![
        "10.0.0.10".to_owned(),
        "10.1.0.0/16".to_owned(),
        "2001:db8::/32".to_owned(),
        "::ffff:192.0.2.0/120".to_owned(),
    ];
    let nets = s.validate().unwrap().trusted_proxies;
    assert!(nets[0].contains("10.0.0.10".parse().unwrap()));
    assert!(nets[1].contains("::ffff:10.1.200.3".parse().unwrap()));
    assert!(nets[2].contains("2001:db8:5::1".parse().unwrap()));
    assert!(nets[3].contains("192.0.2.77".parse().unwrap()));
    s.server.trusted_proxies = vec!["10.0.0.0/33".to_owned()];
    let e = refused(&s);
    assert!(
        e.starts_with("server.trusted_proxies") && e.contains("10.0.0.0/33"),
        "{e}"
    );
}

#[test]
fn edge_settings_are_bounded() {
    let mut s = Settings::default();
    s.server.ipv6_prefix = 16;
    assert!(refused(&s).starts_with("server.ipv6_prefix"));
    let mut s = Settings::default();
    s.server.body_timeout = Duration::ZERO;
    assert!(refused(&s).starts_with("server.body_timeout"));
    let mut s = Settings::default();
    s.server.metrics_bind = Some("nowhere".to_owned());
    assert!(refused(&s).starts_with("server.metrics_bind"));
    s.server.metrics_bind = Some(s.server.bind.clone());
    assert!(refused(&s).starts_with("server.metrics_bind"));
    s.server.metrics_bind = Some("127.0.0.1:9090".to_owned());
    s.validate().unwrap();
}

#[test]
fn secrets_never_show_in_debug() {
    let mut s = Settings::default();
    s.database.url = Some("postgres://auth:db-s3cret@db/auth".to_owned());
    s.redis.url = Some("redis://:redis-s3cret@cache:6379".to_owned());
    let c = s.validate().unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    let shown = serde_json::to_string(&s.effective(&c)).unwrap();
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn the_ui_settings_are_checked_and_shown() {
    let mut s = Settings::default();
    s.ui.product_name = "Acme ID".to_owned();
    s.ui.accent_color = "#7A1F5C".to_owned();
    s.ui.logo_url = Some("/brand/logo.svg".to_owned());
    s.ui.support_email = Some("help@acme.example".to_owned());
    s.ui.default_language = auth_core::Language::De;
    let c = s.validate().unwrap();
    assert_eq!(
        c.relying_party.name, "Acme ID",
        "passkey prompts name the product"
    );
    assert_eq!(c.mail.sender.product_name(), "Acme ID");
    let page = &c.mail.ui.page;
    assert_eq!(page.accent.light(), "#7a1f5c");
    assert_eq!(page.default_language, auth_core::Language::De);
    let shown = s.effective(&c);
    assert_eq!(shown.ui.accent_color, "#7a1f5c");
    let json = serde_json::to_value(&shown).unwrap();
    assert_eq!(json["ui"]["default_language"], "de");
    assert_eq!(json["ui"]["product_name"], "Acme ID");

    for (setting, value, why) in [
        ("accent", "#ffcc00", "ui.accent_color"),
        ("accent", "yellow", "ui.accent_color"),
        ("logo", "http://cdn.example/logo.png", "ui.logo_url"),
        (
            "support",
            "a@example.com, b@example.com",
            "ui.support_email",
        ),
        ("product", "", "ui.product_name"),
    ] {
        let mut s = Settings::default();
        match setting {
            "accent" => s.ui.accent_color = value.to_owned(),
            "logo" => s.ui.logo_url = Some(value.to_owned()),
            "support" => s.ui.support_email = Some(value.to_owned()),
            _ => s.ui.product_name = value.to_owned(),
        }
        let e = refused(&s);
        assert!(e.starts_with(why), "{value}: {e}");
    }
    let e = refused(&Settings {
        ui: ui::UiSettings {
            accent_color: "#ffcc00".to_owned(),
            ..ui::UiSettings::default()
        },
        ..Settings::default()
    });
    assert!(e.contains("contrast") && e.contains("4.5:1"), "{e}");
}

#[test]
fn a_templates_dir_is_read_at_start_and_a_bad_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let locales = dir.path().join("locales/de");
    std::fs::create_dir_all(&locales).unwrap();
    std::fs::write(locales.join("page.ftl"), "language-chooser = Sprachwahl\n").unwrap();
    let mut s = Settings::default();
    s.ui.templates_dir = Some(dir.path().to_owned());
    let c = s.validate().unwrap();
    let page = &c.mail.ui.page;
    assert_eq!(
        page.catalog
            .format(auth_core::Language::De, "language-chooser", &[]),
        "Sprachwahl"
    );
    std::fs::write(locales.join("mail.ftl"), "no-such-message = x\n").unwrap();
    let e = format!("{:#}", s.validate().expect_err("refused"));
    assert!(e.starts_with("ui.templates_dir"), "{e}");
    assert!(
        e.contains("mail.ftl") && e.contains("no-such-message"),
        "{e}"
    );
    s.ui.templates_dir = Some(dir.path().join("missing"));
    assert!(refused(&s).starts_with("ui.templates_dir"));
}
