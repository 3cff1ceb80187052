//! BFT header verification: adjacent steps, skipping with a trust threshold, trusting
//! period and clock drift, with exact integer quorum arithmetic.
//!
//! The rules (see `docs/PROTOCOL.md` for the byte-level spec):
//! - a header one height above the trusted one must be signed by more than 2/3 of its own
//!   validator power, its `validators_hash` must equal the trusted `next_validators_hash`
//!   and its `parent_hash` the trusted header hash;
//! - a header further ahead must be signed by more than 2/3 of its own set **and** by more
//!   than the trust threshold of the trusted next set; failing only the latter is
//!   [`VerifyError::InsufficientTrust`], the signal to bisect;
//! - every signature in a commit is checked (not just a quorum), so a commit that carries a
//!   forged or malleated signature is refused as a whole.

use serde::{Deserialize, Serialize};

use crate::chain::{ChainId, Height, TimeMs};
use crate::crypto::{Address, Signature65, SignatureError};
use crate::encoding::DecodeError;
use crate::hash::Hash32;
use crate::header::{Commit, LightBlock};
use crate::validator::{Fraction, ValidatorSet};

/// How much a light client trusts, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustOptions {
    /// Fraction of the trusted set's power that must sign a skipped-to header; within
    /// [1/3, 1). 1/3 guarantees at least one honest signer if at most 1/3 is faulty.
    pub trust_threshold: Fraction,
    /// How long a verified header may serve as the base of the next verification.
    pub trusting_period_ms: u64,
    /// How far a header's time may be ahead of the verifier's clock.
    pub max_clock_drift_ms: u64,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            trust_threshold: Fraction::ONE_THIRD,
            trusting_period_ms: 7 * 24 * 3600 * 1000,
            max_clock_drift_ms: 5_000,
        }
    }
}

impl TrustOptions {
    /// Checks the threshold lies in [1/3, 1) and the trusting period is not zero.
    pub fn validate(&self) -> Result<(), VerifyError> {
        let t = self.trust_threshold;
        if t.denominator == 0
            || u128::from(t.numerator) * 3 < u128::from(t.denominator)
            || t.numerator >= t.denominator
        {
            return Err(VerifyError::InvalidOptions(format!(
                "trust threshold {}/{} is outside [1/3, 1)",
                t.numerator, t.denominator
            )));
        }
        if self.trusting_period_ms == 0 {
            return Err(VerifyError::InvalidOptions(
                "trusting period is zero".to_string(),
            ));
        }
        Ok(())
    }
}

/// Why a signature in a commit does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    /// The bytes are not an acceptable signature.
    #[error(transparent)]
    Malformed(#[from] SignatureError),
    /// The signature is valid but made by someone else (or over another digest).
    #[error("signature recovers to {0}, not to the claimed validator")]
    WrongSigner(Address),
}

