//! The chain a node runs: genesis, a mempool that checks transactions before accepting
//! them, and block production (execute, commit the state tree, sign the header), each
//! block committed to the store in one atomic, synced batch.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xrelay_light_client::prover::StateTree;
use xrelay_light_client::{
    Address, ChainId, Commit, Hash32, Header, Height, LightBlock, SignedHeader, SigningKey, TimeMs,
    Validator, ValidatorSet,
};

use super::store::{Batch, Cf, Store};
use crate::module::{Context, Genesis, Module, ModuleError, TxReport};
use crate::state::{Overlay, StorageError, Writes};
use crate::tx::{tx_root, Tx};
use xrelay_protocol::limits::MAX_TX_SIGNATURES;

/// Where the validators' secret keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// Development keys `SigningKey::from_seed(seed, index)`: anyone who knows the seed can
    /// sign, so only for local networks.
    Seed(String),
    /// Secret keys read from key files (index `i` is the `i`-th key, wrapping around).
    Secrets(Vec<[u8; 32]>),
}

impl KeySource {
    fn key(&self, index: u32) -> Result<SigningKey, ChainError> {
        match self {
            KeySource::Seed(seed) => Ok(SigningKey::from_seed(seed, index)),
            KeySource::Secrets(secrets) if !secrets.is_empty() => {
                SigningKey::from_bytes(&secrets[index as usize % secrets.len()])
                    .map_err(|e| ChainError::Config(format!("validator key {index}: {e}")))
            }
            KeySource::Secrets(_) => Err(ChainError::Config("no validator keys".into())),
        }
    }

    /// Reads secret keys from a key file (see [`crate::keyfile`]).
    pub fn from_key_file(path: &std::path::Path) -> Result<Self, ChainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ChainError::Config(format!("{}: {e}", path.display())))?;
        crate::keyfile::parse(&text)
            .map(KeySource::Secrets)
            .map_err(|e| ChainError::Config(format!("{}: {e}", path.display())))
    }
}

/// Who validates at each height: `count` keys, each with `power`; with
/// `rotate_every = Some(n)`, one member is replaced every `n` heights (a sliding window
/// over the source's keys), so relayers must follow validator-set changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorPlan {
    /// Where the keys come from.
    pub keys: KeySource,
    /// Validators per height.
    pub count: u32,
    /// Power of each.
    pub power: u64,
    /// Replace one member every this many heights.
    pub rotate_every: Option<u64>,
}

impl ValidatorPlan {
    fn indices(&self, height: Height) -> std::ops::Range<u32> {
        let shift = match self.rotate_every {
            Some(every) if every > 0 => ((height.max(1) - 1) / every) as u32,
            _ => 0,
        };
        shift..shift + self.count
    }

    /// The signing keys at `height`.
    pub fn keys(&self, height: Height) -> Vec<SigningKey> {
        // Every key was checked when the source was built (`from_key_file`, `check`).
        self.indices(height)
            .filter_map(|i| self.keys.key(i).ok())
            .collect()
    }

    /// Checks that every key the plan can use is a valid secret key.
    pub fn check(&self) -> Result<(), ChainError> {
        if self.count == 0 {
            return Err(ChainError::Config("no validators".into()));
        }
        if let KeySource::Secrets(s) = &self.keys {
            for i in 0..s.len().max(1) as u32 {
                self.keys.key(i)?;
            }
        }
        Ok(())
    }

    /// The validator set at `height`.
    pub fn set(&self, height: Height) -> Result<ValidatorSet, ChainError> {
        self.set_of(&self.keys(height), height)
    }

    fn set_of(&self, keys: &[SigningKey], height: Height) -> Result<ValidatorSet, ChainError> {
        ValidatorSet::new(
            keys.iter()
                .map(|k| Validator::from_key(k, self.power))
                .collect(),
        )
        .map_err(|e| ChainError::Config(format!("validator set at {height}: {e}")))
    }
}

/// The signers of one window of the plan: their keys sorted by address (the order a
/// commit lists them) and the set they form.
struct Signers {
    indices: std::ops::Range<u32>,
    keys: Vec<SigningKey>,
    set: ValidatorSet,
}

/// The plan's last two windows: a block needs its own set and the next one, and deriving
/// a key costs an elliptic-curve multiplication, so each window is derived once.
#[derive(Default)]
struct SignerCache(Vec<std::sync::Arc<Signers>>);

