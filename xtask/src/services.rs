//! `cargo xtask services`: the real PostgreSQL, Redis and mail-storing SMTP server the
//! integration tests use, and the environment that tells the tests where they are.
//!
//! Idempotent: a service that already answers is left alone. Readiness is checked by speaking
//! each protocol just far enough (a PostgreSQL login, a Redis `PING`, an SMTP greeting), so no
//! client tools are needed and a port that is open but not ready does not count.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Read, Write},
    net::{TcpStream, ToSocketAddrs},
    os::unix::{ffi::OsStrExt, process::CommandExt},
    path::{Path, PathBuf},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};

use crate::{browser, cmd, run, succeeds};

const POSTGRES: &str = "127.0.0.1:5432";
const REDIS: &str = "127.0.0.1:6379";
/// The port the SMTP server tries first; when another checkout's server holds it, a free port is
/// used instead and written to `target/tools/smtp.addr`.
const SMTP_PREFERRED: &str = "127.0.0.1:2525";

/// Python venv, maildir, log and pid file of the test SMTP server.
const TOOLS: &str = "target/tools";
/// How long a service may take to answer after it was started.
const STARTUP: Duration = Duration::from_secs(30);

/// A throwaway Redis: no persistence, loopback only (`-::1`: IPv6 too, where there is one).
#[rustfmt::skip]
const REDIS_ARGS: &[&str] = &[
    "--daemonize", "yes",
    "--bind", "127.0.0.1", "-::1",
    "--port", "6379",
    "--save", "",
    "--appendonly", "no",
    "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
];

/// `aiosmtpd`'s Mailbox handler stores each message in the maildir given after these arguments.
#[rustfmt::skip]
const SMTP_SERVER: &[&str] = &["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"];

#[rustfmt::skip]
const PIP_INSTALL: &[&str] = &[
    "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
    "aiosmtpd>=1.4,<2",
    // The webhook receiver of the end-to-end tests verifies signatures with the Standard
    // Webhooks reference library.
    "standardwebhooks>=1.0,<2",
];

/// What the integration tests read to find the services, as `(name, value)`.
pub(crate) fn test_env(root: &Path) -> Vec<(&'static str, String)> {
    let tools = root.join(TOOLS);
    let mut vars = vec![
        // The tests create a fresh database per test from this one.
        (
            "AUTH_TEST_DATABASE_URL",
            format!("postgres://postgres@{POSTGRES}/postgres"),
        ),
        ("AUTH_TEST_REDIS_URL", format!("redis://{REDIS}")),
        ("AUTH_TEST_SMTP_ADDR", smtp_addr(&tools)),
        ("AUTH_TEST_SMTP_MAILDIR", path(&tools.join("smtp-maildir"))),
        // For fault tests that start and stop their own SMTP server on another port.
        ("AUTH_TEST_SMTP_PYTHON", path(&venv_python(&tools))),
        // The same venv, with `standardwebhooks`, for the webhook receiver.
        ("AUTH_TEST_WEBHOOK_PYTHON", path(&venv_python(&tools))),
    ];
    if browser::tests_exist(root) {
        vars.push(("AUTH_TEST_CHROMIUM", browser::CHROMIUM.to_owned()));
    }
    vars
}

pub(crate) fn ensure_up(root: &Path) -> Result<()> {
    postgres()?;
    redis()?;
    smtp(&root.join(TOOLS))
}

fn postgres() -> Result<()> {
    let started = !port_open(POSTGRES);
    if started {
        let version = newest_cluster()?;
        run(cmd(
            "pg_ctlcluster",
            ["--skip-systemctl-redirect", &version, "main", "start"],
        ))?;
    }
    wait_ready("postgres", POSTGRES, started, postgres_login)
}

/// The newest PostgreSQL cluster version installed the Debian way.
fn newest_cluster() -> Result<String> {
    let versions = fs::read_dir("/etc/postgresql").with_context(|| {
        format!("nothing listens on {POSTGRES} and no cluster under /etc/postgresql to start")
    })?;
    versions
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some((name.parse::<f32>().ok()?, name)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
        .context("no cluster under /etc/postgresql")
}

fn redis() -> Result<()> {
    let started = !port_open(REDIS);
    if started {
        for dir in ["/var/lib/redis", "/var/log/redis"] {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {dir}"))?;
        }
        run(cmd("redis-server", REDIS_ARGS))?;
    }
    wait_ready("redis", REDIS, started, redis_ping)
}

/// Where this checkout's SMTP server listens (as last started by [`smtp`]).
fn smtp_addr(tools: &Path) -> String {
    fs::read_to_string(tools.join("smtp.addr"))
        .map_or_else(|_| SMTP_PREFERRED.to_owned(), |a| a.trim().to_owned())
}

/// Python's `aiosmtpd`, storing every message it accepts in a maildir the tests read.
fn smtp(tools: &Path) -> Result<()> {
    let maildir = tools.join("smtp-maildir");
    let pid_file = tools.join("smtp.pid");
    let addr = smtp_addr(tools);
    // The venv also serves the webhook receiver of the tests: complete it even when the SMTP
    // server already runs.
    let python = venv_python(tools);
    if !succeeds(cmd(&python, ["-c", "import aiosmtpd, standardwebhooks"])) {
        let venv = tools.join("smtp-venv");
        if !python.exists() {
            run(cmd("python3", ["-m", "venv"]).arg(&venv))?;
        }
        run(cmd(&python, PIP_INSTALL))?;
    }
    if smtp_greeting(&addr).is_ok() && serves(&pid_file, &maildir) {
        report("smtp", &addr, false);
        return Ok(());
    }
    // Another checkout's server (or anything else) on the preferred port would take mail this
    // checkout's tests never see: then listen on a free port instead.
    let addr = if port_open(SMTP_PREFERRED) {
        free_loopback_addr()?
    } else {
        SMTP_PREFERRED.to_owned()
    };
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub))?;
    }
    let log_path = tools.join("smtp.log");
    let log = File::create(&log_path)?;
    let mut server = cmd(&python, SMTP_SERVER);
    let mut child = server
        .args(["-l", &addr])
        .arg(&maildir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group, so that Ctrl-C on `cargo xtask` does not stop it: it must
        // outlive this command. Its stdio goes to the log, so it holds no pipe of the caller open.
        .process_group(0)
        .spawn()
        .context("cannot start the smtp server")?;
    fs::write(&pid_file, format!("{}\n", child.id()))?;
    fs::write(tools.join("smtp.addr"), format!("{addr}\n"))?;
    wait_ready("smtp", &addr, true, || match child.try_wait()? {
        Some(status) => bail!("exited ({status}), see {}", log_path.display()),
        None => smtp_greeting(&addr),
    })
}

