//! Delivery over SMTP to a real SMTP server that stores what it receives in a maildir.
//!
//! The server is named by `AUTH_TEST_SMTP_ADDR` (`host:port`) and `AUTH_TEST_SMTP_MAILDIR` (the
//! absolute path of its maildir). Without them these tests fail under CI (`CI` set) and are
//! skipped with a notice elsewhere; `SERVER_HOWTO` says how to start one.

use auth_core::EmailAddress;
use auth_core::code::OtpCode;
use auth_core::mail::{Mail, Message};
use auth_core::ports::{Mailer, OsRng};
use auth_smtp::{MailConfig, MailQueue, QueueConfig, Renderer, SmtpConfig, SmtpRelay};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

const SERVER_HOWTO: &str = "\
these tests need a real SMTP server that writes a maildir. From the workspace root:
    python3 -m venv target/tools/smtp-venv
    target/tools/smtp-venv/bin/pip install aiosmtpd
    target/tools/smtp-venv/bin/python -m aiosmtpd -n -l 127.0.0.1:2525 -c aiosmtpd.handlers.Mailbox \"$PWD/target/tools/smtp-maildir\" &
    AUTH_TEST_SMTP_ADDR=127.0.0.1:2525 AUTH_TEST_SMTP_MAILDIR=\"$PWD/target/tools/smtp-maildir\" cargo test -p auth-smtp";

struct Server {
    addr: String,
    maildir: PathBuf,
}

/// The server from the environment; `None` (after a notice) when it is not configured outside CI.
fn server() -> Option<Server> {
    match (
        std::env::var("AUTH_TEST_SMTP_ADDR"),
        std::env::var("AUTH_TEST_SMTP_MAILDIR"),
    ) {
        (Ok(addr), Ok(maildir)) if !addr.is_empty() && !maildir.is_empty() => Some(Server {
            addr,
            maildir: PathBuf::from(maildir),
        }),
        _ if std::env::var_os("CI").is_some() => {
            panic!("AUTH_TEST_SMTP_ADDR and AUTH_TEST_SMTP_MAILDIR are not set: {SERVER_HOWTO}")
        }
        _ => {
            eprintln!(
                "skipped: AUTH_TEST_SMTP_ADDR and AUTH_TEST_SMTP_MAILDIR are not set; {SERVER_HOWTO}"
            );
            None
        }
    }
}

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

fn login_mail(to: &str) -> (Mail, String) {
    let code = OtpCode::generate(&OsRng, 8);
    let grouped = code.display_grouped();
    let mail = Mail {
        to: EmailAddress::parse(to).unwrap(),
        name: None,
        language: auth_core::Language::En,
        message: Message::LoginCode {
            code,
            valid_minutes: 10,
        },
    };
    (mail, grouped)
}

/// What a delivered mail looked like, once parsed back.
#[derive(Debug)]
struct Found {
    subject: String,
    to: String,
    text: String,
    html: String,
}

/// Looks through the maildir for the mail whose subject carries `code`, for up to 10 seconds.
async fn find_in_maildir(maildir: &Path, code: &str) -> Option<Found> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(raw) = std::fs::read(entry.path()) else {
                    continue;
                };
                let Some(parsed) = mail_parser::MessageParser::default().parse(&raw) else {
                    continue;
                };
                if parsed.subject().is_some_and(|s| s.contains(code)) {
                    return Some(Found {
                        subject: parsed.subject().unwrap_or_default().to_owned(),
                        to: parsed
                            .to()
                            .and_then(|to| to.first())
                            .and_then(|a| a.address())
                            .unwrap_or_default()
                            .to_owned(),
                        text: parsed
                            .body_text(0)
                            .map(|t| t.into_owned())
                            .unwrap_or_default(),
                        html: parsed
                            .body_html(0)
                            .map(|t| t.into_owned())
                            .unwrap_or_default(),
                    });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn a_code_mail_goes_through_the_queue_over_smtp_to_the_server() {
    let Some(server) = server() else { return };
    let relay = SmtpRelay::new(&SmtpConfig::new(format!("smtp://{}", server.addr))).unwrap();
    let queue = MailQueue::start(renderer(), Arc::new(relay), QueueConfig::default()).unwrap();
    let (mail, code) = login_mail("smtp-test@example.com");

    queue.send(mail).await.unwrap();
    queue.shutdown(Duration::from_secs(30)).await.unwrap();

    let stats = queue.stats();
    assert_eq!((stats.sent, stats.failed), (1, 0), "{stats:?}");
    let found = find_in_maildir(&server.maildir, &code)
        .await
        .expect("the mail is not in the maildir");
    assert_eq!(found.subject, format!("Your Example sign-in code: {code}"));
    assert_eq!(found.to, "smtp-test@example.com");
    assert!(found.text.contains(&code), "{}", found.text);
    assert!(found.html.contains(&code));
    assert!(found.text.contains("https://auth.example.com/"));
}

#[tokio::test]
async fn a_relay_that_is_down_neither_slows_send_nor_loses_the_mail() {
    let Some(server) = server() else { return };
    // A port that nothing listens on: connecting is refused until the relay "comes up" below.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let relay = SmtpRelay::new(&SmtpConfig {
        timeout: Duration::from_secs(5),
        ..SmtpConfig::new(format!("smtp://127.0.0.1:{port}"))
    })
    .unwrap();
    let config = QueueConfig {
        max_attempts: 200,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..QueueConfig::default()
    };
    let queue = MailQueue::start(renderer(), Arc::new(relay), config).unwrap();
    let (mail, code) = login_mail("down-test@example.com");

    let started = Instant::now();
    queue.send(mail).await.unwrap();
    let took = started.elapsed();
    // A sanity bound, not a timing test: send only puts the mail into a channel.
    assert!(took < Duration::from_millis(100), "send took {took:?}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.stats().retries < 2 {
        assert!(
            Instant::now() < deadline,
            "no retries seen: {:?}",
            queue.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(queue.stats().sent, 0);

    // The relay comes up at the address the queue keeps trying: a forwarder to the real server.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let forwarder = tokio::spawn(forward(listener, server.addr.clone()));
    queue.shutdown(Duration::from_secs(30)).await.unwrap();
    forwarder.abort();

    let stats = queue.stats();
    assert_eq!((stats.sent, stats.failed), (1, 0), "{stats:?}");
    let found = find_in_maildir(&server.maildir, &code)
        .await
        .expect("the mail is not in the maildir");
    assert_eq!(found.to, "down-test@example.com");
    assert!(found.text.contains(&code));
}

/// Accepts connections and pipes each one to `upstream`.
async fn forward(listener: TcpListener, upstream: String) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