impl SignerCache {
    fn get(
        &mut self,
        plan: &ValidatorPlan,
        height: Height,
    ) -> Result<std::sync::Arc<Signers>, ChainError> {
        let indices = plan.indices(height);
        if let Some(s) = self.0.iter().find(|s| s.indices == indices) {
            return Ok(s.clone());
        }
        let mut keys = plan.keys(height);
        let set = plan.set_of(&keys, height)?;
        keys.sort_by_key(|k| k.address());
        let signers = std::sync::Arc::new(Signers { indices, keys, set });
        if self.0.len() >= 2 {
            self.0.remove(0);
        }
        self.0.push(signers.clone());
        Ok(signers)
    }
}

/// How a chain is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainConfig {
    /// The chain's id.
    pub chain_id: ChainId,
    /// Its validators.
    pub validators: ValidatorPlan,
    /// How many validators sign each block (all when `None`): below the quorum, blocks are
    /// produced but no light client accepts them (for threshold tests).
    pub signers: Option<usize>,
    /// The module's genesis.
    pub genesis: Genesis,
    /// Mempool and block size bounds.
    #[serde(default)]
    pub limits: Limits,
}

/// Bounds that keep a flooded node responsive: a full mempool refuses new transactions
/// (clients retry later) and a block takes at most `max_block_txs`, leaving the rest queued.
/// Relay transactions are free, so their verification work is budgeted too, in
/// [`TxCost::units`] (signature recoveries plus proofs, counted before verifying): per
/// block, queued, and checked by the mempool between two blocks (refused ones included),
/// so a flood of costly relay transactions cannot hold block production back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Most transactions waiting.
    pub max_mempool_txs: usize,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Most relay-transaction units per block (a block always takes its first
    /// transaction, so one over the budget is not stuck).
    pub max_block_relay_units: usize,
    /// Most relay-transaction units waiting in the mempool.
    pub max_mempool_relay_units: usize,
    /// Most relay-transaction units the mempool checks between two blocks, accepted or
    /// refused; past it, relay transactions are refused unchecked until the next block.
    pub max_check_relay_units: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_mempool_txs: 20_000,
            max_block_txs: 5_000,
            max_block_relay_units: 2 * MAX_TX_SIGNATURES,
            max_mempool_relay_units: 4 * MAX_TX_SIGNATURES,
            max_check_relay_units: 2 * MAX_TX_SIGNATURES,
        }
    }
}

/// Why the mempool did not take a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The mempool is full; try again after the next block.
    #[error("mempool full ({0} transactions waiting); retry after the next block")]
    MempoolFull(usize),
    /// The relay transactions waiting, or checked since the last block, used up their
    /// verification budget ([`Limits`]); try again after the next block. Nothing was
    /// verified.
    #[error(
        "busy: {0} relay-transaction units {1} since the last block; retry after the next block"
    )]
    Busy(usize, &'static str),
    /// The module refused it against the latest state plus the queued transactions.
    #[error(transparent)]
    Refused(#[from] ModuleError),
}

/// Why the chain could not do something.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The configuration is unusable.
    #[error("config: {0}")]
    Config(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The module refused (genesis).
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The stored chain is not the configured one.
    #[error("store holds chain {found}, config says {expected}")]
    WrongChain {
        /// Configured.
        expected: ChainId,
        /// Stored.
        found: ChainId,
    },
}

/// A transaction's fate in a block, as stored for RPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResult {
    /// `Tx::hash`.
    pub hash: Hash32,
    /// `Tx::kind`.
    pub kind: String,
    /// The report, or why it failed (a failed transaction changed nothing).
    pub outcome: Result<TxReport, String>,
}

/// What one block did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResults {
    /// Height.
    pub height: Height,
    /// Results in block order.
    pub txs: Vec<TxResult>,
}

/// The chain of one node.
pub struct Chain {
    config: ChainConfig,
    store: Arc<Store>,
    module: Module,
    mempool: Vec<Tx>,
    /// Relay-transaction units queued in the mempool.
    queued_units: usize,
    /// Relay-transaction units the mempool checked since the last block.
    checked_units: usize,
    /// The state the queued transactions leave behind, and the block context they were
    /// checked in: each new transaction is checked on top, in O(its own work).
    check: Option<(Context, Writes)>,
    latest: Option<LightBlock>,
    signers: SignerCache,
}

const CHAIN_ID_KEY: &[u8] = b"chain_id";

