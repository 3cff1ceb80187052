//! The chain-agnostic vocabulary between adapters and the relay core.

use serde::{Deserialize, Serialize};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{Acknowledgement, ChainId, ClientState, Hash32, Height, Message, TimeMs};
/// What the relay asks a chain to run, as the protocol defines it (re-exported: adapters
/// and the core speak of it through this crate).
pub use xrelay_protocol::{ChainProof, ClientUpdate, Submission};

/// Where a chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    /// Latest committed height.
    pub height: Height,
    /// Its block time.
    pub time_ms: TimeMs,
}

/// A protocol event, with the height of the block that emitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChainEvent {
    /// A message was committed for sending here.
    Sent {
        /// Block height.
        height: Height,
        /// The message.
        message: Message,
    },
    /// A message from another chain was received here and its app answered.
    Received {
        /// Block height.
        height: Height,
        /// The message.
        message: Message,
        /// The app's answer.
        ack: Acknowledgement,
    },
    /// A message from another chain arrived here past its timeout: the lane moved on.
    Expired {
        /// Block height.
        height: Height,
        /// The message.
        message: Message,
    },
    /// The ack of a message sent here was proven; it is settled.
    Acknowledged {
        /// Block height.
        height: Height,
        /// The message.
        message: Message,
        /// The ack.
        ack: Acknowledgement,
    },
    /// A message sent here timed out and was refunded; it is settled.
    TimedOut {
        /// Block height.
        height: Height,
        /// The message.
        message: Message,
    },
    /// This chain's client of `of` accepted headers (compared with `of`'s own headers to
    /// detect misbehaviour).
    ClientUpdated {
        /// Block height.
        height: Height,
        /// The followed chain.
        of: ChainId,
        /// Heights and hashes accepted.
        headers: Vec<(Height, Hash32)>,
    },
    /// This chain's client of `of` was frozen by evidence.
    ClientFrozen {
        /// Block height.
        height: Height,
        /// The followed chain.
        of: ChainId,
    },
}

impl ChainEvent {
    /// The height of the block that emitted it.
    pub fn height(&self) -> Height {
        match self {
            ChainEvent::Sent { height, .. }
            | ChainEvent::Received { height, .. }
            | ChainEvent::Expired { height, .. }
            | ChainEvent::Acknowledged { height, .. }
            | ChainEvent::TimedOut { height, .. }
            | ChainEvent::ClientUpdated { height, .. }
            | ChainEvent::ClientFrozen { height, .. } => *height,
        }
    }
}

/// Which kind of chain an adapter talks to: it says which light client follows the chain
/// and which proofs it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainFamily {
    /// BFT headers signed by a validator set (PROTOCOL.md §7), sparse Merkle state proofs.
    Devchain,
    /// Ethereum headers (seals or attestations, §11–§12), Merkle-Patricia storage proofs of
    /// the Gateway contract.
    Evm,
}

/// A value (or its absence) with the proof a chain served for it. Unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The height of the state the proof is for.
    pub height: Height,
    /// What the chain stores at the path, `None` for a proof of absence: the value itself on
    /// a devchain, the 32-byte `sha256(value)` word of the Gateway's `provable` mapping on an
    /// EVM chain.
    pub value: Option<Vec<u8>>,
    /// The proof.
    pub proof: ChainProof,
}

/// A chain's on-chain client of another chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostedClient {
    /// A client of a BFT chain (the devchain module's, or the EVM `BftLightClient`'s).
    Bft(Box<ClientState>),
    /// A client of an EVM chain (the devchain module's, or the EVM `EvmLightClient`'s).
    Evm(EvmClientState),
}

impl HostedClient {
    /// Height of the newest header it verified.
    pub fn latest_height(&self) -> Height {
        match self {
            HostedClient::Bft(c) => c.latest_height(),
            HostedClient::Evm(c) => c.latest_height(),
        }
    }

    /// The hash of the header it holds at `height`, if it holds one.
    pub fn header_hash_at(&self, height: Height) -> Option<Hash32> {
        match self {
            HostedClient::Bft(c) => c.consensus_state(height).map(|cs| cs.header_hash),
            HostedClient::Evm(c) => c.consensus_state(height).map(|cs| cs.block_hash),
        }
    }

    /// Whether evidence froze it.
    pub fn is_frozen(&self) -> bool {
        match self {
            HostedClient::Bft(c) => c.frozen().is_some(),
            HostedClient::Evm(c) => c.is_frozen(),
        }
    }
}

/// A submission's fate in the block that included it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The including block.
    pub height: Height,
    /// The transaction's hash on that chain.
    pub tx_hash: Hash32,
    /// What it did: the events, and how many items had already been done (by this relayer
    /// earlier or by another: success, not an error), or why the block refused it.
    pub outcome: Result<Applied, String>,
}

/// What an included transaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Its protocol events.
    pub events: Vec<ChainEvent>,
    /// Items that had already been processed.
    pub already_done: usize,
}

/// Why an adapter call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// No endpoint answered (connection refused, reset, timed out) after every retry.
    #[error("{chain} unavailable: {message}")]
    Unavailable {
        /// The chain.
        chain: String,
        /// The last failure.
        message: String,
    },
    /// The chain refused the transaction before including it (its rules said no); the
    /// same transaction will be refused again.
    #[error("{chain} refused the transaction: {reason}")]
    Refused {
        /// The chain.
        chain: String,
        /// The chain's reason.
        reason: String,
    },
    /// The chain has nothing there (a height not produced yet, no such client).
    #[error("{chain}: not found: {what}")]
    NotFound {
        /// The chain.
        chain: String,
        /// What was missing.
        what: String,
    },
    /// An answer did not have the documented shape or did not decode.
    #[error("{chain}: bad answer: {why}")]
    BadAnswer {
        /// The chain.
        chain: String,
        /// What was wrong.
        why: String,
    },
    /// The chain is busy (mempool full) or accepted the transaction without including it in
    /// time; retry later.
    #[error("{chain} busy: {why}")]
    Busy {
        /// The chain.
        chain: String,
        /// Details.
        why: String,
    },
    /// The transaction needs more gas than a block holds: the same work split into smaller
    /// transactions (fewer messages per batch) can pass.
    #[error("{chain}: transaction too large for a block: {why}")]
    TooLarge {
        /// The chain.
        chain: String,
        /// The chain's words.
        why: String,
    },
}

impl AdapterError {
    /// Whether another endpoint might do better (counted as an RPC error of the endpoint).
    pub fn is_endpoint_fault(&self) -> bool {
        matches!(
            self,
            AdapterError::Unavailable { .. } | AdapterError::BadAnswer { .. }
        )
    }

    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, AdapterError::Refused { .. })
    }
}
