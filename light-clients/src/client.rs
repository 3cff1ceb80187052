//! The light-client object a relayer keeps per source chain and a chain keeps per
//! counterparty: trusted consensus states, updates (with bisection), proofs at verified
//! heights, misbehaviour handling, freeze and reset, and serde export/import.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bisection::{bisect, Bisection, BisectionError, LightBlockSource, Step};
use crate::chain::{ChainId, Height, TimeMs};
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256, Hash32};
use crate::header::LightBlock;
use crate::misbehaviour::{Misbehaviour, MisbehaviourError, MisbehaviourKind};
use crate::proof::{verify_batch, BatchItem, ProofError, StateProof};
use crate::validator::{Fraction, ValidatorSet};
use crate::verifier::{Parallelism, TrustOptions, TrustedState, Verifier, VerifyError};

/// What the client remembers of each verified header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusState {
    /// Header time.
    pub time_ms: TimeMs,
    /// Header hash.
    pub header_hash: Hash32,
    /// State root: what proofs at this height are checked against.
    pub state_root: Hash32,
    /// Hash of the set that signs the next header.
    pub next_validators_hash: Hash32,
}

/// Why a frozen client is frozen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frozen {
    /// What the evidence showed.
    pub kind: MisbehaviourKind,
    /// The evidence itself, kept so it can be reported and re-verified.
    pub evidence: Misbehaviour,
    /// Its hash.
    pub evidence_hash: Hash32,
}

/// Whether a client can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientStatus {
    /// Usable.
    Active,
    /// The latest trusted header is older than the trusting period: needs a reset.
    Expired,
    /// Misbehaviour was proven: needs a reset.
    Frozen,
}

/// Every way a client operation can fail. A failed operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Misbehaviour was proven; only a reset helps.
    #[error("client is frozen by misbehaviour evidence {evidence}")]
    Frozen {
        /// Hash of the evidence.
        evidence: Hash32,
    },
    /// The latest trusted header is too old.
    #[error("client expired: latest trusted time {latest_ms} ms + trusting period is before now {now_ms} ms")]
    Expired {
        /// Latest trusted time.
        latest_ms: TimeMs,
        /// Clock.
        now_ms: TimeMs,
    },
    /// A header failed verification.
    #[error("header at height {height}: {error}")]
    Header {
        /// The failing header's height.
        height: Height,
        /// The rule that failed.
        error: VerifyError,
    },
    /// A header conflicts with one the client already trusts at that height.
    #[error("header at height {height} is {found}, but the client trusts {trusted}")]
    ConflictingHeader {
        /// The height.
        height: Height,
        /// The trusted hash.
        trusted: Hash32,
        /// The offered hash.
        found: Hash32,
    },
    /// No verified header at that height.
    #[error("no verified header at height {0}")]
    UnknownHeight(Height),
    /// A proof failed.
    #[error("proof at height {height}: {error}")]
    Proof {
        /// The proof height.
        height: Height,
        /// What failed.
        error: ProofError,
    },
    /// One item of a batch failed.
    #[error("proof {index} of the batch at height {height}: {error}")]
    BatchProof {
        /// The proof height.
        height: Height,
        /// Index of the failing item.
        index: usize,
        /// What failed.
        error: ProofError,
    },
    /// Evidence was not accepted.
    #[error("misbehaviour evidence rejected: {0}")]
    Misbehaviour(#[from] MisbehaviourError),
    /// Bisection failed.
    #[error("bisection: {0}")]
    Bisection(#[from] BisectionError),
    /// The trusted state or options given to create or reset the client are invalid.
    #[error("invalid client setup: {0}")]
    InvalidSetup(String),
}

impl ClientError {
    /// A short stable label, for metrics (`reason` label) and logs: a failed header gives
    /// its rule's [`VerifyError::reason`], the rest one label per kind of failure. Callers
    /// (the relayer's `xrelay_verification_failures_total{reason}`) count on the strings
    /// staying the same.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientError::Header { error, .. } => error.reason(),
            ClientError::Bisection(BisectionError::Verify { error, .. }) => error.reason(),
            ClientError::Bisection(BisectionError::Source { .. }) => "source",
            ClientError::Bisection(_) => "bisection",
            ClientError::Frozen { .. } => "client_frozen",
            ClientError::Expired { .. } => "client_expired",
            ClientError::ConflictingHeader { .. } => "conflicting_header",
            ClientError::Proof { .. } | ClientError::BatchProof { .. } => "proof",
            ClientError::UnknownHeight(_) => "unknown_height",
            ClientError::Misbehaviour(_) | ClientError::InvalidSetup(_) => "other",
        }
    }
}