impl Chain {
    /// Opens the chain in `store`, writing genesis (state version 0) if the store is new.
    pub fn open(config: ChainConfig, store: Store, module: Module) -> Result<Self, ChainError> {
        config.validators.check()?;
        match store.get(Cf::Meta, CHAIN_ID_KEY)? {
            Some(id) => {
                let found = String::from_utf8(id)
                    .ok()
                    .and_then(|s| ChainId::new(s).ok())
                    .ok_or_else(|| StorageError("stored chain id is invalid".into()))?;
                if found != config.chain_id {
                    return Err(ChainError::WrongChain {
                        expected: config.chain_id,
                        found,
                    });
                }
            }
            None => {
                let mut overlay = Overlay::new(&store);
                module.genesis(&mut overlay, &config.genesis)?;
                let writes = overlay.into_writes();
                let (_, tree) = StateTree::new(&store)
                    .compute(0, writes.clone())
                    .map_err(|e| StorageError(e.to_string()))?;
                let mut batch = Batch::default();
                put_state(&mut batch, writes);
                batch.put_tree(&tree.node_batch)?;
                batch.put(
                    Cf::Meta,
                    CHAIN_ID_KEY.to_vec(),
                    config.chain_id.as_str().as_bytes().to_vec(),
                );
                store.commit(batch)?;
            }
        }
        let latest = match store.latest_height()? {
            Some(h) => store.block(h)?,
            None => None,
        };
        Ok(Chain {
            config,
            store: Arc::new(store),
            module,
            mempool: Vec::new(),
            queued_units: 0,
            checked_units: 0,
            check: None,
            latest,
            signers: SignerCache::default(),
        })
    }

