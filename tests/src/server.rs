//! Server processes: one per test where the test needs its own settings or services, or one shared
//! by the tests of a file (started on first use, stopped when the test binary exits).

use crate::{Mail, Mailbox, Reply, Session, service_env, unique_email};
use serde_json::{Value, json};
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
    /// `http://127.0.0.1:PORT` of the separate metrics listener, when `server.metrics_bind` is set.
    pub metrics_base: Option<String>,
    /// Its data directory (deleted on drop).
    pub data: std::sync::Arc<tempfile::TempDir>,
    /// Where its mail is delivered.
    pub mailbox: Mailbox,
    /// The production services it uses, if any.
    pub production: Option<std::sync::Arc<Production>>,
    /// For a shared server: the process that stops it when the test binary exits.
    watchdog: Option<Child>,
    agent: ureq::Agent,
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

    /// Like [`Server::start_on`], but runs the server binary at `binary` (an older build, to
    /// compare against) and leaves out every setting whose variable name contains one of `unknown`
    /// (settings that build does not have yet).
    pub fn start_binary(
        binary: &Path,
        unknown: &[&str],
        services: &[(String, String)],
        mailbox: Mailbox,
        env: &[(&str, &str)],
    ) -> Self {
        let known = |k: &str| !unknown.iter().any(|u| k.contains(u));
        let env: Vec<(&str, &str)> = RELAXED
            .iter()
            .chain(env)
            .copied()
            .filter(|(k, _)| known(k))
            .collect();
        let services: Vec<(String, String)> =
            services.iter().filter(|(k, _)| known(k)).cloned().collect();
        let data = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::launch(binary, false, data, &env, &services, mailbox, None)
    }

    fn spawn(
        data: std::sync::Arc<tempfile::TempDir>,
        env: &[(&str, &str)],
        services: &[(String, String)],
        mailbox: Mailbox,
        production: Option<std::sync::Arc<Production>>,
    ) -> Self {
        Self::launch(
            &server_binary(),
            true,
            data,
            env,
            services,
            mailbox,
            production,
        )
    }

    fn launch(
        binary: &Path,
        relaxed: bool,
        data: std::sync::Arc<tempfile::TempDir>,
        env: &[(&str, &str)],
        services: &[(String, String)],
        mailbox: Mailbox,
        production: Option<std::sync::Arc<Production>>,
    ) -> Self {
        let mut cmd = Command::new(binary);
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
        let relaxed = if relaxed { RELAXED } else { &[] };
        for (k, v) in relaxed.iter().chain(env) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start auth-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut metrics = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Both addresses are logged before the server takes requests, metrics first.
                if let Some(i) = line.find("metrics on http://") {
                    let url = line[i + "metrics on ".len()..].trim();
                    metrics = Some(url.trim_end_matches("/metrics").to_owned());
                }
                if let Some(i) = line.find("listening on http://") {
                    let base = line[i + "listening on ".len()..].trim().to_owned();
                    let _ = tx.send(Ok((base, metrics.clone())));
                }
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("[server] {line}");
                }
                if line.contains("invalid configuration") || line.contains("ERROR") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let (base, metrics_base) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(addresses)) => addresses,
            Ok(Err(line)) => {
                let _ = child.kill();
                panic!("the server did not start: {line}")
            }
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
            metrics_base,
            data,
            mailbox,
            production,
            watchdog: None,
            agent,
        }
    }

    /// Kills the process with SIGKILL, as a crash would: no shutdown, nothing drained.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new process on this one's data directory and services (after [`Server::kill`]), with
    /// `env`.
    pub fn start_again(&self, env: &[(&str, &str)]) -> Self {
        let services = self
            .production
            .as_ref()
            .map(|p| p.env())
            .unwrap_or_default();
        Self::spawn(
            self.data.clone(),
            env,
            &services,
            self.mailbox.clone(),
            self.production.clone(),
        )
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

    /// A form POST as a browser sends it from our page: our Origin, a cookie header, redirects
    /// not followed.
    pub fn request_raw_form(&self, path: &str, form: &str, cookie: &str) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.origin())
            .header("cookie", cookie)
            .body(form.as_bytes().to_vec())
            .expect("request");
        Reply::from(
            agent
                .run(req)
                .unwrap_or_else(|e| panic!("POST {path}: {e}")),
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

    /// Runs an operator's command (`auth-server users ...`) on this server's data directory and
    /// services, as its operator would; its standard output. Panics unless it succeeds.
    pub fn operator(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(server_binary());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AUTH_SERVER__DATA_DIR", self.data.path());
        if let Some(p) = &self.production {
            cmd.envs(p.env());
        }
        let out = cmd.output().expect("run auth-server");
        assert!(
            out.status.success(),
            "auth-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
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
        if let Ok(Some(_)) = self.child.try_wait() {
            // Already ended (killed by the test).
            return;
        }
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

/// A server a test owns (stopped when the test ends) or the one its file shares.
#[derive(Debug)]
pub enum TestServer {
    /// Started for this test, with its own settings.
    Own(Server),
    /// Shared by the tests of this file that need nothing but the relaxed defaults.
    Shared(&'static Server),
}

impl std::ops::Deref for TestServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        match self {
            TestServer::Own(s) => s,
            TestServer::Shared(s) => s,
        }
    }
}

/// A server on the embedded defaults: the file's shared one when `env` is empty (tests then use
/// their own addresses, so they do not see each other), else one of the test's own.
pub fn embedded(env: &[(&str, &str)]) -> TestServer {
    static SHARED: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    if env.is_empty() {
        TestServer::Shared(SHARED.get_or_init(|| Server::start().stopped_at_exit()))
    } else {
        TestServer::Own(Server::start_with(env))
    }
}

/// A server on PostgreSQL, Redis and the SMTP server: the file's shared one (one database) when
/// `env` is empty, else one of the test's own.
pub fn production(env: &[(&str, &str)]) -> TestServer {
    static SHARED: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    if env.is_empty() {
        TestServer::Shared(SHARED.get_or_init(|| Server::start_production(&[]).stopped_at_exit()))
    } else {
        TestServer::Own(Server::start_production(env))
    }
}

impl Server {
    /// For a server kept in a `static`, which is never dropped: a watchdog process waits for this
    /// test binary to exit (its stdin, a pipe only this process holds, reaches end of file, even
    /// when the binary is killed) and then does what `Drop` would have done: stops the server,
    /// drops its database and removes its data directory.
    fn stopped_at_exit(mut self) -> Self {
        let mut script = format!("read _; kill -TERM {}; ", self.child.id());
        if let Some(p) = &self.production {
            script.push_str(&format!(
                "psql -X -q '{}' -c 'DROP DATABASE IF EXISTS {} WITH (FORCE)'; ",
                p.admin_url, p.database
            ));
        }
        script.push_str(&format!("rm -rf '{}'", self.data.path().display()));
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog");
        // Kept in the never-dropped server, with the write end of its stdin: closed by this
        // process's exit alone.
        self.watchdog = Some(watchdog);
        self
    }
}
