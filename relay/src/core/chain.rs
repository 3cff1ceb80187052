//! One chain as the relayer sees it: its adapter, and the relayer's own light client of it
//! (persisted), through which every header and proof passes before anything is forwarded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xrelay_adapters::{AdapterError, ChainAdapter, ChainProof};
use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature, Committee};
use xrelay_light_client::evm::client::{
    EvmClientState, EvmConsensusState, EvmUpdate, FinalityMode, MAX_UPDATE_HEADERS,
};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::{
    BisectionError, ChainId, ClientError, ClientState, Hash32, Height, LightBlock, SigningKey,
    TimeMs, TrustOptions, TrustedState,
};

use super::followed::{EvmFollow, Expect, Failure, Followed, Verified};
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
            RelayError::Adapter(_) => "rpc",
            RelayError::Store(_) => "store",
            RelayError::NoClient { .. } => "no_client",
            RelayError::Frozen { .. } => "frozen",
            RelayError::Retry(_) => "retry",
            RelayError::CosignHalted { .. } => "cosign_halted",
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
    /// Why this relayer stopped signing attestations of the chain, once it did.
    cosign_halt: Mutex<Option<String>>,
    /// Held while checking and recording what this relayer signs, so two signings of one
    /// height cannot both pass the check.
    signing: Mutex<()>,
    store: Arc<RelayStore>,
    metrics: Metrics,
}

/// Most EVM headers fetched and verified in one pass of [`ChainHandle::verified`]: one
/// update's worth, so memory per pass is bounded whatever height is asked for.
pub const EVM_HEADERS_PER_PASS: u64 = MAX_UPDATE_HEADERS as u64;

/// Passes one call of [`ChainHandle::verified`] makes before handing back (a retry): the
/// caller's work waits at most that long behind a far target.
const MAX_EVM_PASSES: usize = 16;

/// Heights of a chain below the newest one signed for which the co-signer remembers what
/// it signed (in the store, across restarts); it signs nothing at or below the forgotten
/// ones. Attestations are asked for near the chain's head, so this is hours of blocks.
pub const SIGNED_HEIGHTS_KEPT: u64 = 16_384;

/// What the relayer's own light client says of a conflict a host's client reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Both blocks verified: the chain (its validators, or its committee) signed two
    /// different blocks at one height.
    Confirmed,
    /// Not shown: the relayer does not freeze the chain and keeps relaying.
    Unconfirmed {
        /// Stable label (`xrelay_misbehaviour_unconfirmed_total{reason}`).
        reason: &'static str,
        /// Details for the log.
        detail: String,
    },
}

impl Confirmation {
    fn unconfirmed(reason: &'static str, detail: impl Into<String>) -> Self {
        Confirmation::Unconfirmed {
            reason,
            detail: detail.into(),
        }
    }
}

/// Attestations a relayer keeps of its own (for the on-chain clients that need them).
const KEPT_ATTESTATIONS: usize = 256;

/// How long a relayer waits for the committee's quorum on a block, in block times
/// (clamped to [`ATTESTATION_WAIT_MIN`, `ATTESTATION_WAIT_MAX`]): long enough for peers
/// whose nodes are a block behind, short enough that a missing peer stalls a lane briefly
/// before the next try.
const ATTESTATION_WAIT_BLOCKS: u32 = 10;
const ATTESTATION_WAIT_MIN: Duration = Duration::from_secs(2);
const ATTESTATION_WAIT_MAX: Duration = Duration::from_secs(30);

/// What [`ChainHandle::cosign`] did with a peer's attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cosigned {
    /// This relayer is no attester of the chain (or it is not in attestation mode).
    NotAttester,
    /// It had signed the attestation already.
    AlreadySigned,
    /// It checked the attestation against its own node, signed and published it.
    Signed,
    /// The height is at or below those whose signatures it has forgotten: not signed.
    TooOld,
}

/// The block hash a chain's own header at `height` has under `mode`'s rules.
fn evm_block_hash(mode: &FinalityMode, header: &EvmHeader) -> Result<Hash32, String> {
    match mode.consensus() {
        Some(c) => c.block_hash(header).map_err(|e| e.to_string()),
        None => Ok(header.hash()),
    }
}

