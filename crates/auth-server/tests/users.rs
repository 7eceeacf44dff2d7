//! `auth-server users ...` run as a binary against SQLite and PostgreSQL: listing and search,
//! show, disable and enable (with the notice delivered before the command exits), ending
//! sessions, deletion, and the exit status of each kind of failure.

use auth_core::audit::AuditKind;
use auth_core::ports::{AuditLog, OsRng, UserRepository};
use auth_core::session::RefreshToken;
use auth_core::testkit::{sample_session, sample_user, signed_up_event};
use auth_core::user::{DisplayName, User};
use auth_core::{EmailAddress, UserId};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_auth-server"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("AUTH_SERVER__DATA_DIR", self.dir.path().join("data"))
            .env("AUTH_MAIL__OUTBOX_DIR", self.outbox())
            .env("AUTH_DATABASE__URL", &self.database_url)
            .env("AUTH_UI__SUPPORT_EMAIL", "help@example.test")
            .output()
            .expect("run auth-server")
    }

    /// Runs a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// The delivered mails, as text.
    fn mails(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.outbox()) else {
            return Vec::new();
        };
        dir.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

fn person(address: &str, name: &str) -> User {
    let mut user = sample_user("cli");
    user.email = EmailAddress::parse(address).unwrap();
    user.display_name = DisplayName::parse(name).unwrap();
    user
}

/// Creates the accounts, each with one session, through the store the command uses.
async fn seed(users: &dyn UserRepository, people: &[User]) {
    for user in people {
        let session = sample_session(user.id, user.created_at);
        users
            .create(
                user,
                &session,
                &RefreshToken::generate(&OsRng).hash(),
                &signed_up_event(user),
            )
            .await
            .unwrap();
    }
}

