//! The admin API (`/admin/v1/...`), for a listener of its own that only operators reach: accounts
//! listed and searched, shown, disabled, enabled, deleted and signed out everywhere, and audit
//! events searched across accounts. Every call needs a bearer token of `[[admin.tokens]]`; a
//! missing and a wrong token get the same 401. Each action goes through the same use cases as the
//! command line and is audited with the token's id. Its own OpenAPI document is served at
//! `/admin/v1/openapi.json`.

use crate::error::{ApiError, Problem};
use crate::wire::rfc3339;
use actix_web::{HttpRequest, HttpResponse, http::header, web};
use auth_core::AuthService;
use auth_core::audit::AuditKind;
use auth_core::ids::UserId;
use auth_core::ports::{AuditEvent, AuditQuery, UserDirectory};
use auth_core::service::{AccountSummary, AdminError, AdminTokens, Operator};
use auth_core::time::Timestamp;
use auth_core::user::User;
use serde::Serialize;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The use cases.
    pub service: Arc<AuthService>,
    /// The operator's view of the accounts.
    pub directory: Arc<dyn UserDirectory>,
    /// The tokens that may call.
    pub tokens: AdminTokens,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// Registers the admin API, with query and path errors answered as `problem+json`.
pub fn configure_admin(state: AdminState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
            .route("/admin/v1/openapi.json", web::get().to(openapi))
            .route("/admin/v1/users", web::get().to(list_users))
            .route("/admin/v1/users/{id}", web::get().to(show_user))
            .route("/admin/v1/users/{id}", web::delete().to(delete_user))
            .route("/admin/v1/users/{id}/disable", web::post().to(disable_user))
            .route("/admin/v1/users/{id}/enable", web::post().to(enable_user))
            .route(
                "/admin/v1/users/{id}/sessions/revoke",
                web::post().to(revoke_sessions),
            )
            .route("/admin/v1/audit", web::get().to(search_audit));
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => ApiError::NotFound,
            AdminError::Store(e) => e.into(),
        }
    }
}

/// The operator a request's bearer token names; one 401 for a missing, malformed or wrong token.
fn operator(state: &AdminState, req: &HttpRequest) -> Result<Operator, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // A missing token is compared like a wrong one, so both take the same time.
    state
        .tokens
        .operator(presented)
        .filter(|_| !presented.is_empty())
        .ok_or(ApiError::Unauthorized)
}

fn account_id(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).ok_or(ApiError::NotFound)
}

/// An account as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUser {
    /// The account id.
    pub id: String,
    /// Its address.
    pub email: String,
    /// Its display name.
    pub display_name: String,
    /// Whether its profile is public.
    pub public: bool,
    /// The language of its mail.
    pub language: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was disabled (RFC 3339), or null while it may sign in.
    pub disabled_at: Option<String>,
}

impl From<&User> for AdminUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.to_string(),
            public: u.public,
            language: u.language.as_str().to_owned(),
            created_at: rfc3339(u.created_at),
            disabled_at: u.disabled_at.map(rfc3339),
        }
    }
}

/// One page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    /// The accounts, in id order.
    pub users: Vec<AdminUser>,
    /// The cursor of the next page (`after`), absent on the last.
    pub next: Option<String>,
}

/// An account with its live sessions and passkeys counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserDetail {
    /// The account.
    #[serde(flatten)]
    pub user: AdminUser,
    /// Sessions active now.
    pub active_sessions: u64,
    /// Registered passkeys.
    pub passkeys: u64,
}

impl From<&AccountSummary> for AdminUserDetail {
    fn from(s: &AccountSummary) -> Self {
        Self {
            user: AdminUser::from(&s.user),
            active_sessions: s.counts.active_sessions,
            passkeys: s.counts.passkeys,
        }
    }
}

/// What an action changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminChange {
    /// Whether anything changed (false when the account already was in that state).
    pub changed: bool,
    /// How many sessions ended, for a revocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_ended: Option<u64>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEvent {
    /// The account.
    pub user_id: String,
    /// When (RFC 3339).
    pub at: String,
    /// What happened (an audit kind).
    pub kind: String,
    /// The client IP, if known.
    pub ip: Option<String>,
    /// A short detail (for operators' actions, who did it).
    pub detail: Option<String>,
}

impl From<&AuditEvent> for AdminEvent {
    fn from(e: &AuditEvent) -> Self {
        Self {
            user_id: e.user_id.to_string(),
            at: rfc3339(e.at),
            kind: e.kind.as_str().to_owned(),
            ip: e.ip.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// Audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEventPage {
    /// The events.
    pub events: Vec<AdminEvent>,
    /// The `until` of the next, older page (milliseconds since the epoch), absent on the last.
    pub next_until: Option<i64>,
}

pub use query::{AuditSearchQuery, UserListQuery};

/// The queries of the listing and of the audit search.
mod query {
    use serde::Deserialize;
    use utoipa::IntoParams;

    /// The listing's query.
    #[derive(Debug, Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    pub struct UserListQuery {
        /// Only accounts whose address or display name contains this (ignoring ASCII case).
        pub query: Option<String>,
        /// The cursor from the previous page.
        pub after: Option<String>,
        /// Page size, 1 to 100 (default 20).
        pub limit: Option<i64>,
    }

    /// The audit search's query.
    #[derive(Debug, Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    pub struct AuditSearchQuery {
        /// Only this account's events.
        pub user: Option<String>,
        /// Only events of this kind (e.g. `account_disabled`).
        pub kind: Option<String>,
        /// Only at or after this instant (milliseconds since the epoch).
        pub from: Option<i64>,
        /// Only before this instant (milliseconds since the epoch).
        pub until: Option<i64>,
        /// Page size, 1 to 100 (default 20).
        pub limit: Option<i64>,
    }
}

