//! The message state machine: protocol events observed on any chain (by scanning, or in
//! the confirmation of our own submissions) move messages forward, never backward, and
//! each batch of events is one RocksDB transition together with the cursor that produced
//! it and the per-lane counters. Seeing the same event twice changes nothing, which is
//! what makes a restart (or another relayer's work) harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use xrelay_light_client::{ChainId, Height};

use crate::metrics::Metrics;
use crate::store::{RelayStore, Status, StoreError};

mod apply;
mod facts;
#[cfg(test)]
mod tests;

/// What one batch of events changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Messages newly seen as sent.
    pub sent: usize,
    /// Newly delivered.
    pub delivered: usize,
    /// Newly acknowledged.
    pub acknowledged: usize,
    /// Newly timed out on the source.
    pub timed_out: usize,
    /// Newly closed (timed out and skipped by the destination lane).
    pub closed: usize,
}

impl Changes {
    /// Whether anything moved.
    pub fn any(&self) -> bool {
        *self != Changes::default()
    }
}

/// One status change of a message, as the status page lists the latest ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecentChange {
    /// The message id (hex).
    pub id: String,
    /// Source chain.
    pub src_chain: ChainId,
    /// Destination chain.
    pub dst_chain: ChainId,
    /// Sequence on the lane.
    pub sequence: u64,
    /// The status it reached.
    pub status: Status,
    /// When this relayer recorded it (Unix ms).
    pub at_ms: u64,
}

/// Status changes kept for the status page: enough for a screenful, bounded in memory.
const RECENT: usize = 100;

/// Applies events to the store, one writer at a time.
pub struct Ledger {
    store: Arc<RelayStore>,
    metrics: Metrics,
    lanes: BTreeSet<(ChainId, ChainId)>,
    counts: tokio::sync::Mutex<BTreeMap<(ChainId, ChainId, Status), u64>>,
    /// Bumped after every commit that moved a message: lane workers wake on it, so a
    /// message is picked up as soon as the scanner recorded it, not at the next block.
    moved: tokio::sync::watch::Sender<u64>,
    /// The latest status changes, newest last (since this process started).
    recent: std::sync::Mutex<std::collections::VecDeque<RecentChange>>,
    /// Per chain, the height a dropped claim asked the scanner to re-read from, until the
    /// scanner's next commit takes it into account (its cursor never passes it).
    rewinds: std::sync::Mutex<HashMap<ChainId, Height>>,
}

impl Ledger {
    /// The ledger of the directed `lanes` the relayer serves (counters read from the store).
    pub fn open(
        store: Arc<RelayStore>,
        metrics: Metrics,
        lanes: BTreeSet<(ChainId, ChainId)>,
    ) -> Result<Self, StoreError> {
        let counts = store.counts()?;
        let ledger = Ledger {
            store,
            metrics,
            lanes,
            counts: tokio::sync::Mutex::new(counts),
            moved: tokio::sync::watch::Sender::new(0),
            recent: Default::default(),
            rewinds: Default::default(),
        };
        ledger.publish_backlog(
            &ledger
                .counts
                .try_lock()
                .map(|c| c.clone())
                .unwrap_or_default(),
        );
        Ok(ledger)
    }

    /// The store.
    pub fn store(&self) -> &RelayStore {
        &self.store
    }

    /// A receiver that sees a change whenever a commit moved some message.
    pub fn moved(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moved.subscribe()
    }

    /// The latest status changes, newest first.
    pub fn recent(&self) -> Vec<RecentChange> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().rev().cloned().collect()
    }

    /// Lane counts by status.
    pub async fn counts(&self) -> BTreeMap<(ChainId, ChainId, Status), u64> {
        self.counts.lock().await.clone()
    }

    fn publish_backlog(&self, counts: &BTreeMap<(ChainId, ChainId, Status), u64>) {
        for (src, dst) in &self.lanes {
            let open: u64 = Status::UNSETTLED
                .iter()
                .map(|s| {
                    counts
                        .get(&(src.clone(), dst.clone(), *s))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            self.metrics
                .backlog
                .with_label_values(&[src.as_str(), dst.as_str()])
                .set(open as i64);
        }
    }
}
