//! The page's document in the request's language with the configured branding, the accent's
//! stylesheet (`/ui/brand.css`) and the page's messages for its script (`/ui/messages.json`).
//!
//! The document's `{{name}}` placeholders are filled once per request from the branding and the
//! page catalog, HTML-escaped; the script reads every string it shows from the messages.

use crate::AppState;
use crate::brand::{Generated, LANG_COOKIE, Made, Ui, request_language};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::Language;
use std::sync::{Arc, LazyLock};

/// The branding of the app, or the defaults where the page is mounted without state.
pub(crate) fn ui(req: &HttpRequest) -> Arc<Ui> {
    static DEFAULT: LazyLock<Arc<Ui>> = LazyLock::new(|| Arc::new(Ui::default()));
    req.app_data::<web::Data<AppState>>()
        .map_or_else(|| DEFAULT.clone(), |s| s.config.ui.clone())
}

/// `s` safe in HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The name of each language in itself, for the chooser.
const fn own_name(language: Language) -> &'static str {
    match language {
        Language::En => "English",
        Language::De => "Deutsch",
    }
}

/// The document `template` for `language`: values first, then catalog messages; a placeholder
/// that is neither stays, so a test finds it.
pub(crate) fn render(template: &str, ui: &Ui, language: Language) -> String {
    let logo = ui.logo_url.as_ref().map_or_else(String::new, |src| {
        // The product name follows as text, so the image is decoration.
        format!("<img src=\"{}\" alt=\"\">", escape(src))
    });
    let languages: String = Language::ALL
        .iter()
        .map(|l| {
            let current = if *l == language {
                " aria-current=\"true\""
            } else {
                ""
            };
            format!(
                "<a href=\"?lang={0}\" hreflang=\"{0}\" lang=\"{0}\"{current}>{1}</a>",
                l.as_str(),
                own_name(*l)
            )
        })
        .collect();
    let support = ui.support_email.as_ref().map_or_else(String::new, |email| {
        let email = escape(email);
        format!(
            "<footer class=\"foot\"><p>{} <a href=\"mailto:{email}\">{email}</a></p></footer>",
            escape(&ui.catalog.format(language, "support", &[]))
        )
    });
    let product = escape(&ui.product_name);
    let values: [(&str, &str); 5] = [
        ("lang", language.as_str()),
        ("product", &product),
        ("logo", &logo),
        ("languages", &languages),
        ("support", &support),
    ];
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match values.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(v),
            None if ui.catalog.has(language, name) => {
                out.push_str(&escape(&ui.catalog.format(language, name, &[])));
            }
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The page CSP, with the logo's origin among the image sources when it is on another host.
pub(crate) fn page_csp(ui: &Ui) -> String {
    let logo_origin = ui
        .logo_url
        .as_deref()
        .and_then(|u| u.strip_prefix("https://"))
        .and_then(|rest| rest.split('/').next())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(|host| format!(" https://{host}"))
        .unwrap_or_default();
    super::page::PAGE_CSP.replace(
        "img-src 'self' data:;",
        &format!("img-src 'self' data:{logo_origin};"),
    )
}

fn made(body: String) -> Made {
    let tag = format!("\"{:016x}\"", super::page::fnv1a(body.as_bytes()));
    Made { body, tag }
}

fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag || t.trim() == "*")
}

/// A generated answer: revalidated by its ETag, varying with what chose its language.
fn answer(req: &HttpRequest, made: &Made, content_type: &'static str, csp: &str) -> HttpResponse {
    let unchanged = not_modified(req, &made.tag);
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::VARY,
            HeaderValue::from_static("Accept-Language, Cookie"),
        ))
        .insert_header((header::ETAG, made.tag.clone()));
    if let Ok(csp) = HeaderValue::from_str(csp) {
        res.insert_header((header::CONTENT_SECURITY_POLICY, csp));
    }
    if unchanged {
        return res.finish();
    }
    res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .body(made.body.clone())
}

/// The document. A `?lang=` that names one of our languages is kept in the `lang` cookie, so the
/// choice holds for the next visit and for the API calls of this one.
pub(crate) async fn index(req: HttpRequest) -> HttpResponse {
    if let Some(redirect) = super::page::to_public_url(&req) {
        return redirect;
    }
    let ui = ui(&req);
    let language = request_language(&req, ui.default_language);
    let document = ui.generated.documents[Generated::slot(language)]
        .get_or_init(|| made(render(super::page::INDEX.body, &ui, language)));
    let csp = ui.generated.csp.get_or_init(|| page_csp(&ui));
    let mut res = answer(&req, document, "text/html; charset=utf-8", csp);
    let chosen = req.query_string().split('&').any(|p| {
        p.strip_prefix("lang=")
            .is_some_and(|v| Language::parse(v).is_ok())
    });
    if chosen {
        let cookie = Cookie::build(LANG_COOKIE, language.as_str())
            .path("/")
            .secure(true)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::days(365))
            .finish();
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// `:root { --accent: … }` for both themes.
pub(crate) async fn brand_css(req: HttpRequest) -> HttpResponse {
    let ui = ui(&req);
    let stylesheet = ui
        .generated
        .stylesheet
        .get_or_init(|| made(ui.accent.stylesheet()));
    answer(
        &req,
        stylesheet,
        "text/css; charset=utf-8",
        super::page::PAGE_CSP,
    )
}

/// Every page message of the request's language, variables as `{name}` for the script.
pub(crate) async fn messages(req: HttpRequest) -> HttpResponse {
    let ui = ui(&req);
    let language = request_language(&req, ui.default_language);
    let messages = ui.generated.messages[Generated::slot(language)].get_or_init(|| {
        let mut patterns = ui.catalog.patterns(language);
        patterns.insert("lang".to_owned(), language.as_str().to_owned());
        made(serde_json::to_string(&patterns).unwrap_or_else(|_| "{}".to_owned()))
    });
    answer(
        &req,
        messages,
        "application/json",
        "default-src 'none'; frame-ancestors 'none'",
    )
}
