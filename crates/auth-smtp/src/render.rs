//! Turns a domain [`Message`] into a subject, a plain-text and an HTML body from the templates in
//! `templates/`, and then into a multipart/alternative mail ready for a transport.
//!
//! Every link is built from the configured public URL. The HTML part escapes every value; the
//! only unescaped insertion is the rendered inner template into the layout.

use crate::config::MailConfig;
use crate::template::{Format, Value, fill};
use crate::transport::Outgoing;
use auth_core::mail::{Mail, Message};
use lettre::Address;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::fmt;

/// A template pair: the plain-text and the HTML version of one kind of mail.
#[derive(Debug, Clone, Copy)]
struct Template {
    text: &'static str,
    html: &'static str,
}

macro_rules! template {
    ($name:literal) => {
        Template {
            text: include_str!(concat!("../templates/", $name, ".txt")),
            html: include_str!(concat!("../templates/", $name, ".html")),
        }
    };
}

const LAYOUT: Template = template!("layout");
const SIGNUP_CODE: Template = template!("signup_code");
const LOGIN_CODE: Template = template!("login_code");
const ALREADY_REGISTERED: Template = template!("already_registered");
const RECOVERY_CODE: Template = template!("recovery_code");
const NO_ACCOUNT: Template = template!("no_account");
const EMAIL_CHANGE_CODE: Template = template!("email_change_code");
const EMAIL_CHANGE_TAKEN: Template = template!("email_change_taken");
const EMAIL_CHANGED: Template = template!("email_changed");
const PASSKEY_ADDED: Template = template!("passkey_added");
const PASSKEY_REMOVED: Template = template!("passkey_removed");
const ACCOUNT_DELETED: Template = template!("account_deleted");
const SIGN_IN_NOTICE: Template = template!("sign_in_notice");

/// Renders and builds mail for one sender configuration.
#[derive(Debug, Clone)]
pub struct Renderer {
    config: MailConfig,
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
struct Parts<'a> {
    template: Template,
    subject: String,
    code: Option<String>,
    minutes: Option<String>,
    new_address: Option<&'a str>,
    passkey: Option<&'a str>,
    link: String,
    /// Further values of one kind of mail.
    more: Vec<(&'static str, String)>,
}

impl Renderer {
    /// A renderer for `config`.
    pub fn new(config: MailConfig) -> Self {
        Self { config }
    }

    /// The sender configuration.
    pub fn config(&self) -> &MailConfig {
        &self.config
    }

    /// Subject and both bodies of `message`, with a neutral greeting.
    pub fn render(&self, message: &Message) -> Rendered {
        self.render_to(message, None)
    }

