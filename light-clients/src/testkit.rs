//! Signed header chains made on demand, for tests, benchmarks, golden vectors and dev
//! tools: deterministic keys, a validator-set schedule (rotation), lazily signed commits
//! and conflicting headers for misbehaviour. Pure and deterministic, like the rest.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::bisection::LightBlockSource;
use crate::chain::{ChainId, Height, TimeMs};
use crate::crypto::{Address, SigningKey};
use crate::hash::{sha256_concat, Hash32};
use crate::header::{Commit, Header, LightBlock, SignedHeader};
use crate::validator::{Validator, ValidatorSet};
use crate::verifier::TrustedState;

/// Which keys (by index into the seed-derived key pool) validate at a height, with powers.
pub type Schedule = Box<dyn Fn(Height) -> Vec<(u32, u64)>>;

/// A fixed set of `n` validators (keys 0..n), each with power `power`.
pub fn fixed_set(n: u32, power: u64) -> Schedule {
    Box::new(move |_| (0..n).map(|i| (i, power)).collect())
}

/// `n` validators of equal power where one member is replaced every `every` heights
/// (a sliding window over the key pool): after `n * every` heights no original member is
/// left, so skipping far ahead needs bisection.
pub fn rotating_set(n: u32, every: u64, power: u64) -> Schedule {
    Box::new(move |h| {
        let shift = ((h.max(1) - 1) / every) as u32;
        (shift..shift + n).map(|i| (i, power)).collect()
    })
}

/// How to build a test chain.
pub struct ChainSpec {
    /// The chain's id.
    pub chain_id: ChainId,
    /// Seed of the key pool (`SigningKey::from_seed(seed, index)`).
    pub seed: String,
    /// Time of height 1.
    pub genesis_time_ms: TimeMs,
    /// Time between blocks.
    pub block_time_ms: u64,
    /// Validators at each height.
    pub schedule: Schedule,
}

impl ChainSpec {
    /// A chain `chain_id` with the given schedule, 1 s blocks from 2025-01-01.
    pub fn new(chain_id: &str, schedule: Schedule) -> Self {
        ChainSpec {
            chain_id: ChainId::new(chain_id).unwrap_or_else(|e| panic!("test chain id: {e}")),
            seed: format!("xrelay-test/{chain_id}"),
            genesis_time_ms: 1_735_689_600_000,
            block_time_ms: 1_000,
            schedule,
        }
    }
}

/// A chain of headers 1..=N with their validator sets. Commits are signed when asked for.
pub struct TestChain {
    spec: ChainSpec,
    headers: Vec<Header>,
    sets: Vec<ValidatorSet>,
    members: Vec<Vec<u32>>,
    keys: RefCell<HashMap<u32, SigningKey>>,
    fetches: RefCell<usize>,
}

impl TestChain {
    /// Builds headers 1..=`heights` (state root of height h: `SHA-256("state" ‖ h)`).
    pub fn new(spec: ChainSpec, heights: Height) -> Self {
        let chain = TestChain {
            spec,
            headers: Vec::with_capacity(heights as usize),
            sets: Vec::with_capacity(heights as usize + 1),
            members: Vec::with_capacity(heights as usize + 1),
            keys: RefCell::new(HashMap::new()),
            fetches: RefCell::new(0),
        };
        chain.build(heights)
    }

    fn build(mut self, heights: Height) -> Self {
        // Sets for heights 1..=heights+1 (the last header names its next set).
        let mut previous: Option<(Vec<(u32, u64)>, ValidatorSet)> = None;
        for h in 1..=heights + 1 {
            let members = (self.spec.schedule)(h);
            let set = match &previous {
                Some((m, s)) if *m == members => s.clone(),
                _ => {
                    let validators = members
                        .iter()
                        .map(|(i, p)| Validator::from_key(&self.key(*i), *p))
                        .collect();
                    ValidatorSet::new(validators).unwrap_or_else(|e| panic!("test set: {e}"))
                }
            };
            self.members.push(members.iter().map(|(i, _)| *i).collect());
            self.sets.push(set.clone());
            previous = Some((members, set));
        }
        let mut parent = Hash32::ZERO;
        for h in 1..=heights {
            let set = &self.sets[(h - 1) as usize];
            let header = Header {
                chain_id: self.spec.chain_id.clone(),
                height: h,
                time_ms: self.spec.genesis_time_ms + (h - 1) * self.spec.block_time_ms,
                parent_hash: parent,
                state_root: sha256_concat(&[b"state", &h.to_be_bytes()]),
                tx_root: sha256_concat(&[b"txs", &h.to_be_bytes()]),
                validators_hash: set.hash(),
                next_validators_hash: self.sets[h as usize].hash(),
                proposer: set.validators()[(h as usize) % set.len()].address,
            };
            parent = header.hash();
            self.headers.push(header);
        }
        self
    }

