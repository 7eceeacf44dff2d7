//! The shipped catalogs are complete in every language and the overrides are checked.

use super::*;

fn strict_shapes(domain: Domain, language: Language) -> BTreeMap<String, MessageShape> {
    let source = domain.builtin_source(language);
    if let Err((_, errors)) = fluent_syntax::parser::parse(source) {
        panic!("{language}/{}: {errors:?}", domain.file_name());
    }
    shapes(source)
}

/// Fails when a catalog misses a message that another language has, or when a message uses a
/// variable that the same message of another language does not.
#[test]
fn every_language_has_every_message_with_the_same_variables() {
    for domain in [Domain::Page, Domain::Mail] {
        let english = strict_shapes(domain, Language::En);
        assert!(!english.is_empty(), "{domain:?} has messages");
        for language in Language::ALL {
            let other = strict_shapes(domain, language);
            let file = format!("{language}/{}", domain.file_name());
            for id in english.keys() {
                assert!(other.contains_key(id), "{file} misses `{id}`");
            }
            for (id, shape) in &other {
                let en = english
                    .get(id)
                    .unwrap_or_else(|| panic!("en/{} misses `{id}` of {file}", domain.file_name()));
                assert_eq!(
                    shape.variables, en.variables,
                    "`{id}` uses other variables in {file} than in English"
                );
            }
        }
    }
}

#[test]
fn formats_numbers_text_and_selectors() {
    let mail = Catalog::builtin(Domain::Mail);
    let args = [
        ("product", Arg::Text("Acme")),
        ("recovery", Arg::Text("yes")),
    ];
    assert_eq!(
        mail.format(Language::En, "sign-in-notice-intro", &args),
        "Someone signed in to your Acme account with a recovery code sent to this address."
    );
    assert!(
        mail.format(Language::De, "sign-in-notice-intro", &args)
            .contains("einem Wiederherstellungscode")
    );
    assert_eq!(
        mail.format(Language::De, "no-such-message", &[]),
        "no-such-message"
    );
}

#[test]
fn patterns_leave_placeholders_for_the_client() {
    let mail = Catalog::builtin(Domain::Mail);
    let p = mail.patterns(Language::De);
    assert_eq!(p["go-to"], "Zu {product}");
    assert_eq!(p.len(), mail.ids(Language::De).len());
}

fn write(dir: &Path, lang: &str, file: &str, text: &str) -> PathBuf {
    let folder = dir.join("locales").join(lang);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn overrides_replace_single_messages_of_one_language() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "de",
        "mail.ftl",
        "go-to = Weiter zu { $product }\n",
    );
    let mail = Catalog::with_overrides(Domain::Mail, dir.path()).unwrap();
    let args = [("product", Arg::Text("Acme"))];
    assert_eq!(mail.format(Language::De, "go-to", &args), "Weiter zu Acme");
    assert_eq!(mail.format(Language::En, "go-to", &args), "Go to Acme");
    let page = Catalog::with_overrides(Domain::Page, dir.path()).unwrap();
    assert_eq!(page.format(Language::De, "page-title", &[]), "Anmelden");
}

#[test]
fn bad_overrides_name_the_file() {
    let cases = [
        ("go-to = { $nope }\n", "unknown variable `$nope`"),
        ("no-such-message = x\n", "unknown message `no-such-message`"),
        ("go-to = { \n", "not valid Fluent"),
    ];
    for (text, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "en", "mail.ftl", text);
        let e = Catalog::with_overrides(Domain::Mail, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&file.display().to_string()), "{e}");
        assert!(e.contains(why), "{e}");
    }
}
