//! `auth-server` as a library: settings ([`config`]), secrets ([`secrets`]) and the wired
//! [`Application`], which the binary runs and tests can start in process on port 0.
#![warn(missing_docs)]

pub mod admin;
mod app;
mod audit;
pub mod config;
pub mod health;
mod notices;
pub mod secrets;
mod webhooks;

pub use app::{Application, migrate};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn build_binds_port_zero_and_reports_the_real_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = config::Settings::default();
        settings.server.bind = ":0".to_owned();
        settings.server.metrics_bind = Some("127.0.0.1:0".to_owned());
        settings.server.data_dir = dir.path().join("data");
        settings.server.workers = 1;
        let config = settings.validate().unwrap();
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(config).await.unwrap();
            let (api, metrics) = (app.address(), app.metrics_address().unwrap());
            assert_ne!(api.port(), 0);
            assert_ne!(metrics.port(), 0);
            assert_ne!(api, metrics);
            let handle = app.handle();
            let served = actix_web::rt::spawn(app.run_until_stopped());
            let (health, scraped) = actix_web::rt::task::spawn_blocking(move || {
                (get(api, "/healthz"), get(metrics, "/metrics"))
            })
            .await
            .unwrap();
            assert!(health.starts_with("HTTP/1.1 200"), "{health}");
            assert!(scraped.contains("auth_http_requests"), "{scraped}");
            handle.stop(true).await;
            served.await.unwrap().unwrap();
        });
    }

    #[test]
    fn the_health_probe_passes_against_a_serving_server_and_fails_once_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = config::Settings::default();
        settings.server.bind = ":0".to_owned();
        settings.server.data_dir = dir.path().join("data");
        settings.server.workers = 1;
        let config = settings.validate().unwrap();
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(config).await.unwrap();
            let api = app.address();
            let handle = app.handle();
            let served = actix_web::rt::spawn(app.run_until_stopped());
            let probe = move || health::probe(api, health::PROBE_TIMEOUT);
            let up = actix_web::rt::task::spawn_blocking(probe).await.unwrap();
            assert!(up.is_ok(), "{up:?}");
            handle.stop(true).await;
            served.await.unwrap().unwrap();
            let down = actix_web::rt::task::spawn_blocking(probe).await.unwrap();
            assert!(down.is_err(), "a stopped server must not look healthy");
        });
    }

    #[test]
    fn a_failed_start_generates_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut settings = config::Settings::default();
        settings.server.bind = taken.local_addr().unwrap().to_string();
        settings.server.data_dir = dir.path().join("data");
        let config = settings.validate().unwrap();
        let e = actix_web::rt::System::new()
            .block_on(Application::build(config))
            .unwrap_err();
        assert!(format!("{e:#}").contains("server.bind"), "{e:#}");
        assert!(!dir.path().join("data/secrets").exists());
        assert!(!dir.path().join("data/keys").exists());
    }
}