    /// Subject and both bodies of `message`, greeting `name` (the display name of the
    /// recipient's account) where the kind of mail goes to a known account. Mail that must not
    /// say whether an account exists (sign-up codes, decoys, codes for a new address) stays
    /// neutral whatever it is given.
    pub fn render_to(&self, message: &Message, name: Option<&str>) -> Rendered {
        let product = self.config.product_name();
        let home = format!("{}/", self.config.public_url());
        let parts = self.parts(message, &home);
        let name = name.filter(|_| greets_by_name(message));
        let greeting = name.map_or_else(|| "Hello,".to_owned(), |n| format!("Hello {n},"));
        let mut vars = vec![
            ("greeting", Value::Text(&greeting)),
            ("product", Value::Text(product)),
            ("home", Value::Text(&home)),
            ("link", Value::Text(&parts.link)),
            ("subject", Value::Text(&parts.subject)),
        ];
        let optional = [
            ("code", parts.code.as_deref()),
            ("minutes", parts.minutes.as_deref()),
            ("new_address", parts.new_address),
            ("passkey", parts.passkey),
        ];
        vars.extend(
            optional
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, Value::Text(v)))),
        );
        vars.extend(parts.more.iter().map(|(k, v)| (*k, Value::Text(v))));

        let text_inner = fill(parts.template.text, &vars, Format::Text);
        let html_inner = fill(parts.template.html, &vars, Format::Html);
        vars.push(("content", Value::Text(&text_inner)));
        let text = fill(LAYOUT.text, &vars, Format::Text);
        vars.pop();
        vars.push(("content", Value::Html(&html_inner)));
        let html = fill(LAYOUT.html, &vars, Format::Html);
        Rendered {
            subject: parts.subject,
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
        let rendered = self.render_to(&mail.message, mail.name.as_deref());
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

    fn parts<'a>(&self, message: &'a Message, home: &str) -> Parts<'a> {
        let product = self.config.product_name();
        let code_parts = |template,
                          subject: &dyn Fn(&str) -> String,
                          code: &auth_core::code::OtpCode,
                          minutes: u64| {
            let grouped = code.display_grouped();
            Parts {
                template,
                subject: subject(&grouped),
                code: Some(grouped),
                minutes: Some(minutes.to_string()),
                new_address: None,
                passkey: None,
                link: home.to_owned(),
                // The code's own length is the policy's, so the hint follows the policy.
                more: vec![("length", code.expose().len().to_string())],
            }
        };
        let notice = |template, subject: String, link: String| Parts {
            template,
            subject,
            code: None,
            minutes: None,
            new_address: None,
            passkey: None,
            link,
            more: Vec::new(),
        };
        match message {
            Message::SignupCode {
                code,
                valid_minutes,
            } => code_parts(
                SIGNUP_CODE,
                &|c| format!("Your {product} sign-up code: {c}"),
                code,
                *valid_minutes,
            ),
            Message::LoginCode {
                code,
                valid_minutes,
            } => code_parts(
                LOGIN_CODE,
                &|c| format!("Your {product} sign-in code: {c}"),
                code,
                *valid_minutes,
            ),
            Message::AlreadyRegistered {
                code,
                valid_minutes,
            } => code_parts(
                ALREADY_REGISTERED,
                &|c| format!("You already have a {product} account: sign-in code {c}"),
                code,
                *valid_minutes,
            ),
            Message::RecoveryCode {
                code,
                valid_minutes,
            } => code_parts(
                RECOVERY_CODE,
                &|c| format!("Your {product} recovery code: {c}"),
                code,
                *valid_minutes,
            ),
            Message::EmailChangeCode {
                code,
                valid_minutes,
            } => code_parts(
                EMAIL_CHANGE_CODE,
                &|c| format!("Confirm your new email address for {product}: {c}"),
                code,
                *valid_minutes,
            ),
            Message::NoAccount => notice(
                NO_ACCOUNT,
                format!("No {product} account for this email address"),
                format!("{}/#signup", self.config.public_url()),
            ),
            Message::EmailChangeTaken => notice(
                EMAIL_CHANGE_TAKEN,
                format!("Someone tried to move a {product} account to this email address"),
                home.to_owned(),
            ),
            // The token travels in the fragment, which browsers never send to a server: it cannot
            // end up in a request line, a log or a Referer. The page posts it.
            Message::EmailChanged {
                new_address_masked,
                revert_token,
                valid_hours,
            } => Parts {
                new_address: Some(new_address_masked.as_str()),
                more: vec![("hours", valid_hours.to_string())],
                ..notice(
                    EMAIL_CHANGED,
                    format!("The email address of your {product} account was changed"),
                    format!(
                        "{}/#revert={}",
                        self.config.public_url(),
                        revert_token.expose()
                    ),
                )
            },
            Message::AccountDeleted => notice(
                ACCOUNT_DELETED,
                format!("Your {product} account was deleted"),
                home.to_owned(),
            ),
            Message::SignInNotice {
                recovery,
                at,
                device,
                ip,
            } => Parts {
                more: {
                    let mut more = self.seen(*at, device, ip.as_deref());
                    more.push((
                        "method",
                        if *recovery {
                            "a recovery code".to_owned()
                        } else {
                            "an email code".to_owned()
                        },
                    ));
                    more
                },
                ..notice(
                    SIGN_IN_NOTICE,
                    format!("New sign-in to your {product} account with an email code"),
                    home.to_owned(),
                )
            },
            Message::PasskeyAdded {
                name,
                at,
                device,
                ip,
            } => Parts {
                passkey: Some(name.as_str()),
                more: self.seen(*at, device, ip.as_deref()),
                ..notice(
                    PASSKEY_ADDED,
                    format!("A passkey was added to your {product} account"),
                    home.to_owned(),
                )
            },
            Message::PasskeyRemoved {
                name,
                at,
                device,
                ip,
            } => Parts {
                passkey: Some(name.as_str()),
                more: self.seen(*at, device, ip.as_deref()),
                ..notice(
                    PASSKEY_REMOVED,
                    format!("A passkey was removed from your {product} account"),
                    home.to_owned(),
                )
            },
        }
    }
}

impl Renderer {
    /// What a security notice says about the event: when, from what device and network, and a
    /// "this wasn't me" link to the recovery screen of the public URL (recovery signs the person
    /// in by a code to this address and lets them remove passkeys and end sessions).
    fn seen(
        &self,
        at: auth_core::Timestamp,
        device: &str,
        ip: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("when", at.utc_text()),
            ("device", device.to_owned()),
            ("ip", ip.unwrap_or("unknown").to_owned()),
            ("recover", format!("{}/#recover", self.config.public_url())),
        ]
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
