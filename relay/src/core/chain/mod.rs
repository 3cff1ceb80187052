//! One chain as the relayer sees it: its adapter, and the relayer's own light client of it
//! (persisted), through which every header and proof passes before anything is forwarded.
//!
//! [`ChainHandle`] and its plain accessors live here; its work is split by job into child
//! modules, each an `impl ChainHandle` block (they reach the handle's private fields,
//! which only this module and its children see):
//!
//! - `trust`: opening a chain: its light client from the store, or a new one from the
//!   configured trust root (or from the chain's latest header, trust on first use);
//! - `verify`: bringing the relayer's client to a height and checking proofs against it;
//! - `evm_runs`: for EVM chains, the header runs (or the attestation) that bring a client
//!   to a height, fetched without holding the relayer's client;
//! - `cosign`: the attester's signer (attestation mode): its own attestations and
//!   co-signatures of peers' ones, one block per height, halted on a conflict;
//! - `conflict`: whether the relayer's own client confirms a conflict a host reported.
//!
//! Calls between them run one way (`conflict` → `verify` → `evm_runs` → `cosign` → this
//! module; `trust` → this module), so no two of them depend on each other.

mod conflict;
mod cosign;
mod evm_runs;
mod trust;
mod verify;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xrelay_adapters::ChainAdapter;
use xrelay_light_client::evm::attest::Attested;
use xrelay_light_client::evm::client::FinalityMode;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::{ChainId, Hash32, Height, LightBlock};

use super::followed::{EvmFollow, Failure, Followed};
use crate::metrics::Metrics;
use crate::store::RelayStore;

// The error has a module of its own (`core::error`); it stays reachable here, where most
// of the core has always imported it from.
pub use super::error::RelayError;
pub use conflict::{Confirmation, EvmConflict};
pub use cosign::{Cosigned, SIGNED_HEIGHTS_KEPT};
pub use evm_runs::EVM_HEADERS_PER_PASS;
pub use verify::{metered_update, KEPT_CONSENSUS_STATES};

/// A chain, its adapter and the relayer's light client of it.
pub struct ChainHandle {
    /// The chain.
    pub id: ChainId,
    /// How to reach it.
    pub adapter: Arc<dyn ChainAdapter>,
    /// Its block interval.
    pub block_time: Duration,
    light: tokio::sync::Mutex<Followed>,
    /// How the chain is followed when it is an EVM chain.
    evm: Option<EvmFollow>,
    /// Attestations this relayer made of the chain's blocks (attestation mode), newest
    /// kept: the same attested block updates the relayer's own client and the on-chain ones.
    attested: tokio::sync::Mutex<BTreeMap<Height, Attested>>,
    /// One update at a time per client hosted on this chain (key: the followed chain).
    hosted_updates: BTreeMap<ChainId, tokio::sync::Mutex<()>>,
    /// Set when the chain misbehaved: nothing from it is relayed any more.
    frozen: AtomicBool,
    /// Most messages a transaction to this chain carries, learned from a batch its blocks
    /// could not hold (0: no limit learned).
    batch_cap: AtomicUsize,
    /// The size of the last batch its blocks could not hold: the cap stays below it.
    batch_ceiling: AtomicUsize,
    /// Why this relayer stopped signing attestations of the chain, once it did.
    cosign_halt: Mutex<Option<String>>,
    /// Held while checking and recording what this relayer signs, so two signings of one
    /// height cannot both pass the check.
    signing: Mutex<()>,
    store: Arc<RelayStore>,
    metrics: Metrics,
}

/// The mesh judges a lane by its ends' ids and frozen flags.
impl crate::mesh::LaneEnd for ChainHandle {
    fn chain_id(&self) -> &ChainId {
        &self.id
    }

    fn is_frozen(&self) -> bool {
        ChainHandle::is_frozen(self)
    }
}

/// The block hash a chain's own header at `height` has under `mode`'s rules.
fn evm_block_hash(mode: &FinalityMode, header: &EvmHeader) -> Result<Hash32, String> {
    match mode.consensus() {
        Some(c) => c.block_hash(header).map_err(|e| e.to_string()),
        None => Ok(header.hash()),
    }
}