/// One claim of a batched proof check.
#[derive(Debug, Clone, Copy)]
pub struct ProofClaim<'a> {
    /// State-tree key.
    pub key: &'a [u8],
    /// Expected value, or `None` to prove absence.
    pub value: Option<&'a [u8]>,
    /// The proof.
    pub proof: &'a StateProof,
}

/// Runs the verification steps of an update, so a caller can measure them (CPU time,
/// say) apart from the I/O around them.
pub trait VerifyMeter {
    /// Runs `f` (one verification step) and returns its result.
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T;
}

/// A meter that measures nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMeter;

impl VerifyMeter for NoMeter {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        f()
    }
}

/// A light client of one chain.
///
/// Serialises to JSON (or any serde format) so a relayer can persist it and a chain can
/// store it; importing checks the invariants (valid options, the latest height has a
/// consensus state whose next-validators hash matches the stored set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ClientStateRepr")]
pub struct ClientState {
    chain_id: ChainId,
    options: TrustOptions,
    latest_height: Height,
    latest_next_validators: ValidatorSet,
    consensus_states: BTreeMap<Height, ConsensusState>,
    frozen: Option<Frozen>,
}

/// The unchecked shape of an imported [`ClientState`].
#[derive(Deserialize)]
struct ClientStateRepr {
    chain_id: ChainId,
    options: TrustOptions,
    latest_height: Height,
    latest_next_validators: ValidatorSet,
    consensus_states: BTreeMap<Height, ConsensusState>,
    frozen: Option<Frozen>,
}

impl TryFrom<ClientStateRepr> for ClientState {
    type Error = ClientError;
    fn try_from(r: ClientStateRepr) -> Result<Self, ClientError> {
        r.options
            .validate()
            .map_err(|e| ClientError::InvalidSetup(e.to_string()))?;
        let latest = r
            .consensus_states
            .get(&r.latest_height)
            .ok_or(ClientError::UnknownHeight(r.latest_height))?;
        if latest.next_validators_hash != r.latest_next_validators.hash() {
            return Err(ClientError::InvalidSetup(
                "latest next validator set does not match its consensus state".into(),
            ));
        }
        if let Some(f) = &r.frozen {
            if f.evidence.kind().ok() != Some(f.kind) || f.evidence.hash() != f.evidence_hash {
                return Err(ClientError::InvalidSetup(
                    "frozen state does not match its evidence".into(),
                ));
            }
        }
        if r.consensus_states.keys().next_back() != Some(&r.latest_height) {
            return Err(ClientError::InvalidSetup(
                "a consensus state is above the latest height".into(),
            ));
        }
        Ok(ClientState {
            chain_id: r.chain_id,
            options: r.options,
            latest_height: r.latest_height,
            latest_next_validators: r.latest_next_validators,
            consensus_states: r.consensus_states,
            frozen: r.frozen,
        })
    }
}

impl ClientState {
    /// A client that trusts `trusted` (taken from a source the owner trusts: genesis, or a
    /// header checked out of band).
    pub fn new(trusted: TrustedState, options: TrustOptions) -> Result<Self, ClientError> {
        options
            .validate()
            .map_err(|e| ClientError::InvalidSetup(e.to_string()))?;
        let mut consensus_states = BTreeMap::new();
        consensus_states.insert(
            trusted.height,
            ConsensusState {
                time_ms: trusted.time_ms,
                header_hash: trusted.header_hash,
                state_root: trusted.state_root,
                next_validators_hash: trusted.next_validators.hash(),
            },
        );
        Ok(ClientState {
            chain_id: trusted.chain_id,
            options,
            latest_height: trusted.height,
            latest_next_validators: trusted.next_validators,
            consensus_states,
            frozen: None,
        })
    }

