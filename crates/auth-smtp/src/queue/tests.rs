//! Queue behaviour against transports that misbehave on purpose, and the file outbox end to end.

use super::*;
use crate::config::MailConfig;
use crate::outbox::FileOutbox;
use crate::transport::Outgoing;
use auth_core::EmailAddress;
use auth_core::code::OtpCode;
use auth_core::mail::Message;
use std::sync::atomic::AtomicU32;
use std::time::Instant;
use tokio::sync::Notify;

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

fn login(to: &str, code: &str) -> Mail {
    Mail {
        to: EmailAddress::parse(to).unwrap(),
        name: None,
        language: auth_core::Language::En,
        message: Message::LoginCode {
            code: OtpCode::parse(code, 8).unwrap(),
            valid_minutes: 10,
        },
    }
}

fn fast() -> QueueConfig {
    QueueConfig {
        capacity: 16,
        concurrency: 2,
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        attempt_timeout: Duration::from_secs(5),
    }
}

/// Fails the first `fail` attempts (permanently if asked), then keeps what it is given.
#[derive(Debug, Default)]
struct Flaky {
    fail: u32,
    permanent: bool,
    attempts: AtomicU32,
    delivered: Mutex<Vec<Outgoing>>,
    delay: Duration,
}

#[async_trait]
impl Transport for Flaky {
    async fn deliver(&self, mail: &Outgoing) -> Result<(), DeliveryError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if n <= self.fail {
            let why = "relay said no to <bob@example.com>";
            return Err(if self.permanent {
                DeliveryError::permanent(why)
            } else {
                DeliveryError::transient(why)
            });
        }
        self.delivered.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// Never answers.
#[derive(Debug, Default)]
struct Hanging {
    entered: Notify,
    attempts: AtomicU32,
}

#[async_trait]
impl Transport for Hanging {
    async fn deliver(&self, _: &Outgoing) -> Result<(), DeliveryError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.entered.notify_one();
        std::future::pending().await
    }
}

#[tokio::test]
async fn send_returns_at_once_even_when_the_transport_hangs_and_the_queue_is_full() {
    let transport = Arc::new(Hanging::default());
    let config = QueueConfig {
        capacity: 1,
        concurrency: 1,
        ..fast()
    };
    let queue = MailQueue::start(renderer(), transport.clone(), config).unwrap();

    let started = Instant::now();
    queue
        .send(login("a@example.com", "AAAA1111"))
        .await
        .unwrap();
    transport.entered.notified().await; // the worker holds the first mail inside the transport
    let before = Instant::now();
    queue
        .send(login("b@example.com", "BBBB2222"))
        .await
        .unwrap(); // waits in the channel
    let third = queue.send(login("c@example.com", "CCCC3333")).await;
    let elapsed = before.elapsed();

    assert!(matches!(third, Err(MailError::QueueFull)));
    // A sanity bound, not a timing test: nothing in send waits on the transport.
    assert!(
        elapsed < Duration::from_millis(100),
        "send took {elapsed:?}"
    );
    let stats = queue.stats();
    assert_eq!(
        (stats.queued, stats.rejected, stats.depth, stats.sent),
        (2, 1, 2, 0)
    );

    let result = queue.shutdown(Duration::from_millis(50)).await;
    assert_eq!(result, Err(ShutdownTimedOut { undelivered: 2 }));
    assert!(matches!(
        queue.send(login("d@example.com", "DDDD4444")).await,
        Err(MailError::QueueFull)
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_the_mail_delivered_once() {
    let transport = Arc::new(Flaky {
        fail: 3,
        ..Flaky::default()
    });
    let queue = MailQueue::start(renderer(), transport.clone(), fast()).unwrap();
    queue
        .send(login("bob@example.com", "ABCD2345"))
        .await
        .unwrap();
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    assert_eq!(transport.attempts.load(Ordering::SeqCst), 4);
    let delivered = transport.delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].kind(), "login_code");
    let stats = queue.stats();
    assert_eq!(
        (stats.sent, stats.retries, stats.failed, stats.depth),
        (1, 3, 0, 0)
    );
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let transport = Arc::new(Flaky {
        fail: u32::MAX,
        ..Flaky::default()
    });
    let config = QueueConfig {
        max_attempts: 3,
        ..fast()
    };
    let queue = MailQueue::start(renderer(), transport.clone(), config).unwrap();
    queue
        .send(login("bob@example.com", "ABCD2345"))
        .await
        .unwrap();
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    assert_eq!(transport.attempts.load(Ordering::SeqCst), 3);
    let stats = queue.stats();
    assert_eq!(
        (stats.sent, stats.retries, stats.failed, stats.depth),
        (0, 2, 1, 0)
    );
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried() {
    let transport = Arc::new(Flaky {
        fail: 1,
        permanent: true,
        ..Flaky::default()
    });
    let queue = MailQueue::start(renderer(), transport.clone(), fast()).unwrap();
    queue
        .send(login("bob@example.com", "ABCD2345"))
        .await
        .unwrap();
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    assert_eq!(transport.attempts.load(Ordering::SeqCst), 1);
    let stats = queue.stats();
    assert_eq!((stats.sent, stats.retries, stats.failed), (0, 0, 1));
}

#[tokio::test]
async fn a_hanging_attempt_times_out_and_frees_its_slot() {
    let transport = Arc::new(Hanging::default());
    let config = QueueConfig {
        concurrency: 1,
        max_attempts: 2,
        attempt_timeout: Duration::from_millis(20),
        ..fast()
    };
    let queue = MailQueue::start(renderer(), transport.clone(), config).unwrap();
    queue
        .send(login("a@example.com", "AAAA1111"))
        .await
        .unwrap();
    queue
        .send(login("b@example.com", "BBBB2222"))
        .await
        .unwrap();
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    assert_eq!(transport.attempts.load(Ordering::SeqCst), 4);
    let stats = queue.stats();
    assert_eq!((stats.failed, stats.retries, stats.depth), (2, 2, 0));
}

#[tokio::test]
async fn shutdown_drains_everything_queued_and_then_refuses_mail() {
    let transport = Arc::new(Flaky {
        delay: Duration::from_millis(5),
        ..Flaky::default()
    });
    let config = QueueConfig {
        concurrency: 1,
        ..fast()
    };
    let queue = MailQueue::start(renderer(), transport.clone(), config).unwrap();
    for i in 0..10 {
        queue
            .send(login(&format!("user{i}@example.com"), "ABCD2345"))
            .await
            .unwrap();
    }
    assert!(
        queue.stats().depth > 0,
        "the test must shut down with mail still pending"
    );
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    assert_eq!(transport.delivered.lock().unwrap().len(), 10);
    assert!(matches!(
        queue.send(login("late@example.com", "ABCD2345")).await,
        Err(MailError::QueueFull)
    ));
    let stats = queue.stats();
    assert_eq!(
        (stats.queued, stats.sent, stats.rejected, stats.depth),
        (10, 10, 1, 0)
    );
    assert_eq!(
        queue.shutdown(Duration::from_secs(1)).await,
        Ok(()),
        "a second shutdown returns at once"
    );
}

#[tokio::test]
async fn the_outbox_writes_a_parseable_eml_with_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let outbox_dir = dir.path().join("outbox");
    let outbox = Arc::new(FileOutbox::new(&outbox_dir).unwrap());
    let queue = MailQueue::start(renderer(), outbox, fast()).unwrap();
    queue
        .send(login("bob@example.com", "WXYZ6789"))
        .await
        .unwrap();
    queue.shutdown(Duration::from_secs(10)).await.unwrap();

    let files: Vec<_> = std::fs::read_dir(&outbox_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Your Example sign-in code: WXYZ-6789")
    );
    let to = parsed
        .to()
        .and_then(|to| to.first())
        .and_then(|a| a.address())
        .unwrap();
    assert_eq!(to, "bob@example.com");
    assert!(parsed.body_text(0).unwrap().contains("WXYZ-6789"));
    assert!(parsed.body_html(0).unwrap().contains("WXYZ-6789"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&outbox_dir).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the outbox is readable by others: {mode:o}"
        );
    }
}

