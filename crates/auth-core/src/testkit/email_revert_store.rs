//! The [`EmailRevertStore`] contract: links round-trip, work once (also under parallel takes),
//! expire, and go with their account.

use super::{PARALLEL, in_parallel, now, stored_user, unique_email};
use crate::ids::UserId;
use crate::ports::{EmailRevertStore, OsRng, UserRepository};
use crate::revert::{EmailRevert, RevertToken};
use crate::testkit::deleted;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: the links, and the accounts they belong to.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub reverts: Arc<dyn EmailRevertStore>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + EmailRevertStore + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        reverts: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules email_revert_store @all store);
}

/// A stored account, and how to make an undo link of it from a token at `t0`.
async fn account(s: &Store, t0: Timestamp) -> (UserId, impl Fn(&RevertToken) -> EmailRevert) {
    let (user, _) = stored_user(&*s.users, "revert").await;
    let link = move |token: &RevertToken| EmailRevert {
        token_hash: token.hash(),
        user_id: user.id,
        old_email: unique_email("old"),
        changed_at: t0,
        expires_at: t0.plus(Duration::from_secs(72 * 3600)),
    };
    (user.id, link)
}

/// `take` returns what `put` kept, once; an unknown token takes nothing.
pub async fn a_link_works_once(s: Store) {
    let t0 = now();
    let (_, link) = account(&s, t0).await;
    let token = RevertToken::generate(&OsRng);
    let kept = link(&token);
    s.reverts.put(&kept).await.unwrap();
    assert_eq!(
        s.reverts
            .take(&RevertToken::generate(&OsRng).hash(), t0)
            .await
            .unwrap(),
        None,
        "an unknown token takes nothing"
    );
    assert_eq!(
        s.reverts.take(&token.hash(), t0).await.unwrap(),
        Some(kept.clone()),
        "take returns what put kept"
    );
    assert_eq!(
        s.reverts.take(&token.hash(), t0).await.unwrap(),
        None,
        "a link works once"
    );
}

/// A link does not work at or after its expiry.
pub async fn a_link_does_not_work_at_or_after_its_expiry(s: Store) {
    let t0 = now();
    let (_, link) = account(&s, t0).await;
    let late = RevertToken::generate(&OsRng);
    let expiring = link(&late);
    s.reverts.put(&expiring).await.unwrap();
    assert_eq!(
        s.reverts
            .take(&late.hash(), expiring.expires_at)
            .await
            .unwrap(),
        None,
        "a link does not work at or after its expiry"
    );
}

/// Taking one link of an account leaves its others.
pub async fn links_of_one_account_are_independent(s: Store) {
    let t0 = now();
    let (_, link) = account(&s, t0).await;
    let (a, b) = (RevertToken::generate(&OsRng), RevertToken::generate(&OsRng));
    s.reverts.put(&link(&a)).await.unwrap();
    s.reverts.put(&link(&b)).await.unwrap();
    assert!(s.reverts.take(&a.hash(), t0).await.unwrap().is_some());
    assert!(
        s.reverts.take(&b.hash(), t0).await.unwrap().is_some(),
        "taking one link leaves the account's others"
    );
}

/// [`PARALLEL`] takes at once of one link: exactly one gets it.
pub async fn parallel_takes_of_one_link_have_one_winner(s: Store) {
    let t0 = now();
    let (_, link) = account(&s, t0).await;
    let par = RevertToken::generate(&OsRng);
    s.reverts.put(&link(&par)).await.unwrap();
    let got = in_parallel(|_| {
        let reverts = s.reverts.clone();
        let hash = par.hash();
        async move { reverts.take(&hash, t0).await.unwrap().is_some() }
    })
    .await
    .into_iter()
    .filter(|&g| g)
    .count();
    assert_eq!(
        got, 1,
        "{PARALLEL} parallel takes of one link: exactly one gets it"
    );
}

/// Deleting the account deletes its links.
pub async fn links_go_with_their_account(s: Store) {
    let t0 = now();
    let (user, link) = account(&s, t0).await;
    let gone = RevertToken::generate(&OsRng);
    s.reverts.put(&link(&gone)).await.unwrap();
    s.users.delete(&user, &deleted(&user)).await.unwrap();
    assert_eq!(
        s.reverts.take(&gone.hash(), t0).await.unwrap(),
        None,
        "deleting the account deletes its links"
    );
}
