//! The Redis adapter against a real Redis (`AUTH_TEST_REDIS_URL`, by default the local one): the
//! contract rules of its ports (one test per rule), key hygiene (every key expires, no personal
//! data in key names), the GCRA rule of the core, damaged data, and what happens when Redis is
//! down, silent or drops the connection.
//!
//! Each test keeps its keys under a prefix of its own, so the tests share one Redis and run in
//! parallel. Without a reachable Redis every test fails, saying how to start one.

use auth_core::attempt::{AttemptState, Purpose, Subject};
use auth_core::ids::{AttemptId, CeremonyId, UserId};
use auth_core::ports::{
    AttemptStore, CeremonyStore, Clock, HealthCheck, OsRng, RateLimiter, StoreError, SystemClock,
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
    ports: [attempt_store, rate_limiter, ceremony_store];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_attempt_rules_write_expires_and_names_no_address() {
    let (store, prefix) = store("attempts").await;
    testkit::attempt_store::all(testkit::attempt_store::store(store)).await;

    let keys = assert_every_key_expires(&prefix).await;
    for kind in [":attempt:{", ":attempt-ref:{"] {
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
    for kind in [":gcra:{", ":failures:{"] {
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
        5,
        "attempt, reference, GCRA, failures and ceremony: {keys:?}"
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
            t += next(quota.interval_ms() as u64 * 2) as i64;
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
async fn damaged_data_is_corrupt_not_a_panic_or_a_default() {
    let (store, prefix) = store("damaged").await;
    let mut conn = admin().await;
    let now = SystemClock.now();

    let (attempt, _) = sample_attempt(
        &unique_email("damaged"),
        Purpose::Login,
        Subject::Decoy,
        now,
    );
    store.create(&attempt, None).await.unwrap();
    let key = keys_under(&prefix)
        .await
        .into_iter()
        .find(|k| k.ends_with(&attempt.id.to_string()))
        .expect("attempt key");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("expires_at")
        .arg("soon")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        matches!(store.get(&attempt.id).await, Err(StoreError::Corrupt(_))),
        "get of a damaged attempt"
    );
    assert!(
        matches!(
            store.take_guess(&attempt.id, now, 5).await,
            Err(StoreError::Corrupt(_))
        ),
        "take_guess of a damaged attempt"
    );
    assert!(
        matches!(
            store.consume(&attempt.id, now).await,
            Err(StoreError::Corrupt(_))
        ),
        "consume of a damaged attempt"
    );

    let quota = Quota::new(1, Duration::from_secs(60));
    store.acquire("k", quota, now).await.unwrap();
    let gcra_key = keys_under(&prefix)
        .await
        .into_iter()
        .find(|k| k.contains(":gcra:"))
        .expect("GCRA key");
    let _: () = redis::cmd("SET")
        .arg(&gcra_key)
        .arg("later")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        matches!(
            store.acquire("k", quota, now).await,
            Err(StoreError::Corrupt(_))
        ),
        "acquire over damaged state"
    );

    store
        .record_failure("f", now, Duration::from_secs(60))
        .await
        .unwrap();
    let fail_key = keys_under(&prefix)
        .await
        .into_iter()
        .find(|k| k.contains(":failures:"))
        .expect("failures key");
    let _: () = redis::cmd("HSET")
        .arg(&fail_key)
        .arg("count")
        .arg("many")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        matches!(store.failures("f", now).await, Err(StoreError::Corrupt(_))),
        "failures over damaged counters"
    );
    assert!(
        matches!(
            store
                .record_failure("f", now, Duration::from_secs(60))
                .await,
            Err(StoreError::Corrupt(_))
        ),
        "record_failure over damaged counters"
    );

    // Another type under one of our keys is not ours to read either.
    let _: () = redis::cmd("DEL")
        .arg(&fail_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&fail_key)
        .arg("x")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        matches!(store.failures("f", now).await, Err(StoreError::Corrupt(_))),
        "a string where a hash belongs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_or_silent_answers_unavailable_quickly() {
    let started = Instant::now();
    let refused = RedisStore::connect("redis://127.0.0.1:1", &unique_prefix("down")).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "nothing listening: unavailable"
    );
    assert!(
        started.elapsed() < QUICK,
        "a refused connection answers quickly, took {:?}",
        started.elapsed()
    );

    // A server that accepts connections and never says a word.
    let silent = SilentServer::start().await;
    let started = Instant::now();
    let result = async {
        let store = RedisStore::connect(
            &format!("redis://{}", silent.addr()),
            &unique_prefix("silent"),
        )
        .await?;
        store.check().await
    }
    .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "a silent server: unavailable, got {result:?}"
    );
    assert!(
        started.elapsed() < QUICK,
        "a silent server answers within the timeouts, took {:?}",
        started.elapsed()
    );
    drop(silent);

    assert!(
        RedisStore::connect(&url(), "bad{prefix}").await.is_err(),
        "a prefix with braces is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_gone_calls_fail_fast_and_the_store_recovers_by_itself() {
    let mut proxy = proxy().await;
    let (store, _) = proxied_store(&proxy, "outage").await;
    let now = SystemClock.now();
    let (attempt, _) = sample_attempt(&unique_email("outage"), Purpose::Login, Subject::Decoy, now);
    store.create(&attempt, None).await.unwrap();

    proxy.stop().await;
    for round in 0..3 {
        let started = Instant::now();
        let get = store.get(&attempt.id).await;
        let limit = store
            .acquire("k", Quota::new(1, Duration::from_secs(60)), now)
            .await;
        let health = store.check().await;
        assert!(
            matches!(get, Err(StoreError::Unavailable(_))),
            "round {round}: get while down, got {get:?}"
        );
        assert!(
            matches!(limit, Err(StoreError::Unavailable(_))),
            "round {round}: acquire while down, got {limit:?}"
        );
        assert!(
            matches!(health, Err(StoreError::Unavailable(_))),
            "round {round}: check while down, got {health:?}"
        );
        assert!(
            started.elapsed() < QUICK,
            "round {round}: three calls while down took {:?}",
            started.elapsed()
        );
    }

    proxy.restart().await;
    store
        .check()
        .await
        .expect("the first call after Redis is back works");
    let back = store
        .get(&attempt.id)
        .await
        .unwrap()
        .expect("the attempt survived the outage");
    assert_eq!(back.state, AttemptState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_replaced_and_the_next_call_works() {
    let proxy = proxy().await;
    let (store, _) = proxied_store(&proxy, "killed").await;
    store.check().await.unwrap();
    let ours = proxy.upstream_addrs();
    assert_eq!(ours.len(), 1, "the store holds one connection");

    let mut conn = admin().await;
    let addr = format!("{}:{}", ours[0].ip(), ours[0].port());
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ADDR")
        .arg(&addr)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1, "Redis closed the store's connection");

    let id = AttemptId::random(&OsRng);
    assert_eq!(store.get(&id).await.expect("the next call works"), None);
    store.check().await.expect("and so do the ones after it");
    assert_eq!(
        proxy.upstream_addrs().len(),
        2,
        "the store opened a new connection"
    );
}

/// A proxy in front of the test Redis.
async fn proxy() -> Proxy {
    let info = url()
        .into_connection_info()
        .expect("AUTH_TEST_REDIS_URL is a Redis URL");
    let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
        panic!("the proxy tests need AUTH_TEST_REDIS_URL to be a plain TCP URL");
    };
    Proxy::start(&host, port).await
}

/// A store that reaches Redis through `proxy`.
async fn proxied_store(proxy: &Proxy, tag: &str) -> (RedisStore, String) {
    let info = url()
        .into_connection_info()
        .expect("AUTH_TEST_REDIS_URL is a Redis URL");
    let redis = info.redis_settings();
    let auth = match (redis.username(), redis.password()) {
        (Some(user), Some(password)) => format!("{user}:{password}@"),
        (None, Some(password)) => format!(":{password}@"),
        _ => String::new(),
    };
    let proxied = format!("redis://{auth}{}/{}", proxy.listen(), redis.db());
    let prefix = unique_prefix(tag);
    let store = RedisStore::connect(&proxied, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{}", no_redis(&chain(&e))));
    (store, prefix)
}
