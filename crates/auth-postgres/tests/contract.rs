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
    UserRepository::create(store, &user, &session, &refresh)
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
        attempt_store,
        session_repository,
        rate_limiter,
        audit_log,
        passkey_repository,
        ceremony_store,
        housekeeping,
        email_revert_store,
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
        tokio::spawn(testkit::session_repository::all(
            testkit::session_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::rate_limiter::all(testkit::rate_limiter::store(
            s.clone(),
        ))),
        tokio::spawn(testkit::audit_log::all(testkit::audit_log::store(s.clone()))),
        tokio::spawn(testkit::passkey_repository::all(
            testkit::passkey_repository::store(s.clone()),
        )),
        tokio::spawn(testkit::ceremony_store::all(testkit::ceremony_store::store(
            s.clone(),
        ))),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_id_belongs_to_one_passkey_only() {
    let (db, s) = fresh().await;
    let (alice, bob) = (stored_user(&s).await, stored_user(&s).await);
    let mut conn = raw(&db).await;
    let insert = |id: &'static str, user: UserId| {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, credential, sign_count, transports, \
             backup_eligible, backup_state, name, created_at) \
             VALUES ($1::uuid, $2, '\\x0102030405060708090a0b0c0d0e0f10', '\\xa501', 0, \
                     '[\"internal\"]', true, true, 'Phone', 0)",
        )
        .bind(id)
        .bind(*user.as_uuid())
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
        e.is_unique_violation() && e.constraint() == Some("passkeys_credential_id_key"),
        "{e}"
    );

    UserRepository::delete(&s, &alice).await.unwrap();
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM passkeys").await,
        0,
        "deleting an account deletes its passkeys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_cascades_to_everything_it_owns() {
    let (db, s) = fresh().await;
    let user = stored_user(&s).await;
    let keep = stored_user(&s).await;
    for id in [user, keep] {
        s.record(&AuditEvent {
            user_id: id,
            at: Timestamp::from_millis(0),
            kind: auth_core::audit::AuditKind::SignedIn,
            ip: None,
            detail: None,
        })
        .await
        .unwrap();
    }
    let mut conn = raw(&db).await;
    for table in ["sessions", "refresh_tokens", "audit_events"] {
        assert_eq!(
            owned_rows(&mut conn, table, user).await,
            1,
            "the account has rows in {table} to begin with"
        );
    }
    assert!(UserRepository::delete(&s, &user).await.unwrap());
    for table in ["sessions", "refresh_tokens", "audit_events"] {
        let gone = owned_rows(&mut conn, table, user).await;
        let kept = owned_rows(&mut conn, table, keep).await;
        assert_eq!(
            (gone, kept),
            (0, 1),
            "deleting one account empties its {table} and no other's"
        );
    }
}