    /// The followed chain.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The trust rules.
    pub fn options(&self) -> &TrustOptions {
        &self.options
    }

    /// Height of the newest verified header.
    pub fn latest_height(&self) -> Height {
        self.latest_height
    }

    /// What the client remembers at `height`, if it verified a header there.
    pub fn consensus_state(&self, height: Height) -> Option<&ConsensusState> {
        self.consensus_states.get(&height)
    }

    /// All remembered heights, ascending.
    pub fn heights(&self) -> impl Iterator<Item = Height> + '_ {
        self.consensus_states.keys().copied()
    }

    /// Evidence and reason, if frozen.
    pub fn frozen(&self) -> Option<&Frozen> {
        self.frozen.as_ref()
    }

    /// Active, expired or frozen at wall-clock time `now_ms`.
    pub fn status(&self, now_ms: TimeMs) -> ClientStatus {
        if self.frozen.is_some() {
            ClientStatus::Frozen
        } else if self.latest().expires_at(&self.options) <= now_ms {
            ClientStatus::Expired
        } else {
            ClientStatus::Active
        }
    }

    /// The latest trusted state (the base of the next update).
    pub fn latest_trusted(&self) -> TrustedState {
        self.latest()
    }

    fn latest(&self) -> TrustedState {
        let cs = &self.consensus_states[&self.latest_height];
        TrustedState {
            chain_id: self.chain_id.clone(),
            height: self.latest_height,
            time_ms: cs.time_ms,
            header_hash: cs.header_hash,
            state_root: cs.state_root,
            next_validators: self.latest_next_validators.clone(),
        }
    }

    fn require_active(&self, now_ms: TimeMs) -> Result<(), ClientError> {
        if let Some(f) = &self.frozen {
            return Err(ClientError::Frozen {
                evidence: f.evidence_hash,
            });
        }
        let latest = &self.consensus_states[&self.latest_height];
        if self.latest().expires_at(&self.options) <= now_ms {
            return Err(ClientError::Expired {
                latest_ms: latest.time_ms,
                now_ms,
            });
        }
        Ok(())
    }

    fn verifier(&self) -> Verifier {
        Verifier {
            options: self.options,
            parallelism: Parallelism::Auto,
        }
    }

    /// Verifies `blocks` in order, each from the one before (the first from the latest
    /// trusted header), and remembers them all, or nothing if any fails. A block the client
    /// already has with the same hash is skipped, so two relayers submitting the same
    /// update is harmless. Returns the new latest height.
    pub fn update(&mut self, blocks: &[LightBlock], now_ms: TimeMs) -> Result<Height, ClientError> {
        self.require_active(now_ms)?;
        let verifier = self.verifier();
        let mut trusted = self.latest();
        let mut accepted = Vec::with_capacity(blocks.len());
        for block in blocks {
            let height = block.height();
            if height <= trusted.height {
                if let Some(cs) = self.consensus_states.get(&height) {
                    let found = block.header().hash();
                    if cs.header_hash == found {
                        continue;
                    }
                    return Err(ClientError::ConflictingHeader {
                        height,
                        trusted: cs.header_hash,
                        found,
                    });
                }
            }
            trusted = verifier
                .verify(&trusted, block, now_ms)
                .map_err(|error| ClientError::Header { height, error })?;
            accepted.push(trusted.clone());
        }
        self.remember(accepted);
        Ok(self.latest_height)
    }

    /// Reaches `target` by bisection against `source` and remembers the verified blocks.
    /// Returns them: they are what an on-chain client of the same chain needs.
    pub fn update_to<S: LightBlockSource>(
        &mut self,
        target: Height,
        source: &mut S,
        now_ms: TimeMs,
    ) -> Result<Vec<LightBlock>, ClientError> {
        self.require_active(now_ms)?;
        let done = bisect(self.verifier(), self.latest(), target, now_ms, source)?;
        let states = done.blocks.iter().map(TrustedState::after).collect();
        self.remember(states);
        Ok(done.blocks)
    }

    /// [`Self::update_to`] for async callers: `fetch` supplies the light blocks bisection
    /// asks for (from a node's RPC, say). Nothing is remembered unless the target verifies.
    pub async fn update_to_with<F, Fut, E>(
        &mut self,
        target: Height,
        now_ms: TimeMs,
        fetch: F,
    ) -> Result<Vec<LightBlock>, ClientError>
    where
        F: FnMut(Height) -> Fut,
        Fut: std::future::Future<Output = Result<LightBlock, E>>,
        E: std::fmt::Display,
    {
        self.update_to_with_meter(target, now_ms, fetch, &mut NoMeter)
            .await
    }

    /// [`Self::update_to_with`], with every verification step (and nothing of the
    /// fetching) run inside `meter`: how a relayer accounts for the verification work it
    /// must do apart from the rest of its costs.
    pub async fn update_to_with_meter<F, Fut, E, M>(
        &mut self,
        target: Height,
        now_ms: TimeMs,
        mut fetch: F,
        meter: &mut M,
    ) -> Result<Vec<LightBlock>, ClientError>
    where
        F: FnMut(Height) -> Fut,
        Fut: std::future::Future<Output = Result<LightBlock, E>>,
        E: std::fmt::Display,
        M: VerifyMeter,
    {
        self.require_active(now_ms)?;
        let mut run = Bisection::new(self.verifier(), self.latest(), target, now_ms)?;
        let mut step = run.start();
        loop {
            match step {
                Step::Fetch(height) => {
                    let block = fetch(height).await.map_err(|e| BisectionError::Source {
                        height,
                        message: e.to_string(),
                    })?;
                    step = meter.measure(|| run.supply(block))?;
                }
                Step::Done(blocks) => {
                    self.remember(blocks.iter().map(TrustedState::after).collect());
                    return Ok(blocks);
                }
            }
        }
    }

    fn remember(&mut self, states: Vec<TrustedState>) {
        for s in states {
            self.consensus_states.insert(
                s.height,
                ConsensusState {
                    time_ms: s.time_ms,
                    header_hash: s.header_hash,
                    state_root: s.state_root,
                    next_validators_hash: s.next_validators.hash(),
                },
            );
            if s.height > self.latest_height {
                self.latest_height = s.height;
                self.latest_next_validators = s.next_validators;
            }
        }
    }

    /// Forgets consensus states older than the trusting period, always keeping the latest
    /// one. Returns how many were dropped.
    pub fn prune(&mut self, now_ms: TimeMs) -> usize {
        let before = self.consensus_states.len();
        let period = self.options.trusting_period_ms;
        let latest = self.latest_height;
        self.consensus_states
            .retain(|h, cs| *h == latest || cs.time_ms.saturating_add(period) > now_ms);
        before - self.consensus_states.len()
    }

    /// [`Self::prune`], then forgets the oldest consensus states beyond the newest `keep`
    /// (the latest is always kept). A client updated every block would otherwise hold a
    /// trusting period's worth of them: millions, each re-encoded whenever it is stored.
    /// Proofs and evidence at a forgotten height are refused (`UnknownHeight`); relayers
    /// prove at recent heights. Returns how many were dropped.
    pub fn prune_to(&mut self, now_ms: TimeMs, keep: usize) -> usize {
        let mut dropped = self.prune(now_ms);
        let keep = keep.max(1);
        while self.consensus_states.len() > keep {
            match self.consensus_states.first_key_value() {
                Some((&h, _)) if h != self.latest_height => {
                    self.consensus_states.remove(&h);
                    dropped += 1;
                }
                _ => break,
            }
        }
        dropped
    }

    /// A copy holding only the latest consensus state and the one at `height` (if kept):
    /// all a relayer needs to bring the client to `height`, at a fraction of the size.
    pub fn trimmed_for(&self, height: Height) -> ClientState {
        let mut c = self.clone();
        let latest = c.latest_height;
        c.consensus_states
            .retain(|h, _| *h == latest || *h == height);
        c
    }

    fn root_at(&self, height: Height, now_ms: TimeMs) -> Result<Hash32, ClientError> {
        self.require_active(now_ms)?;
        self.consensus_states
            .get(&height)
            .map(|cs| cs.state_root)
            .ok_or(ClientError::UnknownHeight(height))
    }

    /// Checks that `key` held `value` in the state after the verified header at `height`.
    pub fn verify_membership(
        &self,
        height: Height,
        key: &[u8],
        value: &[u8],
        proof: &StateProof,
        now_ms: TimeMs,
    ) -> Result<(), ClientError> {
        let root = self.root_at(height, now_ms)?;
        proof
            .verify_membership(&root, key, value)
            .map_err(|error| ClientError::Proof { height, error })
    }

    /// Checks that `key` was absent in the state after the verified header at `height`.
    pub fn verify_non_membership(
        &self,
        height: Height,
        key: &[u8],
        proof: &StateProof,
        now_ms: TimeMs,
    ) -> Result<(), ClientError> {
        let root = self.root_at(height, now_ms)?;
        proof
            .verify_non_membership(&root, key)
            .map_err(|error| ClientError::Proof { height, error })
    }

    /// Checks many claims at one height, sharing the hashing of common path nodes.
    pub fn verify_batch(
        &self,
        height: Height,
        claims: &[ProofClaim<'_>],
        now_ms: TimeMs,
    ) -> Result<(), ClientError> {
        let root = self.root_at(height, now_ms)?;
        let items: Vec<BatchItem<'_>> = claims
            .iter()
            .map(|c| BatchItem {
                key_hash: sha256(c.key),
                value_hash: c.value.map(sha256),
                proof: c.proof,
            })
            .collect();
        verify_batch(&root, &items).map_err(|(index, error)| ClientError::BatchProof {
            height,
            index,
            error,
        })
    }

    /// Checks evidence against the consensus state at its trusted height and, if it holds,
    /// freezes the client. Evidence against an already frozen client is re-checked but
    /// does not replace the evidence kept.
    pub fn submit_misbehaviour(
        &mut self,
        evidence: &Misbehaviour,
        now_ms: TimeMs,
    ) -> Result<MisbehaviourKind, ClientError> {
        let cs = self
            .consensus_states
            .get(&evidence.trusted_height)
            .ok_or(ClientError::UnknownHeight(evidence.trusted_height))?;
        if cs.next_validators_hash != evidence.trusted_next_validators.hash() {
            return Err(MisbehaviourError::TrustedSetMismatch {
                expected: cs.next_validators_hash,
                found: evidence.trusted_next_validators.hash(),
            }
            .into());
        }
        let trusted = TrustedState {
            chain_id: self.chain_id.clone(),
            height: evidence.trusted_height,
            time_ms: cs.time_ms,
            header_hash: cs.header_hash,
            state_root: cs.state_root,
            next_validators: evidence.trusted_next_validators.clone(),
        };
        let kind = evidence.verify(&trusted, &self.verifier(), now_ms)?;
        if self.frozen.is_none() {
            self.frozen = Some(Frozen {
                kind,
                evidence: evidence.clone(),
                evidence_hash: evidence.hash(),
            });
        }
        Ok(kind)
    }

    /// Unfreezes (or revives an expired client) with a new trusted state chosen by the
    /// client's owner (governance on a chain, the operator for a relayer). Forgets every
    /// consensus state and any evidence.
    pub fn reset(
        &mut self,
        trusted: TrustedState,
        options: TrustOptions,
    ) -> Result<(), ClientError> {
        if trusted.chain_id != self.chain_id {
            return Err(ClientError::InvalidSetup(format!(
                "reset to chain {} on a client of {}",
                trusted.chain_id, self.chain_id
            )));
        }
        *self = ClientState::new(trusted, options)?;
        Ok(())
    }
}

