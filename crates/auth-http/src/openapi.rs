//! The OpenAPI document, generated from the handlers and wire types (served at `/openapi.json`).

use crate::error::Problem;
use crate::routes;
use crate::wire::*;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
        routes::passkeys::register_options, routes::passkeys::register_finish, routes::passkeys::login_options,
        routes::passkeys::login_finish, routes::passkeys::list, routes::passkeys::rename, routes::passkeys::delete,
        routes::public::profiles, routes::public::profile, routes::public::jwks, routes::public::healthz,
        routes::public::readyz, routes::public::openapi, routes::public::metrics,
    ),
    components(schemas(Problem, SignupRequest, EmailRequest, AttemptStarted, ResendRequest, VerifyRequest, RefreshRequest, Me, Tokens,
        SignedInResponse, ProfilePatch, EmailVerifyRequest, SessionView, SessionList, Revoked, ActivityEvent, ActivityList,
        PublicProfileView, ProfilePage, Readiness, PasskeyOptions, PasskeyRegisterFinish, PasskeyLoginFinish, PasskeyView, PasskeyList,
        PasskeyRename, RevertRequest, RevertResult)),
    modifiers(&BearerAuth)
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
