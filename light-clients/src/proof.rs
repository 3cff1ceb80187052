//! Membership and non-membership proofs against a state root.
//!
//! The state tree is a 256-level binary sparse Merkle tree over SHA-256 in which a subtree
//! holding one leaf is replaced by that leaf and an empty subtree by a fixed placeholder (the
//! Jellyfish Merkle layout produced by the `jmt` crate, see [`crate::prover`]). A key sits at
//! `key_hash = SHA-256(key)`; bit `i` of the key hash (most significant bit of byte 0 first)
//! picks the child at depth `i`. The hashes:
//! - leaf: `SHA-256("JMT::LeafNode" ‖ key_hash ‖ SHA-256(value))`
//! - internal: `SHA-256("JMT::IntrnalNode" ‖ left ‖ right)`
//! - empty subtree: the 32 ASCII bytes `SPARSE_MERKLE_PLACEHOLDER_HASH__`.
//!
//! The verifier is written here rather than taken from `jmt` because `jmt` keeps its proof
//! constructor and siblings private and serialises proofs only with borsh/serde; we need one
//! documented byte layout (`docs/PROTOCOL.md`) that a Solidity contract can check, and batch
//! verification. The tests check this verifier against `jmt`'s on the same proofs.

use serde::{Deserialize, Serialize};

use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256, sha256_concat, Hash32};

/// Domain tag of a leaf hash.
pub const LEAF_TAG: &[u8] = b"JMT::LeafNode";
/// Domain tag of an internal node hash.
pub const INTERNAL_TAG: &[u8] = b"JMT::IntrnalNode";
/// The hash of an empty subtree (and the root of an empty tree).
pub const PLACEHOLDER: Hash32 = Hash32(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");
/// A path from a leaf to the root has at most this many siblings.
pub const MAX_SIBLINGS: usize = 256;

/// A leaf as it appears in a proof: which key it holds and the hash of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProofLeaf {
    /// `SHA-256(key)`.
    pub key_hash: Hash32,
    /// `SHA-256(value)`.
    pub value_hash: Hash32,
}

impl ProofLeaf {
    /// The leaf's node hash.
    pub fn hash(&self) -> Hash32 {
        sha256_concat(&[LEAF_TAG, &self.key_hash.0, &self.value_hash.0])
    }
}

/// A Merkle path for one key: a leaf (the key's own, or the only other key in the subtree
/// where it would be) or nothing (the key's place is empty), and the sibling hashes from the
/// bottom of the path up to the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateProof {
    /// The leaf at the end of the path, if the path ends at a leaf.
    pub leaf: Option<ProofLeaf>,
    /// Sibling hashes, bottom first; `siblings[i]` is the sibling at depth `len - 1 - i`.
    pub siblings: Vec<Hash32>,
}

/// Why a proof does not prove what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More than 256 siblings.
    #[error("proof has {0} siblings, more than 256")]
    TooManySiblings(usize),
    /// A membership proof ends at no leaf, or at another key's leaf.
    #[error("the proof shows the key is absent")]
    KeyAbsent,
    /// The proof's leaf holds a different value.
    #[error("value hash {found} does not match the expected value's hash {expected}")]
    ValueMismatch {
        /// Hash of the value the caller expects.
        expected: Hash32,
        /// Hash in the proof.
        found: Hash32,
    },
    /// A non-membership proof ends at the key's own leaf.
    #[error("the proof shows the key is present")]
    KeyPresent,
    /// A non-membership proof's leaf is not where the key would be.
    #[error("the proof's leaf does not share the key's path")]
    LeafOffPath,
    /// In a batch: the path reaches a node another proof already proved, with another hash.
    #[error("the path's node at depth {depth} is {computed}, the proven node there is {expected}")]
    PathMismatch {
        /// Depth of the node.
        depth: usize,
        /// The proven node's hash.
        expected: Hash32,
        /// What this path computes there.
        computed: Hash32,
    },
    /// The path does not hash to the root.
    #[error("proof computes root {computed}, expected {expected}")]
    RootMismatch {
        /// The trusted root.
        expected: Hash32,
        /// What the path hashes to.
        computed: Hash32,
    },
}

/// Bit `i` of a key hash, most significant bit of byte 0 first.
fn bit(key_hash: &Hash32, i: usize) -> bool {
    key_hash.0[i / 8] & (0x80 >> (i % 8)) != 0
}

fn internal(left: &Hash32, right: &Hash32) -> Hash32 {
    sha256_concat(&[INTERNAL_TAG, &left.0, &right.0])
}

impl StateProof {
    /// Checks that `key` maps to `value` under `root`.
    pub fn verify_membership(
        &self,
        root: &Hash32,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), ProofError> {
        self.verify(root, &sha256(key), Some(&sha256(value)))
    }

