//! How many requests each email-code step sends to Redis, counted by a Redis of the test's own
//! (the slow log, logging every command, of a `redis-server` on a Unix socket that nothing else
//! uses): a start is
//! one script, a verify two whether the code is right or wrong, and a start for an unknown
//! address sends exactly what one for an account sends.

use auth_core::mail::Message;
use auth_core::ports::{Clock, MockWebAuthn, OsRng, SystemClock};
use auth_core::service::{ClientInfo, Ports};
use auth_core::testkit::ManualClock;
use auth_core::user::DisplayName;
use auth_core::{AuthService, EmailAddress, Policy};
use auth_jwt::{JwtIssuer, SigningKey};
use auth_memory::{MemoryMailer, MemoryStore};
use auth_redis::RedisStore;
use redis::Value;
use redis::aio::MultiplexedConnection;
use std::collections::BTreeMap;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A `redis-server` of this test's own, listening only on a Unix socket in a temporary directory.
struct OwnRedis {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            // Every command goes to the slow log, where the test counts them.
            .args([
                "--slowlog-log-slower-than",
                "0",
                "--slowlog-max-len",
                "100000",
            ])
            .arg("--unixsocket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (it is installed wherever the Redis tests run)");
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(socket.exists(), "redis-server opened its socket");
        Self {
            child,
            socket,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The commands a step sent, by name, with how often. The server logs every command in its slow
/// log; a command that a script runs is logged without a client address, so only what came over
/// the socket, one round trip each, is counted (and the counting's own `SLOWLOG` is left out).
async fn sent_by<F: Future>(
    admin: &mut MultiplexedConnection,
    socket: &str,
    step: F,
) -> (F::Output, BTreeMap<String, u64>) {
    let () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(admin)
        .await
        .expect("SLOWLOG RESET works");
    let out = step.await;
    let entries: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query_async(admin)
        .await
        .expect("SLOWLOG GET works");
    let mut sent = BTreeMap::new();
    for entry in entries {
        let Value::Array(fields) = entry else {
            panic!("a slow-log entry is an array");
        };
        let (Some(Value::Array(args)), Some(Value::BulkString(client))) =
            (fields.get(3), fields.get(4))
        else {
            panic!("a slow-log entry has its arguments and client");
        };
        let Some(Value::BulkString(name)) = args.first() else {
            panic!("a logged command has a name");
        };
        let name = String::from_utf8_lossy(name).to_lowercase();
        if String::from_utf8_lossy(client).starts_with(socket) && name != "slowlog" {
            *sent.entry(name).or_insert(0) += 1;
        }
    }
    (out, sent)
}

fn total(sent: &BTreeMap<String, u64>) -> u64 {
    sent.values().sum()
}

fn code_from(mailer: &MemoryMailer) -> String {
    mailer
        .take()
        .into_iter()
        .rev()
        .find_map(|mail| match mail.message {
            Message::SignupCode { code, .. } | Message::LoginCode { code, .. } => {
                Some(code.expose().to_owned())
            }
            _ => None,
        })
        .expect("a mail with a code")
}

fn wrong(code: &str) -> String {
    if code == "22222222" {
        "33333333"
    } else {
        "22222222"
    }
    .to_owned()
}

fn email(tag: &str) -> EmailAddress {
    auth_core::testkit::unique_email(tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_is_one_round_trip_and_a_verify_two_right_or_wrong() {
    let redis = OwnRedis::start().await;
    let store = RedisStore::connect(&redis.url(), "trips")
        .await
        .expect("the test's own Redis");
    let mut admin = redis::Client::open(redis.url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the test's own Redis");
    let socket = redis.socket.display().to_string();
    let memory = Arc::new(MemoryStore::new());
    let redis_store = Arc::new(store);
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::at(SystemClock.now()));
    let tokens = JwtIssuer::new(
        "https://auth.test",
        "auth",
        SigningKey::generate(&OsRng),
        [],
        &[7u8; 32],
    )
    .expect("an issuer")
    .with_clock(clock.clone());
    let ports = Ports {
        users: memory.clone(),
        sessions: memory.clone(),
        audit: memory.clone(),
        passkeys: memory.clone(),
        reverts: memory.clone(),
        ceremonies: memory,
        attempts: redis_store.clone(),
        limiter: redis_store.clone(),
        gate: redis_store,
        webauthn: Arc::new(MockWebAuthn::new()),
        mailer: mailer.clone(),
        tokens: Arc::new(tokens),
        clock: clock.clone(),
        rng: Arc::new(OsRng),
    };
    let service = AuthService::new(ports, Policy::default(), &[42u8; 32]).expect("a service");
    let client = ClientInfo::new(Some([192, 0, 2, 9].into()), 64, None);
    let name = || DisplayName::parse("Round Trip").expect("a name");

    // Once through every step first, so that Redis has loaded every script: the first use of a
    // script on a fresh server costs a load that later uses do not.
    let warm = email("warm");
    let started = service
        .start_signup(warm.clone(), name(), &client)
        .await
        .expect("a start");
    let code = code_from(&mailer);
    let _ = service
        .verify_code(&started.attempt_token, &wrong(&code), &client)
        .await;
    service
        .verify_code(&started.attempt_token, &code, &client)
        .await
        .expect("the right code");
    mailer.take();

    let member = email("member");
    let (started, sent) = sent_by(
        &mut admin,
        &socket,
        service.start_signup(member.clone(), name(), &client),
    )
    .await;
    let started = started.expect("a start");
    assert_eq!(
        (total(&sent), sent.get("evalsha")),
        (1, Some(&1)),
        "a start is one script: {sent:?}"
    );
    let code = code_from(&mailer);

    let (wrong_code, sent_wrong) = sent_by(
        &mut admin,
        &socket,
        service.verify_code(&started.attempt_token, &wrong(&code), &client),
    )
    .await;
    assert!(wrong_code.is_err(), "a wrong code is refused");
    let (right_code, sent_right) = sent_by(
        &mut admin,
        &socket,
        service.verify_code(&started.attempt_token, &code, &client),
    )
    .await;
    right_code.expect("the right code signs in");
    assert_eq!(
        (total(&sent_wrong), sent_wrong.get("evalsha")),
        (2, Some(&2)),
        "a wrong code is two scripts: {sent_wrong:?}"
    );
    assert_eq!(
        sent_right, sent_wrong,
        "a right code sends exactly what a wrong one sends"
    );

    // Past the minimum gap between two sends to one address.
    clock.advance(Duration::from_secs(60));
    let (known, sent_known) =
        sent_by(&mut admin, &socket, service.start_login(member, &client)).await;
    let (unknown, sent_unknown) = sent_by(
        &mut admin,
        &socket,
        service.start_login(email("nobody"), &client),
    )
    .await;
    let known = known.expect("a start");
    assert!(unknown.is_ok());
    assert_eq!(total(&sent_known), 1, "a login start is one script");
    assert_eq!(
        sent_known, sent_unknown,
        "a start for an unknown address sends exactly what one for an account sends"
    );

    // A resend reads the attempt it replaces first: a plain command, which the count sees too.
    clock.advance(Duration::from_secs(60));
    let (resent, sent) = sent_by(
        &mut admin,
        &socket,
        service.resend(&known.attempt_token, &client),
    )
    .await;
    resent.expect("a resend");
    assert_eq!(
        sent,
        BTreeMap::from([("evalsha".to_owned(), 1), ("hgetall".to_owned(), 1)]),
        "a resend is one read and one script"
    );
}
