//! The `xrelay` command line (clap). Subcommand and flag names are a public interface:
//! operators and tests script against them.

pub mod demo;
pub mod devnet;
pub mod start;

use clap::{Parser, Subcommand};

/// xrelay: a cross-chain relay for permissioned chains.
#[derive(Debug, Parser)]
#[command(name = "xrelay", version, about)]
pub struct Cli {
    /// Log format: `text` or `json`.
    #[arg(long, global = true, default_value = "text", env = "XRELAY_LOG_FORMAT")]
    pub log_format: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relayer.
    Start(start::StartArgs),
    /// Local chains plus a relayer, messages crossing, and a summary.
    Demo(demo::DemoArgs),
    /// Local development networks of devchains.
    #[command(subcommand)]
    Devnet(devnet::DevnetCommand),
}

/// Sets up logging: `RUST_LOG` filters (default `info`), text or JSON lines on stderr.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Start(args) => start::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Devnet(cmd) => devnet::run(cmd).await,
    }
}
