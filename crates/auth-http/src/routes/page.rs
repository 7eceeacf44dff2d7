//! The bundled web page: one HTML document, its script modules and its style, compiled into the binary.
//!
//! The files live in `crates/auth-http/static/` and need no build step. They are served with a
//! page CSP stricter than usual for a page (no inline script or style at all), which replaces the
//! API's `default-src 'none'` on these answers only.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Resource, guard, web};

/// Only our own script, style and API; images only from us or `data:` (the favicon placeholder).
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One embedded file and how to serve it.
pub(crate) struct Asset {
    pub(crate) body: &'static str,
    content_type: &'static str,
    etag: &'static str,
}

/// A strong validator from the content, so `no-cache` costs a 304 instead of the whole file.
/// FNV-1a: not for security, only to notice that a file changed between two builds.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 hex digits + `"`, computed at compile time.
const fn etag_bytes(body: &str) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(body.as_bytes());
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($file:literal, $content_type:literal) => {{
        const BODY: &str = include_str!(concat!("../../static/", $file));
        const ETAG: [u8; 18] = etag_bytes(BODY);
        Asset {
            body: BODY,
            content_type: $content_type,
            // Hex digits and quotes are always UTF-8; the fallback is unreachable but keeps this
            // free of panics.
            etag: match std::str::from_utf8(&ETAG) {
                Ok(s) => s,
                Err(_) => "\"0\"",
            },
        }
    }};
}

/// The document as a template: `routes/ui.rs` fills in language, branding and messages.
pub(crate) const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Every file besides the document, by path. The script is split into ES modules that import each
/// other by these paths, so a new module needs a line here.
const FILES: [(&str, Asset); 10] = [
    (
        "/i18n.js",
        asset!("i18n.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/app.js",
        asset!("app.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/api.js",
        asset!("api.js", "text/javascript; charset=utf-8"),
    ),
    ("/ui.js", asset!("ui.js", "text/javascript; charset=utf-8")),
    (
        "/signin.js",
        asset!("signin.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/account.js",
        asset!("account.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/settings.js",
        asset!("settings.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/reauth.js",
        asset!("reauth.js", "text/javascript; charset=utf-8"),
    ),
    (
        "/oidc.js",
        asset!("oidc.js", "text/javascript; charset=utf-8"),
    ),
    ("/app.css", asset!("app.css", "text/css; charset=utf-8")),
];

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let not_modified = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    ))
    // Always revalidate, so a new server version is picked up at once; the ETag keeps it cheap.
    .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
    .insert_header((header::ETAG, HeaderValue::from_static(asset.etag)));
    if not_modified {
        res.finish()
    } else {
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ))
        .body(asset.body)
    }
}

/// One of [`FILES`], found by the request's path (the route only matches those paths).
async fn file(req: HttpRequest) -> HttpResponse {
    if let Some(redirect) = to_public_url(&req) {
        return redirect;
    }
    match FILES.iter().find(|(path, _)| *path == req.path()) {
        Some((_, asset)) => serve(&req, asset),
        None => HttpResponse::NotFound().finish(),
    }
}

/// In development (a public URL on `localhost` or a loopback address), the page opened under
/// another host name, say `127.0.0.1` instead of `localhost`, would load but fail later: passkeys
/// are bound to the public URL's host and changes must come from its origin. Such a request is
/// sent to the same path at the public URL instead. In production a host name mismatch is the
/// proxy's business, so nothing is redirected there.
pub(crate) fn to_public_url(req: &HttpRequest) -> Option<HttpResponse> {
    let origin = &req
        .app_data::<web::Data<crate::AppState>>()?
        .config
        .public_origin;
    let (scheme, authority) = origin.split_once("://")?;
    if !is_loopback(authority) {
        return None;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    if crate::normalise_origin(&format!("{scheme}://{host}")).as_deref() == Some(origin.as_str()) {
        return None;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    // Temporary: the public URL is a setting and may change.
    Some(
        HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, format!("{origin}{path}")))
            .finish(),
    )
}

