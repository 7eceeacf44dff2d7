//! Webhooks end to end: the real server posts its security events to a real HTTP receiver
//! (`tests/webhooks/receiver.py`) that verifies every signature with the Standard Webhooks
//! reference library from PyPI. Each event arrives, signed, in order; a receiver that fails for a
//! while gets retries; a server killed with SIGKILL mid-delivery delivers everything after its
//! restart (at least once: duplicates carry the same `webhook-id`); two nodes on one PostgreSQL
//! deliver each event once.

use auth_core::ports::{OsRng, Rng};
use auth_testsupport::Device;
use base64::Engine;
use e2e::{Server, Session, service_env, unique_email};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The origin the server is configured with (its default public URL).
const ORIGIN: &str = "http://localhost:8080";

/// A running receiver.
struct Receiver {
    child: Child,
    port: u16,
    log: PathBuf,
    secret_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Starts `receiver.py` with a fresh secret and `args` (`--fail-first N`, `--hold-first S`).
    fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut key = [0u8; 32];
        OsRng.fill(&mut key);
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let secret_file = dir.path().join("webhook-secret");
        std::fs::write(&secret_file, &secret).unwrap();
        let log = dir.path().join("received.jsonl");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("webhooks/receiver.py");
        let mut child = Command::new(service_env("AUTH_TEST_WEBHOOK_PYTHON"))
            .arg(script)
            .arg(&secret)
            .arg(&log)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the receiver did not start (is standardwebhooks installed? run cargo xtask services): {line:?}"));
        Self {
            child,
            port,
            log,
            secret_file,
            _dir: dir,
        }
    }

    /// The settings that point a server at this receiver, with short retries.
    fn settings(&self) -> Vec<(String, String)> {
        vec![
            (
                "AUTH_WEBHOOKS".to_owned(),
                format!(
                    "[{{url=\"http://127.0.0.1:{}/hook\",secret_file=\"{}\"}}]",
                    self.port,
                    self.secret_file.display()
                ),
            ),
            (
                "AUTH_WEBHOOK_DELIVERY__FIRST_RETRY".to_owned(),
                "200ms".to_owned(),
            ),
            (
                "AUTH_WEBHOOK_DELIVERY__MAX_RETRY".to_owned(),
                "1s".to_owned(),
            ),
            (
                "AUTH_WEBHOOK_DELIVERY__POLL_INTERVAL".to_owned(),
                "100ms".to_owned(),
            ),
            ("AUTH_WEBHOOK_DELIVERY__TIMEOUT".to_owned(), "2s".to_owned()),
        ]
    }

    /// Every line of the log.
    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The requests answered (or given up by the server while held), oldest first, of `account`.
    fn requests_of(&self, account: &str) -> Vec<Value> {
        let lines = self.lines();
        assert!(
            lines.iter().all(|l| l["verified"] == true),
            "every request carries a valid signature: {lines:?}"
        );
        lines
            .into_iter()
            .filter(|l| l.get("finished").is_some() && l["data"]["account_id"] == account)
            .collect()
    }

    /// The events of `account` the receiver accepted, first acceptance of each id, in order.
    fn accepted_of(&self, account: &str) -> Vec<Value> {
        let mut seen = HashSet::new();
        self.requests_of(account)
            .into_iter()
            .filter(|l| l["status"] == 204 && seen.insert(l["id"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// Waits until `account`'s accepted events include `kind`, then returns them.
    fn wait_for(&self, account: &str, kind: &str, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let accepted = self.accepted_of(account);
            if accepted.iter().any(|l| l["type"] == kind) {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} event of {account} within {limit:?}; received: {:?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn with(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn add_passkey(s: &Server, session: &Session) {
    let mut device = Device::synced(ORIGIN);
    let options = s.authed(
        "POST",
        "/v1/passkeys/register/options",
        &session.access,
        None,
    );
    assert_eq!(options.status, 200, "{}", options.text);
    let credential = block_on(device.create(&options.json["options"])).expect("a credential");
    let body = json!({ "ceremony_id": options.json["ceremony_id"], "credential": credential, "name": "Laptop" });
    let added = s.authed(
        "POST",
        "/v1/passkeys/register/finish",
        &session.access,
        Some(body),
    );
    assert_eq!(added.status, 201, "{}", added.text);
}

fn change_email(s: &Server, session: &Session, to: &str) {
    let started = s.authed(
        "POST",
        "/v1/me/email",
        &session.access,
        Some(json!({ "email": to })),
    );
    assert_eq!(started.status, 202, "{}", started.text);
    let code = s.mail_to(to).code().expect("a code to the new address");
    let done = s.authed(
        "POST",
        "/v1/me/email/verify",
        &session.access,
        Some(json!({ "attempt_token": started.json["attempt_token"], "code": code })),
    );
    assert_eq!(done.status, 200, "{}", done.text);
}

const LONG: Duration = Duration::from_secs(30);

macro_rules! suite {
    () => {
        #[test]
        fn each_event_arrives_once_signed_and_in_order() {
            let receiver = Receiver::start(&[]);
            let s = start(&with(&receiver.settings()));
            let email = unique_email("hooks");
            let first = s.sign_up(&email, "Hooked");
            let again = s.sign_in(&email);
            add_passkey(&s, &again);
            change_email(&s, &again, &unique_email("hooks-moved"));
            let gone = s.authed("DELETE", "/v1/me", &again.access, None);
            assert_eq!(gone.status, 204, "{}", gone.text);

            let accepted = receiver.wait_for(&first.user_id, "account_deleted", LONG);
            assert_eq!(
                kinds(&accepted),
                [
                    "account_created",
                    "signed_in",
                    "passkey_added",
                    "email_changed",
                    "account_deleted"
                ]
            );
            assert_eq!(accepted[1]["data"]["method"], "email_code");
            assert_eq!(accepted[2]["data"]["passkey_name"], "Laptop");
            let requests = receiver.requests_of(&first.user_id);
            assert_eq!(
                requests.len(),
                5,
                "each event once, with no failure to retry: {requests:?}"
            );
            let text = s.request("GET", "/metrics", &[], None).text;
            assert!(text.contains("auth_webhook_delivered 5"), "{text}");
        }

        #[test]
        fn a_receiver_that_fails_for_a_while_gets_the_event_once_it_recovers() {
            let receiver = Receiver::start(&["--fail-first", "3"]);
            let s = start(&with(&receiver.settings()));
            let email = unique_email("hooks-retry");
            let account = s.sign_up(&email, "Patient");
            s.sign_in(&email);
            let accepted = receiver.wait_for(&account.user_id, "signed_in", LONG);
            assert_eq!(kinds(&accepted), ["account_created", "signed_in"]);
            let requests = receiver.requests_of(&account.user_id);
            let statuses: Vec<&Value> = requests.iter().map(|r| &r["status"]).collect();
            assert_eq!(statuses, [500, 500, 500, 204, 204], "{requests:?}");
            let first_id = &requests[0]["id"];
            assert!(
                requests[..4].iter().all(|r| &r["id"] == first_id),
                "the retries are the same event"
            );
            let text = s.request("GET", "/metrics", &[], None).text;
            assert!(text.contains("auth_webhook_failed_attempts 3"), "{text}");
            assert!(text.contains("auth_webhook_delivered 2"), "{text}");
        }

        #[test]
        fn a_server_killed_mid_delivery_delivers_every_event_after_its_restart() {
            let receiver = Receiver::start(&["--hold-first", "5"]);
            let settings = receiver.settings();
            let mut s = start_own(&with(&settings));
            let email = unique_email("hooks-kill");
            let account = s.sign_up(&email, "Crashed");
            s.sign_in(&email);
            s.sign_in(&email);
            // The first delivery is in flight (the receiver holds it) when the server dies.
            let deadline = Instant::now() + LONG;
            while !receiver.lines().iter().any(|l| l["held"] == true) {
                assert!(Instant::now() < deadline, "no delivery started");
                std::thread::sleep(Duration::from_millis(50));
            }
            s.kill();
            let restarted = s.start_again(&with(&settings));
            let accepted = receiver.wait_for(&account.user_id, "signed_in", LONG);
            let deadline = Instant::now() + LONG;
            let mut accepted = accepted;
            while accepted.len() < 3 {
                assert!(Instant::now() < deadline, "{accepted:?}");
                std::thread::sleep(Duration::from_millis(100));
                accepted = receiver.accepted_of(&account.user_id);
            }
            assert_eq!(
                kinds(&accepted),
                ["account_created", "signed_in", "signed_in"]
            );
            let requests = receiver.requests_of(&account.user_id);
            let ids: HashSet<&str> = requests.iter().map(|r| r["id"].as_str().unwrap()).collect();
            assert_eq!(
                ids.len(),
                3,
                "duplicates only ever repeat an id: {requests:?}"
            );
            assert_ne!(
                accepted[0]["n"], 1,
                "the held delivery was made again after the restart: {requests:?}"
            );
            drop(restarted);
        }
    };
}

/// SQLite, the embedded defaults.
mod embedded {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::embedded(env)
    }

    /// A server of this test's own, which it may kill.
    fn start_own(env: &[(&str, &str)]) -> Server {
        Server::start_with(env)
    }

    suite!();
}

/// PostgreSQL, Redis and SMTP.
mod production {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::production(env)
    }

    /// A server of this test's own, which it may kill.
    fn start_own(env: &[(&str, &str)]) -> Server {
        Server::start_production(env)
    }

    suite!();

    /// Two nodes on one database, both delivering: every event arrives, and each exactly once
    /// (the receiver never fails, so no event is ever retried, and a claim keeps the other node
    /// off it).
    #[test]
    fn two_nodes_deliver_each_event_once() {
        let receiver = Receiver::start(&[]);
        let settings = receiver.settings();
        let a = Server::start_production(&with(&settings));
        let b = a.another_node(&with(&settings));
        let accounts: Vec<String> = (0..12)
            .map(|i| {
                let node = if i % 2 == 0 { &a } else { &b };
                node.sign_up(&unique_email("hooks-nodes"), "Node").user_id
            })
            .collect();
        for account in &accounts {
            receiver.wait_for(account, "account_created", LONG);
        }
        let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
        for account in &accounts {
            for r in receiver.requests_of(account) {
                *per_id
                    .entry(r["id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        assert_eq!(per_id.len(), accounts.len());
        assert!(per_id.values().all(|&n| n == 1), "{per_id:?}");
    }
}
