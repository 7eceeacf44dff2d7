//! The OpenAPI document, generated from the handlers and wire types (served at `/openapi.json`).

use crate::error::Problem;
use crate::routes;
use crate::wire::*;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ObjectBuilder, Ref, RefOr, Response, Type};
use utoipa::{Modify, OpenApi};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Passwordless auth API", description = "Sign up, sign in and recover accounts with passkeys and email codes."),
    paths(
        routes::codes::signup, routes::codes::login, routes::codes::recovery, routes::codes::resend, routes::codes::verify,
        routes::codes::refresh, routes::account::logout, routes::account::me, routes::account::update_profile,
        routes::account::delete_account, routes::account::start_email_change, routes::account::verify_email_change,
        routes::account::revert_email_change,
        routes::account::sessions, routes::account::revoke_all, routes::account::revoke_session, routes::account::activity,
        routes::apps::list_apps, routes::apps::remove_app,
        routes::passkeys::register_options, routes::passkeys::register_finish, routes::passkeys::login_options,
        routes::passkeys::login_finish, routes::passkeys::list, routes::passkeys::rename, routes::passkeys::delete,
        routes::public::profiles, routes::public::profile, routes::public::jwks, routes::public::healthz,
        routes::public::readyz, routes::public::openapi, routes::public::metrics, routes::problems::problem,
    ),
    components(schemas(Problem, SignupRequest, EmailRequest, AttemptStarted, ResendRequest, VerifyRequest, RefreshRequest, Me, Tokens,
        SignedInResponse, ProfilePatch, EmailVerifyRequest, SessionView, SessionList, Revoked, ActivityEvent, ActivityList,
        PublicProfileView, ProfilePage, Readiness, PasskeyOptions, PasskeyRegisterFinish, PasskeyLoginFinish, PasskeyView, PasskeyList,
        PasskeyRename, RevertRequest, RevertResult, AppView, AppList)),
    modifiers(&BearerAuth, &Problems)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every error is sent as `application/problem+json`, and some can come from any operation of a
/// kind (a malformed body, a missing token, a store that is down). Adding those here, once, keeps
/// the document true without repeating them on every handler.
struct Problems;

/// The media type of every error answer.
const PROBLEM_JSON: &str = "application/problem+json";

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            // The admin API reads stores too, but takes no cookies, so no origin check applies.
            let admin = path.starts_with("/admin/v1/");
            let api = path.starts_with("/v1/") || (admin && !path.ends_with("/openapi.json"));
            let ops = [
                (&mut item.get, false),
                (&mut item.post, !admin),
                (&mut item.put, !admin),
                (&mut item.patch, !admin),
                (&mut item.delete, !admin),
            ];
            for (op, changes) in ops {
                if let Some(op) = op.as_mut() {
                    complete(op, api, changes);
                }
            }
        }
    }
}

/// Adds to `openapi` (the admin API's document) the errors its operations can give by their kind.
pub(crate) fn complete_errors(openapi: &mut utoipa::openapi::OpenApi) {
    Problems.modify(openapi);
}

/// Adds the errors an operation can give by its kind, moves every error to `problem+json`, and
/// gives every answer a description.
fn complete(op: &mut Operation, api: bool, changes: bool) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let mut common = Vec::new();
    if op.request_body.is_some() {
        // `JsonBody`: malformed or unknown fields, too slow, too large, not JSON.
        common.extend(["400", "408", "413", "415"]);
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
        common.push("400");
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        common.push("404");
    }
    if op.security.is_some() {
        common.push("401");
        if changes {
            // A change authenticated by cookie must come from our own origin.
            common.push("403");
        }
    }
    if api {
        // Every API operation reads a store; one that is down gives 503 with `Retry-After`.
        common.push("503");
    }
    let responses = &mut op.responses.responses;
    for status in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new("")));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if response.description.is_empty() {
            response.description = describe(status).to_owned();
        }
        if !status.starts_with(['4', '5']) {
            continue;
        }
        let content = response
            .content
            .shift_remove("application/json")
            .unwrap_or_else(|| Content::new(Some(Ref::from_schema_name("Problem"))));
        response.content.insert(PROBLEM_JSON.to_owned(), content);
        if matches!(status.as_str(), "429" | "503") {
            let mut retry = Header::new(ObjectBuilder::new().schema_type(Type::Integer));
            retry.description = Some("Seconds to wait before trying again".to_owned());
            response.headers.insert("Retry-After".to_owned(), retry);
        }
    }
}

/// The description of an answer whose handler gave none.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "Success",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done; no body",
        "400" => {
            "`invalid_request`: a malformed body or query (bad JSON, unknown fields, wrong types), or a code, token or credential that is not valid"
        }
        "401" => "`unauthorized`: no valid access token (header or cookie)",
        "403" => {
            "`forbidden_origin`: a change authenticated by cookie came from another site; or `reauth_required`"
        }
        "404" => "`not_found`: no such resource",
        "408" => "`request_timeout`: the body did not arrive in time",
        "409" => "`email_taken` or `passkey_exists`: a conflict with existing data",
        "413" => "`payload_too_large`: the body is too large",
        "415" => "`unsupported_media_type`: the body must be `application/json`",
        "422" => {
            "A field value is invalid; `code` names which (`invalid_email`, `invalid_display_name` ...)"
        }
        "429" => "`rate_limited`: too many requests; wait `Retry-After` seconds",
        "503" => "`unavailable`: a store is down; try again after `Retry-After` seconds",
        _ => "See the problem's `code`",
    }
}
