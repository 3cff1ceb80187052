//! Crash-safe storage of a devchain node: RocksDB with one column family per kind of data
//! and one synced `WriteBatch` per block, so after `kill -9` at any moment the node reopens
//! at its last committed block with the same state root. `Store::memory()` keeps the same
//! layout in memory for tests and `--memory` nodes.
//!
//! Column families (the one registry of key layouts):
//! - `meta`: `schema` → u32 schema version; `latest` → u64 latest committed height.
//! - `blocks`: height (u64 BE) → `LightBlock` encoding.
//! - `results`: height (u64 BE) → the block's transactions and outcomes (JSON, for RPC).
//! - `state`: state key → value: the latest state, flat, for fast reads by the module.
//! - `tree_nodes`: borsh(jmt `NodeKey`) → borsh(jmt `Node`).
//! - `tree_values`: key hash (32) ‖ version (u64 BE) → 0x00 (deleted) or 0x01 ‖ value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

use xrelay_light_client::prover::jmt::storage::{
    LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeWriter,
};
use xrelay_light_client::prover::jmt::{KeyHash, OwnedValue, Version};
use xrelay_light_client::{Decode, Encode, Height, LightBlock};

use crate::state::{StateRead, StorageError};

/// The layout version this code writes; a store with another version is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// The column families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cf {
    /// Schema version and latest height.
    Meta,
    /// Light blocks by height.
    Blocks,
    /// Transaction results by height.
    Results,
    /// The block's transactions (canonical encodings) by height.
    Txs,
    /// Latest state, flat.
    State,
    /// State-tree nodes.
    TreeNodes,
    /// State-tree values by key hash and version.
    TreeValues,
}

impl Cf {
    const ALL: [Cf; 7] = [
        Cf::Meta,
        Cf::Blocks,
        Cf::Results,
        Cf::Txs,
        Cf::State,
        Cf::TreeNodes,
        Cf::TreeValues,
    ];

    fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Blocks => "blocks",
            Cf::Results => "results",
            Cf::Txs => "txs",
            Cf::State => "state",
            Cf::TreeNodes => "tree_nodes",
            Cf::TreeValues => "tree_values",
        }
    }
}

const SCHEMA_KEY: &[u8] = b"schema";
const LATEST_KEY: &[u8] = b"latest";

/// A set of writes committed atomically.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Cf, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Sets `key` in `cf`.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((cf, key, Some(value)));
    }

    /// Deletes `key` in `cf`.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.ops.push((cf, key, None));
    }

    /// Adds a state-tree node batch (nodes and versioned values).
    pub fn put_tree(&mut self, nodes: &NodeBatch) -> Result<(), StorageError> {
        for (key, node) in nodes.nodes() {
            self.put(Cf::TreeNodes, borsh_bytes(key)?, borsh_bytes(node)?);
        }
        for ((version, key_hash), value) in nodes.values() {
            let encoded = match value {
                None => vec![0],
                Some(v) => [&[1u8][..], v].concat(),
            };
            self.put(Cf::TreeValues, value_key(key_hash, *version), encoded);
        }
        Ok(())
    }
}

fn borsh_bytes(v: &impl borsh::BorshSerialize) -> Result<Vec<u8>, StorageError> {
    borsh::to_vec(v).map_err(|e| StorageError(format!("encoding a tree node: {e}")))
}

fn value_key(key_hash: &KeyHash, version: Version) -> Vec<u8> {
    [&key_hash.0[..], &version.to_be_bytes()].concat()
}

enum Backend {
    Rocks(rocksdb::DB),
    Memory(RwLock<MemoryMap>),
}

/// The memory backend's contents, by column family and key.
type MemoryMap = BTreeMap<(Cf, Vec<u8>), Vec<u8>>;

/// A node's storage.
pub struct Store {
    backend: Backend,
}

fn rocks_err(e: rocksdb::Error) -> StorageError {
    StorageError(format!("rocksdb: {e}"))
}

fn poisoned<T>(_: T) -> StorageError {
    StorageError("memory store lock poisoned".into())
}

