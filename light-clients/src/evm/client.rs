//! The light client of one EVM chain, as a relayer keeps it and as a chain stores it: the
//! chain's finality rule (QBFT, IBFT 2.0 or Clique seals, or an attestation committee), the
//! trusted validator set, the gateway contract whose storage is proven, and the verified
//! (block hash, state root, time) of recent heights.
//!
//! Updates are all-or-nothing. Seal modes accept only adjacent chains of headers, each the
//! child (by parent hash) of the latest trusted one; no skipping, so every validator-set
//! change is checked against the set just before it (a relayer submits every header, which
//! is cheap on consortium chains with short blocks). QBFT / IBFT 2.0 follow Besu, where a
//! block's extraData lists the validators that must seal it: a header must be final under
//! its own list and sealed by more than a third of the trusted set (the latest trusted
//! block's list), which its list then replaces
//! ([`verify_header_transition`](crate::evm::consensus::verify_header_transition)). Clique
//! headers need one seal by a trusted signer, and within one update no signer may seal
//! two of any `floor(N/2) + 1` consecutive headers (EIP-225's "signed recently" rule, `N`
//! the signers authorised at that header); checkpoint blocks replace the signer list.
//! The attestation mode accepts any newer height the committee signed.
//!
//! Storage proofs follow the gateway's provable-storage convention (docs/PROTOCOL.md §12):
//! slot 0 of the gateway is `mapping(bytes32 => bytes32) provable`, holding
//! `sha256(V)` at key `sha256(P)` for every protocol path `P` whose value is `V`.

use std::collections::BTreeMap;

use crate::chain::{ChainId, Height, TimeMs};
use crate::crypto::Address;
use crate::encoding::{decode_seq, encode_seq, Decode, DecodeError, Encode, Reader, Writer};
use crate::evm::attest::{AttestError, Attested, Committee};
use crate::evm::clique::check_recently_signed;
use crate::evm::consensus::{verify_header_transition, EvmConsensus, EvmConsensusError};
use crate::evm::header::{EvmHeader, MAX_HEADER_BYTES};
use crate::evm::mpt::{
    keccak256, verify_account, verify_storage, MptError, MAX_NODE_LEN, MAX_PROOF_NODES,
};
use crate::hash::{sha256, Hash32};

/// Consensus states kept: the newest 512 heights (the latest always among them).
pub const MAX_CONSENSUS_STATES: usize = 512;

/// Most validators a seal-mode client follows (QBFT networks have tens).
pub const MAX_VALIDATORS: usize = 1024;

/// Most headers one update may carry.
pub const MAX_UPDATE_HEADERS: usize = 256;

/// Encoded size of one (height, consensus state) entry.
const CONSENSUS_ENTRY_LEN: usize = 8 + 32 + 32 + 8;

/// How the chain's blocks become trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalityMode {
    /// QBFT committed seals by ceil(2n/3) of the validators.
    Qbft,
    /// IBFT 2.0 committed seals by ceil(2n/3) of the validators.
    Ibft2,
    /// Clique (EIP-225): one authorised signer's seal; the signer list is read from
    /// checkpoint blocks every `epoch` blocks.
    Clique {
        /// Checkpoint interval (≥ 1).
        epoch: u64,
    },
    /// `k` of `n` attesters sign each block (dev nodes whose headers carry no seals).
    Attestation(Committee),
}

impl FinalityMode {
    /// The header consensus rules of a seal mode, `None` for the attestation mode.
    pub fn consensus(&self) -> Option<EvmConsensus> {
        match self {
            FinalityMode::Qbft => Some(EvmConsensus::Qbft),
            FinalityMode::Ibft2 => Some(EvmConsensus::Ibft2),
            FinalityMode::Clique { epoch } => Some(EvmConsensus::Clique { epoch: *epoch }),
            FinalityMode::Attestation(_) => None,
        }
    }

    /// The mode's name in errors and labels.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            FinalityMode::Qbft => "qbft",
            FinalityMode::Ibft2 => "ibft2",
            FinalityMode::Clique { .. } => "clique",
            FinalityMode::Attestation(_) => "attestation",
        }
    }
}

