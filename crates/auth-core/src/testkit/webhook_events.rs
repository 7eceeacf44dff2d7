//! [`ChooseWebhookEvents`]: a store told to write only some webhook event types writes only
//! those to its outbox, and still every activity row. The rules run on the [`outbox`](super::outbox)
//! ports of a store made to write only [`CHOSEN`].

use super::outbox::{Store, drain, sign_in_and_reuse};
use super::{added, stored_user};
use crate::outbox::{ChooseWebhookEvents, WebhookEvents};
use crate::passkey::Passkey;
use crate::ports::{
    AuditLog, Channel, Outbox, PasskeyRepository, SessionRepository, UserRepository,
};

/// The event types the rules' store writes.
pub const CHOSEN: &[&str] = &["passkey_added"];

/// The rules' view of an adapter's store, made to write only the [`CHOSEN`] events.
pub fn store<S>(s: S) -> Store
where
    S: UserRepository
        + SessionRepository
        + PasskeyRepository
        + AuditLog
        + Outbox
        + ChooseWebhookEvents
        + Clone
        + 'static,
{
    super::outbox::store(s.with_webhook_events(WebhookEvents::only(CHOSEN.iter().copied())))
}

/// Every rule of this port in turn, on one store.
pub async fn all(store: Store) {
    crate::contract_tests!(@rules webhook_events @all store);
}

/// A store made to write only the [`CHOSEN`] events writes only those to the outbox: not the
/// sign-up, the sign-in or the reuse (whose one-statement writes have their own path on some
/// stores), while every change still writes its activity row.
pub async fn only_the_chosen_event_types_are_written(s: Store) {
    let (user, _) = stored_user(&*s.users, "outbox-chosen").await;
    let passkey: Passkey = super::sample_passkey(user.id);
    s.passkeys.add(&passkey, &added(&passkey)).await.unwrap();
    let (_, later) = sign_in_and_reuse(&s, user.id, &None).await;
    let mut activity: Vec<&str> = s
        .audit
        .recent(&user.id, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    activity.sort_unstable();
    assert_eq!(
        activity,
        [
            "passkey_added",
            "refresh_token_reused",
            "signed_in",
            "signed_up"
        ],
        "every change's activity row"
    );
    let events = drain(&s, later).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, CHOSEN, "only the chosen events");
    assert_eq!(s.outbox.pending(Channel::Webhooks).await.unwrap(), 0);
}
