//! The [`SessionRepository`] contract for opening sign-ins and the per-request read: a session
//! opens with its refresh token and its audit event, or with none of them; a passkey sign-in
//! records the use in the same write and opens nothing on a deleted passkey; a new account comes
//! with its sign-up event; the live session is read together with its account.

use super::{now, sample_passkey, sample_session, sign_in_event, stored_user};
use crate::audit::AuditKind;
use crate::ids::SessionId;
use crate::passkey::{CredentialUse, Passkey};
use crate::ports::{
    AuditEvent, AuditLog, EmailTakenOr, Lifetimes, OsRng, PasskeyRepository, SessionRepository,
    UserRepository,
};
use crate::session::{RefreshToken, Rotation, Session};
use crate::testkit::{added, deleted, removed};
use crate::time::Timestamp;
use crate::user::{DisplayName, User};
use std::sync::Arc;
use std::time::Duration;

/// What the rules work on: sessions, the accounts they belong to, their passkeys and activity.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub sessions: Arc<dyn SessionRepository>,
    /// Where passkeys are added.
    pub passkeys: Arc<dyn PasskeyRepository>,
    /// Where the sign-in events are read back.
    pub audit: Arc<dyn AuditLog>,
}

/// The rules' view of an adapter's store.
pub fn store<S>(s: S) -> Store
where
    S: UserRepository + SessionRepository + PasskeyRepository + AuditLog + Clone + 'static,
{
    Store {
        users: Arc::new(s.clone()),
        sessions: Arc::new(s.clone()),
        passkeys: Arc::new(s.clone()),
        audit: Arc::new(s),
    }
}

/// Every rule in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules session_opening @all store);
}

const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(3600),
    max: Duration::from_secs(7200),
    grace: Duration::ZERO,
};

fn fresh_token() -> RefreshToken {
    RefreshToken::generate(&OsRng)
}

/// A stored account and a session of it, not yet opened, with its token and sign-in event.
async fn sign_in(s: &Store) -> (User, Session, RefreshToken, AuditEvent) {
    let (user, _) = stored_user(&*s.users, "opening").await;
    let session = sample_session(user.id, now());
    let event = sign_in_event(&session, session.created_at);
    (user, session, fresh_token(), event)
}

/// The account's sign-in events (not the sign-up event its creation stored).
async fn events(s: &Store, user: &User) -> Vec<AuditEvent> {
    let mut all = s.audit.recent(&user.id, 100).await.unwrap();
    all.retain(|e| e.kind == AuditKind::SignedIn);
    all
}

async fn rotates(s: &Store, token: &RefreshToken, at: Timestamp) -> Option<SessionId> {
    match s
        .sessions
        .rotate(&token.hash(), &fresh_token().hash(), at, LIFE, &None)
        .await
        .unwrap()
    {
        Rotation::Rotated(session) => Some(session.id),
        _ => None,
    }
}

async fn stored_passkey(s: &Store, passkey: &Passkey) -> Passkey {
    s.passkeys
        .by_credential_id(&passkey.credential_id)
        .await
        .unwrap()
        .expect("the passkey is stored")
}

fn used(credential: &[u8], sign_count: u32) -> CredentialUse {
    CredentialUse {
        credential: credential.to_vec(),
        sign_count,
        backed_up: true,
    }
}

/// `open` stores the session, makes its token current and appends the sign-in event.
pub async fn open_stores_the_session_its_token_and_its_event(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    s.sessions
        .open(&session, &token.hash(), &event)
        .await
        .unwrap();
    assert_eq!(
        s.sessions.get(&session.id).await.unwrap(),
        Some(session.clone()),
        "the session is stored as given"
    );
    assert_eq!(
        events(&s, &user).await,
        [event],
        "the sign-in event is stored with it"
    );
    assert_eq!(
        rotates(&s, &token, session.created_at).await,
        Some(session.id),
        "its refresh token is current"
    );
}