/// `u8 0` QBFT | `u8 1` IBFT 2.0 | `u8 2` ‖ `u64 epoch` Clique | `u8 3` ‖ `Committee`.
impl Encode for FinalityMode {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            FinalityMode::Qbft => w.u8(0),
            FinalityMode::Ibft2 => w.u8(1),
            FinalityMode::Clique { epoch } => w.u8(2).u64(*epoch),
            FinalityMode::Attestation(c) => w.u8(3).put(c),
        };
    }
}

impl Decode for FinalityMode {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(FinalityMode::Qbft),
            1 => Ok(FinalityMode::Ibft2),
            2 => match r.u64()? {
                0 => Err(DecodeError::invalid("clique epoch", "must be at least 1")),
                epoch => Ok(FinalityMode::Clique { epoch }),
            },
            3 => Ok(FinalityMode::Attestation(r.get()?)),
            t => Err(DecodeError::invalid(
                "finality mode",
                format!("tag {t} is not 0, 1, 2 or 3"),
            )),
        }
    }
}

/// What the client remembers of each verified block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmConsensusState {
    /// The block hash as the chain gives it (the next header's parent hash).
    pub block_hash: Hash32,
    /// The state root: what account proofs at this height are checked against.
    pub state_root: Hash32,
    /// Block time in milliseconds since the Unix epoch.
    pub time_ms: TimeMs,
}

/// A batch of evidence that moves the client forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvmUpdate {
    /// Consecutive headers with their seals (QBFT, IBFT 2.0, Clique), the first one the
    /// child of the latest trusted block (or already trusted, then skipped).
    Headers(Vec<EvmHeader>),
    /// One block vouched for by the committee (attestation mode).
    Attested(Attested),
}

/// `u8 0` ‖ `seq<bytes header_rlp>` (≤ 256 headers) | `u8 1` ‖ `Attested`.
impl Encode for EvmUpdate {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            EvmUpdate::Headers(headers) => {
                w.u8(0).len_prefix(headers.len());
                for h in headers {
                    w.bytes(&h.encode());
                }
            }
            EvmUpdate::Attested(a) => {
                w.u8(1).put(a);
            }
        }
    }
}

impl Decode for EvmUpdate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => {
                let count = r.len_prefix("headers", MAX_UPDATE_HEADERS, 4)?;
                let mut headers = Vec::with_capacity(count);
                for _ in 0..count {
                    let raw = r.bytes("header", MAX_HEADER_BYTES)?;
                    let header = EvmHeader::decode(raw)
                        .map_err(|e| DecodeError::invalid("header", e.to_string()))?;
                    headers.push(header);
                }
                Ok(EvmUpdate::Headers(headers))
            }
            1 => Ok(EvmUpdate::Attested(r.get()?)),
            t => Err(DecodeError::invalid(
                "evm update",
                format!("tag {t} is not 0 or 1"),
            )),
        }
    }
}

/// The two `eth_getProof` node lists that prove one gateway storage slot: the gateway
/// account against the state root, then the slot against the account's storage root.
/// Serde (for relayer stores and JSON tooling) keeps the nodes as byte arrays; the
/// canonical layout below is what transactions carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvmStorageProof {
    /// `accountProof`: RLP trie nodes, root first.
    pub account_proof: Vec<Vec<u8>>,
    /// `storageProof[i].proof`: RLP trie nodes, root first.
    pub storage_proof: Vec<Vec<u8>>,
}

fn encode_nodes(w: &mut Writer, nodes: &[Vec<u8>]) {
    w.len_prefix(nodes.len());
    for n in nodes {
        w.bytes(n);
    }
}

fn decode_nodes(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Vec<u8>>, DecodeError> {
    let count = r.len_prefix(what, MAX_PROOF_NODES, 4)?;
    (0..count)
        .map(|_| r.bytes("trie node", MAX_NODE_LEN).map(<[u8]>::to_vec))
        .collect()
}

/// `seq<bytes> account_proof` ‖ `seq<bytes> storage_proof` (≤ 64 nodes of ≤ 4096 bytes).
impl Encode for EvmStorageProof {
    fn encode_to(&self, w: &mut Writer) {
        encode_nodes(w, &self.account_proof);
        encode_nodes(w, &self.storage_proof);
    }
}

impl Decode for EvmStorageProof {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EvmStorageProof {
            account_proof: decode_nodes(r, "account proof")?,
            storage_proof: decode_nodes(r, "storage proof")?,
        })
    }
}

