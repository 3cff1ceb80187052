//! Bisection: reaching a header far ahead of the trusted one with few fetches.
//!
//! Try the target directly; if too little of the trusted set signed it
//! ([`VerifyError::InsufficientTrust`]), fetch the midpoint and try that first, recursively.
//! Once a pivot verifies it becomes the trusted state and the earlier candidate is retried.
//! With a slowly rotating set this costs O(log n) fetches for a distance of n heights.
//!
//! [`Bisection`] is sans-IO (it says which height it needs and is fed blocks) so async
//! callers drive it with their own I/O; [`bisect`] drives it from a blocking source.

use crate::chain::{Height, TimeMs};
use crate::header::LightBlock;
use crate::verifier::{TrustedState, Verifier, VerifyError};

/// Default bound on fetches for one bisection, so a hostile source cannot keep us busy.
pub const DEFAULT_MAX_FETCHES: usize = 1024;

/// Why a bisection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BisectionError {
    /// The target is not above the trusted height.
    #[error("target height {target} is not above the trusted height {trusted}")]
    TargetNotAhead {
        /// Trusted height.
        trusted: Height,
        /// Requested target.
        target: Height,
    },
    /// A fetched block failed verification for a reason other than too little trust.
    #[error("header at height {height} failed verification: {error}")]
    Verify {
        /// The failing height.
        height: Height,
        /// The rule that failed.
        error: VerifyError,
    },
    /// The source returned a block for another height.
    #[error("asked for height {requested}, got {got}")]
    WrongHeight {
        /// Height asked for.
        requested: Height,
        /// Height received.
        got: Height,
    },
    /// The source could not provide a block.
    #[error("fetching height {height} failed: {message}")]
    Source {
        /// Height asked for.
        height: Height,
        /// The source's error.
        message: String,
    },
    /// More fetches than allowed.
    #[error("bisection needed more than {limit} fetches")]
    TooManyFetches {
        /// The bound.
        limit: usize,
    },
}

/// What to do next.
#[derive(Debug)]
pub enum Step {
    /// Fetch the light block at this height and pass it to [`Bisection::supply`].
    Fetch(Height),
    /// Done: the verified blocks from just above the trusted height to the target, each
    /// verifiable from the previous one (submit them in order to an on-chain client).
    Done(Vec<LightBlock>),
}

/// A bisection in progress.
#[derive(Debug)]
pub struct Bisection {
    verifier: Verifier,
    trusted: TrustedState,
    target: Height,
    now_ms: TimeMs,
    /// Fetched, not yet verified; the last one is tried next.
    pending: Vec<LightBlock>,
    verified: Vec<LightBlock>,
    requested: Height,
    fetches: usize,
    max_fetches: usize,
}

impl Bisection {
    /// Starts a bisection from `trusted` to `target` at wall-clock time `now_ms`.
    pub fn new(
        verifier: Verifier,
        trusted: TrustedState,
        target: Height,
        now_ms: TimeMs,
    ) -> Result<Self, BisectionError> {
        if target <= trusted.height {
            return Err(BisectionError::TargetNotAhead {
                trusted: trusted.height,
                target,
            });
        }
        Ok(Bisection {
            verifier,
            trusted,
            target,
            now_ms,
            pending: Vec::new(),
            verified: Vec::new(),
            requested: target,
            fetches: 0,
            max_fetches: DEFAULT_MAX_FETCHES,
        })
    }

    /// Changes the fetch bound.
    pub fn with_max_fetches(mut self, max_fetches: usize) -> Self {
        self.max_fetches = max_fetches;
        self
    }

    /// The first step: always a fetch of the target.
    pub fn start(&self) -> Step {
        Step::Fetch(self.requested)
    }

    /// How many blocks have been supplied so far.
    pub fn fetches(&self) -> usize {
        self.fetches
    }

    /// Feeds the block asked for by the last [`Step::Fetch`].
    pub fn supply(&mut self, block: LightBlock) -> Result<Step, BisectionError> {
        if block.height() != self.requested {
            return Err(BisectionError::WrongHeight {
                requested: self.requested,
                got: block.height(),
            });
        }
        self.fetches += 1;
        self.pending.push(block);
        while let Some(candidate) = self.pending.last() {
            match self.verifier.verify(&self.trusted, candidate, self.now_ms) {
                Ok(next) => {
                    self.trusted = next;
                    let done = self.pending.pop().map(|b| self.verified.push(b));
                    debug_assert!(done.is_some());
                    if self.trusted.height == self.target {
                        return Ok(Step::Done(std::mem::take(&mut self.verified)));
                    }
                }
                Err(VerifyError::InsufficientTrust { .. }) => {
                    if self.fetches >= self.max_fetches {
                        return Err(BisectionError::TooManyFetches {
                            limit: self.max_fetches,
                        });
                    }
                    // Adjacent headers never need trust, so the gap is at least 2 here.
                    let gap = candidate.height() - self.trusted.height;
                    self.requested = self.trusted.height + gap / 2;
                    return Ok(Step::Fetch(self.requested));
                }
                Err(error) => {
                    return Err(BisectionError::Verify {
                        height: candidate.height(),
                        error,
                    })
                }
            }
        }
        // Unreachable in practice: the target stays pending until verified.
        Err(BisectionError::TargetNotAhead {
            trusted: self.trusted.height,
            target: self.target,
        })
    }
}

/// A blocking provider of light blocks (a node's RPC, a test chain).
pub trait LightBlockSource {
    /// The source's error.
    type Error: std::fmt::Display;
    /// The light block at `height`.
    fn light_block(&mut self, height: Height) -> Result<LightBlock, Self::Error>;
}

/// The result of [`bisect`].
#[derive(Debug)]
pub struct Bisected {
    /// Verified blocks, in height order, ending with the target.
    pub blocks: Vec<LightBlock>,
    /// Blocks fetched to get there.
    pub fetches: usize,
}

/// Runs a whole bisection against a blocking source.
pub fn bisect<S: LightBlockSource>(
    verifier: Verifier,
    trusted: TrustedState,
    target: Height,
    now_ms: TimeMs,
    source: &mut S,
) -> Result<Bisected, BisectionError> {
    let mut run = Bisection::new(verifier, trusted, target, now_ms)?;
    let mut step = run.start();
    loop {
        match step {
            Step::Fetch(height) => {
                let block = source
                    .light_block(height)
                    .map_err(|e| BisectionError::Source {
                        height,
                        message: e.to_string(),
                    })?;
                step = run.supply(block)?;
            }
            Step::Done(blocks) => {
                return Ok(Bisected {
                    blocks,
                    fetches: run.fetches(),
                })
            }
        }
    }
}