impl Store {
    /// Opens (or creates) the RocksDB store at `path`; refuses a store written by another
    /// schema version.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&opts, path, Cf::ALL.iter().map(|c| c.name()))
            .map_err(rocks_err)?;
        Self::checked(Store {
            backend: Backend::Rocks(db),
        })
    }

    /// An empty store in memory.
    pub fn memory() -> Self {
        Store {
            backend: Backend::Memory(RwLock::new(BTreeMap::new())),
        }
    }

    fn checked(store: Self) -> Result<Self, StorageError> {
        match store.get(Cf::Meta, SCHEMA_KEY)? {
            None => {
                let mut batch = Batch::default();
                batch.put(Cf::Meta, SCHEMA_KEY.to_vec(), SCHEMA_VERSION.to_be_bytes().to_vec());
                store.commit(batch)?;
            }
            Some(v) if v == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                return Err(StorageError(format!(
                    "store schema {v:?} is not this node's schema {SCHEMA_VERSION}; migrate or use a new data directory"
                )))
            }
        }
        Ok(store)
    }

    fn cf(db: &rocksdb::DB, cf: Cf) -> Result<&rocksdb::ColumnFamily, StorageError> {
        db.cf_handle(cf.name())
            .ok_or_else(|| StorageError(format!("column family {} missing", cf.name())))
    }

    /// The value of `key` in `cf`.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match &self.backend {
            Backend::Rocks(db) => db.get_cf(Self::cf(db, cf)?, key).map_err(rocks_err),
            Backend::Memory(m) => Ok(m
                .read()
                .map_err(poisoned)?
                .get(&(cf, key.to_vec()))
                .cloned()),
        }
    }

    /// The entry with the greatest key ≤ `key` in `cf` that starts with `prefix`.
    fn last_at_or_before(
        &self,
        cf: Cf,
        key: &[u8],
        prefix: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let found = match &self.backend {
            Backend::Rocks(db) => {
                let mut it = db.raw_iterator_cf(Self::cf(db, cf)?);
                it.seek_for_prev(key);
                it.status().map_err(rocks_err)?;
                match (it.key(), it.value()) {
                    (Some(k), Some(v)) if k.starts_with(prefix) => Some(v.to_vec()),
                    _ => None,
                }
            }
            Backend::Memory(m) => {
                let m = m.read().map_err(poisoned)?;
                m.range((cf, prefix.to_vec())..=(cf, key.to_vec()))
                    .next_back()
                    .filter(|((_, k), _)| k.starts_with(prefix))
                    .map(|(_, v)| v.clone())
            }
        };
        Ok(found)
    }

    /// Commits `batch` atomically and durably (synced to disk before returning).
    pub fn commit(&self, batch: Batch) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Rocks(db) => {
                let mut wb = rocksdb::WriteBatch::default();
                for (cf, key, value) in &batch.ops {
                    let handle = Self::cf(db, *cf)?;
                    match value {
                        Some(v) => wb.put_cf(handle, key, v),
                        None => wb.delete_cf(handle, key),
                    }
                }
                let mut wo = rocksdb::WriteOptions::default();
                wo.set_sync(true);
                db.write_opt(wb, &wo).map_err(rocks_err)
            }
            Backend::Memory(m) => {
                let mut m = m.write().map_err(poisoned)?;
                for (cf, key, value) in batch.ops {
                    match value {
                        Some(v) => m.insert((cf, key), v),
                        None => m.remove(&(cf, key)),
                    };
                }
                Ok(())
            }
        }
    }

    /// The latest committed height (`None` before genesis).
    pub fn latest_height(&self) -> Result<Option<Height>, StorageError> {
        self.get(Cf::Meta, LATEST_KEY)?
            .map(|v| {
                v.try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StorageError("latest height is not 8 bytes".into()))
            })
            .transpose()
    }

    /// Records `height` as the latest committed one, in `batch`.
    pub fn set_latest(batch: &mut Batch, height: Height) {
        batch.put(Cf::Meta, LATEST_KEY.to_vec(), height.to_be_bytes().to_vec());
    }

    /// The light block at `height`.
    pub fn block(&self, height: Height) -> Result<Option<LightBlock>, StorageError> {
        self.get(Cf::Blocks, &height.to_be_bytes())?
            .map(|b| {
                LightBlock::decode(&b).map_err(|e| StorageError(format!("block {height}: {e}")))
            })
            .transpose()
    }

    /// Adds the light block to `batch`.
    pub fn put_block(batch: &mut Batch, block: &LightBlock) {
        batch.put(
            Cf::Blocks,
            block.height().to_be_bytes().to_vec(),
            block.encode(),
        );
    }
}

impl StateRead for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Store::get(self, Cf::State, key)
    }
}

fn jmt_err(e: StorageError) -> anyhow::Error {
    anyhow::anyhow!(e.0)
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh_bytes(node_key).map_err(jmt_err)?;
        match self.get(Cf::TreeNodes, &key).map_err(jmt_err)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let found = self
            .last_at_or_before(
                Cf::TreeValues,
                &value_key(&key_hash, max_version),
                &key_hash.0,
            )
            .map_err(jmt_err)?;
        match found.as_deref() {
            None | Some([0]) => Ok(None),
            Some([1, rest @ ..]) => Ok(Some(rest.to_vec())),
            Some(_) => Err(anyhow::anyhow!("corrupt tree value")),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only tree restoration (state sync) asks for this; a full scan is acceptable there.
        let mut best: Option<(NodeKey, LeafNode)> = None;
        let mut consider = |k: &[u8], v: &[u8]| -> anyhow::Result<()> {
            if let Node::Leaf(leaf) = borsh::from_slice::<Node>(v)? {
                if best
                    .as_ref()
                    .is_none_or(|(_, b)| leaf.key_hash() > b.key_hash())
                {
                    best = Some((borsh::from_slice(k)?, leaf));
                }
            }
            Ok(())
        };
        match &self.backend {
            Backend::Rocks(db) => {
                let cf = Self::cf(db, Cf::TreeNodes).map_err(jmt_err)?;
                for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                    let (k, v) = item?;
                    consider(&k, &v)?;
                }
            }
            Backend::Memory(m) => {
                let m = m
                    .read()
                    .map_err(|_| anyhow::anyhow!("memory store lock poisoned"))?;
                for ((_, k), v) in m.range((Cf::TreeNodes, vec![])..(Cf::TreeValues, vec![])) {
                    consider(k, v)?;
                }
            }
        }
        Ok(best)
    }
}

impl TreeWriter for Store {
    fn write_node_batch(&self, node_batch: &NodeBatch) -> anyhow::Result<()> {
        let mut batch = Batch::default();
        batch.put_tree(node_batch).map_err(jmt_err)?;
        self.commit(batch).map_err(jmt_err)
    }
}
