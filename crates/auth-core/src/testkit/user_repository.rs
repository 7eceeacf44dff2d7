//! The [`UserRepository`] contract: accounts, their unique address, profile, email changes with
//! their attempt epochs, the public listing and deletion.

use super::{
    PARALLEL, in_parallel, now, sample_session, sample_user, signed_up_event, stored_user,
    unique_email,
};
use crate::ids::UserId;
use crate::language::Language;
use crate::ports::{EmailTakenOr, OsRng, SessionRepository, UserRepository};
use crate::session::RefreshToken;
use crate::testkit::{deleted, moved};
use crate::user::DisplayName;
use std::sync::Arc;

/// What the rules of this port work on: accounts, and the sessions created with them.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// The port under test.
    pub users: Arc<dyn UserRepository>,
    /// Where the first session of an account goes.
    pub sessions: Arc<dyn SessionRepository>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + SessionRepository + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules user_repository @all store);
}

/// An account is created together with its first session, and found by id and address.
pub async fn create_stores_the_account_with_its_first_session(s: Store) {
    let (user, session) = stored_user(&*s.users, "users").await;
    assert_eq!(
        s.users.by_id(&user.id).await.unwrap(),
        Some(user.clone()),
        "by_id returns what create stored"
    );
    assert_eq!(
        s.users.by_email(&user.email).await.unwrap(),
        Some(user.clone()),
        "by_email finds the normalised address"
    );
    assert_eq!(
        s.sessions.get(&session.id).await.unwrap(),
        Some(session.clone()),
        "create stores the first session too"
    );
    assert_eq!(
        s.users.by_email(&unique_email("nobody")).await.unwrap(),
        None,
        "unknown address gives None"
    );
    assert_eq!(
        s.users.by_id(&UserId::random(&OsRng)).await.unwrap(),
        None,
        "unknown id gives None"
    );
}

/// A second account with a taken address is refused, and the refused create writes nothing.
pub async fn an_address_belongs_to_one_account(s: Store) {
    let (user, _) = stored_user(&*s.users, "users").await;
    let mut twin = sample_user("twin");
    twin.email = user.email.clone();
    let twin_session = sample_session(twin.id, now());
    let refused = s
        .users
        .create(
            &twin,
            &twin_session,
            &RefreshToken::generate(&OsRng).hash(),
            &signed_up_event(&twin),
        )
        .await;
    assert!(
        matches!(refused, Err(EmailTakenOr::Taken)),
        "a second account with the same address is refused"
    );
    assert_eq!(
        s.users.by_id(&twin.id).await.unwrap(),
        None,
        "a refused create leaves no user"
    );
    assert_eq!(
        s.sessions.get(&twin_session.id).await.unwrap(),
        None,
        "a refused create leaves no session"
    );
}

/// Parallel creates of one address: exactly one wins, the others see `Taken`.
pub async fn parallel_creates_of_one_address_have_one_winner(s: Store) {
    let email = unique_email("race");
    let results = in_parallel(|_| {
        let users = s.users.clone();
        let email = email.clone();
        async move {
            let mut u = sample_user("race");
            u.email = email;
            let session = sample_session(u.id, now());
            users
                .create(
                    &u,
                    &session,
                    &RefreshToken::generate(&OsRng).hash(),
                    &signed_up_event(&u),
                )
                .await
        }
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        won, 1,
        "{PARALLEL} parallel creates with one address: exactly one succeeds"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(EmailTakenOr::Taken))),
        "the losers see Taken"
    );
}

/// `update_profile` stores the name and the public flag; of nobody it is `None`.
pub async fn update_profile_stores_both_fields(s: Store) {
    let (user, _) = stored_user(&*s.users, "profile").await;
    let name = DisplayName::parse("Renamed").unwrap();
    let updated = s
        .users
        .update_profile(&user.id, &name, true, user.language)
        .await
        .unwrap()
        .expect("user exists");
    assert_eq!(
        (updated.display_name.as_str(), updated.public),
        ("Renamed", true),
        "update_profile stores both fields"
    );
    assert_eq!(
        s.users
            .update_profile(&UserId::random(&OsRng), &name, true, Language::En)
            .await
            .unwrap(),
        None,
        "update_profile of nobody is None"
    );
}

/// The language an account is created with is stored, and `update_profile` changes it (and
/// leaves it alone when it passes the same one).
pub async fn language_is_stored_and_updated(s: Store) {
    let mut user = sample_user("language");
    user.language = Language::De;
    let session = sample_session(user.id, user.created_at);
    s.users
        .create(
            &user,
            &session,
            &RefreshToken::generate(&OsRng).hash(),
            &signed_up_event(&user),
        )
        .await
        .unwrap();
    let stored = s
        .users
        .by_email(&user.email)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.language, Language::De, "create stores the language");
    let updated = s
        .users
        .update_profile(&user.id, &user.display_name, false, Language::En)
        .await
        .unwrap()
        .expect("user exists");
    assert_eq!(updated.language, Language::En, "update_profile returns it");
    let read = s.users.by_id(&user.id).await.unwrap().expect("stored");
    assert_eq!(read.language, Language::En, "update_profile stores it");
    assert_eq!(
        (read.display_name, read.public),
        (user.display_name, false),
        "the other fields stay"
    );
}

