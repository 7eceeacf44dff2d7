//! Turns a domain [`Message`] into a subject, a plain-text and an HTML body from the templates in
//! `templates/`, and then into a multipart/alternative mail ready for a transport.
//!
//! Every link is built from the configured public URL. The HTML part escapes every value; the
//! only unescaped insertion is the rendered inner template into the layout.

use crate::config::{ConfigError, MailConfig};
use crate::template::{Format, Value, escape_html, fill, placeholders};
use crate::transport::Outgoing;
use auth_core::Language;
use auth_core::mail::{Mail, Message};
use auth_i18n::{Arg, Catalog, Domain};
use lettre::Address;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A template pair: the plain-text and the HTML version of one kind of mail. The sentences come
/// from the mail catalog: a placeholder that is no value of the mail is a catalog message id.
#[derive(Debug, Clone)]
struct Template {
    text: String,
    html: String,
}

/// The layout and one template per kind of mail, named like [`Message::kind`].
const NAMES: [&str; 17] = [
    "layout",
    "signup_code",
    "login_code",
    "already_registered",
    "recovery_code",
    "no_account",
    "email_change_code",
    "email_change_taken",
    "email_changed",
    "passkey_added",
    "passkey_removed",
    "account_deleted",
    "sign_in_notice",
    "disabled_account",
    "account_disabled",
    "account_enabled",
    "account_deleted_by_operator",
];

macro_rules! builtin {
    ($name:expr, $($n:literal),+) => {
        match $name {
            $($n => (
                include_str!(concat!("../templates/", $n, ".txt")),
                include_str!(concat!("../templates/", $n, ".html")),
            ),)+
            _ => ("", ""),
        }
    };
}

fn builtin(name: &str) -> (&'static str, &'static str) {
    builtin!(
        name,
        "layout",
        "signup_code",
        "login_code",
        "already_registered",
        "recovery_code",
        "no_account",
        "email_change_code",
        "email_change_taken",
        "email_changed",
        "passkey_added",
        "passkey_removed",
        "account_deleted",
        "sign_in_notice",
        "disabled_account",
        "account_disabled",
        "account_enabled",
        "account_deleted_by_operator"
    )
}

/// The values a template may name besides catalog messages.
const VALUES: [&str; 23] = [
    "greeting",
    "product",
    "home",
    "link",
    "subject",
    "code",
    "minutes",
    "length",
    "hours",
    "new_address",
    "passkey",
    "when",
    "device",
    "ip",
    "recover",
    "recovery",
    "accent",
    "lang",
    "content",
    "logo_block",
    "support_block",
    "support_line",
    "contact",
];

/// Every template, compiled in or replaced from a directory.
#[derive(Debug)]
struct Templates(Vec<(&'static str, Template)>);

impl Templates {
    fn builtin() -> Self {
        Self(
            NAMES
                .iter()
                .map(|name| {
                    let (text, html) = builtin(name);
                    let template = Template {
                        text: text.to_owned(),
                        html: html.to_owned(),
                    };
                    (*name, template)
                })
                .collect(),
        )
    }

    /// The compiled-in templates with those found in `dir/mail/` (`<kind>.txt`, `<kind>.html`)
    /// instead. A template may name only values and catalog messages.
    fn with_overrides(dir: &Path, catalog: &Catalog) -> Result<Self, ConfigError> {
        let mut templates = Self::builtin();
        for (name, template) in &mut templates.0 {
            for (ext, slot) in [("txt", &mut template.text), ("html", &mut template.html)] {
                let file = dir.join("mail").join(format!("{name}.{ext}"));
                let text = match std::fs::read_to_string(&file) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(ConfigError::Templates(format!(
                            "{}: cannot be read: {e}",
                            file.display()
                        )));
                    }
                };
                if let Some(unknown) = placeholders(&text).find(|p| {
                    !VALUES.contains(p) && !Language::ALL.iter().all(|l| catalog.has(*l, p))
                }) {
                    return Err(ConfigError::Templates(format!(
                        "{}: unknown placeholder `{{{{{unknown}}}}}`",
                        file.display()
                    )));
                }
                *slot = text;
            }
        }
        Ok(templates)
    }

    fn get(&self, name: &str) -> &Template {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
            .expect("every kind of mail has a template")
    }
}

