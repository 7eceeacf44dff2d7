//! Test harness: starts the real `auth-server` binary on a free port with its own data directory,
//! talks to it over HTTP, and reads the codes it sends from delivered mail (the outbox `.eml`
//! files, or an SMTP server's mailbox) — never from a back door.

pub mod services;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where cargo put the server binary: beside this test's `deps` folder (or, for an example, the
/// `examples` folder), in the same profile.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join("auth-server");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p auth-server` (cargo xtask ci does)",
        bin.display()
    );
    bin
}

/// Settings every test server gets unless the test overrides them: generous limits, so that only
/// the tests about limits meet them.
pub const RELAXED: &[(&str, &str)] = &[
    ("AUTH_POLICY__LIMITS__SEND_GAP_PER_ADDRESS", "0s"),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_IP",
        "{limit=100000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS",
        "{limit=1000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS_TOTAL",
        "{limit=100000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_GLOBAL",
        "{limit=1000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__GUESSES_PER_IP",
        "{limit=100000,period=\"1h\"}",
    ),
];

/// A running server process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory (deleted on drop).
    pub data: std::sync::Arc<tempfile::TempDir>,
    /// Where its mail is delivered.
    pub mailbox: Mailbox,
    /// The production services it uses, if any.
    pub production: Option<std::sync::Arc<Production>>,
    agent: ureq::Agent,
}

/// A required test service setting, or a loud failure that says how to provide it.
pub fn service_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests need the real PostgreSQL, Redis and SMTP server. Start them and export \
             their addresses with `eval \"$(cargo xtask services --env)\"` (cargo xtask ci does this itself)"
        ),
    }
}

/// One fresh PostgreSQL database and Redis key prefix, shared by the nodes of one test and dropped
/// after them.
#[derive(Debug)]
pub struct Production {
    admin_url: String,
    /// The database name.
    pub database: String,
    /// `postgres://.../<database>`.
    pub database_url: String,
    /// `redis://...`.
    pub redis_url: String,
    /// The Redis key prefix.
    pub key_prefix: String,
    /// `smtp://host:port` of the SMTP server.
    pub smtp_url: String,
    /// The SMTP server's Maildir.
    pub maildir: PathBuf,
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Production {
    /// A fresh database (created now) and key prefix on the test services.
    pub fn new() -> Self {
        let admin_url = service_env("AUTH_TEST_DATABASE_URL");
        let suffix = unique_email("x").replace(['@', '.', '-'], "_");
        let database = format!("e2e_{}", &suffix[..suffix.len().min(50)]).to_lowercase();
        psql(&admin_url, &format!("CREATE DATABASE {database}"));
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the admin URL names a database");
        Self {
            database_url: format!("{base}/{database}"),
            database,
            admin_url,
            redis_url: service_env("AUTH_TEST_REDIS_URL"),
            key_prefix: format!("e2e-{}", &suffix[..suffix.len().min(40)]),
            smtp_url: format!("smtp://{}", service_env("AUTH_TEST_SMTP_ADDR")),
            maildir: PathBuf::from(service_env("AUTH_TEST_SMTP_MAILDIR")),
        }
    }

    /// The settings that point a node at these services.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AUTH_DATABASE__URL".to_owned(), self.database_url.clone()),
            ("AUTH_DATABASE__MAX_CONNECTIONS".to_owned(), "8".to_owned()),
            ("AUTH_REDIS__URL".to_owned(), self.redis_url.clone()),
            ("AUTH_REDIS__KEY_PREFIX".to_owned(), self.key_prefix.clone()),
            ("AUTH_MAIL__SMTP_URL".to_owned(), self.smtp_url.clone()),
        ]
    }
}

impl Default for Production {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Production {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        );
    }
}

