//! The `sessionkit` command: the demo server and store maintenance.
//!
//! ```text
//! sessionkit serve [--listen 127.0.0.1:8000] [--store sqlite://sessions.sqlite3]
//! sessionkit clear-expired --store URL
//! ```
//!
//! `main` parses the arguments, runs the command and turns any error into a one-line
//! message on stderr and a non-zero exit code; nothing here panics on bad input.

pub mod serve;
pub mod store_url;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sessions for Rust web services, the Django way.
#[derive(Debug, Parser)]
#[command(name = "sessionkit", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the demo app: a visit counter and a favorite color, kept in a session.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: SocketAddr,
        /// Where sessions live: sqlite://FILE (relative), sqlite:///ABS/PATH, memory://
        #[arg(long, default_value = "sqlite://sessions.sqlite3")]
        store: String,
    },
    /// Remove expired sessions from a store and print how many.
    ClearExpired {
        /// The store: sqlite://FILE, sqlite:///ABS/PATH
        #[arg(long)]
        store: String,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sessionkit: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sessionkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SESSIONKIT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, store } => serve::run(listen, &store).await,
        Command::ClearExpired { store } => {
            let store = store_url::open(&store).await?;
            let removed = store
                .clear_expired_boxed(time::OffsetDateTime::now_utc())
                .await
                .map_err(|e| anyhow::anyhow!("clearing expired sessions failed: {}", e.report()))?;
            println!("{removed} expired session(s) removed");
            Ok(())
        }
    }
}
