//! The use cases put their webhook events in the outbox with the change they report: sign-up,
//! sign-in, an email change and its undo (with the passkeys the undo removes), refresh-token
//! reuse and the deletion of the account, whose event outlives it.

mod common;

use auth_core::ports::{Channel, Clock, Outbox, OutboxEntry, PasskeyRepository};
use auth_core::testkit;
use common::*;
use std::time::Duration;

/// Every event in the outbox, in the order a dispatcher gets them.
async fn drained(w: &World) -> Vec<OutboxEntry> {
    let mut out = Vec::new();
    let at = w.clock.now().plus(Duration::from_secs(3600));
    loop {
        let claimed = w
            .store
            .claim(Channel::Webhooks, at, Duration::from_secs(30), 100)
            .await
            .unwrap();
        if claimed.is_empty() {
            return out;
        }
        for entry in claimed {
            assert!(w.store.settle(&entry).await.unwrap());
            out.push(entry);
        }
    }
}

fn kinds(entries: &[OutboxEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn the_use_cases_write_their_webhook_events() {
    let mut policy = relaxed();
    policy.refresh_grace = Duration::ZERO;
    let w = world(policy);
    let first = signed_up(&w, "outbox@example.com").await;
    let who = principal(&w, &first.access_token).await;
    // A passkey added just now goes with the undo of the email change.
    let mut passkey = testkit::sample_passkey(who.user_id);
    passkey.created_at = w.clock.now();
    w.store
        .add(&passkey, &testkit::added(&passkey))
        .await
        .unwrap();
    let token = change_email(&w, &who, "moved@example.com").await;
    w.service
        .revert_email_change(&token, &client())
        .await
        .unwrap();

    let again = signed_up(&w, "outbox@example.com").await;
    let old = again.refresh_token.expose().to_owned();
    w.service.refresh(&old, &client()).await.unwrap();
    assert!(w.service.refresh(&old, &client()).await.is_err());
    // The reuse ended that session: sign in anew to delete the account.
    let last = signed_up(&w, "outbox@example.com").await;
    let who = principal(&w, &last.access_token).await;
    w.service.delete_account(&who, &client()).await.unwrap();

    let events = drained(&w).await;
    assert_eq!(
        kinds(&events),
        [
            "account_created",
            "passkey_added",
            "email_changed",
            "email_changed",
            "passkey_removed",
            "signed_in",
            "refresh_token_reused",
            "signed_in",
            "account_deleted",
        ]
    );
    assert!(events.iter().all(|e| e.user_id == first.user.id));
    let back: serde_json::Value = serde_json::from_str(&events[3].payload).unwrap();
    assert!(
        back["change"]
            .as_str()
            .unwrap()
            .contains("by the undo link"),
        "{back}"
    );
    let ip: serde_json::Value = serde_json::from_str(&events[6].payload).unwrap();
    assert_eq!(
        ip["ip"], "198.51.100.7",
        "the reuse names the client that presented the token"
    );
}
