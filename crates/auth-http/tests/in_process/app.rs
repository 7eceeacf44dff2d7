//! The in-process test app: the real routes and middleware over the in-memory adapters, a manual
//! clock and a recording mailer, driven through `actix_web::test` without a socket or a process.
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use actix_http::Request;
use actix_web::body::{MessageBody, to_bytes};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::{App, test, web};
use auth_core::mail::{Mail, Message};
use auth_core::ports::OsRng;
use auth_core::service::{AuthService, Ports};
use auth_core::testkit::ManualClock;
use auth_core::time::Timestamp;
use auth_core::{EmailAddress, Policy};
use auth_http::{AppState, HttpConfig, Metrics};
use auth_jwt::{JwtIssuer, SigningKey};
use auth_memory::{MemoryMailer, MemoryStore};
use auth_webauthn::{Attachment, RelyingParty, WebAuthnAdapter};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The public origin the app is configured with.
pub const ORIGIN: &str = "http://localhost:8080";

/// The default client's address, and another network's.
pub const CLIENT: &str = "198.51.100.7:40000";
pub const OTHER_CLIENT: &str = "203.0.113.9:40000";

/// One app, its state, stores, mail and clock.
pub struct TestApp<S> {
    pub service: S,
    pub state: AppState,
    pub mailer: Arc<MemoryMailer>,
    pub clock: Arc<ManualClock>,
    pub store: MemoryStore,
}

/// The state behind an app: the use cases over the memory adapters, real tokens and a real
/// relying party, a recording mailer and a manual clock.
pub struct World {
    pub state: AppState,
    pub mailer: Arc<MemoryMailer>,
    pub clock: Arc<ManualClock>,
    pub store: MemoryStore,
}

/// The default policy, with limits relaxed the way the e2e servers relax them, so that only the
/// tests about limits meet them.
pub fn relaxed() -> Policy {
    let mut p = Policy::default();
    p.limits.send_gap_per_address = std::time::Duration::ZERO;
    p.limits.send_per_ip.limit = 100_000;
    p.limits.send_per_address.limit = 1_000;
    p.limits.send_per_address_total.limit = 100_000;
    p.limits.send_global.limit = 1_000_000;
    p.limits.guesses_per_ip.limit = 100_000;
    p
}

/// The state on `policy` and `config`.
pub fn world(policy: Policy, config: HttpConfig) -> World {
    let store = MemoryStore::new();
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_800_000_000_000)));
    let issuer = JwtIssuer::new(ORIGIN, "auth", SigningKey::generate(&OsRng), [], &[7u8; 32])
        .expect("issuer")
        .with_clock(clock.clone());
    let webauthn = WebAuthnAdapter::new(RelyingParty {
        id: "localhost".to_owned(),
        origin: ORIGIN.to_owned(),
        name: "Auth Test".to_owned(),
        attachment: Attachment::PreferPlatform,
        browser_timeout: policy.browser_timeout(),
    })
    .expect("relying party");
    let s = Arc::new(store.clone());
    let ports = Ports {
        users: s.clone(),
        attempts: s.clone(),
        sessions: s.clone(),
        limiter: s.clone(),
        gate: s.clone(),
        audit: s.clone(),
        passkeys: s.clone(),
        reverts: s.clone(),
        ceremonies: s,
        webauthn: Arc::new(webauthn),
        mailer: mailer.clone(),
        tokens: Arc::new(issuer),
        clock: clock.clone(),
        rng: Arc::new(OsRng),
    };
    let service = AuthService::new(ports, policy, &[42u8; 32]).expect("service");
    World {
        state: AppState {
            service: Arc::new(service),
            config: Arc::new(config),
            health: Arc::new(Vec::new()),
            metrics: Arc::new(Metrics::new(|_| {})),
            oidc: None,
        },
        mailer,
        clock,
        store,
    }
}

/// The app on `policy`, as the server wires it (security headers, observation, routes, 404s).
pub async fn spawn_app(
    policy: Policy,
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    spawn_app_with(
        policy,
        HttpConfig {
            public_origin: ORIGIN.to_owned(),
            ..HttpConfig::default()
        },
    )
    .await
}

