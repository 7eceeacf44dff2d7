//! Throw-away instances of the real services, for tests that stop and restart them: a PostgreSQL
//! cluster, a Redis server and an SMTP server, each on its own free port so that stopping one never
//! disturbs another test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on loopback, for a service that must be told its port before it starts.
///
/// The port is free when this returns and could be taken before the service binds it. Port 0 cannot
/// close that gap here: these services are stopped and started again on the same port (a restart
/// must bring the same address back, which is the point of the fault tests), Redis takes `--port 0`
/// as "no TCP listener", PostgreSQL does not accept port 0, and the SMTP relay of
/// [`Smtp::not_started`] must have an address before it exists. The auth server itself always binds
/// port 0 and logs the real port. The browser test also reserves a port this way: the public URL
/// (and so the WebAuthn origin and the page's address) must name the port before the start.
///
/// The port comes from below the kernel's ephemeral range. A port from inside it (what binding port
/// 0 hands out) is handed out again while its service is stopped, to any outgoing connection or
/// port-0 listener of a test running alongside, and then the restart fails with "address in use",
/// as a CI run met. Below the range only another call of this function can pick it, and each
/// process walks its own stretch of ports, one after another.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = (10_000u32, ephemeral_low().min(u32::from(u16::MAX)));
    if high <= low + 1_000 {
        return TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
    }
    let span = high - low;
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(low + (start + n) % span).expect("below 65536");
        if is_free(port) {
            return port;
        }
    }
    panic!("no free port between {low} and {high}")
}

/// Whether `port` can be bound on loopback and nothing answers there. The probe listener is closed
/// before the connection is tried, so the connection can only reach somebody else's.
fn is_free(port: u16) -> bool {
    let bindable = TcpListener::bind(("127.0.0.1", port)).is_ok();
    bindable && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// The first port of the kernel's ephemeral range (32768 where it cannot be read).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn wait_for_port(port: u16, up: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let open = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if open == up {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "port {port} did not go {} within 20 s",
        if up { "up" } else { "down" }
    );
}

fn run(cmd: &mut Command) {
    try_run(cmd).unwrap_or_else(|e| panic!("{e}"));
}

fn try_run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A PostgreSQL cluster of its own (initdb, run as the `postgres` system user).
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let found = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path().join("bin").join(name))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| PathBuf::from(name))
}

impl Postgres {
    /// A fresh, running cluster with trust authentication for `postgres`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        run(Command::new("chown").arg("postgres").arg(dir.path()));
        let data = dir.path().join("data");
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data));
        let pg = Self {
            dir,
            port: free_port(),
        };
        pg.start_again();
        pg
    }

    /// `postgres://postgres@127.0.0.1:PORT/<db>`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Starts it (again) on the same port.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        try_run(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(pg_bin("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-o", &opts, "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-w", "start"]),
        )
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            panic!("{e}\nPostgreSQL's log:\n{log}")
        });
        wait_for_port(self.port, true);
    }

    /// Stops it abruptly, as a crash would.
    pub fn stop(&self) {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
        wait_for_port(self.port, false);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A Redis server of its own, keeping nothing on disk.
#[derive(Debug)]
pub struct Redis {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// A running server on a free port.
    pub fn start() -> Self {
        let mut r = Self {
            child: None,
            port: free_port(),
        };
        r.start_again();
        r
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, empty) on the same port.
    pub fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        wait_for_port(self.port, true);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for_port(self.port, false);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An SMTP server of its own (Python's aiosmtpd) storing mail in a Maildir.
#[derive(Debug)]
pub struct Smtp {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Its Maildir.
    pub maildir: tempfile::TempDir,
}

impl Smtp {
    /// A port reserved for a server that is not started yet (a relay that is down).
    pub fn not_started() -> Self {
        let maildir = tempfile::tempdir().expect("temp dir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.path().join(sub)).expect("maildir");
        }
        Self {
            child: None,
            port: free_port(),
            maildir,
        }
    }

    /// Starts it on its port.
    pub fn start(&mut self) {
        let python = crate::service_env("AUTH_TEST_SMTP_PYTHON");
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(self.maildir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        wait_for_port(self.port, true);
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
