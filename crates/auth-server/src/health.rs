//! `auth-server health`: asks the running server's `/healthz` on the configured listener and says
//! whether it answered 200, for container health checks on images that carry no HTTP client.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// How long the probe waits to connect, and again for the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest status line read; `/healthz` answers with a short one.
const STATUS_LINE_MAX: usize = 256;

/// Where a probe of a server listening on `bind` connects: the address itself, or loopback of the
/// same family when the server listens on every interface.
pub fn probe_address(bind: SocketAddr) -> anyhow::Result<SocketAddr> {
    if bind.port() == 0 {
        bail!("server.bind {bind} has no fixed port, so there is no listener to probe");
    }
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, bind.port()))
}

/// Sends `GET /healthz` to the server listening on `bind`; fine only if it answers 200 in time.
pub fn probe(bind: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let target = probe_address(bind)?;
    let mut stream = TcpStream::connect_timeout(&target, timeout)
        .with_context(|| format!("cannot connect to {target}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("cannot send the probe to {target}"))?;
    let line = status_line(&mut stream).with_context(|| format!("no answer from {target}"))?;
    match line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => bail!("{target} answered `{line}` to GET /healthz"),
    }
}

/// The answer's first line, without its line end.
fn status_line(stream: &mut impl Read) -> anyhow::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0_u8; 1];
    while line.len() < STATUS_LINE_MAX {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    if line.is_empty() {
        bail!("the connection closed without an answer");
    }
    let line = String::from_utf8_lossy(&line);
    Ok(line.trim_end_matches('\r').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A listener that answers one connection with `answer`, after reading the request's head.
    fn answering(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0_u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"GET /healthz HTTP/1.1\r\n"));
            stream.write_all(answer.as_bytes()).unwrap();
        });
        addr
    }

    #[test]
    fn every_interface_is_probed_on_loopback_of_its_family() {
        let v4 = probe_address("0.0.0.0:8080".parse().unwrap()).unwrap();
        assert_eq!(v4, "127.0.0.1:8080".parse().unwrap());
        let v6 = probe_address("[::]:8080".parse().unwrap()).unwrap();
        assert_eq!(v6, "[::1]:8080".parse().unwrap());
        let given = probe_address("10.1.2.3:9000".parse().unwrap()).unwrap();
        assert_eq!(given, "10.1.2.3:9000".parse().unwrap());
    }

    #[test]
    fn a_bind_on_port_zero_cannot_be_probed() {
        let e = probe_address("127.0.0.1:0".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("no fixed port"), "{e}");
    }

    #[test]
    fn a_200_is_healthy() {
        let addr = answering("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        probe(addr, PROBE_TIMEOUT).unwrap();
    }

    #[test]
    fn another_status_is_unhealthy_and_named() {
        let addr = answering("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let e = probe(addr, PROBE_TIMEOUT).unwrap_err();
        assert!(format!("{e:#}").contains("503"), "{e:#}");
    }

    #[test]
    fn a_closed_connection_is_unhealthy() {
        let addr = answering("");
        let e = probe(addr, PROBE_TIMEOUT).unwrap_err();
        assert!(format!("{e:#}").contains("without an answer"), "{e:#}");
    }

    #[test]
    fn no_listener_is_unhealthy() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The listener is dropped at once, so nothing listens on the port any more.
        let e = probe(addr, PROBE_TIMEOUT).unwrap_err();
        assert!(format!("{e:#}").contains("cannot connect"), "{e:#}");
    }

    #[test]
    fn a_silent_server_fails_within_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let started = std::time::Instant::now();
        let e = probe(addr, Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{e:#}");
        drop(listener);
    }
}
