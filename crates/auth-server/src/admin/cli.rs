//! `auth-server users ...`: the operator's commands on accounts, against whichever store is
//! configured. Human output is a table or a few lines; `--json` prints one JSON document. Exit
//! status: 0 done, 1 no such account, 2 invalid configuration, 3 store unavailable.

use super::{OpenError, Operations};
use crate::config::Config;
use auth_core::ids::UserId;
use auth_core::service::{ADMIN_PAGE_MAX, AccountSummary, AdminError, Operator};
use auth_core::user::User;
use auth_http::rfc3339;
use clap::Subcommand;
use serde_json::{Value, json};
use std::process::ExitCode;

/// Exit status when no account has the given id or address.
pub const NOT_FOUND: u8 = 1;
/// Exit status of a configuration that is refused.
pub const INVALID_CONFIGURATION: u8 = 2;
/// Exit status when the store cannot be reached.
pub const STORE_UNAVAILABLE: u8 = 3;

/// Accounts.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List accounts in id order, optionally only those whose address or display name contains
    /// a text.
    List {
        /// Only accounts whose address or display name contains this (ignoring ASCII case).
        #[arg(long, short)]
        query: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one account (by id or address) with its live sessions and passkeys counted.
    Show {
        /// The account's id or address.
        account: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it cannot sign in, its sessions end, and its owner is told.
    Disable {
        /// The account's id or address.
        account: String,
    },
    /// Enable a disabled account again, and tell its owner.
    Enable {
        /// The account's id or address.
        account: String,
    },
    /// Delete an account with its sessions, passkeys and history, and tell its owner.
    Delete {
        /// The account's id or address.
        account: String,
    },
    /// Sessions of an account.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

/// Sessions of an account.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every session of the account (and its open code attempts).
    Revoke {
        /// The account's id or address.
        account: String,
    },
}

/// Why a command failed, and so its exit status.
enum Failure {
    NotFound(String),
    Store(String),
    Config(String),
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => Failure::NotFound("no such account".to_owned()),
            AdminError::Store(e) => Failure::Store(e.to_string()),
        }
    }
}

impl From<auth_core::ports::StoreError> for Failure {
    fn from(e: auth_core::ports::StoreError) -> Self {
        Failure::Store(e.to_string())
    }
}

/// Runs one command to its end (queued notices delivered included) and answers its exit status.
pub fn run(config: &Config, command: UsersCommand) -> ExitCode {
    let outcome = actix_web::rt::System::new().block_on(async {
        let ops = match Operations::open(config).await {
            Ok(ops) => ops,
            Err(OpenError::Store(e)) => return Err(Failure::Store(format!("{e:#}"))),
            Err(OpenError::Other(e)) => return Err(Failure::Config(format!("{e:#}"))),
        };
        let result = execute(&ops, command).await;
        if !ops.close().await {
            tracing::warn!("a notice could not be delivered in time");
        }
        result
    });
    match outcome {
        Ok(lines) => {
            print(&lines);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let (code, line) = match failure {
                Failure::NotFound(what) => (NOT_FOUND, what),
                Failure::Store(e) => (STORE_UNAVAILABLE, format!("store unavailable: {e}")),
                Failure::Config(e) => {
                    (INVALID_CONFIGURATION, format!("invalid configuration: {e}"))
                }
            };
            #[allow(clippy::print_stderr, reason = "the one line a failed command prints")]
            {
                eprintln!("auth-server: {line}");
            }
            ExitCode::from(code)
        }
    }
}

fn print(text: &str) {
    #[allow(
        clippy::print_stdout,
        reason = "printing the answer is the command's job"
    )]
    {
        println!("{text}");
    }
}

