//! The `Gateway` contract (the message module of an EVM chain) and its apps: bindings,
//! `deploy_all` (light client + gateway + apps, wired), and the byte bodies of its relay
//! calls. The bodies are the devchain's relay-transaction bodies (PROTOCOL.md §9.2, tags
//! 2–4) byte for byte, so a relayer encodes once for either kind of chain.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolInterface;
use xrelay_light_client::encoding::Writer;
use xrelay_light_client::{Acknowledgement, ChainId, Height, Message, StateProof};

use crate::light_client::{deploy_light_client, LightClientError};

/// `Gateway.json`: ABI and bytecode of `contracts/Gateway.sol`.
pub const GATEWAY_ARTIFACT: &str = include_str!("../artifacts/Gateway.json");
/// `EchoApp.json`: ABI and bytecode of `contracts/apps/EchoApp.sol`.
pub const ECHO_APP_ARTIFACT: &str = include_str!("../artifacts/EchoApp.json");
/// `TransferApp.json`: ABI and bytecode of `contracts/apps/TransferApp.sol`.
pub const TRANSFER_APP_ARTIFACT: &str = include_str!("../artifacts/TransferApp.json");

alloy::sol!(
    /// Binding of `contracts/Gateway.sol`, generated from its committed artifact: calls,
    /// events (`Sent`, `Received`, `Expired`, `Acknowledged`, `TimedOut`, `AlreadyDone`,
    /// `ClientUpdated`, `ClientFrozen`), custom errors and `deploy`.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Gateway,
    "artifacts/Gateway.json"
);

alloy::sol!(
    /// Binding of `contracts/apps/EchoApp.sol` (acks with the payload's SHA-256).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EchoApp,
    "artifacts/EchoApp.json"
);

alloy::sol!(
    /// Binding of `contracts/apps/TransferApp.sol` (escrow, vouchers, refunds; PROTOCOL.md §9.4).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TransferApp,
    "artifacts/TransferApp.json"
);

pub use Gateway::GatewayErrors;

/// The names apps are registered under: what messages name as `receiver`, as on a devchain.
pub const ECHO: &str = "echo";
/// See [`ECHO`].
pub const TRANSFER: &str = "transfer";

/// Why deploying or calling the Gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The node refused or failed the call or transaction; `reverted` holds the Gateway's
    /// custom error when the failure was a revert its ABI names.
    #[error("gateway call failed: {source}")]
    Call {
        /// The RPC or contract error.
        #[source]
        source: alloy::contract::Error,
        /// The decoded revert, if any.
        reverted: Option<GatewayErrors>,
    },
    /// A deployment or wiring transaction did not complete.
    #[error("deployment failed: {0}")]
    Deploy(String),
    /// Deploying the light client failed.
    #[error(transparent)]
    LightClient(#[from] LightClientError),
}

impl From<alloy::contract::Error> for GatewayError {
    fn from(source: alloy::contract::Error) -> Self {
        let reverted = gateway_revert_of(&source);
        GatewayError::Call { source, reverted }
    }
}

/// The Gateway's custom error carried by a failed call, if it reverted with one.
pub fn gateway_revert_of(err: &alloy::contract::Error) -> Option<GatewayErrors> {
    let data = err.as_revert_data()?;
    GatewayErrors::abi_decode(&data).ok()
}

/// Where `deploy_all` put the contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// `BftLightClient` (governance: the deploying account).
    pub light_client: Address,
    /// `Gateway` (governance: the deploying account).
    pub gateway: Address,
    /// `EchoApp`, registered as `echo`.
    pub echo: Address,
    /// `TransferApp`, registered as `transfer` (its governance mints genesis funds).
    pub transfer: Address,
}

