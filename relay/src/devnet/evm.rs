//! EVM chains next to devchains: a real anvil node, the contracts deployed on it, and the
//! clients each side keeps of the other. Used by `xrelay evm deploy`, `xrelay demo
//! --with-evm` and the end-to-end tests.

use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Bytes, B256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{anyhow, bail, Context};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_evm::gateway::{deploy_all, Deployment};
use xrelay_evm::light_client::create_client_args;
use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::{Address, ChainId, SigningKey, TrustOptions, TrustedState};

pub use xrelay_evm::node::anvil_path;

/// A running anvil node on loopback (stopped when dropped).
pub struct Anvil {
    instance: alloy::node_bindings::AnvilInstance,
}

impl Anvil {
    /// Starts anvil with a block every `block_time_s` seconds (its funded dev accounts
    /// included).
    pub fn start(block_time_s: u64) -> anyhow::Result<Anvil> {
        let path = anvil_path();
        if !path.exists() {
            bail!(
                "anvil not found at {} (run scripts/test once, or set XRELAY_ANVIL)",
                path.display()
            );
        }
        let instance = alloy::node_bindings::Anvil::at(path)
            .block_time(block_time_s)
            .try_spawn()
            .map_err(|e| anyhow!("starting anvil: {e}"))?;
        Ok(Anvil { instance })
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> String {
        self.instance.endpoint()
    }

    /// Its EIP-155 chain id.
    pub fn chain_id(&self) -> u64 {
        self.instance.chain_id()
    }

    /// Its `i`-th funded dev account.
    pub fn key(&self, i: usize) -> anyhow::Result<SigningKey> {
        let k = self
            .instance
            .keys()
            .get(i)
            .ok_or_else(|| anyhow!("anvil has no dev account {i}"))?;
        let bytes: [u8; 32] = k.to_bytes().into();
        SigningKey::from_bytes(&bytes).map_err(|e| anyhow!("anvil key {i}: {e}"))
    }
}

/// A provider that signs with `key`.
pub fn signing_provider(
    url: &str,
    key: &SigningKey,
) -> anyhow::Result<impl Provider + Clone + 'static> {
    let signer = PrivateKeySigner::from_bytes(&B256::from(key.secret_bytes()))
        .map_err(|e| anyhow!("key: {e}"))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().context("EVM RPC URL")?))
}

/// Deploys the light client, the Gateway of `chain` and its apps from `deployer` (which
/// becomes their governance).
pub async fn deploy(
    url: &str,
    deployer: &SigningKey,
    chain: &ChainId,
) -> anyhow::Result<Deployment> {
    let provider = signing_provider(url, deployer)?;
    deploy_all(provider, chain)
        .await
        .map_err(|e| anyhow!("deploying on {chain}: {e}"))
}

/// Creates the EVM light client's client of the devchain behind `node`, trusting its latest
/// header (governance only: `deployer` must be the light client's governance).
pub async fn create_client_on_evm(
    url: &str,
    deployer: &SigningKey,
    light_client: alloy::primitives::Address,
    node: &NodeClient,
) -> anyhow::Result<TrustedState> {
    let status = node.status().await?;
    let block = node.canonical_light_block(status.latest_height).await?;
    let trusted =
        TrustedState::from_light_block(&block).map_err(|e| anyhow!("{}: {e}", status.chain_id))?;
    let (state, options) = create_client_args(&trusted, &TrustOptions::default());
    let provider = signing_provider(url, deployer)?;
    let contract = xrelay_evm::light_client::BftLightClient::new(light_client, provider);
    let receipt = contract
        .createClient(state, options)
        .send()
        .await
        .map_err(|e| anyhow!("createClient of {}: {e}", status.chain_id))?
        .get_receipt()
        .await
        .map_err(|e| anyhow!("createClient of {}: {e}", status.chain_id))?;
    if !receipt.status() {
        bail!("createClient of {} reverted", status.chain_id);
    }
    Ok(trusted)
}

