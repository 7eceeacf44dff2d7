//! The auth-core contract rules against the in-memory adapters, one test per rule, and the bound of
//! the ceremony store.

use auth_memory::MemoryStore;

auth_core::contract_tests! {
    let store = MemoryStore::new();
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
