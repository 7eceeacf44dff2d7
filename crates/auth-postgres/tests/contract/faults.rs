//! A database that is unreachable, silent or refusing connections: calls fail fast and the store
//! recovers.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_quickly() {
    let started = Instant::now();
    let refused = PgStore::connect("postgres://postgres@127.0.0.1:1/x", 2).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "nothing listening: {refused:?}"
    );
    assert!(
        started.elapsed() < QUICK,
        "a refused connection answers within the acquire timeout, took {:?}",
        started.elapsed()
    );

    // A server that accepts connections and never says a word.
    let silent = SilentServer::start().await;
    let started = Instant::now();
    let result = PgStore::connect(&format!("postgres://postgres@{}/x", silent.addr()), 2).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "a silent server: {result:?}"
    );
    assert!(
        started.elapsed() < QUICK,
        "a silent server answers within the acquire timeout, took {:?}",
        started.elapsed()
    );
    drop(silent);

    let missing = PgStore::connect(&with_database(&admin_url(), "auth_test_missing"), 2).await;
    assert!(
        matches!(missing, Err(StoreError::Unavailable(_))),
        "an unknown database: {missing:?}"
    );
    let bad_url = PgStore::connect("postgres://127.0.0.1:notaport/x", 2).await;
    assert!(
        matches!(bad_url, Err(StoreError::Unavailable(_))),
        "a malformed URL: {bad_url:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_refuses_connections_calls_fail_fast_and_the_store_recovers() {
    let (db, s) = fresh().await;
    let user = stored_user(&s).await;
    let now = SystemClock.now();
    let mut admin = admin().await;
    let set_allowed = |allowed: bool| {
        sqlx::query(AssertSqlSafe(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}",
            db.name
        )))
    };
    set_allowed(false).execute(&mut admin).await.unwrap();
    // Every pooled connection dies with its server process.
    sqlx::query(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db.name)
    .execute(&mut admin)
    .await
    .unwrap();

    for round in 0..3 {
        let started = Instant::now();
        let read = s.by_id(&user).await;
        let limit = s
            .acquire("k", Quota::new(1, Duration::from_secs(60)), now)
            .await;
        let health = s.check().await;
        assert!(
            matches!(read, Err(StoreError::Unavailable(_))),
            "round {round}: read while down, got {read:?}"
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

    set_allowed(true).execute(&mut admin).await.unwrap();
    s.check()
        .await
        .expect("the first call after the database is back works");
    assert!(
        s.by_id(&user).await.unwrap().is_some(),
        "the account survived the outage"
    );
}
