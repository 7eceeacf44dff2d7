//! The binary's command line: configuration mistakes are one human line, not a panic.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("AUTH_SERVER__DATA_DIR", dir.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run auth-server")
}

#[test]
fn an_invalid_setting_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, expect) in [
        ("AUTH_SERVER__BIND", "nowhere", "server.bind"),
        ("AUTH_SERVER__PUBLIC_URL", "ftp://x", "server.public_url"),
        ("AUTH_POLICY__CODE_LENGTH", "6", "policy.code_length"),
        ("AUTH_POLICY__CODE_TTL", "ten minutes", "code_ttl"),
        ("AUTH_LOG__FORMAT", "xml", "log.format"),
        // `check-config` refuses what `serve` would refuse.
        (
            "AUTH_MAIL__SMTP_URL",
            "http://relay.example.com",
            "mail.smtp_url",
        ),
        ("AUTH_MAIL__FROM", "not an address", "mail.from"),
        // An accent that white text or the light page cannot be read against.
        ("AUTH_UI__ACCENT_COLOR", "#ffcc00", "ui.accent_color"),
        ("AUTH_UI__DEFAULT_LANGUAGE", "fr", "ui.default_language"),
        ("AUTH_UI__TEMPLATES_DIR", "no-such-dir", "ui.templates_dir"),
        (
            "AUTH_SERVER__PUBLIC_URL",
            "http://auth.example.com",
            "server.public_url",
        ),
    ] {
        let out = run(&["check-config"], &[(key, value)], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "one line for {key}: {stderr}"
        );
        assert!(stderr.to_lowercase().contains(expect), "{key}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("default."),
            "the key is named without the library's profile: {stderr}"
        );
    }
    let missing = run(&["--config", "nope.toml", "check-config"], &[], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml does not exist"));
}

#[test]
fn a_toml_file_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        "[server]\nbind = \"127.0.0.1:9999\"\n[policy]\ncode_length = 10\n",
    )
    .unwrap();
    let out = run(
        &["check-config"],
        &[("AUTH_SERVER__BIND", "127.0.0.1:7777")],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("check-config prints JSON");
    assert_eq!(shown["server"]["bind"], "127.0.0.1:7777");
    assert_eq!(shown["policy"]["code_length"], 10);
}

#[test]
fn migrate_creates_the_database_and_keys_are_generated_once_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["migrate"], &[], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/auth.db").exists());

    let out = run(&["keys", "rotate"], &[], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["keys", "rotate"], &[], dir.path());
    assert!(out.status.success());
    let listed =
        String::from_utf8_lossy(&run(&["keys", "list"], &[], dir.path()).stdout).into_owned();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].contains("verify-only") && lines[1].contains("signing"),
        "{listed}"
    );
    let current = lines[1].split_whitespace().next().unwrap();
    let refused = run(&["keys", "retire", current], &[], dir.path());
    assert!(
        !refused.status.success(),
        "the signing key cannot be retired"
    );
    let old = lines[0].split_whitespace().next().unwrap();
    assert!(
        run(&["keys", "retire", old], &[], dir.path())
            .status
            .success()
    );
    let listed =
        String::from_utf8_lossy(&run(&["keys", "list"], &[], dir.path()).stdout).into_owned();
    assert_eq!(listed.lines().count(), 1);
    let mode = std::fs::metadata(dir.path().join("data/keys"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o700), "the key directory is owner-only");
}

#[test]
fn a_configured_secret_that_is_missing_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("shared/pepper");
    let missing_key = dir.path().join("shared/attempt-key");
    let empty_keys = dir.path().join("shared/keys");
    std::fs::create_dir_all(&empty_keys).unwrap();
    for (key, value, setting) in [
        (
            "AUTH_SECRETS__PEPPER_FILE",
            missing.to_str().unwrap(),
            "secrets.pepper_file",
        ),
        (
            "AUTH_SECRETS__ATTEMPT_KEY_FILE",
            missing_key.to_str().unwrap(),
            "secrets.attempt_key_file",
        ),
        (
            "AUTH_SECRETS__SIGNING_KEYS_DIR",
            empty_keys.to_str().unwrap(),
            "secrets.signing_keys_dir",
        ),
    ] {
        let out = run(
            &["serve"],
            &[(key, value), ("AUTH_SERVER__BIND", "127.0.0.1:0")],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(setting) && stderr.contains(value),
            "{stderr}"
        );
    }
    assert!(
        !missing.exists() && !missing_key.exists(),
        "nothing was generated"
    );
    assert_eq!(std::fs::read_dir(&empty_keys).unwrap().count(), 0);
    assert!(
        !dir.path().join("data/secrets").exists(),
        "nor at the default paths: the start stopped first"
    );
}

fn mode(path: &std::path::Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777
}

#[test]
fn the_database_and_secrets_are_owner_only_after_a_start() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("AUTH_SERVER__DATA_DIR", dir.path().join("data"))
        .env("AUTH_SERVER__BIND", ":0")
        .env("AUTH_SERVER__WORKERS", "1")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on http://"));
    let data = dir.path().join("data");
    let modes: Vec<(String, u32)> = [
        "auth.db",
        "auth.db-wal",
        "auth.db-shm",
        "secrets/pepper",
        "secrets/attempt-key",
    ]
    .iter()
    .map(|f| (f.to_string(), mode(&data.join(f))))
    .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listening, "the server started");
    for (file, m) in modes {
        assert_eq!(m, 0o600, "{file} is {m:o}");
    }
}

