//! One devchain in process: the node's own [`Chain`] (the real module, a memory [`Store`],
//! signed headers, the state tree) with blocks produced when a test asks, the faults a
//! test switches on, and the accounts' actions a test needs (sends, raw transactions).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use xrelay_adapters::{AdapterError, ChainEvent};
use xrelay_devchain::module::query;
use xrelay_devchain::node::chain::{
    BlockResults, Chain, ChainConfig, KeySource, Limits, SubmitError, ValidatorPlan,
};
use xrelay_devchain::node::store::Store;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::{Event, Genesis, Module, TxReport};
use xrelay_light_client::{
    Address, ChainId, Hash32, Height, LightBlock, Message, SigningKey, Timeout, TrustOptions,
    TrustedState,
};

use super::faults::{Faults, Forgery};
use crate::core::clock::now_ms;
use xrelay_devchain::node::fault::Fault;

/// The governance key of every testkit chain (it creates the clients of the others).
pub fn governance() -> SigningKey {
    SigningKey::from_seed("xrelay-testkit-governance", 0)
}

/// A user key by name, the same on every chain.
pub fn user(name: &str) -> SigningKey {
    SigningKey::from_seed("xrelay-testkit-user", name.bytes().map(u32::from).sum())
}

/// How a testkit chain is set up.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// The chain id.
    pub id: String,
    /// Validators signing each block.
    pub validators: u32,
    /// With `Some(n)`, one validator is replaced every `n` heights, so clients need
    /// bisection paths with intermediate headers.
    pub rotate_every: Option<u64>,
    /// Produce a block for every transaction submitted through the adapter (a node whose
    /// block timer fires right away). Off: transactions wait for [`MemChain::produce`].
    pub auto_produce: bool,
}

impl ChainSpec {
    /// Four validators, no rotation, blocks on every submission.
    pub fn new(id: &str) -> Self {
        ChainSpec {
            id: id.to_string(),
            validators: 4,
            rotate_every: None,
            auto_produce: true,
        }
    }
}