impl ChainHandle {
    /// Loads the relayer's light client of the chain from the store, or creates it from the
    /// configured trust root (`trusted`: height and header hash) or, without one, from the
    /// chain's latest header (trust on first use, logged). `evm` says how an EVM chain is
    /// followed (`None` for BFT chains).
    pub async fn open(
        adapter: Arc<dyn ChainAdapter>,
        block_time: Duration,
        trusted: Option<(Height, [u8; 32])>,
        evm: Option<EvmFollow>,
        counterparties: Vec<ChainId>,
        store: Arc<RelayStore>,
        metrics: Metrics,
    ) -> Result<Self, RelayError> {
        let id = adapter.chain_id().clone();
        let client = match Followed::load(&store, &id, evm.is_some())? {
            Some(c) => c,
            None => {
                let height = match trusted {
                    Some((height, _)) => height,
                    None => adapter.status().await?.height,
                };
                let client = match &evm {
                    None => Followed::Bft(Box::new(
                        Self::bft_trust_root(&*adapter, &id, height, trusted).await?,
                    )),
                    Some(follow) => Followed::Evm(
                        Self::evm_trust_root(&*adapter, &id, height, trusted, follow).await?,
                    ),
                };
                let mut t = store.transition();
                client.persist(&store, &mut t, &id);
                store.commit(t)?;
                client
            }
        };
        metrics
            .client_height
            .with_label_values(&[id.as_str()])
            .set(client.latest_height() as i64);
        let frozen = store.frozen()?.iter().any(|(c, _)| *c == id) || client.is_frozen();
        Ok(ChainHandle {
            id,
            adapter,
            block_time,
            light: tokio::sync::Mutex::new(client),
            evm,
            attested: tokio::sync::Mutex::new(BTreeMap::new()),
            hosted_updates: counterparties
                .into_iter()
                .map(|c| (c, tokio::sync::Mutex::new(())))
                .collect(),
            frozen: AtomicBool::new(frozen),
            cosign_halt: Mutex::new(None),
            signing: Mutex::new(()),
            store,
            metrics,
        })
    }

    fn trust_root_error(id: &ChainId, detail: String) -> RelayError {
        RelayError::Verification {
            chain: id.clone(),
            reason: "trust_root",
            detail,
        }
    }

    fn check_pinned(
        id: &ChainId,
        height: Height,
        found: Hash32,
        trusted: Option<(Height, [u8; 32])>,
    ) -> Result<(), RelayError> {
        match trusted {
            Some((_, hash)) if found.0 != hash => Err(RelayError::Verification {
                chain: id.clone(),
                reason: "trust_root_mismatch",
                detail: format!(
                    "header {height} is {found}, the config trusts {}",
                    hex::encode(hash)
                ),
            }),
            Some(_) => Ok(()),
            None => {
                tracing::warn!(chain = %id, height, hash = %found, "no trust root configured: trusting the chain's latest header (pin it with trusted_height/trusted_hash)");
                Ok(())
            }
        }
    }

    async fn bft_trust_root(
        adapter: &dyn ChainAdapter,
        id: &ChainId,
        height: Height,
        trusted: Option<(Height, [u8; 32])>,
    ) -> Result<ClientState, RelayError> {
        let block = adapter.light_block(height).await?;
        Self::check_pinned(id, height, block.header().hash(), trusted)?;
        let state = TrustedState::from_light_block(&block)
            .map_err(|e| Self::trust_root_error(id, e.to_string()))?;
        ClientState::new(state, TrustOptions::default())
            .map_err(|e| Self::trust_root_error(id, e.to_string()))
    }