/// The app on `policy` and `config`.
pub async fn spawn_app_with(
    policy: Policy,
    config: HttpConfig,
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let w = world(policy, config);
    let state = w.state.clone();
    let app = test::init_service(
        App::new()
            .wrap(auth_http::security_headers(&state.config))
            .wrap(actix_web::middleware::from_fn(auth_http::cors))
            .wrap(actix_web::middleware::from_fn(auth_http::observe))
            .configure(auth_http::configure(state.clone()))
            .default_service(web::to(auth_http::not_found)),
    )
    .await;
    TestApp {
        service: app,
        state,
        mailer: w.mailer,
        clock: w.clock,
        store: w.store,
    }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Sends `call` to this app.
    pub async fn send(&self, call: Call) -> Reply {
        call.send(&self.service).await
    }

    /// Signs up `email` by code (from the recorded mail) and returns the verify answer (200).
    pub async fn sign_up(&self, email: &str, name: &str) -> Reply {
        let started = self
            .send(call("POST", "/v1/signup").json(&serde_json::json!({
                "email": email, "display_name": name
            })))
            .await;
        assert_eq!(started.status, 202, "{}", started.text);
        self.verify(&started, &last_code(&self.mailer, email)).await
    }

    /// Verifies `code` for the attempt `started` began; the answer must be 200.
    pub async fn verify(&self, started: &Reply, code: &str) -> Reply {
        let done = self
            .send(call("POST", "/v1/codes/verify").json(&serde_json::json!({
                "attempt_token": started.json["attempt_token"], "code": code
            })))
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        done
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// Asserts a `problem+json` answer with this status and stable code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert_eq!(self.json["status"], status, "{}", self.text);
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` line, by cookie name.
    pub fn set_cookies(&self) -> BTreeMap<String, String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .filter_map(|line| {
                let name = line.split('=').next()?.to_owned();
                Some((name, line.to_owned()))
            })
            .collect()
    }

    /// The value of one cookie this answer set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let line = self.set_cookies().remove(name)?;
        let value = line.split(';').next()?.split_once('=')?.1.to_owned();
        Some(value)
    }
}

/// A request to send.
pub struct Call {
    req: test::TestRequest,
}

/// A request with `method` to `path` from the default client.
pub fn call(method: &str, path: &str) -> Call {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
    Call {
        req: test::TestRequest::default()
            .method(method)
            .uri(path)
            .peer_addr(CLIENT.parse::<SocketAddr>().expect("address")),
    }
}

impl Call {
    /// A JSON body (with its content type).
    pub fn json(mut self, body: &Value) -> Self {
        self.req = self
            .req
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(body.to_string());
        self
    }

    /// A raw body with `content_type`.
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.req = self
            .req
            .insert_header((header::CONTENT_TYPE, content_type))
            .set_payload(body.into());
        self
    }

    /// One header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.req = self.req.append_header((name, value.to_owned()));
        self
    }

    /// A bearer token.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// From another client address.
    pub fn from(mut self, addr: &str) -> Self {
        self.req = self.req.peer_addr(addr.parse().expect("address"));
        self
    }

    /// Sends it to `app`.
    pub async fn send<S, B>(self, app: &S) -> Reply
    where
        S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let res = test::call_service(app, self.req.to_request()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body())
            .await
            .unwrap_or_else(|_| panic!("unreadable body"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

/// A fresh address nobody has used.
pub fn unique_email(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{tag}-{}@example.com", N.fetch_add(1, Ordering::Relaxed))
}

/// The mails recorded since the last call, to `to`.
pub fn mails_to(mailer: &MemoryMailer, to: &str) -> Vec<Mail> {
    let to = EmailAddress::parse(to).expect("address");
    mailer.take().into_iter().filter(|m| m.to == to).collect()
}

/// The code in a mail, if it carries one.
pub fn code_of(mail: &Mail) -> Option<String> {
    match &mail.message {
        Message::SignupCode { code, .. }
        | Message::LoginCode { code, .. }
        | Message::AlreadyRegistered { code, .. }
        | Message::RecoveryCode { code, .. }
        | Message::EmailChangeCode { code, .. } => Some(code.expose().to_owned()),
        _ => None,
    }
}

/// The code of the newest mail to `to`.
pub fn last_code(mailer: &MemoryMailer, to: &str) -> String {
    mails_to(mailer, to)
        .iter()
        .rev()
        .find_map(code_of)
        .unwrap_or_else(|| panic!("no mail with a code to {to}"))
}
