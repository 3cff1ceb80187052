//! The message state machine: protocol events observed on any chain (by scanning, or in
//! the confirmation of our own submissions) move messages forward, never backward, and
//! each batch of events is one RocksDB transition together with the cursor that produced
//! it and the per-lane counters. Seeing the same event twice changes nothing, which is
//! what makes a restart (or another relayer's work) harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use xrelay_adapters::ChainEvent;
use xrelay_light_client::{ChainId, Height, Message};

use crate::metrics::Metrics;
use crate::store::{MessageRecord, RelayStore, Status, StoreError};

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

fn rank(s: Status) -> u8 {
    match s {
        Status::Pending => 0,
        Status::Delivered | Status::TimedOut => 1,
        Status::Acknowledged | Status::Closed => 2,
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
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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

    /// Applies `events` that happened on `chain` and, in the same transition, moves
    /// `chain`'s scan cursor to `cursor` (if given).
    pub async fn apply(
        &self,
        chain: &ChainId,
        events: &[ChainEvent],
        cursor: Option<Height>,
    ) -> Result<Changes, StoreError> {
        let mut counts = self.counts.lock().await;
        let mut touched: HashMap<(ChainId, ChainId, u64), (MessageRecord, Option<MessageRecord>)> =
            HashMap::new();
        let mut changes = Changes::default();
        let now = now_ms();
        for event in events {
            let (message, height) = match event {
                ChainEvent::Sent { message, height }
                | ChainEvent::Received {
                    message, height, ..
                }
                | ChainEvent::Expired { message, height }
                | ChainEvent::Acknowledged {
                    message, height, ..
                }
                | ChainEvent::TimedOut { message, height } => (message, *height),
                ChainEvent::ClientUpdated { .. } | ChainEvent::ClientFrozen { .. } => continue,
            };
            if !self
                .lanes
                .contains(&(message.source.clone(), message.destination.clone()))
            {
                continue;
            }
            let key = (
                message.source.clone(),
                message.destination.clone(),
                message.sequence,
            );
            if !touched.contains_key(&key) {
                let stored =
                    self.store
                        .message(&message.source, &message.destination, message.sequence)?;
                let record = match stored.clone() {
                    Some(r) => r,
                    None => {
                        changes.sent += 1;
                        MessageRecord::sent(
                            message.clone(),
                            if matches!(event, ChainEvent::Sent { .. }) {
                                height
                            } else {
                                0
                            },
                            now,
                        )
                    }
                };
                touched.insert(key.clone(), (record, stored));
            }
            let (record, _) = touched.get_mut(&key).expect("inserted above");
            advance(
                record,
                event,
                message,
                chain,
                height,
                now,
                &mut changes,
                &self.metrics,
            );
        }
        let mut t = self.store.transition();
        let mut dirty_lanes = BTreeSet::new();
        let mut changed = Vec::new();
        for ((src, dst, _), (record, stored)) in &touched {
            if stored.as_ref() == Some(record) {
                continue;
            }
            let previous = stored.as_ref().map(|r| r.status);
            self.store.put_message(&mut t, record, previous)?;
            if previous != Some(record.status) {
                changed.push(RecentChange {
                    id: record.id.0.to_string(),
                    src_chain: src.clone(),
                    dst_chain: dst.clone(),
                    sequence: record.message.sequence,
                    status: record.status,
                    at_ms: record.timeline.last().map_or(now, |s| s.at_ms),
                });
                if let Some(p) = previous {
                    let c = counts.entry((src.clone(), dst.clone(), p)).or_default();
                    *c = c.saturating_sub(1);
                }
                *counts
                    .entry((src.clone(), dst.clone(), record.status))
                    .or_default() += 1;
                dirty_lanes.insert((src.clone(), dst.clone()));
            }
        }
        for (src, dst) in &dirty_lanes {
            for status in Status::ALL {
                let n = counts
                    .get(&(src.clone(), dst.clone(), status))
                    .copied()
                    .unwrap_or(0);
                self.store.put_count(&mut t, src, dst, status, n);
            }
        }
        if let Some(h) = cursor {
            self.store.put_cursor(&mut t, chain, h);
        }
        self.store.commit(t)?;
        self.publish_backlog(&counts);
        if !changed.is_empty() {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            changed.sort_by_key(|c| c.at_ms);
            for c in changed {
                if recent.len() == RECENT {
                    recent.pop_front();
                }
                recent.push_back(c);
            }
        }
        if !dirty_lanes.is_empty() {
            self.moved.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(changes)
    }
}

#[allow(clippy::too_many_arguments)]
fn advance(
    record: &mut MessageRecord,
    event: &ChainEvent,
    message: &Message,
    chain: &ChainId,
    height: Height,
    now: u64,
    changes: &mut Changes,
    metrics: &Metrics,
) {
    let lane = [message.source.as_str(), message.destination.as_str()];
    let to = |record: &mut MessageRecord, status: Status| -> bool {
        if rank(status) <= rank(record.status) {
            return false;
        }
        record.advance(status, chain, height, now);
        true
    };
    match event {
        ChainEvent::Sent { .. } => {
            if let Some(step) = record.timeline.first_mut() {
                if step.height == 0 {
                    step.height = height;
                }
            }
        }
        ChainEvent::Received { ack, .. } => {
            record.ack = Some(ack.clone());
            if to(record, Status::Delivered) {
                changes.delivered += 1;
                metrics.delivered.with_label_values(&lane).inc();
                if let Some(sent) = record.reached(Status::Pending) {
                    metrics
                        .latency
                        .observe(now.saturating_sub(sent.at_ms) as f64 / 1000.0);
                }
            }
        }
        ChainEvent::Expired { .. } => {
            if record.status == Status::TimedOut {
                if to(record, Status::Closed) {
                    changes.closed += 1;
                }
            } else if record.status == Status::Pending {
                record.lane_skipped = true;
            }
        }
        ChainEvent::Acknowledged { ack, .. } => {
            record.ack.get_or_insert_with(|| ack.clone());
            if to(record, Status::Acknowledged) {
                changes.acknowledged += 1;
                metrics.acks.with_label_values(&lane).inc();
            }
        }
        ChainEvent::TimedOut { .. } => {
            let skipped = record.lane_skipped;
            if to(record, Status::TimedOut) {
                changes.timed_out += 1;
                metrics.timeouts.with_label_values(&lane).inc();
                if skipped && to(record, Status::Closed) {
                    changes.closed += 1;
                }
            }
        }
        ChainEvent::ClientUpdated { .. } | ChainEvent::ClientFrozen { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::{Acknowledgement, Timeout};

    fn msg(seq: u64) -> Message {
        Message {
            source: "a".parse().unwrap(),
            destination: "b".parse().unwrap(),
            sequence: seq,
            sender: vec![1],
            receiver: "echo".into(),
            payload: vec![],
            timeout: Timeout {
                height: 50,
                time_ms: 0,
            },
        }
    }

    fn ledger(dir: &std::path::Path) -> Ledger {
        let store = Arc::new(RelayStore::open(dir).unwrap());
        let lanes = [("a".parse().unwrap(), "b".parse().unwrap())]
            .into_iter()
            .collect();
        Ledger::open(store, Metrics::new(), lanes).unwrap()
    }

    #[tokio::test]
    async fn events_move_messages_forward_only_and_repeat_harmlessly() {
        let dir = tempfile::tempdir().unwrap();
        let l = ledger(dir.path());
        let (a, b): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
        let ack = Acknowledgement::Success(vec![1]);
        let sent: Vec<ChainEvent> = (1..=3)
            .map(|s| ChainEvent::Sent {
                height: 5,
                message: msg(s),
            })
            .collect();
        assert_eq!(l.apply(&a, &sent, Some(5)).await.unwrap().sent, 3);
        assert_eq!(
            l.apply(&a, &sent, Some(5)).await.unwrap(),
            Changes::default(),
            "seen before"
        );
        // The ack is seen on the source before the delivery is seen on the destination.
        let acked = [ChainEvent::Acknowledged {
            height: 9,
            message: msg(1),
            ack: ack.clone(),
        }];
        assert_eq!(l.apply(&a, &acked, Some(9)).await.unwrap().acknowledged, 1);
        let received = [
            ChainEvent::Received {
                height: 7,
                message: msg(1),
                ack: ack.clone(),
            },
            ChainEvent::Received {
                height: 7,
                message: msg(2),
                ack,
            },
        ];
        let c = l.apply(&b, &received, Some(7)).await.unwrap();
        assert_eq!(c.delivered, 1, "the acknowledged one does not move back");
        // Message 3 arrives late on b (lane skipped) and then times out on a: closed.
        l.apply(
            &b,
            &[ChainEvent::Expired {
                height: 60,
                message: msg(3),
            }],
            None,
        )
        .await
        .unwrap();
        let c = l
            .apply(
                &a,
                &[ChainEvent::TimedOut {
                    height: 12,
                    message: msg(3),
                }],
                None,
            )
            .await
            .unwrap();
        assert_eq!((c.timed_out, c.closed), (1, 1));
        let store = l.store();
        assert_eq!(
            store.message(&a, &b, 1).unwrap().unwrap().status,
            Status::Acknowledged
        );
        assert_eq!(
            store.message(&a, &b, 2).unwrap().unwrap().status,
            Status::Delivered
        );
        assert_eq!(
            store.message(&a, &b, 3).unwrap().unwrap().status,
            Status::Closed
        );
        assert_eq!(store.cursor(&a).unwrap(), Some(9));
        drop(l);
        // Counters survive a restart without walking the history.
        let l = ledger(dir.path());
        let counts = l.counts().await;
        assert_eq!(
            counts.get(&(a.clone(), b.clone(), Status::Delivered)),
            Some(&1)
        );
        assert_eq!(
            counts.get(&(a.clone(), b.clone(), Status::Pending)),
            Some(&0)
        );
        assert_eq!(counts.get(&(a, b, Status::Closed)), Some(&1));
    }
}