    /// The seed-derived key with this index.
    pub fn key(&self, index: u32) -> SigningKey {
        self.keys
            .borrow_mut()
            .entry(index)
            .or_insert_with(|| SigningKey::from_seed(&self.spec.seed, index))
            .clone()
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.spec.chain_id
    }

    /// The highest header.
    pub fn tip(&self) -> Height {
        self.headers.len() as Height
    }

    /// Time of the header at `height`.
    pub fn time_at(&self, height: Height) -> TimeMs {
        self.header(height).time_ms
    }

    /// The header at `height` (1-based). Panics outside 1..=tip: test code only.
    pub fn header(&self, height: Height) -> &Header {
        &self.headers[(height - 1) as usize]
    }

    /// The validator set of `height`.
    pub fn validators(&self, height: Height) -> &ValidatorSet {
        &self.sets[(height - 1) as usize]
    }

    /// The signing keys of the validators at `height`, in set order.
    pub fn signers(&self, height: Height) -> Vec<SigningKey> {
        let set = self.validators(height);
        let mut keys: Vec<SigningKey> = self.members[(height - 1) as usize]
            .iter()
            .map(|i| self.key(*i))
            .collect();
        keys.sort_by_key(|k| set.index_of(&k.address()));
        keys
    }

    /// The light block at `height`, signed by every validator.
    pub fn light_block(&self, height: Height) -> LightBlock {
        self.light_block_signed_by(height, |_| true)
    }

    /// The light block at `height`, signed by the validators `sign` picks.
    pub fn light_block_signed_by(
        &self,
        height: Height,
        sign: impl Fn(&Address) -> bool,
    ) -> LightBlock {
        let header = self.header(height).clone();
        let keys: Vec<SigningKey> = self
            .signers(height)
            .into_iter()
            .filter(|k| sign(&k.address()))
            .collect();
        self.assemble(header, &keys)
    }

    /// A second, different header at `height` (changed by `tweak`), signed by all of that
    /// height's validators: what a forking validator set produces.
    pub fn conflicting_light_block(
        &self,
        height: Height,
        tweak: impl FnOnce(&mut Header),
    ) -> LightBlock {
        let mut header = self.header(height).clone();
        tweak(&mut header);
        let keys = self.signers(height);
        self.assemble(header, &keys)
    }

    fn assemble(&self, header: Header, keys: &[SigningKey]) -> LightBlock {
        let h = header.height;
        let commit = Commit::sign(&header, keys);
        LightBlock {
            signed_header: SignedHeader { header, commit },
            validators: self.sets[(h - 1) as usize].clone(),
            next_validators: self.sets[h as usize].clone(),
        }
    }

    /// The state trusted after `height` (as if verified).
    pub fn trusted_state(&self, height: Height) -> TrustedState {
        TrustedState::from_light_block(&self.light_block(height))
            .unwrap_or_else(|e| panic!("test chain block {height} is not self-consistent: {e}"))
    }

    /// How many light blocks were fetched through [`LightBlockSource`].
    pub fn fetches(&self) -> usize {
        *self.fetches.borrow()
    }
}

/// Fetching from a test chain never fails for heights it has.
impl LightBlockSource for &TestChain {
    type Error = String;
    fn light_block(&mut self, height: Height) -> Result<LightBlock, String> {
        if height == 0 || height > self.tip() {
            return Err(format!("no block at height {height}"));
        }
        *self.fetches.borrow_mut() += 1;
        Ok(TestChain::light_block(self, height))
    }
}
