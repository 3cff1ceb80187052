//! `xrelay start --config FILE`: run the relayer in the foreground until interrupted.

use std::path::PathBuf;

use clap::Args;

use crate::config::RelayerConfig;

/// `xrelay start` flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The relayer's TOML configuration (every key can be overridden by `XRELAY_…`).
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the relayer.
pub async fn run(args: StartArgs) -> anyhow::Result<()> {
    let cfg = RelayerConfig::load(&args.config, std::env::vars())?;
    let relayer = crate::runner::start(&cfg).await?;
    // One machine-readable line on stdout so scripts and tests can find the API.
    println!(
        "{}",
        serde_json::json!({"event": "listening", "api": relayer.api_addr.to_string()})
    );
    super::devnet::wait_for_shutdown().await;
    tracing::info!("stopping");
    relayer.stop().await;
    Ok(())
}
