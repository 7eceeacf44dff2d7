//! Faults: the real services stopped and started again under a running server. Each test runs its
//! own instance of the service it stops, so nothing else is disturbed.

use e2e::services::{Postgres, Redis, Smtp};
use e2e::{Mailbox, Production, Reply, Server, service_env, unique_email};
use serde_json::json;
use std::time::{Duration, Instant};

fn services(database_url: &str, redis_url: &str, smtp_url: &str) -> Vec<(String, String)> {
    vec![
        ("AUTH_DATABASE__URL".to_owned(), database_url.to_owned()),
        ("AUTH_REDIS__URL".to_owned(), redis_url.to_owned()),
        (
            "AUTH_REDIS__KEY_PREFIX".to_owned(),
            format!("fault-{}", unique_email("p").replace(['@', '.'], "-")),
        ),
        ("AUTH_MAIL__SMTP_URL".to_owned(), smtp_url.to_owned()),
    ]
}

fn shared_smtp() -> (String, Mailbox) {
    (
        format!("smtp://{}", service_env("AUTH_TEST_SMTP_ADDR")),
        Mailbox::Maildir(service_env("AUTH_TEST_SMTP_MAILDIR").into()),
    )
}

/// Retries `f` until it answers `status`, for up to 20 s: recovery must happen by itself.
fn eventually(what: &str, status: u16, f: impl Fn() -> Reply) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = f();
        if r.status == status {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not recover: last answer {} {}",
            r.status,
            r.text
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How long a request may take once a store is known to be down: the answer is meant to come at
/// once (about 100 ms); the bound leaves room for a loaded test machine, and is far below the
/// acquire timeout that every request used to wait.
const FAST: Duration = Duration::from_millis(500);

/// An answer and how long it took.
type Timed = (Reply, Duration);

/// Sends, all at once from their own threads, six sign-in requests for `email` and two `/readyz`
/// probes; returns each answer with how long it took.
fn burst(s: &Server, email: &str) -> (Vec<Timed>, Vec<Timed>) {
    let timed = |f: &dyn Fn() -> Reply| {
        let t = Instant::now();
        let r = f();
        (r, t.elapsed())
    };
    std::thread::scope(|scope| {
        let logins: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| timed(&|| s.post("/v1/login/email", json!({ "email": email }))))
            })
            .collect();
        let probes: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| timed(&|| s.request("GET", "/readyz", &[], None))))
            .collect();
        (
            logins.into_iter().map(|h| h.join().unwrap()).collect(),
            probes.into_iter().map(|h| h.join().unwrap()).collect(),
        )
    })
}

/// Every request of a burst is a quick 503 with `Retry-After`, and `/readyz` says so within 1 s.
fn assert_fails_fast(s: &Server, email: &str, store: &str, within: Duration) {
    let (logins, probes) = burst(s, email);
    for (r, took) in logins {
        r.assert_problem(503, "unavailable");
        assert!(r.header("retry-after").is_some(), "{}", r.text);
        assert!(took < within, "a request took {took:?} with {store} down");
    }
    for (r, took) in probes {
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(r.json["checks"][store], "unavailable");
        assert!(took < Duration::from_secs(1), "/readyz took {took:?}");
    }
}

#[test]
fn redis_down_fails_closed_with_503_and_recovers_by_itself() {
    let mut redis = Redis::start();
    let (smtp_url, mailbox) = shared_smtp();
    let db = Production::new();
    let s = Server::start_on(
        &services(&db.database_url, &redis.url(), &smtp_url),
        mailbox,
        &[],
    );
    let email = unique_email("redis-down");
    s.sign_up(&email, "Redis Down");
    let started = s.post("/v1/login/email", json!({ "email": email }));
    let code = s.mail_to(&email).code().unwrap();

    redis.stop();
    let t = Instant::now();
    s.post("/v1/login/email", json!({ "email": email }))
        .assert_problem(503, "unavailable");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a down Redis answers quickly, not after a hang"
    );
    let verify = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": started.json["attempt_token"], "code": code }),
    );
    verify.assert_problem(503, "unavailable");
    assert!(verify.header("retry-after").is_some());
    let ready = s.request("GET", "/readyz", &[], None);
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json["checks"]["redis"], "unavailable");
    assert_eq!(ready.json["checks"]["postgres"], "ok");
    assert_fails_fast(&s, &email, "redis", Duration::from_secs(1));

    redis.start_again();
    eventually("readiness", 200, || s.request("GET", "/readyz", &[], None));
    let again = eventually("login", 202, || {
        s.post("/v1/login/email", json!({ "email": email }))
    });
    let code = s.mail_to(&email).code().unwrap();
    let session = s.verify(&again, &code);
    assert_eq!(s.authed("GET", "/v1/me", &session.access, None).status, 200);
}

