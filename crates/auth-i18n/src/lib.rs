//! Message catalogs of the passwordless auth service: every sentence of the page and of the mail,
//! in every [`Language`], as Fluent messages.
//!
//! The catalogs in `locales/<lang>/{page,mail}.ftl` are compiled in. An operator may override
//! single messages from a directory (`<dir>/locales/<lang>/<domain>.ftl`), read once at start:
//! an override may only replace a message the compiled-in catalog has and may only use the
//! variables that message is given, so a typo stops the start instead of showing a key.
//!
//! ```
//! use auth_i18n::{Arg, Catalog, Domain};
//! use auth_core::Language;
//!
//! let mail = Catalog::builtin(Domain::Mail);
//! let line = mail.format(Language::De, "code-valid", &[("minutes", Arg::Number(10)), ("length", Arg::Number(8))]);
//! assert!(line.contains("10 Minuten"));
//! ```
#![warn(missing_docs)]

mod syntax;

use auth_core::Language;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use syntax::{MessageShape, shapes};

/// Which catalog: the page's or the mail's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Every string the web page shows.
    Page,
    /// Every sentence of every mail.
    Mail,
}

impl Domain {
    /// The file name of its catalog in each language's folder.
    pub const fn file_name(self) -> &'static str {
        match self {
            Domain::Page => "page.ftl",
            Domain::Mail => "mail.ftl",
        }
    }

    /// The compiled-in catalog source of `language`.
    pub const fn builtin_source(self, language: Language) -> &'static str {
        match (self, language) {
            (Domain::Page, Language::En) => include_str!("../locales/en/page.ftl"),
            (Domain::Page, Language::De) => include_str!("../locales/de/page.ftl"),
            (Domain::Mail, Language::En) => include_str!("../locales/en/mail.ftl"),
            (Domain::Mail, Language::De) => include_str!("../locales/de/mail.ftl"),
        }
    }
}

/// A value for a message's variable.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text, inserted as it is (the caller escapes for HTML).
    Text(&'a str),
    /// A number, which plural forms select on.
    Number(u64),
}

/// Why a catalog override cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("{file}: cannot be read")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid Fluent.
    #[error("{file}: not valid Fluent: {reason}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The first error, with its position.
        reason: String,
    },
    /// The file overrides a message the compiled-in catalog does not have.
    #[error("{file}: unknown message `{id}`")]
    UnknownMessage {
        /// The file.
        file: PathBuf,
        /// The message id.
        id: String,
    },
    /// The file's message uses a variable the service does not give it.
    #[error("{file}: message `{id}` uses the unknown variable `${variable}`")]
    UnknownVariable {
        /// The file.
        file: PathBuf,
        /// The message id.
        id: String,
        /// The variable.
        variable: String,
    },
}

/// The messages of one [`Domain`] in every language, with any overrides applied.
pub struct Catalog {
    domain: Domain,
    bundles: Vec<(Language, FluentBundle<Arc<FluentResource>>)>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn bundle(language: Language) -> FluentBundle<Arc<FluentResource>> {
    let id: unic_langid::LanguageIdentifier = language
        .as_str()
        .parse()
        .expect("every language tag of the domain is a valid identifier");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Bidi isolation marks would end up in plain-text mail and in the page's text; our values
    // are names, addresses and numbers shown in their own context.
    bundle.set_use_isolating(false);
    bundle
}

fn parse(source: String) -> Result<FluentResource, String> {
    FluentResource::try_new(source).map_err(|(_, errors)| {
        errors
            .first()
            .map_or_else(|| "unknown error".to_owned(), |e| format!("{e:?}"))
    })
}

impl Catalog {
    /// The compiled-in catalog.
    ///
    /// # Panics
    /// Never for the shipped catalogs: their syntax is checked by this crate's tests.
    pub fn builtin(domain: Domain) -> Self {
        let bundles = Language::ALL
            .into_iter()
            .map(|language| {
                let source = domain.builtin_source(language).to_owned();
                let resource = parse(source).expect("the compiled-in catalogs are valid Fluent");
                let mut b = bundle(language);
                b.add_resource(Arc::new(resource))
                    .expect("a compiled-in catalog defines each message once");
                (language, b)
            })
            .collect();
        Self { domain, bundles }
    }

