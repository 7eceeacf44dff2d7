//! The [`AttemptStore`] contract: attempts round-trip, guesses are counted and bounded, an attempt
//! is consumed once, starts never touch each other, a resend replaces exactly what it names, and
//! all of that under parallel callers.

use super::{PARALLEL, in_parallel, now, sample_attempt, unique_email};
use crate::attempt::{AttemptState, Purpose, Subject};
use crate::ids::{AttemptId, UserId};
use crate::ports::{AttemptStore, OsRng};
use crate::user::DisplayName;
use std::sync::Arc;

/// What the rules of this port work on.
pub type Store = Arc<dyn AttemptStore>;

/// The rules' view of an adapter's store.
pub fn store<S: AttemptStore + 'static>(s: S) -> Store {
    Arc::new(s)
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules attempt_store @all store);
}

fn account() -> Subject {
    Subject::Account {
        user_id: UserId::random(&OsRng),
    }
}

/// `get` returns what `create` stored, for every subject kind and with the account epoch;
/// an unknown attempt is `None`.
pub async fn every_attempt_round_trips(store: Store) {
    let t0 = now();
    let (a, _) = sample_attempt(&unique_email("attempt"), Purpose::Login, account(), t0);
    store.create(&a, None).await.unwrap();
    assert_eq!(
        store.get(&a.id).await.unwrap(),
        Some(a.clone()),
        "get returns what create stored"
    );
    assert_eq!(
        store.get(&AttemptId::random(&OsRng)).await.unwrap(),
        None,
        "unknown attempt gives None"
    );
    for subject in [
        Subject::Decoy,
        Subject::NewAccount {
            display_name: DisplayName::parse("Zoë ✓").unwrap(),
        },
    ] {
        let (x, _) = sample_attempt(&unique_email("subject"), Purpose::Signup, subject, t0);
        store.create(&x, None).await.unwrap();
        assert_eq!(
            store.get(&x.id).await.unwrap(),
            Some(x),
            "every subject kind round-trips"
        );
    }
    let (mut epoch, _) = sample_attempt(&unique_email("epoch"), Purpose::Recovery, account(), t0);
    epoch.account_epoch = 7;
    store.create(&epoch, None).await.unwrap();
    assert_eq!(
        store.get(&epoch.id).await.unwrap().unwrap().account_epoch,
        7,
        "the account epoch round-trips"
    );
}

/// `take_guess` hands out the stored hash and the count so far, up to the budget and no further;
/// a refused guess is not counted.
pub async fn guesses_are_counted_and_bounded(store: Store) {
    let t0 = now();
    let (a, _) = sample_attempt(&unique_email("attempt"), Purpose::Login, account(), t0);
    store.create(&a, None).await.unwrap();
    for n in 1..=3 {
        let g = store
            .take_guess(&a.id, t0, 3)
            .await
            .unwrap()
            .expect("guess within budget");
        assert_eq!(
            g.guesses, n,
            "take_guess returns the count after this guess"
        );
        assert_eq!(
            g.code_hash, a.code_hash,
            "take_guess returns the stored hash"
        );
    }
    assert_eq!(
        store.take_guess(&a.id, t0, 3).await.unwrap(),
        None,
        "no guess beyond the budget"
    );
    assert_eq!(
        store.get(&a.id).await.unwrap().unwrap().guesses,
        3,
        "a refused guess is not counted"
    );
}

/// An attempt takes no guess and no consumption at or after its expiry.
pub async fn nothing_is_taken_at_or_after_expiry(store: Store) {
    let (b, _) = sample_attempt(
        &unique_email("expiry"),
        Purpose::Login,
        Subject::Decoy,
        now(),
    );
    store.create(&b, None).await.unwrap();
    assert_eq!(
        store.take_guess(&b.id, b.expires_at, 5).await.unwrap(),
        None,
        "no guess at or after expiry"
    );
    assert!(
        !store.consume(&b.id, b.expires_at).await.unwrap(),
        "no consumption at or after expiry"
    );
}

/// The first `consume` wins, a second loses, and a consumed attempt takes no more guesses.
pub async fn an_attempt_is_consumed_once(store: Store) {
    let t0 = now();
    let (c, _) = sample_attempt(&unique_email("once"), Purpose::Recovery, account(), t0);
    store.create(&c, None).await.unwrap();
    assert!(store.take_guess(&c.id, t0, 5).await.unwrap().is_some());
    assert!(
        store.consume(&c.id, t0).await.unwrap(),
        "the first consume wins"
    );
    assert!(
        !store.consume(&c.id, t0).await.unwrap(),
        "a second consume loses"
    );
    assert_eq!(
        store.take_guess(&c.id, t0, 5).await.unwrap(),
        None,
        "a consumed attempt takes no guesses"
    );
    assert_eq!(
        store.get(&c.id).await.unwrap().unwrap().state,
        AttemptState::Consumed
    );
}

