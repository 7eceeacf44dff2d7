//! Load benchmark against the release server, on the embedded defaults (SQLite, in-process state)
//! and on production services (PostgreSQL, Redis), with mail going over real SMTP to a fast local
//! sink in this process. Client tasks run each path in a closed loop for a fixed time; the report
//! gives requests per second, latency percentiles, and the server's peak RSS and CPU, and the CPU
//! this client used.
//!
//! ```sh
//! cargo build --release -p auth-server
//! eval "$(cargo xtask services --env)"   # only for `production` or `both`
//! cargo run --release -p e2e --example load -- [embedded|production|both] [seconds, 10] [threads, 32]
//! ```
//!
//! The client is meant to cost little beside the server on the same cores: one tokio runtime on
//! [`CLIENT_THREADS`] thread(s) runs as many client tasks as the third argument says (it keeps its
//! old name, `threads`). Each task owns its state for the path (its account's address, session,
//! authenticator, ...) and one keep-alive HTTP/1.1 connection to the server, which the task drives
//! itself and opens again when the server has closed it (see `client.rs`). A reply is parsed as
//! JSON only where the step needs a value from it (a token, passkey options, a ceremony id);
//! elsewhere its status alone is checked. Codes reach the waiting task from the SMTP sink over a
//! channel per address. The setup (sign-ups, adding passkeys, the attempts for the wrong-code path)
//! goes through the blocking test harness and is not measured. Before each path the benchmark
//! waits until the machine is nearly idle, so that no path pays for work the one before it left
//! behind (the accounts have passkeys, so each of their code sign-ins also spools a security
//! notice, which is mailed after the answer).
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

mod client;
mod flood;
mod measure;
mod sink;

use auth_testsupport::Device;
use e2e::{Mailbox, Production, Server, Session, unique_email};
use flood::flood;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use measure::{Row, client_runtime, run};
use serde_json::{Value, json};
use sink::Latest;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// The threads of the client runtime, which all client tasks share. On the 2-core development
/// machine two gave the higher rate on the cheapest path (the JWKS document: about 28,000/s against
/// 21,500/s with one, three runs each) and the same within the runs' spread on the others.
const CLIENT_THREADS: usize = 2;

/// The origin passkeys are bound to (the server's default public URL).
const ORIGIN: &str = "http://localhost:8080";

/// Limits lifted so that the benchmark measures work, not refusals. All requests come from one
/// network and share its keys. Earlier builds (a baseline may be one) counted limits in whole
/// milliseconds, so once a quota's burst (one period's worth) was spent it allowed at most one
/// request per millisecond and key; at this client's rates a minute's burst ran out within a run
/// (429 answers), and an hour's is not spent by a run.
const UNLIMITED: &[(&str, &str)] = &[
    (
        "AUTH_POLICY__LIMITS__SEND_GLOBAL",
        "{limit=100000000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_IP",
        "{limit=100000000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__GUESSES_PER_IP",
        "{limit=100000000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS",
        "{limit=100000000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__SEND_PER_ADDRESS_TOTAL",
        "{limit=100000000,period=\"1h\"}",
    ),
    (
        "AUTH_POLICY__LIMITS__PASSKEY_OPTIONS_PER_IP",
        "{limit=100000000,period=\"1h\"}",
    ),
    ("AUTH_POLICY__LIMITS__SEND_GAP_PER_ADDRESS", "0s"),
    ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__FREE", "1000000"),
    ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__BUDGET", "1000000"),
    ("AUTH_LOG__FILTER", "warn"),
];

/// Settings that the baseline build of `LOAD_BASELINE` (the speed issue's measurement, commit
/// 396118a) does not know, so that it would refuse to start with them. A later baseline knows
/// them all: say so with `LOAD_BASELINE_KNOWS_ALL=1`.
const UNKNOWN_TO_BASELINE: &[&str] = &["SEND_PER_ADDRESS_TOTAL", "PASSKEY_OPTIONS_PER_IP"];

/// The settings the baseline build does not know (see [`UNKNOWN_TO_BASELINE`]).
fn unknown_to_baseline() -> &'static [&'static str] {
    if std::env::var_os("LOAD_BASELINE_KNOWS_ALL").is_some() {
        &[]
    } else {
        UNKNOWN_TO_BASELINE
    }
}

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
                Server::start_binary(bin, unknown_to_baseline(), services, mailbox, env)
            }
        }
    }
}