    /// How the chain is set up.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.config.chain_id
    }

    /// The store (for queries and proofs).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A shared handle to the store: readers (RPC) query it while blocks are produced.
    pub fn store_handle(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Latest committed height (0 before the first block).
    pub fn height(&self) -> Height {
        self.latest.as_ref().map_or(0, LightBlock::height)
    }

    /// The latest committed block.
    pub fn latest(&self) -> Option<&LightBlock> {
        self.latest.as_ref()
    }

    /// Transactions waiting for the next block.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// The context the next block will run in.
    fn next_context(&self, time_ms: TimeMs) -> Context {
        let previous = self.latest.as_ref().map_or(0, |b| b.header().time_ms);
        Context {
            chain_id: self.config.chain_id.clone(),
            height: self.height() + 1,
            time_ms: time_ms.max(previous + 1),
        }
    }

    /// Checks `tx` against the latest state plus the transactions already waiting, and
    /// queues it if it would succeed now. A refused transaction is answered with the
    /// module's error and never enters a block. Relay transactions are counted against the
    /// verification budgets of [`Limits`] before anything is verified.
    pub fn submit(&mut self, tx: Tx, time_ms: TimeMs) -> Result<TxReport, SubmitError> {
        self.admit(tx, time_ms, true)
    }

    /// [`Self::submit`]; `new` is false for a transaction re-checked after a block (it was
    /// admitted once, so it does not count against the check budget again).
    fn admit(&mut self, tx: Tx, time_ms: TimeMs, new: bool) -> Result<TxReport, SubmitError> {
        if self.mempool.len() >= self.config.limits.max_mempool_txs {
            return Err(SubmitError::MempoolFull(self.mempool.len()));
        }
        let cost = tx.cost();
        cost.check().map_err(ModuleError::from)?;
        let units = if tx.is_relay() { cost.units() } else { 0 };
        let limits = self.config.limits;
        if self.queued_units.saturating_add(units) > limits.max_mempool_relay_units {
            return Err(SubmitError::Busy(self.queued_units, "waiting"));
        }
        if new {
            if self.checked_units.saturating_add(units) > limits.max_check_relay_units {
                return Err(SubmitError::Busy(self.checked_units, "checked"));
            }
            self.checked_units += units;
        }
        let (ctx, writes) = self
            .check
            .take()
            .unwrap_or_else(|| (self.next_context(time_ms), Default::default()));
        let mut overlay = Overlay::with_writes(self.store.as_ref(), writes);
        let result = self.module.execute(&mut overlay, &ctx, &tx);
        self.check = Some((ctx, overlay.into_writes()));
        let report = result?;
        self.mempool.push(tx);
        self.queued_units += units;
        Ok(report)
    }

    /// Produces, signs and commits the next block with the queued transactions (at most
    /// `max_block_txs` and `max_block_relay_units`; the rest are checked again on the new
    /// state and stay queued).
    pub fn produce(&mut self, time_ms: TimeMs) -> Result<(LightBlock, BlockResults), ChainError> {
        let ctx = self.next_context(time_ms);
        let limits = self.config.limits;
        // In mempool order, while the block has room: a count and a relay-units budget.
        let (mut take, mut units) = (0, 0usize);
        for tx in self.mempool.iter().take(limits.max_block_txs) {
            let u = if tx.is_relay() { tx.cost().units() } else { 0 };
            if take > 0 && units.saturating_add(u) > limits.max_block_relay_units {
                break;
            }
            units = units.saturating_add(u);
            take += 1;
        }
        let txs: Vec<Tx> = self.mempool.drain(..take).collect();
        let rest = std::mem::take(&mut self.mempool);
        self.check = None;
        self.queued_units = 0;
        self.checked_units = 0;
        let mut overlay = Overlay::new(self.store.as_ref());
        let results: Vec<TxResult> = txs
            .iter()
            .map(|tx| TxResult {
                hash: tx.hash(),
                kind: tx.kind().to_string(),
                outcome: self
                    .module
                    .execute(&mut overlay, &ctx, tx)
                    .map_err(|e| e.to_string()),
            })
            .collect();
        let writes = overlay.into_writes();
        let (state_root, tree) = StateTree::new(self.store.as_ref())
            .compute(ctx.height, writes.clone())
            .map_err(|e| StorageError(e.to_string()))?;

        let now = self.signers.get(&self.config.validators, ctx.height)?;
        let next = self.signers.get(&self.config.validators, ctx.height + 1)?;
        let (validators, next_validators) = (now.set.clone(), next.set.clone());
        let header = Header {
            chain_id: ctx.chain_id.clone(),
            height: ctx.height,
            time_ms: ctx.time_ms,
            parent_hash: self
                .latest
                .as_ref()
                .map_or(Hash32::ZERO, |b| b.header().hash()),
            state_root,
            tx_root: tx_root(results.iter().map(|r| r.hash)),
            validators_hash: validators.hash(),
            next_validators_hash: next_validators.hash(),
            proposer: validators.validators()[(ctx.height as usize) % validators.len()].address,
        };
        let keys = &now.keys[..now
            .keys
            .len()
            .min(self.config.signers.unwrap_or(usize::MAX))];
        let block = LightBlock {
            signed_header: SignedHeader {
                commit: Commit::sign(&header, keys),
                header,
            },
            validators,
            next_validators,
        };
        let block_results = BlockResults {
            height: ctx.height,
            txs: results,
        };

        let mut batch = Batch::default();
        put_state(&mut batch, writes);
        batch.put_tree(&tree.node_batch)?;
        Store::put_block(&mut batch, &block);
        let results_json =
            serde_json::to_vec(&block_results).map_err(|e| StorageError(e.to_string()))?;
        batch.put(Cf::Results, ctx.height.to_be_bytes().to_vec(), results_json);
        let mut w = xrelay_light_client::encoding::Writer::default();
        xrelay_light_client::encoding::encode_seq(&mut w, &txs);
        batch.put(
            Cf::Txs,
            ctx.height.to_be_bytes().to_vec(),
            w.as_slice().to_vec(),
        );
        Store::set_latest(&mut batch, ctx.height);
        self.store.commit(batch)?;
        self.latest = Some(block.clone());
        // What did not fit is checked again on the new state; what no longer passes is
        // dropped (it would fail in the block anyway).
        for tx in rest {
            if let Err(e) = self.admit(tx, time_ms, false) {
                tracing::debug!(error = %e, "queued transaction dropped after a full block");
            }
        }
        Ok((block, block_results))
    }

    /// The results of the block at `height`.
    pub fn results(&self, height: Height) -> Result<Option<BlockResults>, StorageError> {
        self.store
            .get(Cf::Results, &height.to_be_bytes())?
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| StorageError(format!("results {height}: {e}")))
            })
            .transpose()
    }

    /// The transactions of the block at `height`, in block order.
    pub fn txs(&self, height: Height) -> Result<Option<Vec<Tx>>, StorageError> {
        block_txs(&self.store, height)
    }

    /// The validator keys signing at `height` (development keys from the plan's seed).
    pub fn signing_keys(&self, height: Height) -> Vec<SigningKey> {
        self.config.validators.keys(height)
    }

    /// The governance address.
    pub fn governance(&self) -> Address {
        self.config.genesis.governance
    }
}

fn put_state(batch: &mut Batch, writes: Writes) {
    for (k, v) in writes {
        match v {
            Some(v) => batch.put(Cf::State, k, v),
            None => batch.delete(Cf::State, k),
        }
    }
}

/// Bound on stored transactions per block when reading them back (far above any
/// `Limits::max_block_txs` in use).
const MAX_STORED_BLOCK_TXS: usize = 1_000_000;

/// The transactions stored for the block at `height`.
pub fn block_txs(store: &Store, height: Height) -> Result<Option<Vec<Tx>>, StorageError> {
    store
        .get(Cf::Txs, &height.to_be_bytes())?
        .map(|b| {
            let mut r = xrelay_light_client::encoding::Reader::new(&b);
            let txs = xrelay_light_client::encoding::decode_seq(
                &mut r,
                "block txs",
                MAX_STORED_BLOCK_TXS,
                1,
            )
            .and_then(|t| r.finish().map(|_| t))
            .map_err(|e| StorageError(format!("txs {height}: {e}")))?;
            Ok(txs)
        })
        .transpose()
}
