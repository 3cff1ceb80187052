//! `xrelay evm`: putting xrelay on an EVM chain.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use xrelay_devchain::node::client::NodeClient;
use xrelay_light_client::ChainId;

use crate::config::RelayerConfig;
use crate::devnet::evm::{
    attested_client_state, create_client_on_devchain, create_client_on_evm, deploy,
};
use crate::keys::Keystore;
use crate::wiring::evm::finality_mode;

/// `xrelay evm …`.
#[derive(Debug, Subcommand)]
pub enum EvmCommand {
    /// Deploys the light client, the Gateway and the `echo` and `transfer` apps on an EVM
    /// chain of the configuration (paid by, and governed by, the chain's `account_key`),
    /// creates on it the clients of the chains it is linked to, and prints the Gateway's
    /// address for `[chains.evm] gateway`.
    Deploy(DeployArgs),
}

/// `xrelay evm deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The relayer configuration.
    #[arg(long)]
    pub config: std::path::PathBuf,
    /// The EVM chain (its id in the configuration).
    #[arg(long)]
    pub chain: String,
    /// Also create, on each linked devchain, its client of this EVM chain, signed with this
    /// keystore key (the devchain's governance). Attestation mode only (the committee from
    /// the configuration), trusting the EVM chain's latest block.
    #[arg(long)]
    pub devchain_governance_key: Option<String>,
}

/// Runs `xrelay evm`.
pub async fn run(cmd: EvmCommand) -> anyhow::Result<()> {
    match cmd {
        EvmCommand::Deploy(args) => deploy_cmd(args).await,
    }
}

async fn deploy_cmd(args: DeployArgs) -> anyhow::Result<()> {
    let cfg = RelayerConfig::load(&args.config, std::env::vars())?;
    let chain = cfg
        .chains
        .iter()
        .find(|c| c.id == args.chain)
        .ok_or_else(|| anyhow!("no chain {} in {}", args.chain, args.config.display()))?;
    let evm = chain
        .evm
        .as_ref()
        .ok_or_else(|| anyhow!("chain {} is not of kind \"evm\"", chain.id))?;
    let url = chain
        .rpc
        .first()
        .ok_or_else(|| anyhow!("chain {} has no rpc", chain.id))?;
    let id: ChainId = chain.id.parse()?;
    let keystore = Keystore::new(evm.keys_dir.clone().unwrap_or_else(Keystore::default_dir));
    let pass = crate::wiring::evm::keys_passphrase(&id, evm)?;
    let deployer = keystore
        .load(&evm.account_key, &pass)
        .with_context(|| format!("account key {:?}", evm.account_key))?;
    let deployed = deploy(url, &deployer, &id).await?;
    println!("light client: {}", deployed.light_client);
    println!("gateway:      {}", deployed.gateway);
    println!("echo app:     {}", deployed.echo);
    println!("transfer app: {}", deployed.transfer);
    let partners: Vec<&str> = cfg
        .links
        .iter()
        .filter_map(|l| match (&l.chains[0], &l.chains[1]) {
            (a, b) if *a == chain.id => Some(b.as_str()),
            (a, b) if *b == chain.id => Some(a.as_str()),
            _ => None,
        })
        .collect();
    for partner in partners {
        let Some(p) = cfg.chains.iter().find(|c| c.id == partner) else {
            continue;
        };
        let node = NodeClient::new(
            p.rpc
                .first()
                .ok_or_else(|| anyhow!("chain {partner} has no rpc"))?,
            std::time::Duration::from_millis(p.request_timeout_ms),
        )?;
        let trusted = create_client_on_evm(url, &deployer, deployed.light_client, &node).await?;
        println!(
            "client of {partner} created on {} at height {} ({})",
            chain.id, trusted.height, trusted.header_hash
        );
        if let Some(name) = &args.devchain_governance_key {
            let xrelay_light_client::evm::client::FinalityMode::Attestation(committee) =
                finality_mode(evm)?
            else {
                bail!("--devchain-governance-key needs consensus = \"attestation\"");
            };
            let gov = keystore
                .load(name, &pass)
                .with_context(|| format!("governance key {name:?}"))?;
            let state = attested_client_state(url, &id, deployed.gateway, committee).await?;
            let height = state.latest_height();
            create_client_on_devchain(&node, &gov, state).await?;
            println!(
                "client of {} created on {partner} at height {height}",
                chain.id
            );
        }
    }
    println!(
        "\nput this in [chains.evm] of {}:\ngateway = \"{}\"",
        chain.id, deployed.gateway
    );
    Ok(())
}