/// A JSON body, serialized once.
fn body(value: &Value) -> Bytes {
    serde_json::to_vec(value).expect("json").into()
}

/// Setup, on the blocking harness: starts a code flow for `email` and signs in with the code
/// from the delivered mail, which `mail` (the address's receiver) brings.
fn code_sign_in(
    rt: &Runtime,
    s: &Server,
    mail: &mut watch::Receiver<Latest>,
    path: &str,
    body: Value,
) -> Option<Session> {
    mail.borrow_and_update();
    let started = s.post(path, body);
    if started.status != 202 {
        return None;
    }
    let code = rt.block_on(sink::next_code(mail, Duration::from_secs(30)))?;
    let done = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": started.json["attempt_token"], "code": code }),
    );
    (done.status == 200).then(|| Session::from_reply(&done))
}

/// Setup: registers a passkey on `session`'s account.
fn add_passkey(rt: &Runtime, s: &Server, session: &Session, device: &mut Device) {
    let options = s.authed(
        "POST",
        "/v1/passkeys/register/options",
        &session.access,
        None,
    );
    assert_eq!(options.status, 200, "{}", options.text);
    let credential = rt
        .block_on(device.create(&options.json["options"]))
        .expect("a credential");
    let added = s.authed(
        "POST",
        "/v1/passkeys/register/finish",
        &session.access,
        Some(json!({ "ceremony_id": options.json["ceremony_id"], "credential": credential })),
    );
    assert_eq!(added.status, 201, "{}", added.text);
}

