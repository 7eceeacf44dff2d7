//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, ensure};

use crate::{api, browser, cmd, image, run, services, succeeds};

/// Where cargo-deny looks for the RustSec database: `[advisories] db-path` in `deny.toml`, plus a
/// folder name that cargo-deny derives from the database's default URL.
const ADVISORY_DB: &str = "target/advisory-dbs/advisory-db-3157b0e258782691";

/// The snapshot of the advisory database that sits beside the repository, since the database
/// cannot be fetched online; the variable overrides its path.
const ADVISORY_BUNDLE: &str = "../shared/rustsec-advisory-db.bundle";
const ADVISORY_BUNDLE_VAR: &str = "AUTH_ADVISORY_DB_BUNDLE";

const CLONE: &[&str] = &["-c", "init.defaultBranch=main", "clone", "--quiet"];
const FETCH: &[&str] = &["-C", ADVISORY_DB, "fetch", "--quiet"];
#[rustfmt::skip]
const RESET: &[&str] = &["-C", ADVISORY_DB, "reset", "--quiet", "--hard", "FETCH_HEAD"];

pub(crate) fn run_all(root: &Path) -> Result<()> {
    let started = Instant::now();
    step("services", || services::ensure_up(root))?;
    if browser::tests_exist(root) {
        step("browser-deps", || browser::install(root))?;
    }
    step("fmt", || run(cargo(["fmt", "--all", "--", "--check"])))?;
    step("clippy", || {
        run(cargo([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("test", || {
        // `CI=true` even locally: a test whose service is missing must fail, not skip.
        let mut test = cargo(["test", "--workspace", "--all-features"]);
        run(test.envs(services::test_env(root)).env("CI", "true"))
    })?;
    step("api", || api::check(root))?;
    step("deny", || deny(root))?;
    step("unused-deps", unused_dependencies)?;
    step("image", || image::build_and_test(root))?;
    eprintln!("\nci: all steps passed in {}", minutes(started));
    Ok(())
}

/// Runs one named step, timing it and naming it in the error if it fails.
fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("\n==> {name}");
    let started = Instant::now();
    f().with_context(|| format!("ci step `{name}` failed"))?;
    eprintln!("==> {name}: ok in {}", minutes(started));
    Ok(())
}

fn minutes(since: Instant) -> String {
    let secs = since.elapsed().as_secs();
    format!("{}m{:02}s", secs / 60, secs % 60)
}

fn cargo<'a>(args: impl IntoIterator<Item = &'a str>) -> Command {
    let mut cargo = cmd("cargo", args);
    if is_ci() {
        // A cold CI build never reuses incremental state; writing it only costs time and disk.
        cargo.env("CARGO_INCREMENTAL", "0");
    }
    cargo
}

fn is_ci() -> bool {
    env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false" && ci != "0")
}

/// Licences, sources, duplicate and banned crates, and advisories from the offline snapshot.
fn deny(root: &Path) -> Result<()> {
    if !succeeds(cargo(["deny", "--version"])) {
        run(cargo(["install", "cargo-deny", "--locked"]))?;
    }
    // `--offline` needs every crate of the graph in the local cache.
    run(cargo(["fetch"]))?;
    advisory_db(root)?;
    run(cargo(["deny", "--offline", "check"]))
}

/// Dependencies a crate declares but never uses: each costs build time on every machine.
pub(crate) fn unused_dependencies() -> Result<()> {
    // The binary is called directly and without the `CARGO` variable that cargo set for xtask:
    // cargo-machete reads that variable as "run as `cargo machete`" and then expects its own name
    // as the first argument.
    let machete = || {
        let mut c = cmd("cargo-machete", Vec::<&str>::new());
        c.env_remove("CARGO").env_remove("CARGO_PKG_NAME");
        c
    };
    if !succeeds(machete().arg("--version")) {
        run(cargo(["install", "cargo-machete", "--locked"]))?;
    }
    run(machete())
}

/// Puts the advisory snapshot where `deny.toml` points cargo-deny.
fn advisory_db(root: &Path) -> Result<()> {
    let bundle =
        env::var_os(ADVISORY_BUNDLE_VAR).map_or_else(|| root.join(ADVISORY_BUNDLE), PathBuf::from);
    let have_db = root.join(ADVISORY_DB).join(".git").is_dir();
    if !bundle.is_file() {
        ensure!(
            have_db,
            "no advisory database snapshot at {} (set {ADVISORY_BUNDLE_VAR} to its path)",
            bundle.display()
        );
        eprintln!(
            "advisory database: no snapshot at {}, using {ADVISORY_DB}",
            bundle.display()
        );
        return Ok(());
    }
    if !have_db {
        return run(cmd("git", CLONE).arg(&bundle).arg(ADVISORY_DB));
    }
    // Offline, cargo-deny refuses a database last fetched more than 90 days ago. The snapshot is
    // our upstream, so fetching from it is the update that counts, as a fresh clone in CI is;
    // it also brings in a newer snapshot when there is one.
    run(cmd("git", FETCH).arg(&bundle).arg("HEAD"))?;
    run(cmd("git", RESET))
}
