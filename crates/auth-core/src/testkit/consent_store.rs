//! The [`ConsentStore`] contract: consents round-trip and are replaced, are kept per account and
//! client, can be revoked one by one, are listed by client, and go with their account.

use super::{now, stored_user};
use crate::ids::UserId;
use crate::oidc::{ClientId, Consent, Scopes};
use crate::ports::{ConsentStore, UserRepository};
use crate::testkit::deleted;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: the consents, and the accounts they belong to.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub consents: Arc<dyn ConsentStore>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + ConsentStore + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        consents: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules consent_store @all store);
}

fn client(id: &str) -> ClientId {
    ClientId::parse(id).expect("valid id")
}

fn consent(user: UserId, id: &str, scopes: &str, at: Timestamp) -> Consent {
    Consent {
        user_id: user,
        client_id: client(id),
        scopes: Scopes::parse(scopes).expect("known scopes"),
        granted_at: at,
    }
}

/// `get` returns what `grant` stored; a second grant for the same client replaces it.
pub async fn a_consent_round_trips_and_a_new_grant_replaces_it(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "consent").await;
    assert_eq!(
        s.consents.get(&user.id, &client("app")).await.unwrap(),
        None
    );
    let first = consent(user.id, "app", "openid email", t0);
    s.consents.grant(&first).await.unwrap();
    assert_eq!(
        s.consents.get(&user.id, &client("app")).await.unwrap(),
        Some(first),
        "get returns what grant stored"
    );
    let second = consent(
        user.id,
        "app",
        "openid profile offline_access",
        t0.plus(Duration::from_secs(5)),
    );
    s.consents.grant(&second).await.unwrap();
    assert_eq!(
        s.consents.get(&user.id, &client("app")).await.unwrap(),
        Some(second),
        "a new grant replaces the old one"
    );
}

/// A consent belongs to one account and one client.
pub async fn consents_are_kept_per_account_and_client(s: Store) {
    let t0 = now();
    let (ada, _) = stored_user(&*s.users, "consent-a").await;
    let (bob, _) = stored_user(&*s.users, "consent-b").await;
    s.consents
        .grant(&consent(ada.id, "app", "openid", t0))
        .await
        .unwrap();
    assert_eq!(
        s.consents.get(&bob.id, &client("app")).await.unwrap(),
        None,
        "another account has not consented"
    );
    assert_eq!(
        s.consents.get(&ada.id, &client("other")).await.unwrap(),
        None,
        "another client has no consent"
    );
}

/// Revoking forgets exactly one consent, and says whether there was one.
pub async fn revoke_forgets_one_consent(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "consent-r").await;
    s.consents
        .grant(&consent(user.id, "one", "openid", t0))
        .await
        .unwrap();
    s.consents
        .grant(&consent(user.id, "two", "openid", t0))
        .await
        .unwrap();
    assert!(s.consents.revoke(&user.id, &client("one")).await.unwrap());
    assert!(
        !s.consents.revoke(&user.id, &client("one")).await.unwrap(),
        "already gone"
    );
    assert_eq!(
        s.consents.get(&user.id, &client("one")).await.unwrap(),
        None
    );
    assert!(
        s.consents
            .get(&user.id, &client("two"))
            .await
            .unwrap()
            .is_some(),
        "the other consent stays"
    );
}

/// `list` shows the account's consents only, by client id.
pub async fn list_shows_an_accounts_consents_by_client(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "consent-l").await;
    let (other, _) = stored_user(&*s.users, "consent-o").await;
    let b = consent(user.id, "b-app", "openid email", t0);
    let a = consent(user.id, "a-app", "openid", t0);
    s.consents.grant(&b).await.unwrap();
    s.consents.grant(&a).await.unwrap();
    s.consents
        .grant(&consent(other.id, "c-app", "openid", t0))
        .await
        .unwrap();
    assert_eq!(s.consents.list(&user.id).await.unwrap(), vec![a, b]);
}

/// Deleting the account deletes its consents.
pub async fn consents_go_with_their_account(s: Store) {
    let t0 = now();
    let (user, _) = stored_user(&*s.users, "consent-d").await;
    s.consents
        .grant(&consent(user.id, "app", "openid", t0))
        .await
        .unwrap();
    s.users.delete(&user.id, &deleted(&user.id)).await.unwrap();
    assert_eq!(s.consents.list(&user.id).await.unwrap(), vec![]);
    assert_eq!(
        s.consents.get(&user.id, &client("app")).await.unwrap(),
        None
    );
}