#[test]
fn postgres_down_fails_closed_leaves_no_half_written_signup_and_recovers() {
    let pg = Postgres::start();
    let (smtp_url, mailbox) = shared_smtp();
    let redis = service_env("AUTH_TEST_REDIS_URL");
    let s = Server::start_on(
        &services(&pg.url("postgres"), &redis, &smtp_url),
        mailbox,
        &[],
    );
    let known = unique_email("pg-known");
    s.sign_up(&known, "Known");
    let pending = unique_email("pg-pending");
    let started = s.post(
        "/v1/signup",
        json!({ "email": pending, "display_name": "Pending" }),
    );
    let code = s.mail_to(&pending).code().unwrap();

    pg.stop();
    s.post("/v1/login/email", json!({ "email": known }))
        .assert_problem(503, "unavailable");
    let verify = s.post(
        "/v1/codes/verify",
        json!({ "attempt_token": started.json["attempt_token"], "code": code }),
    );
    verify.assert_problem(503, "unavailable");
    let ready = s.request("GET", "/readyz", &[], None);
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json["checks"]["postgres"], "unavailable");
    // Known to be down now: nothing waits for a connection any more.
    assert_fails_fast(&s, &known, "postgres", FAST);

    pg.start_again();
    eventually("readiness", 200, || s.request("GET", "/readyz", &[], None));
    // Nothing of the interrupted sign-up was written: no user without a session, no orphan session.
    let count = |sql: &str| -> i64 {
        let out = std::process::Command::new("psql")
            .args(["-X", "-tA", &pg.url("postgres"), "-c", sql])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    assert_eq!(
        count(&format!(
            "select count(*) from users where email = '{pending}'"
        )),
        0
    );
    assert_eq!(
        count(
            "select count(*) from users u where not exists (select 1 from sessions s where s.user_id = u.id)"
        ),
        0
    );
    assert_eq!(
        count(
            "select count(*) from sessions s where not exists (select 1 from users u where u.id = s.user_id)"
        ),
        0
    );
    // The person starts again and it works, with no restart of the server.
    let retry = eventually("signup", 202, || {
        s.post(
            "/v1/signup",
            json!({ "email": pending, "display_name": "Pending" }),
        )
    });
    let code = s.mail_to(&pending).code().unwrap();
    assert!(s.verify(&retry, &code).created);
    assert!(!s.sign_in(&known).created);
}

#[test]
fn an_smtp_relay_that_is_down_changes_nothing_and_mail_arrives_once_it_is_up() {
    let mut relay = Smtp::not_started();
    let redis = service_env("AUTH_TEST_REDIS_URL");
    let db = Production::new();
    let mailbox = Mailbox::Maildir(relay.maildir.path().to_owned());
    let s = Server::start_on(
        &services(&db.database_url, &redis, &relay.url()),
        mailbox,
        &[],
    );
    let email = unique_email("smtp-down");
    let t = Instant::now();
    let started = s.post(
        "/v1/signup",
        json!({ "email": email, "display_name": "Patient" }),
    );
    assert_eq!(started.status, 202, "{}", started.text);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a dead relay never slows the answer"
    );
    std::thread::sleep(Duration::from_millis(1500));
    relay.start();
    let code = s
        .mail_to_within(&email, Duration::from_secs(30))
        .code()
        .expect("the mail is delivered once the relay is up");
    assert!(s.verify(&started, &code).created);
    let metrics = s.request("GET", "/metrics", &[], None).text;
    let retries = metrics
        .lines()
        .find_map(|l| l.strip_prefix("auth_mail_retries "))
        .and_then(|v| v.trim().parse::<i64>().ok());
    assert!(
        retries.is_some_and(|n| n >= 1),
        "the queue retried: {retries:?}"
    );
}
