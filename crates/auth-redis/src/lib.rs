//! The Redis adapter: the ephemeral state that every server node shares — email-code attempts,
//! rate limits and failure counters, passkey ceremony state, and OpenID Connect authorization
//! codes.
//!
//! [`RedisStore`] implements [`AttemptStore`](auth_core::ports::AttemptStore),
//! [`RateLimiter`](auth_core::ports::RateLimiter), [`AttemptGate`](auth_core::ports::AttemptGate),
//! [`CeremonyStore`], [`AuthorizationCodeStore`](auth_core::ports::AuthorizationCodeStore) and
//! [`HealthCheck`] over one auto-reconnecting multiplexed connection. Every
//! operation that reads and then writes is a single Lua script, so it is atomic however many
//! nodes call it at once, and every step of an email code is one script, so one round trip: a
//! start takes all its send limits and stores its attempt in one; a verify is two, the same for a
//! right and a wrong code (the client network's guess limit and the attempt; then the failure
//! budget, the guess, and the consumption or the counted failure). The code is compared in Rust,
//! in constant time, between the two. The scripts share the functions of `lua/lib.lua`, which is
//! put in front of each of them. Times always come from
//! the caller's `now` (never from the Redis clock), so Redis behaves exactly like the other stores
//! and the contract suites; for the same reason TTLs are set relative to `now` (`PX`, `PEXPIRE`)
//! rather than as instants on the Redis clock, which need not agree with the nodes' clocks.
//!
//! # Keys
//!
//! Every key starts with the prefix given to [`RedisStore::connect`] (`P` below). Personal data
//! never appears in a key name: addresses, limiter keys (which may hold IP addresses) and ceremony
//! ids appear only as `hash(...)`, the first 128 bits of their SHA-256 in hex. Every key has a TTL.
//!
//! | key | type | TTL | holds |
//! |---|---|---|---|
//! | `P:attempt:{P}:<id>` | hash | `expires_at - created_at` + 1 h | one attempt: `purpose`, `email`, `subject` (`account`, `new_account` or `decoy`), `user_id` or `display_name`, `code_hash` (hex), `created_at` and `expires_at` (ms since the epoch), `guesses`, `state`, `account_epoch` |
//! | `P:rate:{P}:<hash(key)>` | string | `TAT - now` | the GCRA theoretical arrival time of a limiter key (microseconds since the epoch) |
//! | `P:failures:{P}:<hash(key)>` | hash | `window_ends - now` | `count`, `last_at` and `window_ends` (ms since the epoch) of a failure key |
//! | `P:ceremony:{hash(id)}` | string | given to [`RedisStore::put_ceremony`] | the expiry instant (8 bytes, big-endian ms since the epoch), then the opaque ceremony state; read once |
//! | `P:code:{hash(code hash)}` | hash | the code's 60 s + 10 min of replay memory | an authorization code: `grant` (JSON), `expires_at`, and `used_at` once taken |
//!
//! The 1 h grace (the core's `auth_core::attempt::ATTEMPT_GRACE`) keeps an attempt readable (in
//! whatever state) for a while after it expires; it can no longer take guesses or be consumed then.
//!
//! # Redis Cluster
//!
//! Redis Cluster hashes only the part of a key inside the first `{...}`, so all keys one script
//! touches must carry the same such hash tag. A start's script takes every send limit, among them
//! the global budget that every start shares, and writes the attempt; a guess's scripts take the
//! client network's guess limit and the failures of an address with the attempt. Keys that any one
//! step touches together therefore cannot be spread over slots, so every attempt, GCRA and failure
//! key carries one tag, the prefix: `{P}`. On a Cluster they all live on one shard (with its
//! replicas), which one primary serves easily at the rates sign-ins come at; ceremonies, one key
//! per command, keep a tag of their own (`{hash(id)}`) and spread over the shards. Scripts name
//! every key they touch in `KEYS`; none builds a key name itself.
//!
//! # Failures
//!
//! A refused or broken connection, a timeout and any other server or I/O failure give
//! [`StoreError::Unavailable`]; data the store cannot make sense of gives [`StoreError::Corrupt`].
//! Connections time out after [`CONNECT_TIMEOUT`] and answers after [`RESPONSE_TIMEOUT`], so a
//! Redis that is down or stuck answers within about two seconds, and TCP keepalive notices a
//! silently vanished server. When a command finds its connection dropped, it is sent once more on
//! the new connection. The first try may have run without its answer arriving, so repeating must
//! be safe, and it is: writing an attempt is idempotent; a repeated guess, request or failure is
//! counted once more, which is stricter, never more permissive; a repeated consume (or settle of
//! a right code) can at worst tell its caller that it lost although the first try won, and never
//! lets a second caller win.

#![warn(missing_docs)]

mod attempts;
mod codes;
mod errors;
mod gate;
mod keys;
mod limits;

use crate::errors::{store_error, unavailable, unexpected};
use crate::keys::Keys;
use async_trait::async_trait;
use auth_core::ids::CeremonyId;
use auth_core::ports::{CeremonyStore, HealthCheck, StoreError};
use auth_core::time::Timestamp;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Client, IntoConnectionInfo, RedisResult, Script, Value};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long one attempt to open a connection (including the handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);

/// How long the answer to one command may take.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The Redis adapter. Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
}

/// The Lua scripts, hashed once; they are sent by hash and loaded again whenever Redis has
/// forgotten them (after a restart, say).
struct Scripts {
    attempt_open: Script,
    attempt_look: Script,
    attempt_settle: Script,
    attempt_take_guess: Script,
    attempt_consume: Script,
    gcra_acquire_all: Script,
    failures_record: Script,
    code_take: Script,
}