/// How many rows of `table` belong to `user`.
async fn owned_rows(conn: &mut PgConnection, table: &str, user: UserId) -> i64 {
    let sql = match table {
        "sessions" => "SELECT count(*) FROM sessions WHERE user_id = $1",
        "refresh_tokens" => {
            "SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE s.user_id = $1"
        }
        _ => "SELECT count(*) FROM audit_events WHERE user_id = $1",
    };
    sqlx::query_scalar(sql)
        .bind(*user.as_uuid())
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_for_an_unknown_account_is_refused() {
    let (_db, s) = fresh().await;
    let session = testkit::sample_session(UserId::random(&OsRng), Timestamp::from_millis(0));
    let refresh = RefreshToken::generate(&OsRng).hash();
    let refused = SessionRepository::create(&s, &session, &refresh).await;
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
    let (_db, s) = fresh().await;
    let gone = UserId::random(&OsRng);
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

    // Events racing the deletion of their account: none fails, none outlives it.
    let user = stored_user(&s).await;
    let recorders: Vec<_> = (0..testkit::PARALLEL)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let event = AuditEvent {
                    user_id: user,
                    at: Timestamp::from_millis(i64::try_from(i).unwrap()),
                    kind: auth_core::audit::AuditKind::SignedIn,
                    ip: None,
                    detail: None,
                };
                s.record(&event).await
            })
        })
        .collect();
    assert!(UserRepository::delete(&s, &user).await.unwrap());
    for recorder in recorders {
        recorder
            .await
            .unwrap()
            .expect("an event racing its account's deletion is not an error");
    }
    assert!(
        s.recent(&user, 100).await.unwrap().is_empty(),
        "no event outlives its account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_domain_refuses_is_corrupt_not_a_panic() {
    let (db, s) = fresh().await;
    let id = stored_user(&s).await;
    let mut conn = raw(&db).await;
    // Passes the table's checks, fails the domain's parser (no dot in the domain).
    sqlx::query("UPDATE users SET email = 'someone@localhost' WHERE id = $1")
        .bind(*id.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap();
    let read = s.by_id(&id).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");

    let (attempt, _) = testkit::sample_attempt(
        &testkit::unique_email("bad"),
        Purpose::Signup,
        Subject::NewAccount {
            display_name: auth_core::user::DisplayName::parse("Fine").unwrap(),
        },
        Timestamp::from_millis(0),
    );
    AttemptStore::create(&s, &attempt, None).await.unwrap();
    // A control character: within the length check, refused by the domain.
    sqlx::query("UPDATE attempts SET subject_display_name = E'a\\x01b' WHERE id = $1")
        .bind(*attempt.id.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap();
    let read = AttemptStore::get(&s, &attempt.id).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");

    let passkey = testkit::sample_passkey(id);
    PasskeyRepository::add(&s, &passkey).await.unwrap();
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
    let (db, s) = fresh().await;
    stored_user(&s).await;
    let at = Timestamp::from_millis(0);
    let (attempt, _) = testkit::sample_attempt(
        &testkit::unique_email("schema"),
        Purpose::Login,
        Subject::Decoy,
        at,
    );
    AttemptStore::create(&s, &attempt, None).await.unwrap();
    let mut conn = raw(&db).await;
    const CHECK: &str = "23514";
    const UNIQUE: &str = "23505";
    for (what, sql, code) in [
        (
            "an unknown attempt state",
            "UPDATE attempts SET state = 'paused'",
            CHECK,
        ),
        (
            "an un-normalised address",
            "UPDATE users SET email = 'Someone@Example.test'",
            CHECK,
        ),
        (
            "an address without a local part",
            "UPDATE users SET email = '@example.test'",
            CHECK,
        ),
        (
            "an empty display name",
            "UPDATE users SET display_name = ''",
            CHECK,
        ),
        (
            "an unknown sign-in method",
            "UPDATE sessions SET method = 'password'",
            CHECK,
        ),
        (
            "a subject without its user id",
            "UPDATE attempts SET subject_kind = 'account'",
            CHECK,
        ),
        (
            "a negative guess count",
            "UPDATE attempts SET guesses = -1",
            CHECK,
        ),
        (
            "a refresh token hash of the wrong size",
            "UPDATE refresh_tokens SET hash = '\\x00'",
            CHECK,
        ),
        (
            "a second current refresh token",
            "INSERT INTO refresh_tokens (hash, session_id) \
             SELECT sha256(hash), session_id FROM refresh_tokens",
            UNIQUE,
        ),
        (
            "an account epoch below zero",
            "UPDATE attempts SET account_epoch = -1",
            CHECK,
        ),
        (
            "a backed-up passkey that cannot be backed up",
            "INSERT INTO passkeys (id, user_id, credential_id, credential, backup_eligible, \
                 backup_state, name, created_at) \
             SELECT gen_random_uuid(), id, '\\x01', '\\x01', false, true, 'Key', 0 FROM users",
            CHECK,
        ),
        (
            "passkey transports that are not a list",
            "INSERT INTO passkeys (id, user_id, credential_id, credential, transports, \
                 backup_eligible, backup_state, name, created_at) \
             SELECT gen_random_uuid(), id, '\\x01', '\\x01', '{}', false, false, 'Key', 0 \
             FROM users",
            CHECK,
        ),
        (
            "a passkey with an empty credential record",
            "INSERT INTO passkeys (id, user_id, credential_id, credential, backup_eligible, \
                 backup_state, name, created_at) \
             SELECT gen_random_uuid(), id, '\\x01', '\\x', false, false, 'Key', 0 FROM users",
            CHECK,
        ),
        (
            "a failure count of zero",
            "INSERT INTO failures (key, count, last_at, window_ends) VALUES ('k', 0, 0, 1)",
            CHECK,
        ),
        (
            "text in a time column",
            "UPDATE users SET created_at = 'yesterday'",
            "22P02",
        ),
    ] {
        let refused = sqlx::query(sql).execute(&mut conn).await;
        let Err(sqlx::Error::Database(e)) = refused else {
            panic!("the schema accepted {what}: {refused:?}")
        };
        assert_eq!(e.code().as_deref(), Some(code), "{what}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_codes_for_one_address_all_stay_active() {
    let (db, s) = fresh().await;
    let email = testkit::unique_email("burst");
    let now = SystemClock.now();
    let attempts: Vec<_> = (0..testkit::PARALLEL)
        .map(|_| testkit::sample_attempt(&email, Purpose::Login, Subject::Decoy, now).0)
        .collect();
    let creators: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|a| {
            let s = s.clone();
            tokio::spawn(async move { AttemptStore::create(&s, &a, None).await })
        })
        .collect();
    for creator in creators {
        creator
            .await
            .unwrap()
            .expect("parallel codes for one address all succeed");
    }
    for a in &attempts {
        assert_eq!(
            AttemptStore::get(&s, &a.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "one client's code never supersedes another's"
        );
    }
    let mut conn = raw(&db).await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM attempts WHERE state = 'active'"
        )
        .await,
        i64::try_from(testkit::PARALLEL).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_follows_the_core_gcra_rule_step_by_step() {
    let (_db, s) = fresh().await;
    let t0 = SystemClock.now().as_millis();
    // A small deterministic generator: the same sequence on every run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut quotas: Vec<Quota> = (0..8)
        .map(|_| Quota::new(1 + next(5) as u32, Duration::from_millis(1 + next(120_000))))
        .collect();
    // The edges: an interval rounded up to 1 ms, and sums that only saturation keeps in range.
    quotas.push(Quota::new(u32::MAX, Duration::from_millis(1)));
    quotas.push(Quota::new(1, Duration::MAX));
    quotas.push(Quota::new(3, Duration::MAX));
    for (round, quota) in quotas.into_iter().enumerate() {
        let key = format!("gcra-rule-{round}");
        let mut tat = None;
        let mut t = t0;
        for step in 0..40 {
            t += i64::try_from(next(quota.interval_ms().clamp(1, 1_000_000) as u64 * 2)).unwrap();
            let now = Timestamp::from_millis(t);
            let (expected, state) = gcra(tat, now, quota);
            if let Some(st) = state {
                tat = Some(st.tat);
            }
            let got = s.acquire(&key, quota, now).await.unwrap();
            assert_eq!(
                got, expected,
                "round {round} ({quota:?}) step {step}: PostgreSQL and auth_core::rate::gcra agree"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_forgets_only_what_no_longer_matters() {
    let (db, s) = fresh().await;
    let t0 = SystemClock.now();
    let minute = Duration::from_secs(60);
    let q = Quota::new(1, minute);
    assert!(s.acquire("short", q, t0).await.unwrap().is_allowed());
    assert!(
        s.acquire("long", Quota::new(1, minute * 10), t0)
            .await
            .unwrap()
            .is_allowed()
    );
    s.record_failure("f-short", t0, minute).await.unwrap();
    s.record_failure("f-long", t0, minute * 10).await.unwrap();
    let (old, _) = testkit::sample_attempt(
        &testkit::unique_email("old"),
        Purpose::Login,
        Subject::Decoy,
        t0,
    );
    let (young, _) = testkit::sample_attempt(
        &testkit::unique_email("young"),
        Purpose::Login,
        Subject::Decoy,
        t0.plus(ATTEMPT_GRACE),
    );
    AttemptStore::create(&s, &old, None).await.unwrap();
    AttemptStore::create(&s, &young, None).await.unwrap();

    // Two minutes on, the short limit and the short window are dead; nothing a port answers
    // changes by purging them.
    let t2 = t0.plus(minute * 2);
    let failures_before = (
        s.failures("f-short", t2).await.unwrap(),
        s.failures("f-long", t2).await.unwrap(),
    );
    assert_eq!(s.purge_expired(t2).await.unwrap(), 2);
    assert_eq!(
        (
            s.failures("f-short", t2).await.unwrap(),
            s.failures("f-long", t2).await.unwrap(),
        ),
        failures_before,
        "purging changes no answer"
    );
    assert_eq!(
        s.acquire("long", Quota::new(1, minute * 10), t2)
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after: minute * 8
        },
        "a live limit stays"
    );
    assert!(
        s.acquire("short", q, t2).await.unwrap().is_allowed(),
        "a purged limit is as good as a spent one"
    );

    // Past the old attempt's grace: it goes, with the long limit and window.
    let later = old
        .expires_at
        .plus(ATTEMPT_GRACE)
        .plus(Duration::from_millis(1));
    assert_eq!(s.purge_expired(later).await.unwrap(), 4);
    assert_eq!(
        AttemptStore::get(&s, &old.id).await.unwrap(),
        None,
        "an attempt past its grace is gone"
    );
    assert!(
        AttemptStore::get(&s, &young.id).await.unwrap().is_some(),
        "a younger one stays"
    );
    let mut conn = raw(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM rate_limits").await,
        0,
        "no limit is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_removes_ceremonies_that_expired_untaken() {
    let (db, s) = fresh().await;
    let t0 = SystemClock.now();
    let (gone, kept) = (CeremonyId::random(&OsRng), CeremonyId::random(&OsRng));
    s.put(&gone, b"abandoned", t0, Duration::from_millis(1))
        .await
        .unwrap();
    s.put(&kept, b"in progress", t0, Duration::from_secs(60))
        .await
        .unwrap();
    // Ceremonies go by the caller's clock, like everything else.
    let later = t0.plus(Duration::from_secs(1));
    assert_eq!(
        s.purge_expired(later).await.unwrap(),
        1,
        "only the expired ceremony goes"
    );
    let mut conn = raw(&db).await;
    assert_eq!(count(&mut conn, "SELECT count(*) FROM ceremonies").await, 1);
    assert_eq!(
        s.take(&kept, later).await.unwrap().as_deref(),
        Some(&b"in progress"[..]),
        "a live ceremony survives the purge"
    );
}

/// A database migrated by a build from before passkeys kept the adapter's record: accounts made
/// then survive the upgrade, and a passkey row made by hand (nothing wrote them then) stops it
/// rather than being dropped or kept without a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_passkey_records_is_upgraded_in_place() {
    let first_schema_only = async |db: &TestDb| {
        let mut conn = raw(&db).await;
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
    PasskeyRepository::add(&s, &passkey).await.unwrap();
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
