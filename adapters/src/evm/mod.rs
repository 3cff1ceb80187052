//! The EVM adapter: an Ethereum JSON-RPC node (anvil, geth, Besu, GoQuorum) and the xrelay
//! Gateway contract on it. Events come from the Gateway's logs, headers as the RLP the block
//! hash commits to (rebuilt from the node's JSON and checked against the hash it gave),
//! proofs from `eth_getProof` (the Gateway's account and the storage slots of protocol
//! paths, PROTOCOL.md §12), and relay calls are sent from the relayer's account with local
//! nonces and fee bumping ([`sender`]).

pub mod gateway;
pub mod sender;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolInterface};
use alloy::transports::{RpcError, TransportError};
use async_trait::async_trait;
use tokio::sync::watch;
use xrelay_evm::gateway::{relay_call, relay_tx};
use xrelay_light_client::evm::client::{provable_slot, EvmClientState, EvmStorageProof};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::{ChainId, ClientState, Decode, Hash32, Height, LightBlock, TimeMs};
use xrelay_protocol::RelayTx;

use crate::endpoints::{EndpointPolicy, Endpoints, RpcErrorCounter};
use crate::screen::{screen_events, Head, HeadGuard, Refusals};
use crate::types::Applied;
use crate::{
    AdapterError, ChainAdapter, ChainEvent, ChainFamily, ChainProof, ChainStatus, Confirmed,
    HostedClient, Proven, Submission,
};
use gateway::{BftLightClient, EvmLightClient, Gateway, GatewayLog};
pub use sender::FeePolicy;
use sender::Sender;

/// How to reach one EVM chain and act on it.
#[derive(Clone)]
pub struct EvmSettings {
    /// The chain's xrelay id (the Gateway's own chain id).
    pub chain: ChainId,
    /// JSON-RPC endpoints (HTTP), tried in order with failover.
    pub urls: Vec<String>,
    /// The EIP-155 chain id the endpoints must report (`eth_chainId`).
    pub evm_chain_id: u64,
    /// The Gateway contract.
    pub gateway: Address,
    /// The relayer's account on this chain (pays for relay calls).
    pub account: xrelay_light_client::SigningKey,
    /// Blocks below the head before a block counts as final (0 on BFT chains such as QBFT
    /// and IBFT 2.0, whose blocks are final once sealed; some on Clique and dev nodes).
    pub confirmations: u64,
    /// Fees and stuck-transaction handling.
    pub fees: FeePolicy,
    /// Retries, timeouts, backoff.
    pub policy: EndpointPolicy,
    /// How often the head is polled.
    pub poll: Duration,
}

/// An EVM chain with an xrelay Gateway.
pub struct EvmAdapter {
    chain: ChainId,
    gateway: Address,
    light_client: Address,
    evm_light_client: Address,
    confirmations: u64,
    endpoints: Arc<Endpoints<RootProvider>>,
    sender: Sender,
    heads: watch::Receiver<Height>,
    head_task: tokio::task::JoinHandle<()>,
    refused: Refusals,
}

impl Drop for EvmAdapter {
    fn drop(&mut self) {
        self.head_task.abort();
    }
}

/// Classifies an alloy transport error: a revert is the chain's refusal, a missing block
/// "not found", a crowded mempool "busy", anything else a fault of the endpoint.
/// Selector of the Gateway's `InsufficientGas()` error: what a gas estimate reverts with when
/// even a whole block's gas leaves too little for the next item of a batch.
const INSUFFICIENT_GAS: &str = "0x1c26714c";

/// Whether a node's error text (lower case) says the transaction cannot fit in a block:
/// geth/Besu/anvil's "gas required exceeds allowance", "exceeds block gas limit", or the
/// Gateway running out of room for a batch's next item during the estimate.
fn too_large_for_a_block(lower: &str) -> bool {
    lower.contains("gas required exceeds")
        || lower.contains("exceeds block gas limit")
        || lower.contains(INSUFFICIENT_GAS)
}