/// Every way an EVM client operation can fail. A failed operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmClientError {
    /// The committee attested two different blocks at one height; only a new client helps.
    #[error("client is frozen: conflicting attestations were proven")]
    Frozen,
    /// The trusted state given to create the client is invalid.
    #[error("invalid client setup: {0}")]
    InvalidSetup(String),
    /// The update's kind does not fit the client's finality mode.
    #[error("a {found} update for a client in {mode} mode")]
    ModeMismatch {
        /// The client's mode.
        mode: &'static str,
        /// What the update carries.
        found: &'static str,
    },
    /// An update without headers, or with too many.
    #[error("an update carries 1 to {max} headers, got {count}")]
    HeaderCount {
        /// Headers given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// The attestation is for another chain.
    #[error("attestation for chain {found}, the client follows {expected}")]
    WrongChain {
        /// The client's chain.
        expected: ChainId,
        /// The attestation's chain.
        found: ChainId,
    },
    /// A block at or below the latest height that the client does not hold.
    #[error("block {height} is not above the latest trusted height {latest}")]
    NotNewer {
        /// The block's height.
        height: Height,
        /// The latest trusted height.
        latest: Height,
    },
    /// A header that does not follow the previous one (headers must be adjacent).
    #[error("header {found} does not follow the trusted height {expected_parent}")]
    NotAdjacent {
        /// Height of the block it must follow.
        expected_parent: Height,
        /// Its height.
        found: Height,
    },
    /// A header whose parent hash is not the trusted block's hash.
    #[error("header {height} has parent {found}, the trusted parent is {expected}")]
    ParentMismatch {
        /// The header's height.
        height: Height,
        /// The trusted hash.
        expected: Hash32,
        /// The header's parent hash.
        found: Hash32,
    },
    /// Block time went backwards.
    #[error("block {height} has time {time_ms} ms, before the trusted {latest_ms} ms")]
    TimeDecreased {
        /// The block's height.
        height: Height,
        /// Its time.
        time_ms: TimeMs,
        /// The latest trusted time.
        latest_ms: TimeMs,
    },
    /// A header's timestamp does not fit milliseconds in a `u64`.
    #[error("block {height} has a timestamp beyond any millisecond time")]
    TimeOverflow {
        /// The header's height.
        height: Height,
    },
    /// A header's seals fail the chain's consensus rule.
    #[error("header {height}: {error}")]
    Seal {
        /// The header's height.
        height: Height,
        /// The rule that failed.
        error: EvmConsensusError,
    },
    /// A header hands on a validator set the client cannot follow.
    #[error("header {height} names an invalid validator set: {reason}")]
    BadValidatorSet {
        /// The header's height.
        height: Height,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The committee did not vouch for the attestation.
    #[error("attestation at height {height}: {error}")]
    Attestation {
        /// The attested height.
        height: Height,
        /// What failed.
        error: AttestError,
    },
    /// A verified block differs from the one the client holds at that height.
    #[error("block {height} is {found}, but the client trusts {trusted}")]
    ConflictingHeader {
        /// The height.
        height: Height,
        /// The trusted hash.
        trusted: Hash32,
        /// The offered hash.
        found: Hash32,
    },
    /// Evidence that was supposed to conflict with a trusted block does not.
    #[error("no conflict at height {0}: the client holds no different block there")]
    NoConflict(Height),
    /// No verified block at that height (never verified, or pruned).
    #[error("no verified block at height {0}")]
    UnknownHeight(Height),
    /// The gateway account proof failed.
    #[error("account proof at height {height}: {error}")]
    AccountProof {
        /// The proof height.
        height: Height,
        /// What failed.
        error: MptError,
    },
    /// The proof shows the gateway account does not exist at that height.
    #[error("the gateway account does not exist at height {0}")]
    GatewayAbsent(Height),
    /// The storage proof failed.
    #[error("storage proof at height {height}: {error}")]
    StorageProof {
        /// The proof height.
        height: Height,
        /// What failed.
        error: MptError,
    },
    /// The path's slot holds another value than the one claimed.
    #[error("path {path}: the slot holds {found}, the claim hashes to {expected}")]
    ValueMismatch {
        /// The protocol path.
        path: String,
        /// `sha256` of the claimed value (zero for an absence claim).
        expected: Hash32,
        /// The proven slot value.
        found: Hash32,
    },
}

impl EvmClientError {
    /// A short stable label, for metrics (`reason` label) and logs, one per kind of
    /// failure (the labels a BFT client's [`crate::ClientError::reason`] uses where the
    /// failure is the same). Callers (the relayer's
    /// `xrelay_verification_failures_total{reason}`) count on the strings staying the same.
    pub fn reason(&self) -> &'static str {
        match self {
            EvmClientError::Frozen => "client_frozen",
            EvmClientError::Seal { .. } => "bad_seal",
            EvmClientError::Attestation { .. } => "bad_attestation",
            EvmClientError::ConflictingHeader { .. } => "conflicting_header",
            EvmClientError::ParentMismatch { .. } | EvmClientError::NotAdjacent { .. } => {
                "parent_hash_mismatch"
            }
            EvmClientError::UnknownHeight(_) => "unknown_height",
            EvmClientError::AccountProof { .. }
            | EvmClientError::StorageProof { .. }
            | EvmClientError::GatewayAbsent(_)
            | EvmClientError::ValueMismatch { .. } => "proof",
            EvmClientError::InvalidSetup(_)
            | EvmClientError::ModeMismatch { .. }
            | EvmClientError::HeaderCount { .. }
            | EvmClientError::WrongChain { .. }
            | EvmClientError::NotNewer { .. }
            | EvmClientError::TimeDecreased { .. }
            | EvmClientError::TimeOverflow { .. }
            | EvmClientError::BadValidatorSet { .. }
            | EvmClientError::NoConflict(_) => "other",
        }
    }
}

