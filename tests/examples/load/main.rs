//! Load benchmark against the release server, on the embedded defaults (SQLite, in-process state)
//! and on production services (PostgreSQL, Redis), with mail going over real SMTP to a fast local
//! sink in this process. Client threads run each path in a closed loop for a fixed time; the
//! report gives requests per second, latency percentiles, and the server's peak RSS and CPU.
//!
//! ```sh
//! cargo build --release -p auth-server
//! eval "$(cargo xtask services --env)"   # only for `production` or `both`
//! cargo run --release -p e2e --example load -- [embedded|production|both] [seconds, 10] [threads, 32]
//! ```
//!
//! With `LOAD_BASELINE=<path of an older auth-server binary>`, each configuration runs first on
//! that build ("before") and then on this one ("after"), in the same run, so the two columns share
//! the machine's state. Settings the older build does not have are left out for it.
//!
//! Last, a start flood with the mail relay silent (it accepts connections and never answers)
//! fills the mail queue to its default capacity; the report gives the server's peak RSS and the
//! queue depth it reached.
//!
//! Paths: the full email-code login (start, the code read from the delivered mail, verify), start
//! login (an account and an unknown address alternately), a wrong-code verification, refresh,
//! an authenticated read, passkey sign-in (options, a software authenticator's answer, finish),
//! and the JWKS document. Requests go only to the server this program starts on 127.0.0.1, and
//! every loop stops after its time.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod flood;
mod sink;

