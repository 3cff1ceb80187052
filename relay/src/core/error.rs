//! The relay core's error: why a relay step could not be done now, and the stable label
//! each kind is counted under. Its own module because every part of the core (chains,
//! lanes, remote clients, claims, misbehaviour checks) returns it; none of them should
//! have to reach into the chain module for it.

use xrelay_adapters::AdapterError;
use xrelay_light_client::ChainId;

use crate::store::StoreError;

/// Why a relay step could not be done now.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The chain could not be asked.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The relayer's store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A header or proof failed the relayer's own verification: nothing was forwarded.
    #[error("{chain}: verification failed ({reason}): {detail}")]
    Verification {
        /// The chain whose data failed.
        chain: ChainId,
        /// Stable label (`xrelay_verification_failures_total{reason}`).
        reason: &'static str,
        /// Details.
        detail: String,
    },
    /// A chain has no client of another; governance has to create it.
    #[error("{host} has no client of {of}: create it (governance) before relaying")]
    NoClient {
        /// The chain that should host the client.
        host: ChainId,
        /// The followed chain.
        of: ChainId,
    },
    /// A client involved is frozen by misbehaviour evidence.
    #[error("the client of {of} on {host} is frozen")]
    Frozen {
        /// Where the client lives (`relayer` for our own).
        host: String,
        /// The followed chain.
        of: ChainId,
    },
    /// The state moved under us (another relayer updated a client); try again.
    #[error("retry: {0}")]
    Retry(String),
    /// This relayer stopped signing attestations of the chain after a conflict (a block
    /// other than one it signed, or one its own node disagrees with): until an operator
    /// looked into it and restarted the relayer.
    #[error("{chain}: co-signing stopped: {why}")]
    CosignHalted {
        /// The attested chain.
        chain: ChainId,
        /// The conflict that stopped it.
        why: String,
    },
}

impl RelayError {
    /// The label of a failure for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RelayError::Verification { reason, .. } => reason,
            RelayError::Adapter(AdapterError::Refused { .. }) => "refused",
            RelayError::Adapter(AdapterError::TooLarge { .. }) => "too_large",
            RelayError::Adapter(_) => "rpc",
            RelayError::Store(_) => "store",
            RelayError::NoClient { .. } => "no_client",
            RelayError::Frozen { .. } => "frozen",
            RelayError::Retry(_) => "retry",
            RelayError::CosignHalted { .. } => "cosign_halted",
        }
    }
}
