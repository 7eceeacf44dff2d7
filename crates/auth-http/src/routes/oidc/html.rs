//! The few HTML pages the provider renders itself, which the browser reaches without our page:
//! an error that must not go back to the client, and the sign-out confirmation (the consent
//! screen is the page's, its texts in `static/oidc.js`). Plain forms, no script, no inline style.
//! Their sentences are the page catalog's `oidc-*` messages, in the request's language (`?lang=`,
//! the `lang` cookie, `Accept-Language`, the default), as for the page itself.

use crate::brand::request_language;
use crate::routes::ui::{escape, ui};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

/// Message `id` of the page catalog (`oidc-*` in `page.ftl`) in the request's language.
pub(super) fn text(req: &HttpRequest, id: &str) -> String {
    let ui = ui(req);
    ui.catalog
        .format(request_language(req, ui.default_language), id, &[])
}

pub(super) fn page(req: &HttpRequest, status: StatusCode, title: &str, body: &str) -> HttpResponse {
    page_with_form(req, status, title, body, None)
}

/// A page whose form posts to ourselves and may then be redirected to `then` (an origin): browsers
/// hold a form's redirects to `form-action` too. Its own referrer policy is `same-origin`, because
/// under the API's `no-referrer` a browser sends a form post's `Origin` as `null`, which our
/// origin check must refuse.
pub(super) fn page_with_form(
    req: &HttpRequest,
    status: StatusCode,
    title: &str,
    body: &str,
    then: Option<&str>,
) -> HttpResponse {
    let form_action = match then {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(format!(
            "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t}</title></head><body><main><h1>{t}</h1>{body}</main></body></html>\n",
            t = escape(title),
            lang = {
                let ui = ui(req);
                request_language(req, ui.default_language).as_str()
            },
        ))
}

/// An error we show ourselves because the client cannot be trusted with it. `reason` is for the
/// app's developers and stays as the provider wrote it.
pub(super) fn error(req: &HttpRequest, reason: &str) -> HttpResponse {
    page(
        req,
        StatusCode::BAD_REQUEST,
        &text(req, "oidc-error-title"),
        &format!(
            "<p>{}</p><p><small>{}</small></p>",
            escape(&text(req, "oidc-error-back")),
            escape(reason)
        ),
    )
}

/// Hidden form fields.
pub(super) fn hidden(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect()
}
