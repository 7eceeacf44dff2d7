//! `auth-server`: the passwordless auth service as one binary.
#![warn(missing_docs)]

mod app;
mod audit;
mod config;
mod secrets;

use clap::{Parser, Subcommand};
use config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

/// The passwordless authentication service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML configuration file (default: ./auth.toml if present). Environment variables
    /// `AUTH_<SECTION>__<KEY>` override it.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration, print it as JSON (it holds no secrets, only their paths) and exit.
    CheckConfig,
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the signing keys, oldest first; the newest signs, all verify.
    List,
    /// Add a new signing key. Nodes sign with it after their next restart; older keys keep
    /// verifying until retired.
    Rotate,
    /// Remove a key once no unexpired token can carry it (wait at least the access-token lifetime
    /// after a rotation).
    Retire {
        /// The key's kid.
        kid: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("auth-server: invalid configuration: {e:#}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Serve)
        && let Err(e) = secrets::check_configured(&settings)
    {
        eprintln!("auth-server: invalid configuration: {e:#}");
        return ExitCode::from(2);
    }
    init_logging(&settings);
    let result = match command {
        Command::Serve => actix_web::rt::System::new().block_on(app::serve(settings)),
        Command::Migrate => actix_web::rt::System::new().block_on(app::migrate(&settings)),
        Command::CheckConfig => check_config(&settings),
        Command::Keys(k) => keys(&settings, k),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("auth-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn check_config(settings: &Settings) -> anyhow::Result<()> {
    // Settings hold only paths to secrets, never secrets, so all of it may be shown.
    let text = serde_json::to_string_pretty(settings)?;
    #[allow(
        clippy::print_stdout,
        reason = "printing the configuration is this command's job"
    )]
    {
        println!("{text}");
    }
    Ok(())
}

fn keys(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    let dir = secrets::keys_dir(settings);
    match cmd {
        KeysCommand::List => {
            let keys = secrets::load_keys(&dir)?;
            let last = keys.len().saturating_sub(1);
            for (i, (path, key)) in keys.iter().enumerate() {
                let role = if i == last { "signing" } else { "verify-only" };
                #[allow(clippy::print_stdout, reason = "listing keys is this command's job")]
                {
                    println!("{}  {role}  {}", key.kid(), path.display());
                }
            }
        }
        KeysCommand::Rotate => {
            let (path, key) = secrets::write_new_key(&dir)?;
            tracing::info!(kid = key.kid(), path = %path.display(), "new signing key; restart the nodes to sign with it");
        }
        KeysCommand::Retire { kid } => {
            let keys = secrets::load_keys(&dir)?;
            if keys.last().is_some_and(|(_, k)| k.kid() == kid) {
                anyhow::bail!("key {kid} is the signing key; rotate first");
            }
            let (path, _) = keys
                .iter()
                .find(|(_, k)| k.kid() == kid)
                .ok_or_else(|| anyhow::anyhow!("no key with kid {kid}"))?;
            std::fs::remove_file(path)?;
            tracing::info!(kid, "key retired");
        }
    }
    Ok(())
}
