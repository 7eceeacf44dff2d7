//! The replay race: a replayed code that arrives while the first exchange is still opening its
//! session finds nothing to revoke; the exchange sees the remembered replay once its session is
//! open, ends it and hands out no token.

use super::*;
use async_trait::async_trait;
use auth_core::oidc::{CodeTake, StoredCode};
use auth_core::ports::{AuthorizationCodeStore, StoreError};
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;

/// The memory store, with a second presentation of every code slipped in right after the first
/// one takes it: the replay arrives before the first exchange has opened its session.
struct ReplayedInBetween(auth_memory::MemoryStore);

#[async_trait]
impl AuthorizationCodeStore for ReplayedInBetween {
    async fn put(&self, code: &StoredCode) -> Result<(), StoreError> {
        self.0.put(code).await
    }

    async fn take(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeTake, StoreError> {
        let first = self.0.take(hash, now).await?;
        if matches!(first, CodeTake::Taken(_)) {
            assert!(matches!(
                self.0.take(hash, now).await?,
                CodeTake::Replayed(_)
            ));
        }
        Ok(first)
    }

    async fn replayed(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        self.0.replayed(hash).await
    }
}

#[tokio::test]
async fn a_replay_during_the_exchange_ends_the_session_it_opens_and_no_token_leaves() {
    let plain = provider();
    let store = Arc::new(plain.w.store.clone());
    let signer = IdTokens::new("https://auth.test", &SigningKey::generate(&OsRng), None)
        .unwrap()
        .with_clock(plain.w.clock.clone());
    let registry = Registry::new(vec![registered("spa", ClientKind::Public, true)]).unwrap();
    let racing = Op {
        op: OidcProvider::new(
            plain.w.service.clone(),
            registry,
            Arc::new(ReplayedInBetween(plain.w.store.clone())),
            store,
            Arc::new(signer),
            "https://auth.test",
        ),
        w: plain.w,
    };
    let who = user(&racing, "race@example.test").await;
    let code = code_for(&racing, &who, &request(&racing, "spa", &[])).await;
    assert_eq!(
        grant_error(
            racing
                .op
                .token("spa", None, exchange(&code, Some(VERIFIER)), &client())
                .await
        ),
        OAuthError::InvalidGrant
    );
    let sessions = racing.w.service.sessions(&who).await.unwrap();
    assert!(
        sessions.iter().all(|s| s.client.is_none()),
        "the app's session was ended: {sessions:?}"
    );
    assert!(
        sessions.iter().any(|s| s.id == who.session_id),
        "our own session stays"
    );
}