/// A light client of one EVM chain. See the module documentation for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmClientState {
    chain_id: ChainId,
    mode: FinalityMode,
    /// Seal modes, ascending: the trusted set after the latest block. QBFT / IBFT 2.0: the
    /// validators that block lists (the set that sealed it), more than a third of whom
    /// must seal the next block; Clique: the signers authorised for the next block. Empty
    /// in attestation mode.
    validators: Vec<Address>,
    gateway: Address,
    latest_height: Height,
    consensus_states: BTreeMap<Height, EvmConsensusState>,
    frozen: bool,
}

/// Checks a validator set a client follows: 1..=1024 distinct addresses. Returns it sorted.
fn validator_set(mut set: Vec<Address>) -> Result<Vec<Address>, &'static str> {
    if set.is_empty() || set.len() > MAX_VALIDATORS {
        return Err("a validator set has 1 to 1024 members");
    }
    set.sort_unstable();
    if set.windows(2).any(|w| w[0] == w[1]) {
        return Err("a validator is listed twice");
    }
    Ok(set)
}

fn time_ms(header: &EvmHeader) -> Result<TimeMs, EvmClientError> {
    header
        .timestamp
        .checked_mul(1000)
        .ok_or(EvmClientError::TimeOverflow {
            height: header.number,
        })
}

impl EvmClientState {
    /// A client that trusts `trusted` at `height` (taken from a source its owner trusts:
    /// genesis, or a block checked out of band). `validators` is the set that seals the
    /// block after `height` (seal modes; empty in attestation mode).
    pub fn new(
        chain_id: ChainId,
        mode: FinalityMode,
        validators: Vec<Address>,
        gateway: Address,
        height: Height,
        trusted: EvmConsensusState,
    ) -> Result<Self, EvmClientError> {
        let validators = match mode {
            FinalityMode::Attestation(_) if validators.is_empty() => validators,
            FinalityMode::Attestation(_) => {
                return Err(EvmClientError::InvalidSetup(
                    "the attestation mode follows no validator set".into(),
                ))
            }
            FinalityMode::Clique { epoch: 0 } => {
                return Err(EvmClientError::InvalidSetup(
                    "clique epoch must be at least 1".into(),
                ))
            }
            _ => validator_set(validators).map_err(|e| EvmClientError::InvalidSetup(e.into()))?,
        };
        Ok(EvmClientState {
            chain_id,
            mode,
            validators,
            gateway,
            latest_height: height,
            consensus_states: BTreeMap::from([(height, trusted)]),
            frozen: false,
        })
    }