impl ChainHandle {
    /// Most messages to put in one transaction to this chain: `limit`, or fewer once a
    /// batch of more did not fit in its blocks (an EVM chain's block gas limit).
    pub fn batch_limit(&self, limit: usize) -> usize {
        match self.batch_cap.load(Ordering::Relaxed) {
            0 => limit,
            cap => cap.min(limit),
        }
    }

    /// Learns from a batch of `n` messages sent to this chain: one too large for a block
    /// halves what the next carry, so a backlog larger than a block drains in block-sized
    /// steps instead of failing forever; one that fit at the learned limit lets the limit
    /// grow again by an eighth (gas per message varies with proof sizes), never up to the
    /// size that last failed.
    pub fn batch_sent(&self, n: usize, result: &Result<usize, RelayError>) {
        match result {
            Err(RelayError::Adapter(xrelay_adapters::AdapterError::TooLarge { .. })) => {
                let cap = (n / 2).max(1);
                self.batch_cap.store(cap, Ordering::Relaxed);
                self.batch_ceiling.store(n, Ordering::Relaxed);
                tracing::warn!(chain = %self.id, messages = n, next = cap, "a batch did not fit in a block: sending smaller ones");
            }
            Ok(_) => {
                let cap = self.batch_cap.load(Ordering::Relaxed);
                let below = self.batch_ceiling.load(Ordering::Relaxed).saturating_sub(1);
                if cap != 0 && n >= cap {
                    let grown = (cap + cap / 8 + 1).min(below).max(cap);
                    self.batch_cap.store(grown, Ordering::Relaxed);
                }
            }
            Err(_) => {}
        }
    }

    /// Whether the chain was found misbehaving.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    /// Marks the chain as misbehaving (persisted by the caller).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    /// Whether the chain is an EVM chain.
    pub fn is_evm(&self) -> bool {
        self.evm.is_some()
    }

    /// The error for a failed verification, counted in
    /// `xrelay_verification_failures_total{chain, reason}` and logged; an unreachable source
    /// is a retry instead. Shared by the child modules, so every failure is counted alike.
    fn fail(&self, f: Failure) -> RelayError {
        if f.source_unavailable {
            // The chain could not be asked for a header (an RPC outage): nothing failed
            // verification, so the metric operators alert on stays quiet.
            return RelayError::Retry(format!("{}: {}", self.id, f.detail));
        }
        self.metrics
            .verification_failures
            .with_label_values(&[self.id.as_str(), f.reason])
            .inc();
        tracing::warn!(chain = %self.id, reason = f.reason, error = %f.detail, "verification failed: nothing forwarded");
        RelayError::Verification {
            chain: self.id.clone(),
            reason: f.reason,
            detail: f.detail,
        }
    }

    /// Height, age and expiry of the relayer's own client of this chain.
    pub async fn client_facts(&self) -> super::followed::ClientFacts {
        self.light.lock().await.facts()
    }

    /// The relayer's latest verified height of this chain.
    pub async fn verified_height(&self) -> Height {
        self.light.lock().await.latest_height()
    }

    /// The chain's own header hash at `height` (what on-chain clients name it by).
    pub async fn header_hash(&self, height: Height) -> Result<Hash32, RelayError> {
        match &self.evm {
            None => Ok(self.adapter.light_block(height).await?.header().hash()),
            Some(follow) => {
                let header = self.adapter.evm_header(height).await?;
                evm_block_hash(&follow.mode, &header).map_err(|e| RelayError::Verification {
                    chain: self.id.clone(),
                    reason: "bad_seal",
                    detail: e,
                })
            }
        }
    }

    /// Runs `f` while holding the update lock of this chain's client of `of`.
    pub async fn hosted_update_lock(
        &self,
        of: &ChainId,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.hosted_updates.get(of) {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// The light block at `height` as the chain serves it (unverified).
    pub async fn light_block(&self, height: Height) -> Result<LightBlock, RelayError> {
        Ok(self.adapter.light_block(height).await?)
    }
}

#[cfg(test)]
mod confirm_tests;
#[cfg(test)]
mod cosign_tests;
