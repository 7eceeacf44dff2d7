//! The apps an account has let sign it in (OpenID Connect consents), for the account page, and
//! taking an app's access back. Without configured clients the list is empty.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Authenticated, client_info};
use crate::wire::{AppList, AppView, rfc3339};
use actix_web::{HttpRequest, HttpResponse, web};

#[utoipa::path(get, path = "/v1/me/apps", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = AppList), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn list_apps(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<web::Json<AppList>, ApiError> {
    let Some(op) = &state.oidc else {
        return Ok(web::Json(AppList { apps: Vec::new() }));
    };
    let apps = op.consented_apps(&who.principal.user_id).await?;
    Ok(web::Json(AppList {
        apps: apps
            .into_iter()
            .map(|a| AppView {
                client_id: a.client_id.as_str().to_owned(),
                name: a.name,
                scopes: a.scopes.iter().map(|s| s.as_str()).collect(),
                granted_at: rfc3339(a.granted_at),
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/me/apps/{client_id}", tag = "account", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client id")),
    responses((status = 204, description = "The consent is forgotten and the app's sessions of the account ended"),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn remove_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let op = state.oidc.as_ref().ok_or(ApiError::NotFound)?;
    let info = client_info(&req, &state.config);
    if op
        .revoke_consent(&who.principal.user_id, &client_id, &info)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}
