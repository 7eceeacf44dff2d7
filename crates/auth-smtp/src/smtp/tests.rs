//! The SMTP relay: URL and setting checks, and delivery to a real SMTP server on loopback.

use super::sink::{Options, Sink, Tls, test_ca, tls_acceptor};
use super::*;
use crate::config::MailConfig;
use crate::queue::{MailQueue, QueueConfig};
use crate::render::Renderer;
use auth_core::EmailAddress;
use auth_core::code::OtpCode;
use auth_core::mail::{Mail, Message};
use auth_core::ports::Mailer;
use std::sync::Arc;
use std::time::Instant;

fn renderer() -> Renderer {
    Renderer::new(
        MailConfig::new(
            "Example <no-reply@example.com>",
            "https://auth.example.com",
            "Example",
        )
        .unwrap(),
    )
}

fn login(n: usize) -> Mail {
    Mail {
        to: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
        name: None,
        language: auth_core::Language::En,
        message: Message::LoginCode {
            code: OtpCode::parse("ABCD2345", 8).unwrap(),
            valid_minutes: 10,
        },
    }
}

#[test]
fn accepts_lettre_url_forms_with_their_ports_tls_and_ehlo_names() {
    let required = Mode::StartTls { required: true };
    let opportunistic = Mode::StartTls { required: false };
    for (url, host, port, mode, hello) in [
        ("smtp://127.0.0.1:25", "127.0.0.1", 25, Mode::Plain, None),
        (
            "smtp://relay.example.com",
            "relay.example.com",
            25,
            Mode::Plain,
            None,
        ),
        ("smtp://[::1]:2525", "::1", 2525, Mode::Plain, None),
        (
            "smtp://relay.example.com:2587?tls=opportunistic",
            "relay.example.com",
            2587,
            opportunistic,
            None,
        ),
        (
            "smtp://relay.example.com?tls=required",
            "relay.example.com",
            587,
            required,
            None,
        ),
        (
            "smtps://relay.example.com",
            "relay.example.com",
            465,
            Mode::Implicit,
            None,
        ),
        (
            "smtps://relay.example.com:4465/mail.example.com",
            "relay.example.com",
            4465,
            Mode::Implicit,
            Some("mail.example.com"),
        ),
    ] {
        let e = parse_url(url).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.mode, e.hello.as_deref()),
            (host, port, mode, hello),
            "{url}"
        );
    }
    assert!(Mode::Implicit.encrypted() && required.encrypted());
    assert!(!Mode::Plain.encrypted() && !opportunistic.encrypted());
}

#[test]
fn rejects_urls_that_would_leak_or_mislead() {
    for url in [
        "smtps://user:secret@relay.example.com",
        "smtps://user@relay.example.com",
        "smtp://relay.example.com?tls=starttls",
        "smtp://relay.example.com?tls=required&tls=opportunistic",
        "smtp://relay.example.com?timeout=3",
        "smtps://relay.example.com?tls=required",
        "http://relay.example.com",
        "relay.example.com:25",
        "smtp://",
    ] {
        assert!(
            matches!(parse_url(url), Err(ConfigError::SmtpUrl(_))),
            "{url}"
        );
    }
    let e = parse_url("smtps://user:hunter2@relay.example.com").unwrap_err();
    assert!(!e.to_string().contains("hunter2"));
}

#[tokio::test]
async fn builds_tls_transports_and_never_shows_the_password() {
    let config = SmtpConfig {
        username: Some("mailer".to_owned()),
        password: Some(SmtpPassword::new("hunter2")),
        ..SmtpConfig::new("smtps://relay.example.com")
    };
    let relay = SmtpRelay::new(&config).unwrap();
    let starttls = SmtpRelay::new(&SmtpConfig {
        url: "smtp://relay.example.com?tls=required".to_owned(),
        ..config.clone()
    });
    assert!(starttls.is_ok());
    for shown in [format!("{config:?}"), format!("{relay:?}")] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(format!("{config:?}").contains("SmtpPassword([redacted])"));
}

#[tokio::test]
async fn refuses_settings_that_cannot_work() {
    let plain = SmtpConfig {
        username: Some("u".to_owned()),
        password: Some(SmtpPassword::new("p")),
        ..SmtpConfig::new("smtp://relay.example.com")
    };
    assert!(matches!(
        SmtpRelay::new(&plain),
        Err(ConfigError::SmtpSetting(_))
    ));
    let half = SmtpConfig {
        username: Some("u".to_owned()),
        ..SmtpConfig::new("smtps://relay.example.com")
    };
    assert!(matches!(
        SmtpRelay::new(&half),
        Err(ConfigError::SmtpSetting(_))
    ));
    let no_pool = SmtpConfig {
        max_connections: 0,
        ..SmtpConfig::new("smtp://127.0.0.1:25")
    };
    assert!(matches!(
        SmtpRelay::new(&no_pool),
        Err(ConfigError::SmtpSetting(_))
    ));
    let no_time = SmtpConfig {
        timeout: Duration::ZERO,
        ..SmtpConfig::new("smtp://127.0.0.1:25")
    };
    assert!(matches!(
        SmtpRelay::new(&no_time),
        Err(ConfigError::SmtpSetting(_))
    ));
}