/// The devchain's client of the EVM chain `chain` in attestation mode, trusting the block
/// at `height` as `url`'s node reports it.
pub async fn attested_client_state(
    url: &str,
    chain: &ChainId,
    gateway: alloy::primitives::Address,
    committee: Committee,
) -> anyhow::Result<EvmClientState> {
    let provider = ProviderBuilder::new().connect_http(url.parse().context("EVM RPC URL")?);
    let height = provider.get_block_number().await?;
    let block = provider
        .get_block_by_number(height.into())
        .await?
        .ok_or_else(|| anyhow!("{chain}: no block {height}"))?;
    EvmClientState::new(
        chain.clone(),
        FinalityMode::Attestation(committee),
        Vec::new(),
        Address(gateway.0 .0),
        height,
        EvmConsensusState {
            block_hash: xrelay_light_client::Hash32(block.header.hash.0),
            state_root: xrelay_light_client::Hash32(block.header.state_root.0),
            time_ms: block.header.timestamp.saturating_mul(1_000),
        },
    )
    .map_err(|e| anyhow!("{chain}: {e}"))
}

/// Creates the devchain's client of an EVM chain (governance action).
pub async fn create_client_on_devchain(
    node: &NodeClient,
    governance: &SigningKey,
    state: EvmClientState,
) -> anyhow::Result<()> {
    let status = node.status().await?;
    let of = state.chain_id().clone();
    let nonce = node.nonce(&governance.address()).await?;
    let tx = Tx::Signed(Box::new(SignedAction::sign(
        &status.chain_id,
        governance,
        nonce,
        Action::CreateEvmClient(Box::new(state)),
    )));
    let included = node
        .submit(&tx, Duration::from_secs(30))
        .await
        .with_context(|| format!("creating the client of {of} on {}", status.chain_id))?;
    if let Err(why) = included.outcome {
        bail!("creating the client of {of} on {}: {why}", status.chain_id);
    }
    Ok(())
}

/// Mints `amount` of `denom` to `to` in the EVM chain's transfer app (governance only).
pub async fn mint(
    url: &str,
    governance: &SigningKey,
    transfer_app: alloy::primitives::Address,
    denom: &str,
    to: alloy::primitives::Address,
    amount: u128,
) -> anyhow::Result<()> {
    let provider = signing_provider(url, governance)?;
    let app = xrelay_evm::gateway::TransferApp::new(transfer_app, provider);
    let receipt = app
        .mint(to, Bytes::copy_from_slice(denom.as_bytes()), amount)
        .send()
        .await?
        .get_receipt()
        .await?;
    if !receipt.status() {
        bail!("minting {amount} {denom} reverted");
    }
    Ok(())
}

/// The EVM chain's id in devnets and the demo.
pub const EVM_CHAIN: &str = "evm-1";

/// Passphrase of the devnet's keystore (development keys, never for real funds).
const DEV_PASSPHRASE: &str = "xrelay-devnet";

/// An anvil chain added to a devnet: contracts deployed, clients created both ways, the
/// relayer's keys in a keystore, and the relayer configuration extended with it.
pub struct EvmDevnet {
    /// The node.
    pub anvil: Anvil,
    /// The chain's xrelay id.
    pub chain: ChainId,
    /// Where the contracts are.
    pub deployment: Deployment,
    /// Governance of the contracts (anvil's account 0).
    pub governance: SigningKey,
    /// A dApp user with ether for gas (anvil's account 2).
    pub user: SigningKey,
}

impl EvmDevnet {
    /// Starts anvil (a block every `block_time_s`), deploys the contracts, creates the
    /// clients between it and `partner` (a devnet chain, whose governance is the devnet's),
    /// and appends the chain and the link to the relayer configuration at `relayer_config`.
    /// One relayer attests the chain alone (a committee of one).
    pub async fn up(
        dir: &std::path::Path,
        relayer_config: &std::path::Path,
        partner: &NodeClient,
        block_time_s: u64,
    ) -> anyhow::Result<EvmDevnet> {
        Self::up_with_committee(dir, &[relayer_config], partner, block_time_s).await
    }