/// A loopback address with a port nobody listens on right now.
fn free_loopback_addr() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// Whether the process in `pid_file` is alive and is the server that writes to `maildir`.
fn serves(pid_file: &Path, maildir: &Path) -> bool {
    let Ok(pid) = fs::read_to_string(pid_file) else {
        return false;
    };
    let Ok(cmdline) = fs::read(format!("/proc/{}/cmdline", pid.trim())) else {
        return false;
    };
    let maildir = maildir.as_os_str().as_bytes();
    cmdline.split(|&byte| byte == 0).any(|arg| arg == maildir)
}

fn venv_python(tools: &Path) -> PathBuf {
    tools.join("smtp-venv/bin/python")
}

/// Polls `ready` until it succeeds (for up to [`STARTUP`]), then prints the service's line.
fn wait_ready(
    name: &str,
    addr: &str,
    started: bool,
    mut ready: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + STARTUP;
    loop {
        match ready() {
            Ok(()) => break,
            Err(err) if Instant::now() >= deadline => {
                return Err(err.context(format!("{name} on {addr} is not ready")));
            }
            Err(_) => thread::sleep(Duration::from_millis(250)),
        }
    }
    report(name, addr, started);
    Ok(())
}

/// The one line per service that `services` prints.
fn report(name: &str, addr: &str, started: bool) {
    let how = if started {
        "started"
    } else {
        "already running"
    };
    eprintln!("{name}: ready on {addr} ({how})");
}

fn port_open(addr: &str) -> bool {
    connect(addr).is_ok()
}

fn connect(addr: &str) -> Result<TcpStream> {
    let addr = addr.to_socket_addrs()?.next().context("no address")?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

/// Logs in as `postgres` to the `postgres` database without a password, as the tests will, and
/// waits for the server to be ready for queries.
fn postgres_login() -> Result<()> {
    let mut stream = connect(POSTGRES)?;
    let params = b"user\0postgres\0database\0postgres\0\0";
    let mut startup = Vec::new();
    startup.extend(u32::try_from(8 + params.len())?.to_be_bytes());
    startup.extend(0x0003_0000_u32.to_be_bytes()); // protocol 3.0
    startup.extend(params);
    stream.write_all(&startup)?;
    loop {
        let mut header = [0; 5];
        stream.read_exact(&mut header)?;
        let [kind, len @ ..] = header;
        let len = usize::try_from(u32::from_be_bytes(len))?;
        ensure!(
            (4..=1 << 20).contains(&len),
            "bad postgres message length {len}"
        );
        let mut body = vec![0; len - 4];
        stream.read_exact(&mut body)?;
        match kind {
            b'Z' => {
                // ReadyForQuery: logged in. Say goodbye (Terminate) rather than just hang up.
                let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
                return Ok(());
            }
            b'R' if body.get(..4) != Some(&[0; 4]) => {
                bail!("postgres asks user postgres for a password; the tests expect trust auth")
            }
            b'E' => {
                let message = body
                    .split(|&byte| byte == 0)
                    .find_map(|field| field.strip_prefix(b"M"))
                    .unwrap_or_default();
                bail!("postgres: {}", String::from_utf8_lossy(message))
            }
            _ => {} // AuthenticationOk, parameters, backend key, notices.
        }
    }
}

fn redis_ping() -> Result<()> {
    let mut stream = connect(REDIS)?;
    stream.write_all(b"PING\r\n")?;
    let reply = first_line(&stream)?;
    ensure!(
        reply.starts_with("+PONG"),
        "redis answered PING with {reply:?}"
    );
    Ok(())
}

fn smtp_greeting(addr: &str) -> Result<()> {
    let mut stream = connect(addr)?;
    let greeting = first_line(&stream)?;
    let _ = stream.write_all(b"QUIT\r\n");
    ensure!(
        greeting.starts_with("220"),
        "smtp greeted with {greeting:?}"
    );
    Ok(())
}

fn first_line(stream: &TcpStream) -> Result<String> {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_owned())
}

fn path(path: &Path) -> String {
    path.display().to_string()
}
