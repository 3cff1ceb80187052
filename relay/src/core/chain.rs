//! One chain as the relayer sees it: its adapter, and the relayer's own light client of it
//! (persisted), through which every header and proof passes before anything is forwarded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use xrelay_adapters::{AdapterError, ChainAdapter};
use xrelay_light_client::{
    BisectionError, ChainId, ClientError, ClientState, ConsensusState, Height, LightBlock,
    StateProof, TimeMs, TrustOptions, TrustedState,
};

use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError};

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
}

impl RelayError {
    /// The label of a failure for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RelayError::Verification { reason, .. } => reason,
            RelayError::Adapter(AdapterError::Refused { .. }) => "refused",
            RelayError::Adapter(_) => "rpc",
            RelayError::Store(_) => "store",
            RelayError::NoClient { .. } => "no_client",
            RelayError::Frozen { .. } => "frozen",
            RelayError::Retry(_) => "retry",
        }
    }
}

/// The stable reason label of a light-client failure.
pub fn client_error_reason(e: &ClientError) -> &'static str {
    match e {
        ClientError::Header { error, .. } => error.reason(),
        ClientError::Bisection(BisectionError::Verify { error, .. }) => error.reason(),
        ClientError::Bisection(BisectionError::Source { .. }) => "source",
        ClientError::Bisection(_) => "bisection",
        ClientError::Frozen { .. } => "client_frozen",
        ClientError::Expired { .. } => "client_expired",
        ClientError::ConflictingHeader { .. } => "conflicting_header",
        ClientError::Proof { .. } | ClientError::BatchProof { .. } => "proof",
        ClientError::UnknownHeight(_) => "unknown_height",
        _ => "other",
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Brings `client` (of `chain`) to `height` by bisection over `chain`'s light blocks,
/// adding the CPU time of the verification steps alone to
/// `xrelay_verification_cpu_seconds_total{chain, kind}`. Returns the verified blocks.
pub async fn metered_update(
    client: &mut ClientState,
    chain: &ChainHandle,
    height: Height,
    kind: &str,
    metrics: &Metrics,
) -> Result<Vec<LightBlock>, ClientError> {
    let adapter = chain.adapter.clone();
    let mut meter = crate::cpu::CpuMeter::default();
    let updated = client
        .update_to_with_meter(
            height,
            now_ms(),
            |h| {
                let adapter = adapter.clone();
                async move { adapter.light_block(h).await }
            },
            &mut meter,
        )
        .await;
    metrics
        .verification_cpu
        .with_label_values(&[chain.id.as_str(), kind])
        .inc_by(meter.spent.as_secs_f64());
    updated
}

/// Consensus states the relayer's own light client keeps (the newest): proofs are taken
/// at recent heights, and the client is stored on every update, so it must stay small.
pub const KEPT_CONSENSUS_STATES: usize = 1_000;

/// A chain, its adapter and the relayer's light client of it.
pub struct ChainHandle {
    /// The chain.
    pub id: ChainId,
    /// How to reach it.
    pub adapter: Arc<dyn ChainAdapter>,
    /// Its block interval.
    pub block_time: Duration,
    light: tokio::sync::Mutex<ClientState>,
    /// One update at a time per client hosted on this chain (key: the followed chain).
    hosted_updates: BTreeMap<ChainId, tokio::sync::Mutex<()>>,
    /// Set when the chain misbehaved: nothing from it is relayed any more.
    frozen: AtomicBool,
    store: Arc<RelayStore>,
    metrics: Metrics,
}

impl ChainHandle {
    /// Loads the relayer's light client of the chain from the store, or creates it from the
    /// configured trust root (`trusted`: height and header hash) or, without one, from the
    /// chain's latest header (trust on first use, logged).
    pub async fn open(
        adapter: Arc<dyn ChainAdapter>,
        block_time: Duration,
        trusted: Option<(Height, [u8; 32])>,
        counterparties: Vec<ChainId>,
        store: Arc<RelayStore>,
        metrics: Metrics,
    ) -> Result<Self, RelayError> {
        let id = adapter.chain_id().clone();
        let client = match store.client(&id)? {
            Some(c) => c,
            None => {
                let block = match trusted {
                    Some((height, hash)) => {
                        let b = adapter.light_block(height).await?;
                        if b.header().hash().0 != hash {
                            return Err(RelayError::Verification {
                                chain: id,
                                reason: "trust_root_mismatch",
                                detail: format!(
                                    "header {height} is {}, the config trusts {}",
                                    b.header().hash(),
                                    hex::encode(hash)
                                ),
                            });
                        }
                        b
                    }
                    None => {
                        let h = adapter.status().await?.height;
                        let b = adapter.light_block(h).await?;
                        tracing::warn!(chain = %id, height = h, hash = %b.header().hash(), "no trust root configured: trusting the chain's latest header (pin it with trusted_height/trusted_hash)");
                        b
                    }
                };
                let verified = |e: String| RelayError::Verification {
                    chain: id.clone(),
                    reason: "trust_root",
                    detail: e,
                };
                let trusted =
                    TrustedState::from_light_block(&block).map_err(|e| verified(e.to_string()))?;
                let client = ClientState::new(trusted, TrustOptions::default())
                    .map_err(|e| verified(e.to_string()))?;
                let mut t = store.transition();
                store.put_client(&mut t, &id, &client);
                store.commit(t)?;
                client
            }
        };
        metrics
            .client_height
            .with_label_values(&[id.as_str()])
            .set(client.latest_height() as i64);
        let frozen = store.frozen()?.iter().any(|(c, _)| *c == id) || client.frozen().is_some();
        Ok(ChainHandle {
            id,
            adapter,
            block_time,
            light: tokio::sync::Mutex::new(client),
            hosted_updates: counterparties
                .into_iter()
                .map(|c| (c, tokio::sync::Mutex::new(())))
                .collect(),
            frozen: AtomicBool::new(frozen),
            store,
            metrics,
        })
    }

    /// Whether the chain was found misbehaving.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    /// Marks the chain as misbehaving (persisted by the caller).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    fn fail(&self, e: &ClientError) -> RelayError {
        if let ClientError::Bisection(BisectionError::Source { .. }) = e {
            // The chain could not be asked for a header (an RPC outage): nothing failed
            // verification, so the metric operators alert on stays quiet.
            return RelayError::Retry(format!("{}: {e}", self.id));
        }
        let reason = client_error_reason(e);
        self.metrics
            .verification_failures
            .with_label_values(&[self.id.as_str(), reason])
            .inc();
        tracing::warn!(chain = %self.id, reason, error = %e, "verification failed: nothing forwarded");
        RelayError::Verification {
            chain: self.id.clone(),
            reason,
            detail: e.to_string(),
        }
    }

    /// The relayer's latest verified height of this chain.
    pub async fn verified_height(&self) -> Height {
        self.light.lock().await.latest_height()
    }

    /// Makes sure the relayer's light client has verified the header at `height`
    /// (bisecting from its latest trusted header) and returns its consensus state.
    pub async fn verified(&self, height: Height) -> Result<ConsensusState, RelayError> {
        if self.is_frozen() {
            return Err(RelayError::Frozen {
                host: "relayer".into(),
                of: self.id.clone(),
            });
        }
        let mut light = self.light.lock().await;
        if let Some(cs) = light.consensus_state(height) {
            return Ok(cs.clone());
        }
        if height < light.latest_height() {
            return Err(RelayError::Retry(format!(
                "{} height {height} is below the verified height and was not kept",
                self.id
            )));
        }
        let blocks = metered_update(&mut light, self, height, "header", &self.metrics)
            .await
            .map_err(|e| self.fail(&e))?;
        light.prune_to(now_ms(), KEPT_CONSENSUS_STATES);
        self.metrics
            .headers_verified
            .with_label_values(&[self.id.as_str()])
            .inc_by(blocks.len() as u64);
        self.metrics
            .client_height
            .with_label_values(&[self.id.as_str()])
            .set(light.latest_height() as i64);
        let mut t = self.store.transition();
        self.store.put_client(&mut t, &self.id, &light);
        self.store.commit(t)?;
        light.consensus_state(height).cloned().ok_or_else(|| {
            RelayError::Retry(format!(
                "{} height {height} not kept after verification",
                self.id
            ))
        })
    }

    /// Checks a proof served by this chain at a height the light client verified:
    /// membership of `value` at `key`, or absence when `value` is `None`.
    pub async fn check_proof(
        &self,
        height: Height,
        key: &[u8],
        value: Option<&[u8]>,
        proof: &StateProof,
    ) -> Result<(), RelayError> {
        let light = self.light.lock().await;
        let now = now_ms();
        let (result, spent) = crate::cpu::timed(|| match value {
            Some(v) => light.verify_membership(height, key, v, proof, now),
            None => light.verify_non_membership(height, key, proof, now),
        });
        drop(light);
        self.metrics
            .verification_cpu
            .with_label_values(&[self.id.as_str(), "proof"])
            .inc_by(spent.as_secs_f64());
        self.metrics
            .proofs_verified
            .with_label_values(&[self.id.as_str()])
            .inc();
        result.map_err(|e| self.fail(&e))
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