impl Server {
    /// A server on the embedded defaults with relaxed limits.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server on the embedded defaults with relaxed limits, plus `env` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let data = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let outbox = Mailbox::Outbox(data.path().join("outbox"));
        Self::spawn(data, env, &[], outbox, None)
    }

    /// A server on PostgreSQL, Redis and the SMTP server (fresh database and key prefix).
    pub fn start_production(env: &[(&str, &str)]) -> Self {
        let production = std::sync::Arc::new(Production::new());
        Self::start_node(
            &production,
            std::sync::Arc::new(tempfile::tempdir().expect("temp dir")),
            env,
        )
    }

    /// Another node on the same services and secrets (the same data directory holds the secrets).
    pub fn start_node(
        production: &std::sync::Arc<Production>,
        data: std::sync::Arc<tempfile::TempDir>,
        env: &[(&str, &str)],
    ) -> Self {
        let mailbox = Mailbox::Maildir(production.maildir.clone());
        Self::spawn(
            data,
            env,
            &production.env(),
            mailbox,
            Some(production.clone()),
        )
    }

    /// A second node beside this one: same services, same secrets, plus `env`.
    pub fn another_node(&self, env: &[(&str, &str)]) -> Self {
        let production = self
            .production
            .as_ref()
            .expect("a second node needs the production services");
        Self::start_node(production, self.data.clone(), env)
    }

    /// A server on services the caller names (`services`, e.g. `AUTH_REDIS__URL`), reading mail
    /// from `mailbox`.
    pub fn start_on(services: &[(String, String)], mailbox: Mailbox, env: &[(&str, &str)]) -> Self {
        Self::spawn(
            std::sync::Arc::new(tempfile::tempdir().expect("temp dir")),
            env,
            services,
            mailbox,
            None,
        )
    }

    fn spawn(
        data: std::sync::Arc<tempfile::TempDir>,
        env: &[(&str, &str)],
        services: &[(String, String)],
        mailbox: Mailbox,
        production: Option<std::sync::Arc<Production>>,
    ) -> Self {
        let mut cmd = Command::new(server_binary());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AUTH_SERVER__BIND", "127.0.0.1:0")
            .env("AUTH_SERVER__DATA_DIR", data.path())
            .env("AUTH_SERVER__WORKERS", "2")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in services {
            cmd.env(k, v);
        }
        for (k, v) in RELAXED.iter().chain(env) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start auth-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let _ = tx.send(Ok(line[i + "listening on ".len()..].trim().to_owned()));
                }
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("[server] {line}");
                }
                if line.contains("invalid configuration") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(base)) => base,
            Ok(Err(line)) => panic!("the server refused its configuration: {line}"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not report its address within 30 s (run with TEST_LOG=1 to see its log)"
                );
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            child,
            base,
            data,
            mailbox,
            production,
            agent,
        }
    }

    /// The server process's id (for resource figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The public origin the server expects on cookie-authenticated changes (its default).
    pub fn origin(&self) -> &'static str {
        "http://localhost:8080"
    }

    /// Sends a request. `body` is sent as JSON when present.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = match body {
            Some(b) => {
                let req = req
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(b).expect("json"))
                    .expect("request");
                self.agent.run(req)
            }
            None => self.agent.run(req.body(()).expect("request")),
        };
        Reply::from(res.unwrap_or_else(|e| panic!("{method} {path}: {e}")))
    }

    /// Sends raw bytes with a content type.
    pub fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let url = format!("{}{path}", self.base);
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", content_type)
            .body(body.to_vec())
            .expect("request");
        Reply::from(
            self.agent
                .run(req)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}")),
        )
    }

    /// POST JSON.
    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, &[], Some(&body))
    }

    /// A request with a bearer token.
    pub fn authed(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(method, path, &[("authorization", &auth)], body.as_ref())
    }

    /// The outbox directory of the embedded mailer.
    pub fn outbox(&self) -> PathBuf {
        self.data.path().join("outbox")
    }

    /// Waits for the next mail to `to` that was not read before, up to 10 s.
    pub fn mail_to(&self, to: &str) -> Mail {
        self.mailbox.next_for(to, Duration::from_secs(10))
    }

    /// Waits for the next mail to `to` that was not read before, up to `limit`.
    pub fn mail_to_within(&self, to: &str, limit: Duration) -> Mail {
        self.mailbox.next_for(to, limit)
    }

    /// Signs up `email` and returns the verified session.
    pub fn sign_up(&self, email: &str, name: &str) -> Session {
        let started = self.post(
            "/v1/signup",
            json!({ "email": email, "display_name": name }),
        );
        assert_eq!(started.status, 202, "{}", started.text);
        let code = self.mail_to(email).code().expect("a signup code");
        self.verify(&started, &code)
    }

    /// Signs in `email` by code and returns the session.
    pub fn sign_in(&self, email: &str) -> Session {
        let started = self.post("/v1/login/email", json!({ "email": email }));
        assert_eq!(started.status, 202, "{}", started.text);
        let code = self.mail_to(email).code().expect("a login code");
        self.verify(&started, &code)
    }

    /// Verifies `code` for the attempt `started` began; the answer must be 200.
    pub fn verify(&self, started: &Reply, code: &str) -> Session {
        let r = self.post(
            "/v1/codes/verify",
            json!({ "attempt_token": started.json["attempt_token"], "code": code }),
        );
        assert_eq!(r.status, 200, "verify: {}", r.text);
        Session::from_reply(&r)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed-in session's credentials.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The session id.
    pub id: String,
    /// The account id.
    pub user_id: String,
    /// Whether the sign-in created the account.
    pub created: bool,
}

