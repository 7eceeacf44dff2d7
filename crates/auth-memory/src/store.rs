//! `MemoryStore`: every storage port in process memory, with the same atomicity as the real stores.

use async_trait::async_trait;
use auth_core::attempt::{ATTEMPT_GRACE, Attempt, AttemptState};
use auth_core::email::EmailAddress;
use auth_core::ids::{AttemptId, CeremonyId, PasskeyId, SessionId, UserId};
use auth_core::passkey::{Passkey, PasskeyName};
use auth_core::ports::{
    AttemptStore, AuditEvent, AuditLog, CeremonyStore, CredentialTakenOr, EmailRevertStore,
    EmailTakenOr, HealthCheck, Housekeeping, Lifetimes, PasskeyRepository, Purged, RateLimiter,
    Retention, SessionRepository, StoreError, UserRepository,
};
use auth_core::rate::{Failures, Quota, RateDecision, gcra};
use auth_core::revert::EmailRevert;
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::{DisplayName, PublicProfile, User};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

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
impl UserRepository for MemoryStore {
    async fn create(
        &self,
        user: &User,
        first_session: &Session,
        refresh: &TokenHash,
    ) -> Result<(), EmailTakenOr> {
        let mut acc = self.write();
        if acc.by_email.contains_key(&user.email) || acc.users.contains_key(&user.id) {
            return Err(EmailTakenOr::Taken);
        }
        acc.by_email.insert(user.email.clone(), user.id);
        acc.users.insert(user.id, user.clone());
        acc.sessions.insert(first_session.id, first_session.clone());
        acc.refresh.insert(
            *refresh,
            Refresh {
                session: first_session.id,
                spent: None,
            },
        );
        Ok(())
    }

    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let acc = self.read();
        Ok(acc
            .by_email
            .get(email)
            .and_then(|id| acc.users.get(id))
            .cloned())
    }

    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.read().users.get(id).cloned())
    }

    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
    ) -> Result<Option<User>, StoreError> {
        let mut acc = self.write();
        Ok(acc.users.get_mut(id).map(|u| {
            u.display_name = name.clone();
            u.public = public;
            u.clone()
        }))
    }

    async fn change_email(&self, id: &UserId, email: &EmailAddress) -> Result<bool, EmailTakenOr> {
        let mut acc = self.write();
        if acc.by_email.get(email).is_some_and(|owner| owner != id) {
            return Err(EmailTakenOr::Taken);
        }
        let Some(user) = acc.users.get_mut(id) else {
            return Ok(false);
        };
        let old = std::mem::replace(&mut user.email, email.clone());
        user.attempt_epoch = user.attempt_epoch.wrapping_add(1);
        acc.by_email.remove(&old);
        acc.by_email.insert(email.clone(), *id);
        Ok(true)
    }

    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError> {
        let mut acc = self.write();
        Ok(acc
            .users
            .get_mut(id)
            .map(|u| u.attempt_epoch = u.attempt_epoch.wrapping_add(1))
            .is_some())
    }

    async fn delete(&self, id: &UserId) -> Result<bool, StoreError> {
        let mut acc = self.write();
        let Some(user) = acc.users.remove(id) else {
            return Ok(false);
        };
        acc.by_email.remove(&user.email);
        acc.remove_sessions_of(id);
        acc.audit.remove(id);
        acc.remove_passkeys_of(id);
        acc.reverts.retain(|_, r| r.user_id != *id);
        Ok(true)
    }

    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        let acc = self.read();
        let mut page: Vec<PublicProfile> = acc
            .users
            .values()
            .filter(|u| u.public && after.is_none_or(|a| u.id > a))
            .map(|u| PublicProfile {
                id: u.id,
                display_name: u.display_name.clone(),
            })
            .collect();
        page.sort_by_key(|p| p.id);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(page)
    }
}