    /// Checks that `key` has no value under `root`.
    pub fn verify_non_membership(&self, root: &Hash32, key: &[u8]) -> Result<(), ProofError> {
        self.verify(root, &sha256(key), None)
    }

    /// Checks the proof for a hashed key and, for membership, a hashed value.
    pub fn verify(
        &self,
        root: &Hash32,
        key_hash: &Hash32,
        value_hash: Option<&Hash32>,
    ) -> Result<(), ProofError> {
        let computed = self.walk(key_hash, value_hash, |_, _| Walk::Continue)?;
        if computed != *root {
            return Err(ProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }

    /// Checks the leaf against the claim, then hashes up the path, showing each node
    /// (depth, hash), the bottom one first, to `visit`, which may stop the walk (batch
    /// verification stops at a node already proven). Returns the last node hashed.
    fn walk(
        &self,
        key_hash: &Hash32,
        value_hash: Option<&Hash32>,
        mut visit: impl FnMut(usize, &Hash32) -> Walk,
    ) -> Result<Hash32, ProofError> {
        let len = self.siblings.len();
        if len > MAX_SIBLINGS {
            return Err(ProofError::TooManySiblings(len));
        }
        match (value_hash, &self.leaf) {
            (Some(expected), Some(leaf)) => {
                if leaf.key_hash != *key_hash {
                    return Err(ProofError::KeyAbsent);
                }
                if leaf.value_hash != *expected {
                    return Err(ProofError::ValueMismatch {
                        expected: *expected,
                        found: leaf.value_hash,
                    });
                }
            }
            (Some(_), None) => return Err(ProofError::KeyAbsent),
            (None, Some(leaf)) => {
                if leaf.key_hash == *key_hash {
                    return Err(ProofError::KeyPresent);
                }
                // The other leaf must sit where the key would go: they share the path.
                if common_prefix_bits(&leaf.key_hash, key_hash) < len {
                    return Err(ProofError::LeafOffPath);
                }
            }
            (None, None) => {}
        }
        let mut node = self.leaf.map_or(PLACEHOLDER, |l| l.hash());
        if visit(len, &node) == Walk::Stop {
            return Ok(node);
        }
        for (i, sibling) in self.siblings.iter().enumerate() {
            let depth = len - 1 - i;
            node = if bit(key_hash, depth) {
                internal(sibling, &node)
            } else {
                internal(&node, sibling)
            };
            if visit(depth, &node) == Walk::Stop {
                break;
            }
        }
        Ok(node)
    }
}

/// Whether a path walk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Continue,
    Stop,
}

fn common_prefix_bits(a: &Hash32, b: &Hash32) -> usize {
    for (i, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        let diff = x ^ y;
        if diff != 0 {
            return i * 8 + diff.leading_zeros() as usize;
        }
    }
    256
}

/// One claim of a batch: a hashed key, its hashed value (or `None` for absence) and the proof.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// `SHA-256(key)`.
    pub key_hash: Hash32,
    /// `SHA-256(value)` for membership, `None` for non-membership.
    pub value_hash: Option<Hash32>,
    /// The proof.
    pub proof: &'a StateProof,
}