/// Most consensus states a client may hold; bounds decoding.
pub const MAX_CONSENSUS_STATES: usize = 1 << 20;

/// Encoded size of one (height, consensus state) entry.
const CONSENSUS_ENTRY_LEN: usize = 8 + 8 + 32 * 3;

impl Encode for TrustOptions {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.trust_threshold.numerator)
            .u64(self.trust_threshold.denominator)
            .u64(self.trusting_period_ms)
            .u64(self.max_clock_drift_ms);
    }
}

impl Decode for TrustOptions {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let options = TrustOptions {
            trust_threshold: Fraction {
                numerator: r.u64()?,
                denominator: r.u64()?,
            },
            trusting_period_ms: r.u64()?,
            max_clock_drift_ms: r.u64()?,
        };
        options
            .validate()
            .map_err(|e| DecodeError::invalid("trust options", e.to_string()))?;
        Ok(options)
    }
}

impl Encode for ConsensusState {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.time_ms)
            .put(&self.header_hash)
            .put(&self.state_root)
            .put(&self.next_validators_hash);
    }
}

impl Decode for ConsensusState {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConsensusState {
            time_ms: r.u64()?,
            header_hash: r.get()?,
            state_root: r.get()?,
            next_validators_hash: r.get()?,
        })
    }
}