/// Whether `authority` (`host[:port]`) names this machine: `localhost`, a name under it, or a
/// loopback address.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The page's routes, answering GET and HEAD (other methods get the usual `problem+json` 405).
pub(crate) fn resources() -> Vec<Resource> {
    let read = || guard::Any(guard::Get()).or(guard::Head());
    let mut all = vec![
        super::resource("/").route(web::route().guard(read()).to(super::ui::index)),
        super::resource("/ui/brand.css").route(web::route().guard(read()).to(super::ui::brand_css)),
        super::resource("/ui/messages.json")
            .route(web::route().guard(read()).to(super::ui::messages)),
    ];
    all.extend(
        FILES
            .iter()
            .map(|(path, _)| super::resource(path).route(web::route().guard(read()).to(file))),
    );
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::App;
    use actix_web::test as http;

    #[actix_web::test]
    async fn the_page_its_script_and_its_style_are_served_with_the_page_csp() {
        let app = http::init_service(App::new().service(resources())).await;
        let modules = FILES
            .iter()
            .filter(|(path, _)| path.ends_with(".js"))
            .map(|(path, _)| (*path, "text/javascript; charset=utf-8", "//"));
        for (path, content_type, needle) in [
            (
                "/",
                "text/html; charset=utf-8",
                "<script type=\"module\" src=\"/app.js\">",
            ),
            (
                "/signin.js",
                "text/javascript; charset=utf-8",
                "navigator.credentials",
            ),
            ("/app.css", "text/css; charset=utf-8", "[hidden]"),
        ]
        .into_iter()
        .chain(modules)
        {
            let res =
                http::call_service(&app, http::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), 200, "{path}");
            let h = res.headers();
            assert_eq!(
                h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                Some(content_type),
                "{path}"
            );
            assert_eq!(
                h.get(header::CONTENT_SECURITY_POLICY)
                    .and_then(|v| v.to_str().ok()),
                Some(PAGE_CSP),
                "{path}"
            );
            assert_eq!(
                h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()),
                Some("no-cache"),
                "{path}"
            );
            let etag = h
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .expect("an etag");
            let body = http::read_body(res).await;
            assert!(
                String::from_utf8_lossy(&body).contains(needle),
                "{path} holds {needle}"
            );

            let again = http::TestRequest::get()
                .uri(path)
                .insert_header((header::IF_NONE_MATCH, etag.as_str()))
                .to_request();
            let res = http::call_service(&app, again).await;
            assert_eq!(res.status(), 304, "{path} revalidates");
            assert!(http::read_body(res).await.is_empty());
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = INDEX.body.to_ascii_lowercase();
        // The CSP would block them anyway; this catches them before a browser does.
        assert!(!html.contains(" style="), "a style attribute");
        assert!(!html.contains("<style"), "a style element");
        assert!(
            !has_event_handler_attribute(&html),
            "an event handler attribute"
        );
        assert!(!html.contains("javascript:"), "a javascript: URL");
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..html[i..].find('>').map_or(html.len(), |end| i + end)];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
    }

    /// Whether some tag carries an `on...=` attribute (text between tags may say "on" freely).
    fn has_event_handler_attribute(html: &str) -> bool {
        html.split('<')
            .filter_map(|rest| rest.split('>').next())
            .any(|tag| {
                tag.split_whitespace().skip(1).any(|attr| {
                    let name = attr.split('=').next().unwrap_or_default();
                    attr.contains('=')
                        && name.len() > 2
                        && name.starts_with("on")
                        && name[2..].chars().all(|c| c.is_ascii_alphabetic())
                })
            })
    }

    #[test]
    fn the_event_handler_check_sees_handlers_only_in_tags() {
        assert!(has_event_handler_attribute(
            "<button onclick=\"x()\">go</button>"
        ));
        assert!(!has_event_handler_attribute(
            "<p>sign in on this device</p><input id=\"one\">"
        ));
    }

    /// The quoted strings (`"..."` and `` `...` ``) of a script, outside comment lines.
    fn literals(script: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in script.lines() {
            let code = line.trim_start();
            if code.starts_with("//") || code.starts_with('*') || code.starts_with("/*") {
                continue;
            }
            for quote in ['"', '`'] {
                let parts: Vec<&str> = code.split(quote).collect();
                out.extend(parts.iter().skip(1).step_by(2).map(|p| (*p).to_owned()));
            }
        }
        out
    }

    /// Every sentence the page shows comes from the catalog: no script holds one of its own (a
    /// capitalised word followed by a lower-case one, or a progress label ending in `…`), and
    /// every message a script asks for by name exists.
    #[test]
    fn the_scripts_show_only_catalog_messages() {
        let catalog = auth_i18n::Catalog::builtin(auth_i18n::Domain::Page);
        let mut asked = 0;
        for (path, asset) in FILES.iter().filter(|(p, _)| p.ends_with(".js")) {
            for literal in literals(asset.body) {
                let mut words = literal.split_whitespace();
                let first = words.next().unwrap_or_default();
                let second = words.next().unwrap_or_default();
                let sentence = first.chars().next().is_some_and(char::is_uppercase)
                    && second
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase());
                assert!(
                    !sentence && !literal.ends_with('…'),
                    "{path} shows its own text: {literal:?}"
                );
            }
            let body = asset.body;
            for (at, _) in body.match_indices("t(\"") {
                // `t(` itself, not the end of another name such as `request(`.
                if body[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    continue;
                }
                let key = body[at + 3..].split('"').next().unwrap_or_default();
                for language in auth_core::Language::ALL {
                    assert!(
                        catalog.has(language, key),
                        "{path} asks for `{key}` ({language})"
                    );
                }
                asked += 1;
            }
        }
        assert!(asked > 60, "the scripts ask the catalog ({asked})");
    }

    #[test]
    fn every_module_the_scripts_import_is_served_and_none_is_long() {
        let served: Vec<&str> = FILES.iter().map(|(path, _)| *path).collect();
        for (path, asset) in FILES.iter().filter(|(path, _)| path.ends_with(".js")) {
            // Each `from "./x.js"` must name a served file, or the page fails to load.
            for import in asset.body.split("from \"./").skip(1) {
                let name = import.split('"').next().unwrap_or_default();
                assert!(
                    served.contains(&format!("/{name}").as_str()),
                    "{path} imports {name}"
                );
            }
            assert!(
                asset.body.lines().count() <= 600,
                "{path} is over 600 lines: split it"
            );
        }
    }

    #[test]
    fn etags_follow_the_content() {
        assert_ne!(etag_bytes("a"), etag_bytes("b"));
        assert_eq!(INDEX.etag.len(), 18);
        assert!(INDEX.etag.starts_with('"') && INDEX.etag.ends_with('"'));
    }
}
