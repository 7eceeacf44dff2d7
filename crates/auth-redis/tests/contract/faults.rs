//! Damaged data, and a Redis that is down, silent, gone for a while or drops the connection.

use super::*;

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
        .find(|k| k.contains(":rate:"))
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
    let budget = |key| FailureBudget {
        key,
        backoff: Policy::default().limits.address_failures,
    };
    let (fresh, _) = sample_attempt(&unique_email("fresh"), Purpose::Login, Subject::Decoy, now);
    store.create(&fresh, None).await.unwrap();
    assert!(
        matches!(
            store.settle(&fresh.id, now, 5, budget("f"), false).await,
            Err(StoreError::Corrupt(_))
        ),
        "settle over damaged counters"
    );
    assert_eq!(
        store.get(&fresh.id).await.unwrap().map(|a| a.guesses),
        Some(0),
        "a settle that failed took no guess"
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

    // The gate's steps over the damaged attempt, last: they leave limiter keys of their own.
    let once = Quota::new(100, Duration::from_secs(60));
    assert!(
        matches!(
            store.look("look", once, &attempt.id, now).await,
            Err(StoreError::Corrupt(_))
        ),
        "look at a damaged attempt"
    );
    assert!(
        matches!(
            store.settle(&attempt.id, now, 5, budget("s"), true).await,
            Err(StoreError::Corrupt(_))
        ),
        "settle of a damaged attempt"
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
        let look = store
            .look(
                "k",
                Quota::new(1, Duration::from_secs(60)),
                &attempt.id,
                now,
            )
            .await;
        let budget = FailureBudget {
            key: "f",
            backoff: Policy::default().limits.address_failures,
        };
        let settle = store.settle(&attempt.id, now, 5, budget, true).await;
        let open = store.open(&[], now, &attempt, None).await;
        assert!(
            matches!(look, Err(StoreError::Unavailable(_)))
                && matches!(settle, Err(StoreError::Unavailable(_)))
                && matches!(open, Err(StoreError::Unavailable(_))),
            "round {round}: the gate's steps while down, got {look:?}, {settle:?}, {open:?}"
        );
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
            "round {round}: six calls while down took {:?}",
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
