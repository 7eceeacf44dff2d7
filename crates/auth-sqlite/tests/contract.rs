//! The auth-core contract rules against a real SQLite file (a fresh one per test), and the schema
//! rules they leave out.

use auth_core::ports::{
    AuditEvent, AuditLog, HealthCheck, Housekeeping, PasskeyRepository, SessionRepository,
    StoreError, UserRepository,
};
use auth_core::session::RefreshToken;
use auth_core::testkit;
use auth_core::{Timestamp, UserId};
use auth_sqlite::SqliteStore;
use sqlx::{Connection, SqliteConnection};
use std::path::Path;
use tempfile::TempDir;

/// A migrated store on a fresh file; the directory goes when the guard drops.
async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&url(&dir.path().join("auth.db")))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A plain connection beside the store, for looking at (and tampering with) the schema.
async fn raw(dir: &TempDir) -> SqliteConnection {
    let mut conn = SqliteConnection::connect(&url(&dir.path().join("auth.db")))
        .await
        .unwrap();
    sqlx::query("PRAGMA busy_timeout = 5000")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn stored_user(store: &SqliteStore) -> UserId {
    let user = testkit::sample_user("raw");
    let session = testkit::sample_session(user.id, user.created_at);
    let refresh = RefreshToken::generate(&auth_core::ports::OsRng).hash();
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

auth_core::contract_tests! {
    let (_dir, store) = fresh().await;
    ports: [
        user_repository,
        account_disabling,
        user_directory,
        session_repository,
        session_opening,
        audit_log,
        passkey_repository,
        housekeeping,
        email_revert_store,
        consent_store,
        outbox,
        webhook_events,
    ];
}

/// A purge larger than one batch deletes every row, batch after batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_more_than_one_batch_deletes_them_all() {
    let (dir, s) = fresh().await;
    let id = stored_user(&s).await;
    let mut conn = raw(&dir).await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
         INSERT INTO audit_events (user_id, at, kind) SELECT ?, i, 'signed_in' FROM n",
    )
    .bind(id.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    let purged = s
        .purge(
            Timestamp::from_millis(10_000_000_000),
            auth_core::ports::Retention {
                spent_tokens: std::time::Duration::from_secs(60),
                audit: std::time::Duration::from_secs(86_400),
            },
        )
        .await
        .unwrap();
    // The 2500, and the account's sign-up event (stored with it, at time 0).
    assert_eq!(purged.audit_events, 2501);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Every rule of the ports that share tables, at once on one file: writers of different tables
/// queue on the same lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_rules_share_one_file_in_parallel() {
    let (_dir, s) = fresh().await;
    let suites = [
        tokio::spawn(testkit::user_repository::all(
            testkit::user_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::session_repository::all(
            testkit::session_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::session_opening::all(
            testkit::session_opening::store(s.clone()),
        )),
        tokio::spawn(testkit::account_disabling::all(
            testkit::account_disabling::store(s.clone()),
        )),
        tokio::spawn(testkit::audit_log::all(testkit::audit_log::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::passkey_repository::all(
            testkit::passkey_repository::store(s.clone()),
        )),
    ];
    for suite in suites {
        suite.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_keeps_its_data_across_calls() {
    let s = SqliteStore::connect("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    testkit::user_repository::all(testkit::user_repository::store(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_data_survives_a_reopen() {
    let (dir, s) = fresh().await;
    s.migrate()
        .await
        .expect("migrating a migrated database again is harmless");
    let id = stored_user(&s).await;
    s.close().await;

    let reopened = SqliteStore::connect(&url(&dir.path().join("auth.db")))
        .await
        .unwrap();
    reopened
        .migrate()
        .await
        .expect("migrating on every start is harmless");
    assert!(
        reopened.by_id(&id).await.unwrap().is_some(),
        "the file keeps its accounts"
    );

    let mut conn = raw(&dir).await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let embedded = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
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
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(journal, "wal", "file databases use the write-ahead log");
}

/// A database migrated by a build from before passkeys kept the adapter's record: accounts made
/// then survive the upgrade, and a passkey row made by hand (nothing wrote them then) stops it
/// rather than being dropped or kept without a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_passkey_records_is_upgraded_in_place() {
    let open = async |dir: &TempDir| {
        SqliteStore::connect(&url(&dir.path().join("auth.db")))
            .await
            .unwrap()
    };
    // The store creates the file; a plain connection applies the first migration only.
    let first_schema_only = async |dir: &TempDir| {
        let s = open(dir).await;
        let mut conn = raw(dir).await;
        sqlx::migrate!("../../migrations/sqlite")
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
        (s, conn)
    };
    let old = UserId::parse("00000000-0000-4000-8000-000000000001").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (s, _conn) = first_schema_only(&dir).await;
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

    let dir = tempfile::tempdir().unwrap();
    let (s, mut conn) = first_schema_only(&dir).await;
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, public_key, backup_eligible, \
         backup_state, name, created_at) \
         VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', \
                 x'01', x'a501', 0, 0, 'Key', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(
        s.migrate().await.is_err(),
        "a passkey without the adapter's record stops the upgrade"
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, 1, "and the failed upgrade changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_id_belongs_to_one_passkey_only() {
    let (dir, s) = fresh().await;
    let (alice, bob) = (stored_user(&s).await, stored_user(&s).await);
    let mut conn = raw(&dir).await;
    let insert = |id: &'static str, user: UserId| {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, credential, sign_count, transports, \
             backup_eligible, backup_state, name, created_at) \
             VALUES (?, ?, x'0102030405060708090a0b0c0d0e0f10', x'a501', 0, '[\"internal\"]', \
                     1, 1, 'Phone', 0)",
        )
        .bind(id)
        .bind(user.to_string())
    };
    insert("00000000-0000-4000-8000-000000000001", alice)
        .execute(&mut conn)
        .await
        .unwrap();
    let twin = insert("00000000-0000-4000-8000-000000000002", bob)
        .execute(&mut conn)
        .await;
    let Err(sqlx::Error::Database(e)) = twin else {
        panic!("a second passkey with the same credential id was stored")
    };
    assert!(
        e.is_unique_violation() && e.message().contains("passkeys.credential_id"),
        "{e}"
    );

    UserRepository::delete(&s, &alice, &testkit::deleted(&alice))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "deleting an account deletes its passkeys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_for_an_unknown_account_is_refused() {
    let (_dir, s) = fresh().await;
    let session = testkit::sample_session(
        UserId::random(&auth_core::ports::OsRng),
        Timestamp::from_millis(0),
    );
    let refresh = RefreshToken::generate(&auth_core::ports::OsRng).hash();
    let refused = SessionRepository::open(
        &s,
        &session,
        &refresh,
        &testkit::sign_in_event(&session, session.created_at),
    )
    .await;
    assert!(
        matches!(refused, Err(StoreError::Corrupt(_))),
        "foreign keys are enforced: {refused:?}"
    );
    assert_eq!(
        SessionRepository::get(&s, &session.id).await.unwrap(),
        None,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_for_a_deleted_account_are_dropped_not_failed() {
    let (_dir, s) = fresh().await;
    let gone = UserId::random(&auth_core::ports::OsRng);
    let event = AuditEvent {
        user_id: gone,
        at: Timestamp::from_millis(0),
        kind: auth_core::audit::AuditKind::SignedIn,
        ip: None,
        detail: None,
    };
    s.record(&event)
        .await
        .expect("an event for a missing account is not an error");
    assert!(
        s.recent(&gone, 10).await.unwrap().is_empty(),
        "and it is not kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_domain_refuses_is_corrupt_not_a_panic() {
    let (dir, s) = fresh().await;
    let id = stored_user(&s).await;
    let mut conn = raw(&dir).await;
    // Passes the table's checks, fails the domain's parser (no dot in the domain).
    sqlx::query("UPDATE users SET email = 'someone@localhost' WHERE id = ?")
        .bind(id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    let read = s.by_id(&id).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");

    let passkey = testkit::sample_passkey(id);
    PasskeyRepository::add(&s, &passkey, &testkit::added(&passkey))
        .await
        .unwrap();
    // A JSON array, as the table checks, but not of strings.
    sqlx::query("UPDATE passkeys SET transports = '[1]'")
        .execute(&mut conn)
        .await
        .unwrap();
    let read = s.by_credential_id(&passkey.credential_id).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_values_outside_the_domain() {
    let (dir, s) = fresh().await;
    let id = stored_user(&s).await;
    let mut conn = raw(&dir).await;
    for (what, sql, refusal) in [
        (
            "an un-normalised address",
            "UPDATE users SET email = 'Someone@Example.test' WHERE id = ?1",
            "CHECK constraint failed",
        ),
        (
            "an empty display name",
            "UPDATE users SET display_name = '' WHERE id = ?1",
            "CHECK constraint failed",
        ),
        (
            "an unknown sign-in method",
            "UPDATE sessions SET method = 'password' WHERE user_id = ?1",
            "CHECK constraint failed",
        ),
        (
            "a refresh token hash of the wrong size",
            "UPDATE refresh_tokens SET hash = x'00'",
            "CHECK constraint failed",
        ),
        (
            "a second current refresh token",
            "INSERT INTO refresh_tokens (hash, session_id) \
             SELECT zeroblob(32), session_id FROM refresh_tokens",
            "UNIQUE constraint failed: refresh_tokens.session_id",
        ),
        (
            "a passkey with an empty credential record",
            "INSERT INTO passkeys (id, user_id, credential_id, credential, backup_eligible, \
                 backup_state, name, created_at) \
             VALUES ('00000000-0000-4000-8000-0000000000aa', ?1, x'01', x'', 0, 0, 'Key', 0)",
            "CHECK constraint failed",
        ),
        (
            "text in an integer column",
            "UPDATE users SET created_at = 'yesterday' WHERE id = ?1",
            "cannot store TEXT value",
        ),
    ] {
        let refused = sqlx::query(sql)
            .bind(id.to_string())
            .execute(&mut conn)
            .await;
        let Err(sqlx::Error::Database(e)) = refused else {
            panic!("the schema accepted {what}: {refused:?}")
        };
        assert!(e.message().contains(refusal), "{what}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    for path in [
        file.join("auth.db"),
        dir.path().join("missing").join("auth.db"),
    ] {
        let opened = SqliteStore::connect(&url(&path)).await;
        assert!(
            matches!(opened, Err(StoreError::Unavailable(_))),
            "{path:?}: {opened:?}"
        );
    }
    let not_sqlite = SqliteStore::connect(&url(&file)).await;
    assert!(
        matches!(not_sqlite, Err(StoreError::Corrupt(_))),
        "a file that is not a database: {not_sqlite:?}"
    );
    let bad_url = SqliteStore::connect("sqlite://x.db?mode=sideways").await;
    assert!(
        matches!(bad_url, Err(StoreError::Unavailable(_))),
        "{bad_url:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_needs_a_migrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&url(&dir.path().join("auth.db")))
        .await
        .unwrap();
    assert_eq!(s.name(), "sqlite");
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
