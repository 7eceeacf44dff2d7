//! The operator's view of the accounts: [`UserDirectory`] on the shared account maps.

use super::MemoryStore;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AccountCounts, AuditEvent, AuditQuery, StoreError, UserDirectory};
use auth_core::time::Timestamp;
use auth_core::user::User;

#[async_trait]
impl UserDirectory for MemoryStore {
    async fn list_users(
        &self,
        query: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let q = query.to_ascii_lowercase();
        let matches = |u: &User| {
            u.email.as_str().to_ascii_lowercase().contains(&q)
                || u.display_name.as_str().to_ascii_lowercase().contains(&q)
        };
        let acc = self.read();
        let mut page: Vec<User> = acc
            .users
            .values()
            .filter(|u| after.is_none_or(|a| u.id > a) && matches(u))
            .cloned()
            .collect();
        page.sort_by_key(|u| u.id);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(page)
    }

    async fn counts(&self, id: &UserId, now: Timestamp) -> Result<AccountCounts, StoreError> {
        let acc = self.read();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(AccountCounts {
            active_sessions: count(
                acc.sessions
                    .values()
                    .filter(|s| s.user_id == *id && s.is_active(now))
                    .count(),
            ),
            passkeys: count(acc.passkeys.values().filter(|p| p.user_id == *id).count()),
        })
    }

    async fn search_events(
        &self,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let acc = self.read();
        let mut found: Vec<AuditEvent> = acc
            .audit
            .iter()
            .filter(|(user, _)| query.user.is_none_or(|u| u == **user))
            .flat_map(|(_, events)| events.iter())
            .filter(|e| {
                query.kind.is_none_or(|k| k == e.kind)
                    && query.from.is_none_or(|t| e.at >= t)
                    && query.until.is_none_or(|t| e.at < t)
            })
            .cloned()
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.at));
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }
}
