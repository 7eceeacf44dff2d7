//! The auth-core contract suites against the in-memory adapters.

use auth_core::testkit;
use auth_memory::MemoryStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_repository_contract() {
    let s = MemoryStore::new();
    testkit::user_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_store_contract() {
    testkit::attempt_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_repository_contract() {
    let s = MemoryStore::new();
    testkit::session_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiter_contract() {
    testkit::rate_limiter(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_contract() {
    let s = MemoryStore::new();
    testkit::audit_log(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_repository_contract() {
    let s = MemoryStore::new();
    testkit::passkey_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremony_store_contract() {
    testkit::ceremony_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_contract() {
    let s = MemoryStore::new();
    testkit::housekeeping(
        Arc::new(s.clone()),
        Arc::new(s.clone()),
        Arc::new(s.clone()),
        Arc::new(s),
    )
    .await;
}

/// A flood of ceremonies (requests for sign-in options from many networks) never holds more than
/// the bound; the oldest make room, and a ceremony started after the flood still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ceremonies_stays_within_the_bound_and_a_fresh_one_still_works() {
    use auth_core::CeremonyId;
    use auth_core::ports::{CeremonyStore, Clock, OsRng};
    use auth_core::testkit::ManualClock;
    use auth_core::time::Timestamp;
    use std::time::Duration;

    const CAPACITY: usize = 1024;
    let store = MemoryStore::with_ceremony_capacity(CAPACITY);
    let clock = ManualClock::at(Timestamp::from_millis(1_800_000_000_000));
    let ttl = Duration::from_secs(300);
    let first = CeremonyId::random(&OsRng);
    store.put(&first, b"first", clock.now(), ttl).await.unwrap();
    for _ in 0..10 * CAPACITY {
        clock.advance(Duration::from_millis(1));
        store
            .put(&CeremonyId::random(&OsRng), b"flood", clock.now(), ttl)
            .await
            .unwrap();
        assert!(store.ceremonies_held() <= CAPACITY, "the bound holds");
    }
    assert_eq!(
        store.ceremonies_held(),
        CAPACITY,
        "a flooded store is full, not more"
    );
    assert_eq!(
        store.take(&first, clock.now()).await.unwrap(),
        None,
        "the oldest ceremony made room"
    );
    let fresh = CeremonyId::random(&OsRng);
    store.put(&fresh, b"fresh", clock.now(), ttl).await.unwrap();
    assert_eq!(
        store.take(&fresh, clock.now()).await.unwrap().as_deref(),
        Some(&b"fresh"[..]),
        "a ceremony started after the flood still works"
    );

    // Expired ceremonies go before live ones: after the lifetime, a new one finds room by
    // dropping only what has expired.
    clock.advance(ttl);
    let live = CeremonyId::random(&OsRng);
    store.put(&live, b"live", clock.now(), ttl).await.unwrap();
    assert!(
        store.ceremonies_held() < CAPACITY,
        "expired ceremonies were swept: {}",
        store.ceremonies_held()
    );
    assert_eq!(
        store.take(&live, clock.now()).await.unwrap().as_deref(),
        Some(&b"live"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_revert_store_contract() {
    let s = MemoryStore::new();
    testkit::email_revert_store(Arc::new(s.clone()), Arc::new(s)).await;
}