/// Every way a header can fail verification. Each is distinct so that relayers can count
/// failures by reason and tests can assert the exact rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The trust options themselves are invalid.
    #[error("invalid trust options: {0}")]
    InvalidOptions(String),
    /// The header is for another chain.
    #[error("header is for chain {found}, expected {expected}")]
    ChainIdMismatch {
        /// The trusted chain.
        expected: ChainId,
        /// The header's chain.
        found: ChainId,
    },
    /// The header is not above the trusted height.
    #[error("header height {untrusted} is not above the trusted height {trusted}")]
    NonIncreasingHeight {
        /// Trusted height.
        trusted: Height,
        /// Header height.
        untrusted: Height,
    },
    /// The header's time is not after the trusted time.
    #[error("header time {untrusted_ms} ms is not after the trusted time {trusted_ms} ms")]
    NonIncreasingTime {
        /// Trusted time.
        trusted_ms: TimeMs,
        /// Header time.
        untrusted_ms: TimeMs,
    },
    /// The header's time is beyond the verifier's clock plus the allowed drift.
    #[error(
        "header time {header_ms} ms is beyond now {now_ms} ms + drift {max_clock_drift_ms} ms"
    )]
    HeaderFromFuture {
        /// Header time.
        header_ms: TimeMs,
        /// Verifier's clock.
        now_ms: TimeMs,
        /// Allowed drift.
        max_clock_drift_ms: u64,
    },
    /// The trusted state is older than the trusting period.
    #[error("trusted state from {trusted_ms} ms expired at {expires_ms} ms (now {now_ms} ms)")]
    TrustedStateExpired {
        /// Trusted time.
        trusted_ms: TimeMs,
        /// Trusted time plus trusting period.
        expires_ms: TimeMs,
        /// Verifier's clock.
        now_ms: TimeMs,
    },
    /// A validator set does not hash to what the header (or trusted state) says.
    #[error("{field} mismatch: expected {expected}, found {found}")]
    ValidatorSetMismatch {
        /// Which hash: `validators_hash`, `next_validators_hash` or `trusted_next_validators_hash`.
        field: &'static str,
        /// The committed hash.
        expected: Hash32,
        /// The hash of the set supplied.
        found: Hash32,
    },
    /// An adjacent header does not point at the trusted header.
    #[error("parent hash {found} is not the trusted header {expected}")]
    ParentHashMismatch {
        /// Trusted header hash.
        expected: Hash32,
        /// Header's parent hash.
        found: Hash32,
    },
    /// The commit is for another height or header.
    #[error("commit is for height {commit_height} / {commit_hash}, header is {header_height} / {header_hash}")]
    CommitMismatch {
        /// Commit height.
        commit_height: Height,
        /// Commit's header hash.
        commit_hash: Hash32,
        /// Header height.
        header_height: Height,
        /// Header hash.
        header_hash: Hash32,
    },
    /// A signature claims a signer outside the header's validator set.
    #[error("signer {address} is not in the validator set")]
    UnknownSigner {
        /// The claimed signer.
        address: Address,
    },
    /// One validator appears twice in a commit.
    #[error("signer {address} appears more than once")]
    DuplicateSigner {
        /// The repeated signer.
        address: Address,
    },
    /// A signature does not authenticate its claimed signer.
    #[error("bad signature from {address}: {fault}")]
    BadSignature {
        /// The claimed signer.
        address: Address,
        /// What is wrong.
        fault: SignatureFault,
    },
    /// Not more than 2/3 of the header's validator power signed.
    #[error("signed power {signed} of {total} is not more than 2/3")]
    InsufficientVotingPower {
        /// Power that signed.
        signed: u64,
        /// Total power of the header's set.
        total: u64,
    },
    /// Not more than the trust threshold of the trusted set signed a skipped-to header:
    /// not an attack by itself, the signal to bisect.
    #[error("trusted power {signed} of {total} is not more than {}/{}", threshold.numerator, threshold.denominator)]
    InsufficientTrust {
        /// Trusted-set power that signed.
        signed: u64,
        /// Total power of the trusted set.
        total: u64,
        /// The threshold in force.
        threshold: Fraction,
    },
    /// Input bytes did not decode.
    #[error("malformed input: {0}")]
    Malformed(#[from] DecodeError),
}

impl VerifyError {
    /// A short stable label, for metrics (`reason` label) and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::InvalidOptions(_) => "invalid_options",
            VerifyError::ChainIdMismatch { .. } => "wrong_chain",
            VerifyError::NonIncreasingHeight { .. } => "non_increasing_height",
            VerifyError::NonIncreasingTime { .. } => "non_increasing_time",
            VerifyError::HeaderFromFuture { .. } => "header_from_future",
            VerifyError::TrustedStateExpired { .. } => "trusted_state_expired",
            VerifyError::ValidatorSetMismatch { .. } => "validator_set_mismatch",
            VerifyError::ParentHashMismatch { .. } => "parent_hash_mismatch",
            VerifyError::CommitMismatch { .. } => "commit_mismatch",
            VerifyError::UnknownSigner { .. } => "unknown_signer",
            VerifyError::DuplicateSigner { .. } => "duplicate_signer",
            VerifyError::BadSignature { .. } => "bad_signature",
            VerifyError::InsufficientVotingPower { .. } => "insufficient_power",
            VerifyError::InsufficientTrust { .. } => "insufficient_trust",
            VerifyError::Malformed(_) => "malformed",
        }
    }
}

/// The state a light client trusts at one height: enough to verify any later header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// The followed chain.
    pub chain_id: ChainId,
    /// Height of the trusted header.
    pub height: Height,
    /// Its time.
    pub time_ms: TimeMs,
    /// Its hash (the parent hash of the next header).
    pub header_hash: Hash32,
    /// Its state root.
    pub state_root: Hash32,
    /// The set that signs the next header.
    pub next_validators: ValidatorSet,
}

impl TrustedState {
    /// The state after a light block that has been verified (or is trusted by the operator
    /// at setup). Checks the block is consistent with itself: both set hashes match, the
    /// commit is for this header and more than 2/3 of its own set signed it.
    pub fn from_light_block(block: &LightBlock) -> Result<Self, VerifyError> {
        check_consistency(block)?;
        let tally = tally_commit(
            &block.signed_header.commit,
            &block.validators,
            None,
            Parallelism::Auto,
        )?;
        require_quorum(&tally, &block.validators)?;
        Ok(Self::after(block))
    }

