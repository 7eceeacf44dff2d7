//! The auth-core contract rules against a real PostgreSQL (`AUTH_TEST_DATABASE_URL`, by default
//! the local one with trust authentication), and the schema rules they leave out.
//!
//! Each test creates a database of its own through that URL, migrates it, and drops it when the
//! test ends, even when the test fails; so the tests run in parallel and leave nothing behind.
//! Without a reachable PostgreSQL every test fails, saying how to start one.

use auth_core::attempt::{AttemptState, Purpose, Subject};
use auth_core::ids::CeremonyId;
use auth_core::ports::{
    AttemptStore, AuditEvent, AuditLog, CeremonyStore, Clock, HealthCheck, OsRng,
    PasskeyRepository, RateLimiter, SessionRepository, StoreError, SystemClock, UserRepository,
};
use auth_core::rate::{Quota, RateDecision, gcra};
use auth_core::session::RefreshToken;
use auth_core::testkit;
use auth_core::{Timestamp, UserId};
use auth_postgres::{ATTEMPT_GRACE, PgStore};
use auth_testsupport::postgres::{admin_url, no_postgres, with_database};
use auth_testsupport::{SilentServer, TestDb};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::time::{Duration, Instant};

mod ephemeral;
mod faults;
mod schema;
mod trips;

/// Connections per test store: enough for the 64-way cases to queue briefly, few enough that
/// parallel tests stay far below the server's limit.
const POOL_SIZE: u32 = 8;

/// The adapter's acquire timeout with room to spare, far below a hang.
const QUICK: Duration = Duration::from_secs(6);

/// A plain connection to the server's administrative database.
async fn admin() -> PgConnection {
    PgConnection::connect(&admin_url())
        .await
        .unwrap_or_else(|e| panic!("{}", no_postgres(&e)))
}

/// A plain connection beside the store, for looking at (and tampering with) the schema.
async fn raw(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.unwrap()
}

/// A migrated store on a fresh database; the database goes when the guard drops.
async fn fresh() -> (TestDb, PgStore) {
    let db = TestDb::create();
    let store = PgStore::connect(&db.url, POOL_SIZE)
        .await
        .unwrap_or_else(|e| panic!("{}", no_postgres(&e)));
    store.migrate().await.unwrap();
    (db, store)
}

async fn stored_user(store: &PgStore) -> UserId {
    let user = testkit::sample_user("raw");
    let session = testkit::sample_session(user.id, user.created_at);
    let refresh = RefreshToken::generate(&OsRng).hash();
    UserRepository::create(
        store,
        &user,
        &session,
        &refresh,
        &testkit::signed_up_event(&user),
    )
    .await
    .unwrap();
    user.id
}

