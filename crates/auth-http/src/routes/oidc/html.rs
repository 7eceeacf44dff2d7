//! The few HTML pages the provider renders itself, which the browser reaches without our page:
//! an error that must not go back to the client, and the sign-out confirmation (the consent
//! screen is the page's, its texts in `static/oidc.js`). Plain forms, no script, no inline style.
//! Every sentence is in [`TEXT`], so it can move to the translation catalogs as one piece.

use crate::routes::ui::escape;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// Every sentence of these pages.
pub(super) const TEXT: Text = Text {
    error_title: "This sign-in request cannot be used",
    error_back: "Go back to the app and try again. If it keeps happening, tell the app's team.",
    logout_title: "Sign out?",
    logout_intro: "Sign out of this device, and return to",
    logout_confirm: "Sign out",
};

/// The sentences of [`TEXT`].
#[derive(Debug)]
pub(super) struct Text {
    pub error_title: &'static str,
    pub error_back: &'static str,
    pub logout_title: &'static str,
    pub logout_intro: &'static str,
    pub logout_confirm: &'static str,
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    page_with_form(status, title, body, None)
}

/// A page whose form posts to ourselves and may then be redirected to `then` (an origin): browsers
/// hold a form's redirects to `form-action` too. Its own referrer policy is `same-origin`, because
/// under the API's `no-referrer` a browser sends a form post's `Origin` as `null`, which our
/// origin check must refuse.
pub(super) fn page_with_form(
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
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t}</title></head><body><main><h1>{t}</h1>{body}</main></body></html>\n",
            t = escape(title)
        ))
}

/// An error we show ourselves because the client cannot be trusted with it.
pub(super) fn error(reason: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        TEXT.error_title,
        &format!(
            "<p>{}</p><p><small>{}</small></p>",
            escape(TEXT.error_back),
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