/// The canonical layout, so a chain can keep clients in its state tree (whose values are
/// hashed): chain id, options, latest height, latest next validator set, the consensus
/// states in ascending height order, then a frozen flag and the evidence (the kind and the
/// evidence hash are derived from it, not stored).
impl Encode for ClientState {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.chain_id)
            .put(&self.options)
            .u64(self.latest_height)
            .put(&self.latest_next_validators);
        w.len_prefix(self.consensus_states.len());
        for (height, cs) in &self.consensus_states {
            w.u64(*height).put(cs);
        }
        match &self.frozen {
            None => w.u8(0),
            Some(f) => w.u8(1).put(&f.evidence),
        };
    }
}

impl Decode for ClientState {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = r.get()?;
        let options = r.get()?;
        let latest_height = r.u64()?;
        let latest_next_validators = r.get()?;
        let count = r.len_prefix(
            "consensus states",
            MAX_CONSENSUS_STATES,
            CONSENSUS_ENTRY_LEN,
        )?;
        let mut consensus_states = BTreeMap::new();
        let mut last = None;
        for _ in 0..count {
            let height = r.u64()?;
            if last.is_some_and(|l| l >= height) {
                return Err(DecodeError::invalid(
                    "consensus states",
                    "heights not strictly ascending",
                ));
            }
            last = Some(height);
            consensus_states.insert(height, r.get()?);
        }
        let frozen = match r.u8()? {
            0 => None,
            1 => {
                let evidence: Misbehaviour = r.get()?;
                let kind = evidence
                    .kind()
                    .map_err(|e| DecodeError::invalid("frozen evidence", e.to_string()))?;
                Some(Frozen {
                    kind,
                    evidence_hash: evidence.hash(),
                    evidence,
                })
            }
            t => {
                return Err(DecodeError::invalid(
                    "frozen tag",
                    format!("{t} is not 0 or 1"),
                ))
            }
        };
        ClientState::try_from(ClientStateRepr {
            chain_id,
            options,
            latest_height,
            latest_next_validators,
            consensus_states,
            frozen,
        })
        .map_err(|e| DecodeError::invalid("client state", e.to_string()))
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    /// The labels are metric label values operators alert on: they must not drift.
    #[test]
    fn client_error_reasons_are_the_stable_labels() {
        let h = Hash32([1; 32]);
        let cases: Vec<(ClientError, &str)> = vec![
            (ClientError::Frozen { evidence: h }, "client_frozen"),
            (
                ClientError::Expired {
                    latest_ms: 1,
                    now_ms: 2,
                },
                "client_expired",
            ),
            (
                ClientError::ConflictingHeader {
                    height: 1,
                    trusted: h,
                    found: h,
                },
                "conflicting_header",
            ),
            (ClientError::UnknownHeight(3), "unknown_height"),
            (
                ClientError::Bisection(BisectionError::Source {
                    height: 1,
                    message: "down".into(),
                }),
                "source",
            ),
            (
                ClientError::Bisection(BisectionError::TargetNotAhead {
                    trusted: 2,
                    target: 1,
                }),
                "bisection",
            ),
            (ClientError::InvalidSetup("x".into()), "other"),
        ];
        for (e, label) in cases {
            assert_eq!(e.reason(), label, "{e}");
        }
    }
}
