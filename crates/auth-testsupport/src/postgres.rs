//! A PostgreSQL database of a test's own: created on the server named by `AUTH_TEST_DATABASE_URL`
//! (by default the local one with trust authentication) and dropped, with whatever is still
//! connected to it, when the guard goes, even when the test fails.
//!
//! The guard speaks to the server through `psql`, the client that comes with every PostgreSQL
//! install, rather than through sqlx: only the SQL adapters may depend on sqlx (`deny.toml`), and a
//! blocking client is what a `Drop` (which cannot await) needs anyway. The end-to-end tests'
//! `Production` does the same in the e2e library, which cannot use this crate: a library target
//! sees normal dependencies only, and this crate stays a dev-dependency.

use std::fmt::Display;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The server the tests use when `AUTH_TEST_DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The administrative URL the tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("AUTH_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// Why the tests cannot run, and how to fix that.
pub fn no_postgres(what: &dyn Display) -> String {
    format!(
        "these tests need a real PostgreSQL, but {} is not reachable ({what}); start the local \
         cluster with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
         (or `cargo xtask services`), or point AUTH_TEST_DATABASE_URL at a server that trusts \
         its user to create databases",
        admin_url()
    )
}

/// `url` with its database replaced by `name`, keeping any parameters.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, params) = url
        .split_once('?')
        .map_or((url, None), |(b, p)| (b, Some(p)));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(params) = params {
        out.push('?');
        out.push_str(params);
    }
    out
}

/// Runs one statement through `psql` on `url`.
fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// A fresh database name: `prefix`, the time and a counter, so parallel tests never collide.
fn fresh_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos:x}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own for one test, dropped (with whatever is still connected to it) when the
/// guard goes.
#[derive(Debug)]
pub struct TestDb {
    /// Its name, `auth_test_…`.
    pub name: String,
    /// A URL that connects to it.
    pub url: String,
    admin_url: String,
}

impl TestDb {
    /// A fresh database on the server of [`admin_url`]; panics, saying how to start one, when
    /// that server is not reachable.
    pub fn create() -> Self {
        let admin_url = admin_url();
        let name = fresh_name("auth_test");
        psql(&admin_url, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("{}", no_postgres(&e)));
        Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let dropped = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        if let Err(e) = dropped {
            if std::thread::panicking() {
                eprintln!("could not drop the test database {}: {e}", self.name);
            } else {
                panic!("could not drop the test database {}: {e}", self.name);
            }
        }
    }
}