/// A script with the shared functions of `lua/lib.lua` in front of it.
macro_rules! with_lib {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/lib.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

impl Scripts {
    fn new() -> Self {
        Self {
            attempt_open: with_lib!("attempt_open.lua"),
            attempt_look: with_lib!("attempt_look.lua"),
            attempt_settle: with_lib!("attempt_settle.lua"),
            attempt_take_guess: with_lib!("attempt_take_guess.lua"),
            attempt_consume: Script::new(include_str!("lua/attempt_consume.lua")),
            gcra_acquire_all: with_lib!("gcra_acquire_all.lua"),
            failures_record: with_lib!("failures_record.lua"),
            code_take: Script::new(include_str!("lua/code_take.lua")),
        }
    }
}

impl fmt::Debug for RedisStore {
    // The connection's own Debug would print its URL, password included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`) and keeps every key under `key_prefix`, which must be 1 to 64 of
    /// `A-Z a-z 0-9 : _ . -`. The connection is re-established by itself whenever it breaks.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL or the prefix is unusable or Redis cannot be reached
    /// within [`CONNECT_TIMEOUT`].
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let keys = Keys::new(key_prefix).map_err(unavailable)?;
        let info = url
            .into_connection_info()
            .map_err(store_error)?
            .set_tcp_settings(tcp_settings());
        let client = Client::open(info).map_err(store_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // One quick retry covers a server that is just restarting; more would make every
            // request wait while it is really down.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(store_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                keys,
                scripts: Scripts::new(),
            }),
        })
    }

    /// Stores the state of a passkey ceremony under `id` until `now + ttl`, replacing any state
    /// stored under the same id. The value carries that instant before the state, so expiry
    /// follows the caller's clock like every other store's; the key's own TTL (`ttl`, at least
    /// 1 ms) only lets Redis forget it.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn put_ceremony(
        &self,
        id: &str,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut value = now.plus(ttl).as_millis().to_be_bytes().to_vec();
        value.extend_from_slice(state);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.inner.keys.ceremony(id))
            .arg(value)
            .arg("PX")
            .arg(span_ms(ttl));
        match self.query(&cmd).await? {
            Value::Okay => Ok(()),
            other => Err(unexpected("SET", &other)),
        }
    }

    /// Takes the state of the ceremony `id`: the first call gets it and removes it, so a ceremony
    /// can be finished only once. `None` if unknown, expired at `now`, or already taken.
    ///
    /// # Errors
    /// Store failures only; [`StoreError::Corrupt`] for a value this adapter did not write.
    pub async fn take_ceremony(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.inner.keys.ceremony(id));
        match self.query(&cmd).await? {
            Value::Nil => Ok(None),
            Value::BulkString(value) => {
                let (until, state) = value
                    .split_first_chunk::<8>()
                    .ok_or_else(|| StoreError::Corrupt("ceremony value too short".to_owned()))?;
                let until = Timestamp::from_millis(i64::from_be_bytes(*until));
                Ok((now < until).then(|| state.to_vec()))
            }
            other => Err(unexpected("GETDEL", &other)),
        }
    }

    /// Runs one command.
    async fn query(&self, cmd: &redis::Cmd) -> Result<Value, StoreError> {
        self.send(|mut conn| async move { cmd.query_async::<Value>(&mut conn).await })
            .await
    }

    /// Runs one script.
    async fn eval(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, StoreError> {
        self.send(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await
    }

    /// Sends a request, once more if the connection turned out to be dropped: the manager has
    /// started reconnecting by then, and the second try waits for the new connection. Repeating is
    /// safe for every request this adapter makes (see the crate docs).
    async fn send<F, Fut>(&self, request: F) -> Result<Value, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<Value>>,
    {
        match request(self.inner.conn.clone()).await {
            Err(e) if e.is_connection_dropped() => {
                request(self.inner.conn.clone()).await.map_err(store_error)
            }
            result => result.map_err(store_error),
        }
    }
}

/// Ceremonies under the text form of their id; `take` is one `GETDEL`, so exactly one of
/// parallel takes gets the state, and Redis expires what is never taken.
#[async_trait]
impl CeremonyStore for RedisStore {
    async fn put(
        &self,
        id: &CeremonyId,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_ceremony(&id.to_string(), state, now, ttl).await
    }

    async fn take(&self, id: &CeremonyId, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.take_ceremony(&id.to_string(), now).await
    }
}

#[async_trait]
impl HealthCheck for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), StoreError> {
        match self.query(&redis::cmd("PING")).await? {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            other => Err(unexpected("PING", &other)),
        }
    }
}

/// Keepalive probes notice a server that vanished without closing the connection (a dead host, a
/// dropped route), so the connection is replaced instead of timing out forever.
fn tcp_settings() -> TcpSettings {
    let keepalive = TcpKeepalive::new().with_time(Duration::from_secs(10));
    #[cfg(target_os = "linux")]
    let keepalive = keepalive
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    let settings = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive);
    // Data unacknowledged for this long means the peer is gone, even while requests keep coming.
    #[cfg(target_os = "linux")]
    let settings = settings.set_user_timeout(Duration::from_secs(5));
    settings
}

/// The longest span handed to Redis or Lua, about a thousand years: Lua numbers are doubles, exact
/// only below 2^53, and Redis refuses expiries that overflow its clock.
const MAX_MS: i64 = 1 << 45;

/// A span in whole milliseconds for Redis or Lua, within `1..=MAX_MS` (0 is not a valid expiry).
fn span_ms(d: Duration) -> i64 {
    auth_core::time::duration_ms(d).clamp(1, MAX_MS)
}