/// `change_email` to a free address moves the account there, frees the old address and starts a
/// new attempt epoch.
pub async fn change_email_moves_the_account_to_a_free_address(s: Store) {
    let (user, _) = stored_user(&*s.users, "mover").await;
    let fresh = unique_email("moved");
    let epoch = s
        .users
        .by_id(&user.id)
        .await
        .unwrap()
        .unwrap()
        .attempt_epoch;
    assert_eq!(epoch, 0, "a new account starts in epoch 0");
    assert!(
        s.users
            .change_email(&user.id, &fresh, &moved(&user.id))
            .await
            .unwrap(),
        "change_email to a free address works"
    );
    assert_eq!(
        s.users
            .by_id(&user.id)
            .await
            .unwrap()
            .unwrap()
            .attempt_epoch,
        1,
        "change_email starts a new attempt epoch"
    );
    assert_eq!(
        s.users.by_email(&fresh).await.unwrap().map(|u| u.id),
        Some(user.id),
        "the account is found at its new address"
    );
    assert_eq!(
        s.users.by_email(&user.email).await.unwrap(),
        None,
        "the old address is free"
    );
    assert!(
        !s.users
            .change_email(
                &UserId::random(&OsRng),
                &unique_email("x"),
                &moved(&UserId::random(&OsRng))
            )
            .await
            .unwrap(),
        "change_email of nobody is false"
    );
}

/// `change_email` to an address another account has is refused and writes nothing, not even a
/// new epoch.
pub async fn change_email_to_a_taken_address_changes_nothing(s: Store) {
    let (user, _) = stored_user(&*s.users, "mover").await;
    let other = stored_user(&*s.users, "other").await.0;
    assert!(
        matches!(
            s.users
                .change_email(&user.id, &other.email, &moved(&user.id))
                .await,
            Err(EmailTakenOr::Taken)
        ),
        "change_email to a taken address is refused"
    );
    assert_eq!(
        s.users.by_id(&user.id).await.unwrap().unwrap().email,
        user.email,
        "a refused change_email writes nothing"
    );
    let fresh = unique_email("moved");
    assert!(
        s.users
            .change_email(&user.id, &fresh, &moved(&user.id))
            .await
            .unwrap()
    );
    assert!(s.users.end_attempts(&user.id).await.unwrap());
    assert!(
        matches!(
            s.users
                .change_email(&user.id, &other.email, &moved(&user.id))
                .await,
            Err(EmailTakenOr::Taken)
        ) && s
            .users
            .by_id(&user.id)
            .await
            .unwrap()
            .unwrap()
            .attempt_epoch
            == 2,
        "a refused change_email leaves the epoch alone"
    );
}

/// `end_attempts` starts a new epoch of the account and changes nothing else; of nobody it is
/// false.
pub async fn end_attempts_starts_a_new_epoch_and_changes_nothing_else(s: Store) {
    let (user, _) = stored_user(&*s.users, "epochs").await;
    let fresh = unique_email("moved");
    assert!(
        s.users
            .change_email(&user.id, &fresh, &moved(&user.id))
            .await
            .unwrap()
    );
    assert!(
        s.users.end_attempts(&user.id).await.unwrap(),
        "end_attempts of an account is true"
    );
    let after = s.users.by_email(&fresh).await.unwrap().unwrap();
    assert_eq!(
        (after.attempt_epoch, after.email.clone()),
        (2, fresh.clone()),
        "end_attempts starts a new epoch and changes nothing else"
    );
    assert!(
        !s.users.end_attempts(&UserId::random(&OsRng)).await.unwrap(),
        "end_attempts of nobody is false"
    );
}

/// The public listing shows only public accounts, ordered by id, paged by cursor.
pub async fn list_public_pages_public_accounts_in_id_order(s: Store) {
    let (private, _) = stored_user(&*s.users, "private").await;
    let mut public = Vec::new();
    for _ in 0..5 {
        let (u, _) = stored_user(&*s.users, "pub").await;
        s.users
            .update_profile(&u.id, &u.display_name, true, u.language)
            .await
            .unwrap();
        public.push(u.id);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.users.list_public(cursor, 2).await.unwrap();
        assert!(page.len() <= 2, "list_public respects the limit");
        assert!(
            page.windows(2).all(|w| w[0].id < w[1].id),
            "list_public is ordered by id"
        );
        if let (Some(c), Some(first)) = (cursor, page.first()) {
            assert!(first.id > c, "list_public starts strictly after the cursor");
        }
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        seen.extend(page.iter().map(|p| p.id));
    }
    assert!(
        public.iter().all(|id| seen.contains(id)),
        "every public account appears in the listing"
    );
    assert!(
        !seen.contains(&private.id),
        "private accounts never appear in the listing"
    );
}

/// Deleting an account deletes its sessions; deleting it again is false.
pub async fn delete_takes_the_sessions_with_it(s: Store) {
    let (user, session) = stored_user(&*s.users, "deleted").await;
    assert!(
        s.users.delete(&user.id, &deleted(&user.id)).await.unwrap(),
        "delete of an existing account is true"
    );
    assert_eq!(
        s.users.by_id(&user.id).await.unwrap(),
        None,
        "a deleted account is gone"
    );
    assert_eq!(
        s.sessions.get(&session.id).await.unwrap(),
        None,
        "deleting an account deletes its sessions"
    );
    assert!(
        !s.users.delete(&user.id, &deleted(&user.id)).await.unwrap(),
        "delete of a missing account is false"
    );
}
