//! `xrelay tx send|transfer` from an EVM chain: the Gateway's `sendMessage` (any registered
//! app, e.g. `echo`) or the transfer app's `send` (escrow, or a voucher burned on its way
//! home: PROTOCOL.md §9.4), signed with a keystore key or by a dev node for one of its
//! unlocked accounts. Every call is estimated first, so a send the contracts refuse is a
//! typed error (its revert decoded) and nothing goes out; `--count N` sends N transactions
//! with consecutive local nonces before waiting for any receipt. The message ids come from
//! the receipts' `Sent` events, as the devchain path reads its `MessageSent` events.

mod error;
mod source;

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use xrelay_evm::gateway::{Gateway, TransferApp};
use xrelay_light_client::{ChainId, Decode, Message, MessageId, SigningKey, Timeout};

pub use error::{EvmSendError, Refusal};
use source::{broadcast, connect, transfer_app, wait_receipt, Source};

use crate::config::RelayerConfig;

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

/// Sends from the EVM chain `from` of `cfg` and calls `emit` with each message id, in
/// sequence order, as its receipt arrives; returns them all.
pub async fn send(
    cfg: &RelayerConfig,
    from: &str,
    signer: EvmSigner,
    plan: EvmSend,
    emit: &mut dyn FnMut(&MessageId),
) -> Result<Vec<MessageId>, EvmSendError> {
    let section = cfg
        .chain(from)
        .ok_or_else(|| EvmSendError::UnknownChain(from.to_string()))?;
    let evm = section
        .evm
        .as_ref()
        .ok_or_else(|| EvmSendError::NotEvm(from.to_string()))?;
    if cfg.chain(plan.destination.as_str()).is_none() {
        return Err(EvmSendError::UnknownChain(plan.destination.to_string()));
    }
    let source = connect(section, evm, signer).await?;
    let (to, input) = match &plan.call {
        EvmCall::Message { app, payload } => (
            source.gateway,
            Gateway::sendMessageCall {
                destination: bytes(plan.destination.as_str()),
                app: bytes(app),
                timeoutHeight: plan.timeout.height,
                timeoutTimeMs: plan.timeout.time_ms,
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
                destination: bytes(plan.destination.as_str()),
                denom: bytes(denom),
                amount: *amount,
                receiver: Address::from(*receiver),
                timeoutHeight: plan.timeout.height,
                timeoutTimeMs: plan.timeout.time_ms,
            };
            (app, call.abi_encode())
        }
    };
    let request = TransactionRequest::default()
        .with_from(source.sender)
        .with_to(to)
        .with_input(input)
        .with_chain_id(source.evm_chain_id);
    let (hashes, failed) = broadcast(&source, request, plan.count).await?;
    // What went out is waited for and reported even when a later transaction failed.
    let mut ids = Vec::with_capacity(hashes.len());
    let deadline = Instant::now() + MIN_RECEIPT_WAIT.max(source.block_time.saturating_mul(30));
    for hash in hashes {
        let receipt = wait_receipt(&source, hash, deadline).await?;
        for id in sent_ids(&source, &receipt)? {
            emit(&id);
            ids.push(id);
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(ids),
    }
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
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
