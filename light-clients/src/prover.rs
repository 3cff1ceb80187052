//! The prover side of state proofs: a versioned, updatable sparse Merkle tree (the `jmt`
//! crate's Jellyfish Merkle tree over SHA-256) on any storage that implements `jmt`'s
//! [`TreeReader`] and [`TreeWriter`], plus an in-memory store.
//!
//! A chain applies each block's writes as one new version (version = height), keeps the
//! returned node batch with the block (atomically, in its own store), and answers proof
//! queries for any height it still has. Proofs come out as [`StateProof`], the documented
//! byte layout that [`crate::proof`] verifies.

use std::collections::BTreeMap;
use std::sync::RwLock;

use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeUpdateBatch, TreeWriter};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};

use crate::hash::Hash32;
use crate::proof::{ProofLeaf, StateProof};

pub use jmt;

/// A failure of the tree or of its storage.
#[derive(Debug, thiserror::Error)]
#[error("state tree: {0}")]
pub struct ProverError(String);

impl ProverError {
    fn from_any(e: impl std::fmt::Display) -> Self {
        ProverError(e.to_string())
    }
}

/// The key under which the tree stores `key`: `SHA-256(key)`.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(crate::hash::sha256(key).0)
}

/// A versioned state tree over a storage `S`.
pub struct StateTree<'a, S> {
    store: &'a S,
}

impl<'a, S: TreeReader> StateTree<'a, S> {
    /// A tree reading from (and, with [`StateTree::apply`], writing to) `store`.
    pub fn new(store: &'a S) -> Self {
        StateTree { store }
    }

    fn jmt(&self) -> Sha256Jmt<'a, S> {
        Sha256Jmt::new(self.store)
    }

    /// Computes version `version` from the previous one plus `writes` (`None` deletes a
    /// key) without storing anything: the caller writes the returned batch atomically with
    /// the rest of its block. Versions are consecutive from 0 (genesis); a version with no
    /// writes still gets a root (the previous one).
    pub fn compute(
        &self,
        version: Version,
        writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<(Hash32, TreeUpdateBatch), ProverError> {
        if version > 0
            && self
                .jmt()
                .get_root_hash_option(version - 1)
                .map_err(ProverError::from_any)?
                .is_none()
        {
            return Err(ProverError(format!(
                "version {} has no root: versions must be consecutive from 0",
                version - 1
            )));
        }
        let set: Vec<(KeyHash, Option<OwnedValue>)> =
            writes.into_iter().map(|(k, v)| (key_hash(&k), v)).collect();
        let (root, batch) = self
            .jmt()
            .put_value_set(set, version)
            .map_err(ProverError::from_any)?;
        Ok((Hash32(root.0), batch))
    }

    /// The root at `version`.
    pub fn root(&self, version: Version) -> Result<Hash32, ProverError> {
        self.jmt()
            .get_root_hash(version)
            .map(|r| Hash32(r.0))
            .map_err(ProverError::from_any)
    }

    /// The value of `key` at `version`.
    pub fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, ProverError> {
        self.jmt()
            .get(key_hash(key), version)
            .map_err(ProverError::from_any)
    }

    /// The value of `key` at `version` with a proof of it (membership) or of its absence.
    pub fn prove(
        &self,
        key: &[u8],
        version: Version,
    ) -> Result<(Option<Vec<u8>>, StateProof), ProverError> {
        let (value, proof) = self
            .jmt()
            .get_with_proof(key_hash(key), version)
            .map_err(ProverError::from_any)?;
        Ok((value, from_jmt_proof(&proof)?))
    }
}

impl<S: TreeReader + TreeWriter> StateTree<'_, S> {
    /// [`StateTree::compute`], then writes the node batch to the store.
    pub fn apply(
        &self,
        version: Version,
        writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<Hash32, ProverError> {
        let (root, batch) = self.compute(version, writes)?;
        self.store
            .write_node_batch(&batch.node_batch)
            .map_err(ProverError::from_any)?;
        Ok(root)
    }
}