fn limit_of(limit: Option<i64>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(20),
        Some(n @ 1..=100) => Ok(u32::try_from(n).unwrap_or(20)),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 100")),
    }
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "admin", params(UserListQuery),
    security(("admin_token" = [])), responses((status = 200, body = AdminUserPage)))]
pub(crate) async fn list_users(
    state: web::Data<AdminState>,
    req: HttpRequest,
    q: web::Query<UserListQuery>,
) -> Result<web::Json<AdminUserPage>, ApiError> {
    operator(&state, &req)?;
    let limit = limit_of(q.limit)?;
    let after =
        match q.after.as_deref() {
            None => None,
            Some(c) => Some(UserId::parse(c).ok_or_else(|| {
                ApiError::bad_request("after must be a cursor from a previous page")
            })?),
        };
    let users = state
        .service
        .list_accounts(&*state.directory, q.query.as_deref(), after, limit)
        .await?;
    let next = (users.len() == limit as usize)
        .then(|| users.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(web::Json(AdminUserPage {
        users: users.iter().map(AdminUser::from).collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("admin_token" = [])), responses((status = 200, body = AdminUserDetail)))]
pub(crate) async fn show_user(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<AdminUserDetail>, ApiError> {
    operator(&state, &req)?;
    let id = account_id(&id)?;
    let summary = state
        .service
        .account_summary(&*state.directory, &id.to_string())
        .await?;
    Ok(web::Json(AdminUserDetail::from(&summary)))
}

#[utoipa::path(post, path = "/admin/v1/users/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("admin_token" = [])), responses((status = 200, body = AdminChange)))]
pub(crate) async fn disable_user(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<AdminChange>, ApiError> {
    let who = operator(&state, &req)?;
    let changed = state
        .service
        .disable_account(&account_id(&id)?, &who)
        .await?;
    Ok(web::Json(AdminChange {
        changed,
        sessions_ended: None,
    }))
}

#[utoipa::path(post, path = "/admin/v1/users/{id}/enable", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("admin_token" = [])), responses((status = 200, body = AdminChange)))]
pub(crate) async fn enable_user(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<AdminChange>, ApiError> {
    let who = operator(&state, &req)?;
    let changed = state
        .service
        .enable_account(&account_id(&id)?, &who)
        .await?;
    Ok(web::Json(AdminChange {
        changed,
        sessions_ended: None,
    }))
}

#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("admin_token" = [])), responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_user(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = operator(&state, &req)?;
    state
        .service
        .delete_account_as(&account_id(&id)?, &who)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/admin/v1/users/{id}/sessions/revoke", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("admin_token" = [])), responses((status = 200, body = AdminChange)))]
pub(crate) async fn revoke_sessions(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<AdminChange>, ApiError> {
    let who = operator(&state, &req)?;
    let n = state
        .service
        .revoke_account_sessions(&account_id(&id)?, &who)
        .await?;
    Ok(web::Json(AdminChange {
        changed: n > 0,
        sessions_ended: Some(n),
    }))
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", params(AuditSearchQuery),
    security(("admin_token" = [])), responses((status = 200, body = AdminEventPage)))]
pub(crate) async fn search_audit(
    state: web::Data<AdminState>,
    req: HttpRequest,
    q: web::Query<AuditSearchQuery>,
) -> Result<web::Json<AdminEventPage>, ApiError> {
    operator(&state, &req)?;
    let limit = limit_of(q.limit)?;
    let query = AuditQuery {
        user: match q.user.as_deref() {
            None => None,
            Some(u) => {
                Some(UserId::parse(u).ok_or_else(|| ApiError::bad_request("user must be an id"))?)
            }
        },
        kind: match q.kind.as_deref() {
            None => None,
            Some(k) => Some(
                AuditKind::parse(k)
                    .ok_or_else(|| ApiError::bad_request("kind must be an audit kind"))?,
            ),
        },
        from: q.from.map(Timestamp::from_millis),
        until: q.until.map(Timestamp::from_millis),
    };
    let events = state
        .service
        .search_events(&*state.directory, &query, limit)
        .await?;
    let next_until = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.at.as_millis()))
        .flatten();
    Ok(web::Json(AdminEventPage {
        events: events.iter().map(AdminEvent::from).collect(),
        next_until,
    }))
}

#[utoipa::path(get, path = "/admin/v1/openapi.json", tag = "admin",
    responses((status = 200, description = "This document")))]
pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(AdminDoc::openapi())
}

/// The admin API's own description, apart from the public one.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Passwordless auth admin API", description = "Administer accounts and search audit events (bearer token of [[admin.tokens]])."),
    paths(list_users, show_user, disable_user, enable_user, delete_user, revoke_sessions, search_audit, openapi),
    components(schemas(Problem, AdminUser, AdminUserPage, AdminUserDetail, AdminChange, AdminEvent, AdminEventPage)),
    modifiers(&AdminAuth)
)]
pub struct AdminDoc;

struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        crate::openapi::complete_errors(openapi);
    }
}
