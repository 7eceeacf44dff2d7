//! Delivered mail: the embedded mailer's `.eml` outbox or an SMTP server's Maildir, read and
//! marked read one mail at a time, and the code found in a mail's text.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A mail as delivered.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Mail {
    /// The one-time code in the text part (`ABCD-EFGH` or `ABCDEFGH`), if any.
    pub fn code(&self) -> Option<String> {
        find_code(&self.text)
    }
}

/// Finds a code: 8 symbols of `A-Z0-9` with at least one digit or the grouped form, standing alone.
pub fn find_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .find(|w| {
            let plain: String = w.chars().filter(|c| *c != '-').collect();
            plain.len() == 8
                && plain
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && (w.len() == 9 && w.as_bytes()[4] == b'-' || w.len() == 8)
                && (w.contains('-') || plain.chars().any(|c| c.is_ascii_digit()))
        })
        .map(|w| w.replace('-', ""))
}

/// Where delivered mail can be read.
#[derive(Debug, Clone)]
pub enum Mailbox {
    /// The embedded mailer's `.eml` outbox.
    Outbox(PathBuf),
    /// A Maildir written by an SMTP server (its `new` folder).
    Maildir(PathBuf),
}

impl Mailbox {
    fn dir(&self) -> PathBuf {
        match self {
            Mailbox::Outbox(d) => d.clone(),
            Mailbox::Maildir(d) => d.join("new"),
        }
    }

    /// Every mail to `to`, oldest first (by file modification time).
    pub fn all_for(&self, to: &str) -> Vec<(PathBuf, Mail)> {
        let Ok(entries) = std::fs::read_dir(self.dir()) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.starts_with('.') && !name.ends_with(".read")
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| {
                let mail = parse_mail(&std::fs::read(&p).ok()?)?;
                mail.to
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(to))
                    .then_some((p, mail))
            })
            .collect()
    }

    /// Waits up to `limit` for a mail to `to` that no earlier call returned, and marks it read.
    pub fn next_for(&self, to: &str, limit: Duration) -> Mail {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((path, mail)) = self.all_for(to).into_iter().next() {
                // Reading a mail moves it aside so the next call finds the next one.
                let mut read = path.clone().into_os_string();
                read.push(".read");
                let _ = std::fs::rename(&path, &read);
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} arrived within {limit:?} in {}",
                self.dir().display()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn parse_mail(bytes: &[u8]) -> Option<Mail> {
    let msg = mail_parser::MessageParser::default().parse(bytes)?;
    let to = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(Mail {
        to,
        subject: msg.subject().unwrap_or_default().to_owned(),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
    })
}