async fn count(conn: &mut PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

auth_core::contract_tests! {
    let (_db, store) = fresh().await;
    ports: [
        user_repository,
        account_disabling,
        user_directory,
        attempt_store,
        attempt_gate,
        session_repository,
        session_opening,
        rate_limiter,
        audit_log,
        passkey_repository,
        ceremony_store,
        housekeeping,
        email_revert_store,
        authorization_code_store,
        consent_store,
        outbox,
        webhook_events,
    ];
}

/// Every rule that leaves other accounts alone, at once on one database and one pool, as the
/// nodes of a deployment share it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_rules_share_one_database_in_parallel() {
    let (_db, s) = fresh().await;
    let suites = [
        tokio::spawn(testkit::user_repository::all(
            testkit::user_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::attempt_store::all(testkit::attempt_store::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::attempt_gate::all(testkit::attempt_gate::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::session_repository::all(
            testkit::session_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::session_opening::all(
            testkit::session_opening::store(s.clone()),
        )),
        tokio::spawn(testkit::account_disabling::all(
            testkit::account_disabling::store(s.clone()),
        )),
        tokio::spawn(testkit::rate_limiter::all(testkit::rate_limiter::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::audit_log::all(testkit::audit_log::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::passkey_repository::all(
            testkit::passkey_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::ceremony_store::all(
            testkit::ceremony_store::store(s.clone()),
        )),
        tokio::spawn(testkit::email_revert_store::all(
            testkit::email_revert_store::store(s.clone()),
        )),
    ];
    for suite in suites {
        suite.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_data_survives_a_reconnect() {
    let (db, s) = fresh().await;
    s.migrate()
        .await
        .expect("migrating a migrated database again is harmless");
    let id = stored_user(&s).await;
    s.close().await;

    let reopened = PgStore::connect(&db.url, POOL_SIZE).await.unwrap();
    reopened
        .migrate()
        .await
        .expect("migrating on every start is harmless");
    assert!(
        reopened.by_id(&id).await.unwrap().is_some(),
        "the database keeps its accounts"
    );

    // Several nodes starting at once all migrate; sqlx serialises them.
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PgStore::connect(&url, 2).await?.migrate().await })
        })
        .collect();
    for racer in racers {
        racer
            .await
            .unwrap()
            .expect("parallel migrations are harmless");
    }

    let mut conn = raw(&db).await;
    let applied = count(&mut conn, "SELECT count(*) FROM _sqlx_migrations").await;
    let embedded = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/postgres"
    ))
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
    .count();
    assert_eq!(
        applied,
        i64::try_from(embedded).unwrap(),
        "each migration is applied exactly once"
    );
}

/// A database migrated by a build from before passkeys kept the adapter's record: accounts made
/// then survive the upgrade, and a passkey row made by hand (nothing wrote them then) stops it
/// rather than being dropped or kept without a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_passkey_records_is_upgraded_in_place() {
    let first_schema_only = async |db: &TestDb| {
        let mut conn = raw(db).await;
        sqlx::migrate!("../../migrations/postgres")
            .run_to(1, &mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, display_name, created_at) \
             VALUES ('00000000-0000-4000-8000-000000000001', 'old@example.test', 'Old', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn
    };
    let old = UserId::parse("00000000-0000-4000-8000-000000000001").unwrap();

    let db = TestDb::create();
    first_schema_only(&db).await;
    let s = PgStore::connect(&db.url, POOL_SIZE).await.unwrap();
    s.migrate().await.expect("the upgrade applies");
    assert!(
        s.by_id(&old).await.unwrap().is_some(),
        "accounts survive it"
    );
    let passkey = testkit::sample_passkey(old);
    PasskeyRepository::add(&s, &passkey, &testkit::added(&passkey))
        .await
        .unwrap();
    assert_eq!(s.list(&old).await.unwrap(), vec![passkey]);
    s.close().await;

    let db = TestDb::create();
    let mut conn = first_schema_only(&db).await;
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, public_key, backup_eligible, \
         backup_state, name, created_at) \
         VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', \
                 '\\x01', '\\xa501', false, false, 'Key', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let s = PgStore::connect(&db.url, POOL_SIZE).await.unwrap();
    assert!(
        s.migrate().await.is_err(),
        "a passkey without the adapter's record stops the upgrade"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM passkeys WHERE public_key IS NOT NULL"
        )
        .await,
        1,
        "and the failed upgrade changed nothing"
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_needs_a_migrated_database() {
    let db = TestDb::create();
    let s = PgStore::connect(&db.url, 2).await.unwrap();
    assert_eq!(s.name(), "postgres");
    assert!(
        matches!(s.check().await, Err(StoreError::Unavailable(_))),
        "an empty database is not ready"
    );
    s.migrate().await.unwrap();
    s.check().await.expect("a migrated database is ready");
    s.close().await;
    assert!(
        matches!(s.check().await, Err(StoreError::Unavailable(_))),
        "a closed store is not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_databases_are_dropped_when_their_test_ends() {
    let db = TestDb::create();
    let name = db.name.clone();
    let s = PgStore::connect(&db.url, 2).await.unwrap();
    s.migrate().await.unwrap();
    // Dropped with the store still connected to it.
    drop(db);
    let mut admin = admin().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "{name} is gone");
}
