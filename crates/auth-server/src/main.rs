//! `auth-server`: the passwordless auth service as one binary.
#![warn(missing_docs)]

use auth_server::admin::cli::{self as admin_cli, UsersCommand};
use auth_server::config::{Config, LogFormat, Settings};
use auth_server::{Application, secrets};
use clap::{Parser, Subcommand};
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
    /// Check the configuration as `serve` would (configured secrets included), print the
    /// effective settings as JSON (they hold no secrets, only their paths) and exit.
    CheckConfig,
    /// Ask the server listening on `server.bind` (same settings as `serve`) for `/healthz`;
    /// exit 0 if it answers 200 within 3 s, else 1. For container health checks.
    Health,
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// OpenID Connect.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Administer accounts: list, show, disable, enable, delete, end sessions.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Debug, Subcommand)]
enum OidcCommand {
    /// List the configured clients: id, kind, consent, ID token algorithm, scopes, redirect URIs.
    Clients,
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

/// Exit status of a configuration that is refused.
const INVALID_CONFIGURATION: u8 = admin_cli::INVALID_CONFIGURATION;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    let checked = Settings::load(cli.config.as_deref()).and_then(|loaded| {
        let config = loaded.settings.validate()?;
        // `serve` and `check-config` need the configured secrets; `keys rotate` creates the first.
        if matches!(command, Command::Serve | Command::CheckConfig) {
            secrets::check_configured(&config.secrets)?;
        }
        Ok((loaded, config))
    });
    let (loaded, config) = match checked {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auth-server: invalid configuration: {e:#}");
            return ExitCode::from(INVALID_CONFIGURATION);
        }
    };
    // An operator's command prints its answer; only warnings go to the log.
    init_logging(&config, matches!(command, Command::Users(_)));
    for var in &loaded.ignored {
        tracing::warn!("ignoring the environment variable {var}: it names no setting");
    }
    let result = match command {
        Command::Users(users) => return admin_cli::run(&config, users),
        Command::Serve => actix_web::rt::System::new().block_on(serve(config)),
        Command::Migrate => actix_web::rt::System::new().block_on(auth_server::migrate(&config)),
        Command::CheckConfig => check_config(&loaded.settings, &config),
        Command::Health => {
            auth_server::health::probe(config.bind, auth_server::health::PROBE_TIMEOUT)
        }
        Command::Keys(k) => keys(&config, k),
        Command::Oidc(OidcCommand::Clients) => {
            oidc_clients(&config);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once, through the log, so that it has the log's format.
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    Application::build(config).await?.run_until_stopped().await
}

fn init_logging(config: &Config, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if quiet { "warn" } else { &config.log_filter }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn check_config(settings: &Settings, config: &Config) -> anyhow::Result<()> {
    // The effective settings hold paths to secrets, never secrets, and URLs without passwords.
    let text = serde_json::to_string_pretty(&settings.effective(config))?;
    #[allow(
        clippy::print_stdout,
        reason = "printing the configuration is this command's job"
    )]
    {
        println!("{text}");
    }
    Ok(())
}

fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let dir = config.secrets.signing_keys.path();
    match cmd {
        KeysCommand::List => {
            let keys = secrets::load_keys(dir)?;
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
            let (path, key) = secrets::write_new_key(dir)?;
            tracing::info!(kid = key.kid(), path = %path.display(), "new signing key; restart the nodes to sign with it");
        }
        KeysCommand::Retire { kid } => {
            let keys = secrets::load_keys(dir)?;
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

fn oidc_clients(config: &Config) {
    for c in config.oidc.registry.iter() {
        let kind = if c.is_public() {
            "public"
        } else {
            "confidential"
        };
        let consent = if c.first_party {
            "first-party"
        } else {
            "consent"
        };
        let uris: Vec<&str> = c.redirect_uris.iter().map(|u| u.as_str()).collect();
        #[allow(clippy::print_stdout, reason = "listing clients is this command's job")]
        {
            println!(
                "{}  {kind}  {consent}  {}  {}  [{}]  {:?}",
                c.id,
                c.id_token_alg.as_str(),
                c.scopes.to_text(),
                uris.join(" "),
                c.name
            );
        }
    }
}