pub(crate) fn rpc_error(chain: &str, e: TransportError) -> AdapterError {
    let chain = chain.to_string();
    match e {
        RpcError::ErrorResp(payload) => {
            let text = match &payload.data {
                Some(data) => format!("{} ({})", payload.message, data.get()),
                None => payload.message.to_string(),
            };
            let lower = text.to_ascii_lowercase();
            if too_large_for_a_block(&lower) {
                AdapterError::TooLarge { chain, why: text }
            } else if lower.contains("revert") || lower.contains("execution") {
                AdapterError::Refused {
                    chain,
                    reason: text,
                }
            } else if lower.contains("not found") || lower.contains("unknown block") {
                AdapterError::NotFound { chain, what: text }
            } else if lower.contains("nonce too low")
                || lower.contains("underpriced")
                || lower.contains("txpool is full")
                || lower.contains("already known")
            {
                AdapterError::Busy { chain, why: text }
            } else {
                AdapterError::Unavailable {
                    chain,
                    message: text,
                }
            }
        }
        RpcError::DeserError { err, .. } => AdapterError::BadAnswer {
            chain,
            why: err.to_string(),
        },
        RpcError::NullResp => AdapterError::NotFound {
            chain,
            what: "null answer".into(),
        },
        other => AdapterError::Unavailable {
            chain,
            message: other.to_string(),
        },
    }
}

/// What `eth_getProof` gave for the Gateway at one height: the account proof and one
/// storage proof per asked slot, each a list of RLP trie nodes from the root down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayProofs {
    /// The height the proofs are for.
    pub height: Height,
    /// Nodes from the state root to the Gateway's account.
    pub account_proof: Vec<Vec<u8>>,
    /// Per asked slot, in the order asked.
    pub slots: Vec<SlotProof>,
}

/// One storage slot's value and proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotProof {
    /// The stored 32-byte word, `None` when zero.
    pub word: Option<[u8; 32]>,
    /// Trie nodes from the Gateway's storage root to the slot.
    pub nodes: Vec<Vec<u8>>,
}

impl EvmAdapter {
    /// Connects to the chain through `settings.urls`; refuses endpoints that report another
    /// EIP-155 chain id or have no code at the Gateway's address.
    pub async fn connect(
        settings: EvmSettings,
        errors: RpcErrorCounter,
    ) -> Result<Self, AdapterError> {
        let chain = settings.chain.clone();
        if settings.urls.is_empty() {
            return Err(AdapterError::Unavailable {
                chain: chain.to_string(),
                message: "no RPC endpoints configured".into(),
            });
        }
        let mut clients = Vec::new();
        for url in &settings.urls {
            let parsed = url.parse().map_err(|e| AdapterError::Unavailable {
                chain: chain.to_string(),
                message: format!("{url}: {e}"),
            })?;
            clients.push((
                url.clone(),
                RootProvider::new(alloy::rpc::client::RpcClient::new(
                    transport::CappedHttp::new(parsed, transport::MAX_RESPONSE_BYTES),
                    alloy::transports::utils::guess_local_url(url),
                )),
            ));
        }
        let endpoints = Arc::new(Endpoints::new(
            chain.to_string(),
            clients,
            settings.policy,
            errors,
        ));
        let name = chain.to_string();
        let reported = endpoints
            .call("eth_chainId", |p| {
                let name = name.clone();
                async move { p.get_chain_id().await.map_err(|e| rpc_error(&name, e)) }
            })
            .await?;
        if reported != settings.evm_chain_id {
            return Err(AdapterError::BadAnswer {
                chain: name,
                why: format!(
                    "endpoint reports EIP-155 chain id {reported}, the configuration says {}",
                    settings.evm_chain_id
                ),
            });
        }
        let gateway = settings.gateway;
        let code = endpoints
            .call("eth_getCode", |p| {
                let name = name.clone();
                async move {
                    p.get_code_at(gateway)
                        .await
                        .map_err(|e| rpc_error(&name, e))
                }
            })
            .await?;
        if code.is_empty() {
            return Err(AdapterError::NotFound {
                chain: name,
                what: format!("no contract at the Gateway address {gateway}"),
            });
        }
        let light_client =
            gateway_view(&endpoints, &name, gateway, Gateway::lightClientCall {}).await?;
        let evm_light_client =
            gateway_view(&endpoints, &name, gateway, Gateway::evmLightClientCall {}).await?;
        let signer = PrivateKeySigner::from_bytes(&B256::from(settings.account.secret_bytes()))
            .map_err(|e| AdapterError::Refused {
                chain: name.clone(),
                reason: format!("the account key is unusable: {e}"),
            })?;
        let sender = Sender::new(
            name.clone(),
            endpoints.clone(),
            EthereumWallet::from(signer),
            settings.evm_chain_id,
            settings.fees.clone(),
            settings.poll,
        );
        let first = final_head(&endpoints, &name, settings.confirmations).await?;
        let (tx, heads) = watch::channel(first);
        let refused = Refusals::default();
        let head_task = tokio::spawn(follow_heads(
            chain.clone(),
            endpoints.clone(),
            settings.confirmations,
            settings.poll,
            tx,
            HeadGuard::new(first, settings.poll * 2),
            refused.clone(),
        ));
        Ok(EvmAdapter {
            chain,
            gateway,
            light_client,
            evm_light_client,
            confirmations: settings.confirmations,
            endpoints,
            sender,
            heads,
            head_task,
            refused,
        })
    }

