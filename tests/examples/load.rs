//! Load benchmark against the running release server on its embedded defaults: several client
//! threads hammer one endpoint for a fixed time and report throughput and latency percentiles.
//!
//! ```sh
//! cargo build --release -p auth-server
//! cargo run --release -p e2e --example load -- [seconds per scenario, default 10] [client threads, default 32]
//! ```
//!
//! Scenarios: starting a code login (account and decoy alike), a wrong-code verification (the full
//! guess path), refresh-token rotation, an authenticated read, and the JWKS document. Requests go
//! only to the server this program starts on 127.0.0.1, and every loop stops after its time.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use e2e::{Server, unique_email};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

type Step = Box<dyn Fn(&Server, usize, u64) -> bool + Send + Sync>;

fn run(name: &str, server: &Arc<Server>, threads: usize, seconds: u64, step: Step) {
    let step = Arc::new(step);
    let stop = Arc::new(AtomicBool::new(false));
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
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (lat, e) = h.join().expect("client thread");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{name:<28} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {errors} unexpected answers)",
        all.len() as f64 / elapsed,
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let limits = [
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
        ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__FREE", "1000000"),
        ("AUTH_POLICY__LIMITS__ADDRESS_FAILURES__BUDGET", "1000000"),
        ("AUTH_LOG__FILTER", "warn"),
        ("AUTH_MAIL__QUEUE_CAPACITY", "1000000"),
    ];
    let server = Arc::new(Server::start_with(&limits));
    println!(
        "server {} — {threads} client threads, {seconds} s per scenario, 2 server workers",
        server.base
    );

    // One account per client thread, signed up through the real flow.
    let sessions: Arc<Vec<std::sync::Mutex<e2e::Session>>> = Arc::new(
        (0..threads)
            .map(|t| {
                std::sync::Mutex::new(server.sign_up(&unique_email(&format!("load{t}")), "Load"))
            })
            .collect(),
    );
    let known: Arc<Vec<String>> = Arc::new(
        (0..threads)
            .map(|t| unique_email(&format!("known{t}")))
            .collect(),
    );
    for email in known.iter() {
        server.sign_up(email, "Known");
    }

    let k = known.clone();
    run(
        "POST /v1/login/email",
        &server,
        threads,
        seconds,
        Box::new(move |s, t, i| {
            // Alternate an account holder and an unknown address: both paths do the same work.
            let email = if i % 2 == 0 {
                k[t].clone()
            } else {
                format!("nobody{t}-{i}@example.test")
            };
            s.post("/v1/login/email", json!({ "email": email })).status == 202
        }),
    );

    let attempts: Arc<Vec<String>> = Arc::new(
        (0..threads)
            .map(|t| s_attempt(&server, &known[t]))
            .collect(),
    );
    run(
        "POST /v1/codes/verify (wrong)",
        &server,
        threads,
        seconds,
        Box::new(move |s, t, _| {
            s.post(
                "/v1/codes/verify",
                json!({ "attempt_token": attempts[t], "code": "ZZZZ9999" }),
            )
            .status
                == 400
        }),
    );

    let sess = sessions.clone();
    run(
        "POST /v1/token/refresh",
        &server,
        threads,
        seconds,
        Box::new(move |s, t, _| {
            let mut current = sess[t].lock().expect("session");
            let r = s.post(
                "/v1/token/refresh",
                json!({ "refresh_token": current.refresh }),
            );
            let ok = r.status == 200;
            if ok {
                *current = e2e::Session::from_reply(&r);
            }
            ok
        }),
    );

    let sess = sessions.clone();
    run(
        "GET /v1/me",
        &server,
        threads,
        seconds,
        Box::new(move |s, t, _| {
            let access = sess[t].lock().expect("session").access.clone();
            s.authed("GET", "/v1/me", &access, None).status == 200
        }),
    );

    run(
        "GET /.well-known/jwks.json",
        &server,
        threads,
        seconds,
        Box::new(|s, _, _| s.request("GET", "/.well-known/jwks.json", &[], None).status == 200),
    );
}

/// An attempt token for `email` whose code is never used (so wrong guesses stay wrong guesses).
fn s_attempt(server: &Server, email: &str) -> String {
    let r = server.post("/v1/login/email", json!({ "email": email }));
    r.json["attempt_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
