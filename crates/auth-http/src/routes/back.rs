//! `return_to`: after a sign-in the page sends the browser back to an app of the operator's, but
//! only to an origin listed in `server.allowed_return_origins`. The page never decides that
//! itself: it goes to `GET /ui/return?to=URL`, which redirects to the URL when its origin is
//! allowed and to our own page otherwise, so no open redirect can be built from the page.

use crate::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The longest `return_to` followed; longer ones are ignored.
const MAX_RETURN_LEN: usize = 2048;

/// `url` as the browser will read it, if it is an absolute `http(s)` URL without user info whose
/// origin is one of `allowed` (normalised origins, as `crate::normalise_origin` writes them).
///
/// The URL is parsed as browsers parse it (WHATWG), and the answer is its serialisation, so what
/// was checked is exactly where the browser goes: a relative or scheme-relative URL (`//host`),
/// another scheme (`javascript:`, `data:`), user info (`https://ok@evil`), a backslash that
/// browsers read as a slash, or a percent-encoded host all resolve to what they mean before the
/// comparison.
pub(crate) fn allowed_return(url: &str, allowed: &[String]) -> Option<String> {
    if url.is_empty() || url.len() > MAX_RETURN_LEN || allowed.is_empty() {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return None;
    }
    let origin = parsed.origin().ascii_serialization();
    allowed.contains(&origin).then(|| parsed.to_string())
}

/// `GET /ui/return?to=URL`: 303 to `URL` when its origin is allowed, else to our own page.
pub(crate) async fn back(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let to = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let target = allowed_return(&to, &state.config.return_origins).unwrap_or_else(|| "/".into());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, target))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::allowed_return;

    fn allowed() -> Vec<String> {
        vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
        ]
    }

    #[test]
    fn an_allowed_origin_is_followed_as_the_browser_reads_it() {
        for (given, expected) in [
            (
                "https://app.example.com/after?x=1#top",
                "https://app.example.com/after?x=1#top",
            ),
            ("https://app.example.com", "https://app.example.com/"),
            ("HTTPS://APP.example.com:443/a", "https://app.example.com/a"),
            ("https://%61pp.example.com/a", "https://app.example.com/a"),
            ("http://localhost:3000/cb", "http://localhost:3000/cb"),
            (" https://app.example.com/\t", "https://app.example.com/"),
        ] {
            assert_eq!(
                allowed_return(given, &allowed()).as_deref(),
                Some(expected),
                "{given}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for given in [
            "",
            "/account",
            "//evil.example/",
            "\\\\evil.example/",
            "/\\evil.example/",
            "https:evil.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://app.example.com/",
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://evil.example\\@app.example.com/",
            "https://app.example.com@evil.example/",
            "https://user:pw@app.example.com/",
            "https://app.example.com%2F@evil.example/",
            "https%3A%2F%2Fapp.example.com%2F",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "http://localhost:3001/",
            "http://127.0.0.1:3000/",
        ] {
            assert_eq!(allowed_return(given, &allowed()), None, "{given:?}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(2100));
        assert_eq!(allowed_return(&long, &allowed()), None);
        assert_eq!(allowed_return("https://app.example.com/", &[]), None);
    }
}
