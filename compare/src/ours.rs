//! Our side, built only through xrelay-light-client's public API: a state tree of N keys
//! (the `jmt`-backed prover, as a chain runs it) with membership proofs, and a test chain
//! of N secp256k1 validators (the crate's testkit, as its own benches use it).

use std::collections::HashSet;

use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{
    Hash32, LightBlock, Parallelism, StateProof, TrustOptions, TrustedState, Verifier,
};

use crate::{entries, key_of, value_of};

/// One key's membership proof.
pub struct Membership {
    /// The key.
    pub key: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
    /// The proof against [`JmtTree::root`].
    pub proof: StateProof,
}

/// A state tree of `size` keys written at version 1 and proofs of `sampled` keys.
pub struct JmtTree {
    /// Keys in the tree.
    pub size: usize,
    /// Root at version 1.
    pub root: Hash32,
    /// The proofs to verify.
    pub proofs: Vec<Membership>,
}

impl JmtTree {
    /// Builds the tree of [`entries`]`(size)` (one `apply`, as a block writes them) and
    /// proves the entries at `sampled`; checks every proof verifies and that a tampered
    /// value does not.
    pub fn build(size: usize, sampled: &[usize]) -> Self {
        let store = MemoryTreeStore::new();
        let tree = StateTree::new(&store);
        tree.apply(0, std::iter::empty()).expect("genesis version");
        let root = tree
            .apply(1, entries(size).into_iter().map(|(k, v)| (k, Some(v))))
            .expect("apply");
        let proofs: Vec<Membership> = sampled
            .iter()
            .map(|&i| {
                let key = key_of(i);
                let (value, proof) = tree.prove(&key, 1).expect("prove");
                let value = value.expect("key is present");
                assert_eq!(value, value_of(i));
                Membership { key, value, proof }
            })
            .collect();
        for m in &proofs {
            m.proof
                .verify_membership(&root, &m.key, &m.value)
                .expect("our proof verifies");
            let mut other = m.value.clone();
            other[0] ^= 1;
            assert!(m.proof.verify_membership(&root, &m.key, &other).is_err());
        }
        JmtTree { size, root, proofs }
    }

    /// Average number of siblings (levels hashed above the leaf).
    pub fn avg_depth(&self) -> f64 {
        self.proofs
            .iter()
            .map(|m| m.proof.siblings.len() as f64)
            .sum::<f64>()
            / self.proofs.len() as f64
    }
}

/// A trusted height 1 and the adjacent height 2 of a chain of `n` equal-power validators.
pub struct HeaderCase {
    /// Validator count.
    pub n: usize,
    /// ⌊2n/3⌋ + 1: the fewest signers with more than 2/3 of the power.
    pub quorum: usize,
    /// Trusted state after height 1.
    pub trusted: TrustedState,
    /// Height 2 signed by every validator.
    pub full: LightBlock,
    /// Height 2 signed by the first `quorum` validators in set order.
    pub quorum_signed: LightBlock,
    /// The verifier's clock: one second after height 2.
    pub now: u64,
}

impl HeaderCase {
    /// Builds the case (the testkit's `fixed_set(n, 10)`) and checks both blocks verify.
    pub fn new(n: u32) -> Self {
        let chain = TestChain::new(ChainSpec::new("compare", fixed_set(n, 10)), 2);
        let quorum = (n * 2 / 3 + 1) as usize;
        let picked: HashSet<_> = chain
            .signers(2)
            .iter()
            .take(quorum)
            .map(|k| k.address())
            .collect();
        let full = chain.light_block(2);
        let case = HeaderCase {
            n: n as usize,
            quorum,
            trusted: chain.trusted_state(1),
            quorum_signed: chain.light_block_signed_by(2, |a| picked.contains(a)),
            now: full.header().time_ms + 1000,
            full,
        };
        assert_eq!(case.full.signed_header.commit.signatures.len(), case.n);
        assert_eq!(
            case.quorum_signed.signed_header.commit.signatures.len(),
            case.quorum
        );
        for p in [Parallelism::Sequential, Parallelism::Auto] {
            for block in [&case.full, &case.quorum_signed] {
                let state = verifier(p)
                    .verify(&case.trusted, block, case.now)
                    .expect("our verifier accepts the block");
                assert_eq!(state.height, 2);
            }
        }
        case
    }
}

/// Our verifier with the default trust options and the given parallelism.
pub fn verifier(parallelism: Parallelism) -> Verifier {
    Verifier {
        options: TrustOptions::default(),
        parallelism,
    }
}
