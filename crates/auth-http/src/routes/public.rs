//! What anyone may read: public profiles, the JWKS, health, and the OpenAPI document.

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::wire::{PageQuery, ProfilePage, PublicProfileView, Readiness};
use actix_web::{HttpResponse, web};
use auth_core::UserId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;

/// The page size: 1 to 100, default 20; anything else is a clear 400.
pub(super) fn page_limit(limit: Option<i64>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(20),
        Some(n @ 1..=100) => Ok(u32::try_from(n).unwrap_or(20)),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 100")),
    }
}

#[utoipa::path(get, path = "/v1/profiles", tag = "profiles", params(PageQuery),
    responses((status = 200, body = ProfilePage), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn profiles(
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<web::Json<ProfilePage>, ApiError> {
    let limit = page_limit(q.limit)?;
    let after =
        match q.after.as_deref() {
            None => None,
            Some(c) => Some(UserId::parse(c).ok_or_else(|| {
                ApiError::bad_request("after must be a cursor from a previous page")
            })?),
        };
    let page = state.service.public_profiles(after, limit).await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|p| p.id.to_string()))
        .flatten();
    Ok(web::Json(ProfilePage {
        profiles: page.iter().map(PublicProfileView::from).collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/v1/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = PublicProfileView), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn profile(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<PublicProfileView>, ApiError> {
    let id = UserId::parse(&id).ok_or(ApiError::NotFound)?;
    let profile = state
        .service
        .public_profile(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(PublicProfileView::from(&profile)))
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "The public keys that verify access tokens (JWKS)")))]
pub(crate) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    // Public keys may be cached briefly by verifiers; rotation keeps old keys listed until their
    // tokens expire.
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(state.service.jwks())
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// How long `/readyz` waits for the stores: a load balancer's probe is answered within a second
/// whatever they do.
const READINESS_DEADLINE: Duration = Duration::from_millis(800);

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // The checks run side by side under one deadline: a store that hangs is reported unavailable
    // instead of holding the probe (and the ones queued behind it) past its own timeout.
    let deadline = actix_web::rt::time::Instant::now() + READINESS_DEADLINE;
    let pending: Vec<_> = state
        .health
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            let name = store.name();
            (
                name,
                actix_web::rt::spawn(async move { store.check().await.is_ok() }),
            )
        })
        .collect();
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for (name, mut task) in pending {
        let left = deadline.saturating_duration_since(actix_web::rt::time::Instant::now());
        let ok = match actix_web::rt::time::timeout(left, &mut task).await {
            Ok(answer) => answer.unwrap_or(false),
            Err(_) => {
                task.abort();
                false
            }
        };
        ready &= ok;
        checks.insert(name, if ok { "ok" } else { "unavailable" });
    }
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        checks,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus metrics (text exposition)")))]
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
