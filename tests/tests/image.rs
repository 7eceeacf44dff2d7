//! The container image, run as an operator runs it: a container from the image named by
//! `AUTH_IMAGE`, with a host port and a fresh /data volume, answers its health endpoints, signs a
//! person up by email code (read from the mail it wrote into the volume), runs as a non-root user,
//! reports healthy through the image's own health check and stops cleanly on SIGTERM.
//! `cargo xtask image` builds the image and runs this file; podman is its only container tool.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e::{Mailbox, Reply, Session, services::free_port, unique_email};
use serde_json::{Value, json};

const IMAGE_VAR: &str = "AUTH_IMAGE";

/// The port the image's server listens on (its `EXPOSE`).
const CONTAINER_PORT: u16 = 8080;

/// Runs podman with `args`; the output, whatever the exit status.
fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run podman {args:?}: {e}"))
}

/// Runs podman with `args`; its stdout, trimmed, or a failure with its stderr.
fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A running container, stopped and removed when dropped.
struct Container {
    id: String,
    base: String,
}

impl Container {
    fn start(image: &str, data: &Path) -> Self {
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:{CONTAINER_PORT}");
        // `:U` hands the volume to the image's user, as a fresh named volume would be.
        let volume = format!("{}:/data:U", data.display());
        let public_url = format!("AUTH_SERVER__PUBLIC_URL=http://localhost:{port}");
        let id = podman_ok(&[
            "run",
            "--detach",
            "--publish",
            &publish,
            "--volume",
            &volume,
            "--env",
            &public_url,
            "--env",
            "AUTH_SERVER__WORKERS=2",
            image,
        ]);
        Self {
            id,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Option<Reply> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut req = agent.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        req.call().ok().map(Reply::from)
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let res = agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .send(serde_json::to_vec(body).expect("json"))
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        Reply::from(res)
    }

    /// Waits until `path` answers 200: the server starts, migrates and generates its secrets first.
    fn wait_for(&self, path: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let answer = self.get(path, None);
            if answer.as_ref().is_some_and(|r| r.status == 200) {
                return;
            }
            if Instant::now() >= deadline {
                let logs = podman(&["logs", &self.id]);
                panic!(
                    "{path} did not answer 200 within {limit:?} (last: {:?}); container log:\n{}{}",
                    answer.map(|r| (r.status, r.text)),
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn inspect(&self, format: &str) -> String {
        podman_ok(&["inspect", "--format", format, &self.id])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "5", &self.id]);
    }
}

/// The real, effective, saved and file-system user ids of the container's main process.
fn main_process_uids(container: &Container) -> Vec<u32> {
    let status = podman_ok(&["exec", &container.id, "cat", "/proc/1/status"]);
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_else(|| panic!("no Uid line in /proc/1/status:\n{status}"));
    line.split_whitespace()
        .skip(1)
        .map(|id| id.parse().expect("a numeric uid"))
        .collect()
}

#[test]
#[ignore = "needs podman and the built image: `cargo xtask image` builds it and runs this test"]
fn the_image_signs_up_by_email_code_as_a_non_root_user_and_reports_healthy() {
    let image = std::env::var(IMAGE_VAR)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!("{IMAGE_VAR} is not set: `cargo xtask image` builds the image and sets it")
        });
    let data = tempfile::tempdir().expect("a temporary /data volume");
    let container = Container::start(&image, data.path());

    container.wait_for("/healthz", Duration::from_secs(60));
    container.wait_for("/readyz", Duration::from_secs(30));

    // Sign up by email code: the embedded mailer writes the mail into the volume's outbox.
    let email = unique_email("image");
    let started = container.post(
        "/v1/signup",
        &json!({ "email": email, "display_name": "Grace Hopper" }),
    );
    assert_eq!(started.status, 202, "{}", started.text);
    let outbox = Mailbox::Outbox(data.path().join("outbox"));
    let code = outbox
        .next_for(&email, Duration::from_secs(20))
        .code()
        .expect("a sign-up code in the mail");
    let verified = container.post(
        "/v1/codes/verify",
        &json!({ "attempt_token": started.json["attempt_token"], "code": code }),
    );
    assert_eq!(verified.status, 200, "verify: {}", verified.text);
    let session = Session::from_reply(&verified);
    assert!(session.created, "the sign-up code creates the account");
    let me = container
        .get("/v1/me", Some(&session.access))
        .expect("an answer to GET /v1/me");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["email"], email);
    assert_eq!(me.json["display_name"], "Grace Hopper");

    // The defaults landed in the volume, written by the image's user, not by root.
    for kept in ["auth.db", "secrets/pepper", "secrets/attempt-key", "keys"] {
        let meta = std::fs::metadata(data.path().join(kept))
            .unwrap_or_else(|e| panic!("{kept} is not in the /data volume: {e}"));
        assert_ne!(meta.uid(), 0, "{kept} is owned by root");
    }
    let uids = main_process_uids(&container);
    assert_eq!(uids.len(), 4, "{uids:?}");
    assert!(
        uids.iter().all(|&uid| uid != 0),
        "the server runs as root: {uids:?}"
    );

    // The image's own health check (the binary probing its listener) passes and is recorded.
    let check = podman(&["healthcheck", "run", &container.id]);
    assert!(
        check.status.success(),
        "health check failed ({}): {}{}",
        check.status,
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(container.inspect("{{.State.Health.Status}}"), "healthy");

    // SIGTERM drains and exits 0, as PID 1 of the container.
    podman_ok(&["stop", "--time", "20", &container.id]);
    assert_eq!(container.inspect("{{.State.ExitCode}}"), "0");
}
