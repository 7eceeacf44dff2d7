//! The [`CeremonyStore`] contract: single use, bytes intact, expiry by the caller's clock, and one
//! winner among parallel takes.

use super::{PARALLEL, in_parallel, now};
use crate::ids::CeremonyId;
use crate::ports::{CeremonyStore, OsRng};
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on.
pub type Store = Arc<dyn CeremonyStore>;

/// The rules' view of an adapter's store.
pub fn store<S: CeremonyStore + 'static>(s: S) -> Store {
    Arc::new(s)
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules ceremony_store @all store);
}

const TTL: Duration = Duration::from_secs(60);

/// `take` returns what `put` kept, bytes intact, once; an unknown ceremony is `None`.
pub async fn a_ceremony_is_taken_once_with_its_bytes_intact(store: Store) {
    let t0 = now();
    let id = CeremonyId::random(&OsRng);
    let state = vec![0u8, 159, 146, 150, 255];
    store.put(&id, &state, t0, TTL).await.unwrap();
    assert_eq!(
        store.take(&id, t0).await.unwrap(),
        Some(state.clone()),
        "take returns what put kept, bytes intact"
    );
    assert_eq!(
        store.take(&id, t0).await.unwrap(),
        None,
        "a ceremony is single use"
    );
    assert_eq!(
        store.take(&CeremonyId::random(&OsRng), t0).await.unwrap(),
        None,
        "unknown ceremonies give None"
    );
}

/// A ceremony is there just inside its lifetime and gone once it has passed, by the caller's
/// clock.
pub async fn a_ceremony_lasts_exactly_its_lifetime(store: Store) {
    let t0 = now();
    let inside = CeremonyId::random(&OsRng);
    store.put(&inside, b"still here", t0, TTL).await.unwrap();
    assert_eq!(
        store
            .take(&inside, t0.plus(TTL - Duration::from_millis(1)))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"still here"[..]),
        "a ceremony just inside its lifetime is there"
    );
    let expired = CeremonyId::random(&OsRng);
    store.put(&expired, b"soon gone", t0, TTL).await.unwrap();
    assert_eq!(
        store.take(&expired, t0.plus(TTL)).await.unwrap(),
        None,
        "a ceremony is gone once its lifetime has passed"
    );
}

/// [`PARALLEL`] takes at once of one ceremony: exactly one gets the state.
pub async fn parallel_takes_have_one_winner(store: Store) {
    let t0 = now();
    let par = CeremonyId::random(&OsRng);
    store.put(&par, b"once", t0, TTL).await.unwrap();
    let got = in_parallel(|_| {
        let store = store.clone();
        async move { store.take(&par, t0).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(
        got.iter().filter(|&&g| g).count(),
        1,
        "{PARALLEL} parallel takes: exactly one gets the state"
    );
}
