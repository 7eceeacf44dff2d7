//! Project automation, run as `cargo xtask <command>` from anywhere in the repository.
//!
//! - `ci` is exactly what `.ci/run` runs, so a green local run means a green CI.
//! - `services` makes sure the real PostgreSQL, Redis and SMTP server the tests use are up.
//! - `api` validates the served OpenAPI document and runs schemathesis against the server.
//! - `browser-deps` installs what the browser tests need.
//! - `image` builds the container image with podman, on base images made here from Debian
//!   packages, and tests a container of it.
//!
//! Progress goes to stderr. Only `services --env` writes to stdout, so that its output can be
//! `eval`ed. Every path is relative to the repository root, which is also the working directory.

mod api;
mod browser;
mod ci;
mod image;
mod services;
#[cfg(test)]
mod tidy;

use std::{
    borrow::BorrowMut,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

use anyhow::{Context, Result, bail, ensure};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci              every check CI runs, in CI's order: services, fmt, clippy, test, api, deny,
                  unused-deps, image
  services        start PostgreSQL, Redis and the test SMTP server unless they already answer
  services --env  the same, then print the `export` lines the integration tests read:
                  eval \"$(cargo xtask services --env)\"
  api             check the served OpenAPI document and run schemathesis against the server
  browser-deps    install Chromium and the npm packages of tests/browser and examples/oidc-app
  unused-deps     dependencies a crate declares but never uses (cargo-machete)
  image           build the container image with podman on Debian bases made here (no image
                  registry), then run it: health, sign-up by email code, non-root, health check
";

fn main() -> ExitCode {
    match run_command() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The one-line cause chain: a backtrace of xtask itself would only hide it.
            eprintln!("\nerror: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_command() -> Result<()> {
    let root = project_root();
    std::env::set_current_dir(&root)
        .with_context(|| format!("cannot enter the repository root {}", root.display()))?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["ci"] => ci::run_all(&root),
        ["services"] => services::ensure_up(&root),
        ["services", "--env"] => {
            services::ensure_up(&root)?;
            print_exports(&services::test_env(&root));
            Ok(())
        }
        ["browser-deps"] => browser::install(&root),
        ["unused-deps"] => ci::unused_dependencies(),
        ["api"] => api::check(&root),
        ["image"] => image::build_and_test(&root),
        ["help" | "--help" | "-h"] => {
            eprint!("{USAGE}");
            Ok(())
        }
        _ => bail!("expected a command, got {args:?}\n\n{USAGE}"),
    }
}

/// The repository root: the parent of this package's folder.
fn project_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

#[expect(
    clippy::print_stdout,
    reason = "these lines are the command's output, meant for `eval`"
)]
fn print_exports(vars: &[(&str, String)]) {
    for (name, value) in vars {
        // Single quotes keep paths with spaces or `$` intact; a `'` is closed, escaped, reopened.
        println!("export {name}='{}'", value.replace('\'', r"'\''"));
    }
}

/// A command for `program` with `args`.
fn cmd<I, S>(program: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// Runs `command` with inherited stdio, echoing it first; fails unless it exits successfully.
fn run(mut command: impl BorrowMut<Command>) -> Result<()> {
    let command = command.borrow_mut();
    let line = show(command);
    eprintln!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    ensure!(status.success(), "`{line}` failed ({status})");
    Ok(())
}

/// Whether `command` starts and exits successfully; its output is discarded.
fn succeeds(mut command: impl BorrowMut<Command>) -> bool {
    command
        .borrow_mut()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The command line as a shell would need it, for logs and error messages.
fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains([' ', '<', '>', '\'']) {
                format!("'{arg}'")
            } else {
                arg.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
