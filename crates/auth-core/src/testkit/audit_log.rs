//! The [`AuditLog`] contract: recent events newest first, per account, gone with the account.

use super::{now, stored_user};
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::ports::{AuditEvent, AuditLog, OsRng, UserRepository};
use crate::testkit::deleted;
use std::sync::Arc;
use std::time::Duration;

/// What the rules of this port work on: the log, and the accounts its events belong to.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the ports are trait objects, without Debug
pub struct Store {
    /// Where the accounts are made.
    pub users: Arc<dyn UserRepository>,
    /// The port under test.
    pub audit: Arc<dyn AuditLog>,
}

/// The rules' view of an adapter's store.
pub fn store<S: UserRepository + AuditLog + Clone + 'static>(s: S) -> Store {
    Store {
        users: Arc::new(s.clone()),
        audit: Arc::new(s),
    }
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules audit_log @all store);
}

/// A stored account with five events, one second apart, of the first five kinds.
async fn account_with_history(s: &Store) -> UserId {
    let (user, _) = stored_user(&*s.users, "audit").await;
    let t0 = now();
    for i in 0..5u64 {
        let event = AuditEvent {
            user_id: user.id,
            at: t0.plus(Duration::from_secs(i)),
            kind: AuditKind::ALL[i as usize],
            ip: Some("192.0.2.7".to_owned()),
            detail: (i % 2 == 0).then(|| "detail".to_owned()),
        };
        s.audit.record(&event).await.unwrap();
    }
    user.id
}

/// `recent` is newest first, limited, keeps detail and address, and shows one account only.
pub async fn recent_is_newest_first_and_limited(s: Store) {
    let user = account_with_history(&s).await;
    let recent = s.audit.recent(&user, 3).await.unwrap();
    let kinds: Vec<AuditKind> = recent.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AuditKind::ALL[4], AuditKind::ALL[3], AuditKind::ALL[2]],
        "recent is newest first and limited"
    );
    assert_eq!(recent[0].detail.as_deref(), Some("detail"));
    assert_eq!(recent[1].detail, None);
    assert_eq!(recent[0].ip.as_deref(), Some("192.0.2.7"));
    assert!(
        s.audit
            .recent(&UserId::random(&OsRng), 10)
            .await
            .unwrap()
            .is_empty(),
        "another account has no events"
    );
}

/// Deleting the account deletes its history.
pub async fn deleting_the_account_deletes_its_history(s: Store) {
    let user = account_with_history(&s).await;
    s.users.delete(&user, &deleted(&user)).await.unwrap();
    assert!(
        s.audit.recent(&user, 10).await.unwrap().is_empty(),
        "deleting the account deletes its history"
    );
}
