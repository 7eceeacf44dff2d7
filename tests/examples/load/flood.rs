//! The start flood: start-login requests for unknown addresses while the mail relay is silent,
//! so that the mail queue fills to its capacity and the server's peak RSS shows what a flood costs.

use super::{Build, UNLIMITED, body};
use crate::measure::{Row, run};
use e2e::{Mailbox, Server};
use serde_json::json;
use tokio::runtime::Runtime;

/// A mail relay that accepts every connection and never answers, for as long as the process runs.
fn silent_relay() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming().flatten() {
            held.push(socket);
        }
    });
    addr
}

/// The mail queue's depth from the server's metrics, if it reports it.
fn queue_depth(server: &Server) -> Option<f64> {
    let base = server.metrics_base.as_deref().unwrap_or(&server.base);
    let text = ureq::get(format!("{base}/metrics"))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("auth_mail_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
}

/// Start-login requests for unknown addresses as fast as the clients go, while the relay is
/// silent, so that the mail queue fills to its default capacity: the peak RSS is what a flood
/// costs.
pub(crate) fn flood(
    rt: &Runtime,
    build: Build,
    config: &'static str,
    services: &[(String, String)],
    tasks: usize,
    seconds: u64,
) -> Row {
    let mut services = services.to_vec();
    services.push((
        "AUTH_MAIL__SMTP_URL".to_owned(),
        format!("smtp://{}", silent_relay()),
    ));
    let outbox = tempfile::tempdir().expect("temp dir");
    let server = build.start(
        &services,
        Mailbox::Outbox(outbox.path().to_path_buf()),
        UNLIMITED,
    );
    // Each task: its number, for addresses of its own.
    let (row, _) = run(
        rt,
        build,
        config,
        "start flood, relay silent",
        &server,
        (0..tasks).collect(),
        seconds,
        |c, t, i| {
            Box::pin(async move {
                let start = body(&json!({ "email": format!("flood{t}-{i}@example.test") }));
                c.post("/v1/login/email", start).await.status == 202
            })
        },
    );
    match queue_depth(&server) {
        Some(depth) => println!(
            "{} {config}: mail queue depth after the flood: {depth:.0}",
            build.label()
        ),
        None => println!("{} {config}: mail queue depth not reported", build.label()),
    }
    row
}
