//! EVM chains next to devchains: a real anvil node, the contracts deployed on it, and the
//! clients each side keeps of the other. Used by `xrelay evm deploy`, `xrelay demo
//! --with-evm` and the end-to-end tests.

use std::path::PathBuf;
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

/// The anvil binary: `$XRELAY_ANVIL`, or the one `scripts/lib.sh` installs from npm.
pub fn anvil_path() -> PathBuf {
    std::env::var_os("XRELAY_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/xrelay-tools/node_modules/.bin/anvil")
        })
}

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
    pub async fn up(
        dir: &std::path::Path,
        relayer_config: &std::path::Path,
        partner: &NodeClient,
        block_time_s: u64,
    ) -> anyhow::Result<EvmDevnet> {
        let anvil = Anvil::start(block_time_s)?;
        let url = anvil.url();
        let chain: ChainId = EVM_CHAIN.parse()?;
        let governance = anvil.key(0)?;
        let account = anvil.key(1)?;
        let user = anvil.key(2)?;
        let attester = SigningKey::from_seed("xrelay.devnet.attester", 0);
        let deployment = deploy(&url, &governance, &chain).await?;
        create_client_on_evm(&url, &governance, deployment.light_client, partner).await?;
        let committee =
            Committee::new(vec![attester.address()], 1).map_err(|e| anyhow!("committee: {e}"))?;
        let state = attested_client_state(&url, &chain, deployment.gateway, committee).await?;
        create_client_on_devchain(partner, &super::governance_key(), state).await?;

        let keys_dir = dir.join("keys");
        let keystore = crate::keys::Keystore::new(&keys_dir);
        for (name, key) in [("evm-account", &account), ("evm-attester", &attester)] {
            if keystore.load(name, DEV_PASSPHRASE).is_err() {
                keystore.add(name, Some(key.secret_bytes()), DEV_PASSPHRASE)?;
            }
        }
        let passphrase_file = keys_dir.join("passphrase");
        std::fs::write(&passphrase_file, DEV_PASSPHRASE)?;

        let text = std::fs::read_to_string(relayer_config)
            .with_context(|| format!("{}", relayer_config.display()))?;
        let mut root: toml::Table = toml::from_str(&text)?;
        let partner_id = partner.status().await?.chain_id;
        let mut evm = toml::Table::new();
        evm.insert("chain_id".into(), (anvil.chain_id() as i64).into());
        evm.insert("gateway".into(), deployment.gateway.to_string().into());
        evm.insert("consensus".into(), "attestation".into());
        evm.insert(
            "attesters".into(),
            vec![toml::Value::from(attester.address().to_string())].into(),
        );
        evm.insert("account_key".into(), "evm-account".into());
        evm.insert("attester_key".into(), "evm-attester".into());
        evm.insert("keys_dir".into(), path_str(&keys_dir)?.into());
        evm.insert("passphrase_file".into(), path_str(&passphrase_file)?.into());
        let mut c = toml::Table::new();
        c.insert("id".into(), EVM_CHAIN.into());
        c.insert("kind".into(), "evm".into());
        c.insert("rpc".into(), vec![toml::Value::from(url.clone())].into());
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
                toml::Value::from(partner_id.to_string()),
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
        std::fs::write(relayer_config, toml::to_string_pretty(&root)?)
            .with_context(|| format!("{}", relayer_config.display()))?;
        Ok(EvmDevnet {
            anvil,
            chain,
            deployment,
            governance,
            user,
        })
    }
}

fn path_str(p: &std::path::Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} is not valid UTF-8", p.display()))
}
