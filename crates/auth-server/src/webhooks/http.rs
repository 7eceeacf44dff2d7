//! The one HTTP request webhook delivery needs: a POST of a JSON body, through `ureq` (already the
//! workspace's HTTP client) on a blocking thread, with TLS by rustls with ring and the system's
//! root certificates (as the mail relay's), no proxy, no redirects followed, and the answer read
//! only as far as its status code, all within a timeout.

use std::sync::Arc;
use std::time::Duration;
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use url::Url;

/// Why a request got no status code. Its text names a kind of failure, never the URL (which may
/// carry a token of the receiver's).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// Connecting, TLS, writing or reading failed.
    #[error("{0}")]
    Failed(&'static str),
}

/// Posts JSON bodies.
#[derive(Debug, Clone)]
pub struct Client {
    agent: Agent,
}

impl Default for Client {
    fn default() -> Self {
        let roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|der| Certificate::from_der(der).to_owned())
            .collect();
        if roots.is_empty() {
            tracing::warn!("no root certificates found: https webhooks will fail");
        }
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent("auth-server-webhooks")
            .build()
            .new_agent();
        Self { agent }
    }
}

impl Client {
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
        let agent = self.agent.clone();
        let url = url.as_str().to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        let body = body.to_vec();
        let blocking = tokio::task::spawn_blocking(move || {
            let mut request = agent
                .post(&url)
                .config()
                .timeout_global(Some(timeout))
                .build()
                .header("Content-Type", "application/json");
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            request
                .send(&body[..])
                .map(|answer| answer.status().as_u16())
        });
        // The blocking call keeps its own deadline; this one only guards the wait for it.
        match tokio::time::timeout(timeout + Duration::from_secs(1), blocking).await {
            Err(_) => Err(PostError::Timeout),
            Ok(Err(_)) => Err(PostError::Failed("the request's thread failed")),
            Ok(Ok(answer)) => answer.map_err(failure),
        }
    }
}

/// The kind of a failed request, without anything the error carries (a URL, an address).
fn failure(e: ureq::Error) -> PostError {
    match e {
        ureq::Error::Timeout(_) => PostError::Timeout,
        ureq::Error::Io(e) => PostError::Failed(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused",
            std::io::ErrorKind::ConnectionReset => "connection reset",
            std::io::ErrorKind::TimedOut => "timed out",
            std::io::ErrorKind::UnexpectedEof => "connection closed early",
            _ => "network error",
        }),
        ureq::Error::HostNotFound => PostError::Failed("host not found"),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => PostError::Failed("TLS failed"),
        _ => PostError::Failed("the answer is not an HTTP response"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request server that answers `answer` and hands back what it read.
    async fn server(answer: &'static [u8]) -> (Url, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 1024];
            while !String::from_utf8_lossy(&got).contains("{\"a\":1}") {
                let n = conn.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            conn.write_all(answer).await.unwrap();
            String::from_utf8(got).unwrap()
        });
        (
            Url::parse(&format!("http://{addr}/hook?x=1")).unwrap(),
            handle,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_reaches_a_server_and_reads_its_status() {
        let (url, request) = server(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").await;
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
        let request = request.await.unwrap();
        let lower = request.to_ascii_lowercase();
        assert!(
            request.starts_with("POST /hook?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(lower.contains("\r\nwebhook-id: msg_1\r\n"), "{request}");
        assert!(lower.contains("\r\ncontent-length: 7\r\n"), "{request}");
        assert!(
            lower.contains("\r\ncontent-type: application/json\r\n"),
            "{request}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_status_and_a_redirect_are_answers_not_followed() {
        let (url, _) = server(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n").await;
        let client = Client::default();
        let code = client
            .post(&url, &[], b"{\"a\":1}", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(code, 500);
        let (url, _) = server(
            b"HTTP/1.1 307 Elsewhere\r\nLocation: http://192.0.2.1/\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let code = client
            .post(&url, &[], b"{\"a\":1}", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(code, 307, "a redirect is not followed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_connection_is_a_failure_that_names_no_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = Url::parse(&format!("http://{addr}/hook?token=secret")).unwrap();
        let e = Client::default()
            .post(&url, &[], b"{}", Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("secret"),
            "{text}"
        );
    }
}
