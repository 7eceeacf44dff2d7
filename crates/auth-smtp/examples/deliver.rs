//! Delivery benchmark: renders and delivers COUNT sign-in code mails through the queue and the
//! SMTP relay at URL over CONNECTIONS connections, and prints mails per second.
//!
//! ```sh
//! smtp-sink -u nobody 127.0.0.1:2526 1000 &   # Postfix's sink (as root it needs -u), or any fast SMTP server
//! cargo run --release -p auth-smtp --example deliver -- smtp://127.0.0.1:2526 20000 8
//! ```
//!
//! The time runs from the first `send` until the queue has drained, so it covers rendering,
//! connecting and every SMTP exchange.

use auth_core::EmailAddress;
use auth_core::code::OtpCode;
use auth_core::mail::{Mail, Message};
use auth_core::ports::{Mailer, OsRng};
use auth_smtp::{MailConfig, MailQueue, QueueConfig, Renderer, SmtpConfig, SmtpRelay};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: deliver SMTP_URL [COUNT (default 10000)] [CONNECTIONS (default 8)]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(USAGE)?;
    let count: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let connections: u32 = args
        .next()
        .map_or(Ok(SmtpConfig::DEFAULT_CONNECTIONS), |a| a.parse())?;

    let renderer = Renderer::new(MailConfig::new(
        "Bench <no-reply@example.com>",
        "https://auth.example.com",
        "Bench",
    )?);
    let relay = SmtpRelay::new(&SmtpConfig {
        max_connections: connections,
        ..SmtpConfig::new(url)
    })?;
    let config = QueueConfig {
        capacity: count.max(1),
        concurrency: usize::try_from(connections)?,
        ..QueueConfig::default()
    };
    let queue = MailQueue::start(renderer, Arc::new(relay), config)?;
    let mails: Vec<Mail> = (0..count)
        .map(|n| Mail {
            to: EmailAddress::parse(&format!("user{n}@example.com")).expect("a valid address"),
            name: None,
            language: auth_core::Language::En,
            message: Message::LoginCode {
                code: OtpCode::generate(&OsRng, 8),
                valid_minutes: 10,
            },
        })
        .collect();

    let started = Instant::now();
    for mail in mails {
        queue.send(mail).await?;
    }
    queue.shutdown(Duration::from_secs(600)).await?;
    let took = started.elapsed();

    let stats = queue.stats();
    #[allow(clippy::print_stdout, reason = "a benchmark prints its result")]
    {
        println!(
            "{} mails delivered ({} failed, {} retries) over {connections} connections in {:.2} s: {:.0} mails/s",
            stats.sent,
            stats.failed,
            stats.retries,
            took.as_secs_f64(),
            stats.sent as f64 / took.as_secs_f64()
        );
    }
    Ok(())
}
