//! `xrelay evm`: putting xrelay on an EVM chain.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use xrelay_devchain::node::client::NodeClient;
use xrelay_light_client::ChainId;

use crate::config::RelayerConfig;
use crate::config::{parse_address, ChainSection};
use crate::devnet::evm::{
    attested_client_state, create_client_on_devchain, create_client_on_evm,
    create_evm_client_on_evm, deploy, evm_client_state, signing_provider,
};
use crate::keys::Keystore;
use crate::wiring::evm::finality_mode;

/// `xrelay evm …`.
#[derive(Debug, Subcommand)]
pub enum EvmCommand {
    /// Deploys the light clients, the Gateway and the `echo` and `transfer` apps on an EVM
    /// chain of the configuration (paid by, and governed by, the chain's `account_key`),
    /// creates on it the clients of the chains it is linked to, and prints the Gateway's
    /// address for `[chains.evm] gateway`. A linked EVM chain whose Gateway is deployed
    /// already is linked both ways: its client here, and this chain's client there (signed
    /// with that chain's `account_key`, its light clients' governance).
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
    println!("evm client:   {}", deployed.evm_light_client);
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
        if p.evm.is_some() {
            link_evm_partner(url, &id, evm, &deployer, &deployed, p).await?;
            continue;
        }
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

/// Links the just-deployed EVM chain `id` with the EVM chain `partner` both ways: the
/// partner's client on `id`'s `EvmLightClient`, and `id`'s client on the partner's. Each
/// client trusts the other chain's latest block in the finality mode its configuration
/// names. A partner without a deployed Gateway is left for its own `evm deploy`, which
/// then links both ways.
async fn link_evm_partner(
    url: &str,
    id: &ChainId,
    evm: &crate::config::EvmSection,
    deployer: &xrelay_light_client::SigningKey,
    deployed: &xrelay_evm::gateway::Deployment,
    partner: &ChainSection,
) -> anyhow::Result<()> {
    use alloy::providers::Provider;
    let partner_id: ChainId = partner.id.parse()?;
    let pe = partner
        .evm
        .as_ref()
        .ok_or_else(|| anyhow!("chain {partner_id} is not of kind \"evm\""))?;
    let partner_url = partner
        .rpc
        .first()
        .ok_or_else(|| anyhow!("chain {partner_id} has no rpc"))?;
    let provider = signing_provider(partner_url, deployer)?;
    let gateway = parse_address(&pe.gateway).map(alloy::primitives::Address::from);
    let deployed_there = match gateway {
        Some(g) => !provider.get_code_at(g).await?.is_empty(),
        None => false,
    };
    let (Some(partner_gateway), true) = (gateway, deployed_there) else {
        println!(
            "{partner_id}: no Gateway deployed yet; `xrelay evm deploy --chain {partner_id}` links both ways"
        );
        return Ok(());
    };
    let theirs = evm_client_state(
        partner_url,
        &partner_id,
        partner_gateway,
        finality_mode(pe)?,
    )
    .await?;
    create_evm_client_on_evm(url, deployer, deployed.evm_light_client, &theirs).await?;
    println!(
        "client of {partner_id} created on {id} at height {}",
        theirs.latest_height()
    );
    let keystore = Keystore::new(pe.keys_dir.clone().unwrap_or_else(Keystore::default_dir));
    let pass = crate::wiring::evm::keys_passphrase(&partner_id, pe)?;
    let governance = keystore
        .load(&pe.account_key, &pass)
        .with_context(|| format!("{partner_id}: account key {:?}", pe.account_key))?;
    let their_client = xrelay_evm::gateway::Gateway::new(partner_gateway, provider)
        .evmLightClient()
        .call()
        .await
        .map_err(|e| anyhow!("{partner_id}: Gateway.evmLightClient(): {e}"))?;
    let ours = evm_client_state(url, id, deployed.gateway, finality_mode(evm)?).await?;
    create_evm_client_on_evm(partner_url, &governance, their_client, &ours).await?;
    println!(
        "client of {id} created on {partner_id} at height {}",
        ours.latest_height()
    );
    Ok(())
}
