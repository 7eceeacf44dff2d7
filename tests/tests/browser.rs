//! The bundled web page in a real headless Chromium with a virtual WebAuthn authenticator: sign-up by
//! email code, passkeys (add, sign in by button and by autofill, rename, delete), recovery, sessions.
//!
//! This test starts the server and hands the browser part to `tests/browser/flows.mjs` (Node's test
//! runner driving Chromium through `playwright-core`), which reads the codes from the delivered mail.
//! A second test starts the example app of `examples/oidc-app` (openid-client) beside the server
//! and runs `tests/browser/oidc-app.mjs`: the app signs its users in through the page.
//! Missing Node, npm packages or Chromium fail the test with the command that installs them: a
//! browser test that skips itself would pass without testing anything.

use e2e::Server;
use e2e::services::free_port;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One browser test at a time: the flows count seconds (a rate limit's countdown), and two
/// Chromiums with their servers on a small machine make them miss the beat.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// Where Debian's `chromium` package puts the browser (`cargo xtask browser-deps` installs it).
const CHROMIUM: &str = "/usr/bin/chromium";
/// The flows take seconds; a browser that hangs must not hang `cargo test`.
const FLOWS_DEADLINE: Duration = Duration::from_secs(300);
const INSTALL: &str =
    "run `cargo xtask browser-deps` (it installs Chromium and runs `npm ci` in tests/browser)";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e package sits in the repository")
        .to_path_buf()
}

/// `target/browser-artifacts`, beside the build output (which may live elsewhere than `target/`).
fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/browser-<hash>
    let target = exe.ancestors().nth(3).expect("the target directory");
    target.join("browser-artifacts")
}

/// Fails loudly, naming the fix, when something the browser test needs is missing.
fn require_browser_deps(root: &Path) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is not installed: install Node.js 20 or newer, then {INSTALL}"
    );
    let playwright = root.join("tests/browser/node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "the browser test's npm packages are missing: {INSTALL}"
    );
    assert!(
        Path::new(CHROMIUM).is_file(),
        "Chromium is missing: {INSTALL}"
    );
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs `cmd` to the end, or kills it after `deadline`, and returns its status and output.
fn run_with_deadline(mut cmd: Command, deadline: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    // Read both pipes while waiting, so a chatty child never blocks on a full pipe.
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            );
            panic!("the browser flows did not finish within {deadline:?}:\n{out}\n{err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (
        status,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

#[test]
fn the_page_works_in_a_real_browser_with_passkeys() {
    let _alone = ONE_BROWSER.lock().unwrap_or_else(PoisonError::into_inner);
    let root = repo_root();
    require_browser_deps(&root);

    // The browser must reach the server at its configured public origin: WebAuthn binds passkeys to
    // it (RP id `localhost`) and cookie-authenticated changes must carry it as `Origin`. So the
    // port is chosen before the start. `localhost` is a secure context, so `__Host-` cookies and
    // WebAuthn work over plain HTTP there.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let origin = format!("http://localhost:{port}");
    // An app that signs its users in through us (OpenID Connect); the flows play it. Its
    // redirect URI is a page of ours that answers 200 (`/healthz`), so the browser lands
    // somewhere real without a second server.
    let clients = format!(
        r#"[{{id="browser-rp",name="Browser RP",redirect_uris=["{origin}/healthz"],public=true,first_party=true}},
            {{id="browser-third",name="Third App",redirect_uris=["{origin}/healthz"],public=true}}]"#
    );
    let server = Server::start_with(&[
        ("AUTH_SERVER__BIND", &bind),
        ("AUTH_SERVER__PUBLIC_URL", &origin),
        ("AUTH_OIDC__CLIENTS", &clients),
    ]);

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create the artifacts directory");
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(root.join("tests/browser/flows.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("AUTH_BASE_URL", &origin)
        .env("AUTH_OUTBOX", server.outbox())
        .env("AUTH_ARTIFACTS", &artifacts)
        .env("AUTH_CHROMIUM", CHROMIUM);
    let (status, stdout, stderr) = run_with_deadline(node, FLOWS_DEADLINE);
    assert!(
        status.success(),
        "the browser flows failed ({status}):\n{stdout}\n{stderr}"
    );

    // The flows report the passkey sign-in timing as a diagnostic; show it with the test's output
    // (`cargo test -p e2e --test browser -- --nocapture`) and keep it beside the screenshots.
    let timing = stdout
        .lines()
        .find_map(|l| {
            l.split_once("passkey sign-in:")
                .map(|(_, t)| format!("passkey sign-in:{t}"))
        })
        .unwrap_or_else(|| {
            panic!("the flows did not report the passkey sign-in timing:\n{stdout}")
        });
    eprintln!("{timing}");
    std::fs::write(artifacts.join("passkey-timing.txt"), format!("{timing}\n"))
        .expect("write the timing");
    assert_every_flow_passed(&root, "flows.mjs", &stdout);
}

/// Node's summary (`ℹ pass 12`): every test written in `file` must have run and passed.
fn assert_every_flow_passed(root: &Path, file: &str, stdout: &str) {
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label)?.trim().parse::<u32>().ok())
    };
    let flows = std::fs::read_to_string(root.join("tests/browser").join(file))
        .unwrap_or_else(|e| panic!("read {file}: {e}"));
    let written = u32::try_from(flows.matches("\ntest(").count()).expect("a few tests");
    assert_eq!(
        count("ℹ pass "),
        Some(written),
        "not every browser flow of {file} ran and passed:\n{stdout}"
    );
    assert_eq!(count("ℹ fail "), Some(0), "{stdout}");
    assert_eq!(count("ℹ skipped "), Some(0), "{stdout}");
}