    /// The compiled-in catalog with the overrides found under `dir`
    /// (`<dir>/locales/<lang>/<domain file>`); a language without a file keeps its messages.
    ///
    /// # Errors
    /// [`LoadError`], naming the file.
    pub fn with_overrides(domain: Domain, dir: &Path) -> Result<Self, LoadError> {
        let mut catalog = Self::builtin(domain);
        for language in Language::ALL {
            let file = dir
                .join("locales")
                .join(language.as_str())
                .join(domain.file_name());
            let source = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(LoadError::Read { file, source }),
            };
            catalog.apply(language, &file, source)?;
        }
        Ok(catalog)
    }

    fn apply(&mut self, language: Language, file: &Path, source: String) -> Result<(), LoadError> {
        let builtin = shapes(self.domain.builtin_source(language));
        let resource = parse(source).map_err(|reason| LoadError::Syntax {
            file: file.to_owned(),
            reason,
        })?;
        for (id, shape) in syntax::resource_shapes(&resource) {
            let Some(known) = builtin.get(&id) else {
                return Err(LoadError::UnknownMessage {
                    file: file.to_owned(),
                    id,
                });
            };
            if let Some(variable) = shape.variables.difference(&known.variables).next() {
                return Err(LoadError::UnknownVariable {
                    file: file.to_owned(),
                    variable: variable.clone(),
                    id,
                });
            }
        }
        if let Some((_, b)) = self.bundles.iter_mut().find(|(l, _)| *l == language) {
            b.add_resource_overriding(Arc::new(resource));
        }
        Ok(())
    }

    /// Which catalog this is.
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Message `id` in `language` with `args`. A message missing there falls back to English,
    /// and a message missing everywhere comes out as its id (the parity tests keep both from
    /// happening with the shipped catalogs).
    pub fn format(&self, language: Language, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            let value = match value {
                Arg::Text(t) => FluentValue::from(*t),
                Arg::Number(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, value);
        }
        self.format_with(language, id, &fluent_args)
            .unwrap_or_else(|| id.to_owned())
    }

    /// Whether `language`'s catalog (overrides included) has message `id`.
    pub fn has(&self, language: Language, id: &str) -> bool {
        self.bundle(language).is_some_and(|b| b.has_message(id))
    }

    fn bundle(&self, language: Language) -> Option<&FluentBundle<Arc<FluentResource>>> {
        self.bundles
            .iter()
            .find(|(l, _)| *l == language)
            .map(|(_, b)| b)
    }

    fn format_with(&self, language: Language, id: &str, args: &FluentArgs<'_>) -> Option<String> {
        [language, Language::En].into_iter().find_map(|l| {
            let bundle = self.bundle(l)?;
            let pattern = bundle.get_message(id)?.value()?;
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(args), &mut errors);
            Some(text.into_owned())
        })
    }

    /// Every message of `language` as a pattern for a client to fill in: each variable the
    /// message uses comes out as `{name}`. Plural forms select their default variant, so a
    /// message whose wording depends on a number has one message per form instead.
    pub fn patterns(&self, language: Language) -> BTreeMap<String, String> {
        shapes(self.domain.builtin_source(language))
            .into_iter()
            .map(|(id, shape)| {
                let mut args = FluentArgs::new();
                for v in &shape.variables {
                    args.set(v.clone(), FluentValue::from(format!("{{{v}}}")));
                }
                let text = self.format_with(language, &id, &args).unwrap_or_default();
                (id, text)
            })
            .collect()
    }

    /// The ids of `language`'s compiled-in catalog.
    pub fn ids(&self, language: Language) -> BTreeSet<String> {
        shapes(self.domain.builtin_source(language))
            .into_keys()
            .collect()
    }
}

#[cfg(test)]
mod tests;
