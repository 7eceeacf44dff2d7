//! The benchmark's HTTP client: one keep-alive HTTP/1.1 connection per client task (hyper's bare
//! client connection over a tokio TCP stream). The task that sends a request also drives its
//! connection's I/O, so an exchange needs no second task and no wake-up across threads; when the
//! server has closed the connection, the next request opens a new one.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use serde_json::Value;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long one exchange may take before the benchmark gives up on the server.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What hyper reads at most in one call.
const READ_CHUNK: usize = 16 * 1024;

/// A TCP stream behind hyper's I/O traits. hyper's read cursor can be filled without `unsafe`
/// only by copying into it, so a read lands in `scratch` first.
struct Io {
    stream: TcpStream,
    scratch: Box<[u8]>,
}

impl hyper::rt::Read for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let n = cursor.remaining().min(this.scratch.len());
        let mut buf = ReadBuf::new(&mut this.scratch[..n]);
        match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                cursor.put_slice(buf.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// An open connection: the handle requests go through, and the connection's I/O state machine,
/// which the exchange polls beside the request.
struct Open {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once it has ended (the server closed it, or it failed). It is dropped then, as
    /// hyper expects, so that the sender sees the end and a request on it fails at once.
    connection: Option<Connection<Io, Full<Bytes>>>,
    /// Whether an exchange has completed on it, so that a failure to send on it is the server's
    /// keep-alive close and worth one retry on a new connection.
    used: bool,
}

/// An answer: its status and its body, which is parsed only when a step needs a value from it.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Why an exchange did not bring an answer.
enum Failure {
    /// The request never went out (the connection had closed): it can be sent again.
    Unsent(Box<Request<Full<Bytes>>>, hyper::Error),
    /// It failed on the way or while the answer came.
    Broken(hyper::Error),
}

/// One client task's connection to the server.
pub(crate) struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    open: Option<Open>,
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:PORT`); it connects on first use.
    pub fn new(base: &str) -> Self {
        let authority = base
            .strip_prefix("http://")
            .expect("the server's base is an http:// URL");
        let addr: SocketAddr = authority
            .parse()
            .expect("the server's base is an IP address and port");
        assert!(
            addr.ip().is_loopback(),
            "the benchmark only talks to the server it starts on this machine"
        );
        Self {
            addr,
            host: HeaderValue::from_str(authority).expect("a valid Host header"),
            open: None,
        }
    }

    /// GET `path`, with a bearer authorization header if `bearer` is given (`Bearer ...`).
    pub async fn get(&mut self, path: &str, bearer: Option<&HeaderValue>) -> Answer {
        self.send(Method::GET, path, bearer, None).await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> Answer {
        self.send(Method::POST, path, None, Some(body.into())).await
    }

    /// POST without a body.
    pub async fn post_empty(&mut self, path: &str) -> Answer {
        self.send(Method::POST, path, None, None).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(bearer) = bearer {
            request = request.header(AUTHORIZATION, bearer.clone());
        }
        if json.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(json.unwrap_or_default()))
            .expect("a valid request");
        match tokio::time::timeout(TIMEOUT, self.exchange(request)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => panic!("{method} {path}: {e}"),
            Err(_) => panic!("{method} {path}: no answer within {TIMEOUT:?}"),
        }
    }

    /// Sends `request` and reads the whole answer; once more on a new connection if the server
    /// had closed a used one before the request went out.
    async fn exchange(
        &mut self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Answer, hyper::Error> {
        loop {
            let open = match &mut self.open {
                Some(open) if open.connection.is_some() => open,
                _ => self.open.insert(self.connect().await?),
            };
            let used = open.used;
            match exchange_on(open, request).await {
                Ok(answer) => {
                    open.used = true;
                    return Ok(answer);
                }
                Err(Failure::Unsent(unsent, _)) if used => {
                    self.open = None;
                    request = *unsent;
                }
                Err(Failure::Unsent(_, e) | Failure::Broken(e)) => {
                    self.open = None;
                    return Err(e);
                }
            }
        }
    }

    async fn connect(&self) -> Result<Open, hyper::Error> {
        let stream = TcpStream::connect(self.addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let io = Io {
            stream,
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        };
        let (sender, connection) = http1::handshake(io).await?;
        Ok(Open {
            sender,
            connection: Some(connection),
            used: false,
        })
    }
}

/// One request and its whole answer on `open`, its connection polled in the same task.
async fn exchange_on(open: &mut Open, request: Request<Full<Bytes>>) -> Result<Answer, Failure> {
    let Open {
        sender, connection, ..
    } = open;
    let work = async {
        if let Err(e) = sender.ready().await {
            return Err(Failure::Unsent(Box::new(request), e));
        }
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut e) => {
                return Err(match e.take_message() {
                    Some(unsent) => Failure::Unsent(Box::new(unsent), e.into_error()),
                    None => Failure::Broken(e.into_error()),
                });
            }
        };
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(Failure::Broken)?
            .to_bytes();
        Ok(Answer { status, body })
    };
    let mut work = pin!(work);
    poll_fn(|cx| {
        // The request first (it queues itself or reads what arrived), then the connection (which
        // writes what is queued and hands over what it read), then the request again, so that a
        // step the connection made is taken up in the same poll rather than after a wake-up.
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        let Some(open) = connection else {
            return Poll::Pending;
        };
        if Pin::new(open).poll(cx).is_ready() {
            *connection = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}