    /// The trusted state after `block`, which the caller has verified.
    pub(crate) fn after(block: &LightBlock) -> Self {
        let h = block.header();
        TrustedState {
            chain_id: h.chain_id.clone(),
            height: h.height,
            time_ms: h.time_ms,
            header_hash: block.signed_header.commit.header_hash,
            state_root: h.state_root,
            next_validators: block.next_validators.clone(),
        }
    }

    /// When this state stops being usable as a base for verification.
    pub fn expires_at(&self, options: &TrustOptions) -> TimeMs {
        self.time_ms.saturating_add(options.trusting_period_ms)
    }
}

/// Whether commit signatures are checked on several cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// One core.
    Sequential,
    /// All cores of the rayon pool (when the `parallel` feature is on), whatever the size.
    Parallel,
    /// Parallel for commits of 2 signatures or more (the calling thread takes part, so
    /// even small commits gain).
    #[default]
    Auto,
}

/// Verification parameters plus the execution strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verifier {
    /// The trust rules.
    pub options: TrustOptions,
    /// How signatures are checked.
    pub parallelism: Parallelism,
}

impl Verifier {
    /// A verifier with the given rules and the default (automatic) parallelism.
    pub fn new(options: TrustOptions) -> Self {
        Verifier {
            options,
            parallelism: Parallelism::Auto,
        }
    }

    /// Verifies `untrusted` from `trusted` at wall-clock time `now_ms` and returns the new
    /// trusted state. Adjacent heights use the adjacent rule, others the skipping rule.
    pub fn verify(
        &self,
        trusted: &TrustedState,
        untrusted: &LightBlock,
        now_ms: TimeMs,
    ) -> Result<TrustedState, VerifyError> {
        self.options.validate()?;
        let expires_ms = trusted.expires_at(&self.options);
        if expires_ms <= now_ms {
            return Err(VerifyError::TrustedStateExpired {
                trusted_ms: trusted.time_ms,
                expires_ms,
                now_ms,
            });
        }
        let header = untrusted.header();
        if header.chain_id != trusted.chain_id {
            return Err(VerifyError::ChainIdMismatch {
                expected: trusted.chain_id.clone(),
                found: header.chain_id.clone(),
            });
        }
        if header.height <= trusted.height {
            return Err(VerifyError::NonIncreasingHeight {
                trusted: trusted.height,
                untrusted: header.height,
            });
        }
        if header.time_ms <= trusted.time_ms {
            return Err(VerifyError::NonIncreasingTime {
                trusted_ms: trusted.time_ms,
                untrusted_ms: header.time_ms,
            });
        }
        if header.time_ms > now_ms.saturating_add(self.options.max_clock_drift_ms) {
            return Err(VerifyError::HeaderFromFuture {
                header_ms: header.time_ms,
                now_ms,
                max_clock_drift_ms: self.options.max_clock_drift_ms,
            });
        }
        check_consistency(untrusted)?;

        let adjacent = header.height == trusted.height + 1;
        if adjacent {
            let trusted_next = trusted.next_validators.hash();
            if header.validators_hash != trusted_next {
                return Err(VerifyError::ValidatorSetMismatch {
                    field: "trusted_next_validators_hash",
                    expected: trusted_next,
                    found: header.validators_hash,
                });
            }
            if header.parent_hash != trusted.header_hash {
                return Err(VerifyError::ParentHashMismatch {
                    expected: trusted.header_hash,
                    found: header.parent_hash,
                });
            }
        }
        let trusted_set = (!adjacent).then_some(&trusted.next_validators);
        let tally = tally_commit(
            &untrusted.signed_header.commit,
            &untrusted.validators,
            trusted_set,
            self.parallelism,
        )?;
        require_quorum(&tally, &untrusted.validators)?;
        if let Some(set) = trusted_set {
            let threshold = self.options.trust_threshold;
            if !threshold.is_exceeded_by(tally.trusted_power, set.total_power()) {
                return Err(VerifyError::InsufficientTrust {
                    signed: tally.trusted_power,
                    total: set.total_power(),
                    threshold,
                });
            }
        }
        Ok(TrustedState::after(untrusted))
    }
}

/// The hashes inside a light block agree with each other.
fn check_consistency(block: &LightBlock) -> Result<(), VerifyError> {
    let header = block.header();
    let vals = block.validators.hash();
    if header.validators_hash != vals {
        return Err(VerifyError::ValidatorSetMismatch {
            field: "validators_hash",
            expected: header.validators_hash,
            found: vals,
        });
    }
    // Most blocks keep their set: skip the second hash when the sets are the same.
    let next = if block.next_validators == block.validators {
        vals
    } else {
        block.next_validators.hash()
    };
    if header.next_validators_hash != next {
        return Err(VerifyError::ValidatorSetMismatch {
            field: "next_validators_hash",
            expected: header.next_validators_hash,
            found: next,
        });
    }
    let commit = &block.signed_header.commit;
    let header_hash = header.hash();
    if commit.height != header.height || commit.header_hash != header_hash {
        return Err(VerifyError::CommitMismatch {
            commit_height: commit.height,
            commit_hash: commit.header_hash,
            header_height: header.height,
            header_hash,
        });
    }
    Ok(())
}