    async fn evm_trust_root(
        adapter: &dyn ChainAdapter,
        id: &ChainId,
        height: Height,
        trusted: Option<(Height, [u8; 32])>,
        follow: &EvmFollow,
    ) -> Result<EvmClientState, RelayError> {
        let header = adapter.evm_header(height).await?;
        let hash =
            evm_block_hash(&follow.mode, &header).map_err(|e| Self::trust_root_error(id, e))?;
        Self::check_pinned(id, height, hash, trusted)?;
        let client = match follow.mode {
            FinalityMode::Attestation(_) => EvmClientState::new(
                id.clone(),
                follow.mode.clone(),
                Vec::new(),
                follow.gateway,
                height,
                EvmConsensusState {
                    block_hash: hash,
                    state_root: header.state_root,
                    time_ms: header.timestamp.saturating_mul(1_000),
                },
            ),
            _ => EvmClientState::from_header(
                id.clone(),
                follow.mode.clone(),
                &header,
                follow.gateway,
            ),
        };
        client.map_err(|e| Self::trust_root_error(id, e.to_string()))
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

    /// Makes sure the relayer's light client has verified the header at `height`
    /// (bisecting from its latest trusted header, or following an EVM chain's headers or
    /// attesting its block) and returns what it verified there.
    pub async fn verified(&self, height: Height) -> Result<Verified, RelayError> {
        if self.is_frozen() {
            return Err(RelayError::Frozen {
                host: "relayer".into(),
                of: self.id.clone(),
            });
        }
        if self.evm.is_some() {
            return self.verified_evm(height).await;
        }
        let mut light = self.light.lock().await;
        if let Some(v) = light.verified_at(height) {
            return Ok(v);
        }
        if height < light.latest_height() {
            return Err(RelayError::Retry(format!(
                "{} height {height} is below the verified height and was not kept",
                self.id
            )));
        }
        let headers = match &mut *light {
            Followed::Bft(client) => {
                let blocks = metered_update(client, self, height, "header", &self.metrics)
                    .await
                    .map_err(|e| self.fail(Failure::bft(&e)))?;
                client.prune_to(now_ms(), KEPT_CONSENSUS_STATES);
                blocks.len()
            }
            // EVM chains go through `verified_evm`, which never holds the client across
            // network I/O.
            Followed::Evm(_) => {
                return Err(RelayError::Retry(format!(
                    "{} is followed as an EVM chain",
                    self.id
                )))
            }
        };
        self.metrics
            .headers_verified
            .with_label_values(&[self.id.as_str()])
            .inc_by(headers as u64);
        self.metrics
            .client_height
            .with_label_values(&[self.id.as_str()])
            .set(light.latest_height() as i64);
        let mut t = self.store.transition();
        light.persist(&self.store, &mut t, &self.id);
        self.store.commit(t)?;
        light.verified_at(height).ok_or_else(|| {
            RelayError::Retry(format!(
                "{} height {height} not kept after verification",
                self.id
            ))
        })
    }

    /// [`Self::verified`] for an EVM chain: the headers (or the attestation) are fetched
    /// without holding the light client, at most [`EVM_HEADERS_PER_PASS`] per pass, each
    /// pass verified on a copy and committed (and persisted) only if nobody moved the client
    /// meanwhile, so a far target (or a node claiming one) neither blocks proof checks on
    /// the chain nor piles headers up in memory.
    async fn verified_evm(&self, height: Height) -> Result<Verified, RelayError> {
        for _ in 0..MAX_EVM_PASSES {
            let mut client = {
                let light = self.light.lock().await;
                if let Some(v) = light.verified_at(height) {
                    return Ok(v);
                }
                if height < light.latest_height() {
                    return Err(RelayError::Retry(format!(
                        "{} height {height} is below the verified height and was not kept",
                        self.id
                    )));
                }
                match &*light {
                    Followed::Evm(c) => c.clone(),
                    Followed::Bft(_) => {
                        return Err(RelayError::Retry(format!(
                            "{} is followed as a BFT chain",
                            self.id
                        )))
                    }
                }
            };
            let start = client.latest_height();
            // Sealed headers are followed one by one, a pass at a time; an attestation
            // covers the block asked for at once.
            let attested = matches!(
                self.evm.as_ref().map(|f| &f.mode),
                Some(FinalityMode::Attestation(_))
            );
            let target = if attested {
                height
            } else {
                height.min(start.saturating_add(EVM_HEADERS_PER_PASS))
            };
            let updates = self.evm_updates(&client, target).await?;
            let (applied, spent) = crate::cpu::timed(|| {
                for u in &updates {
                    client.update(u)?;
                }
                Ok::<_, xrelay_light_client::evm::client::EvmClientError>(())
            });
            self.metrics
                .verification_cpu
                .with_label_values(&[self.id.as_str(), "header"])
                .inc_by(spent.as_secs_f64());
            applied.map_err(|e| self.fail(Failure::evm(&e)))?;
            let mut light = self.light.lock().await;
            if light.latest_height() != start {
                // Another task moved the client meanwhile: start again from its state.
                continue;
            }
            *light = Followed::Evm(client);
            self.metrics
                .headers_verified
                .with_label_values(&[self.id.as_str()])
                .inc_by(updates.len() as u64);
            self.metrics
                .client_height
                .with_label_values(&[self.id.as_str()])
                .set(light.latest_height() as i64);
            let mut t = self.store.transition();
            light.persist(&self.store, &mut t, &self.id);
            self.store.commit(t)?;
        }
        Err(RelayError::Retry(format!(
            "{} height {height}: not reached in {MAX_EVM_PASSES} passes of at most \
             {EVM_HEADERS_PER_PASS} headers; continuing on the next request",
            self.id
        )))
    }

    /// What brings `client` (a client of this EVM chain: the relayer's own or an on-chain
    /// one) to `height`: the sealed headers after its latest, in batches, or this relayer's
    /// attestation of the block. Unverified here; the caller applies them to a client.
    pub async fn evm_updates(
        &self,
        client: &EvmClientState,
        height: Height,
    ) -> Result<Vec<EvmUpdate>, RelayError> {
        let Some(follow) = &self.evm else {
            return Err(RelayError::Retry(format!(
                "{} is not an EVM chain",
                self.id
            )));
        };
        match &follow.mode {
            FinalityMode::Attestation(committee) => {
                let attested = self.attest(height, follow, committee).await?;
                Ok(vec![EvmUpdate::Attested(attested)])
            }
            _ => {
                let mut headers = Vec::new();
                for h in client.latest_height() + 1..=height {
                    headers.push(self.adapter.evm_header(h).await?);
                }
                Ok(headers
                    .chunks(MAX_UPDATE_HEADERS)
                    .map(|c| EvmUpdate::Headers(c.to_vec()))
                    .collect())
            }
        }
    }

    /// The committee's attestation of the chain's block at `height`, gathered once and
    /// kept: this relayer signs it and publishes its signature to the mesh, then waits
    /// (a bounded time) for the other members' signatures until a quorum signed. Members
    /// sign what their own nodes say ([`Self::cosign`]), so a quorum exists only if enough
    /// of them see the same block.
    async fn attest(
        &self,
        height: Height,
        follow: &EvmFollow,
        committee: &Committee,
    ) -> Result<Attested, RelayError> {
        if let Some(a) = self.attested.lock().await.get(&height) {
            return Ok(a.clone());
        }
        let Some(key) = &follow.attester else {
            return Err(RelayError::Verification {
                chain: self.id.clone(),
                reason: "no_attester_key",
                detail:
                    "attestation mode needs this relayer's attester key (evm.attester_key_file)"
                        .into(),
            });
        };
        self.ensure_final(height).await?;
        let attestation = self.own_attestation(height).await?;
        let signature = self.sign_once(&attestation, key)?;
        follow
            .board
            .publish_own(attestation.clone(), signature)
            .map_err(|e| RelayError::Verification {
                chain: self.id.clone(),
                reason: "attestation_refused",
                detail: format!("this relayer's own signature: {e}"),
            })?;
        let wait = (self.block_time * ATTESTATION_WAIT_BLOCKS)
            .clamp(ATTESTATION_WAIT_MIN, ATTESTATION_WAIT_MAX);
        let attested = follow
            .board
            .gather(&attestation, committee, wait)
            .await
            .ok_or_else(|| {
                RelayError::Retry(format!(
                    "{} height {height}: {} of the committee's attester signatures needed, not \
                     all arrived within {wait:?} (peers down, or their nodes see another block)",
                    self.id,
                    committee.quorum()
                ))
            })?;
        let mut kept = self.attested.lock().await;
        kept.insert(height, attested.clone());
        while kept.len() > KEPT_ATTESTATIONS {
            kept.pop_first();
        }
        Ok(attested)
    }

    /// What this relayer attests of the chain's block at `height`: its own node's header.
    async fn own_attestation(&self, height: Height) -> Result<Attestation, RelayError> {
        let header = self.adapter.evm_header(height).await?;
        Ok(Attestation {
            chain_id: self.id.clone(),
            height,
            block_hash: header.hash(),
            state_root: header.state_root,
            time_ms: header.timestamp.saturating_mul(1_000),
        })
    }

    /// Signs a peer's `attestation` of this chain if it is what this relayer's own node
    /// says of that block, and publishes the signature: how the other members of the
    /// committee help a relayer reach the quorum for a block it needs. It signs only a
    /// final block (at or below its node's head minus the chain's confirmations; above it
    /// is a [`RelayError::Retry`], worth trying again) and never two different blocks at
    /// one height ([`Self::sign_once`]). An attestation of a block this relayer's node does
    /// not have yet is an [`RelayError::Adapter`] error (worth retrying); one that differs
    /// from a block it signed at that height, or from its own node's final block, is a
    /// conflict: nothing is signed, and it stops signing attestations of this chain
    /// ([`Self::cosign_halted`]).
    pub async fn cosign(&self, attestation: &Attestation) -> Result<Cosigned, RelayError> {
        let Some(follow) = &self.evm else {
            return Ok(Cosigned::NotAttester);
        };
        let (FinalityMode::Attestation(_), Some(key)) = (&follow.mode, &follow.attester) else {
            return Ok(Cosigned::NotAttester);
        };
        if attestation.chain_id != self.id {
            return Ok(Cosigned::NotAttester);
        }
        if follow.board.signed_by(attestation, &key.address()) {
            return Ok(Cosigned::AlreadySigned);
        }
        self.check_not_halted()?;
        // Asked to sign another block at a height it signed: a conflict, whatever its node
        // says now.
        match self
            .store
            .signed_attestation(&self.id, attestation.height)?
        {
            Some(signed) if signed != *attestation => {
                return Err(self.conflict(format!(
                    "a peer asks to sign block {} at height {}, where this relayer signed block {}",
                    attestation.block_hash, attestation.height, signed.block_hash
                )));
            }
            Some(_) => {}
            None if attestation.height <= self.store.signed_floor(&self.id)? => {
                return Ok(Cosigned::TooOld);
            }
            None => {}
        }
        self.ensure_final(attestation.height).await?;
        let own = self.own_attestation(attestation.height).await?;
        if own != *attestation {
            return Err(self.conflict(format!(
                "a peer attested height {} as block {} (state root {}, time {}), this \
                 relayer's node has block {} (state root {}, time {})",
                attestation.height,
                attestation.block_hash,
                attestation.state_root,
                attestation.time_ms,
                own.block_hash,
                own.state_root,
                own.time_ms
            )));
        }
        let signature = self.sign_once(&own, key)?;
        follow
            .board
            .publish_own(own, signature)
            .map_err(|e| RelayError::Verification {
                chain: self.id.clone(),
                reason: "attestation_refused",
                detail: format!("this relayer's own signature: {e}"),
            })?;
        Ok(Cosigned::Signed)
    }

    /// Why this relayer stopped signing attestations of this chain, if it did (shown by
    /// `/readyz`).
    pub fn cosign_halted(&self) -> Option<String> {
        self.cosign_halt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn check_not_halted(&self) -> Result<(), RelayError> {
        match self.cosign_halted() {
            Some(why) => Err(RelayError::CosignHalted {
                chain: self.id.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Stops signing attestations of this chain (the first conflict's words are kept),
    /// counts the conflict and raises `xrelay_cosign_halted{chain}`; the error to return.
    fn conflict(&self, why: String) -> RelayError {
        {
            let mut halt = self.cosign_halt.lock().unwrap_or_else(|e| e.into_inner());
            if halt.is_none() {
                tracing::error!(chain = %self.id, conflict = %why, "ATTESTATION CONFLICT: this relayer stops signing attestations of the chain until restarted; either its node or other attesters are wrong");
                *halt = Some(why.clone());
            }
        }
        self.metrics
            .cosign_halted
            .with_label_values(&[self.id.as_str()])
            .set(1);
        self.fail(Failure {
            reason: "attestation_conflict",
            detail: format!("{why}: not signed"),
            source_unavailable: false,
        })
    }

    /// Fails with [`RelayError::Retry`] unless `height` is final on this relayer's node
    /// (for an EVM chain, at or below its head minus the configured confirmations).
    async fn ensure_final(&self, height: Height) -> Result<(), RelayError> {
        let mut last_final = *self.adapter.heads().borrow();
        if height > last_final {
            last_final = self.adapter.status().await?.height;
        }
        if height > last_final {
            return Err(RelayError::Retry(format!(
                "{} height {height} is not final on this relayer's node yet (final head \
                 {last_final}): not signed",
                self.id
            )));
        }
        Ok(())
    }

    /// Signs `attestation` with `key` unless this relayer signed another block at its
    /// height of this chain: what it signs is recorded on disk before the signature
    /// exists, so not even a restart lets it sign two. The same attestation again gets the
    /// same signature. A different one halts signing for the chain (see [`Self::cosign`]).
    fn sign_once(
        &self,
        attestation: &Attestation,
        key: &SigningKey,
    ) -> Result<AttesterSignature, RelayError> {
        self.check_not_halted()?;
        let signed = {
            let _one_at_a_time = self.signing.lock().unwrap_or_else(|e| e.into_inner());
            match self
                .store
                .signed_attestation(&self.id, attestation.height)?
            {
                Some(signed) if signed == *attestation => Ok(()),
                Some(signed) => Err(signed),
                None => {
                    if attestation.height <= self.store.signed_floor(&self.id)? {
                        return Err(RelayError::Verification {
                            chain: self.id.clone(),
                            reason: "attestation_too_old",
                            detail: format!(
                                "height {} is at or below the heights this relayer no longer \
                                 remembers signing: not signed",
                                attestation.height
                            ),
                        });
                    }
                    self.store
                        .remember_signed(attestation, SIGNED_HEIGHTS_KEPT)?;
                    Ok(())
                }
            }
        };
        match signed {
            Ok(()) => Ok(attestation.sign(key)),
            Err(signed) => Err(self.conflict(format!(
                "this relayer's node now has block {} at height {}, where this relayer signed \
                 block {} (a reorganisation deeper than the confirmations?)",
                attestation.block_hash, attestation.height, signed.block_hash
            ))),
        }
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

    /// Checks a proof served by this chain at a height the light client verified.
    pub async fn check_proof(
        &self,
        height: Height,
        key: &[u8],
        expect: Expect<'_>,
        proof: &ChainProof,
    ) -> Result<(), RelayError> {
        let light = self.light.lock().await;
        let now = now_ms();
        let (result, spent) =
            crate::cpu::timed(|| light.check_proof(height, key, expect, proof, now));
        drop(light);
        self.metrics
            .verification_cpu
            .with_label_values(&[self.id.as_str(), "proof"])
            .inc_by(spent.as_secs_f64());
        self.metrics
            .proofs_verified
            .with_label_values(&[self.id.as_str()])
            .inc();
        result.map_err(|f| self.fail(f))
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

    /// Whether the relayer's own light client confirms that `first` and `second`, two
    /// different headers of this BFT chain at one height, were both committed by its
    /// validators: checked from a header the relayer verified itself below them, so neither
    /// this chain's node nor a host's can make a conflict up. Unconfirmed when the client
    /// holds no verified header below them (it was anchored later) or does not verify both.
    pub async fn confirms_conflict(
        &self,
        first: &LightBlock,
        second: &LightBlock,
    ) -> Result<Confirmation, RelayError> {
        let below = {
            let light = self.light.lock().await;
            let Followed::Bft(client) = &*light else {
                return Ok(Confirmation::unconfirmed("wrong_family", "not a BFT chain"));
            };
            client.heights().filter(|h| *h < first.height()).max()
        };
        let Some(trusted_height) = below else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!(
                    "the relayer's client holds no verified header below {}",
                    first.height()
                ),
            ));
        };
        // The set comes from the node, but the client checks it against the hash it
        // verified at `trusted_height`.
        let trusted = self.adapter.light_block(trusted_height).await?;
        let evidence = xrelay_light_client::Misbehaviour {
            trusted_height,
            trusted_next_validators: trusted.next_validators,
            first: first.clone(),
            second: second.clone(),
        };
        let light = self.light.lock().await;
        let Followed::Bft(client) = &*light else {
            return Ok(Confirmation::unconfirmed("wrong_family", "not a BFT chain"));
        };
        let mut probe = client.as_ref().clone();
        Ok(match probe.submit_misbehaviour(&evidence, now_ms()) {
            Ok(_) => Confirmation::Confirmed,
            Err(e) => Confirmation::unconfirmed(
                "not_verified",
                format!("from the relayer's header {trusted_height}: {e}"),
            ),
        })
    }

    /// Whether the relayer's own EVM light client confirms that this chain produced two
    /// different blocks at `height`: the one a host's client accepted (hash `accepted`,
    /// found among `submitted`, the updates the host's block carried) and its own.
    ///
    /// Seal modes (QBFT, IBFT 2.0, Clique): the relayer's client verifies the chain's own
    /// block at `height`, and, from the block it verified at `height - 1` and the
    /// validators trusted after it, the accepted header's seals (the rules of an update:
    /// parent, seals, time). Attestation mode: the accepted block carries a quorum of the
    /// committee the relayer configured, and differs from the block the relayer's client
    /// verified there. Nothing a node says counts until it passes one of these checks.
    pub async fn confirms_evm_conflict(
        &self,
        height: Height,
        accepted: Hash32,
        submitted: &[EvmUpdate],
    ) -> Result<Confirmation, RelayError> {
        let Some(follow) = &self.evm else {
            return Ok(Confirmation::unconfirmed(
                "wrong_family",
                "not an EVM chain",
            ));
        };
        let found = submitted.iter().find_map(|u| match u {
            EvmUpdate::Headers(headers) => headers
                .iter()
                .find(|h| {
                    h.number == height
                        && evm_block_hash(&follow.mode, h).is_ok_and(|hash| hash == accepted)
                })
                .map(|h| EvmUpdate::Headers(vec![h.clone()])),
            EvmUpdate::Attested(a) => (a.attestation.height == height
                && a.attestation.block_hash == accepted)
                .then(|| EvmUpdate::Attested(a.clone())),
        });
        let Some(found) = found else {
            return Ok(Confirmation::unconfirmed(
                "not_found",
                format!("the host's block carries no update with block {accepted} at {height}"),
            ));
        };
        // The chain's own block there, as the relayer's client verifies it.
        let own = match self.verified(height).await {
            Ok(v) => v,
            Err(e) => {
                return Ok(Confirmation::unconfirmed(
                    "own_header",
                    format!("the chain's own block {height} is not verified: {e}"),
                ))
            }
        };
        if own.header_hash == accepted {
            return Ok(Confirmation::unconfirmed(
                "no_conflict",
                format!("the relayer's client verified block {accepted} at {height} itself"),
            ));
        }
        match found {
            EvmUpdate::Attested(attested) => {
                let light = self.light.lock().await;
                let Followed::Evm(client) = &*light else {
                    return Ok(Confirmation::unconfirmed(
                        "wrong_family",
                        "not an EVM chain",
                    ));
                };
                let mut probe = client.clone();
                Ok(match probe.freeze_on_conflict(&attested) {
                    Ok(_) => Confirmation::Confirmed,
                    Err(e) => Confirmation::unconfirmed("not_verified", e.to_string()),
                })
            }
            EvmUpdate::Headers(forged) => self.confirms_sealed(height, follow, forged).await,
        }
    }

    /// Seal modes: verifies `forged` (one header at `height`) from the block the relayer's
    /// client verified at `height - 1`, with the validators trusted after that block.
    async fn confirms_sealed(
        &self,
        height: Height,
        follow: &EvmFollow,
        forged: Vec<EvmHeader>,
    ) -> Result<Confirmation, RelayError> {
        let Some(consensus) = follow.mode.consensus() else {
            return Ok(Confirmation::unconfirmed(
                "not_verified",
                "headers for a client in attestation mode",
            ));
        };
        let Some(parent_height) = height.checked_sub(1) else {
            return Ok(Confirmation::unconfirmed("no_trusted_header", "block 0"));
        };
        let (parent, latest, current, gateway) = {
            let light = self.light.lock().await;
            let Followed::Evm(client) = &*light else {
                return Ok(Confirmation::unconfirmed(
                    "wrong_family",
                    "not an EVM chain",
                ));
            };
            (
                client.consensus_state(parent_height).copied(),
                client.latest_height(),
                client.validators().to_vec(),
                client.gateway(),
            )
        };
        let Some(parent) = parent else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!("the relayer's client holds no verified block at {parent_height}"),
            ));
        };
        // The validators trusted after `parent_height`, from a header the client verified.
        let trusted = match follow.mode {
            FinalityMode::Clique { epoch } => {
                let checkpoint = parent_height - parent_height % epoch;
                if checkpoint.saturating_add(epoch) > latest {
                    // No checkpoint since: the signers the client trusts now.
                    Some(current)
                } else {
                    self.verified_header_validators(consensus, checkpoint)
                        .await?
                }
            }
            _ => {
                self.verified_header_validators(consensus, parent_height)
                    .await?
            }
        };
        let Some(trusted) = trusted else {
            return Ok(Confirmation::unconfirmed(
                "no_trusted_header",
                format!("the validators trusted after block {parent_height} are not known"),
            ));
        };
        let mut probe = match EvmClientState::new(
            self.id.clone(),
            follow.mode.clone(),
            trusted,
            gateway,
            parent_height,
            parent,
        ) {
            Ok(p) => p,
            Err(e) => return Ok(Confirmation::unconfirmed("not_verified", e.to_string())),
        };
        Ok(match probe.update(&EvmUpdate::Headers(forged)) {
            Ok(_) => Confirmation::Confirmed,
            Err(e) => Confirmation::unconfirmed(
                "not_verified",
                format!("from the relayer's block {parent_height}: {e}"),
            ),
        })
    }

    /// The validators an EVM header lists (QBFT / IBFT 2.0: its validators; Clique: a
    /// checkpoint's signers), if the relayer's client verified that very header (its block
    /// hash is the one the client holds at `height`). `None` when it holds none there.
    async fn verified_header_validators(
        &self,
        consensus: xrelay_light_client::evm::consensus::EvmConsensus,
        height: Height,
    ) -> Result<Option<Vec<xrelay_light_client::Address>>, RelayError> {
        let held = {
            let light = self.light.lock().await;
            match &*light {
                Followed::Evm(client) => client.consensus_state(height).map(|cs| cs.block_hash),
                Followed::Bft(_) => None,
            }
        };
        let Some(held) = held else {
            return Ok(None);
        };
        let header = self.adapter.evm_header(height).await?;
        match consensus.block_hash(&header) {
            Ok(hash) if hash == held => {}
            _ => {
                return Err(RelayError::Verification {
                    chain: self.id.clone(),
                    reason: "conflicting_header",
                    detail: format!(
                        "the node serves a block {height} other than the one the relayer verified"
                    ),
                })
            }
        }
        Ok(consensus.header_validators(&header).ok().flatten())
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
