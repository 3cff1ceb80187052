//! `xrelay tx send|transfer` from an EVM chain: the Gateway's `sendMessage` (any registered
//! app, e.g. `echo`) or the transfer app's `send` (escrow, or a voucher burned on its way
//! home: PROTOCOL.md §9.4), signed with a keystore key or by a dev node for one of its
//! unlocked accounts. Every call is estimated first, so a send the contracts refuse is a
//! typed error (its revert decoded) and nothing goes out; `--count N` sends N transactions
//! with consecutive local nonces before waiting for any receipt. The message ids come from
//! the receipts' `Sent` events, as the devchain path reads its `MessageSent` events.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, TxHash, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolEvent, SolInterface};
use xrelay_evm::gateway::{Gateway, GatewayErrors, TransferApp, TRANSFER};
use xrelay_light_client::{ChainId, Decode, Message, MessageId, SigningKey, Timeout};

use crate::config::{parse_address, ChainSection, EvmSection, RelayerConfig};

/// Gas limit = estimate × (100 + this) / 100: later messages of a `--count` burst run on a
/// state the estimate did not see (a lane counter one higher).
const GAS_MARGIN_PERCENT: u64 = 25;

/// Longest wait for the receipts, at least (longer on slow chains: 30 block intervals).
const MIN_RECEIPT_WAIT: Duration = Duration::from_secs(60);

/// Who pays for and signs the sends on the EVM chain.
pub enum EvmSigner {
    /// A secp256k1 key (from the keystore), signed here.
    Key(SigningKey),
    /// A dev node's `index`-th unlocked account (`eth_accounts`, anvil's funded accounts),
    /// which the node signs for: never on a real chain.
    DevAccount(u32),
}

/// What each transaction sends.
pub enum EvmCall {
    /// `Gateway.sendMessage` to `app` on the destination.
    Message {
        /// The app's registered name, as on every chain.
        app: String,
        /// The payload.
        payload: Vec<u8>,
    },
    /// `TransferApp.send`: `amount` of `denom` to `receiver` on the destination.
    Transfer {
        /// The token (a local denomination, or a voucher `v/{chain}/{denom}` going home).
        denom: String,
        /// Integer units.
        amount: u128,
        /// The account on the destination.
        receiver: [u8; 20],
    },
}

/// One `xrelay tx` invocation from an EVM chain.
pub struct EvmSend {
    /// The destination chain.
    pub destination: ChainId,
    /// The message's timeout (time only: EVM sends never set a height).
    pub timeout: Timeout,
    /// What to send.
    pub call: EvmCall,
    /// How many identical transactions.
    pub count: u32,
}