/// Voting power behind a commit whose every signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Power of the header's own set that signed.
    pub power: u64,
    /// Power of the trusted set that signed (zero when no trusted set was given).
    pub trusted_power: u64,
}

fn require_quorum(tally: &Tally, set: &ValidatorSet) -> Result<(), VerifyError> {
    if Fraction::TWO_THIRDS.is_exceeded_by(tally.power, set.total_power()) {
        Ok(())
    } else {
        Err(VerifyError::InsufficientVotingPower {
            signed: tally.power,
            total: set.total_power(),
        })
    }
}

/// Checks every signature of `commit` against `set` (and, for skipping, also credits the
/// signers' power in `trusted`). Structural faults (unknown or duplicate signer) are found
/// before any curve arithmetic; the first bad signature in commit order is reported, so the
/// error is the same sequentially and in parallel.
pub fn tally_commit(
    commit: &Commit,
    set: &ValidatorSet,
    trusted: Option<&ValidatorSet>,
    parallelism: Parallelism,
) -> Result<Tally, VerifyError> {
    let mut seen = vec![false; set.len()];
    let mut indices = Vec::with_capacity(commit.signatures.len());
    for sig in &commit.signatures {
        let idx = set
            .index_of(&sig.validator)
            .ok_or(VerifyError::UnknownSigner {
                address: sig.validator,
            })?;
        if std::mem::replace(&mut seen[idx], true) {
            return Err(VerifyError::DuplicateSigner {
                address: sig.validator,
            });
        }
        indices.push(idx);
    }

    let check = |sig: &crate::header::CommitSig| {
        check_signature(&sig.validator, &sig.signature, &commit.header_hash)
    };
    let parallel = match parallelism {
        Parallelism::Sequential => false,
        Parallelism::Parallel => true,
        Parallelism::Auto => commit.signatures.len() >= 2,
    };
    if parallel {
        run_parallel(&commit.signatures, check)?;
    } else {
        commit.signatures.iter().try_for_each(check)?;
    }

    let mut tally = Tally {
        power: 0,
        trusted_power: 0,
    };
    for (sig, idx) in commit.signatures.iter().zip(indices) {
        tally.power += set.validators()[idx].power;
        if let Some(v) = trusted.and_then(|t| t.get(&sig.validator)) {
            tally.trusted_power += v.power;
        }
    }
    Ok(tally)
}

fn check_signature(
    claimed: &Address,
    sig: &Signature65,
    digest: &Hash32,
) -> Result<(), VerifyError> {
    match sig.recover_address(digest) {
        Ok(a) if a == *claimed => Ok(()),
        Ok(other) => Err(VerifyError::BadSignature {
            address: *claimed,
            fault: SignatureFault::WrongSigner(other),
        }),
        Err(e) => Err(VerifyError::BadSignature {
            address: *claimed,
            fault: e.into(),
        }),
    }
}

/// Checks items on the calling thread and on the pool at once: every participant claims
/// the next unchecked item from a shared counter, so the work balances itself when a core
/// is slow or busy, and a call from outside the pool never sits idle waiting for workers to
/// wake. The error reported is the failing item with the lowest index, exactly as
/// sequentially: items are skipped only above an index already known to fail.
#[cfg(feature = "parallel")]
fn run_parallel<T: Sync>(
    items: &[T],
    check: impl Fn(&T) -> Result<(), VerifyError> + Sync + Send,
) -> Result<(), VerifyError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    let helpers = rayon::current_num_threads()
        .saturating_sub(1)
        .min(items.len().saturating_sub(1));
    if helpers == 0 {
        return items.iter().try_for_each(check);
    }
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let failure: Mutex<Option<(usize, VerifyError)>> = Mutex::new(None);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= items.len() || i > first_failure.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = check(&items[i]) {
            first_failure.fetch_min(i, Ordering::Relaxed);
            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, e));
            }
        }
    };
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| work());
        }
        work();
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

#[cfg(not(feature = "parallel"))]
fn run_parallel<T: Sync>(
    items: &[T],
    check: impl Fn(&T) -> Result<(), VerifyError> + Sync + Send,
) -> Result<(), VerifyError> {
    items.iter().try_for_each(check)
}
