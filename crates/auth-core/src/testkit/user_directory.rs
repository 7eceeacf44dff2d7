//! The [`UserDirectory`] contract: accounts listed in id order page by page, filtered by a text
//! in the address or the display name (ignoring ASCII case), and the live sessions and passkeys
//! of an account counted.

use super::{now, sample_passkey, sample_session, sample_user, sign_in_event, signed_up_event};
use crate::ports::{OsRng, PasskeyRepository, SessionRepository, UserDirectory, UserRepository};
use crate::session::RefreshToken;
use crate::user::{DisplayName, User};
use std::sync::Arc;
use std::time::Duration;

/// What the rules work on: the directory and the stores that fill it.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// The port under test.
    pub directory: Arc<dyn UserDirectory>,
    /// Where accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// Where sessions are opened and ended.
    pub sessions: Arc<dyn SessionRepository>,
    /// Where passkeys are added.
    pub passkeys: Arc<dyn PasskeyRepository>,
}

/// The rules' view of an adapter's store.
pub fn store<S>(s: S) -> Store
where
    S: UserDirectory + UserRepository + SessionRepository + PasskeyRepository + Clone + 'static,
{
    Store {
        directory: Arc::new(s.clone()),
        users: Arc::new(s.clone()),
        sessions: Arc::new(s.clone()),
        passkeys: Arc::new(s),
    }
}

/// Every rule in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules user_directory @all store);
}

async fn stored(s: &Store, user: &User) {
    let session = sample_session(user.id, now());
    s.users
        .create(
            user,
            &session,
            &RefreshToken::generate(&OsRng).hash(),
            &signed_up_event(user),
        )
        .await
        .expect("a fresh account is created");
}

/// A text that only this rule's accounts carry, so rules may share a store.
fn marker() -> String {
    format!(
        "mk{}",
        &crate::ids::UserId::random(&OsRng)
            .as_uuid()
            .simple()
            .to_string()[..12]
    )
}

/// `list_users` pages through the accounts a query matches, in id order, and a query matches the
/// address or the display name ignoring ASCII case.
pub async fn list_users_pages_matching_accounts_in_id_order(s: Store) {
    let mark = marker();
    let mut by_address = Vec::new();
    for i in 0..5 {
        let mut user = sample_user(&format!("{mark}-{i}"));
        user.display_name = DisplayName::parse(&format!("Person {i}")).unwrap();
        stored(&s, &user).await;
        by_address.push(user);
    }
    let mut by_name = sample_user("dir-name");
    by_name.display_name = DisplayName::parse(&format!("Ada {}", mark.to_uppercase())).unwrap();
    stored(&s, &by_name).await;
    let mut expected: Vec<User> = by_address.iter().cloned().chain([by_name]).collect();
    expected.sort_by_key(|u| u.id);

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s.directory.list_users(&mark, after, 4).await.unwrap();
        assert!(page.len() <= 4, "a page holds at most the limit");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        pages.extend(page);
    }
    assert_eq!(pages, expected, "every match once, in id order, as stored");

    let upper = s
        .directory
        .list_users(&mark.to_uppercase(), None, 100)
        .await
        .unwrap();
    assert_eq!(upper.len(), 6, "the query ignores ASCII case");
    let none = s
        .directory
        .list_users(&format!("{mark}-nobody"), None, 100)
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "a query that matches nothing lists nothing"
    );
    let unfiltered = s.directory.list_users("", None, 2).await.unwrap();
    assert_eq!(
        unfiltered.len(),
        2,
        "no query lists any account, up to the limit"
    );
    assert!(unfiltered[0].id < unfiltered[1].id);
}

/// A query's `%`, `_` and `\` are plain characters, not patterns.
pub async fn a_query_is_text_not_a_pattern(s: Store) {
    let mark = marker();
    let mut user = sample_user(&mark);
    user.display_name = DisplayName::parse("Plain Name").unwrap();
    stored(&s, &user).await;
    for pattern in ["%", "_", "\\", &format!("{mark}%")] {
        let found = s.directory.list_users(pattern, None, 100).await.unwrap();
        assert!(
            !found.iter().any(|u| u.id == user.id),
            "{pattern:?} is no wildcard"
        );
    }
}