/// Why a send from an EVM chain did not happen (or not completely). Every check runs
/// before the first transaction goes out, so only `Reverted`, `NotIncluded`, `NoSentEvent`
/// and an `Rpc` failure while sending or waiting can come after some were sent.
#[derive(Debug, thiserror::Error)]
pub enum EvmSendError {
    /// The chain is not in the relayer configuration.
    #[error("chain {0} is not in the config")]
    UnknownChain(String),
    /// `[chains.evm] gateway` is the zero address (the placeholder before `xrelay evm deploy`).
    #[error("chain {0} has no gateway configured ([chains.evm] gateway is the zero address: run `xrelay evm deploy` and put its address there)")]
    NoGateway(String),
    /// No endpoint of the chain answered.
    #[error("chain {chain}: no RPC endpoint reachable ({tried})")]
    Unreachable {
        /// The chain.
        chain: String,
        /// Each endpoint and its failure.
        tried: String,
    },
    /// The endpoint serves another chain than the configuration names.
    #[error("chain {chain}: the endpoint reports EIP-155 chain id {reported}, the config says {configured}")]
    WrongChainId {
        /// The chain.
        chain: String,
        /// `[chains.evm] chain_id`.
        configured: u64,
        /// `eth_chainId`.
        reported: u64,
    },
    /// No contract at the configured gateway address.
    #[error("chain {chain}: no contract at the configured gateway {gateway}")]
    GatewayNotDeployed {
        /// The chain.
        chain: String,
        /// The address.
        gateway: String,
    },
    /// The Gateway at the configured address belongs to another xrelay chain id.
    #[error("chain {chain}: the gateway at {gateway} is the gateway of {says}")]
    OtherChainsGateway {
        /// The chain.
        chain: String,
        /// The address.
        gateway: String,
        /// The chain id the contract holds.
        says: String,
    },
    /// `--dev-account N` beyond the node's unlocked accounts.
    #[error("chain {chain}: the node has {available} unlocked dev account(s), no account {index} (--dev-account is for dev nodes such as anvil; use --key elsewhere)")]
    NoDevAccount {
        /// The chain.
        chain: String,
        /// The index asked for.
        index: u32,
        /// How many the node lists.
        available: usize,
    },
    /// The Gateway has no app registered as `transfer`.
    #[error("chain {0}: no transfer app is registered with the gateway")]
    NoTransferApp(String),
    /// The sender holds less of the token than the transfer moves.
    #[error("insufficient balance: {account} holds {have} {denom}, the transfer needs {need}")]
    InsufficientTokens {
        /// The token.
        denom: String,
        /// The sender.
        account: String,
        /// Its balance in the transfer app.
        have: u128,
        /// The amount.
        need: u128,
    },
    /// The sender cannot pay for the gas.
    #[error("insufficient ether: {account} holds {have} wei, {count} transaction(s) may cost up to {need} wei")]
    InsufficientEther {
        /// The sender.
        account: String,
        /// Its balance.
        have: U256,
        /// Gas limit × fee per gas × count.
        need: U256,
        /// Transactions.
        count: u32,
    },
    /// The contracts refuse the send (estimated against the current state).
    #[error("chain {chain} refuses the send: {refusal}")]
    Refused {
        /// The chain.
        chain: String,
        /// The decoded revert.
        refusal: Refusal,
    },
    /// An RPC request failed or timed out.
    #[error("chain {chain}: {what}: {error}")]
    Rpc {
        /// The chain.
        chain: String,
        /// The request.
        what: String,
        /// The failure.
        error: String,
    },
    /// A transaction was included but reverted (the state changed after the estimate).
    #[error("chain {chain}: transaction {tx} reverted in block {block}")]
    Reverted {
        /// The chain.
        chain: String,
        /// Its hash.
        tx: String,
        /// Its block.
        block: u64,
    },
    /// A transaction was not included in time (it may still be).
    #[error("chain {chain}: transaction {tx} not included within {waited_s} s")]
    NotIncluded {
        /// The chain.
        chain: String,
        /// Its hash.
        tx: String,
        /// How long the tool waited.
        waited_s: u64,
    },
    /// An included send without a well-formed `Sent` event of the gateway.
    #[error("chain {chain}: transaction {tx} emitted no well-formed Sent event of the gateway")]
    NoSentEvent {
        /// The chain.
        chain: String,
        /// Its hash.
        tx: String,
    },
}

/// Why the contracts refuse a send: the revert, decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `Gateway.UnknownApp`: no app of that name on the source.
    #[error("no app named {0:?} is registered with the gateway")]
    UnknownApp(String),
    /// `Gateway.UnknownClient`: the source has no client of the destination.
    #[error("the gateway has no client of {0} (create it first: `xrelay evm deploy`)")]
    NoClientOfDestination(String),
    /// `Gateway.InvalidSend`: the send breaks a rule (timeout, payload size, destination).
    #[error("invalid send: {0}")]
    InvalidSend(String),
    /// The transfer app's `insufficient funds` revert.
    #[error("insufficient balance: {0}")]
    InsufficientBalance(String),
    /// Any other revert, as decoded as possible.
    #[error("{0}")]
    Other(String),
}

