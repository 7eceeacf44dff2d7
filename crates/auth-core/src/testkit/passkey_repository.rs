//! The [`PasskeyRepository`] contract: listing per account, credential ids unique across
//! accounts (also under parallel adds), the sign counter that only moves forward (also under
//! parallel uses), renaming and deleting by the owner only, and passkeys gone with the account.

use super::{PARALLEL, in_parallel, now, sample_passkey, stored_user};
use crate::ids::{PasskeyId, UserId};
use crate::passkey::{Passkey, PasskeyName};
use crate::ports::{CredentialTakenOr, OsRng, PasskeyRepository, UserRepository};
use crate::testkit::{deleted, removed};
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: passkeys, and the accounts they belong to.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub passkeys: Arc<dyn PasskeyRepository>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + PasskeyRepository + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        passkeys: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules passkey_repository @all store);
}

/// A stored account.
async fn account(s: &Store) -> UserId {
    stored_user(&*s.users, "passkeys").await.0.id
}

/// A stored passkey of `user`.
async fn added(s: &Store, user: UserId) -> Passkey {
    let passkey = sample_passkey(user);
    s.passkeys
        .add(&passkey, &crate::testkit::added(&passkey))
        .await
        .unwrap();
    passkey
}

async fn by_credential(s: &Store, passkey: &Passkey) -> Passkey {
    s.passkeys
        .by_credential_id(&passkey.credential_id)
        .await
        .unwrap()
        .expect("the passkey is stored")
}

/// `list` returns what `add` stored for one account, oldest first; `by_credential_id` finds a
/// passkey by its credential id.
pub async fn list_returns_an_accounts_passkeys_oldest_first(s: Store) {
    let (user, other) = (account(&s).await, account(&s).await);
    let first = sample_passkey(user);
    let mut second = sample_passkey(user);
    second.created_at = first.created_at.plus(Duration::from_secs(1));
    s.passkeys
        .add(&first, &crate::testkit::added(&first))
        .await
        .unwrap();
    s.passkeys
        .add(&second, &crate::testkit::added(&second))
        .await
        .unwrap();
    assert_eq!(
        s.passkeys.list(&user).await.unwrap(),
        vec![first.clone(), second.clone()],
        "list returns what add stored, oldest first"
    );
    assert!(
        s.passkeys.list(&other).await.unwrap().is_empty(),
        "list shows one account's passkeys only"
    );
    assert_eq!(by_credential(&s, &first).await, first);
    assert_eq!(s.passkeys.by_credential_id(b"unknown").await.unwrap(), None);
}

/// A credential id is unique across all accounts.
pub async fn a_credential_id_is_unique_across_accounts(s: Store) {
    let (user, other) = (account(&s).await, account(&s).await);
    let first = added(&s, user).await;
    let mut stolen = sample_passkey(other);
    stolen.credential_id = first.credential_id.clone();
    assert!(
        matches!(
            s.passkeys
                .add(&stolen, &crate::testkit::added(&stolen))
                .await,
            Err(CredentialTakenOr::Taken)
        ),
        "a credential id is unique across accounts"
    );
}

