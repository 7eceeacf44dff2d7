//! Retention of the account maps: [`Housekeeping`].

use super::{Accounts, MemoryStore};
use async_trait::async_trait;
use auth_core::ports::{Housekeeping, Purged, Retention, StoreError};
use auth_core::time::Timestamp;

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