impl Refusal {
    /// Decodes revert data: the Gateway's custom errors, the transfer app's, then
    /// `Error(string)` and `Panic(uint256)`; anything else is shown as hex.
    pub fn decode(data: &[u8]) -> Refusal {
        let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        if let Ok(e) = GatewayErrors::abi_decode(data) {
            return match e {
                GatewayErrors::UnknownApp(e) => Refusal::UnknownApp(text(&e.name)),
                GatewayErrors::UnknownClient(e) => Refusal::NoClientOfDestination(text(&e.chainId)),
                GatewayErrors::InvalidSend(e) => Refusal::InvalidSend(e.why),
                other => Refusal::Other(format!("{other:?}")),
            };
        }
        if let Ok(e) = TransferApp::TransferAppErrors::abi_decode(data) {
            return Refusal::Other(format!("{e:?}"));
        }
        if let Ok(revert) = <alloy::sol_types::Revert as SolError>::abi_decode(data) {
            return if revert.reason.starts_with("insufficient funds") {
                Refusal::InsufficientBalance(revert.reason)
            } else {
                Refusal::Other(revert.reason)
            };
        }
        if let Ok(panic) = <alloy::sol_types::Panic as SolError>::abi_decode(data) {
            return Refusal::Other(match panic.kind() {
                Some(kind) => format!("panic: {}", kind.as_str()),
                None => format!("panic code {}", panic.code),
            });
        }
        Refusal::Other(format!("revert data 0x{}", hex::encode(data)))
    }
}

/// The chain's endpoint, the sender and the contracts, checked.
struct Source {
    chain: String,
    provider: DynProvider,
    sender: Address,
    gateway: Address,
    evm_chain_id: u64,
    request_timeout: Duration,
    block_time: Duration,
    max_fee: u128,
}

impl Source {
    fn rpc_err(&self, what: &str, error: impl std::fmt::Display) -> EvmSendError {
        EvmSendError::Rpc {
            chain: self.chain.clone(),
            what: what.to_string(),
            error: error.to_string(),
        }
    }

    /// One RPC request, bounded by the chain's `request_timeout_ms`.
    async fn rpc<T, E: std::fmt::Display>(
        &self,
        what: &str,
        call: impl IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, EvmSendError> {
        match tokio::time::timeout(self.request_timeout, call.into_future()).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.rpc_err(what, e)),
            Err(_) => {
                Err(self.rpc_err(what, format!("no answer within {:?}", self.request_timeout)))
            }
        }
    }
}