/// Why a testkit action failed (typed, so a test states what it expected).
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The chain could not be set up.
    #[error("chain setup: {0}")]
    Setup(String),
    /// The mempool refused the transaction.
    #[error("refused: {0}")]
    Refused(#[from] SubmitError),
    /// The block refused the transaction.
    #[error("failed in block {height}: {why}")]
    Failed {
        /// The block.
        height: Height,
        /// The module's reason.
        why: String,
    },
    /// The block that should hold it is withheld or did not include it.
    #[error("not included: {0}")]
    NotIncluded(String),
    /// The adapter said no.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

pub(super) struct Inner {
    pub(super) chain: Chain,
    /// Next nonces of accounts with transactions in the mempool.
    nonces: BTreeMap<Address, u64>,
}

/// A devchain in this process, and the adapter the relay core reaches it through (see
/// `adapter.rs`). Cheap to share (`Arc`); every method takes `&self`.
pub struct MemChain {
    pub(super) id: ChainId,
    pub(super) inner: Mutex<Inner>,
    pub(super) store: Arc<Store>,
    pub(super) plan: ValidatorPlan,
    pub(super) heads: watch::Sender<Height>,
    pub(super) faults: Mutex<Faults>,
    pub(super) auto_produce: bool,
}

impl MemChain {
    /// A new chain at height 1 (genesis, then one empty block), with `balances`.
    pub fn new(
        spec: &ChainSpec,
        balances: Vec<(Address, String, u128)>,
    ) -> Result<Arc<Self>, TestkitError> {
        let id = ChainId::new(spec.id.clone()).map_err(|e| TestkitError::Setup(e.to_string()))?;
        let plan = ValidatorPlan {
            keys: KeySource::Seed(format!("xrelay-testkit/{}", spec.id)),
            count: spec.validators,
            power: 10,
            rotate_every: spec.rotate_every,
        };
        let config = ChainConfig {
            chain_id: id.clone(),
            validators: plan.clone(),
            signers: None,
            genesis: Genesis {
                governance: governance().address(),
                clients: Vec::new(),
                balances,
            },
            limits: Limits::default(),
        };
        let chain = Chain::open(config, Store::memory(), Module::default())
            .map_err(|e| TestkitError::Setup(e.to_string()))?;
        let store = chain.store_handle();
        let (heads, _) = watch::channel(0);
        let c = Arc::new(MemChain {
            id,
            inner: Mutex::new(Inner {
                chain,
                nonces: BTreeMap::new(),
            }),
            store,
            plan,
            heads,
            faults: Mutex::new(Faults::default()),
            auto_produce: spec.auto_produce,
        });
        c.produce()?;
        Ok(c)
    }

    /// The chain id.
    pub fn id(&self) -> &ChainId {
        &self.id
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock fails anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The faults switched on (to change them).
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chain's real latest height (withheld blocks included).
    pub fn height(&self) -> Height {
        self.lock().chain.height()
    }

    /// The latest height the chain serves: its real height unless blocks are withheld.
    pub fn served_height(&self) -> Height {
        let real = self.height();
        self.faults().served_height(real)
    }

    /// The store (committed state, blocks, results).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Produces one block with what the mempool holds and publishes the new head (unless
    /// blocks are withheld).
    pub fn produce(&self) -> Result<(LightBlock, BlockResults), TestkitError> {
        let produced = {
            let mut inner = self.lock();
            let produced = inner
                .chain
                .produce(now_ms())
                .map_err(|e| TestkitError::Setup(e.to_string()))?;
            if inner.chain.mempool_len() == 0 {
                inner.nonces.clear();
            }
            produced
        };
        self.publish_head();
        Ok(produced)
    }

    /// Produces `n` empty-or-not blocks; returns the new height.
    pub fn produce_n(&self, n: u64) -> Result<Height, TestkitError> {
        for _ in 0..n {
            self.produce()?;
        }
        Ok(self.height())
    }

    /// Tells head watchers the served height.
    pub(super) fn publish_head(&self) {
        let served = self.served_height();
        self.heads.send_if_modified(|h| {
            if *h != served {
                *h = served;
                true
            } else {
                false
            }
        });
    }

    /// Queues `tx` in the mempool (checked against the latest state and what is queued).
    pub fn queue(&self, tx: Tx) -> Result<TxReport, TestkitError> {
        Ok(self.lock().chain.submit(tx, now_ms())?)
    }

    /// Queues `tx`, produces the next block, and returns its report there.
    pub fn execute(&self, tx: Tx) -> Result<(Height, TxReport), TestkitError> {
        let hash = tx.hash();
        self.queue(tx)?;
        let (block, results) = self.produce()?;
        let height = block.height();
        match results.txs.into_iter().find(|r| r.hash == hash) {
            Some(r) => r
                .outcome
                .map(|report| (height, report))
                .map_err(|why| TestkitError::Failed { height, why }),
            None => Err(TestkitError::NotIncluded(format!(
                "{hash} not in block {height}"
            ))),
        }
    }

    /// Signs `action` by `key` with its next nonce (counting queued transactions).
    pub fn signed(&self, key: &SigningKey, action: Action) -> Result<Tx, TestkitError> {
        let mut inner = self.lock();
        let committed = query::nonce(inner.chain.store(), &key.address())
            .map_err(|e| TestkitError::Setup(e.to_string()))?;
        let nonce = inner
            .nonces
            .get(&key.address())
            .copied()
            .unwrap_or(0)
            .max(committed);
        inner.nonces.insert(key.address(), nonce + 1);
        Ok(Tx::Signed(Box::new(SignedAction::sign(
            &self.id, key, nonce, action,
        ))))
    }

    /// Queues a send of `payload` to the `echo` app on `to` (no block produced).
    pub fn queue_send(
        &self,
        to: &ChainId,
        payload: &[u8],
        timeout: Timeout,
    ) -> Result<(), TestkitError> {
        let tx = self.signed(
            &user("alice"),
            Action::Send {
                destination: to.clone(),
                app: "echo".into(),
                payload: payload.to_vec(),
                timeout,
            },
        )?;
        self.queue(tx).map(|_| ())
    }

    /// Sends `payload` to the `echo` app on `to` in a block of its own; returns the message.
    pub fn send(
        &self,
        to: &ChainId,
        payload: &[u8],
        timeout: Timeout,
    ) -> Result<Message, TestkitError> {
        let tx = self.signed(
            &user("alice"),
            Action::Send {
                destination: to.clone(),
                app: "echo".into(),
                payload: payload.to_vec(),
                timeout,
            },
        )?;
        let (height, report) = self.execute(tx)?;
        report
            .events
            .into_iter()
            .find_map(|e| match e {
                Event::MessageSent { message } => Some(message),
                _ => None,
            })
            .ok_or_else(|| TestkitError::Failed {
                height,
                why: "no MessageSent event".into(),
            })
    }

    /// Sends `n` messages (payloads `msg-0`, `msg-1`, …), all in one block.
    pub fn send_many(
        &self,
        to: &ChainId,
        n: usize,
        timeout: Timeout,
    ) -> Result<Height, TestkitError> {
        for i in 0..n {
            self.queue_send(to, format!("msg-{i}").as_bytes(), timeout)?;
        }
        let (block, results) = self.produce()?;
        if let Some(failed) = results.txs.iter().find_map(|r| r.outcome.as_ref().err()) {
            return Err(TestkitError::Failed {
                height: block.height(),
                why: failed.clone(),
            });
        }
        Ok(block.height())
    }

    /// Governance creates a client of `other` here, trusting `other`'s latest header.
    pub fn create_client_of(&self, other: &MemChain) -> Result<(), TestkitError> {
        let block = other.block(other.height())?;
        let trusted = TrustedState::from_light_block(&block)
            .map_err(|e| TestkitError::Setup(e.to_string()))?;
        let tx = self.signed(
            &governance(),
            Action::CreateClient {
                trusted,
                options: TrustOptions::default(),
            },
        )?;
        self.execute(tx).map(|_| ())
    }

    /// The honest block at `height` (served or not).
    pub fn block(&self, height: Height) -> Result<LightBlock, TestkitError> {
        self.store
            .block(height)
            .map_err(|e| TestkitError::Setup(e.to_string()))?
            .ok_or_else(|| TestkitError::NotIncluded(format!("{}: no block {height}", self.id)))
    }

    /// A second header at `height`, validly signed by the same validators, with another
    /// state root: what colluding validators hand to a victim (the devchain node's
    /// `conflicting-header` fault builds it the same way).
    pub fn conflicting_block(&self, height: Height) -> Result<LightBlock, TestkitError> {
        let honest = self.block(height)?;
        let fault = xrelay_devchain::node::fault::Fault::ConflictingHeader { every: 1 };
        Ok(fault.serve_block(honest, &self.plan, false, true))
    }

    /// The hash of the honest header at `height`.
    pub fn header_hash(&self, height: Height) -> Result<Hash32, TestkitError> {
        Ok(self.block(height)?.header().hash())
    }

    /// The chain's client of `of`, as its state holds it.
    pub fn hosted_client(&self, of: &ChainId) -> Option<xrelay_light_client::ClientState> {
        query::client(self.store.as_ref(), of).ok().flatten()
    }

    /// Whether the chain received message `sequence` from `source` (its receipt exists).
    pub fn received(&self, source: &ChainId, sequence: u64) -> bool {
        query::received(self.store.as_ref(), source, sequence).unwrap_or(false)
    }

    /// The next sequence the lane from `source` expects here.
    pub fn next_receive(&self, source: &ChainId) -> u64 {
        query::lane_counters(self.store.as_ref(), source)
            .map(|(_, r)| r)
            .unwrap_or(0)
    }

    /// What this chain says of the message it sent to `destination` at `sequence`.
    pub fn sent_status(&self, destination: &ChainId, sequence: u64) -> Option<query::SentStatus> {
        query::sent_status(self.store.as_ref(), destination, sequence).ok()
    }

    /// Every event of the chain's blocks `from..=to` (honest, whatever the faults).
    pub fn events_of(&self, from: Height, to: Height) -> Vec<(Height, Event)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for h in from..=to {
            if let Ok(Some(r)) = inner.chain.results(h) {
                for tx in r.txs {
                    if let Ok(report) = tx.outcome {
                        out.extend(report.events.into_iter().map(|e| (h, e)));
                    }
                }
            }
        }
        out
    }
}

/// The fault hooks a test switches on (kept in [`Faults`], read where answers are served).
impl MemChain {
    /// Serves `event` as if the chain had emitted it (a lying node).
    pub fn lie(&self, event: ChainEvent) {
        self.faults().lying_events.push(event);
    }

    /// Forges the proofs of keys starting with `prefix`.
    pub fn forge_proofs(&self, prefix: &[u8], forgery: Forgery) {
        self.faults().forged_proofs.push((prefix.to_vec(), forgery));
    }

    /// Serves a conflicting, validly signed header at `height` instead of the chain's own.
    pub fn serve_conflicting_header(&self, height: Height) {
        self.faults().conflicting_headers.insert(height);
    }

    /// Withholds every block produced from now on (the head stops advancing for readers).
    pub fn withhold(&self) {
        let h = self.height();
        self.faults().withheld_above = Some(h);
    }

    /// Refuses, as too large for a block, any transaction carrying more than `n` messages.
    pub fn limit_block_items(&self, n: usize) {
        self.faults().block_items = Some(n);
    }

    /// Serves the withheld blocks and announces the head.
    pub fn release(&self) {
        self.faults().withheld_above = None;
        self.publish_head();
    }

    /// Answers as a devchain node started with `--fault` would.
    pub fn set_node_fault(&self, fault: Fault) {
        self.faults().node = Some(fault);
    }

    /// Back to an honest node.
    pub fn clear_faults(&self) {
        *self.faults() = Faults::default();
        self.publish_head();
    }
}
