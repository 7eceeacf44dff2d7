//! The one HTTP request webhook delivery needs: a POST of a JSON body over a fresh connection
//! (plain TCP, or TLS through rustls with ring and the system's roots, as the mail relay's), read
//! only as far as the status code, all within a timeout. Hand-written on purpose: the only HTTP
//! client in the tree is a blocking one without TLS, and this is all webhooks need.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::{Position, Url};

/// Why a request got no status code.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// Connecting, TLS, writing or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The answer was not HTTP.
    #[error("the answer is not an HTTP response")]
    NotHttp,
}

/// Posts JSON bodies.
#[derive(Debug, Default)]
pub struct Client {
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Client {
    fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    tracing::warn!("no root certificates found: https webhooks will fail");
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
                match config {
                    Ok(c) => Arc::new(c),
                    // The ring provider supports the default versions; this cannot happen.
                    Err(e) => {
                        tracing::error!(error = %e, "no TLS configuration for webhooks");
                        Arc::new(
                            rustls::ClientConfig::builder()
                                .with_root_certificates(rustls::RootCertStore::empty())
                                .with_no_client_auth(),
                        )
                    }
                }
            })
            .clone()
    }

    /// POSTs `body` to `url` with `headers` and answers the status code.
    ///
    /// # Errors
    /// [`PostError`] when no status code came back within `timeout`.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u16, PostError> {
        tokio::time::timeout(timeout, self.exchange(url, headers, body))
            .await
            .map_err(|_| PostError::Timeout)?
    }

    async fn exchange(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<u16, PostError> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        // `host_str` keeps an IPv6 address in brackets; connecting wants it without.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare, port)).await?;
        tcp.set_nodelay(true)?;
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\nUser-Agent: auth-server-webhooks\r\n",
            &url[Position::BeforePath..Position::AfterQuery],
            &url[Position::BeforeHost..Position::AfterPort],
            body.len()
        );
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        if url.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(bare.to_owned())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls())
                .connect(name, tcp)
                .await?;
            exchange_on(tls, head.as_bytes(), body).await
        } else {
            exchange_on(tcp, head.as_bytes(), body).await
        }
    }
}

async fn exchange_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    head: &[u8],
    body: &[u8],
) -> Result<u16, PostError> {
    stream.write_all(head).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    // The status line is all we read: `HTTP/1.1 200 OK\r\n`.
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 4096 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    status(&buf).ok_or(PostError::NotHttp)
}

/// The status code of a response that starts with `buf`.
fn status(buf: &[u8]) -> Option<u16> {
    let line = buf.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_gives_the_code() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(status(b"HTTP/1.0 500\r\n"), Some(500));
        assert_eq!(status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status(b"HTTP/1.1 2000 x\r\n"), None);
    }

    #[tokio::test]
    async fn a_post_reaches_a_server_and_reads_its_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 1024];
            while !String::from_utf8_lossy(&got).contains("{\"a\":1}") {
                let n = conn.read(&mut chunk).await.unwrap();
                got.extend_from_slice(&chunk[..n]);
            }
            conn.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        let url = Url::parse(&format!("http://{addr}/hook?x=1")).unwrap();
        let code = Client::default()
            .post(
                &url,
                &[("webhook-id", "msg_1".to_owned())],
                b"{\"a\":1}",
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(code, 202);
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /hook?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nwebhook-id: msg_1\r\n"));
        assert!(request.contains("\r\nContent-Length: 7\r\n"));
    }
}