    /// A seal-mode client anchored at a header its owner trusts: the header's own
    /// validator list (QBFT, IBFT 2.0: its extraData; Clique: it must be a checkpoint
    /// block) becomes the trusted set that the next block is checked against.
    pub fn from_header(
        chain_id: ChainId,
        mode: FinalityMode,
        header: &EvmHeader,
        gateway: Address,
    ) -> Result<Self, EvmClientError> {
        let consensus = mode.consensus().ok_or_else(|| {
            EvmClientError::InvalidSetup("the attestation mode is anchored with `new`".into())
        })?;
        let seal = |error| EvmClientError::Seal {
            height: header.number,
            error,
        };
        let validators = consensus
            .header_validators(header)
            .map_err(seal)?
            .ok_or_else(|| {
                EvmClientError::InvalidSetup(
                    "a clique anchor must be a checkpoint block (it lists the signers)".into(),
                )
            })?;
        let trusted = EvmConsensusState {
            block_hash: consensus.block_hash(header).map_err(seal)?,
            state_root: header.state_root,
            time_ms: time_ms(header)?,
        };
        EvmClientState::new(chain_id, mode, validators, gateway, header.number, trusted)
    }

    /// The followed chain.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// How blocks become trusted.
    pub fn mode(&self) -> &FinalityMode {
        &self.mode
    }

    /// Seal modes: the trusted validators after the latest block (ascending). QBFT /
    /// IBFT 2.0: the list of the latest block, more than a third of whom must seal the next
    /// one; Clique: the signers authorised for the next block.
    pub fn validators(&self) -> &[Address] {
        &self.validators
    }

    /// The gateway contract whose storage the client proves.
    pub fn gateway(&self) -> Address {
        self.gateway
    }

    /// Height of the newest verified block.
    pub fn latest_height(&self) -> Height {
        self.latest_height
    }

    /// What the client remembers at `height`, if it verified a block there.
    pub fn consensus_state(&self, height: Height) -> Option<&EvmConsensusState> {
        self.consensus_states.get(&height)
    }