/// An `open` that fails leaves nothing behind: not for an unknown account, and not when the
/// refresh token cannot be stored (its hash is taken) after the session could have been.
pub async fn an_open_that_fails_writes_nothing(s: Store) {
    let (user, first, token, event) = sign_in(&s).await;
    s.sessions
        .open(&first, &token.hash(), &event)
        .await
        .unwrap();

    let stranger = super::sample_user("stranger");
    let orphan = sample_session(stranger.id, now());
    assert!(
        !matches!(
            s.sessions
                .open(
                    &orphan,
                    &fresh_token().hash(),
                    &sign_in_event(&orphan, orphan.created_at)
                )
                .await,
            Ok(true)
        ),
        "a session of an unknown account does not open"
    );
    assert_eq!(s.sessions.get(&orphan.id).await.unwrap(), None);

    let second = sample_session(user.id, now());
    let reused_hash = s
        .sessions
        .open(
            &second,
            &token.hash(),
            &sign_in_event(&second, second.created_at),
        )
        .await;
    assert!(reused_hash.is_err(), "a refresh-token hash is stored once");
    assert_eq!(
        s.sessions.get(&second.id).await.unwrap(),
        None,
        "no session without its refresh token"
    );
    assert_eq!(
        events(&s, &user).await,
        [event],
        "no sign-in event without its session"
    );
    assert_eq!(
        rotates(&s, &token, first.created_at).await,
        Some(first.id),
        "the token still belongs to the first session"
    );
}