/// The whole life of the commands on one store; `store` opens the very database they use.
fn exercise(env: &Env, audit: impl Fn(UserId) -> Vec<(AuditKind, Option<String>)>) {
    let ada = find(env, "ada@example.test");
    let id = ada["id"].as_str().unwrap().to_owned();

    let table = env.ok(&["users", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("EMAIL"),
        "{table}"
    );
    assert_eq!(
        lines.len(),
        5,
        "a header, three accounts and a count: {table}"
    );
    assert!(table.contains("Ada Lovelace") && table.contains("active"));

    let found = env.json(&["users", "list", "--query", "LOVELACE", "--json"]);
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "search by name: {found}"
    );
    assert_eq!(found[0]["email"], "ada@example.test");
    let found = env.json(&["users", "list", "--query", "@example.test", "--json"]);
    assert_eq!(
        found.as_array().unwrap().len(),
        3,
        "search by address: {found}"
    );

    assert_eq!(ada["active_sessions"], 1);
    assert_eq!(ada["passkeys"], 0);
    assert_eq!(ada["disabled_at"], Value::Null);

    let said = env.ok(&["users", "disable", &id]);
    assert!(said.contains("disabled"), "{said}");
    let ada = find(env, &id);
    assert!(ada["disabled_at"].is_string(), "{ada}");
    assert_eq!(ada["active_sessions"], 0, "its sessions ended");
    let mails = env.mails();
    assert!(
        mails.iter().any(|m| m.contains("To: ada@example.test")
            && m.contains("account was disabled")
            && m.contains("help@example.test")),
        "the notice was delivered before the command exited: {mails:?}"
    );
    assert!(
        env.ok(&["users", "disable", &id])
            .contains("already disabled")
    );
    assert!(env.ok(&["users", "list"]).contains("disabled"));

    assert!(
        env.ok(&["users", "enable", "ada@example.test"])
            .contains("enabled")
    );
    assert_eq!(find(env, &id)["disabled_at"], Value::Null);
    assert!(env.mails().iter().any(|m| m.contains("enabled again")));
    let trail = audit(UserId::parse(&id).unwrap());
    for kind in [AuditKind::AccountDisabled, AuditKind::AccountEnabled] {
        assert!(
            trail.contains(&(kind, Some("by cli".to_owned()))),
            "{kind} names the operator: {trail:?}"
        );
    }

    let said = env.ok(&["users", "sessions", "revoke", "bob@example.test"]);
    assert!(said.starts_with("ended 1 sessions"), "{said}");
    assert_eq!(find(env, "bob@example.test")["active_sessions"], 0);

    env.ok(&["users", "delete", "carol@example.test"]);
    assert!(
        env.mails()
            .iter()
            .any(|m| m.contains("To: carol@example.test")
                && m.contains("deleted by an administrator"))
    );
    for args in [
        &["users", "show", "carol@example.test"][..],
        &["users", "disable", &UserId::random(&OsRng).to_string()],
        &["users", "delete", "not an account"],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    assert_eq!(
        env.json(&["users", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn find(env: &Env, key: &str) -> Value {
    env.json(&["users", "show", key, "--json"])
}

fn people() -> Vec<User> {
    vec![
        person("ada@example.test", "Ada Lovelace"),
        person("bob@example.test", "Bob"),
        person("carol@example.test", "Carol"),
    ]
}

#[test]
fn the_user_commands_work_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("auth.db");
    let env = Env {
        database_url: format!("sqlite://{}", file.display()),
        dir,
    };
    // The first command creates and migrates the database.
    assert_eq!(env.ok(&["users", "list"]).lines().count(), 2);
    let url = env.database_url.clone();
    // One runtime for the store's whole life: a pool's connections belong to the runtime that
    // opened them and fail once it is gone.
    let rt = actix_web::rt::System::new();
    let store = rt.block_on(async move {
        let store = auth_sqlite::SqliteStore::connect(&url).await.unwrap();
        seed(&store, &people()).await;
        store
    });
    exercise(&env, |id| audit_of(&rt, &store, id));
}

#[test]
fn the_user_commands_work_on_postgres() {
    let db = auth_testsupport::postgres::TestDb::create();
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
        database_url: db.url.clone(),
    };
    assert_eq!(env.ok(&["users", "list"]).lines().count(), 2);
    let url = db.url.clone();
    // One runtime for the store's whole life: a pool's connections belong to the runtime that
    // opened them and fail once it is gone.
    let rt = actix_web::rt::System::new();
    let store = rt.block_on(async move {
        let store = auth_postgres::PgStore::connect(&url, 2).await.unwrap();
        seed(&store, &people()).await;
        store
    });
    exercise(&env, |id| audit_of(&rt, &store, id));
}

fn audit_of(
    rt: &actix_web::rt::SystemRunner,
    store: &(impl AuditLog + Clone + 'static),
    id: UserId,
) -> Vec<(AuditKind, Option<String>)> {
    let store = store.clone();
    rt.block_on(async move {
        store
            .recent(&id, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect()
    })
}

#[test]
fn an_unreachable_store_is_exit_status_3_with_one_line() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
        database_url: "postgres://nobody@127.0.0.1:1/none".to_owned(),
    };
    let out = env.run(&["users", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("store unavailable"), "{stderr}");
    let _: &Path = env.dir.path();
}

#[test]
fn a_missing_or_empty_admin_token_file_stops_the_start_with_one_line_naming_it() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
        database_url: "sqlite::memory:".to_owned(),
    };
    let empty = env.dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let missing = env.dir.path().join("no-such-token");
    for (file, expect) in [(&empty, "is empty"), (&missing, "cannot read")] {
        let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
            .arg("check-config")
            .current_dir(env.dir.path())
            .env_clear()
            .env("AUTH_SERVER__DATA_DIR", env.dir.path().join("data"))
            .env("AUTH_SERVER__ADMIN_BIND", "127.0.0.1:0")
            .env(
                "AUTH_ADMIN__TOKENS",
                format!("[{{id=\"ops\",file=\"{}\"}}]", file.display()),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("admin.tokens ops") && stderr.contains(expect),
            "{stderr}"
        );
        assert!(
            stderr.contains(&file.display().to_string()),
            "names the file: {stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("check-config")
        .current_dir(env.dir.path())
        .env_clear()
        .env("AUTH_SERVER__DATA_DIR", env.dir.path().join("data"))
        .env("AUTH_SERVER__ADMIN_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a listener without tokens is refused"
    );
}
