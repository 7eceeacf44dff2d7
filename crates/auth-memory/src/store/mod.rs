//! `MemoryStore`: every storage port in process memory, with the same atomicity as the real stores.

mod attempts;
mod audit;
mod ceremonies;
mod directory;
mod housekeeping;
mod limits;
mod oidc;
mod outbox;
mod passkeys;
mod reverts;
mod sessions;
mod users;

use async_trait::async_trait;
// How long an attempt is kept after it expires is the core's rule, read by every store.
use auth_core::attempt::ATTEMPT_GRACE;
use auth_core::attempt::Attempt;
use auth_core::email::EmailAddress;
use auth_core::ids::{AttemptId, CeremonyId, PasskeyId, SessionId, UserId};
use auth_core::oidc::{ClientId, CodeGrant, Consent};
use auth_core::outbox::{ChooseWebhookEvents, WebhookEvents};
use auth_core::passkey::Passkey;
use auth_core::ports::{AuditEvent, HealthCheck, StoreError};
use auth_core::rate::Failures;
use auth_core::revert::EmailRevert;
use auth_core::session::{Session, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::User;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 16;
/// Expired entries of a shard are swept after this many inserts into it.
const SWEEP_EVERY: u32 = 256;
/// How many passkey ceremonies the store holds at most, by default. Every request for sign-in
/// options keeps one for minutes; the bound keeps a flood of them (which the rate limit slows
/// but many networks together can still make) from growing memory without end.
pub const DEFAULT_CEREMONY_CAPACITY: usize = 65_536;

/// A map split into independently locked shards, so unrelated keys never wait on each other.
struct Shards<K, V>(Vec<Mutex<Shard<K, V>>>);

struct Shard<K, V> {
    map: HashMap<K, V>,
    inserts: u32,
}

impl<K: Hash + Eq, V> Shards<K, V> {
    fn new() -> Self {
        Self(
            (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        inserts: 0,
                    })
                })
                .collect(),
        )
    }

    fn lock(&self, key: &K) -> MutexGuard<'_, Shard<K, V>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let i = usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0);
        // A panic while holding a shard cannot leave a map half-updated (every update is one
        // insert or field write), so a poisoned lock is still safe to use.
        self.0[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A panic while holding a lock cannot leave a map half-updated (every update is a few map
/// operations that do not panic), so a poisoned lock is still safe to use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// Inserts, sweeping entries for which `dead` holds every `SWEEP_EVERY` inserts.
    fn insert_sweeping(&mut self, k: K, v: V, dead: impl Fn(&V) -> bool) {
        self.inserts = self.inserts.wrapping_add(1);
        if self.inserts.is_multiple_of(SWEEP_EVERY) {
            self.map.retain(|_, v| !dead(v));
        }
        self.map.insert(k, v);
    }
}

#[derive(Default)]
struct Accounts {
    users: HashMap<UserId, User>,
    by_email: HashMap<EmailAddress, UserId>,
    sessions: HashMap<SessionId, Session>,
    refresh: HashMap<TokenHash, Refresh>,
    audit: HashMap<UserId, Vec<AuditEvent>>,
    passkeys: HashMap<PasskeyId, Passkey>,
    by_credential: HashMap<Vec<u8>, PasskeyId>,
    reverts: HashMap<TokenHash, EmailRevert>,
    consents: BTreeMap<(UserId, ClientId), Consent>,
    outbox: outbox::Queue,
    /// The webhook events [`Accounts::write_event`] puts in the outbox.
    webhook_events: WebhookEvents,
}

struct Refresh {
    session: SessionId,
    /// When it was rotated; `None` while it is the session's current token.
    spent: Option<Timestamp>,
}

impl Accounts {
    fn remove_passkeys_of(&mut self, user: &UserId) {
        self.passkeys.retain(|_, p| p.user_id != *user);
        let passkeys = &self.passkeys;
        self.by_credential.retain(|_, id| passkeys.contains_key(id));
    }

    fn remove_sessions_of(&mut self, user: &UserId) {
        self.sessions.retain(|_, s| s.user_id != *user);
        let sessions = &self.sessions;
        self.refresh
            .retain(|_, r| sessions.contains_key(&r.session));
    }
}

struct Inner {
    accounts: RwLock<Accounts>,
    attempts: Shards<AttemptId, Attempt>,
    rates: Shards<String, i64>,
    failures: Shards<String, Failures>,
    ceremonies: Vec<Mutex<Ceremonies>>,
    /// Authorization codes by hash: the grant, when it was used, and whether it came back after.
    codes: Shards<TokenHash, (CodeGrant, Option<Timestamp>, bool)>,
    /// How many ceremonies each shard holds at most.
    ceremonies_per_shard: usize,
}

/// One shard of ceremonies, with an index by expiry so the oldest go first when it is full.
#[derive(Default)]
struct Ceremonies {
    map: HashMap<CeremonyId, Ceremony>,
    /// `(expires_at, sequence)` of every ceremony in `map`.
    by_expiry: BTreeMap<(Timestamp, u64), CeremonyId>,
    next: u64,
}

struct Ceremony {
    expires_at: Timestamp,
    seq: u64,
    state: Vec<u8>,
}

impl Ceremonies {
    fn remove(&mut self, id: &CeremonyId) -> Option<Ceremony> {
        let c = self.map.remove(id)?;
        self.by_expiry.remove(&(c.expires_at, c.seq));
        Some(c)
    }

    /// Drops what has expired at `now`, then the ceremonies closest to expiry until there is room
    /// for one more under `capacity`.
    fn make_room(&mut self, now: Timestamp, capacity: usize) {
        while let Some((&(expires_at, _), &id)) = self.by_expiry.first_key_value() {
            if expires_at > now && self.map.len() < capacity {
                break;
            }
            self.remove(&id);
        }
    }
}

/// Every storage port in memory. Clones share the same state.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore { .. }")
    }
}

/// Clones share the setting, as they share everything else.
impl ChooseWebhookEvents for MemoryStore {
    fn with_webhook_events(self, events: WebhookEvents) -> Self {
        self.write().webhook_events = events;
        self
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                accounts: RwLock::new(Accounts::default()),
                attempts: Shards::new(),
                rates: Shards::new(),
                failures: Shards::new(),
                codes: Shards::new(),
                ceremonies: (0..SHARDS)
                    .map(|_| Mutex::new(Ceremonies::default()))
                    .collect(),
                ceremonies_per_shard: DEFAULT_CEREMONY_CAPACITY.div_ceil(SHARDS),
            }),
        }
    }

    /// An empty store that holds at most about `capacity` passkey ceremonies (rounded up to a
    /// multiple of its shard count); when full, the ones closest to expiry make room.
    pub fn with_ceremony_capacity(capacity: usize) -> Self {
        let mut store = Self::new();
        if let Some(inner) = Arc::get_mut(&mut store.inner) {
            inner.ceremonies_per_shard = capacity.div_ceil(SHARDS).max(1);
        }
        store
    }

    /// How many passkey ceremonies are held, expired or not.
    pub fn ceremonies_held(&self) -> usize {
        self.inner
            .ceremonies
            .iter()
            .map(|shard| lock(shard).map.len())
            .sum()
    }

    fn ceremony_shard(&self, id: &CeremonyId) -> MutexGuard<'_, Ceremonies> {
        let mut h = DefaultHasher::new();
        id.hash(&mut h);
        let i = usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0);
        lock(&self.inner.ceremonies[i])
    }

    fn read(&self) -> RwLockReadGuard<'_, Accounts> {
        self.inner
            .accounts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Accounts> {
        self.inner
            .accounts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl HealthCheck for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
