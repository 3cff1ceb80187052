//! The `Gateway` contract (the message module of an EVM chain) and its apps: bindings,
//! `deploy_all` (light client + gateway + apps, wired), and the byte bodies of its relay
//! calls. The bodies are the protocol's relay-transaction bodies (`xrelay_protocol::RelayTx`,
//! PROTOCOL.md §9.2, tags 1–10) byte for byte, so a relayer encodes once for every kind of
//! chain.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolInterface;
use xrelay_light_client::{Acknowledgement, ChainId, Decode, Encode, Height, Message, StateProof};
pub use xrelay_protocol::SourceProof;
use xrelay_protocol::{tag, InboundMessage, ProvenAck, ProvenMessage, RelayTx, TransferPacket};

use crate::evm_light_client::{deploy_evm_light_client, EvmLightClientError};
use crate::light_client::{deploy_light_client, LightClientError};

/// `Gateway.json`: ABI and bytecode of `contracts/Gateway.sol`.
pub const GATEWAY_ARTIFACT: &str = include_str!("../artifacts/Gateway.json");
/// `EchoApp.json`: ABI and bytecode of `contracts/apps/EchoApp.sol`.
pub const ECHO_APP_ARTIFACT: &str = include_str!("../artifacts/EchoApp.json");
/// `EvmStorageProofs.json`: ABI and bytecode of `contracts/EvmStorageProofs.sol`.
pub const EVM_STORAGE_PROOFS_ARTIFACT: &str = include_str!("../artifacts/EvmStorageProofs.json");
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
    /// Binding of `contracts/EvmStorageProofs.sol` (the Gateway's checker of EVM
    /// counterparties' Merkle-Patricia storage proofs).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    EvmStorageProofs,
    "artifacts/EvmStorageProofs.json"
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
    /// Deploying the BFT light client failed.
    #[error(transparent)]
    LightClient(#[from] LightClientError),
    /// Deploying the EVM light client failed.
    #[error(transparent)]
    EvmLightClient(#[from] EvmLightClientError),
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
    /// `EvmLightClient` (governance: the deploying account).
    pub evm_light_client: Address,
    /// `EvmStorageProofs` (stateless).
    pub evm_storage_proofs: Address,
    /// `Gateway` (governance: the deploying account).
    pub gateway: Address,
    /// `EchoApp`, registered as `echo`.
    pub echo: Address,
    /// `TransferApp`, registered as `transfer` (its governance mints genesis funds).
    pub transfer: Address,
}

/// Deploys the light clients of both families (`BftLightClient`, `EvmLightClient` with its
/// `EvmStorageProofs`), a Gateway for chain `chain_id` using them, and the `echo` and
/// `transfer` apps registered with it, all from the provider's sending account (which
/// becomes governance of each). Clients of counterparties are created afterwards with the
/// `createClient` of the light client of the counterparty's family.
pub async fn deploy_all<P: Provider + Clone>(
    provider: P,
    chain_id: &ChainId,
) -> Result<Deployment, GatewayError> {
    let light_client = deploy_light_client(provider.clone()).await?;
    let evm_light_client = deploy_evm_light_client(provider.clone()).await?;
    let evm_storage_proofs = deployed(
        EvmStorageProofs::deploy_builder(provider.clone())
            .send()
            .await?,
    )
    .await?;
    let gateway = deployed(
        Gateway::deploy_builder(
            provider.clone(),
            Bytes::copy_from_slice(chain_id.as_str().as_bytes()),
            light_client,
            evm_light_client,
            evm_storage_proofs,
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
        evm_light_client,
        evm_storage_proofs,
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

/// The encoding of a relay transaction without its tag byte (PROTOCOL.md §9.2):
/// the argument of the matching Gateway call.
pub fn relay_body(tx: &RelayTx) -> Bytes {
    Bytes::from(tx.body())
}

/// `recv` body: `ChainId source ‖ u64 proof_height ‖ seq<Message ‖ u8 shows ‖ StateProof>`
/// (the devchain's tag-2 body).
pub fn recv_body(
    source: &ChainId,
    proof_height: Height,
    items: &[(Message, SourceProof, StateProof)],
) -> Bytes {
    relay_body(&RelayTx::Recv {
        source: source.clone(),
        proof_height,
        messages: items
            .iter()
            .map(|(message, shows, proof)| InboundMessage {
                message: message.clone(),
                shows: *shows,
                proof: proof.clone(),
            })
            .collect(),
    })
}

/// `acknowledge` body: `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖
/// Acknowledgement ‖ StateProof>` (the devchain's tag-3 body).
pub fn ack_body(
    destination: &ChainId,
    proof_height: Height,
    items: &[(Message, Acknowledgement, StateProof)],
) -> Bytes {
    relay_body(&RelayTx::Ack {
        destination: destination.clone(),
        proof_height,
        acks: items
            .iter()
            .map(|(message, ack, proof)| ProvenAck {
                message: message.clone(),
                ack: ack.clone(),
                proof: proof.clone(),
            })
            .collect(),
    })
}

/// `timeout` body: `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖ StateProof>`
/// (the devchain's tag-4 body).
pub fn timeout_body(
    destination: &ChainId,
    proof_height: Height,
    items: &[(Message, StateProof)],
) -> Bytes {
    relay_body(&RelayTx::Timeout {
        destination: destination.clone(),
        proof_height,
        messages: items
            .iter()
            .map(|(message, proof)| ProvenMessage {
                message: message.clone(),
                proof: proof.clone(),
            })
            .collect(),
    })
}

/// A transfer app payload (`TransferPacket`, PROTOCOL.md §9.4): `bytes denom ‖ u128 amount ‖
/// address sender ‖ address receiver`.
pub fn transfer_packet(denom: &str, amount: u128, sender: Address, receiver: Address) -> Vec<u8> {
    TransferPacket {
        denom: denom.to_string(),
        amount,
        sender: xrelay_light_client::Address(sender.0 .0),
        receiver: xrelay_light_client::Address(receiver.0 .0),
    }
    .encode()
}

/// The Gateway call that carries a relay transaction (client update, receive,
/// acknowledge, timeout, misbehaviour; tags 1–5 for BFT counterparties, 6–10 for EVM ones):
/// its argument is the transaction's encoding without the tag byte (PROTOCOL.md §9.2), so a
/// relayer encodes once for every kind of chain.
pub fn relay_call(tx: &RelayTx) -> Gateway::GatewayCalls {
    use Gateway::GatewayCalls as Call;
    let body = || relay_body(tx);
    match tx {
        RelayTx::UpdateClient { .. } => {
            Call::updateClient(Gateway::updateClientCall { body: body() })
        }
        RelayTx::Recv { .. } => Call::recv(Gateway::recvCall { body: body() }),
        RelayTx::Ack { .. } => Call::acknowledge(Gateway::acknowledgeCall { body: body() }),
        RelayTx::Timeout { .. } => Call::timeout(Gateway::timeoutCall { body: body() }),
        RelayTx::SubmitMisbehaviour { .. } => {
            Call::submitMisbehaviour(Gateway::submitMisbehaviourCall { body: body() })
        }
        RelayTx::UpdateEvmClient { .. } => {
            Call::updateEvmClient(Gateway::updateEvmClientCall { body: body() })
        }
        RelayTx::RecvEvm { .. } => Call::recvEvm(Gateway::recvEvmCall { body: body() }),
        RelayTx::AckEvm { .. } => {
            Call::acknowledgeEvm(Gateway::acknowledgeEvmCall { body: body() })
        }
        RelayTx::TimeoutEvm { .. } => Call::timeoutEvm(Gateway::timeoutEvmCall { body: body() }),
        RelayTx::SubmitEvmMisbehaviour { .. } => {
            Call::submitEvmMisbehaviour(Gateway::submitEvmMisbehaviourCall { body: body() })
        }
    }
}

/// The relay transaction a Gateway call carries, the inverse of [`relay_call`]:
/// what an observer of the EVM chain reads back (e.g. the headers a client was given).
/// `None` for other calls and for a body that does not decode as that transaction.
pub fn relay_tx(call: &Gateway::GatewayCalls) -> Option<RelayTx> {
    use Gateway::GatewayCalls as Call;
    let (tag, body) = match call {
        Call::updateClient(c) => (tag::UPDATE_CLIENT, &c.body),
        Call::recv(c) => (tag::RECV, &c.body),
        Call::acknowledge(c) => (tag::ACK, &c.body),
        Call::timeout(c) => (tag::TIMEOUT, &c.body),
        Call::submitMisbehaviour(c) => (tag::SUBMIT_MISBEHAVIOUR, &c.body),
        Call::updateEvmClient(c) => (tag::UPDATE_EVM_CLIENT, &c.body),
        Call::recvEvm(c) => (tag::RECV_EVM, &c.body),
        Call::acknowledgeEvm(c) => (tag::ACK_EVM, &c.body),
        Call::timeoutEvm(c) => (tag::TIMEOUT_EVM, &c.body),
        Call::submitEvmMisbehaviour(c) => (tag::SUBMIT_EVM_MISBEHAVIOUR, &c.body),
        _ => return None,
    };
    let mut tagged = Vec::with_capacity(body.len() + 1);
    tagged.push(tag);
    tagged.extend_from_slice(body);
    RelayTx::decode(&tagged).ok()
}

/// The Gateway's storage key of protocol path `path`: `provable[sha256(path)]` lives at
/// `keccak256(sha256(path) ‖ 0)` (slot 0 mapping), what `eth_getProof` is asked for.
pub fn provable_slot(path: &[u8]) -> alloy::primitives::B256 {
    let key = xrelay_light_client::sha256(path);
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(&key.0);
    alloy::primitives::keccak256(preimage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::evm::attest::{Attestation, Attested};
    use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
    use xrelay_light_client::{Hash32, SigningKey};

    fn id(s: &str) -> ChainId {
        ChainId::new(s).unwrap()
    }

    #[test]
    fn relay_calls_carry_the_devchain_body_and_read_back_as_the_same_transaction() {
        let txs = [
            RelayTx::UpdateClient {
                chain: id("alpha"),
                blocks: vec![],
            },
            RelayTx::Recv {
                source: id("alpha"),
                proof_height: 7,
                messages: vec![],
            },
            RelayTx::Ack {
                destination: id("beta"),
                proof_height: 8,
                acks: vec![],
            },
            RelayTx::Timeout {
                destination: id("beta"),
                proof_height: 9,
                messages: vec![],
            },
            RelayTx::UpdateEvmClient {
                chain: id("gamma"),
                updates: vec![],
            },
            RelayTx::RecvEvm {
                source: id("gamma"),
                proof_height: 10,
                messages: vec![],
            },
            RelayTx::AckEvm {
                destination: id("gamma"),
                proof_height: 11,
                acks: vec![],
            },
            RelayTx::TimeoutEvm {
                destination: id("gamma"),
                proof_height: 12,
                messages: vec![],
            },
            RelayTx::SubmitEvmMisbehaviour {
                chain: id("gamma"),
                evidence: Box::new(EvmMisbehaviour::Conflict(Attested::sign(
                    Attestation {
                        chain_id: id("gamma"),
                        height: 13,
                        block_hash: Hash32([1; 32]),
                        state_root: Hash32([2; 32]),
                        time_ms: 14,
                    },
                    &[SigningKey::from_seed("gateway-call", 0)],
                ))),
            },
        ];
        for tx in txs {
            let call = relay_call(&tx);
            let encoded = tx.encode();
            let body = match &call {
                Gateway::GatewayCalls::updateClient(c) => &c.body,
                Gateway::GatewayCalls::recv(c) => &c.body,
                Gateway::GatewayCalls::acknowledge(c) => &c.body,
                Gateway::GatewayCalls::timeout(c) => &c.body,
                Gateway::GatewayCalls::updateEvmClient(c) => &c.body,
                Gateway::GatewayCalls::recvEvm(c) => &c.body,
                Gateway::GatewayCalls::acknowledgeEvm(c) => &c.body,
                Gateway::GatewayCalls::timeoutEvm(c) => &c.body,
                Gateway::GatewayCalls::submitEvmMisbehaviour(c) => &c.body,
                other => panic!("unexpected call {other:?}"),
            };
            assert_eq!(body.as_ref(), &encoded[1..], "{}", tx.kind());
            assert_eq!(relay_tx(&call), Some(tx));
        }
    }

    #[test]
    fn a_bad_body_or_another_call_reads_back_as_no_transaction() {
        let garbled = Gateway::GatewayCalls::recv(Gateway::recvCall {
            body: Bytes::from_static(&[0xff; 3]),
        });
        assert_eq!(relay_tx(&garbled), None);
        let other = Gateway::GatewayCalls::lightClient(Gateway::lightClientCall {});
        assert_eq!(relay_tx(&other), None);
    }
}
