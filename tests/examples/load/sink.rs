//! A fast SMTP sink for the load benchmark: it speaks just enough ESMTP for a real client
//! (greeting, EHLO with PIPELINING, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT),
//! answers at once, and hands the code of each mail to the client task that watches the address,
//! so that the benchmark can read it from the delivered mail, as a person would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The newest code mailed to one address.
#[derive(Debug, Default)]
pub struct Latest {
    /// The code of the newest mail.
    pub code: String,
}

/// The watched addresses, each with the channel its newest code goes out on.
#[derive(Debug, Default)]
pub struct Inbox {
    watched: Mutex<HashMap<String, watch::Sender<Latest>>>,
    delivered: AtomicU64,
}

impl Inbox {
    /// A receiver of the mails to `to` from now on; mails to addresses nobody watches are only
    /// counted.
    pub fn watch(&self, to: &str) -> watch::Receiver<Latest> {
        self.watched
            .lock()
            .expect("inbox")
            .entry(to.to_owned())
            .or_insert_with(|| watch::channel(Latest::default()).0)
            .subscribe()
    }

    /// Every mail delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn deliver(&self, to: &[String], data: &[u8]) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let Some(message) = mail_parser::MessageParser::default().parse(data) else {
            return;
        };
        let Some(code) = message.body_text(0).and_then(|text| e2e::find_code(&text)) else {
            return;
        };
        let watched = self.watched.lock().expect("inbox");
        for rcpt in to {
            if let Some(channel) = watched.get(rcpt) {
                channel.send_modify(|latest| latest.code.clone_from(&code));
            }
        }
    }
}

/// The code of the first mail that reaches `mail` after it was last read (marked read with
/// `borrow_and_update` before the request that sends the mail), waiting up to `limit`.
pub async fn next_code(mail: &mut watch::Receiver<Latest>, limit: Duration) -> Option<String> {
    tokio::time::timeout(limit, mail.changed())
        .await
        .ok()?
        .ok()?;
    Some(mail.borrow_and_update().code.clone())
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
