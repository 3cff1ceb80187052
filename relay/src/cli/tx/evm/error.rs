//! Why a send from an EVM chain fails: [`EvmSendError`], and the contracts' reverts decoded
//! into [`Refusal`].

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{SolError, SolInterface};
use xrelay_evm::gateway::{GatewayErrors, TransferApp};

/// Why a send from an EVM chain did not happen (or not completely). Every check runs
/// before the first transaction goes out, so only `Reverted`, `NotIncluded`, `NoSentEvent`
/// and an `Rpc` failure while sending or waiting can come after some were sent.
#[derive(Debug, thiserror::Error)]
pub enum EvmSendError {
    /// The chain is not in the relayer configuration.
    #[error("chain {0} is not in the config")]
    UnknownChain(String),
    /// The source chain has no `[chains.evm]` section.
    #[error("chain {0} is not of kind \"evm\"")]
    NotEvm(String),
    /// The key cannot sign Ethereum transactions.
    #[error("the signing key is not a valid secp256k1 key: {0}")]
    BadKey(String),
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;
    use xrelay_evm::gateway::Gateway;

    fn bytes(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

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
