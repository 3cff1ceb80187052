//! Fault hooks of a testkit chain: what it serves wrongly, so tests show the relay core
//! refuses it. As with the devchain node's `--fault` modes, the chain's own blocks and
//! state stay honest; only what the adapter answers changes.

use std::collections::BTreeSet;

use xrelay_adapters::ChainEvent;
use xrelay_devchain::node::fault::Fault;
use xrelay_light_client::{Hash32, Height, StateProof};

/// How a proof is forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// The value's last byte flipped (a made-up value where the key is absent), the real
    /// proof kept: the devchain node's `forged-proof` answer.
    AlterValue,
    /// The key claimed absent, with the real (membership) proof.
    ClaimAbsent,
    /// The real value with one sibling hash of the proof altered.
    CorruptProof,
}

/// What a testkit chain serves wrongly. Off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Events served on top of the honest ones, at their own heights (made up).
    pub lying_events: Vec<ChainEvent>,
    /// Proofs of keys starting with a prefix here are forged that way.
    pub forged_proofs: Vec<(Vec<u8>, Forgery)>,
    /// Heights at which the chain serves a second, validly signed header instead of its
    /// own (its validators signed two blocks there).
    pub conflicting_headers: BTreeSet<Height>,
    /// Blocks above this height are withheld: not served, their head not announced.
    pub withheld_above: Option<Height>,
    /// Most messages a transaction may carry and fit in a block (as an EVM chain's block
    /// gas limit bounds a batch); larger ones are refused as too large.
    pub block_items: Option<usize>,
    /// A devchain node fault the adapter answers as that node would (`lying-host`,
    /// `forged-proof`, `bad-signature`).
    pub node: Option<Fault>,
}

impl Faults {
    /// The head served when the real one is `real`.
    pub fn served_height(&self, real: Height) -> Height {
        self.withheld_above.map_or(real, |w| real.min(w))
    }

    /// Whether block `height` is withheld.
    pub fn withholds(&self, height: Height) -> bool {
        self.withheld_above.is_some_and(|w| height > w)
    }

    /// The value and proof served for `key` (the honest ones are `value`, `proof`).
    pub fn serve_proof(
        &self,
        key: &[u8],
        mut value: Option<Vec<u8>>,
        mut proof: StateProof,
    ) -> (Option<Vec<u8>>, StateProof) {
        if let Some(node) = &self.node {
            value = node.serve_value(key, value);
        }
        for (prefix, forgery) in &self.forged_proofs {
            if !key.starts_with(prefix) {
                continue;
            }
            match forgery {
                Forgery::AlterValue => {
                    value = Fault::ForgedProof.serve_value(b"commitments/", value);
                }
                Forgery::ClaimAbsent => value = None,
                Forgery::CorruptProof => match proof.siblings.first_mut() {
                    Some(s) => s.0[0] ^= 0x01,
                    None => proof.siblings.push(Hash32([0x5a; 32])),
                },
            }
        }
        (value, proof)
    }
}