    /// [`Self::up`] for several relayers (a mesh): relayer `i` (its configuration at
    /// `relayer_configs[i]`) gets its own EVM account and attester key, and the committee
    /// of the chain is all of them with a quorum of all, so no block is attested unless
    /// every relayer's node agrees.
    pub async fn up_with_committee(
        dir: &std::path::Path,
        relayer_configs: &[&std::path::Path],
        partner: &NodeClient,
        block_time_s: u64,
    ) -> anyhow::Result<EvmDevnet> {
        // Anvil's accounts 0 (governance) and 2 (the user) are taken; 1 and 3..=9 remain.
        const ACCOUNTS: [usize; 8] = [1, 3, 4, 5, 6, 7, 8, 9];
        if relayer_configs.is_empty() || relayer_configs.len() > ACCOUNTS.len() {
            bail!(
                "between 1 and {} relayers can share an anvil devnet",
                ACCOUNTS.len()
            );
        }
        let anvil = Anvil::start(block_time_s)?;
        let url = anvil.url();
        let chain: ChainId = EVM_CHAIN.parse()?;
        let governance = anvil.key(0)?;
        let user = anvil.key(2)?;
        let attesters: Vec<SigningKey> = (0..relayer_configs.len() as u32)
            .map(|i| SigningKey::from_seed("xrelay.devnet.attester", i))
            .collect();
        let deployment = deploy(&url, &governance, &chain).await?;
        create_client_on_evm(&url, &governance, deployment.light_client, partner).await?;
        let committee = Committee::new(
            attesters.iter().map(SigningKey::address).collect(),
            attesters.len(),
        )
        .map_err(|e| anyhow!("committee: {e}"))?;
        let state = attested_client_state(&url, &chain, deployment.gateway, committee).await?;
        create_client_on_devchain(partner, &super::governance_key(), state).await?;

        let keys_dir = dir.join("keys");
        let keystore = crate::keys::Keystore::new(&keys_dir);
        let passphrase_file = keys_dir.join("passphrase");
        let partner_id = partner.status().await?.chain_id;
        for (i, config) in relayer_configs.iter().enumerate() {
            let suffix = if i == 0 {
                String::new()
            } else {
                format!("-{i}")
            };
            let (account_name, attester_name) = (
                format!("evm-account{suffix}"),
                format!("evm-attester{suffix}"),
            );
            let account = anvil.key(ACCOUNTS[i])?;
            for (name, key) in [(&account_name, &account), (&attester_name, &attesters[i])] {
                if keystore.load(name, DEV_PASSPHRASE).is_err() {
                    keystore.add(name, Some(key.secret_bytes()), DEV_PASSPHRASE)?;
                }
            }
            std::fs::write(&passphrase_file, DEV_PASSPHRASE)?;
            let mut evm = toml::Table::new();
            evm.insert("chain_id".into(), (anvil.chain_id() as i64).into());
            evm.insert("gateway".into(), deployment.gateway.to_string().into());
            evm.insert("consensus".into(), "attestation".into());
            evm.insert(
                "attesters".into(),
                attesters
                    .iter()
                    .map(|a| toml::Value::from(a.address().to_string()))
                    .collect::<Vec<_>>()
                    .into(),
            );
            evm.insert("quorum".into(), (attesters.len() as i64).into());
            evm.insert("account_key".into(), account_name.into());
            evm.insert("attester_key".into(), attester_name.into());
            evm.insert("keys_dir".into(), path_str(&keys_dir)?.into());
            evm.insert("passphrase_file".into(), path_str(&passphrase_file)?.into());
            add_chain(config, &url, block_time_s, evm, &partner_id)?;
        }
        Ok(EvmDevnet {
            anvil,
            chain,
            deployment,
            governance,
            user,
        })
    }
}

/// Appends the EVM chain (its `[chains.evm]` section `evm`) and its link with `partner`
/// to the relayer configuration at `config`.
fn add_chain(
    config: &std::path::Path,
    url: &str,
    block_time_s: u64,
    evm: toml::Table,
    partner: &ChainId,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config).with_context(|| format!("{}", config.display()))?;
    let mut root: toml::Table = toml::from_str(&text)?;
    let mut c = toml::Table::new();
    c.insert("id".into(), EVM_CHAIN.into());
    c.insert("kind".into(), "evm".into());
    c.insert("rpc".into(), vec![toml::Value::from(url)].into());
    c.insert(
        "block_time_ms".into(),
        ((block_time_s * 1_000) as i64).into(),
    );
    c.insert("evm".into(), evm.into());
    let chains = root
        .entry("chains")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = chains {
        a.push(c.into());
    }
    let mut link = toml::Table::new();
    link.insert(
        "chains".into(),
        vec![
            toml::Value::from(partner.to_string()),
            toml::Value::from(EVM_CHAIN),
        ]
        .into(),
    );
    let links = root
        .entry("links")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = links {
        a.push(link.into());
    }
    std::fs::write(config, toml::to_string_pretty(&root)?)
        .with_context(|| format!("{}", config.display()))
}

fn path_str(p: &std::path::Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} is not valid UTF-8", p.display()))
}