/// Any number of attempts for one address and purpose stay active side by side, so one client's
/// start cannot kill the attempt another client holds.
pub async fn starts_never_touch_each_other(store: Store) {
    let t0 = now();
    let shared = unique_email("side-by-side");
    let account = account();
    let (first, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (second, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (recovery, _) = sample_attempt(&shared, Purpose::Recovery, account, t0);
    store.create(&first, None).await.unwrap();
    store.create(&second, None).await.unwrap();
    store.create(&recovery, None).await.unwrap();
    for (x, what) in [
        (&first, "the first"),
        (&second, "the second"),
        (&recovery, "another purpose's"),
    ] {
        assert_eq!(
            store.get(&x.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "a new attempt leaves {what} attempt of the address active"
        );
    }
    assert!(
        store.take_guess(&first.id, t0, 5).await.unwrap().is_some(),
        "the older of two starts still takes guesses"
    );
}

/// A resend supersedes exactly the attempt it names: that one takes no guess and cannot be
/// consumed; every other attempt of the address stays active.
pub async fn a_resend_supersedes_exactly_the_attempt_it_names(store: Store) {
    let t0 = now();
    let shared = unique_email("resend");
    let account = account();
    let (first, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (second, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    let (recovery, _) = sample_attempt(&shared, Purpose::Recovery, account.clone(), t0);
    for x in [&first, &second, &recovery] {
        store.create(x, None).await.unwrap();
    }
    let (resent, _) = sample_attempt(&shared, Purpose::Login, account, t0);
    store.create(&resent, Some(first.id)).await.unwrap();
    assert_eq!(
        store.get(&first.id).await.unwrap().unwrap().state,
        AttemptState::Superseded,
        "a resend supersedes the attempt it replaces"
    );
    assert_eq!(
        store.take_guess(&first.id, t0, 5).await.unwrap(),
        None,
        "a superseded attempt takes no guesses"
    );
    assert!(
        !store.consume(&first.id, t0).await.unwrap(),
        "a superseded attempt cannot be consumed"
    );
    for (x, what) in [
        (&second, "another start of the address"),
        (&recovery, "another purpose"),
        (&resent, "the new attempt"),
    ] {
        assert_eq!(
            store.get(&x.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "a resend leaves {what} active"
        );
    }
}

/// Naming an attempt that is no longer active as replaced changes nothing about it.
pub async fn replacing_an_attempt_no_longer_active_changes_nothing(store: Store) {
    let t0 = now();
    let shared = unique_email("replaced");
    let account = account();
    let (done, _) = sample_attempt(&shared, Purpose::Login, account.clone(), t0);
    store.create(&done, None).await.unwrap();
    assert!(store.consume(&done.id, t0).await.unwrap());
    let (again, _) = sample_attempt(&shared, Purpose::Login, account, t0);
    store.create(&again, Some(done.id)).await.unwrap();
    assert_eq!(
        store.get(&done.id).await.unwrap().unwrap().state,
        AttemptState::Consumed,
        "a consumed attempt stays consumed when named as replaced"
    );
    assert_eq!(
        store.get(&again.id).await.unwrap().unwrap().state,
        AttemptState::Active
    );
}

/// [`PARALLEL`] guesses at once on one attempt evaluate exactly the budget, and the stored count
/// is the budget.
pub async fn parallel_guesses_evaluate_exactly_the_budget(store: Store) {
    let t0 = now();
    let (p, _) = sample_attempt(
        &unique_email("parallel"),
        Purpose::Login,
        Subject::Decoy,
        t0,
    );
    store.create(&p, None).await.unwrap();
    let handed = in_parallel(|_| {
        let store = store.clone();
        async move { store.take_guess(&p.id, t0, 5).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(
        handed.iter().filter(|&&x| x).count(),
        5,
        "{PARALLEL} parallel guesses evaluate exactly the budget of 5"
    );
    assert_eq!(
        store.get(&p.id).await.unwrap().unwrap().guesses,
        5,
        "the stored count is the budget"
    );
}

/// [`PARALLEL`] consumptions at once of one attempt: exactly one wins.
pub async fn parallel_consumptions_have_one_winner(store: Store) {
    let t0 = now();
    let (q, _) = sample_attempt(&unique_email("consume"), Purpose::Login, Subject::Decoy, t0);
    store.create(&q, None).await.unwrap();
    let won = in_parallel(|_| {
        let store = store.clone();
        async move { store.consume(&q.id, t0).await.unwrap() }
    })
    .await;
    assert_eq!(
        won.iter().filter(|&&x| x).count(),
        1,
        "{PARALLEL} parallel consumptions: exactly one wins"
    );
}
