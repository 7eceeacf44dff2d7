//! A fast SMTP sink for the load benchmark: it speaks just enough ESMTP for a real client
//! (greeting, EHLO with PIPELINING, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT),
//! answers at once, and keeps the newest code mailed to each address so that the benchmark can read
//! it from the delivered mail, as a person would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The codes delivered so far: per address, how many mails came and the newest code.
#[derive(Debug, Default)]
pub struct Inbox {
    codes: Mutex<HashMap<String, (u64, String)>>,
    arrived: Condvar,
    delivered: std::sync::atomic::AtomicU64,
}

impl Inbox {
    /// How many mails reached `to` so far (to wait for the next one).
    pub fn count(&self, to: &str) -> u64 {
        self.codes
            .lock()
            .expect("inbox")
            .get(to)
            .map_or(0, |(n, _)| *n)
    }

    /// The code of the first mail to `to` after `seen` mails, waiting up to `limit`.
    pub fn next_code(&self, to: &str, seen: u64, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        let mut codes = self.codes.lock().expect("inbox");
        loop {
            if let Some((n, code)) = codes.get(to)
                && *n > seen
            {
                return Some(code.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            codes = self.arrived.wait_timeout(codes, left).expect("inbox").0;
        }
    }

    /// Every mail delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn deliver(&self, to: &[String], data: &[u8]) {
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(message) = mail_parser::MessageParser::default().parse(data) else {
            return;
        };
        let Some(code) = message.body_text(0).and_then(|text| e2e::find_code(&text)) else {
            return;
        };
        let mut codes = self.codes.lock().expect("inbox");
        for rcpt in to {
            let entry = codes.entry(rcpt.clone()).or_insert((0, String::new()));
            entry.0 += 1;
            entry.1.clone_from(&code);
        }
        self.arrived.notify_all();
    }
}

/// Starts the sink on a free loopback port, on its own runtime thread.
pub fn start() -> (SocketAddr, Arc<Inbox>) {
    let inbox = Arc::new(Inbox::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = inbox.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("sink runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("sink port");
            tx.send(listener.local_addr().expect("sink address"))
                .expect("report the sink address");
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let _ = socket.set_nodelay(true);
                tokio::spawn(session(socket, shared.clone()));
            }
        });
    });
    (rx.recv().expect("sink address"), inbox)
}

async fn session(socket: tokio::net::TcpStream, inbox: Arc<Inbox>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let verb = text.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 sink\r\n",
            "MAIL" => {
                rcpts.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                if let (Some(a), Some(b)) = (text.find('<'), text.find('>')) {
                    rcpts.push(text[a + 1..b].to_owned());
                }
                b"250 OK\r\n"
            }
            "DATA" => {
                if write.write_all(b"354 go on\r\n").await.is_err() {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
                    data.extend_from_slice(unstuffed);
                }
                inbox.deliver(&rcpts, &data);
                rcpts.clear();
                b"250 OK queued\r\n"
            }
            "RSET" => {
                rcpts.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