#[tokio::test]
async fn logs_name_the_kind_and_masked_recipient_but_never_the_code_or_address() {
    let logs = Arc::new(Capture::default());
    let _guard = tracing::subscriber::set_default(Arc::clone(&logs));
    // Tests on other threads may have registered the queue's log call sites while only the
    // global no-op subscriber existed, which caches them as never wanted; ask every call site
    // again now that this thread's subscriber exists.
    tracing::callsite::rebuild_interest_cache();
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(Flaky {
        fail: 1,
        ..Flaky::default()
    });
    let outbox = Arc::new(FileOutbox::new(dir.path()).unwrap());
    for transport in [flaky as Arc<dyn Transport>, outbox] {
        let queue = MailQueue::start(renderer(), transport, fast()).unwrap();
        queue
            .send(login("bob.smith@example.com", "QRSTWXYZ"))
            .await
            .unwrap();
        queue.shutdown(Duration::from_secs(10)).await.unwrap();
    }

    let text = logs.0.lock().unwrap().clone();
    assert!(text.contains("will retry"), "{text}");
    assert!(text.contains("written to the outbox"), "{text}");
    assert!(
        text.contains("login_code") && text.contains("b***@example.com"),
        "{text}"
    );
    // Letters only: a fragment of digits could turn up by chance in the outbox file's random name.
    for secret in ["QRST", "WXYZ", "bob.smith", "bob@"] {
        assert!(!text.contains(secret), "the log shows {secret:?}: {text}");
    }
}

#[test]
fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
    let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
    for (attempt, full) in [
        (1, 100),
        (2, 200),
        (3, 400),
        (4, 800),
        (5, 1600),
        (6, 2000),
        (40, 2000),
    ] {
        for _ in 0..50 {
            let wait = backoff(base, max, attempt);
            let full = Duration::from_millis(full);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused() {
    let t: Arc<dyn Transport> = Arc::new(Flaky::default());
    for config in [
        QueueConfig {
            capacity: 0,
            ..fast()
        },
        QueueConfig {
            concurrency: 0,
            ..fast()
        },
        QueueConfig {
            max_attempts: 0,
            ..fast()
        },
        QueueConfig {
            max_delay: Duration::ZERO,
            ..fast()
        },
        QueueConfig {
            attempt_timeout: Duration::ZERO,
            ..fast()
        },
    ] {
        assert!(matches!(
            MailQueue::start(renderer(), Arc::clone(&t), config),
            Err(ConfigError::Queue(_))
        ));
    }
}

#[test]
fn starting_outside_a_runtime_fails_instead_of_panicking() {
    let t: Arc<dyn Transport> = Arc::new(Flaky::default());
    assert!(matches!(
        MailQueue::start(renderer(), t, fast()),
        Err(ConfigError::NoRuntime)
    ));
}

/// A subscriber that writes every event's fields into one string.
#[derive(Debug, Default)]
struct Capture(Mutex<String>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn fmt::Debug| {
                line.push_str(&format!("{}={value:?} ", field.name()));
            },
        );
        let mut all = self.0.lock().unwrap();
        all.push_str(&line);
        all.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