/// Sends from the EVM chain `from` of `cfg` and calls `emit` with each message id, in
/// sequence order, as its receipt arrives; returns them all.
pub async fn send(
    cfg: &RelayerConfig,
    from: &str,
    signer: EvmSigner,
    send: EvmSend,
    emit: &mut dyn FnMut(&MessageId),
) -> Result<Vec<MessageId>, EvmSendError> {
    let section = cfg
        .chain(from)
        .ok_or_else(|| EvmSendError::UnknownChain(from.to_string()))?;
    let evm = section
        .evm
        .as_ref()
        .ok_or_else(|| EvmSendError::UnknownChain(format!("{from} (of kind \"evm\")")))?;
    if cfg.chain(send.destination.as_str()).is_none() {
        return Err(EvmSendError::UnknownChain(send.destination.to_string()));
    }
    let source = connect(section, evm, signer).await?;
    let (to, input) = match &send.call {
        EvmCall::Message { app, payload } => (
            source.gateway,
            Gateway::sendMessageCall {
                destination: bytes(send.destination.as_str()),
                app: bytes(app),
                timeoutHeight: send.timeout.height,
                timeoutTimeMs: send.timeout.time_ms,
                payload: Bytes::copy_from_slice(payload),
            }
            .abi_encode(),
        ),
        EvmCall::Transfer {
            denom,
            amount,
            receiver,
        } => {
            let app = transfer_app(&source, denom, *amount).await?;
            let call = TransferApp::sendCall {
                destination: bytes(send.destination.as_str()),
                denom: bytes(denom),
                amount: *amount,
                receiver: Address::from(*receiver),
                timeoutHeight: send.timeout.height,
                timeoutTimeMs: send.timeout.time_ms,
            };
            (app, call.abi_encode())
        }
    };
    let request = TransactionRequest::default()
        .with_from(source.sender)
        .with_to(to)
        .with_input(input)
        .with_chain_id(source.evm_chain_id);
    let hashes = broadcast(&source, request, send.count).await?;
    let mut ids = Vec::with_capacity(hashes.len());
    let deadline = Instant::now() + MIN_RECEIPT_WAIT.max(source.block_time.saturating_mul(30));
    for hash in hashes {
        let receipt = wait_receipt(&source, hash, deadline).await?;
        for id in sent_ids(&source, &receipt)? {
            emit(&id);
            ids.push(id);
        }
    }
    Ok(ids)
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Reaches the chain (first endpoint that answers, with the right chain id), checks the
/// Gateway is there and is this chain's, and resolves the sender.
async fn connect(
    section: &ChainSection,
    evm: &EvmSection,
    signer: EvmSigner,
) -> Result<Source, EvmSendError> {
    let chain = section.id.clone();
    let gateway = parse_address(&evm.gateway)
        .map(Address::from)
        .filter(|a| !a.is_zero())
        .ok_or_else(|| EvmSendError::NoGateway(chain.clone()))?;
    let request_timeout = Duration::from_millis(section.request_timeout_ms);
    let wallet = match &signer {
        EvmSigner::Key(key) => Some(EthereumWallet::from(
            PrivateKeySigner::from_bytes(&B256::from(key.secret_bytes())).map_err(|e| {
                EvmSendError::Rpc {
                    chain: chain.clone(),
                    what: "loading the key".into(),
                    error: e.to_string(),
                }
            })?,
        )),
        EvmSigner::DevAccount(_) => None,
    };
    let mut tried = Vec::new();
    let mut reached = None;
    for url in &section.rpc {
        let Ok(parsed) = url.parse() else {
            tried.push(format!("{url}: not a URL"));
            continue;
        };
        let builder = ProviderBuilder::new().disable_recommended_fillers();
        let provider = match &wallet {
            Some(w) => builder.wallet(w.clone()).connect_http(parsed).erased(),
            None => builder.connect_http(parsed).erased(),
        };
        match tokio::time::timeout(request_timeout, provider.get_chain_id()).await {
            Ok(Ok(id)) => {
                reached = Some((provider, id));
                break;
            }
            Ok(Err(e)) => tried.push(format!("{url}: {e}")),
            Err(_) => tried.push(format!("{url}: no answer within {request_timeout:?}")),
        }
    }
    let (provider, reported) = reached.ok_or_else(|| EvmSendError::Unreachable {
        chain: chain.clone(),
        tried: tried.join("; "),
    })?;
    if reported != evm.chain_id {
        return Err(EvmSendError::WrongChainId {
            chain,
            configured: evm.chain_id,
            reported,
        });
    }
    let mut source = Source {
        chain: chain.clone(),
        provider,
        sender: Address::ZERO,
        gateway,
        evm_chain_id: evm.chain_id,
        request_timeout,
        block_time: Duration::from_millis(section.block_time_ms),
        max_fee: u128::from(evm.max_fee_gwei) * 1_000_000_000,
    };
    let code = source
        .rpc("eth_getCode", source.provider.get_code_at(gateway))
        .await?;
    if code.is_empty() {
        return Err(EvmSendError::GatewayNotDeployed {
            chain,
            gateway: gateway.to_string(),
        });
    }
    let contract = Gateway::new(gateway, source.provider.clone());
    let says = source
        .rpc("Gateway.chainId", contract.chainId().call())
        .await?;
    if says.as_ref() != chain.as_bytes() {
        return Err(EvmSendError::OtherChainsGateway {
            chain,
            gateway: gateway.to_string(),
            says: String::from_utf8_lossy(&says).into_owned(),
        });
    }
    source.sender = match signer {
        EvmSigner::Key(key) => Address::from(key.address().0),
        EvmSigner::DevAccount(index) => {
            let accounts = source
                .rpc("eth_accounts", source.provider.get_accounts())
                .await?;
            *accounts
                .get(index as usize)
                .ok_or(EvmSendError::NoDevAccount {
                    chain,
                    index,
                    available: accounts.len(),
                })?
        }
    };
    Ok(source)
}

/// The transfer app's address, once the sender is seen to hold `amount` of `denom`.
async fn transfer_app(source: &Source, denom: &str, amount: u128) -> Result<Address, EvmSendError> {
    let gateway = Gateway::new(source.gateway, source.provider.clone());
    let app = source
        .rpc(
            "Gateway.appAddress",
            gateway.appAddress(bytes(TRANSFER)).call(),
        )
        .await?;
    if app.is_zero() {
        return Err(EvmSendError::NoTransferApp(source.chain.clone()));
    }
    let have = source
        .rpc(
            "TransferApp.balanceOf",
            TransferApp::new(app, source.provider.clone())
                .balanceOf(bytes(denom), source.sender)
                .call(),
        )
        .await?;
    if have < amount {
        return Err(EvmSendError::InsufficientTokens {
            denom: denom.to_string(),
            account: source.sender.to_string(),
            have,
            need: amount,
        });
    }
    Ok(app)
}

/// Fees per gas: EIP-1559 where blocks carry a base fee (twice the base fee plus the
/// priority fee), the legacy gas price otherwise; never above `[chains.evm] max_fee_gwei`.
async fn with_fees(
    source: &Source,
    request: TransactionRequest,
) -> Result<(TransactionRequest, u128), EvmSendError> {
    let block = source
        .rpc(
            "eth_getBlockByNumber",
            source
                .provider
                .get_block_by_number(BlockNumberOrTag::Latest),
        )
        .await?
        .ok_or_else(|| source.rpc_err("eth_getBlockByNumber", "no latest block"))?;
    Ok(match block.header.base_fee_per_gas {
        Some(base) => {
            let priority = source
                .rpc(
                    "eth_maxPriorityFeePerGas",
                    source.provider.get_max_priority_fee_per_gas(),
                )
                .await?;
            let max_fee = u128::from(base)
                .saturating_mul(2)
                .saturating_add(priority)
                .min(source.max_fee);
            (
                request
                    .with_max_fee_per_gas(max_fee)
                    .with_max_priority_fee_per_gas(priority.min(max_fee)),
                max_fee,
            )
        }
        None => {
            let price = source
                .rpc("eth_gasPrice", source.provider.get_gas_price())
                .await?
                .min(source.max_fee);
            (request.with_gas_price(price), price)
        }
    })
}

/// Estimates the call (a revert is a typed refusal and nothing is sent), checks the sender
/// can pay for `count` of them, then sends them with consecutive nonces without waiting.
async fn broadcast(
    source: &Source,
    request: TransactionRequest,
    count: u32,
) -> Result<Vec<TxHash>, EvmSendError> {
    let estimate = match tokio::time::timeout(
        source.request_timeout,
        source.provider.estimate_gas(request.clone()),
    )
    .await
    {
        Ok(Ok(gas)) => gas,
        Ok(Err(e)) => {
            return Err(match e.as_error_resp().and_then(|p| p.as_revert_data()) {
                Some(data) => EvmSendError::Refused {
                    chain: source.chain.clone(),
                    refusal: Refusal::decode(&data),
                },
                None => source.rpc_err("eth_estimateGas", e),
            })
        }
        Err(_) => return Err(source.rpc_err("eth_estimateGas", "no answer in time")),
    };
    let gas = estimate.saturating_mul(100 + GAS_MARGIN_PERCENT) / 100;
    let (request, fee_per_gas) = with_fees(source, request.with_gas_limit(gas)).await?;
    let need = U256::from(gas) * U256::from(fee_per_gas) * U256::from(count);
    let have = source
        .rpc("eth_getBalance", source.provider.get_balance(source.sender))
        .await?;
    if have < need {
        return Err(EvmSendError::InsufficientEther {
            account: source.sender.to_string(),
            have,
            need,
            count,
        });
    }
    let first = source
        .rpc(
            "eth_getTransactionCount",
            source
                .provider
                .get_transaction_count(source.sender)
                .pending(),
        )
        .await?;
    let mut hashes = Vec::with_capacity(count as usize);
    for i in 0..u64::from(count) {
        let tx = request.clone().with_nonce(first + i);
        let pending = source
            .rpc(
                &format!("sending transaction {} of {count}", i + 1),
                source.provider.send_transaction(tx),
            )
            .await?;
        hashes.push(*pending.tx_hash());
    }
    Ok(hashes)
}

async fn wait_receipt(
    source: &Source,
    hash: TxHash,
    deadline: Instant,
) -> Result<TransactionReceipt, EvmSendError> {
    let poll = (source.block_time / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let started = Instant::now();
    loop {
        if let Some(receipt) = source
            .rpc(
                "eth_getTransactionReceipt",
                source.provider.get_transaction_receipt(hash),
            )
            .await?
        {
            if !receipt.status() {
                return Err(EvmSendError::Reverted {
                    chain: source.chain.clone(),
                    tx: hash.to_string(),
                    block: receipt.block_number.unwrap_or_default(),
                });
            }
            return Ok(receipt);
        }
        if Instant::now() >= deadline {
            return Err(EvmSendError::NotIncluded {
                chain: source.chain.clone(),
                tx: hash.to_string(),
                waited_s: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// The ids of the messages the gateway's `Sent` events in `receipt` carry.
fn sent_ids(source: &Source, receipt: &TransactionReceipt) -> Result<Vec<MessageId>, EvmSendError> {
    let none = || EvmSendError::NoSentEvent {
        chain: source.chain.clone(),
        tx: receipt.transaction_hash.to_string(),
    };
    let ids = receipt
        .inner
        .logs()
        .iter()
        .filter(|log| {
            log.address() == source.gateway && log.topic0() == Some(&Gateway::Sent::SIGNATURE_HASH)
        })
        .map(|log| {
            let sent = Gateway::Sent::decode_log_data(&log.inner.data).map_err(|_| none())?;
            let message = Message::decode(&sent.message).map_err(|_| none())?;
            if message.source.as_str() != source.chain {
                return Err(none());
            }
            Ok(message.id())
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(none());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_decode_to_the_rule_they_name() {
        let app = GatewayErrors::UnknownApp(Gateway::UnknownApp {
            name: bytes("chess"),
        })
        .abi_encode();
        assert_eq!(Refusal::decode(&app), Refusal::UnknownApp("chess".into()));
        let client = GatewayErrors::UnknownClient(Gateway::UnknownClient {
            chainId: bytes("nowhere"),
        })
        .abi_encode();
        assert_eq!(
            Refusal::decode(&client),
            Refusal::NoClientOfDestination("nowhere".into())
        );
        let funds = alloy::sol_types::Revert::from("insufficient funds: d balance 1 < 5");
        assert_eq!(
            Refusal::decode(&funds.abi_encode()),
            Refusal::InsufficientBalance("insufficient funds: d balance 1 < 5".into())
        );
        assert!(matches!(Refusal::decode(&[1, 2, 3]), Refusal::Other(s) if s.contains("010203")));
    }
}