async fn execute(ops: &Operations, command: UsersCommand) -> Result<String, Failure> {
    let service = &ops.service;
    let operator = Operator::cli();
    let find = |key: String| async move {
        service.find_account(&key).await.map_err(|e| match e {
            AdminError::NotFound => Failure::NotFound(format!("no account {key}")),
            e => e.into(),
        })
    };
    Ok(match command {
        UsersCommand::List { query, json } => {
            let users = list_all(ops, query.as_deref()).await?;
            if json {
                Value::Array(users.iter().map(user_json).collect()).to_string()
            } else {
                table(&users)
            }
        }
        UsersCommand::Show { account, json } => {
            let user = find(account).await?;
            let summary = service
                .account_summary(&*ops.directory, &user.id.to_string())
                .await?;
            if json {
                summary_json(&summary).to_string()
            } else {
                summary_text(&summary)
            }
        }
        UsersCommand::Disable { account } => {
            let user = find(account).await?;
            if service.disable_account(&user.id, &operator).await? {
                format!(
                    "disabled {}: its sessions ended and its owner was told",
                    user.id
                )
            } else {
                format!("{} was already disabled", user.id)
            }
        }
        UsersCommand::Enable { account } => {
            let user = find(account).await?;
            if service.enable_account(&user.id, &operator).await? {
                format!("enabled {}: its owner was told", user.id)
            } else {
                format!("{} was not disabled", user.id)
            }
        }
        UsersCommand::Delete { account } => {
            let user = find(account).await?;
            service.delete_account_as(&user.id, &operator).await?;
            format!("deleted {}: its owner was told", user.id)
        }
        UsersCommand::Sessions(SessionsCommand::Revoke { account }) => {
            let user = find(account).await?;
            let n = service.revoke_account_sessions(&user.id, &operator).await?;
            format!("ended {n} sessions of {}", user.id)
        }
    })
}

/// Every matching account, page after page.
async fn list_all(ops: &Operations, query: Option<&str>) -> Result<Vec<User>, Failure> {
    let mut all = Vec::new();
    let mut after: Option<UserId> = None;
    loop {
        let page = ops
            .service
            .list_accounts(&*ops.directory, query, after, ADMIN_PAGE_MAX)
            .await?;
        let full = page.len() == ADMIN_PAGE_MAX as usize;
        after = page.last().map(|u| u.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

fn status(user: &User) -> &'static str {
    if user.is_disabled() {
        "disabled"
    } else {
        "active"
    }
}

/// One account as JSON: the same fields for `list` and `show`.
pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.to_string(),
        "email": user.email.as_str(),
        "display_name": user.display_name.as_str(),
        "public": user.public,
        "language": user.language.as_str(),
        "created_at": rfc3339(user.created_at),
        "disabled_at": user.disabled_at.map(rfc3339),
    })
}

fn summary_json(s: &AccountSummary) -> Value {
    let mut v = user_json(&s.user);
    v["active_sessions"] = json!(s.counts.active_sessions);
    v["passkeys"] = json!(s.counts.passkeys);
    v
}

fn summary_text(s: &AccountSummary) -> String {
    let u = &s.user;
    let mut lines = vec![
        ("id", u.id.to_string()),
        ("email", u.email.as_str().to_owned()),
        ("name", u.display_name.to_string()),
        ("status", status(u).to_owned()),
        ("created", u.created_at.utc_text()),
    ];
    if let Some(at) = u.disabled_at {
        lines.push(("disabled", at.utc_text()));
    }
    lines.extend([
        ("public", u.public.to_string()),
        ("language", u.language.as_str().to_owned()),
        ("sessions", s.counts.active_sessions.to_string()),
        ("passkeys", s.counts.passkeys.to_string()),
    ]);
    lines
        .iter()
        .map(|(k, v)| format!("{k:<9} {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The accounts as a table with a header; names are shown as stored (control characters cannot
/// occur in them).
fn table(users: &[User]) -> String {
    let header = ["ID", "STATUS", "CREATED", "EMAIL", "NAME"];
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.id.to_string(),
                status(u).to_owned(),
                u.created_at.utc_text(),
                u.email.as_str().to_owned(),
                u.display_name.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = w.saturating_sub(cell.chars().count());
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out
    };
    let mut out = vec![line(header)];
    for row in &rows {
        out.push(line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out.push(format!("{} accounts", users.len()));
    out.join("\n")
}