/// `counts` counts the sessions active at `now` and the passkeys of the account.
pub async fn counts_count_live_sessions_and_passkeys(s: Store) {
    let user = sample_user("dir-counts");
    stored(&s, &user).await;
    let at = now();
    for _ in 0..2 {
        let session = sample_session(user.id, at);
        s.sessions
            .open(
                &session,
                &RefreshToken::generate(&OsRng).hash(),
                &sign_in_event(&session, at),
            )
            .await
            .unwrap();
    }
    let ended = sample_session(user.id, at);
    s.sessions
        .open(
            &ended,
            &RefreshToken::generate(&OsRng).hash(),
            &sign_in_event(&ended, at),
        )
        .await
        .unwrap();
    s.sessions.revoke(&user.id, &ended.id, at).await.unwrap();
    let passkey = sample_passkey(user.id);
    s.passkeys
        .add(&passkey, &crate::testkit::added(&passkey))
        .await
        .unwrap();
    let counts = s.directory.counts(&user.id, at).await.unwrap();
    assert_eq!(counts.active_sessions, 3, "the first session and two more");
    assert_eq!(counts.passkeys, 1);
    let later = s
        .directory
        .counts(&user.id, at.plus(Duration::from_secs(7200)))
        .await
        .unwrap();
    assert_eq!(later.active_sessions, 0, "expired sessions do not count");
    let stranger = s
        .directory
        .counts(&crate::ids::UserId::random(&OsRng), at)
        .await
        .unwrap();
    assert_eq!(stranger, Default::default());
}

/// `search_events` selects across accounts by account, kind and a half-open time range, newest
/// first and at most `limit`.
pub async fn search_events_filters_by_account_kind_and_time(s: Store) {
    use crate::audit::AuditKind;
    use crate::ports::{AuditEvent, AuditQuery};
    let (a, b) = (sample_user("dir-audit-a"), sample_user("dir-audit-b"));
    stored(&s, &a).await;
    stored(&s, &b).await;
    // Far in the past, so that other rules' events (all near now) never fall in the range.
    let base = crate::time::Timestamp::from_millis(1_000_000_000_000 + i64::from(rand_ms()));
    let at = |i: u64| base.plus(Duration::from_secs(i));
    for (user, i, kind) in [
        (&a, 1, AuditKind::AccountDisabled),
        (&a, 2, AuditKind::AccountEnabled),
        (&b, 3, AuditKind::AccountDisabled),
        (&a, 4, AuditKind::AccountDisabled),
    ] {
        let event = AuditEvent {
            user_id: user.id,
            at: at(i),
            kind,
            ip: None,
            detail: Some(format!("by test {i}")),
        };
        let session = sample_session(user.id, at(i));
        // Recorded with a sign-in, the one write every store makes with an event of any time.
        s.sessions
            .open(&session, &RefreshToken::generate(&OsRng).hash(), &event)
            .await
            .unwrap();
    }
    let range = AuditQuery {
        from: Some(at(1)),
        until: Some(at(5)),
        ..AuditQuery::default()
    };
    let details = |events: Vec<AuditEvent>| -> Vec<String> {
        events.into_iter().filter_map(|e| e.detail).collect()
    };
    let all = s.directory.search_events(&range, 100).await.unwrap();
    assert_eq!(
        details(all),
        ["by test 4", "by test 3", "by test 2", "by test 1"],
        "every account's events in the range, newest first"
    );
    let of_a = AuditQuery {
        user: Some(a.id),
        kind: Some(AuditKind::AccountDisabled),
        ..range
    };
    assert_eq!(
        details(s.directory.search_events(&of_a, 100).await.unwrap()),
        ["by test 4", "by test 1"],
        "one account, one kind"
    );
    let older = AuditQuery {
        until: Some(at(3)),
        ..range
    };
    assert_eq!(
        details(s.directory.search_events(&older, 1).await.unwrap()),
        ["by test 2"],
        "until is exclusive, and the limit holds"
    );
}

/// A few random milliseconds, so that parallel runs of the rule on one store use apart ranges.
fn rand_ms() -> u32 {
    let mut b = [0u8; 4];
    crate::ports::Rng::fill(&OsRng, &mut b);
    u32::from_le_bytes(b) % 1_000_000_000
}