/// Verifies many proofs against one root, hashing shared tree nodes once.
///
/// Items are walked in key-hash order, keeping the nodes of the last verified path per
/// depth (proven: that path reached the root; depth 0 starts as the root itself). The next
/// key shares its first `c` path bits with the last one, and no earlier key shares more
/// (sorted order), so a node it reaches at depth `d <= c` must equal the proven node there:
/// equal ends its walk as verified, different fails. On failure, returns the index (in
/// `items`) of a failing item and why.
pub fn verify_batch(root: &Hash32, items: &[BatchItem<'_>]) -> Result<(), (usize, ProofError)> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|a, b| items[*a].key_hash.cmp(&items[*b].key_hash));
    // proven[d]: the node at depth d on the last verified path; nothing below its leaf.
    let mut proven: Vec<Option<Hash32>> = vec![None; MAX_SIBLINGS + 1];
    proven[0] = Some(*root);
    let mut last_len = 0;
    let mut previous: Option<&Hash32> = None;
    for index in order {
        let item = &items[index];
        let shared = previous.map_or(0, |p| common_prefix_bits(p, &item.key_hash));
        let mut mismatch = None;
        item.proof
            .walk(
                &item.key_hash,
                item.value_hash.as_ref(),
                |depth, node| match proven[depth] {
                    Some(known) if depth <= shared => {
                        if known != *node {
                            mismatch = Some((depth, known, *node));
                        }
                        Walk::Stop
                    }
                    _ => {
                        proven[depth] = Some(*node);
                        Walk::Continue
                    }
                },
            )
            .map_err(|e| (index, e))?;
        if let Some((depth, expected, computed)) = mismatch {
            return Err((
                index,
                ProofError::PathMismatch {
                    depth,
                    expected,
                    computed,
                },
            ));
        }
        let len = item.proof.siblings.len();
        for slot in proven.iter_mut().take(last_len + 1).skip(len + 1) {
            *slot = None;
        }
        last_len = len;
        previous = Some(&item.key_hash);
    }
    Ok(())
}

/// Tags of the proof encoding.
const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

impl Encode for StateProof {
    fn encode_to(&self, w: &mut Writer) {
        match &self.leaf {
            None => {
                w.u8(ABSENT);
            }
            Some(leaf) => {
                w.u8(PRESENT).put(&leaf.key_hash).put(&leaf.value_hash);
            }
        }
        w.u16(self.siblings.len() as u16);
        for s in &self.siblings {
            if *s == PLACEHOLDER {
                w.u8(ABSENT);
            } else {
                w.u8(PRESENT).put(s);
            }
        }
    }
}

impl Decode for StateProof {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let leaf = match r.u8()? {
            ABSENT => None,
            PRESENT => Some(ProofLeaf {
                key_hash: r.get()?,
                value_hash: r.get()?,
            }),
            t => {
                return Err(DecodeError::invalid(
                    "proof leaf tag",
                    format!("{t} is not 0 or 1"),
                ))
            }
        };
        let count = usize::from(r.u16()?);
        if count > MAX_SIBLINGS {
            return Err(DecodeError::TooLong {
                what: "proof siblings",
                len: count as u64,
                max: MAX_SIBLINGS as u64,
            });
        }
        if count > r.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                needed: count,
                remaining: r.remaining(),
            });
        }
        let mut siblings = Vec::with_capacity(count);
        for _ in 0..count {
            match r.u8()? {
                ABSENT => siblings.push(PLACEHOLDER),
                PRESENT => {
                    let h: Hash32 = r.get()?;
                    if h == PLACEHOLDER {
                        return Err(DecodeError::invalid(
                            "proof sibling",
                            "the placeholder must use the short form",
                        ));
                    }
                    siblings.push(h);
                }
                t => {
                    return Err(DecodeError::invalid(
                        "proof sibling tag",
                        format!("{t} is not 0 or 1"),
                    ))
                }
            }
        }
        Ok(StateProof { leaf, siblings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_common_prefixes() {
        let k = Hash32([0b1010_0000; 32]);
        assert!(bit(&k, 0));
        assert!(!bit(&k, 1));
        assert!(bit(&k, 2));
        assert_eq!(common_prefix_bits(&k, &k), 256);
        let mut j = k;
        j.0[1] ^= 0x01;
        assert_eq!(common_prefix_bits(&k, &j), 15);
    }

    #[test]
    fn empty_tree_proves_absence_only() {
        let proof = StateProof {
            leaf: None,
            siblings: vec![],
        };
        proof.verify_non_membership(&PLACEHOLDER, b"k").unwrap();
        assert_eq!(
            proof.verify_membership(&PLACEHOLDER, b"k", b"v"),
            Err(ProofError::KeyAbsent)
        );
    }

    #[test]
    fn single_leaf_tree() {
        let leaf = ProofLeaf {
            key_hash: sha256(b"k"),
            value_hash: sha256(b"v"),
        };
        let root = leaf.hash();
        let proof = StateProof {
            leaf: Some(leaf),
            siblings: vec![],
        };
        proof.verify_membership(&root, b"k", b"v").unwrap();
        assert!(matches!(
            proof.verify_membership(&root, b"k", b"w"),
            Err(ProofError::ValueMismatch { .. })
        ));
        proof.verify_non_membership(&root, b"other").unwrap();
        assert_eq!(
            proof.verify_non_membership(&root, b"k"),
            Err(ProofError::KeyPresent)
        );
    }

    #[test]
    fn encoding_is_canonical() {
        let proof = StateProof {
            leaf: None,
            siblings: vec![PLACEHOLDER, Hash32([7; 32])],
        };
        let bytes = proof.encode();
        assert_eq!(bytes.len(), 1 + 2 + 1 + 33);
        assert_eq!(StateProof::decode(&bytes).unwrap(), proof);
        // The long form of a placeholder is refused.
        let mut long = vec![0, 0, 1, 1];
        long.extend_from_slice(&PLACEHOLDER.0);
        assert!(StateProof::decode(&long).is_err());
        // A hostile sibling count is refused before allocation.
        assert!(StateProof::decode(&[0, 0xff, 0xff]).is_err());
    }
}