/// Converts a `jmt` proof to the documented layout. `jmt` exposes its siblings only
/// through its borsh encoding (stable by the borsh spec), so this reads that: an
/// `Option<leaf>` then a `u32` little-endian count of siblings, each a tag (0 empty,
/// 1 internal(left, right), 2 leaf(key hash, value hash)).
fn from_jmt_proof(
    proof: &jmt::proof::SparseMerkleProof<sha2::Sha256>,
) -> Result<StateProof, ProverError> {
    use crate::hash::sha256_concat;
    use crate::proof::{INTERNAL_TAG, LEAF_TAG, PLACEHOLDER};

    let bytes = borsh::to_vec(proof).map_err(ProverError::from_any)?;
    let mut r = crate::encoding::Reader::new(&bytes);
    let bad = |what: &str| ProverError(format!("unexpected jmt proof encoding: {what}"));
    let hash = |r: &mut crate::encoding::Reader<'_>| {
        r.array::<32>().map(Hash32).map_err(|_| bad("short hash"))
    };
    let leaf = match r.u8().map_err(|_| bad("empty"))? {
        0 => None,
        1 => Some(ProofLeaf {
            key_hash: hash(&mut r)?,
            value_hash: hash(&mut r)?,
        }),
        _ => return Err(bad("leaf tag")),
    };
    let count = u32::from_le_bytes(r.array::<4>().map_err(|_| bad("count"))?) as usize;
    let mut siblings = Vec::with_capacity(count.min(256));
    for _ in 0..count {
        let sibling = match r.u8().map_err(|_| bad("sibling tag"))? {
            0 => PLACEHOLDER,
            1 => {
                let (left, right) = (hash(&mut r)?, hash(&mut r)?);
                sha256_concat(&[INTERNAL_TAG, &left.0, &right.0])
            }
            2 => {
                let (k, v) = (hash(&mut r)?, hash(&mut r)?);
                sha256_concat(&[LEAF_TAG, &k.0, &v.0])
            }
            _ => return Err(bad("sibling tag")),
        };
        siblings.push(sibling);
    }
    r.finish().map_err(|_| bad("trailing bytes"))?;
    Ok(StateProof { leaf, siblings })
}

/// A state-tree store in memory: for tests and for chains run with `--memory`.
#[derive(Debug, Default)]
pub struct MemoryTreeStore {
    nodes: RwLock<BTreeMap<NodeKey, Node>>,
    values: RwLock<BTreeMap<(KeyHash, Version), Option<OwnedValue>>>,
}

impl MemoryTreeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored tree nodes (all versions).
    pub fn node_count(&self) -> usize {
        self.nodes.read().map(|n| n.len()).unwrap_or(0)
    }
}

fn poisoned<T>(_: T) -> anyhow::Error {
    anyhow::anyhow!("memory tree store lock poisoned")
}

impl TreeReader for MemoryTreeStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.read().map_err(poisoned)?.get(node_key).cloned())
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let values = self.values.read().map_err(poisoned)?;
        Ok(values
            .range((key_hash, 0)..=(key_hash, max_version))
            .next_back()
            .and_then(|(_, v)| v.clone()))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        let nodes = self.nodes.read().map_err(poisoned)?;
        Ok(nodes
            .iter()
            .filter_map(|(k, n)| match n {
                Node::Leaf(leaf) => Some((k.clone(), leaf.clone())),
                _ => None,
            })
            .max_by_key(|(_, leaf)| leaf.key_hash()))
    }
}

impl TreeWriter for MemoryTreeStore {
    fn write_node_batch(&self, batch: &NodeBatch) -> anyhow::Result<()> {
        let mut nodes = self.nodes.write().map_err(poisoned)?;
        for (k, n) in batch.nodes() {
            nodes.insert(k.clone(), n.clone());
        }
        let mut values = self.values.write().map_err(poisoned)?;
        for ((version, key_hash), v) in batch.values() {
            values.insert((*key_hash, *version), v.clone());
        }
        Ok(())
    }
}