#[test]
fn outside_a_runtime_setup_fails_instead_of_panicking() {
    assert!(matches!(
        SmtpRelay::new(&SmtpConfig::new("smtp://127.0.0.1:25")),
        Err(ConfigError::NoRuntime)
    ));
}

/// The regression guard for the Nagle stall. lettre writes a mail's body and its closing
/// `\r\n.\r\n` in two writes; without `TCP_NODELAY` the second waits for the ACK of the first,
/// which the relay's kernel delays by about 40 ms, on every mail. 200 mails over 4 connections
/// would then take at least 200 x 40 ms / 4 = 2 s, and that is the bound: with the stall the
/// run cannot finish under it, without it the work takes a fraction of it (a few ms per mail in a
/// debug build on a loaded 2-core machine, while other test binaries run beside it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_mails_over_four_connections_take_well_under_the_nagle_stall() {
    const MAILS: usize = 200;
    const CONNECTIONS: u32 = 4;
    let stall_bound = Duration::from_millis(40) * MAILS as u32 / CONNECTIONS;
    let sink = Sink::start(Options::default()).await;
    let relay = SmtpRelay::new(&SmtpConfig {
        max_connections: CONNECTIONS,
        ..SmtpConfig::new(format!("smtp://{}", sink.addr))
    })
    .unwrap();
    let config = QueueConfig {
        capacity: MAILS,
        concurrency: CONNECTIONS as usize,
        ..QueueConfig::default()
    };
    let queue = MailQueue::start(renderer(), Arc::new(relay), config).unwrap();

    let started = Instant::now();
    for n in 0..MAILS {
        queue.send(login(n)).await.unwrap();
    }
    queue.shutdown(Duration::from_secs(60)).await.unwrap();
    let took = started.elapsed();

    let stats = queue.stats();
    assert_eq!((stats.sent, stats.failed), (MAILS as u64, 0), "{stats:?}");
    assert_eq!(sink.mails().len(), MAILS);
    assert!(
        took < stall_bound,
        "{MAILS} mails took {took:?}, not under {stall_bound:?}: is TCP_NODELAY set?"
    );
}

fn outgoing(to: &str) -> Outgoing {
    let mut mail = login(0);
    mail.to = EmailAddress::parse(to).unwrap();
    renderer().build(&mail).unwrap()
}

fn relay_to(url: String) -> SmtpRelay {
    SmtpRelay::with_roots(&SmtpConfig::new(url), test_ca()).unwrap()
}