/// Deploys a light client, a Gateway for chain `chain_id` using it, and the `echo` and
/// `transfer` apps registered with it, all from the provider's sending account (which
/// becomes governance of each). Clients of counterparties are created afterwards with the
/// light client's `createClient`.
pub async fn deploy_all<P: Provider + Clone>(
    provider: P,
    chain_id: &ChainId,
) -> Result<Deployment, GatewayError> {
    let light_client = deploy_light_client(provider.clone()).await?;
    let gateway = deployed(
        Gateway::deploy_builder(
            provider.clone(),
            Bytes::copy_from_slice(chain_id.as_str().as_bytes()),
            light_client,
        )
        .send()
        .await?,
    )
    .await?;
    let echo = deployed(
        EchoApp::deploy_builder(provider.clone(), gateway)
            .send()
            .await?,
    )
    .await?;
    let transfer = deployed(
        TransferApp::deploy_builder(provider.clone(), gateway)
            .send()
            .await?,
    )
    .await?;
    let contract = Gateway::new(gateway, provider);
    for (name, app) in [(ECHO, echo), (TRANSFER, transfer)] {
        let receipt = contract
            .registerApp(Bytes::copy_from_slice(name.as_bytes()), app)
            .send()
            .await?
            .get_receipt()
            .await
            .map_err(|e| GatewayError::Deploy(format!("registering {name}: {e}")))?;
        if !receipt.status() {
            return Err(GatewayError::Deploy(format!("registering {name} reverted")));
        }
    }
    Ok(Deployment {
        light_client,
        gateway,
        echo,
        transfer,
    })
}

async fn deployed<N: alloy::network::Network>(
    pending: alloy::providers::PendingTransactionBuilder<N>,
) -> Result<Address, GatewayError> {
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| GatewayError::Deploy(e.to_string()))?;
    use alloy::network::ReceiptResponse;
    receipt
        .contract_address()
        .ok_or_else(|| GatewayError::Deploy("receipt has no contract address".into()))
}

/// What a receive item's proof shows about its message on the source (the `u8 shows` of
/// an `InboundMessage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// Membership of `commitments/{destination}/{sequence}` = the message's commitment.
    Committed = 0,
    /// Membership of `outcomes/{destination}/{sequence}` = `0x03`: the source timed it out.
    TimedOut = 1,
}

/// `recv` body: `ChainId source ‖ u64 proof_height ‖ seq<Message ‖ u8 shows ‖ StateProof>`
/// (the devchain's tag-2 body).
pub fn recv_body(
    source: &ChainId,
    proof_height: Height,
    items: &[(Message, Shows, StateProof)],
) -> Bytes {
    let mut w = batch_header(source, proof_height, items.len());
    for (message, shows, proof) in items {
        w.put(message).u8(*shows as u8).put(proof);
    }
    w.into_vec().into()
}

/// `acknowledge` body: `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖
/// Acknowledgement ‖ StateProof>` (the devchain's tag-3 body).
pub fn ack_body(
    destination: &ChainId,
    proof_height: Height,
    items: &[(Message, Acknowledgement, StateProof)],
) -> Bytes {
    let mut w = batch_header(destination, proof_height, items.len());
    for (message, ack, proof) in items {
        w.put(message).put(ack).put(proof);
    }
    w.into_vec().into()
}

/// `timeout` body: `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖ StateProof>`
/// (the devchain's tag-4 body).
pub fn timeout_body(
    destination: &ChainId,
    proof_height: Height,
    items: &[(Message, StateProof)],
) -> Bytes {
    let mut w = batch_header(destination, proof_height, items.len());
    for (message, proof) in items {
        w.put(message).put(proof);
    }
    w.into_vec().into()
}

fn batch_header(chain: &ChainId, proof_height: Height, count: usize) -> Writer {
    let mut w = Writer::default();
    w.put(chain).u64(proof_height).len_prefix(count);
    w
}

/// A transfer app payload (`TransferPacket`, PROTOCOL.md §9.4): `bytes denom ‖ u128 amount ‖
/// address sender ‖ address receiver`.
pub fn transfer_packet(denom: &str, amount: u128, sender: Address, receiver: Address) -> Vec<u8> {
    let mut w = Writer::default();
    w.bytes(denom.as_bytes())
        .fixed(&amount.to_be_bytes())
        .fixed(sender.as_slice())
        .fixed(receiver.as_slice());
    w.into_vec()
}

/// The Gateway's storage key of protocol path `path`: `provable[sha256(path)]` lives at
/// `keccak256(sha256(path) ‖ 0)` (slot 0 mapping), what `eth_getProof` is asked for.
pub fn provable_slot(path: &[u8]) -> alloy::primitives::B256 {
    let key = xrelay_light_client::sha256(path);
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(&key.0);
    alloy::primitives::keccak256(preimage)
}