impl Session {
    /// The session of a verify or refresh answer.
    pub fn from_reply(r: &Reply) -> Self {
        let s = |k: &str| r.json[k].as_str().unwrap_or_default().to_owned();
        Self {
            access: s("access_token"),
            refresh: s("refresh_token"),
            id: s("session_id"),
            user_id: r.json["user"]["id"].as_str().unwrap_or_default().to_owned(),
            created: r.json["created"].as_bool().unwrap_or(false),
        }
    }
}

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names, values in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body.
    pub text: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: Value,
}

impl From<ureq::http::Response<ureq::Body>> for Reply {
    fn from(mut res: ureq::http::Response<ureq::Body>) -> Self {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in res.headers() {
            headers
                .entry(k.as_str().to_owned())
                .or_default()
                .push(v.to_str().unwrap_or("").to_owned());
        }
        let text = res.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: res.status().as_u16(),
            headers,
            text,
            json,
        }
    }
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// `name=value` of every Set-Cookie, by name.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.headers
            .get("set-cookie")
            .into_iter()
            .flatten()
            .filter_map(|c| {
                c.split(';')
                    .next()?
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect()
    }

    /// The full Set-Cookie line for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get("set-cookie")?
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The header names, without the ones that differ on every answer.
    pub fn header_names(&self) -> BTreeSet<String> {
        self.headers
            .keys()
            .filter(|k| *k != "date")
            .cloned()
            .collect()
    }

    /// Asserts a `problem+json` answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, got: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert_eq!(self.json["status"], status);
        assert!(
            self.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a problem says what went wrong"
        );
    }
}

/// The claims of a JWT, decoded without verifying (verification is the server's and JWKS's job).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("json payload")
}

/// A mail as delivered.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Mail {
    /// The one-time code in the text part (`ABCD-EFGH` or `ABCDEFGH`), if any.
    pub fn code(&self) -> Option<String> {
        find_code(&self.text)
    }
}

/// Finds a code: 8 symbols of `A-Z0-9` with at least one digit or the grouped form, standing alone.
pub fn find_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .find(|w| {
            let plain: String = w.chars().filter(|c| *c != '-').collect();
            plain.len() == 8
                && plain
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && (w.len() == 9 && w.as_bytes()[4] == b'-' || w.len() == 8)
                && (w.contains('-') || plain.chars().any(|c| c.is_ascii_digit()))
        })
        .map(|w| w.replace('-', ""))
}

/// Where delivered mail can be read.
#[derive(Debug, Clone)]
pub enum Mailbox {
    /// The embedded mailer's `.eml` outbox.
    Outbox(PathBuf),
    /// A Maildir written by an SMTP server (its `new` folder).
    Maildir(PathBuf),
}

impl Mailbox {
    fn dir(&self) -> PathBuf {
        match self {
            Mailbox::Outbox(d) => d.clone(),
            Mailbox::Maildir(d) => d.join("new"),
        }
    }

    /// Every mail to `to`, oldest first (by file modification time).
    pub fn all_for(&self, to: &str) -> Vec<(PathBuf, Mail)> {
        let Ok(entries) = std::fs::read_dir(self.dir()) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.starts_with('.') && !name.ends_with(".read")
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| {
                let mail = parse_mail(&std::fs::read(&p).ok()?)?;
                mail.to
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(to))
                    .then_some((p, mail))
            })
            .collect()
    }

    /// Waits up to `limit` for a mail to `to` that no earlier call returned, and marks it read.
    pub fn next_for(&self, to: &str, limit: Duration) -> Mail {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((path, mail)) = self.all_for(to).into_iter().next() {
                // Reading a mail moves it aside so the next call finds the next one.
                let mut read = path.clone().into_os_string();
                read.push(".read");
                let _ = std::fs::rename(&path, &read);
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} arrived within {limit:?} in {}",
                self.dir().display()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn parse_mail(bytes: &[u8]) -> Option<Mail> {
    let msg = mail_parser::MessageParser::default().parse(bytes)?;
    let to = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(Mail {
        to,
        subject: msg.subject().unwrap_or_default().to_owned(),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
    })
}

/// A fresh address for one test.
pub fn unique_email(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}-{t}-{n}@example.test")
}