    /// All remembered heights, ascending.
    pub fn heights(&self) -> impl Iterator<Item = Height> + '_ {
        self.consensus_states.keys().copied()
    }

    /// Whether conflicting attestations froze the client.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    fn latest(&self) -> (Height, EvmConsensusState) {
        let latest = self
            .consensus_states
            .last_key_value()
            .map(|(h, cs)| (*h, *cs));
        // The latest height always has a consensus state (constructor, decoder and
        // `remember` keep it so); the fallback is never taken.
        latest.unwrap_or((
            self.latest_height,
            EvmConsensusState {
                block_hash: Hash32::ZERO,
                state_root: Hash32::ZERO,
                time_ms: 0,
            },
        ))
    }

    /// Verifies `update` and remembers the blocks it proves, or nothing if any check fails.
    /// Blocks the client already holds with the same hash are skipped (two relayers
    /// submitting the same update is harmless). Returns the new latest height.
    pub fn update(&mut self, update: &EvmUpdate) -> Result<Height, EvmClientError> {
        if self.frozen {
            return Err(EvmClientError::Frozen);
        }
        match (update, &self.mode) {
            (EvmUpdate::Attested(attested), FinalityMode::Attestation(committee)) => {
                let (height, cs) = self.check_attested(committee, attested)?;
                if self.consensus_states.get(&height) == Some(&cs) {
                    return Ok(self.latest_height);
                }
                let (latest, latest_cs) = self.latest();
                if height <= latest {
                    return Err(self.conflict_or_old(height, cs.block_hash));
                }
                if cs.time_ms < latest_cs.time_ms {
                    return Err(EvmClientError::TimeDecreased {
                        height,
                        time_ms: cs.time_ms,
                        latest_ms: latest_cs.time_ms,
                    });
                }
                self.remember(vec![(height, cs)], None);
                Ok(self.latest_height)
            }
            (EvmUpdate::Headers(headers), mode) => {
                let Some(consensus) = mode.consensus() else {
                    return Err(EvmClientError::ModeMismatch {
                        mode: mode.name(),
                        found: "headers",
                    });
                };
                self.update_headers(consensus, headers)
            }
            (EvmUpdate::Attested(_), mode) => Err(EvmClientError::ModeMismatch {
                mode: mode.name(),
                found: "attestation",
            }),
        }
    }

    fn check_attested(
        &self,
        committee: &Committee,
        attested: &Attested,
    ) -> Result<(Height, EvmConsensusState), EvmClientError> {
        let a = &attested.attestation;
        if a.chain_id != self.chain_id {
            return Err(EvmClientError::WrongChain {
                expected: self.chain_id.clone(),
                found: a.chain_id.clone(),
            });
        }
        committee
            .verify(attested)
            .map_err(|error| EvmClientError::Attestation {
                height: a.height,
                error,
            })?;
        Ok((
            a.height,
            EvmConsensusState {
                block_hash: a.block_hash,
                state_root: a.state_root,
                time_ms: a.time_ms,
            },
        ))
    }

    fn conflict_or_old(&self, height: Height, found: Hash32) -> EvmClientError {
        match self.consensus_states.get(&height) {
            Some(cs) => EvmClientError::ConflictingHeader {
                height,
                trusted: cs.block_hash,
                found,
            },
            None => EvmClientError::NotNewer {
                height,
                latest: self.latest_height,
            },
        }
    }

    fn update_headers(
        &mut self,
        consensus: EvmConsensus,
        headers: &[EvmHeader],
    ) -> Result<Height, EvmClientError> {
        if headers.is_empty() || headers.len() > MAX_UPDATE_HEADERS {
            return Err(EvmClientError::HeaderCount {
                count: headers.len(),
                max: MAX_UPDATE_HEADERS,
            });
        }
        let (mut height, mut trusted) = self.latest();
        let mut validators = self.validators.clone();
        let mut accepted = Vec::with_capacity(headers.len());
        // Clique: who sealed each header of this run so far, for the "signed recently" rule.
        let mut sealed: Vec<(Height, Address)> = Vec::new();
        for header in headers {
            let number = header.number;
            if number <= height {
                let found = consensus
                    .block_hash(header)
                    .map_err(|error| EvmClientError::Seal {
                        height: number,
                        error,
                    })?;
                if self.consensus_states.get(&number).map(|cs| cs.block_hash) == Some(found)
                    && accepted.is_empty()
                {
                    continue;
                }
                return Err(self.conflict_or_old(number, found));
            }
            if Some(number) != height.checked_add(1) {
                return Err(EvmClientError::NotAdjacent {
                    expected_parent: height,
                    found: number,
                });
            }
            if header.parent_hash != trusted.block_hash {
                return Err(EvmClientError::ParentMismatch {
                    height: number,
                    expected: trusted.block_hash,
                    found: header.parent_hash,
                });
            }
            // QBFT / IBFT 2.0: final under its own list and vouched for by more than a third
            // of the trusted set; Clique: sealed by a trusted signer.
            let verdict =
                verify_header_transition(consensus, header, &validators).map_err(|error| {
                    EvmClientError::Seal {
                        height: number,
                        error,
                    }
                })?;
            if let (EvmConsensus::Clique { .. }, Some(&signer)) =
                (consensus, verdict.signers.first())
            {
                check_recently_signed(&sealed, number, signer, validators.len()).map_err(
                    |error| EvmClientError::Seal {
                        height: number,
                        error: error.into(),
                    },
                )?;
                sealed.push((number, signer));
            }
            let time = time_ms(header)?;
            if time < trusted.time_ms {
                return Err(EvmClientError::TimeDecreased {
                    height: number,
                    time_ms: time,
                    latest_ms: trusted.time_ms,
                });
            }
            if let Some(next) = verdict.next_validators {
                validators =
                    validator_set(next).map_err(|reason| EvmClientError::BadValidatorSet {
                        height: number,
                        reason,
                    })?;
            }
            trusted = EvmConsensusState {
                block_hash: verdict.hash,
                state_root: header.state_root,
                time_ms: time,
            };
            height = number;
            accepted.push((height, trusted));
        }
        if !accepted.is_empty() {
            self.remember(accepted, Some(validators));
        }
        Ok(self.latest_height)
    }

    /// Freezes the client on proof that the committee attested a block different from
    /// one the client trusts at the same height (attestation mode). Returns that height.
    /// Seal modes refuse conflicting headers in [`Self::update`] but hold no evidence rule.
    pub fn freeze_on_conflict(&mut self, attested: &Attested) -> Result<Height, EvmClientError> {
        let FinalityMode::Attestation(committee) = &self.mode else {
            return Err(EvmClientError::ModeMismatch {
                mode: self.mode.name(),
                found: "attestation",
            });
        };
        let (height, cs) = self.check_attested(committee, attested)?;
        match self.consensus_states.get(&height) {
            Some(trusted) if *trusted != cs => {
                self.frozen = true;
                Ok(height)
            }
            _ => Err(EvmClientError::NoConflict(height)),
        }
    }

    /// Freezes the client (evidence was proven): it refuses updates and proofs from now on.
    pub(crate) fn freeze(&mut self) {
        self.frozen = true;
    }

    fn remember(
        &mut self,
        states: Vec<(Height, EvmConsensusState)>,
        validators: Option<Vec<Address>>,
    ) {
        for (height, cs) in states {
            self.consensus_states.insert(height, cs);
            self.latest_height = self.latest_height.max(height);
        }
        if let Some(v) = validators {
            self.validators = v;
        }
        while self.consensus_states.len() > MAX_CONSENSUS_STATES {
            self.consensus_states.pop_first();
        }
    }

    /// Proves the value of the gateway's storage `slot` in the state after the verified
    /// block at `height`: the account proof of the gateway against that block's state
    /// root, then the storage proof against the account's storage root. Returns the
    /// 256-bit value (zero for a proven absence).
    pub fn verify_storage<N: AsRef<[u8]>>(
        &self,
        height: Height,
        account_proof: &[N],
        storage_proof: &[N],
        slot: &[u8; 32],
    ) -> Result<[u8; 32], EvmClientError> {
        if self.frozen {
            return Err(EvmClientError::Frozen);
        }
        let cs = self
            .consensus_states
            .get(&height)
            .ok_or(EvmClientError::UnknownHeight(height))?;
        let account = verify_account(&cs.state_root.0, &self.gateway.0, account_proof)
            .map_err(|error| EvmClientError::AccountProof { height, error })?
            .ok_or(EvmClientError::GatewayAbsent(height))?;
        verify_storage(&account.storage_root, slot, storage_proof)
            .map_err(|error| EvmClientError::StorageProof { height, error })
    }
}

