//! Stand-ins for a service that fails on the network: a server that accepts connections and
//! never says a word, and a TCP proxy in front of a real service that a test can take down and
//! bring back on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A server on a free local port that accepts every connection, holds it open and never answers:
/// the hardest outage to notice. It stops when dropped.
#[derive(Debug)]
pub struct SilentServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentServer {
    /// Starts listening on the caller's runtime.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Self { addr, task }
    }

    /// Where it listens, as `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP proxy in front of a real service that the test can take down (closing the port and
/// every connection through it) and bring back on the same port, and that remembers the local
/// address of each connection it opened to the service (as the service sees its clients).
#[derive(Debug)]
pub struct Proxy {
    listen: SocketAddr,
    upstream: (String, u16),
    upstream_addrs: Arc<Mutex<Vec<SocketAddr>>>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `host:port` on a free local port.
    pub async fn start(host: &str, port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let mut proxy = Self {
            listen: listener
                .local_addr()
                .expect("a bound listener has an address"),
            upstream: (host.to_owned(), port),
            upstream_addrs: Arc::default(),
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    /// Where it listens, as `127.0.0.1:PORT`; the same after a restart.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let addrs = self.upstream_addrs.clone();
        self.task = Some(tokio::spawn(async move {
            // Owned by this task, so aborting it closes every connection.
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await
                else {
                    continue;
                };
                if let (Ok(local), Ok(mut addrs)) = (server.local_addr(), addrs.lock()) {
                    addrs.push(local);
                }
                connections.spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        }));
    }

    /// The local address of every connection opened to the service so far, oldest first.
    pub fn upstream_addrs(&self) -> Vec<SocketAddr> {
        self.upstream_addrs
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// Closes the port and every connection through it.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.listen).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.listen);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.listen),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