/// Renders and builds mail for one sender configuration, in every language of the catalog.
#[derive(Debug, Clone)]
pub struct Renderer {
    config: MailConfig,
    catalog: Arc<Catalog>,
    templates: Arc<Templates>,
}

/// One rendered message. `Debug` hides everything, since subject and bodies may hold a code.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part, a whole document.
    pub html: String,
}

/// Why a mail cannot be built. Retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// lettre does not accept the recipient address (the error says which rule, not the address).
    #[error("the recipient address cannot be used in a mail header")]
    Recipient(#[source] lettre::address::AddressError),
    /// lettre cannot assemble the message.
    #[error("the mail cannot be assembled")]
    Build(#[source] lettre::error::Error),
}

/// What one kind of mail fills in, before the layout.
struct Parts {
    code: Option<String>,
    link: String,
    /// Further values of one kind of mail.
    more: Vec<(&'static str, String)>,
    /// Whether the client IP of a security notice is unknown (said in the mail's language).
    unknown_ip: bool,
}

impl Renderer {
    /// A renderer for `config`.
    pub fn new(config: MailConfig) -> Self {
        Self {
            config,
            catalog: Arc::new(Catalog::builtin(Domain::Mail)),
            templates: Arc::new(Templates::builtin()),
        }
    }

    /// A renderer for `config` whose catalog messages (`dir/locales/<lang>/mail.ftl`) and
    /// templates (`dir/mail/<kind>.txt`, `.html`) may be replaced from `dir`, read once now.
    ///
    /// # Errors
    /// [`ConfigError::Templates`], naming the file that cannot be used.
    pub fn with_templates_dir(config: MailConfig, dir: &Path) -> Result<Self, ConfigError> {
        let catalog = Catalog::with_overrides(Domain::Mail, dir)
            .map_err(|e| ConfigError::Templates(e.to_string()))?;
        let templates = Templates::with_overrides(dir, &catalog)?;
        Ok(Self {
            config,
            catalog: Arc::new(catalog),
            templates: Arc::new(templates),
        })
    }

    /// The sender configuration.
    pub fn config(&self) -> &MailConfig {
        &self.config
    }

    /// Subject and both bodies of `message` in English, with a neutral greeting.
    pub fn render(&self, message: &Message) -> Rendered {
        self.render_in(message, None, Language::En)
    }

    /// Subject and both bodies of `message` in `language`, greeting `name` (the display name of
    /// the recipient's account) where the kind of mail goes to a known account. Mail that must
    /// not say whether an account exists (sign-up codes, decoys, codes for a new address) stays
    /// neutral whatever it is given.
    pub fn render_in(&self, message: &Message, name: Option<&str>, language: Language) -> Rendered {
        let catalog = &*self.catalog;
        let config = &self.config;
        let product = config.product_name();
        let home = format!("{}/", config.public_url());
        let parts = self.parts(message, &home);
        let name = name.filter(|_| greets_by_name(message));
        let greeting = name.map_or_else(
            || catalog.format(language, "greeting-neutral", &[]),
            |n| catalog.format(language, "greeting", &[("name", Arg::Text(n))]),
        );
        let branding = config.branding();
        let mut vars: Vec<(&str, Value<'_>)> = vec![
            ("greeting", Value::Text(&greeting)),
            ("product", Value::Text(product)),
            ("home", Value::Text(&home)),
            ("link", Value::Text(&parts.link)),
            ("accent", Value::Text(&branding.accent_color)),
            ("lang", Value::Text(language.as_str())),
        ];
        if let Some(code) = &parts.code {
            vars.push(("code", Value::Text(code)));
        }
        vars.extend(parts.more.iter().map(|(k, v)| (*k, Value::Text(v))));
        let unknown_ip = parts
            .unknown_ip
            .then(|| catalog.format(language, "seen-ip-unknown", &[]));
        if let Some(ip) = &unknown_ip {
            vars.push(("ip", Value::Text(ip)));
        }
        self.finish(message, vars, language)
    }

    fn finish(
        &self,
        message: &Message,
        vars: Vec<(&str, Value<'_>)>,
        language: Language,
    ) -> Rendered {
        let catalog = &*self.catalog;
        let args: Vec<(&str, Arg<'_>)> = vars
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Text(t) => Some((*k, Arg::Text(t))),
                Value::Html(_) => None,
            })
            .collect();
        let subject_id = format!("subject-{}", message.kind().replace('_', "-"));
        let subject = catalog.format(language, &subject_id, &args);
        let lookup = |id: &str| {
            catalog
                .has(language, id)
                .then(|| catalog.format(language, id, &args))
        };
        let template = self.templates.get(message.kind());
        let text_inner = fill(&template.text, &vars, Format::Text, &lookup);
        let html_inner = fill(&template.html, &vars, Format::Html, &lookup);

        let config = &self.config;
        let mut escaped = String::new();
        let logo_block = config.logo_src().map_or_else(String::new, |src| {
            escape_html(&src, &mut escaped);
            let alt = std::mem::take(&mut escaped);
            escape_html(config.product_name(), &mut escaped);
            let product = std::mem::take(&mut escaped);
            format!(
                "<tr><td style=\"padding:24px 32px 0;\"><img src=\"{alt}\" alt=\"{product}\" height=\"40\" style=\"display:block;height:40px;width:auto;border:0;\"></td></tr>\n"
            )
        });
        let support = config.branding().support_email.as_deref();
        let support_text =
            support.map(|s| catalog.format(language, "support", &[("support", Arg::Text(s))]));
        let support_line = support_text
            .as_ref()
            .map_or_else(String::new, |t| format!("\n{t}"));
        let support_block = support_text.as_ref().map_or_else(String::new, |t| {
            escape_html(t, &mut escaped);
            format!(" &middot; {}", std::mem::take(&mut escaped))
        });
        // The layout's values live only here, so they go in a list of their own.
        let mut vars: Vec<(&str, Value<'_>)> = vars.to_vec();
        vars.push(("subject", Value::Text(&subject)));
        vars.push(("support_line", Value::Text(&support_line)));
        vars.push(("logo_block", Value::Html(&logo_block)));
        vars.push(("support_block", Value::Html(&support_block)));
        let layout = self.templates.get("layout");
        vars.push(("content", Value::Text(&text_inner)));
        let text = fill(&layout.text, &vars, Format::Text, &lookup);
        vars.pop();
        vars.push(("content", Value::Html(&html_inner)));
        let html = fill(&layout.html, &vars, Format::Html, &lookup);
        Rendered {
            subject,
            text,
            html,
        }
    }

    /// The whole mail, ready for a transport: `From` the configured sender, `To` the single
    /// recipient, a Message-ID in the sender's domain, `Auto-Submitted: auto-generated`, and a
    /// multipart/alternative body.
    ///
    /// # Errors
    /// [`RenderError`] if lettre refuses the recipient or the message; retrying cannot help.
    pub fn build(&self, mail: &Mail) -> Result<Outgoing, RenderError> {
        let rendered = self.render_in(&mail.message, mail.name.as_deref(), mail.language);
        let to: Address = mail.to.as_str().parse().map_err(RenderError::Recipient)?;
        let from = self.config.from().clone();
        // The Message-ID names the sender's domain rather than this machine's host name.
        let id: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(32)
            .collect();
        let message_id = format!("<{id}@{}>", from.email.domain());
        let message = lettre::Message::builder()
            .from(from)
            .to(Mailbox::new(None, to))
            .subject(rendered.subject)
            .message_id(Some(message_id))
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(RenderError::Build)?;
        Ok(Outgoing::new(
            mail.message.kind(),
            mail.to.masked(),
            message.envelope().clone(),
            message.formatted(),
        ))
    }

    fn parts(&self, message: &Message, home: &str) -> Parts {
        let url = self.config.public_url();
        let parts = |link: String, more: Vec<(&'static str, String)>| Parts {
            code: None,
            link,
            more,
            unknown_ip: false,
        };
        let code_parts = |code: &auth_core::code::OtpCode, minutes: u64| Parts {
            code: Some(code.display_grouped()),
            // The code's own length is the policy's, so the hint follows the policy.
            ..parts(
                home.to_owned(),
                vec![
                    ("minutes", minutes.to_string()),
                    ("length", code.expose().len().to_string()),
                ],
            )
        };
        let seen = |at: &auth_core::Timestamp,
                    device: &str,
                    ip: &Option<String>,
                    mut more: Vec<(&'static str, String)>| {
            more.extend([
                ("when", at.utc_text()),
                ("device", device.to_owned()),
                // "This wasn't me" leads to the recovery screen of the public URL: recovery signs
                // the person in by a code to this address and lets them remove passkeys and end
                // sessions.
                ("recover", format!("{url}/#recover")),
            ]);
            if let Some(ip) = ip {
                more.push(("ip", ip.clone()));
            }
            Parts {
                unknown_ip: ip.is_none(),
                ..parts(home.to_owned(), more)
            }
        };
        match message {
            Message::SignupCode {
                code,
                valid_minutes,
            }
            | Message::LoginCode {
                code,
                valid_minutes,
            }
            | Message::AlreadyRegistered {
                code,
                valid_minutes,
            }
            | Message::RecoveryCode {
                code,
                valid_minutes,
            }
            | Message::EmailChangeCode {
                code,
                valid_minutes,
            } => code_parts(code, *valid_minutes),
            Message::NoAccount => parts(format!("{url}/#signup"), Vec::new()),
            Message::EmailChangeTaken | Message::AccountDeleted | Message::AccountEnabled => {
                parts(home.to_owned(), Vec::new())
            }
            // Whom to ask about it: the operator's support address, if there is one.
            Message::DisabledAccount
            | Message::AccountDisabled
            | Message::AccountDeletedByOperator => {
                let contact = self.config.branding().support_email.as_deref();
                parts(
                    home.to_owned(),
                    vec![("contact", contact.unwrap_or("none").to_owned())],
                )
            }
            // The token travels in the fragment, which browsers never send to a server: it cannot
            // end up in a request line, a log or a Referer. The page posts it.
            Message::EmailChanged {
                new_address_masked,
                revert_token,
                valid_hours,
            } => parts(
                format!("{url}/#revert={}", revert_token.expose()),
                vec![
                    ("new_address", new_address_masked.clone()),
                    ("hours", valid_hours.to_string()),
                ],
            ),
            Message::SignInNotice {
                recovery,
                at,
                device,
                ip,
            } => seen(
                at,
                device,
                ip,
                vec![("recovery", if *recovery { "yes" } else { "no" }.to_owned())],
            ),
            Message::PasskeyAdded {
                name,
                at,
                device,
                ip,
            }
            | Message::PasskeyRemoved {
                name,
                at,
                device,
                ip,
            } => seen(at, device, ip, vec![("passkey", name.clone())]),
        }
    }
}

/// Whether a kind of mail goes to the address of a known account, and so may greet its owner by
/// name. The others go to an address whose account, if any, the mail must not reveal.
const fn greets_by_name(message: &Message) -> bool {
    !matches!(
        message,
        Message::SignupCode { .. }
            | Message::NoAccount
            | Message::EmailChangeCode { .. }
            | Message::EmailChangeTaken
    )
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rendered([redacted])")
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834), so that vacation responders stay quiet.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod brand_tests;
