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
        ("AUTH_SERVER__NO_SUCH_SETTING", "1", "no_such_setting"),
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
