//! What the SQLite migrations leave behind, beyond what the contract suites exercise.

use auth_sqlite::SqliteStore;
use sqlx::{Connection, SqliteConnection};

/// Email-code attempts live in process on a single node: the store keeps no table for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migrated_schema_has_no_attempts_table() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(tables.iter().any(|t| t == "users"), "{tables:?}");
    assert!(!tables.iter().any(|t| t == "attempts"), "{tables:?}");
}