/// [`PARALLEL`] adds at once of one credential id: exactly one is stored.
pub async fn parallel_adds_of_one_credential_have_one_winner(s: Store) {
    let other = account(&s).await;
    let shared = sample_passkey(other).credential_id;
    let results = in_parallel(|_| {
        let passkeys = s.passkeys.clone();
        let mut p = sample_passkey(other);
        p.credential_id = shared.clone();
        async move { passkeys.add(&p, &crate::testkit::added(&p)).await }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{PARALLEL} parallel adds of one credential: exactly one"
    );
}

/// `with_account` reads a passkey by its credential id together with its account; nothing for
/// an unknown credential id.
pub async fn with_account_reads_the_passkey_and_its_account(s: Store) {
    let (user, _) = stored_user(&*s.users, "passkeys").await;
    let passkey = added(&s, user.id).await;
    assert_eq!(
        s.passkeys
            .with_account(&passkey.credential_id)
            .await
            .unwrap(),
        Some((passkey, user)),
        "the passkey comes with its account"
    );
    assert_eq!(s.passkeys.with_account(b"unknown").await.unwrap(), None);
}

/// `record_use` stores the counter, the adapter's record, the backup state and the time of use;
/// of an unknown passkey it is false.
pub async fn record_use_stores_counter_record_and_backup_state(s: Store) {
    let first = added(&s, account(&s).await).await;
    let at = now().plus(Duration::from_secs(5));
    assert!(
        s.passkeys
            .record_use(&first.id, b"updated", 7, true, at)
            .await
            .unwrap()
    );
    let used = by_credential(&s, &first).await;
    assert_eq!(
        (
            used.sign_count,
            used.backed_up,
            used.last_used_at,
            used.credential.as_slice()
        ),
        (7, true, Some(at), &b"updated"[..])
    );
    assert!(
        !s.passkeys
            .record_use(&PasskeyId::random(&OsRng), b"x", 1, false, at)
            .await
            .unwrap()
    );
}

/// The counter only moves forward: an older sign-in that lands later changes no counter, record
/// or backup state, only the last use; and the last use never moves back.
pub async fn the_counter_only_moves_forward(s: Store) {
    let first = added(&s, account(&s).await).await;
    let at = now().plus(Duration::from_secs(5));
    assert!(
        s.passkeys
            .record_use(&first.id, b"updated", 7, true, at)
            .await
            .unwrap()
    );
    let later_at = at.plus(Duration::from_secs(5));
    assert!(
        s.passkeys
            .record_use(&first.id, b"stale", 5, false, later_at)
            .await
            .unwrap(),
        "an older counter still finds the passkey"
    );
    let kept = by_credential(&s, &first).await;
    assert_eq!(
        (
            kept.sign_count,
            kept.backed_up,
            kept.credential.as_slice(),
            kept.last_used_at
        ),
        (7, true, &b"updated"[..], Some(later_at)),
        "a counter below the stored one changes nothing but the last use"
    );
    assert!(
        s.passkeys
            .record_use(&first.id, b"zero", 0, false, at)
            .await
            .unwrap()
    );
    let kept = by_credential(&s, &first).await;
    assert_eq!(
        (
            kept.sign_count,
            kept.credential.as_slice(),
            kept.last_used_at
        ),
        (7, &b"updated"[..], Some(later_at)),
        "a zero after a count is backwards too, and the last use never moves back"
    );
}

/// Synced passkeys report 0 every time: a counter of 0 on a passkey at 0 is stored.
pub async fn a_synced_passkey_reporting_zero_is_stored(s: Store) {
    let zero = added(&s, account(&s).await).await;
    assert!(
        s.passkeys
            .record_use(&zero.id, b"synced", 0, true, now())
            .await
            .unwrap()
    );
    let synced = by_credential(&s, &zero).await;
    assert_eq!(
        (
            synced.sign_count,
            synced.backed_up,
            synced.credential.as_slice()
        ),
        (0, true, &b"synced"[..]),
        "a counter of 0 on a passkey at 0 is stored"
    );
}

/// [`PARALLEL`] sign-ins at once, landing in any order, leave the highest counter with its own
/// record.
pub async fn parallel_uses_leave_the_highest_counter(s: Store) {
    let racing = added(&s, account(&s).await).await;
    let at = now();
    let found = in_parallel(|i| {
        // Highest first, so a store that keeps the last write loses.
        let n = u32::try_from(PARALLEL - i).expect("a small count");
        let passkeys = s.passkeys.clone();
        let id = racing.id;
        async move {
            passkeys
                .record_use(&id, format!("record {n}").as_bytes(), n, false, at)
                .await
                .unwrap()
        }
    })
    .await;
    assert!(found.into_iter().all(|found| found));
    let raced = by_credential(&s, &racing).await;
    assert_eq!(
        (raced.sign_count, raced.credential),
        (PARALLEL as u32, format!("record {PARALLEL}").into_bytes()),
        "{PARALLEL} parallel uses leave the highest counter with its own record"
    );
}

/// Only the owner renames or deletes a passkey; deleting twice is false.
pub async fn rename_and_delete_touch_only_the_owners_passkeys(s: Store) {
    let (user, other) = (account(&s).await, account(&s).await);
    let first = added(&s, user).await;
    let mut second = sample_passkey(user);
    second.created_at = first.created_at.plus(Duration::from_secs(1));
    s.passkeys
        .add(&second, &crate::testkit::added(&second))
        .await
        .unwrap();
    let name = PasskeyName::parse("Work phone").unwrap();
    assert!(
        !s.passkeys.rename(&other, &first.id, &name).await.unwrap(),
        "cannot rename another account's passkey"
    );
    assert!(s.passkeys.rename(&user, &first.id, &name).await.unwrap());
    assert_eq!(s.passkeys.list(&user).await.unwrap()[0].name, name);
    assert!(
        !s.passkeys
            .delete(&other, &first.id, &removed(&other))
            .await
            .unwrap(),
        "cannot delete another account's passkey"
    );
    assert!(
        s.passkeys
            .delete(&user, &first.id, &removed(&user))
            .await
            .unwrap()
    );
    assert!(
        !s.passkeys
            .delete(&user, &first.id, &removed(&user))
            .await
            .unwrap(),
        "delete twice is false"
    );
    assert_eq!(s.passkeys.list(&user).await.unwrap(), vec![second]);
}

/// Deleting the account deletes its passkeys, and frees their credential ids.
pub async fn passkeys_go_with_their_account(s: Store) {
    let user = account(&s).await;
    let passkey = added(&s, user).await;
    s.users.delete(&user, &deleted(&user)).await.unwrap();
    assert_eq!(
        s.passkeys
            .by_credential_id(&passkey.credential_id)
            .await
            .unwrap(),
        None,
        "passkeys go with their account"
    );
}
