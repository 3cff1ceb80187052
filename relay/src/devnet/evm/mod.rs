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
use xrelay_evm::evm_light_client::create_evm_client_args;
use xrelay_evm::gateway::{deploy_all, Deployment};
use xrelay_evm::light_client::create_client_args;
use xrelay_light_client::evm::attest::Committee;
use xrelay_light_client::evm::client::{EvmClientState, EvmConsensusState, FinalityMode};
use xrelay_light_client::{Address, ChainId, SigningKey, TrustOptions, TrustedState};

pub use xrelay_evm::node::anvil_path;

mod topology;
pub use topology::{EvmDevnet, EvmOptions, EvmTopology, EVM_CHAIN};

/// anvil's default EIP-155 chain id: the first EVM chain of a devnet keeps it.
pub const ANVIL_CHAIN_ID: u64 = 31337;

/// A running anvil node on loopback (stopped when dropped).
pub struct Anvil {
    instance: alloy::node_bindings::AnvilInstance,
}

impl Anvil {
    /// Starts anvil with a block every `block_time_s` seconds (its funded dev accounts
    /// included).
    pub fn start(block_time_s: u64) -> anyhow::Result<Anvil> {
        Self::start_as(block_time_s, ANVIL_CHAIN_ID)
    }

    /// [`Anvil::start`] with EIP-155 chain id `chain_id`: chains of one devnet get distinct
    /// ids, so a transaction signed for one can never be replayed on another.
    pub fn start_as(block_time_s: u64, chain_id: u64) -> anyhow::Result<Anvil> {
        let path = anvil_path();
        if !path.exists() {
            bail!(
                "anvil not found at {} (run scripts/test once, or set XRELAY_ANVIL)",
                path.display()
            );
        }
        let instance = alloy::node_bindings::Anvil::at(path)
            .block_time(block_time_s)
            .chain_id(chain_id)
            .try_spawn()
            .map_err(|e| anyhow!("starting anvil: {e}"))?;
        Ok(Anvil { instance })
    }

    /// Its process id (the demo holds a chain still with SIGSTOP to make messages time out).
    pub fn pid(&self) -> u32 {
        self.instance.child().id()
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

/// Creates, on an EVM chain's `EvmLightClient`, its client of another EVM chain from
/// `state` (governance only: `governance` must be the light client's governance). The
/// trusting period and clock drift are the protocol's defaults (`TrustOptions::default`),
/// as for clients of BFT chains.
pub async fn create_evm_client_on_evm(
    url: &str,
    governance: &SigningKey,
    evm_light_client: alloy::primitives::Address,
    state: &EvmClientState,
) -> anyhow::Result<()> {
    let of = state.chain_id();
    let options = TrustOptions::default();
    let args = create_evm_client_args(
        state,
        options.trusting_period_ms,
        options.max_clock_drift_ms,
    );
    let provider = signing_provider(url, governance)?;
    let contract = xrelay_evm::evm_light_client::EvmLightClient::new(evm_light_client, provider);
    let receipt = contract
        .createClient(args)
        .send()
        .await
        .map_err(|e| anyhow!("createClient of {of}: {e}"))?
        .get_receipt()
        .await
        .map_err(|e| anyhow!("createClient of {of}: {e}"))?;
    if !receipt.status() {
        bail!("createClient of {of} reverted");
    }
    Ok(())
}

/// A client state of the EVM chain `chain` (Gateway at `gateway`) in finality mode `mode`,
/// trusting the latest block as `url`'s node reports it: in a seal mode the header's own
/// validators (QBFT, IBFT 2.0) or checkpoint signers (Clique: the latest block must be a
/// checkpoint) become the trusted set; in the attestation mode the committee vouches from
/// there on. Whoever creates a client with it trusts that node for the anchor.
pub async fn evm_client_state(
    url: &str,
    chain: &ChainId,
    gateway: alloy::primitives::Address,
    mode: FinalityMode,
) -> anyhow::Result<EvmClientState> {
    let provider = ProviderBuilder::new().connect_http(url.parse().context("EVM RPC URL")?);
    let height = provider.get_block_number().await?;
    let block = provider
        .get_block_by_number(height.into())
        .await?
        .ok_or_else(|| anyhow!("{chain}: no block {height}"))?;
    let gateway = Address(gateway.0 .0);
    let state = match mode {
        FinalityMode::Attestation(_) => EvmClientState::new(
            chain.clone(),
            mode,
            Vec::new(),
            gateway,
            height,
            EvmConsensusState {
                block_hash: xrelay_light_client::Hash32(block.header.hash.0),
                state_root: xrelay_light_client::Hash32(block.header.state_root.0),
                time_ms: block.header.timestamp.saturating_mul(1_000),
            },
        ),
        _ => {
            let header = xrelay_adapters::evm::header_of(chain.as_str(), height, &block.header)?;
            EvmClientState::from_header(chain.clone(), mode, &header, gateway)
        }
    };
    state.map_err(|e| anyhow!("{chain}: {e}"))
}

/// [`evm_client_state`] in the attestation mode of `committee`.
pub async fn attested_client_state(
    url: &str,
    chain: &ChainId,
    gateway: alloy::primitives::Address,
    committee: Committee,
) -> anyhow::Result<EvmClientState> {
    evm_client_state(url, chain, gateway, FinalityMode::Attestation(committee)).await
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