    /// Counts what this adapter refuses from its nodes (events that cannot be true, heads
    /// too far ahead) in `xrelay_claims_refused_total{chain,reason}`.
    pub fn with_refusals(self, counter: prometheus::IntCounterVec) -> Self {
        self.refused.install(counter);
        self
    }

    fn name(&self) -> String {
        self.chain.to_string()
    }

    /// The chain.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain
    }

    /// The relayer's account on this chain.
    pub fn account(&self) -> Address {
        self.sender.address()
    }

    /// The Gateway contract.
    pub fn gateway(&self) -> Address {
        self.gateway
    }

    /// Latest final height and its time.
    pub async fn final_status(&self) -> Result<ChainStatus, AdapterError> {
        let height = final_head(&self.endpoints, &self.name(), self.confirmations).await?;
        let header = self.header(height).await?;
        Ok(ChainStatus {
            height,
            time_ms: header.timestamp.saturating_mul(1_000) as TimeMs,
        })
    }

    /// The header at `height` as the RLP its hash commits to: rebuilt from the node's JSON
    /// and refused unless it hashes to the block hash the node reported.
    pub async fn header(&self, height: Height) -> Result<EvmHeader, AdapterError> {
        let name = self.name();
        let block = self
            .endpoints
            .call("eth_getBlockByNumber", |p| {
                let name = name.clone();
                async move {
                    p.get_block_by_number(BlockNumberOrTag::Number(height))
                        .await
                        .map_err(|e| rpc_error(&name, e))
                }
            })
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                chain: name.clone(),
                what: format!("block {height}"),
            })?;
        header_of(&name, height, &block.header)
    }

    /// The Gateway's protocol events of heights `from..=to`, in chain order.
    pub async fn gateway_events(
        &self,
        from: Height,
        to: Height,
    ) -> Result<Vec<ChainEvent>, AdapterError> {
        let name = self.name();
        let filter = Filter::new()
            .address(self.gateway)
            .event_signature(gateway::topics())
            .from_block(from)
            .to_block(to);
        let filter = &filter;
        let mut logs = self
            .endpoints
            .call("eth_getLogs", |p| {
                let name = name.clone();
                async move { p.get_logs(filter).await.map_err(|e| rpc_error(&name, e)) }
            })
            .await?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            if log.removed {
                continue;
            }
            let height = log.block_number.ok_or_else(|| AdapterError::BadAnswer {
                chain: name.clone(),
                why: "log without a block number".into(),
            })?;
            if height < from || height > to {
                return Err(AdapterError::BadAnswer {
                    chain: name.clone(),
                    why: format!("log of block {height} outside {from}..={to}"),
                });
            }
            if let GatewayLog::Event(e) = gateway::decode_log(&self.chain, height, &log.inner)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The Gateway's account proof and the storage proofs of `slots` at `height`, in one
    /// `eth_getProof` request.
    pub async fn gateway_proofs(
        &self,
        slots: &[[u8; 32]],
        height: Height,
    ) -> Result<GatewayProofs, AdapterError> {
        let name = self.name();
        let keys: Vec<B256> = slots.iter().map(|s| B256::from(*s)).collect();
        let gateway = self.gateway;
        let keys = &keys;
        let answer = self
            .endpoints
            .call("eth_getProof", |p| {
                let name = name.clone();
                async move {
                    p.get_proof(gateway, keys.clone())
                        .block_id(height.into())
                        .await
                        .map_err(|e| rpc_error(&name, e))
                }
            })
            .await?;
        if answer.address != gateway || answer.storage_proof.len() != slots.len() {
            return Err(AdapterError::BadAnswer {
                chain: name,
                why: format!(
                    "eth_getProof answered for {} with {} storage proofs; asked {gateway} with {}",
                    answer.address,
                    answer.storage_proof.len(),
                    slots.len()
                ),
            });
        }
        let mut out = Vec::with_capacity(slots.len());
        for (slot, sp) in slots.iter().zip(answer.storage_proof) {
            if sp.key.as_b256().0 != *slot {
                return Err(AdapterError::BadAnswer {
                    chain: name,
                    why: "eth_getProof storage proofs out of order".into(),
                });
            }
            let word: [u8; 32] = sp.value.to_be_bytes();
            let value = (word != [0u8; 32]).then_some(word);
            out.push(SlotProof {
                word: value,
                nodes: sp.proof.into_iter().map(|n| n.to_vec()).collect(),
            });
        }
        Ok(GatewayProofs {
            height,
            account_proof: answer
                .account_proof
                .into_iter()
                .map(|n| n.to_vec())
                .collect(),
            slots: out,
        })
    }

    /// Sends one Gateway call and returns once the node accepted it (not included yet).
    pub async fn broadcast_call(&self, input: Bytes) -> Result<Hash32, AdapterError> {
        let sent = self.sender.send(self.gateway, input).await?;
        Ok(Hash32(sent.hash().0))
    }

    /// Sends one Gateway call and waits for the block that includes it; its events are the
    /// Gateway's logs in the receipt. A reverted transaction is the chain's refusal.
    pub async fn submit_call(&self, input: Bytes) -> Result<Confirmed, AdapterError> {
        let sent = self.sender.send(self.gateway, input).await?;
        let receipt = self.sender.confirm(sent).await?;
        self.confirmed(&receipt)
    }

    async fn eth_call(
        &self,
        to: Address,
        input: Vec<u8>,
        what: &str,
    ) -> Result<Bytes, AdapterError> {
        let name = self.name();
        let input = Bytes::from(input);
        let input = &input;
        self.endpoints
            .call(what, |p| {
                let name = name.clone();
                async move {
                    let tx = alloy::rpc::types::TransactionRequest::default()
                        .to(to)
                        .input(input.clone().into());
                    p.call(tx).await.map_err(|e| rpc_error(&name, e))
                }
            })
            .await
    }

    /// The answer of a light client's `clientState` view, `None` when it reverts with
    /// `Unknown` (no client of that chain in that contract).
    async fn hosted_state<Unknown: alloy::sol_types::SolError>(
        &self,
        contract: Address,
        input: Vec<u8>,
    ) -> Result<Option<Bytes>, AdapterError> {
        match self.eth_call(contract, input, "eth_call clientState").await {
            Ok(out) => Ok(Some(out)),
            Err(AdapterError::Refused { reason, .. })
                if reason.contains("UnknownClient")
                    || reason.contains(&hex_selector::<Unknown>()) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn bad_state(&self, contract: &str, e: impl std::fmt::Display) -> AdapterError {
        AdapterError::BadAnswer {
            chain: self.name(),
            why: format!("{contract}.clientState: {e}"),
        }
    }

    fn confirmed(&self, receipt: &TransactionReceipt) -> Result<Confirmed, AdapterError> {
        let height = receipt
            .block_number
            .ok_or_else(|| AdapterError::BadAnswer {
                chain: self.name(),
                why: "receipt without a block number".into(),
            })?;
        let tx_hash = Hash32(receipt.transaction_hash.0);
        if !receipt.status() {
            return Ok(Confirmed {
                height,
                tx_hash,
                outcome: Err(format!(
                    "transaction {} reverted in block {height}",
                    receipt.transaction_hash
                )),
            });
        }
        let mut applied = Applied::default();
        for log in receipt.inner.logs() {
            if log.address() != self.gateway {
                continue;
            }
            match gateway::decode_log(&self.chain, height, &log.inner)? {
                GatewayLog::Event(e) => applied.events.push(e),
                GatewayLog::AlreadyDone => applied.already_done += 1,
            }
        }
        Ok(Confirmed {
            height,
            tx_hash,
            outcome: Ok(applied),
        })
    }
}

async fn final_head(
    endpoints: &Endpoints<RootProvider>,
    name: &str,
    confirmations: u64,
) -> Result<Height, AdapterError> {
    let head = endpoints
        .call("eth_blockNumber", |p| async move {
            p.get_block_number().await.map_err(|e| rpc_error(name, e))
        })
        .await?;
    Ok(head.saturating_sub(confirmations))
}

/// Keeps `tx` at the chain's latest final height by polling; a head further ahead than
/// elapsed time allows is ignored, counted, and the next poll asks another endpoint.
async fn follow_heads(
    chain: ChainId,
    endpoints: Arc<Endpoints<RootProvider>>,
    confirmations: u64,
    poll: Duration,
    tx: watch::Sender<Height>,
    mut guard: HeadGuard,
    refused: Refusals,
) {
    let name = chain.to_string();
    loop {
        if tx.is_closed() {
            return;
        }
        if let Ok(h) = final_head(&endpoints, &name, confirmations).await {
            match guard.admit(h) {
                Head::Moved(h) => {
                    tx.send_replace(h);
                }
                Head::Known => {}
                Head::Suspect { allowed } => {
                    let endpoint = endpoints.preferred_url();
                    tracing::warn!(%chain, %endpoint, reported = h, allowed, "head further ahead than elapsed time allows; ignored");
                    refused.count(&chain, "suspect_head");
                    endpoints.demote(&endpoint);
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

/// The header of a block a node returned as JSON, as the RLP its hash commits to: refused
/// unless the rebuilt RLP hashes to the block hash the node reported and the number is
/// `height` (a node cannot make the relayer trust fields the hash does not cover).
pub fn header_of(
    chain: &str,
    height: Height,
    block: &alloy::rpc::types::Header,
) -> Result<EvmHeader, AdapterError> {
    let rlp = alloy::rlp::encode(&block.inner);
    let header = EvmHeader::decode(&rlp).map_err(|e| AdapterError::BadAnswer {
        chain: chain.to_string(),
        why: format!("block {height}: {e}"),
    })?;
    if header.hash().0 != block.hash.0 || header.number != height {
        return Err(AdapterError::BadAnswer {
            chain: chain.to_string(),
            why: format!(
                "block {height}: the header's fields hash to {}, the node says {} (number {})",
                header.hash(),
                block.hash,
                header.number
            ),
        });
    }
    Ok(header)
}

/// One of the Gateway's address-valued views (`lightClient()`, `evmLightClient()`): the
/// contracts it trusts, which the adapter reads hosted clients from.
async fn gateway_view<C>(
    endpoints: &Endpoints<RootProvider>,
    name: &str,
    gateway: Address,
    call: C,
) -> Result<Address, AdapterError>
where
    C: SolCall<Return = Address>,
{
    let input = Bytes::from(call.abi_encode());
    let input = &input;
    endpoints
        .call(&format!("eth_call {}", C::SIGNATURE), |p| async move {
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(gateway)
                .input(input.clone().into());
            let out = p.call(tx).await.map_err(|e| rpc_error(name, e))?;
            C::abi_decode_returns(&out).map_err(|e| AdapterError::BadAnswer {
                chain: name.to_string(),
                why: format!("Gateway.{}: {e}", C::SIGNATURE),
            })
        })
        .await
}

/// The Gateway call data of a submission: the devchain transaction body of the same relay
/// transaction (PROTOCOL.md §9.2, without the tag byte), as the argument of the matching
/// Gateway function (`recv` for a BFT source's proofs, `recvEvm` for an EVM source's, …).
fn gateway_input(chain: &ChainId, submission: Submission) -> Result<Bytes, AdapterError> {
    let tx = RelayTx::from_submission(submission).map_err(|e| AdapterError::Refused {
        chain: chain.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Bytes::from(relay_call(&tx).abi_encode()))
}

#[async_trait]
impl ChainAdapter for EvmAdapter {
    fn chain_id(&self) -> &ChainId {
        &self.chain
    }

    fn family(&self) -> ChainFamily {
        ChainFamily::Evm
    }

    async fn status(&self) -> Result<ChainStatus, AdapterError> {
        self.final_status().await
    }

    async fn light_block(&self, height: Height) -> Result<LightBlock, AdapterError> {
        Err(AdapterError::NotFound {
            chain: self.name(),
            what: format!("BFT light block {height}: an EVM chain has none"),
        })
    }

    async fn evm_header(&self, height: Height) -> Result<EvmHeader, AdapterError> {
        self.header(height).await
    }

    async fn events(&self, from: Height, to: Height) -> Result<Vec<ChainEvent>, AdapterError> {
        let events = self.gateway_events(from, to).await?;
        Ok(screen_events(&self.chain, from, to, events, &self.refused))
    }

    fn max_event_range(&self) -> u64 {
        2_000
    }

    fn heads(&self) -> watch::Receiver<Height> {
        self.heads.clone()
    }

    async fn prove(&self, key: &[u8], height: Height) -> Result<Proven, AdapterError> {
        let mut one = self.prove_many(&[key.to_vec()], height).await?;
        one.pop().ok_or_else(|| AdapterError::BadAnswer {
            chain: self.name(),
            why: "eth_getProof answered no storage proof".into(),
        })
    }

    async fn prove_many(
        &self,
        keys: &[Vec<u8>],
        height: Height,
    ) -> Result<Vec<Proven>, AdapterError> {
        let slots: Vec<[u8; 32]> = keys.iter().map(|k| provable_slot(k)).collect();
        let proofs = self.gateway_proofs(&slots, height).await?;
        let account_proof = proofs.account_proof;
        Ok(proofs
            .slots
            .into_iter()
            .map(|slot| Proven {
                height,
                value: slot.word.map(|w| w.to_vec()),
                proof: ChainProof::Evm(EvmStorageProof {
                    account_proof: account_proof.clone(),
                    storage_proof: slot.nodes,
                }),
            })
            .collect())
    }

    async fn client_state(&self, of: &ChainId) -> Result<Option<HostedClient>, AdapterError> {
        self.client_state_for(of, 0).await
    }

    async fn next_receive(&self, source: &ChainId, height: Height) -> Result<u64, AdapterError> {
        let name = self.name();
        let gateway = self.gateway;
        let input = Bytes::from(
            Gateway::nextRecvCall {
                source: Bytes::copy_from_slice(source.as_str().as_bytes()),
            }
            .abi_encode(),
        );
        let input = &input;
        self.endpoints
            .call("eth_call nextRecv", |p| {
                let name = name.clone();
                async move {
                    let tx = alloy::rpc::types::TransactionRequest::default()
                        .to(gateway)
                        .input(input.clone().into());
                    let out = p
                        .call(tx)
                        .block(height.into())
                        .await
                        .map_err(|e| rpc_error(&name, e))?;
                    Gateway::nextRecvCall::abi_decode_returns(&out).map_err(|e| {
                        AdapterError::BadAnswer {
                            chain: name.clone(),
                            why: format!("Gateway.nextRecv(): {e}"),
                        }
                    })
                }
            })
            .await
    }

    async fn client_state_for(
        &self,
        of: &ChainId,
        height: Height,
    ) -> Result<Option<HostedClient>, AdapterError> {
        let chain_id = Bytes::copy_from_slice(of.as_str().as_bytes());
        let bft = BftLightClient::clientStateCall {
            chainId: chain_id.clone(),
            height,
        };
        if let Some(bytes) = self
            .hosted_state::<BftLightClient::UnknownClient>(self.light_client, bft.abi_encode())
            .await?
        {
            let bytes = BftLightClient::clientStateCall::abi_decode_returns(&bytes)
                .map_err(|e| self.bad_state("BftLightClient", e))?;
            let state =
                ClientState::decode(&bytes).map_err(|e| self.bad_state("BftLightClient", e))?;
            return Ok(Some(HostedClient::Bft(Box::new(state))));
        }
        let evm = EvmLightClient::clientStateCall {
            chainId: chain_id,
            height,
        };
        let Some(bytes) = self
            .hosted_state::<EvmLightClient::UnknownClient>(self.evm_light_client, evm.abi_encode())
            .await?
        else {
            return Ok(None);
        };
        let bytes = EvmLightClient::clientStateCall::abi_decode_returns(&bytes)
            .map_err(|e| self.bad_state("EvmLightClient", e))?;
        let state =
            EvmClientState::decode(&bytes).map_err(|e| self.bad_state("EvmLightClient", e))?;
        Ok(Some(HostedClient::Evm(state)))
    }

    async fn submitted_headers(
        &self,
        height: Height,
        of: &ChainId,
    ) -> Result<Vec<LightBlock>, AdapterError> {
        let name = self.name();
        let block = self
            .endpoints
            .call("eth_getBlockByNumber", |p| {
                let name = name.clone();
                async move {
                    p.get_block_by_number(BlockNumberOrTag::Number(height))
                        .full()
                        .await
                        .map_err(|e| rpc_error(&name, e))
                }
            })
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                chain: name.clone(),
                what: format!("block {height}"),
            })?;
        let mut out = Vec::new();
        for tx in block.transactions.txns() {
            use alloy::consensus::Transaction as _;
            if tx.to() != Some(self.gateway) {
                continue;
            }
            let Ok(call) = Gateway::GatewayCalls::abi_decode(tx.input()) else {
                continue;
            };
            if let Some(RelayTx::UpdateClient { chain, blocks }) = relay_tx(&call) {
                if chain == *of {
                    out.extend(blocks);
                }
            }
        }
        Ok(out)
    }

    async fn submit(&self, submission: Submission) -> Result<Confirmed, AdapterError> {
        let input = gateway_input(&self.chain, submission)?;
        self.submit_call(input).await
    }

    async fn broadcast(&self, submission: Submission) -> Result<Hash32, AdapterError> {
        let input = gateway_input(&self.chain, submission)?;
        self.broadcast_call(input).await
    }
}

/// The 4-byte selector of a Solidity custom error as hex, as nodes report reverts.
fn hex_selector<E: alloy::sol_types::SolError>() -> String {
    alloy::hex::encode(E::SELECTOR)
}