use auth_testsupport::Device;
use e2e::{Mailbox, Production, Server, Session, unique_email};
use flood::flood;
use serde_json::{Value, json};
use sink::Inbox;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The origin passkeys are bound to (the server's default public URL).
const ORIGIN: &str = "http://localhost:8080";

/// Limits lifted so that the benchmark measures work, not refusals.
const UNLIMITED: &[(&str, &str)] = &[
    (
        "AUTH_POLICY__LIMITS__SEND_GLOBAL",
        "{limit=100000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_IP",
        "{limit=100000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__GUESSES_PER_IP",
        "{limit=100000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS",
        "{limit=100000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS_TOTAL",
        "{limit=100000000,period=\"1m\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__PASSKEY_OPTIONS_PER_IP",
        "{limit=100000000,period=\"1m\"}",
    ),
    ("AUTH_POLICY__LIMITS__SEND_GAP_PER_ADDRESS", "0s"),
    ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__FREE", "1000000"),
    ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__BUDGET", "1000000"),
    ("AUTH_LOG__FILTER", "warn"),
];

/// Settings that the baseline build of `LOAD_BASELINE` (the speed issue's measurement, commit
/// 396118a) does not know, so that it would refuse to start with them.
const UNKNOWN_TO_BASELINE: &[&str] = &["SEND_PER_ADDRESS_TOTAL", "PASSKEY_OPTIONS_PER_IP"];

/// Which server binary a measurement ran on.
#[derive(Clone, Copy)]
enum Build {
    /// The binary beside this example.
    This,
    /// An older binary to compare with.
    Baseline(&'static std::path::Path),
}

impl Build {
    fn label(self) -> &'static str {
        match self {
            Self::This => "after",
            Self::Baseline(_) => "before",
        }
    }

    fn start(
        self,
        services: &[(String, String)],
        mailbox: Mailbox,
        env: &[(&str, &str)],
    ) -> Server {
        match self {
            Self::This => Server::start_on(services, mailbox, env),
            Self::Baseline(bin) => {
                Server::start_binary(bin, UNKNOWN_TO_BASELINE, services, mailbox, env)
            }
        }
    }
}

/// One line of the report.
struct Row {
    build: &'static str,
    config: &'static str,
    path: &'static str,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    rss_mb: f64,
    cores: f64,
    /// CPU cores this load generator used meanwhile: on a shared machine, the two add up to the
    /// machine's cores when it is saturated.
    client_cores: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The server's resident set in MiB and its CPU time in seconds, from `/proc`.
fn usage(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name; Linux counts
    // them in USER_HZ, which is 100 on every architecture it runs on.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    (rss_kb / 1024.0, ticks / 100.0)
}

type Step = Arc<dyn Fn(&Server, usize, u64) -> bool + Send + Sync>;

fn run(
    build: Build,
    config: &'static str,
    path: &'static str,
    server: &Arc<Server>,
    threads: usize,
    seconds: u64,
    step: Step,
) -> Row {
    let stop = Arc::new(AtomicBool::new(false));
    let (_, cpu0) = usage(server.pid());
    let (_, client0) = usage(std::process::id());
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (server, step, stop) = (server.clone(), step.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    if !step(&server, t, i) {
                        errors += 1;
                    }
                    lat.push(t0.elapsed());
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut peak_rss: f64 = 0.0;
    let until = started + Duration::from_secs(seconds);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        peak_rss = peak_rss.max(usage(server.pid()).0);
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (lat, e) = h.join().expect("client thread");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (rss, cpu1) = usage(server.pid());
    let (_, client1) = usage(std::process::id());
    all.sort();
    let row = Row {
        build: build.label(),
        config,
        path,
        rate: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        errors,
        rss_mb: peak_rss.max(rss),
        cores: (cpu1 - cpu0) / elapsed,
        client_cores: (client1 - client0) / elapsed,
    };
    println!(
        "{:<6} {config:<10} {path:<34} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  RSS {:>5.1} MiB  CPU {:.2} cores (client {:.2})  ({} requests, {errors} unexpected)",
        row.build,
        row.rate,
        row.p50.as_secs_f64() * 1e3,
        row.p99.as_secs_f64() * 1e3,
        row.rss_mb,
        row.cores,
        row.client_cores,
        all.len(),
    );
    row
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Starts a code flow for `email` and signs in with the code from the delivered mail.
fn code_sign_in(
    s: &Server,
    inbox: &Inbox,
    path: &str,
    body: Value,
    email: &str,
) -> Option<Session> {
    let seen = inbox.count(email);
    let started = s.post(path, body);
    if started.status != 202 {
        return None;
    }
    let code = inbox.next_code(email, seen, Duration::from_secs(30))?;
    let done = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": started.json["attempt_token"], "code": code }),
    );
    (done.status == 200).then(|| Session::from_reply(&done))
}

/// Registers a passkey on `session`'s account.
fn add_passkey(s: &Server, session: &Session, device: &mut Device) {
    let options = s.authed(
        "POST",
        "/v1/passkeys/register/options",
        &session.access,
        None,
    );
    assert_eq!(options.status, 200, "{}", options.text);
    let credential = block_on(device.create(&options.json["options"])).expect("a credential");
    let added = s.authed(
        "POST",
        "/v1/passkeys/register/finish",
        &session.access,
        Some(json!({ "ceremony_id": options.json["ceremony_id"], "credential": credential })),
    );
    assert_eq!(added.status, 201, "{}", added.text);
}

fn bench(
    build: Build,
    config: &'static str,
    services: &[(String, String)],
    threads: usize,
    seconds: u64,
) -> Vec<Row> {
    let (sink, inbox) = sink::start();
    let mut services = services.to_vec();
    services.push(("AUTH_MAIL__SMTP_URL".to_owned(), format!("smtp://{sink}")));
    let outbox = tempfile::tempdir().expect("temp dir");
    let server = Arc::new(build.start(
        &services,
        Mailbox::Outbox(outbox.path().to_path_buf()),
        UNLIMITED,
    ));
    println!(
        "{} {config}: server {} — {threads} client threads, {seconds} s per path",
        build.label(),
        server.base
    );

    let accounts: Arc<Vec<String>> = Arc::new(
        (0..threads)
            .map(|t| unique_email(&format!("{config}{t}")))
            .collect(),
    );
    let sessions: Arc<Vec<Mutex<Session>>> = Arc::new(
        accounts
            .iter()
            .map(|email| {
                let body = json!({ "email": email, "display_name": "Load" });
                let session = code_sign_in(&server, &inbox, "/v1/signup", body, email)
                    .expect("sign-up through the delivered mail");
                Mutex::new(session)
            })
            .collect(),
    );
    let devices: Arc<Vec<Mutex<Device>>> = Arc::new(
        sessions
            .iter()
            .map(|session| {
                let mut device = Device::synced(ORIGIN);
                add_passkey(&server, &session.lock().expect("session"), &mut device);
                Mutex::new(device)
            })
            .collect(),
    );
    let mut rows = Vec::new();

    let (acc, ib) = (accounts.clone(), inbox.clone());
    rows.push(run(
        build,
        config,
        "full email-code login",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, _| {
            let email = &acc[t];
            code_sign_in(s, &ib, "/v1/login/email", json!({ "email": email }), email).is_some()
        }),
    ));

    let acc = accounts.clone();
    rows.push(run(
        build,
        config,
        "POST /v1/login/email",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, i| {
            // An account holder and an unknown address alternately: both paths do the same work.
            let email = if i % 2 == 0 {
                acc[t].clone()
            } else {
                format!("nobody{t}-{i}@example.test")
            };
            s.post("/v1/login/email", json!({ "email": email })).status == 202
        }),
    ));

    let tokens: Arc<Vec<Value>> = Arc::new(
        accounts
            .iter()
            .map(|email| {
                server
                    .post("/v1/login/email", json!({ "email": email }))
                    .json["attempt_token"]
                    .clone()
            })
            .collect(),
    );
    rows.push(run(
        build,
        config,
        "POST /v1/codes/verify (wrong)",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, _| {
            s.post(
                "/v1/codes/verify",
                json!({ "attempt_token": tokens[t], "code": "ZZZZ9999" }),
            )
            .status
                == 400
        }),
    ));

    let sess = sessions.clone();
    rows.push(run(
        build,
        config,
        "POST /v1/token/refresh",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, _| {
            let mut current = sess[t].lock().expect("session");
            let r = s.post(
                "/v1/token/refresh",
                json!({ "refresh_token": current.refresh }),
            );
            let ok = r.status == 200;
            if ok {
                *current = Session::from_reply(&r);
            }
            ok
        }),
    ));

    let sess = sessions.clone();
    rows.push(run(
        build,
        config,
        "GET /v1/me",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, _| {
            let access = sess[t].lock().expect("session").access.clone();
            s.authed("GET", "/v1/me", &access, None).status == 200
        }),
    ));

    let devs = devices.clone();
    rows.push(run(
        build,
        config,
        "passkey sign-in (options+finish)",
        &server,
        threads,
        seconds,
        Arc::new(move |s, t, _| {
            let options = s.request("POST", "/v1/passkeys/login/options", &[], None);
            if options.status != 200 {
                return false;
            }
            let mut device = devs[t].lock().expect("device");
            let Ok(answer) = block_on(device.get(&options.json["options"])) else {
                return false;
            };
            let done = s.post(
                "/v1/passkeys/login/finish",
                json!({ "ceremony_id": options.json["ceremony_id"], "credential": answer }),
            );
            done.status == 200
        }),
    ));

    rows.push(run(
        build,
        config,
        "GET /.well-known/jwks.json",
        &server,
        threads,
        seconds,
        Arc::new(|s, _, _| s.request("GET", "/.well-known/jwks.json", &[], None).status == 200),
    ));
    println!(
        "{config}: {} mails delivered to the sink",
        inbox.delivered()
    );
    rows
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("both", String::as_str);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let mut builds = Vec::new();
    if let Some(path) = std::env::var_os("LOAD_BASELINE") {
        let path: &'static std::path::Path =
            Box::leak(std::path::PathBuf::from(path).into_boxed_path());
        assert!(
            path.exists(),
            "LOAD_BASELINE names no file: {}",
            path.display()
        );
        builds.push(Build::Baseline(path));
    }
    builds.push(Build::This);
    let mut rows = Vec::new();
    if matches!(which, "embedded" | "both") {
        for &build in &builds {
            rows.extend(bench(build, "embedded", &[], threads, seconds));
        }
    }
    let production = matches!(which, "production" | "both").then(Production::new);
    let services: Vec<(String, String)> = production
        .iter()
        .flat_map(Production::env)
        .filter(|(k, _)| k != "AUTH_MAIL__SMTP_URL")
        .collect();
    if production.is_some() {
        for &build in &builds {
            // A fresh database and key prefix per build, so neither sees the other's rows.
            let fresh = Production::new();
            let services: Vec<(String, String)> = fresh
                .env()
                .into_iter()
                .filter(|(k, _)| k != "AUTH_MAIL__SMTP_URL")
                .collect();
            rows.extend(bench(build, "production", &services, threads, seconds));
        }
    }
    // The flood runs longer than the paths: long enough to fill the queue at the start rate.
    let flood_seconds = seconds.max(10);
    for &build in &builds {
        if matches!(which, "embedded" | "both") {
            rows.push(flood(build, "embedded", &[], threads, flood_seconds));
        }
        if production.is_some() {
            rows.push(flood(
                build,
                "production",
                &services,
                threads,
                flood_seconds,
            ));
        }
    }
    println!(
        "\n| build | config | path | req/s | p50 ms | p99 ms | server RSS MiB | server CPU cores | server CPU ms per request | client CPU cores | unexpected |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.build,
            r.config,
            r.path,
            r.rate,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.rss_mb,
            r.cores,
            r.cores * 1e3 / r.rate.max(f64::MIN_POSITIVE),
            r.client_cores,
            r.errors
        );
    }
}
