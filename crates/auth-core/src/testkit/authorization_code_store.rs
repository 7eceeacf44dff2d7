//! The [`AuthorizationCodeStore`] contract: a code is taken once with its grant intact, a second
//! presentation is a replay that returns the grant and is remembered, expiry is by the caller's
//! clock, and of parallel presentations exactly one takes the code.

use super::{PARALLEL, in_parallel, now};
use crate::ids::{SessionId, UserId};
use crate::oidc::{
    AuthorizationCode, CODE_REPLAY_MEMORY, CODE_TTL, ClientId, CodeGrant, CodeTake, RedirectUri,
    Scopes, StoredCode,
};
use crate::ports::{AuthorizationCodeStore, OsRng};
use crate::session::AuthMethod;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on.
pub type Store = Arc<dyn AuthorizationCodeStore>;

/// The rules' view of an adapter's store.
pub fn store<S: AuthorizationCodeStore + 'static>(s: S) -> Store {
    Arc::new(s)
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules authorization_code_store @all store);
}

/// A fresh code issued at `t0`, with every field of its grant set.
fn sample(t0: Timestamp) -> (AuthorizationCode, StoredCode) {
    let code = AuthorizationCode::generate(&OsRng);
    let grant = CodeGrant {
        client_id: ClientId::parse("contract-client").expect("valid id"),
        redirect_uri: RedirectUri::parse("https://app.example/cb?x=1").expect("valid uri"),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        nonce: Some("nonce \u{e9} \"quoted\"".to_owned()),
        scopes: Scopes::parse("openid email offline_access").expect("known scopes"),
        user_id: UserId::random(&OsRng),
        session_id: SessionId::random(&OsRng),
        auth_time: t0.minus(Duration::from_secs(42)),
        method: AuthMethod::Passkey,
        issues: SessionId::random(&OsRng),
        expires_at: t0.plus(CODE_TTL),
    };
    let stored = StoredCode {
        hash: code.hash(),
        grant,
    };
    (code, stored)
}

/// `take` returns the grant `put` kept, every field intact, once; an unknown code is invalid.
pub async fn a_code_is_taken_once_with_its_grant_intact(store: Store) {
    let t0 = now();
    let (code, stored) = sample(t0);
    store.put(&stored).await.unwrap();
    assert_eq!(
        store
            .take(&AuthorizationCode::generate(&OsRng).hash(), t0)
            .await
            .unwrap(),
        CodeTake::Invalid,
        "an unknown code is invalid"
    );
    assert_eq!(
        store.take(&code.hash(), t0).await.unwrap(),
        CodeTake::Taken(stored.grant.clone()),
        "the first presentation takes the code, grant intact"
    );
    let mut without = sample(t0).1;
    without.grant.code_challenge = None;
    without.grant.nonce = None;
    store.put(&without).await.unwrap();
    assert_eq!(
        store.take(&without.hash, t0).await.unwrap(),
        CodeTake::Taken(without.grant.clone()),
        "a grant without challenge and nonce round-trips too"
    );
}

/// A second presentation is a replay and names the grant, so its session can be revoked.
pub async fn a_second_presentation_is_a_replay_with_the_grant(store: Store) {
    let t0 = now();
    let (code, stored) = sample(t0);
    store.put(&stored).await.unwrap();
    assert!(matches!(
        store.take(&code.hash(), t0).await.unwrap(),
        CodeTake::Taken(_)
    ));
    assert_eq!(
        store
            .take(&code.hash(), t0.plus(Duration::from_secs(1)))
            .await
            .unwrap(),
        CodeTake::Replayed(stored.grant.clone()),
        "a used code is a replay"
    );
}

/// A replay is remembered: `replayed` is false for an unknown code, a code not yet presented and a
/// code taken once, and true once it has been presented again.
pub async fn a_replay_is_remembered_for_the_exchange(store: Store) {
    let t0 = now();
    let (code, stored) = sample(t0);
    assert!(!store.replayed(&code.hash()).await.unwrap(), "unknown");
    store.put(&stored).await.unwrap();
    assert!(
        !store.replayed(&code.hash()).await.unwrap(),
        "not presented"
    );
    assert!(matches!(
        store.take(&code.hash(), t0).await.unwrap(),
        CodeTake::Taken(_)
    ));
    assert!(!store.replayed(&code.hash()).await.unwrap(), "taken once");
    assert!(matches!(
        store.take(&code.hash(), t0).await.unwrap(),
        CodeTake::Replayed(_)
    ));
    assert!(
        store.replayed(&code.hash()).await.unwrap(),
        "presented again"
    );
    // Another code is not touched by it.
    let (other, other_stored) = sample(t0);
    store.put(&other_stored).await.unwrap();
    assert!(!store.replayed(&other.hash()).await.unwrap());
}

/// A code is taken just inside its lifetime and invalid from its expiry on, by the caller's
/// clock; a used code is still recognised as a replay after its expiry.
pub async fn a_code_lasts_exactly_its_lifetime(store: Store) {
    let t0 = now();
    let (inside, stored) = sample(t0);
    store.put(&stored).await.unwrap();
    assert!(
        matches!(
            store
                .take(&inside.hash(), t0.plus(CODE_TTL - Duration::from_millis(1)))
                .await
                .unwrap(),
            CodeTake::Taken(_)
        ),
        "a code just inside its lifetime is taken"
    );
    let (expired, stored2) = sample(t0);
    store.put(&stored2).await.unwrap();
    assert_eq!(
        store
            .take(&expired.hash(), t0.plus(CODE_TTL))
            .await
            .unwrap(),
        CodeTake::Invalid,
        "an unused code is invalid once its lifetime has passed"
    );
    assert_eq!(
        store
            .take(&expired.hash(), t0.plus(CODE_TTL))
            .await
            .unwrap(),
        CodeTake::Invalid,
        "and stays invalid: an expired code is not a replay"
    );
    assert_eq!(
        store
            .take(
                &inside.hash(),
                t0.plus(CODE_TTL + CODE_REPLAY_MEMORY - Duration::from_secs(1))
            )
            .await
            .unwrap(),
        CodeTake::Replayed(stored.grant),
        "a used code is remembered as used after its expiry"
    );
}

/// [`PARALLEL`] presentations at once of one code: exactly one takes it, every other one sees a
/// replay.
pub async fn parallel_takes_have_one_winner_and_the_rest_see_a_replay(store: Store) {
    let t0 = now();
    let (code, stored) = sample(t0);
    store.put(&stored).await.unwrap();
    let hash = code.hash();
    let got = in_parallel(|_| {
        let store = store.clone();
        async move { store.take(&hash, t0).await.unwrap() }
    })
    .await;
    let taken = got
        .iter()
        .filter(|g| matches!(g, CodeTake::Taken(_)))
        .count();
    let replayed = got
        .iter()
        .filter(|g| matches!(g, CodeTake::Replayed(_)))
        .count();
    assert_eq!(
        taken, 1,
        "{PARALLEL} parallel takes: exactly one takes the code"
    );
    assert_eq!(replayed, PARALLEL - 1, "every other one sees a replay");
}