/// `open_with_passkey` records the use as `record_use` does and opens the session with its token
/// and its event.
pub async fn open_with_passkey_records_the_use_and_opens_the_session(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    let passkey = sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    assert!(
        s.sessions
            .open_with_passkey(
                &passkey.id,
                &used(b"after", 5),
                &session,
                &token.hash(),
                &event
            )
            .await
            .unwrap(),
        "a stored passkey opens the session"
    );
    let after = stored_passkey(&s, &passkey).await;
    assert_eq!(
        (
            after.sign_count,
            after.credential.as_slice(),
            after.backed_up
        ),
        (5, b"after".as_slice(), true),
        "the use is recorded"
    );
    assert_eq!(after.last_used_at, Some(session.created_at));
    assert_eq!(
        s.sessions.get(&session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(events(&s, &user).await, [event]);
    assert_eq!(
        rotates(&s, &token, session.created_at).await,
        Some(session.id)
    );
}

/// `open_with_passkey` moves the counter only forward, like `record_use`; the session opens all
/// the same (judging the counter is the relying party's job).
pub async fn open_with_passkey_never_moves_the_counter_back(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    let passkey = sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    let at = now();
    assert!(
        s.passkeys
            .record_use(&passkey.id, b"seven", 7, false, at)
            .await
            .unwrap()
    );
    assert!(
        s.sessions
            .open_with_passkey(
                &passkey.id,
                &used(b"five", 5),
                &session,
                &token.hash(),
                &event
            )
            .await
            .unwrap()
    );
    let after = stored_passkey(&s, &passkey).await;
    assert_eq!(
        (
            after.sign_count,
            after.credential.as_slice(),
            after.backed_up
        ),
        (7, b"seven".as_slice(), false),
        "a lower counter changes neither the counter nor the record"
    );
    assert!(s.sessions.get(&session.id).await.unwrap().is_some());
}

/// A passkey deleted before the sign-in completes opens nothing.
pub async fn open_with_a_deleted_passkey_opens_nothing(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    let passkey = sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    assert!(
        s.passkeys
            .delete(&user.id, &passkey.id, &removed(&user.id))
            .await
            .unwrap()
    );
    assert!(
        !s.sessions
            .open_with_passkey(
                &passkey.id,
                &used(b"after", 5),
                &session,
                &token.hash(),
                &event
            )
            .await
            .unwrap(),
        "a deleted passkey opens nothing"
    );
    assert_eq!(s.sessions.get(&session.id).await.unwrap(), None);
    assert_eq!(events(&s, &user).await, []);
    assert_eq!(rotates(&s, &token, session.created_at).await, None);
}

/// An `open_with_passkey` that fails after the use could have been recorded leaves nothing
/// behind: the counter, the record and the last use stay as they were.
pub async fn an_open_with_passkey_that_fails_writes_nothing(s: Store) {
    let (user, first, token, event) = sign_in(&s).await;
    s.sessions
        .open(&first, &token.hash(), &event)
        .await
        .unwrap();
    let passkey = sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    let second = sample_session(user.id, now());
    let failed = s
        .sessions
        .open_with_passkey(
            &passkey.id,
            &used(b"after", 5),
            &second,
            &token.hash(),
            &sign_in_event(&second, second.created_at),
        )
        .await;
    assert!(failed.is_err(), "a refresh-token hash is stored once");
    assert_eq!(
        stored_passkey(&s, &passkey).await,
        passkey,
        "the use is not recorded"
    );
    assert_eq!(s.sessions.get(&second.id).await.unwrap(), None);
    assert_eq!(events(&s, &user).await, [event]);
}

/// `active_with_user` reads a live session with its account as it is now.
pub async fn active_with_user_reads_a_live_session_and_its_account(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    s.sessions
        .open(&session, &token.hash(), &event)
        .await
        .unwrap();
    assert_eq!(
        s.sessions
            .active_with_user(&session.id, session.created_at)
            .await
            .unwrap(),
        Some((session.clone(), user.clone())),
        "a live session comes with its account"
    );
    let name = DisplayName::parse("Renamed Tester").unwrap();
    let renamed = s
        .users
        .update_profile(&user.id, &name, true, user.language)
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(
        s.sessions
            .active_with_user(&session.id, session.created_at)
            .await
            .unwrap()
            .map(|(_, u)| u),
        Some(renamed),
        "the account as it is now"
    );
}

/// `active_with_user` answers nothing for a revoked, expired or unknown session, or one whose
/// account is gone.
pub async fn active_with_user_sees_no_ended_session(s: Store) {
    let (user, session, token, event) = sign_in(&s).await;
    s.sessions
        .open(&session, &token.hash(), &event)
        .await
        .unwrap();
    let read = |at: Timestamp, id: SessionId| {
        let sessions = s.sessions.clone();
        async move { sessions.active_with_user(&id, at).await.unwrap() }
    };
    assert_eq!(
        read(session.expires_at, session.id).await,
        None,
        "expired at its expiry"
    );
    assert_eq!(
        read(now(), SessionId::random(&OsRng)).await,
        None,
        "unknown"
    );
    let other = sample_session(user.id, now());
    s.sessions
        .open(
            &other,
            &fresh_token().hash(),
            &sign_in_event(&other, other.created_at),
        )
        .await
        .unwrap();
    assert!(s.sessions.revoke(&user.id, &other.id, now()).await.unwrap());
    assert_eq!(read(now(), other.id).await, None, "revoked");
    assert!(read(session.created_at, session.id).await.is_some());
    assert!(s.users.delete(&user.id, &deleted(&user.id)).await.unwrap());
    assert_eq!(
        read(session.created_at, session.id).await,
        None,
        "the account is gone"
    );
}

/// `UserRepository::create` stores the account's sign-up event with the account and its first
/// session; a create refused for a taken address stores none of them.
pub async fn an_account_is_created_with_its_sign_up_event(s: Store) {
    let user = super::sample_user("signup");
    let session = sample_session(user.id, now());
    let event = AuditEvent {
        user_id: user.id,
        at: session.created_at,
        kind: AuditKind::SignedUp,
        ip: Some("192.0.2.1".to_owned()),
        detail: None,
    };
    s.users
        .create(&user, &session, &fresh_token().hash(), &event)
        .await
        .unwrap();
    assert_eq!(
        s.audit.recent(&user.id, 100).await.unwrap(),
        [event],
        "the sign-up event comes with the account"
    );

    let mut twin = super::sample_user("signup");
    twin.email = user.email.clone();
    let twin_session = sample_session(twin.id, now());
    let twin_event = AuditEvent {
        user_id: twin.id,
        ..super::signed_up_event(&twin)
    };
    let refused = s
        .users
        .create(&twin, &twin_session, &fresh_token().hash(), &twin_event)
        .await;
    assert!(matches!(refused, Err(EmailTakenOr::Taken)), "{refused:?}");
    assert_eq!(
        s.audit.recent(&twin.id, 100).await.unwrap(),
        [],
        "no event for a refused account"
    );
    assert_eq!(s.sessions.get(&twin_session.id).await.unwrap(), None);
}