/// The gateway storage slot of protocol path `path`: the slot of `provable[sha256(path)]`
/// for `mapping(bytes32 => bytes32) provable` at slot 0, i.e.
/// `keccak256(sha256(path) ‖ bytes32(0))`.
pub fn provable_slot(path: &[u8]) -> [u8; 32] {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(&sha256(path).0);
    keccak256(&preimage)
}

/// Checks that protocol path `path` held `expected` (`Some(V)`: the slot holds
/// `sha256(V)`) or was absent (`None`: the slot is zero) in the gateway's storage after the
/// verified block at `height`.
pub fn verify_path(
    client: &EvmClientState,
    height: Height,
    path: &[u8],
    expected: Option<&[u8]>,
    proof: &EvmStorageProof,
) -> Result<(), EvmClientError> {
    let found = client.verify_storage(
        height,
        &proof.account_proof,
        &proof.storage_proof,
        &provable_slot(path),
    )?;
    let want = expected.map_or(Hash32::ZERO, sha256);
    if found != want.0 {
        return Err(EvmClientError::ValueMismatch {
            path: String::from_utf8_lossy(path).into_owned(),
            expected: want,
            found: Hash32(found),
        });
    }
    Ok(())
}

/// The canonical layout (docs/PROTOCOL.md §12): `ChainId` ‖ `FinalityMode` ‖
/// `seq<address> validators` ‖ `address gateway` ‖ `u64 latest_height` ‖ `u32 count` ‖
/// count × (`u64 height` ‖ `hash32 block_hash` ‖ `hash32 state_root` ‖ `u64 time_ms`) ‖
/// `u8 frozen`.
impl Encode for EvmClientState {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.chain_id).put(&self.mode);
        encode_seq(w, &self.validators);
        w.put(&self.gateway).u64(self.latest_height);
        w.len_prefix(self.consensus_states.len());
        for (height, cs) in &self.consensus_states {
            w.u64(*height)
                .put(&cs.block_hash)
                .put(&cs.state_root)
                .u64(cs.time_ms);
        }
        w.u8(u8::from(self.frozen));
    }
}

