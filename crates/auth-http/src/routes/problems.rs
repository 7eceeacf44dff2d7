//! `/problems/{code}`: the page each problem's `type` URI names, saying what the code means and
//! what to do about it.

use crate::error::ApiError;
use actix_web::{HttpResponse, web};

/// Every `code` a problem can carry, with its status and an explanation for the person reading.
pub(crate) const PROBLEMS: &[(&str, u16, &str)] = &[
    (
        "invalid_request",
        400,
        "The request is malformed: the body is not valid JSON, has unknown or missing fields or wrong types, or a query parameter is not valid. The `detail` says which.",
    ),
    (
        "code_invalid",
        400,
        "The code is wrong, expired, already used or replaced by a newer one, or the attempt is unknown. Every such failure gets this one answer. Ask for a new code.",
    ),
    (
        "attempt_invalid",
        400,
        "This sign-in attempt has ended and cannot send another code. Start again.",
    ),
    (
        "revert_invalid",
        400,
        "The link that undoes an email change is unknown, was used already or has expired.",
    ),
    (
        "passkey_invalid",
        400,
        "The passkey could not be verified. Every reason gets this one answer. Try again or sign in with an email code.",
    ),
    (
        "unauthorized",
        401,
        "No valid access token came with the request. Sign in, or refresh the session.",
    ),
    (
        "refresh_invalid",
        401,
        "The refresh token is not valid (expired, revoked or already used). Sign in again.",
    ),
    (
        "reauth_required",
        403,
        "This change needs a sign-in from the last few minutes. Sign in again, then repeat it.",
    ),
    (
        "forbidden_origin",
        403,
        "A change authenticated by cookie came from a page of another origin, or without an Origin header. Open the service at its public address and try again there.",
    ),
    (
        "not_found",
        404,
        "There is nothing at this address, or the resource belongs to nobody you can see.",
    ),
    (
        "method_not_allowed",
        405,
        "This address does not accept that HTTP method.",
    ),
    (
        "request_timeout",
        408,
        "The request body did not arrive in time.",
    ),
    (
        "email_taken",
        409,
        "The address belongs to another account.",
    ),
    ("passkey_exists", 409, "This passkey is already registered."),
    (
        "payload_too_large",
        413,
        "The request body is larger than the service accepts.",
    ),
    (
        "unsupported_media_type",
        415,
        "The body must be sent as `application/json`.",
    ),
    ("invalid_email", 422, "The email address is not valid."),
    (
        "invalid_display_name",
        422,
        "The name is empty, too long or contains characters that are not allowed.",
    ),
    (
        "invalid_language",
        422,
        "The language is not one the service speaks: `en` or `de`.",
    ),
    (
        "invalid_code_format",
        422,
        "The code does not have the shape of a code: 8 letters and digits.",
    ),
    (
        "same_email",
        422,
        "The new address is already the account's address.",
    ),
    (
        "rate_limited",
        429,
        "Too many requests of this kind. Wait the number of seconds in `Retry-After` (also in `retry_after`) and try again.",
    ),
    (
        "unavailable",
        503,
        "The service cannot reach its storage right now. Try again after `Retry-After` seconds.",
    ),
    (
        "internal",
        500,
        "Something went wrong on the service's side. The cause is logged; nothing is wrong with the request.",
    ),
];

/// The explanation of a problem code, as a small HTML page.
#[utoipa::path(get, path = "/problems/{code}", tag = "operations",
    params(("code" = String, Path, description = "A problem's `code`")),
    responses((status = 200, description = "What the code means", content_type = "text/html"),
              (status = 404, body = crate::error::Problem)))]
pub(crate) async fn problem(code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (code, status, text) = PROBLEMS
        .iter()
        .find(|(c, ..)| *c == code.as_str())
        .ok_or(ApiError::NotFound)?;
    // Every piece is a constant from the table above, so nothing needs escaping but the
    // backticks, shown as code.
    let text = backticks_to_code(text);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title></head>\n\
         <body><h1><code>{code}</code> (HTTP {status})</h1>\n<p>{text}</p></body></html>\n"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

fn backticks_to_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}