fn with_credentials(url: String) -> SmtpConfig {
    SmtpConfig {
        username: Some("mailer".to_owned()),
        password: Some(SmtpPassword::new("hunter2")),
        ..SmtpConfig::new(url)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reused_and_never_more_than_the_limit() {
    let sink = Sink::start(Options::default()).await;
    let relay = SmtpRelay::new(&SmtpConfig {
        max_connections: 2,
        ..SmtpConfig::new(format!("smtp://{}", sink.addr))
    })
    .unwrap();
    // More deliveries at once than connections: the extra ones wait for a free connection.
    let config = QueueConfig {
        concurrency: 8,
        ..QueueConfig::default()
    };
    let queue = MailQueue::start(renderer(), Arc::new(relay), config).unwrap();
    for n in 0..50 {
        queue.send(login(n)).await.unwrap();
    }
    queue.shutdown(Duration::from_secs(30)).await.unwrap();

    assert_eq!(queue.stats().sent, 50);
    assert_eq!(sink.mails().len(), 50);
    let connections = sink.connections();
    assert!((1..=2).contains(&connections), "{connections} connections");
}

#[tokio::test]
async fn a_connection_the_relay_closed_is_replaced_and_the_mail_still_goes_out() {
    let sink = Sink::start(Options {
        close_after: Some(1),
        ..Options::default()
    })
    .await;
    let relay = relay_to(format!("smtp://{}", sink.addr));
    for n in 0..3 {
        relay
            .deliver(&outgoing(&format!("user{n}@example.com")))
            .await
            .unwrap();
    }
    assert_eq!(sink.mails().len(), 3);
    assert_eq!(sink.connections(), 3);
}

#[tokio::test]
async fn a_refused_recipient_fails_for_good_and_the_next_mail_gets_a_fresh_session() {
    let sink = Sink::start(Options {
        reject: Some("bounce"),
        ..Options::default()
    })
    .await;
    let relay = relay_to(format!("smtp://{}", sink.addr));
    relay.deliver(&outgoing("first@example.com")).await.unwrap();

    let refused = relay
        .deliver(&outgoing("bounce@example.com"))
        .await
        .unwrap_err();
    assert!(refused.is_permanent(), "{refused}");
    assert!(!refused.to_string().contains("bounce@"), "{refused}");

    relay.deliver(&outgoing("after@example.com")).await.unwrap();
    let to: Vec<_> = sink.mails().into_iter().flat_map(|m| m.to).collect();
    assert_eq!(to, ["<first@example.com>", "<after@example.com>"]);
    assert_eq!(sink.connections(), 2, "the failed session is not reused");
}

#[tokio::test]
async fn smtps_speaks_tls_from_the_first_byte_then_authenticates_with_the_ehlo_name_from_the_path()
{
    let sink = Sink::start(Options {
        tls: Tls::Implicit(tls_acceptor()),
        ..Options::default()
    })
    .await;
    let config = with_credentials(format!(
        "smtps://localhost:{}/mail.example.com",
        sink.addr.port()
    ));
    let relay = SmtpRelay::with_roots(&config, test_ca()).unwrap();
    relay.deliver(&outgoing("tls@example.com")).await.unwrap();
    relay.deliver(&outgoing("tls@example.com")).await.unwrap();

    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.tls), "{mails:?}");
    assert!(
        mails[0]
            .auth
            .as_deref()
            .is_some_and(|a| a.starts_with("PLAIN"))
    );
    assert_eq!(mails[0].ehlo, "mail.example.com");
    assert!(mails[0].body.contains("ABCD-2345"));
    assert_eq!(sink.connections(), 1, "the TLS connection is reused");
}

#[tokio::test]
async fn starttls_required_upgrades_before_auth_and_sends_nothing_to_a_relay_without_it() {
    let starttls = Sink::start(Options {
        tls: Tls::Upgrade(tls_acceptor()),
        ..Options::default()
    })
    .await;
    let url = format!("smtp://localhost:{}?tls=required", starttls.addr.port());
    let relay = SmtpRelay::with_roots(&with_credentials(url), test_ca()).unwrap();
    relay.deliver(&outgoing("tls@example.com")).await.unwrap();
    let mails = starttls.mails();
    assert!(mails[0].tls && mails[0].auth.is_some(), "{mails:?}");

    let plain = Sink::start(Options::default()).await;
    let url = format!("smtp://localhost:{}?tls=required", plain.addr.port());
    let relay = SmtpRelay::with_roots(&with_credentials(url), test_ca()).unwrap();
    let refused = relay
        .deliver(&outgoing("tls@example.com"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("STARTTLS"), "{refused}");
    assert!(plain.mails().is_empty());
}

#[tokio::test]
async fn opportunistic_tls_upgrades_when_offered_and_stays_plain_otherwise() {
    let starttls = Sink::start(Options {
        tls: Tls::Upgrade(tls_acceptor()),
        ..Options::default()
    })
    .await;
    let plain = Sink::start(Options::default()).await;
    for (sink, encrypted) in [(&starttls, true), (&plain, false)] {
        let url = format!("smtp://localhost:{}?tls=opportunistic", sink.addr.port());
        relay_to(url)
            .deliver(&outgoing("maybe@example.com"))
            .await
            .unwrap();
        assert_eq!(sink.mails()[0].tls, encrypted);
    }
}

#[tokio::test]
async fn a_relay_whose_certificate_is_not_trusted_gets_no_mail() {
    let sink = Sink::start(Options {
        tls: Tls::Implicit(tls_acceptor()),
        ..Options::default()
    })
    .await;
    let config = SmtpConfig::new(format!("smtps://localhost:{}", sink.addr.port()));
    let relay = SmtpRelay::with_roots(&config, Vec::new()).unwrap();
    let refused = relay
        .deliver(&outgoing("tls@example.com"))
        .await
        .unwrap_err();
    assert!(!refused.is_permanent(), "{refused}");
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn a_relay_that_never_answers_fails_the_attempt_within_the_timeout() {
    let sink = Sink::start(Options {
        silent: true,
        ..Options::default()
    })
    .await;
    let relay = SmtpRelay::new(&SmtpConfig {
        timeout: Duration::from_millis(200),
        ..SmtpConfig::new(format!("smtp://{}", sink.addr))
    })
    .unwrap();
    let started = Instant::now();
    let failed = relay
        .deliver(&outgoing("slow@example.com"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!failed.is_permanent());
    assert!(failed.to_string().contains("did not answer"), "{failed}");
}
