//! Running one path: client tasks in a closed loop, the machine settled first, and the figures
//! of the server and of this client from `/proc`.

use crate::client::Client;
use crate::{Build, CLIENT_THREADS};
use e2e::Server;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// One line of the report.
pub(crate) struct Row {
    pub(crate) build: &'static str,
    pub(crate) config: &'static str,
    pub(crate) path: &'static str,
    pub(crate) rate: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: u64,
    pub(crate) rss_mb: f64,
    pub(crate) cores: f64,
    /// CPU cores this load generator used meanwhile: on a shared machine, the two add up to the
    /// machine's cores when it is saturated.
    pub(crate) client_cores: f64,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The server's resident set in MiB and its CPU time in seconds, from `/proc`.
pub(crate) fn usage(pid: u32) -> (f64, f64) {
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

/// What one step of a path returns: whether the answer was the expected one.
pub(crate) type StepFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// The client runtime: [`CLIENT_THREADS`] threads running every client task.
pub(crate) fn client_runtime() -> Runtime {
    let mut builder = if CLIENT_THREADS == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(CLIENT_THREADS);
        builder
    };
    builder.enable_all().build().expect("client runtime")
}

/// The machine's busy and total CPU time so far, in clock ticks, from `/proc/stat`.
pub(crate) fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Waits (up to a minute) until the machine is nearly idle, so that a path does not pay for work
/// the one before it left behind: security notices still being spooled and mailed, the audit
/// queue, PostgreSQL's autovacuum after thousands of sign-ins.
pub(crate) fn settle(path: &str) {
    let started = Instant::now();
    let mut before = machine_ticks();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(250));
        let now = machine_ticks();
        let (busy, total) = (now.0 - before.0, now.1 - before.1);
        before = now;
        if total > 0 && busy * 100 < total * 15 {
            break;
        }
    }
    let waited = started.elapsed();
    if waited > Duration::from_secs(1) {
        println!(
            "       (waited {:.1} s for the machine to settle before {path})",
            waited.as_secs_f64()
        );
    }
}

/// Runs `step` in a closed loop in one client task per element of `states` (each task owns its
/// state and its connection) for `seconds`, and reports; hands the states back.
#[allow(
    clippy::too_many_arguments,
    reason = "the row's labels and the run's inputs"
)]
pub(crate) fn run<S, F>(
    rt: &Runtime,
    build: Build,
    config: &'static str,
    path: &'static str,
    server: &Server,
    states: Vec<S>,
    seconds: u64,
    step: F,
) -> (Row, Vec<S>)
where
    S: Send + 'static,
    F: for<'a> Fn(&'a mut Client, &'a mut S, u64) -> StepFuture<'a> + Send + Sync + 'static,
{
    settle(path);
    let step = Arc::new(step);
    let stop = Arc::new(AtomicBool::new(false));
    let (_, cpu0) = usage(server.pid());
    let (_, client0) = usage(std::process::id());
    let started = Instant::now();
    let (all, errors, states, peak_rss) = rt.block_on(async {
        let tasks: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                let (step, stop) = (step.clone(), stop.clone());
                let mut client = Client::new(&server.base);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        if !step(&mut client, &mut state, i).await {
                            errors += 1;
                        }
                        lat.push(t0.elapsed());
                        i += 1;
                    }
                    (lat, errors, state)
                })
            })
            .collect();
        let mut peak_rss: f64 = 0.0;
        let until = started + Duration::from_secs(seconds);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200)).await;
            peak_rss = peak_rss.max(usage(server.pid()).0);
        }
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut errors = 0;
        let mut states = Vec::new();
        for task in tasks {
            let (lat, e, state) = task.await.expect("client task");
            all.extend(lat);
            errors += e;
            states.push(state);
        }
        (all, errors, states, peak_rss)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (rss, cpu1) = usage(server.pid());
    let (_, client1) = usage(std::process::id());
    let mut all = all;
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
    (row, states)
}
