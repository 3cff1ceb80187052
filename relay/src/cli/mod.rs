//! The `xrelay` command line (clap). Subcommand and flag names are a public interface:
//! operators and tests script against them.

pub mod bench;
pub mod demo;
pub mod devnet;
pub mod evm;
pub mod keys;
pub mod ops;
pub mod query;
pub mod start;
pub mod tx;
pub mod verify;

use clap::{Parser, Subcommand};

/// The `p`-quantile (0 to 1) of `sorted` by nearest rank, 0 when empty: how the demo's and
/// the benchmark's latency percentiles are read, so both report alike.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0)
}

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
    /// End-to-end benchmark: devchains, relayer processes, paced load, and the figures
    /// (throughput, latency, relayer CPU per message, memory).
    Bench(bench::BenchArgs),
    /// Send messages and tokens (the dApp side).
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// What the relayer knows about messages and lanes.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Signing keys, encrypted at rest.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Every chain reachable and every client fresh? (exit code says so)
    HealthCheck(ops::ConfigArgs),
    /// Relay everything pending now, then exit (with the relayer stopped).
    Clear(ops::ClearArgs),
    /// After a misbehaviour incident is resolved: relay a frozen chain again, from a new
    /// pinned trust root (with the relayer stopped)
    Unfreeze(ops::UnfreezeArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ops::ConfigCommand),
    /// Local development networks of devchains.
    #[command(subcommand)]
    Devnet(devnet::DevnetCommand),
    /// EVM chains: deploying the contracts.
    #[command(subcommand)]
    Evm(evm::EvmCommand),
    /// Offline checks of chain data (auditors, operators).
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
}

/// Sets up logging: `RUST_LOG` filters (default `info`, changeable at run time), text or
/// JSON lines on stderr.
pub fn init_logging(format: &str) {
    crate::logging::init(format);
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Start(args) => start::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Tx(cmd) => tx::run(cmd).await,
        Command::Query(cmd) => query::run(cmd).await,
        Command::Keys(cmd) => keys::run(cmd).await,
        Command::HealthCheck(args) => ops::health_check(args).await,
        Command::Clear(args) => ops::clear(args).await,
        Command::Unfreeze(args) => ops::unfreeze(args).await,
        Command::Config(cmd) => ops::config(cmd).await,
        Command::Devnet(cmd) => devnet::run(cmd).await,
        Command::Evm(cmd) => evm::run(cmd).await,
        Command::Verify(cmd) => verify::run(cmd),
    }
}