fn bench(
    rt: &Runtime,
    build: Build,
    config: &'static str,
    services: &[(String, String)],
    tasks: usize,
    seconds: u64,
) -> Vec<Row> {
    let (sink, inbox) = sink::start();
    let mut services = services.to_vec();
    services.push(("AUTH_MAIL__SMTP_URL".to_owned(), format!("smtp://{sink}")));
    let outbox = tempfile::tempdir().expect("temp dir");
    let server = build.start(
        &services,
        Mailbox::Outbox(outbox.path().to_path_buf()),
        UNLIMITED,
    );
    println!(
        "{} {config}: server {} — {tasks} client tasks on {CLIENT_THREADS} client thread(s), {seconds} s per path",
        build.label(),
        server.base
    );

    let accounts: Vec<String> = (0..tasks)
        .map(|t| unique_email(&format!("{config}{t}")))
        .collect();
    let mut mail: Vec<watch::Receiver<Latest>> = accounts.iter().map(|a| inbox.watch(a)).collect();
    let sessions: Vec<Session> = accounts
        .iter()
        .zip(&mut mail)
        .map(|(email, mail)| {
            let body = json!({ "email": email, "display_name": "Load" });
            code_sign_in(rt, &server, mail, "/v1/signup", body)
                .expect("sign-up through the delivered mail")
        })
        .collect();
    let devices: Vec<Device> = sessions
        .iter()
        .map(|session| {
            let mut device = Device::synced(ORIGIN);
            add_passkey(rt, &server, session, &mut device);
            device
        })
        .collect();
    let mut rows = Vec::new();

    // Each task: its address's start body and the receiver of its mail.
    let logins: Vec<(Bytes, watch::Receiver<Latest>)> = accounts
        .iter()
        .zip(mail)
        .map(|(email, mail)| (body(&json!({ "email": email })), mail))
        .collect();
    let (row, _) = run(
        rt,
        build,
        config,
        "full email-code login",
        &server,
        logins,
        seconds,
        |c, (start, mail), _| {
            Box::pin(async move {
                mail.borrow_and_update();
                let started = c.post("/v1/login/email", start.clone()).await;
                if started.status != 202 {
                    return false;
                }
                let Some(code) = sink::next_code(mail, Duration::from_secs(30)).await else {
                    return false;
                };
                let verify =
                    json!({ "attempt_token": started.json()["attempt_token"], "code": code });
                c.post("/v1/codes/verify", body(&verify)).await.status == 200
            })
        },
    );
    rows.push(row);

    // Each task: its number and its account's start body.
    let starts: Vec<(usize, Bytes)> = accounts
        .iter()
        .enumerate()
        .map(|(t, email)| (t, body(&json!({ "email": email }))))
        .collect();
    let (row, _) = run(
        rt,
        build,
        config,
        "POST /v1/login/email",
        &server,
        starts,
        seconds,
        |c, (t, account), i| {
            Box::pin(async move {
                // An account holder and an unknown address alternately: both paths do the same
                // work.
                let start = if i % 2 == 0 {
                    account.clone()
                } else {
                    body(&json!({ "email": format!("nobody{t}-{i}@example.test") }))
                };
                c.post("/v1/login/email", start).await.status == 202
            })
        },
    );
    rows.push(row);

    // Each task: a wrong code for an attempt of its own.
    let wrong: Vec<Bytes> = accounts
        .iter()
        .map(|email| {
            let token = server
                .post("/v1/login/email", json!({ "email": email }))
                .json["attempt_token"]
                .clone();
            body(&json!({ "attempt_token": token, "code": "ZZZZ9999" }))
        })
        .collect();
    let (row, _) = run(
        rt,
        build,
        config,
        "POST /v1/codes/verify (wrong)",
        &server,
        wrong,
        seconds,
        |c, wrong, _| {
            Box::pin(async move { c.post("/v1/codes/verify", wrong.clone()).await.status == 400 })
        },
    );
    rows.push(row);

    // Each task: its session, whose tokens each refresh rotates.
    let (row, sessions) = run(
        rt,
        build,
        config,
        "POST /v1/token/refresh",
        &server,
        sessions,
        seconds,
        |c, session, _| {
            Box::pin(async move {
                let refresh = body(&json!({ "refresh_token": session.refresh }));
                let r = c.post("/v1/token/refresh", refresh).await;
                if r.status != 200 {
                    return false;
                }
                let json = r.json();
                let token = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
                session.access = token("access_token");
                session.refresh = token("refresh_token");
                true
            })
        },
    );
    rows.push(row);

    // Each task: its session's newest access token as an authorization header.
    let bearers: Vec<HeaderValue> = sessions
        .iter()
        .map(|s| HeaderValue::from_str(&format!("Bearer {}", s.access)).expect("a header value"))
        .collect();
    let (row, _) = run(
        rt,
        build,
        config,
        "GET /v1/me",
        &server,
        bearers,
        seconds,
        |c, bearer, _| Box::pin(async move { c.get("/v1/me", Some(bearer)).await.status == 200 }),
    );
    rows.push(row);

    // Each task: its account's software authenticator.
    let (row, _) = run(
        rt,
        build,
        config,
        "passkey sign-in (options+finish)",
        &server,
        devices,
        seconds,
        |c, device, _| {
            Box::pin(async move {
                let options = c.post_empty("/v1/passkeys/login/options").await;
                if options.status != 200 {
                    return false;
                }
                let options = options.json();
                let Ok(answer) = device.get(&options["options"]).await else {
                    return false;
                };
                let finish = json!({ "ceremony_id": options["ceremony_id"], "credential": answer });
                c.post("/v1/passkeys/login/finish", body(&finish))
                    .await
                    .status
                    == 200
            })
        },
    );
    rows.push(row);

    let (row, _) = run(
        rt,
        build,
        config,
        "GET /.well-known/jwks.json",
        &server,
        vec![(); tasks],
        seconds,
        |c, (), _| {
            Box::pin(async move { c.get("/.well-known/jwks.json", None).await.status == 200 })
        },
    );
    rows.push(row);
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
    let rt = client_runtime();
    let mut rows = Vec::new();
    if matches!(which, "embedded" | "both") {
        for &build in &builds {
            rows.extend(bench(&rt, build, "embedded", &[], threads, seconds));
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
            rows.extend(bench(&rt, build, "production", &services, threads, seconds));
        }
    }
    // The flood runs longer than the paths: long enough to fill the queue at the start rate.
    let flood_seconds = seconds.max(10);
    for &build in &builds {
        if matches!(which, "embedded" | "both") {
            rows.push(flood(&rt, build, "embedded", &[], threads, flood_seconds));
        }
        if production.is_some() {
            rows.push(flood(
                &rt,
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