impl Decode for EvmClientState {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = r.get()?;
        let mode: FinalityMode = r.get()?;
        let validators: Vec<Address> = decode_seq(r, "validators", MAX_VALIDATORS, 20)?;
        match mode {
            FinalityMode::Attestation(_) if !validators.is_empty() => {
                return Err(DecodeError::invalid(
                    "validators",
                    "the attestation mode follows no validator set",
                ))
            }
            FinalityMode::Attestation(_) => {}
            _ if validators.is_empty() || validators.windows(2).any(|w| w[0] >= w[1]) => {
                return Err(DecodeError::invalid(
                    "validators",
                    "a seal mode needs 1 to 1024 strictly ascending addresses",
                ))
            }
            _ => {}
        }
        let gateway = r.get()?;
        let latest_height = r.u64()?;
        let count = r.len_prefix(
            "consensus states",
            MAX_CONSENSUS_STATES,
            CONSENSUS_ENTRY_LEN,
        )?;
        let mut consensus_states = BTreeMap::new();
        let mut last: Option<(Height, TimeMs)> = None;
        for _ in 0..count {
            let height = r.u64()?;
            let cs = EvmConsensusState {
                block_hash: r.get()?,
                state_root: r.get()?,
                time_ms: r.u64()?,
            };
            if let Some((h, t)) = last {
                if h >= height {
                    return Err(DecodeError::invalid(
                        "consensus states",
                        "heights not strictly ascending",
                    ));
                }
                if t > cs.time_ms {
                    return Err(DecodeError::invalid(
                        "consensus states",
                        "time decreases with height",
                    ));
                }
            }
            last = Some((height, cs.time_ms));
            consensus_states.insert(height, cs);
        }
        if last.map(|(h, _)| h) != Some(latest_height) {
            return Err(DecodeError::invalid(
                "consensus states",
                "the last one must be at the latest height",
            ));
        }
        let frozen = match r.u8()? {
            0 => false,
            1 => true,
            t => {
                return Err(DecodeError::invalid(
                    "frozen flag",
                    format!("{t} is not 0 or 1"),
                ))
            }
        };
        Ok(EvmClientState {
            chain_id,
            mode,
            validators,
            gateway,
            latest_height,
            consensus_states,
            frozen,
        })
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    /// The labels are metric label values operators alert on: they must not drift.
    #[test]
    fn evm_client_error_reasons_are_the_stable_labels() {
        let h = Hash32([1; 32]);
        let cases: Vec<(EvmClientError, &str)> = vec![
            (EvmClientError::Frozen, "client_frozen"),
            (
                EvmClientError::ConflictingHeader {
                    height: 1,
                    trusted: h,
                    found: h,
                },
                "conflicting_header",
            ),
            (
                EvmClientError::ParentMismatch {
                    height: 1,
                    expected: h,
                    found: h,
                },
                "parent_hash_mismatch",
            ),
            (
                EvmClientError::NotAdjacent {
                    expected_parent: 1,
                    found: 3,
                },
                "parent_hash_mismatch",
            ),
            (EvmClientError::UnknownHeight(3), "unknown_height"),
            (EvmClientError::GatewayAbsent(3), "proof"),
            (
                EvmClientError::ValueMismatch {
                    path: "p".into(),
                    expected: h,
                    found: h,
                },
                "proof",
            ),
            (EvmClientError::NoConflict(3), "other"),
            (EvmClientError::InvalidSetup("x".into()), "other"),
        ];
        for (e, label) in cases {
            assert_eq!(e.reason(), label, "{e}");
        }
    }
}
