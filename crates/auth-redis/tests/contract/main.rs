//! The Redis adapter against a real Redis (`AUTH_TEST_REDIS_URL`, by default the local one): the
//! contract rules of its ports (one test per rule), key hygiene (every key expires, no personal
//! data in key names), the GCRA rule of the core, damaged data, and what happens when Redis is
//! down, silent or drops the connection.
//!
//! Each test keeps its keys under a prefix of its own, so the tests share one Redis and run in
//! parallel. Without a reachable Redis every test fails, saying how to start one.

use auth_core::Policy;
use auth_core::attempt::{AttemptState, Purpose, Subject};
use auth_core::ids::{AttemptId, CeremonyId, UserId};
use auth_core::ports::{
    AttemptGate, AttemptStore, CeremonyStore, Clock, FailureBudget, HealthCheck, OsRng,
    RateLimiter, StoreError, SystemClock,
};
use auth_core::rate::{Quota, gcra};
use auth_core::testkit::{self, sample_attempt, unique_email};
use auth_core::time::Timestamp;
use auth_redis::RedisStore;
use auth_testsupport::{Proxy, SilentServer};
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, IntoConnectionInfo};
use std::error::Error as _;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod faults;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// Far above the adapter's timeouts, far below a hang.
const QUICK: Duration = Duration::from_secs(3);