/// The example app of `examples/oidc-app`, stopped when dropped.
struct ExampleApp(Child);

impl Drop for ExampleApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example app at `app` (`http://localhost:PORT`) as the client `id` of `issuer`, and
/// waits until it listens (it reads our discovery document first, so the server must be up).
fn start_example_app(root: &Path, issuer: &str, app: &str, id: &str, secret: &str) -> ExampleApp {
    let dir = root.join("examples/oidc-app");
    assert!(
        dir.join("node_modules/openid-client/package.json")
            .is_file(),
        "the example app's npm packages are missing: {INSTALL}"
    );
    let child = Command::new("node")
        .arg("app.mjs")
        .current_dir(&dir)
        .env("OIDC_ISSUER", issuer)
        .env("OIDC_CLIENT_ID", id)
        .env("OIDC_CLIENT_SECRET", secret)
        .env("APP_URL", app)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example app");
    let mut app_process = ExampleApp(child);
    let port: u16 = app
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the app's port");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = app_process.0.try_wait().expect("wait for the example app") {
            let mut err = String::new();
            if let Some(mut pipe) = app_process.0.stderr.take() {
                let _ = pipe.read_to_string(&mut err);
            }
            panic!("the example app stopped ({status}):\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "the example app did not listen on {app} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app_process
}

#[test]
fn an_app_signs_its_users_in_through_the_page_with_openid_client() {
    let _alone = ONE_BROWSER.lock().unwrap_or_else(PoisonError::into_inner);
    let root = repo_root();
    require_browser_deps(&root);

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let origin = format!("http://localhost:{port}");
    let app = format!("http://localhost:{}", free_port());
    // A confidential client (client_secret_basic) that is not first-party, so consent is asked.
    let secrets = tempfile::tempdir().expect("a directory for the client secret");
    let secret = "example-app-secret-0123456789-abcdefghijklmnop";
    let secret_file = secrets.path().join("example-app.secret");
    std::fs::write(&secret_file, secret).expect("write the client secret");
    let clients = format!(
        r#"[{{id="example-app",name="Example App",redirect_uris=["{app}/callback"],post_logout_redirect_uris=["{app}/"],secret_file="{}",scopes=["openid","profile","email"]}}]"#,
        secret_file.display()
    );
    let server = Server::start_with(&[
        ("AUTH_SERVER__BIND", &bind),
        ("AUTH_SERVER__PUBLIC_URL", &origin),
        ("AUTH_OIDC__CLIENTS", &clients),
        (
            "AUTH_SERVER__ALLOWED_RETURN_ORIGINS",
            &format!(r#"["{app}"]"#),
        ),
    ]);
    let _app = start_example_app(&root, &origin, &app, "example-app", secret);

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create the artifacts directory");
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(root.join("tests/browser/oidc-app.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("AUTH_BASE_URL", &origin)
        .env("AUTH_APP_URL", &app)
        .env("AUTH_OUTBOX", server.outbox())
        .env("AUTH_ARTIFACTS", &artifacts)
        .env("AUTH_CHROMIUM", CHROMIUM);
    let (status, stdout, stderr) = run_with_deadline(node, FLOWS_DEADLINE);
    assert!(
        status.success(),
        "the example app's browser flows failed ({status}):\n{stdout}\n{stderr}"
    );
    assert_every_flow_passed(&root, "oidc-app.mjs", &stdout);
}
