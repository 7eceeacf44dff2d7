//! [`AuthorizationCodeStore`] on Redis: each code is one hash under `P:code:{hash(code hash)}`,
//! written with its TTL in one `MULTI`, and presented by one script that takes it once and
//! remembers that it was taken, so that a replay is told apart from an unknown code.

use crate::RedisStore;
use crate::errors::unexpected;
use crate::span_ms;
use async_trait::async_trait;
use auth_core::oidc::{CODE_REPLAY_MEMORY, CODE_TTL, CodeGrant, CodeTake, StoredCode};
use auth_core::ports::{AuthorizationCodeStore, StoreError};
use auth_core::session::TokenHash;
use auth_core::time::Timestamp;
use redis::Value;

fn grant_of(bytes: &[u8]) -> Result<CodeGrant, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt("a code's grant".to_owned()))
}

#[async_trait]
impl AuthorizationCodeStore for RedisStore {
    async fn put(&self, code: &StoredCode) -> Result<(), StoreError> {
        let grant = serde_json::to_string(&code.grant)
            .map_err(|e| StoreError::Corrupt(format!("grant not serialisable: {e}")))?;
        let key = self.inner.keys.code(&code.hash);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("grant")
            .arg(grant)
            .arg("expires_at")
            .arg(code.grant.expires_at.as_millis())
            .ignore()
            // Kept past its expiry for the replay memory, then Redis forgets it.
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(span_ms(CODE_TTL + CODE_REPLAY_MEMORY))
            .ignore();
        self.send(|mut conn| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<Value>(&mut conn).await }
        })
        .await?;
        Ok(())
    }

    async fn take(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeTake, StoreError> {
        let mut invocation = self.inner.scripts.code_take.prepare_invoke();
        invocation
            .key(self.inner.keys.code(hash))
            .arg(now.as_millis());
        match self.eval(&invocation).await? {
            Value::Array(items) => match items.as_slice() {
                [Value::Int(0)] => Ok(CodeTake::Invalid),
                [Value::Int(1), Value::BulkString(g)] => Ok(CodeTake::Taken(grant_of(g)?)),
                [Value::Int(2), Value::BulkString(g)] => Ok(CodeTake::Replayed(grant_of(g)?)),
                _ => Err(StoreError::Corrupt(
                    "code_take answered an unknown shape".to_owned(),
                )),
            },
            other => Err(unexpected("code_take", &other)),
        }
    }

    async fn replayed(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let key = self.inner.keys.code(hash);
        let mut cmd = redis::cmd("HEXISTS");
        cmd.arg(&key).arg("replayed");
        let answer: Value = self
            .send(|mut conn| {
                let cmd = cmd.clone();
                async move { cmd.query_async::<Value>(&mut conn).await }
            })
            .await?;
        match answer {
            Value::Int(n) => Ok(n == 1),
            other => Err(unexpected("HEXISTS", &other)),
        }
    }
}
