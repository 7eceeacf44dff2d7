//! The operator's use cases: finding an account, disabling and enabling it, deleting it and
//! ending its sessions. The command line and the admin API share them, so both audit and mail
//! the same way; every action names its operator (`cli`, or an admin token's id) in the audit
//! event's detail.

use super::AuthService;
use crate::audit::AuditKind;
use crate::email::EmailAddress;
use crate::ids::UserId;
use crate::mail::Message;
use crate::ports::{AccountCounts, AuditEvent, AuditQuery, StoreError, UserDirectory};
use crate::user::User;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Who carries out an administrative action, as the audit trail names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator(String);

impl Operator {
    /// The command line on the server.
    pub fn cli() -> Self {
        Self("cli".to_owned())
    }

    /// The holder of the admin API token with this id.
    pub fn token(id: &str) -> Self {
        Self(format!("token {id}"))
    }

    fn detail(&self) -> String {
        format!("by {}", self.0)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An administrative action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No account has that id (or address).
    #[error("no such account")]
    NotFound,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthService {
    /// The account with this id, or with this address when `key` is not an id.
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn find_account(&self, key: &str) -> Result<User, AdminError> {
        let found = if let Some(id) = UserId::parse(key.trim()) {
            self.ports.users.by_id(&id).await?
        } else if let Ok(email) = EmailAddress::parse(key) {
            self.ports.users.by_email(&email).await?
        } else {
            None
        };
        found.ok_or(AdminError::NotFound)
    }

    async fn account(&self, id: &UserId) -> Result<User, AdminError> {
        self.ports
            .users
            .by_id(id)
            .await?
            .ok_or(AdminError::NotFound)
    }

    fn operator_event(&self, user: UserId, kind: AuditKind, detail: String) -> AuditEvent {
        AuditEvent {
            user_id: user,
            at: self.now(),
            kind,
            ip: None,
            detail: Some(detail),
        }
    }

    /// Disables the account: it cannot sign in by any path, every session and open code attempt
    /// ends at once, and its owner gets a notice. `false` if it was already disabled (nothing
    /// happens, no mail).
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn disable_account(
        &self,
        id: &UserId,
        operator: &Operator,
    ) -> Result<bool, AdminError> {
        let user = self.account(id).await?;
        let event = self.operator_event(user.id, AuditKind::AccountDisabled, operator.detail());
        if !self.ports.users.disable(id, &event).await? {
            return Ok(false);
        }
        tracing::info!(user = %id, %operator, "account disabled");
        self.notify(&user, Message::AccountDisabled).await;
        Ok(true)
    }

    /// Enables a disabled account again and tells its owner. `false` if it was not disabled.
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn enable_account(
        &self,
        id: &UserId,
        operator: &Operator,
    ) -> Result<bool, AdminError> {
        let user = self.account(id).await?;
        let event = self.operator_event(user.id, AuditKind::AccountEnabled, operator.detail());
        if !self.ports.users.enable(id, &event).await? {
            return Ok(false);
        }
        tracing::info!(user = %id, %operator, "account enabled");
        self.notify(&user, Message::AccountEnabled).await;
        Ok(true)
    }

    /// Deletes the account with its sessions, passkeys and history, and tells the address it
    /// had. The account's audit trail goes with it; its `account_deleted` event, naming the
    /// operator, stays in the outbox for webhooks, and the deletion is logged with its operator.
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn delete_account_as(
        &self,
        id: &UserId,
        operator: &Operator,
    ) -> Result<(), AdminError> {
        let user = self.account(id).await?;
        let event = self.operator_event(user.id, AuditKind::AccountDeleted, operator.detail());
        if !self.ports.users.delete(id, &event).await? {
            return Err(AdminError::NotFound);
        }
        tracing::info!(user = %id, %operator, "account deleted by an operator");
        self.notify(&user, Message::AccountDeletedByOperator).await;
        Ok(())
    }

    /// Ends every session of the account and every open code attempt; returns how many
    /// sessions ended.
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn revoke_account_sessions(
        &self,
        id: &UserId,
        operator: &Operator,
    ) -> Result<u64, AdminError> {
        let user = self.account(id).await?;
        self.ports.users.end_attempts(id).await?;
        let n = self.ports.sessions.revoke_all(id, None, self.now()).await?;
        let event = self.operator_event(
            user.id,
            AuditKind::AdminSessionsRevoked,
            format!("{}; {n} sessions ended", operator.detail()),
        );
        if let Err(e) = self.ports.audit.record(&event).await {
            tracing::warn!(error = %e, "audit event not recorded");
        }
        tracing::info!(user = %id, %operator, sessions = n, "sessions revoked by an operator");
        Ok(n)
    }

    async fn notify(&self, user: &User, message: Message) {
        self.mail(
            user.email.clone(),
            Some(&user.display_name),
            user.language,
            message,
        )
        .await;
    }
}

/// The largest page an operator's listing returns.
pub const ADMIN_PAGE_MAX: u32 = 100;

/// An account with what it holds, for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// The account.
    pub user: User,
    /// Its live sessions and passkeys.
    pub counts: AccountCounts,
}

impl AuthService {
    /// One page of accounts for an operator, ordered by id after `after`, filtered by `query`
    /// (address or display name, ignoring ASCII case); `limit` is kept within 1 to
    /// [`ADMIN_PAGE_MAX`]. An empty query lists every account.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list_accounts(
        &self,
        directory: &dyn UserDirectory,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let query = query.map_or("", str::trim);
        directory
            .list_users(query, after, limit.clamp(1, ADMIN_PAGE_MAX))
            .await
    }

    /// The account with this id or address, with its live sessions and passkeys counted.
    ///
    /// # Errors
    /// [`AdminError::NotFound`]; store failures.
    pub async fn account_summary(
        &self,
        directory: &dyn UserDirectory,
        key: &str,
    ) -> Result<AccountSummary, AdminError> {
        let user = self.find_account(key).await?;
        let counts = directory.counts(&user.id, self.now()).await?;
        Ok(AccountSummary { user, counts })
    }
}

impl AuthService {
    /// Audit events of every account that `query` selects, newest first; `limit` is kept within
    /// 1 to [`ADMIN_PAGE_MAX`]. The next, older page asks again with `until` set to the oldest
    /// event's time.
    ///
    /// # Errors
    /// Store failures.
    pub async fn search_events(
        &self,
        directory: &dyn UserDirectory,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        directory
            .search_events(query, limit.clamp(1, ADMIN_PAGE_MAX))
            .await
    }
}

/// The bearer tokens of the admin API, kept only as SHA-256 hashes with their ids.
#[derive(Clone, Default)]
pub struct AdminTokens(Vec<(String, [u8; 32])>);

impl fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.0.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "AdminTokens({ids:?})")
    }
}

impl AdminTokens {
    /// Tokens by id; the secrets are hashed at once and not kept.
    pub fn new<'a>(tokens: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            tokens
                .into_iter()
                .map(|(id, token)| (id.to_owned(), Sha256::digest(token.as_bytes()).into()))
                .collect(),
        )
    }

    /// Whether no token is configured (then nobody gets in).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The operator whose token `presented` is, if any. Every configured hash is compared, in
    /// constant time, whichever matches, so the answer takes as long for a wrong token as for a
    /// right one.
    pub fn operator(&self, presented: &str) -> Option<Operator> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (id, expected) in &self.0 {
            if bool::from(expected.ct_eq(&hash)) && found.is_none() {
                found = Some(id.as_str());
            }
        }
        found.map(Operator::token)
    }
}
