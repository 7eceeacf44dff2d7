//! A small SMTP server for tests: it answers like a real relay over real loopback TCP (so the
//! kernel's delayed ACK applies to it as to any peer), optionally with implicit TLS or STARTTLS,
//! and records what it received.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The CA that signed the sink's certificate (for `localhost` and 127.0.0.1). It and the key in
/// `testdata/` exist only for these tests: the key is not a secret.
pub(crate) fn test_ca() -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from_pem_slice(include_bytes!("testdata/ca.pem")).unwrap()]
}

/// TLS for the sink, with the certificate `test_ca` signed.
pub(crate) fn tls_acceptor() -> Arc<tokio_rustls::TlsAcceptor> {
    let chain = vec![CertificateDer::from_pem_slice(include_bytes!("testdata/relay.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/relay.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    Arc::new(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// How the sink behaves.
#[derive(Clone, Default)]
pub(crate) struct Options {
    /// Implicit TLS (TLS before the greeting), STARTTLS offered (`Upgrade`), or neither.
    pub tls: Tls,
    /// Closes the connection, without a word, after this many mails on it.
    pub close_after: Option<usize>,
    /// Answers `RCPT TO` with 550 for recipients that contain this.
    pub reject: Option<&'static str>,
    /// Accepts connections and never says a word.
    pub silent: bool,
}

#[derive(Clone, Default)]
pub(crate) enum Tls {
    #[default]
    None,
    Implicit(Arc<tokio_rustls::TlsAcceptor>),
    Upgrade(Arc<tokio_rustls::TlsAcceptor>),
}

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub ehlo: String,
    pub tls: bool,
    pub auth: Option<String>,
    pub to: Vec<String>,
    pub body: String,
}

#[derive(Default)]
pub(crate) struct Seen {
    pub connections: AtomicUsize,
    pub mails: Mutex<Vec<Received>>,
}

pub(crate) struct Sink {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    pub(crate) async fn start(options: Options) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            async move {
                let mut sessions = tokio::task::JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    seen.connections.fetch_add(1, Ordering::SeqCst);
                    let (seen, options) = (Arc::clone(&seen), options.clone());
                    sessions.spawn(async move {
                        let stream: Box<dyn Io> = match &options.tls {
                            Tls::Implicit(acceptor) => match acceptor.accept(stream).await {
                                Ok(tls) => Box::new(tls),
                                Err(_) => return,
                            },
                            _ => Box::new(stream),
                        };
                        let tls = matches!(options.tls, Tls::Implicit(_));
                        let _ = session(stream, tls, &options, &seen).await;
                    });
                }
            }
        });
        Sink { addr, seen, task }
    }

    pub(crate) fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn mails(&self) -> Vec<Received> {
        self.seen.mails.lock().unwrap().clone()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn session(
    stream: Box<dyn Io>,
    mut tls: bool,
    options: &Options,
    seen: &Seen,
) -> std::io::Result<()> {
    if options.silent {
        let mut stream = stream;
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink).await;
        return Ok(());
    }
    let mut io = BufReader::new(stream);
    io.get_mut().write_all(b"220 sink ESMTP ready\r\n").await?;
    let (mut ehlo, mut auth, mut to, mut sent) = (String::new(), None, Vec::new(), 0);
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                ehlo = command[4..].trim().to_owned();
                let mut reply = "250-sink\r\n250-8BITMIME\r\n".to_owned();
                if matches!(options.tls, Tls::Upgrade(_)) && !tls {
                    reply.push_str("250-STARTTLS\r\n");
                }
                if tls {
                    reply.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                reply + "250 SMTPUTF8\r\n"
            }
            "STARTTLS" => {
                let Tls::Upgrade(acceptor) = &options.tls else {
                    io.get_mut().write_all(b"502 not here\r\n").await?;
                    continue;
                };
                io.get_mut().write_all(b"220 go ahead\r\n").await?;
                let plain = io.into_inner();
                io = BufReader::new(Box::new(acceptor.accept(plain).await?));
                tls = true;
                continue;
            }
            "AUTH" => {
                auth = Some(command[4..].trim().to_owned());
                "235 welcome\r\n".to_owned()
            }
            "MAIL" | "NOOP" => "250 ok\r\n".to_owned(),
            "RSET" => {
                to.clear();
                "250 ok\r\n".to_owned()
            }
            "RCPT" => {
                if options.reject.is_some_and(|r| command.contains(r)) {
                    "550 5.1.1 no such user here\r\n".to_owned()
                } else {
                    to.push(command[8..].trim().to_owned());
                    "250 ok\r\n".to_owned()
                }
            }
            "DATA" => {
                io.get_mut().write_all(b"354 go on\r\n").await?;
                let mut body = String::new();
                loop {
                    line.clear();
                    if io.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    body.push_str(&line);
                }
                seen.mails.lock().unwrap().push(Received {
                    ehlo: ehlo.clone(),
                    tls,
                    auth: auth.clone(),
                    to: std::mem::take(&mut to),
                    body,
                });
                sent += 1;
                io.get_mut().write_all(b"250 queued\r\n").await?;
                if options.close_after.is_some_and(|n| sent >= n) {
                    return Ok(());
                }
                continue;
            }
            "QUIT" => {
                io.get_mut().write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => "500 what\r\n".to_owned(),
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
    }
}