fn url() -> String {
    std::env::var("AUTH_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn unique_prefix(tag: &str) -> String {
    format!("test:{tag}:{}", UserId::random(&OsRng).as_uuid().simple())
}

/// Why the tests cannot run, and how to fix that.
fn no_redis(what: &dyn std::fmt::Display) -> String {
    let how = "start one with `redis-server --port 6379 --save '' --appendonly no` \
               or point AUTH_TEST_REDIS_URL at one";
    if std::env::var_os("CI").is_some() {
        format!(
            "CI must provide a Redis for these tests, but {} is not reachable ({what}); {how}",
            url()
        )
    } else {
        format!(
            "these tests need a real Redis, but {} is not reachable ({what}); {how}",
            url()
        )
    }
}

/// The error and its sources, on one line.
fn chain(e: &StoreError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A store under a fresh prefix, and that prefix.
async fn store(tag: &str) -> (RedisStore, String) {
    let prefix = unique_prefix(tag);
    match RedisStore::connect(&url(), &prefix).await {
        Ok(store) => (store, prefix),
        Err(e) => panic!("{}", no_redis(&chain(&e))),
    }
}

/// A plain connection for looking behind the adapter's back.
async fn admin() -> MultiplexedConnection {
    let client = redis::Client::open(url()).unwrap_or_else(|e| panic!("{}", no_redis(&e)));
    client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{}", no_redis(&e)))
}

/// Every key under `prefix`.
async fn keys_under(prefix: &str) -> Vec<String> {
    let mut conn = admin().await;
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN works");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Asserts that every key under `prefix` expires, and returns them.
async fn assert_every_key_expires(prefix: &str) -> Vec<String> {
    let mut conn = admin().await;
    let keys = keys_under(prefix).await;
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("PTTL works");
        // -2: the key expired between SCAN and PTTL, so it had a TTL.
        assert!(ttl > 0 || ttl == -2, "{key} has no TTL (PTTL {ttl})");
    }
    keys
}

fn count_matching(keys: &[String], part: &str) -> usize {
    keys.iter().filter(|k| k.contains(part)).count()
}

auth_core::contract_tests! {
    let store = store("contract").await.0;
    ports: [attempt_store, attempt_gate, rate_limiter, ceremony_store, authorization_code_store];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_attempt_rules_write_expires_and_names_no_address() {
    let (store, prefix) = store("attempts").await;
    testkit::attempt_store::all(testkit::attempt_store::store(store)).await;

    let keys = assert_every_key_expires(&prefix).await;
    assert!(
        count_matching(&keys, ":attempt:{") > 0,
        "the suite wrote attempt keys, and they were checked"
    );
    assert!(
        keys.iter().all(|k| !k.contains('@')),
        "no key name holds an address: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_gate_rules_write_expires_and_names_no_address() {
    let (store, prefix) = store("gate").await;
    testkit::attempt_gate::all(testkit::attempt_gate::store(store)).await;

    let keys = assert_every_key_expires(&prefix).await;
    for kind in [":attempt:{", ":rate:{", ":failures:{"] {
        assert!(
            count_matching(&keys, kind) > 0,
            "the suite wrote {kind} keys, and they were checked"
        );
    }
    assert!(
        keys.iter().all(|k| !k.contains('@')),
        "no key name holds an address: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_rate_limiter_rules_write_expires() {
    let (store, prefix) = store("limits").await;
    testkit::rate_limiter::all(testkit::rate_limiter::store(store)).await;

    let keys = assert_every_key_expires(&prefix).await;
    for kind in [":rate:{", ":failures:{"] {
        assert!(
            count_matching(&keys, kind) > 0,
            "the suite wrote {kind} keys, and they were checked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_ceremony_rules_write_expires_and_names_no_id() {
    let (store, prefix) = store("ceremonies").await;
    let left = CeremonyId::random(&OsRng);
    let now = SystemClock.now();
    CeremonyStore::put(&store, &left, b"left", now, Duration::from_secs(60))
        .await
        .unwrap();
    testkit::ceremony_store::all(testkit::ceremony_store::store(store.clone())).await;

    // The suite took or outlived all of its own; the one left behind still expires.
    let keys = assert_every_key_expires(&prefix).await;
    assert_eq!(count_matching(&keys, ":ceremony:{"), 1, "{keys:?}");
    assert!(
        keys.iter().all(|k| !k.contains(&left.to_string())),
        "no key name holds a ceremony id: {keys:?}"
    );
    assert_eq!(
        store
            .take_ceremony(&left.to_string(), now)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"left"[..]),
        "the port keeps a ceremony under the text form of its id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_names_hold_no_personal_data() {
    let (store, prefix) = store("privacy").await;
    let email = unique_email("private.person");
    let local = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let now = SystemClock.now();
    let (attempt, _) = sample_attempt(&email, Purpose::Login, Subject::Decoy, now);
    store.create(&attempt, None).await.unwrap();
    store
        .acquire(
            "send:ip:192.0.2.77",
            Quota::new(3, Duration::from_secs(60)),
            now,
        )
        .await
        .unwrap();
    store
        .record_failure(
            &format!("fail:addr:{}", email.as_str()),
            now,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    store
        .put_ceremony(
            "ceremony-id-in-clear",
            b"state",
            now,
            Duration::from_secs(60),
        )
        .await
        .unwrap();

    let keys = assert_every_key_expires(&prefix).await;
    assert_eq!(
        keys.len(),
        4,
        "attempt, GCRA, failures and ceremony: {keys:?}"
    );
    for key in &keys {
        for secret in [
            email.as_str(),
            &local,
            "@",
            "192.0.2.77",
            "ceremony-id-in-clear",
        ] {
            assert!(!key.contains(secret), "{key} gives away {secret:?}");
        }
    }

    // The attempt lives until its expiry plus the grace period, not longer.
    let mut conn = admin().await;
    let attempt_key = keys
        .iter()
        .find(|k| k.ends_with(&attempt.id.to_string()))
        .expect("the attempt's key");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(attempt_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let lifetime = (600 + 3600) * 1000;
    assert!(
        (lifetime - 60_000..=lifetime).contains(&ttl),
        "attempt TTL {ttl} ms is expiry plus grace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremony_state_is_taken_once_and_expires() {
    let (store, prefix) = store("ceremony").await;
    let now = SystemClock.now();
    // Not UTF-8 on purpose: the state is opaque bytes.
    let state = [0u8, 159, 146, 150, 255, 10];
    store
        .put_ceremony("c1", &state, now, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take_ceremony("c1", now).await.unwrap(),
        Some(state.to_vec()),
        "the first take gets the state"
    );
    assert_eq!(
        store.take_ceremony("c1", now).await.unwrap(),
        None,
        "a ceremony state can be taken only once"
    );
    assert_eq!(
        store.take_ceremony("unknown", now).await.unwrap(),
        None,
        "an unknown ceremony has no state"
    );

    store
        .put_ceremony("short", b"x", now, Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.take_ceremony("short", now).await.unwrap(),
        None,
        "Redis forgets the state after the key's TTL"
    );

    store
        .put_ceremony("raced", b"once", now, Duration::from_secs(60))
        .await
        .unwrap();
    let mut takers = JoinSet::new();
    for _ in 0..testkit::PARALLEL {
        let store = store.clone();
        takers.spawn(async move { store.take_ceremony("raced", now).await.unwrap() });
    }
    let taken = takers.join_all().await.into_iter().flatten().count();
    assert_eq!(
        taken,
        1,
        "{} parallel takes: exactly one gets the state",
        testkit::PARALLEL
    );

    store
        .put_ceremony("left", b"x", now, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(assert_every_key_expires(&prefix).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_follows_the_core_gcra_rule_step_by_step() {
    let (store, _) = store("gcra").await;
    let t0 = SystemClock.now().as_millis();
    // A small deterministic generator: the same sequence on every run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..8 {
        // Periods of a minute and more keep every TTL longer than the test, so that Redis's own
        // clock never expires state the simulated clock still needs.
        let quota = Quota::new(
            1 + next(5) as u32,
            Duration::from_millis(60_000 + next(60_000)),
        );
        let key = format!("gcra-rule-{round}");
        let mut tat = None;
        let mut t = t0;
        for step in 0..40 {
            t += next((quota.interval_us() / 1000).max(1) as u64 * 2) as i64;
            let now = Timestamp::from_millis(t);
            let (expected, state) = gcra(tat, now, quota);
            if let Some(s) = state {
                tat = Some(s.tat);
            }
            let got = store.acquire(&key, quota, now).await.unwrap();
            assert_eq!(
                got, expected,
                "round {round} step {step}: Redis and auth_core::rate::gcra agree"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_code_rules_write_expires_and_is_tagged() {
    let (store, prefix) = store("codes").await;
    testkit::authorization_code_store::all(testkit::authorization_code_store::store(store)).await;
    let keys = assert_every_key_expires(&prefix).await;
    assert!(count_matching(&keys, ":code:{") > 0, "{keys:?}");
    assert_eq!(count_matching(&keys, ":code:{"), keys.len(), "{keys:?}");
}