#[test]
fn unknown_keys_in_the_file_are_errors_but_unknown_environment_variables_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["check-config"],
        &[
            ("AUTH_SERVER_BIN", "/usr/local/bin/auth-server"),
            ("AUTH_SERVER__NO_SUCH_SETTING", "1"),
            ("AUTH_SERVER__BIND", "127.0.0.1:7777"),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("AUTH_SERVER_BIN") && stderr.contains("AUTH_SERVER__NO_SUCH_SETTING"),
        "each ignored variable is named in a warning: {stderr}"
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["server"]["bind"], "127.0.0.1:7777",
        "the known ones still apply"
    );

    std::fs::write(
        dir.path().join("auth.toml"),
        "[server]\nbindd = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let out = run(&["check-config"], &[], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server") && stderr.contains("bindd") && !stderr.contains("default."),
        "{stderr}"
    );
}

#[test]
fn check_config_prints_the_effective_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["check-config"],
        &[
            ("AUTH_SERVER__BIND", ":0"),
            ("AUTH_SERVER__PUBLIC_URL", "https://login.example.com"),
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let data = dir.path().join("data");
    let at = |p: &str| data.join(p).display().to_string();
    assert_eq!(
        shown["server"]["bind"], "127.0.0.1:0",
        "`:0` is a free port on loopback"
    );
    assert_eq!(
        shown["database"]["url"],
        format!("sqlite://{}", at("auth.db"))
    );
    assert_eq!(shown["mail"]["outbox_dir"], at("outbox"));
    assert_eq!(shown["tokens"]["issuer"], "https://login.example.com");
    assert_eq!(shown["webauthn"]["rp_id"], "login.example.com");
    assert_eq!(shown["secrets"]["pepper_file"], at("secrets/pepper"));
    assert_eq!(
        shown["secrets"]["attempt_key_file"],
        at("secrets/attempt-key")
    );
    assert_eq!(shown["secrets"]["signing_keys_dir"], at("keys"));
    assert_eq!(shown["ui"]["product_name"], "Passwordless Auth");
    assert_eq!(shown["ui"]["accent_color"], "#1f5fd1");
    assert_eq!(shown["ui"]["default_language"], "en");
    assert!(!data.join("secrets").exists(), "checking generates nothing");

    let out = run(
        &["check-config"],
        &[(
            "AUTH_DATABASE__URL",
            "postgres://auth:hunter2@db.example.com/auth",
        )],
        dir.path(),
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(
        stdout.contains("postgres://auth:[redacted]@db.example.com/auth"),
        "{stdout}"
    );
}

#[test]
fn check_config_refuses_a_configured_secret_that_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("shared/pepper");
    let out = run(
        &["check-config"],
        &[("AUTH_SECRETS__PEPPER_FILE", missing.to_str().unwrap())],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("secrets.pepper_file"), "{stderr}");
}

#[test]
fn a_failed_start_says_why_once_and_generates_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let out = run(&["serve"], &[("AUTH_SERVER__BIND", &bind)], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("cannot listen on").count(),
        1,
        "the error is printed once: {stderr}"
    );
    assert!(!dir.path().join("data/secrets").exists(), "{stderr}");
    assert!(!dir.path().join("data/keys").exists(), "{stderr}");

    let out = run(
        &["serve"],
        &[
            ("AUTH_SERVER__BIND", "127.0.0.1:0"),
            ("AUTH_DATABASE__URL", "postgres://auth@127.0.0.1:1/auth"),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("cannot reach PostgreSQL").count(),
        1,
        "{stderr}"
    );
    assert!(!dir.path().join("data/secrets").exists(), "{stderr}");
}

#[test]
fn the_start_log_names_the_public_url_to_open_after_the_bound_address() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("AUTH_SERVER__DATA_DIR", dir.path().join("data"))
        .env("AUTH_SERVER__BIND", "127.0.0.1:0")
        .env("AUTH_SERVER__PUBLIC_URL", "http://localhost:8080")
        .env("AUTH_SERVER__WORKERS", "1")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let listening = lines
        .by_ref()
        .any(|l| l.contains("listening on http://127.0.0.1:"));
    let open = lines.next().unwrap_or_default();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listening, "no listening line");
    assert!(
        open.contains("open http://localhost:8080 in a browser"),
        "{open}"
    );
}

/// An unusable OIDC client stops `check-config` and `serve` with one line naming it; usable ones
/// are listed by `oidc clients`.
#[test]
fn oidc_clients_are_checked_at_start_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"[{id="grafana",name="Grafana",redirect_uris=["http://grafana.example.com/cb"],public=true}]"#;
    for command in ["check-config", "serve"] {
        let out = run(&[command], &[("AUTH_OIDC__CLIENTS", bad)], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("oidc.clients[grafana]"), "{stderr}");
    }
    let good = r#"[{id="grafana",name="Grafana",redirect_uris=["https://grafana.example.com/cb"],public=true,first_party=true}]"#;
    let out = run(
        &["oidc", "clients"],
        &[("AUTH_OIDC__CLIENTS", good)],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("grafana  public  first-party  EdDSA  openid profile email  [https://grafana.example.com/cb]"),
        "{stdout}"
    );
}
