//! `xrelay demo`: N devchains and a relayer on loopback in a temporary directory, a mix of
//! echo messages and token transfers on every lane, some of them with short timeouts sent
//! to a destination that is held still (SIGSTOP) so they must time out and be refunded;
//! live progress; a summary checked against the chains themselves. With `--with-evm`, a
//! devchain and an EVM node instead. Either way the run ends in the one [`Summary`].
//!
//! - `devchain`: the devchains-only run;
//! - `evm`: the run with an EVM node (anvil);
//! - `send`: planned transfers and echo messages, signed and broadcast (both runs);
//! - `summary`: what crossed, from the relayer's records and the chains, and its verdict.

mod devchain;
mod evm;
mod evm_chains;
mod send;
mod summary;

use std::path::PathBuf;

use clap::Args;

/// The one summary both runs end in (`--json` keys are part of the interface).
pub use summary::Summary;

/// `xrelay demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many devchains (every pair is linked); default 2, or 0 with `--evm`.
    #[arg(long)]
    pub chains: Option<u32>,
    /// How many messages in all.
    #[arg(long, default_value_t = 400)]
    pub messages: u64,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Block interval of the chains.
    #[arg(long, default_value_t = 200)]
    pub block_time_ms: u64,
    /// Keep the chains' and relayer's data here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Relay between a devchain and a real EVM node (anvil, with the Gateway deployed)
    /// instead: tokens out and back, echo messages both ways.
    #[arg(long, conflicts_with = "evm")]
    pub with_evm: bool,
    /// Relay among N EVM chains (anvil nodes) and the `--chains` devchains, every pair
    /// linked: transfers out and back between every two EVM chains, echo on every lane.
    #[arg(long)]
    pub evm: Option<u32>,
    /// With `--evm`: how many meshed relayers relay, their attester keys the EVM chains'
    /// committee (a majority signs each block); 0 runs one unmeshed relayer attesting alone.
    #[arg(long, requires = "evm")]
    pub relayers: Option<u32>,
}

/// Runs the demo; exits non-zero unless nothing was lost or duplicated and supply held.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let chains = args
        .chains
        .unwrap_or(if args.evm.is_some() { 0 } else { 2 });
    match args.evm {
        Some(evm) if evm < 2 && chains + evm < 2 => {
            anyhow::bail!("--chains plus --evm must be at least 2")
        }
        None if chains < 2 => anyhow::bail!("--chains must be at least 2"),
        _ => {}
    }
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let say = |s: String| {
        if !args.json {
            println!("{s}");
        } else {
            eprintln!("{s}");
        }
    };
    let summary = match (args.evm, args.with_evm) {
        (Some(evm), _) => evm_chains::run(&args, chains, evm, &dir, &say).await?,
        (None, true) => evm::run(&args, &dir, &say).await?,
        (None, false) => devchain::run(&args, chains, &dir, &say).await?,
    };
    summary::conclude(&summary, args.json)
}
