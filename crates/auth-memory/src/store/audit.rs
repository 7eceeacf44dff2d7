//! Security activity of accounts: [`AuditLog`].

use super::MemoryStore;
use async_trait::async_trait;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditLog, StoreError};

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.write().write_event(event);
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
