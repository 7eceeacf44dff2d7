//! What the schema holds on its own: constraints and cascades, rows the domain refuses, and
//! events racing the deletion of their account.

use super::*;

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

    UserRepository::delete(&s, &alice, &testkit::deleted(&alice))
        .await
        .unwrap();
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
    // Each account was created with its first session, its refresh token and its sign-up event.
    let mut conn = raw(&db).await;
    for table in ["sessions", "refresh_tokens", "audit_events"] {
        assert_eq!(
            owned_rows(&mut conn, table, user).await,
            1,
            "the account has rows in {table} to begin with"
        );
    }
    assert!(
        UserRepository::delete(&s, &user, &testkit::deleted(&user))
            .await
            .unwrap()
    );
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
    let refused = SessionRepository::open(
        &s,
        &session,
        &refresh,
        &testkit::sign_in_event(&session, session.created_at),
    )
    .await;
    assert!(
        matches!(refused, Ok(false)),
        "the statement's gate finds no account that may sign in: {refused:?}"
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
    assert!(
        UserRepository::delete(&s, &user, &testkit::deleted(&user))
            .await
            .unwrap()
    );
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