#[async_trait]
impl AttemptStore for MemoryStore {
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError> {
        // The replaced attempt's shard and the new one's may be the same shard, so they are
        // locked one after the other, never together. Between the two steps the old code is
        // already dead and the new one not yet stored: a resend's client waits for the answer
        // before it uses the new code, so no one can see the gap.
        if let Some(old) = replaces {
            let mut shard = self.inner.attempts.lock(&old);
            if let Some(a) = shard
                .map
                .get_mut(&old)
                .filter(|a| a.state == AttemptState::Active)
            {
                a.state = AttemptState::Superseded;
            }
        }
        let cutoff = attempt.created_at.minus(ATTEMPT_GRACE);
        let mut shard = self.inner.attempts.lock(&attempt.id);
        shard.insert_sweeping(attempt.id, attempt.clone(), |a| a.expires_at < cutoff);
        Ok(())
    }

    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        Ok(self.inner.attempts.lock(id).map.get(id).cloned())
    }

    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        let mut shard = self.inner.attempts.lock(id);
        Ok(shard
            .map
            .get_mut(id)
            .filter(|a| a.accepts_guess(now, max_guesses))
            .map(|a| {
                a.guesses += 1;
                a.clone()
            }))
    }

    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        let mut shard = self.inner.attempts.lock(id);
        match shard.map.get_mut(id) {
            Some(a) if a.state == AttemptState::Active && now < a.expires_at => {
                a.state = AttemptState::Consumed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn create(&self, session: &Session, refresh: &TokenHash) -> Result<(), StoreError> {
        let mut acc = self.write();
        if !acc.users.contains_key(&session.user_id) {
            return Err(StoreError::Corrupt(
                "session for an unknown account".to_owned(),
            ));
        }
        acc.sessions.insert(session.id, session.clone());
        acc.refresh.insert(
            *refresh,
            Refresh {
                session: session.id,
                spent: None,
            },
        );
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.read().sessions.get(id).cloned())
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
    ) -> Result<Rotation, StoreError> {
        let mut acc = self.write();
        let Some((sid, spent)) = acc.refresh.get(old).map(|r| (r.session, r.spent)) else {
            return Ok(Rotation::Invalid);
        };
        let successor_is_current = acc
            .refresh
            .get(new)
            .is_some_and(|r| r.session == sid && r.spent.is_none());
        let Some(session) = acc.sessions.get_mut(&sid) else {
            return Ok(Rotation::Invalid);
        };
        if let Some(spent_at) = spent {
            if session.revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            let within_grace = now < spent_at.plus(lifetimes.grace);
            if within_grace && successor_is_current && session.is_active(now) {
                return Ok(Rotation::Rotated(session.clone()));
            }
            session.revoked_at = Some(now);
            return Ok(Rotation::Reused {
                session_id: sid,
                user_id: session.user_id,
            });
        }
        if !session.is_active(now) {
            return Ok(Rotation::Invalid);
        }
        session.last_seen_at = now;
        session.expires_at = now
            .plus(lifetimes.idle)
            .min(session.created_at.plus(lifetimes.max));
        let rotated = session.clone();
        if let Some(r) = acc.refresh.get_mut(old) {
            r.spent = Some(now);
        }
        acc.refresh.insert(
            *new,
            Refresh {
                session: sid,
                spent: None,
            },
        );
        Ok(Rotation::Rotated(rotated))
    }

    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let mut list: Vec<Session> = self
            .read()
            .sessions
            .values()
            .filter(|s| s.user_id == *user && s.is_active(now))
            .cloned()
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.sessions.get_mut(id) {
            Some(s) if s.user_id == *user && s.revoked_at.is_none() => {
                s.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut acc = self.write();
        let mut n = 0;
        for s in acc.sessions.values_mut() {
            if s.user_id == *user && Some(s.id) != keep && s.is_active(now) {
                s.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl RateLimiter for MemoryStore {
    async fn acquire(
        &self,
        key: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        let key = key.to_owned();
        let mut shard = self.inner.rates.lock(&key);
        let stored = shard.map.get(&key).copied();
        let (decision, next) = gcra(stored, now, quota);
        if let Some(next) = next {
            let now_ms = now.as_millis();
            shard.insert_sweeping(key, next.tat, |tat| *tat < now_ms);
        }
        Ok(decision)
    }

    async fn failures(&self, key: &str, now: Timestamp) -> Result<Failures, StoreError> {
        let key = key.to_owned();
        let shard = self.inner.failures.lock(&key);
        Ok(shard
            .map
            .get(&key)
            .filter(|f| f.window_ends.is_some_and(|end| now < end))
            .copied()
            .unwrap_or_default())
    }

    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let key = key.to_owned();
        let mut shard = self.inner.failures.lock(&key);
        let open = shard
            .map
            .get(&key)
            .filter(|f| f.window_ends.is_some_and(|end| now < end))
            .copied();
        let next = match open {
            Some(f) => Failures {
                count: f.count.saturating_add(1),
                last_at: Some(now),
                window_ends: f.window_ends,
            },
            None => Failures {
                count: 1,
                last_at: Some(now),
                window_ends: Some(now.plus(window)),
            },
        };
        shard.insert_sweeping(key, next, |f| f.window_ends.is_none_or(|end| end < now));
        Ok(next)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.inner.failures.lock(&key).map.remove(&key);
        Ok(())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut acc = self.write();
        if acc.users.contains_key(&event.user_id) {
            acc.audit
                .entry(event.user_id)
                .or_default()
                .push(event.clone());
        }
        Ok(())
    }

    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let acc = self.read();
        let mut events: Vec<AuditEvent> = acc.audit.get(user).cloned().unwrap_or_default();
        events.sort_by_key(|e| std::cmp::Reverse(e.at));
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
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

#[async_trait]
impl PasskeyRepository for MemoryStore {
    async fn add(&self, passkey: &Passkey) -> Result<(), CredentialTakenOr> {
        let mut acc = self.write();
        if acc.by_credential.contains_key(&passkey.credential_id) {
            return Err(CredentialTakenOr::Taken);
        }
        if !acc.users.contains_key(&passkey.user_id) {
            return Err(StoreError::Corrupt("passkey for an unknown account".to_owned()).into());
        }
        acc.by_credential
            .insert(passkey.credential_id.clone(), passkey.id);
        acc.passkeys.insert(passkey.id, passkey.clone());
        Ok(())
    }

    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        let mut list: Vec<Passkey> = self
            .read()
            .passkeys
            .values()
            .filter(|p| p.user_id == *user)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn by_credential_id(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        let acc = self.read();
        Ok(acc
            .by_credential
            .get(credential_id)
            .and_then(|id| acc.passkeys.get(id))
            .cloned())
    }

    async fn record_use(
        &self,
        id: &PasskeyId,
        credential: &[u8],
        sign_count: u32,
        backed_up: bool,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        Ok(acc
            .passkeys
            .get_mut(id)
            .map(|p| {
                let forward = sign_count > p.sign_count || (sign_count == 0 && p.sign_count == 0);
                if forward {
                    p.credential = credential.to_vec();
                    p.sign_count = sign_count;
                    p.backed_up = backed_up;
                }
                p.last_used_at = Some(p.last_used_at.map_or(at, |last| last.max(at)));
            })
            .is_some())
    }

    async fn rename(
        &self,
        user: &UserId,
        id: &PasskeyId,
        name: &PasskeyName,
    ) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.passkeys.get_mut(id) {
            Some(p) if p.user_id == *user => {
                p.name = name.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete(&self, user: &UserId, id: &PasskeyId) -> Result<bool, StoreError> {
        let mut acc = self.write();
        match acc.passkeys.get(id) {
            Some(p) if p.user_id == *user => {
                let credential_id = p.credential_id.clone();
                acc.passkeys.remove(id);
                acc.by_credential.remove(&credential_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl CeremonyStore for MemoryStore {
    async fn put(
        &self,
        id: &CeremonyId,
        state: &[u8],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let capacity = self.inner.ceremonies_per_shard;
        let mut shard = self.ceremony_shard(id);
        shard.remove(id);
        shard.make_room(now, capacity);
        let seq = shard.next;
        shard.next = shard.next.wrapping_add(1);
        let expires_at = now.plus(ttl);
        shard.by_expiry.insert((expires_at, seq), *id);
        shard.map.insert(
            *id,
            Ceremony {
                expires_at,
                seq,
                state: state.to_vec(),
            },
        );
        Ok(())
    }

    async fn take(&self, id: &CeremonyId, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        let taken = self.ceremony_shard(id).remove(id);
        Ok(taken.filter(|c| now < c.expires_at).map(|c| c.state))
    }
}

#[async_trait]
impl Housekeeping for MemoryStore {
    async fn purge(&self, now: Timestamp, keep: Retention) -> Result<Purged, StoreError> {
        let mut acc = self.write();
        let before = acc.sessions.len();
        acc.sessions
            .retain(|_, s| s.revoked_at.is_none() && now < s.expires_at);
        let sessions = (before - acc.sessions.len()) as u64;
        let tokens_before = acc.refresh.len();
        let Accounts {
            sessions: live,
            refresh,
            ..
        } = &mut *acc;
        refresh.retain(|_, r| live.contains_key(&r.session));
        let orphaned = tokens_before - refresh.len();
        let spent_cutoff = now.minus(keep.spent_tokens);
        refresh.retain(|_, r| r.spent.is_none_or(|at| at >= spent_cutoff));
        let refresh_tokens = (tokens_before - orphaned - refresh.len()) as u64;
        let audit_cutoff = now.minus(keep.audit);
        let mut audit_events = 0;
        for events in acc.audit.values_mut() {
            let n = events.len();
            events.retain(|e| e.at >= audit_cutoff);
            audit_events += (n - events.len()) as u64;
        }
        Ok(Purged {
            sessions,
            refresh_tokens,
            audit_events,
        })
    }
}

#[async_trait]
impl EmailRevertStore for MemoryStore {
    async fn put(&self, revert: &EmailRevert) -> Result<(), StoreError> {
        let mut acc = self.write();
        if !acc.users.contains_key(&revert.user_id) {
            return Err(StoreError::Corrupt(
                "an undo link for an unknown account".to_owned(),
            ));
        }
        acc.reverts.insert(revert.token_hash, revert.clone());
        Ok(())
    }

    async fn take(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<EmailRevert>, StoreError> {
        let mut acc = self.write();
        // Expired links are dropped whenever one is taken, so they never pile up.
        acc.reverts.retain(|_, r| now < r.expires_at);
        Ok(acc.reverts.remove(token_hash))
    }
}
