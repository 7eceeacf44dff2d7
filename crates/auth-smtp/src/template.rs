//! A tiny template filler: `{{name}}` placeholders, replaced in one pass, HTML-escaped in HTML.
//!
//! One pass means a value is never scanned again, so a display name such as `{{code}}` stays
//! literal text instead of pulling another value in.

/// How values are written into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Plain text: values as they are.
    Text,
    /// HTML: [`Value::Text`] escaped, [`Value::Html`] as it is.
    Html,
}

/// One value for a placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// Text from anywhere, escaped in HTML.
    Text(&'a str),
    /// HTML this crate produced itself (a rendered inner template). Never pass outside input here.
    Html(&'a str),
}

/// Fills `template`: a placeholder takes its value from `vars`, else from `lookup` (a catalog
/// message, escaped like text). A placeholder without either is left as it is, so a test over
/// every template can find it.
pub(crate) fn fill(
    template: &str,
    vars: &[(&str, Value<'_>)],
    format: Format,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = find_pair(rest, b'{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = find_pair(after, b'}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, Value::Text(v))) if format == Format::Html => escape_html(v, &mut out),
            Some((_, Value::Text(v) | Value::Html(v))) => out.push_str(v),
            None => match lookup(name) {
                Some(v) if format == Format::Html => escape_html(&v, &mut out),
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            },
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Where `b` first appears twice in a row in `s` (`{{` or `}}`). A search for one byte, unlike
/// one for a two-byte string, needs no searcher set up per call, and mail is filled per message.
fn find_pair(s: &str, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&c| c == b) {
        let at = from + i;
        if bytes.get(at + 1) == Some(&b) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The names of a template's placeholders, in order.
pub(crate) fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split("{{")
        .skip(1)
        .filter_map(|p| p.split_once("}}").map(|(name, _)| name.trim()))
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(s: &str, out: &mut String) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_escapes_and_keeps_unknown_placeholders() {
        let vars = [
            ("name", Value::Text("<b>Bo & \"Al\"</b>")),
            ("inner", Value::Html("<p>x</p>")),
        ];
        let t = "Hi {{name}}, {{ inner }} {{missing}} {{open";
        assert_eq!(
            fill(t, &vars, Format::Text, &|_| None),
            "Hi <b>Bo & \"Al\"</b>, <p>x</p> {{missing}} {{open"
        );
        assert_eq!(
            fill(t, &vars, Format::Html, &|_| None),
            "Hi &lt;b&gt;Bo &amp; &quot;Al&quot;&lt;/b&gt;, <p>x</p> {{missing}} {{open"
        );
    }

    #[test]
    fn values_are_not_scanned_again() {
        let vars = [
            ("name", Value::Text("{{code}}")),
            ("code", Value::Text("SECRET")),
        ];
        assert_eq!(fill("{{name}}", &vars, Format::Text, &|_| None), "{{code}}");
    }
}
