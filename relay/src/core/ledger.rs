//! The message state machine: protocol events observed on any chain (by scanning, or in
//! the confirmation of our own submissions) move messages forward, never backward, and
//! each batch of events is one RocksDB transition together with the cursor that produced
//! it and the per-lane counters. Seeing the same event twice changes nothing, which is
//! what makes a restart (or another relayer's work) harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use xrelay_adapters::ChainEvent;
use xrelay_light_client::{Acknowledgement, ChainId, Height, Message};

use crate::core::clock::now_ms;
use crate::metrics::Metrics;
use crate::store::{MessageRecord, RelayStore, Status, StoreError};
use xrelay_protocol::Outcome;

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

    /// Applies `events` that happened on `chain` and, in the same transition, moves
    /// `chain`'s scan cursor to `cursor` (if given; never past a rewind asked for since).
    ///
    /// Only what `chain` can have emitted is taken: a message's sending and settlement
    /// from its source, its reception from its destination (others are refused and
    /// counted). A message's content is the first one seen: a different content claimed
    /// later for the same sequence is refused and counted, and the record remembers the
    /// lowest height any claim named, where a re-read starts if the content turns out
    /// false. Settlement and reception events must have been proven by the caller
    /// (`core::claims`); sending is proven when the message is relayed.
    pub async fn apply(
        &self,
        chain: &ChainId,
        events: &[ChainEvent],
        cursor: Option<Height>,
    ) -> Result<Changes, StoreError> {
        let facts: Vec<(&Message, Height, Fact<'_>)> = events
            .iter()
            .filter_map(|e| {
                let fact = Fact::of(e)?;
                if !e.emitted_by(chain) {
                    self.refuse(chain, "role");
                    return None;
                }
                let (message, height) = fact.1;
                Some((message, height, fact.0))
            })
            .collect();
        self.apply_facts(chain, &facts, cursor).await
    }

    /// Records what the relayer proved itself on `source`: `message` ended with `outcome`
    /// there (its outcome key at a verified `height`), whatever events were or were not
    /// seen. Used when a settlement's events were never served.
    pub async fn apply_outcome(
        &self,
        source: &ChainId,
        message: &Message,
        outcome: Outcome,
        height: Height,
    ) -> Result<Changes, StoreError> {
        let fact = match outcome {
            Outcome::TimedOut => Fact::TimedOut,
            Outcome::Acknowledged | Outcome::Refused => Fact::Acknowledged(None),
        };
        self.apply_facts(source, &[(message, height, fact)], None)
            .await
    }

    /// Marks the contents of `records` proven: their commitments on the source matched at a
    /// height the relayer verified. A later claim of other content is refused outright.
    pub async fn mark_content_proven(&self, records: &[&MessageRecord]) -> Result<(), StoreError> {
        let _counts = self.counts.lock().await;
        let mut t = self.store.transition();
        let mut any = false;
        for r in records {
            let m = &r.message;
            let Some(mut stored) = self.store.message(&m.source, &m.destination, m.sequence)?
            else {
                continue;
            };
            if stored.content_proven || stored.message != *m {
                continue;
            }
            stored.content_proven = true;
            self.store
                .put_message(&mut t, &stored, Some(stored.status))?;
            any = true;
        }
        if any {
            self.store.commit(t)?;
        }
        Ok(())
    }

    /// Drops `record`, a claim its proof contradicted (`reason`), unless it changed since
    /// it was read, and has the chains named in its timeline re-read from just below the
    /// heights where it was claimed, so the true content (if any) is found again. Returns
    /// whether it was dropped.
    pub async fn drop_claim(
        &self,
        record: &MessageRecord,
        reason: &'static str,
    ) -> Result<bool, StoreError> {
        let mut counts = self.counts.lock().await;
        let m = &record.message;
        let Some(stored) = self.store.message(&m.source, &m.destination, m.sequence)? else {
            return Ok(false);
        };
        if stored != *record || stored.content_proven {
            return Ok(false);
        }
        self.refuse(&m.source, reason);
        let mut t = self.store.transition();
        self.store.delete_message(&mut t, &stored);
        let lane = (m.source.clone(), m.destination.clone());
        let c = counts
            .entry((lane.0.clone(), lane.1.clone(), stored.status))
            .or_default();
        *c = c.saturating_sub(1);
        self.store
            .put_count(&mut t, &lane.0, &lane.1, stored.status, *c);
        let mut rewinds = self.rewinds.lock().unwrap_or_else(|e| e.into_inner());
        for step in &stored.timeline {
            // Height 0: the claim came from the other end before any sending was seen;
            // the sending, if real, is still ahead of the cursor.
            if step.height == 0 {
                continue;
            }
            let to = step.height - 1;
            let current = self.store.cursor(&step.chain)?.unwrap_or(0);
            if to < current {
                self.store.put_cursor(&mut t, &step.chain, to);
            }
            let r = rewinds.entry(step.chain.clone()).or_insert(to);
            *r = (*r).min(to);
        }
        drop(rewinds);
        self.store.commit(t)?;
        tracing::warn!(src = %m.source, dst = %m.destination, sequence = m.sequence, reason, "a node's claim about this message was false: dropped, re-reading");
        self.publish_backlog(&counts);
        self.moved.send_modify(|n| *n = n.wrapping_add(1));
        Ok(true)
    }

    fn refuse(&self, chain: &ChainId, reason: &str) {
        self.metrics
            .claims_refused
            .with_label_values(&[chain.as_str(), reason])
            .inc();
    }

    async fn apply_facts(
        &self,
        chain: &ChainId,
        facts: &[(&Message, Height, Fact<'_>)],
        cursor: Option<Height>,
    ) -> Result<Changes, StoreError> {
        let mut counts = self.counts.lock().await;
        let mut touched: HashMap<(ChainId, ChainId, u64), (MessageRecord, Option<MessageRecord>)> =
            HashMap::new();
        let mut changes = Changes::default();
        let now = now_ms();
        for &(message, height, fact) in facts {
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
                            if matches!(fact, Fact::Sent) {
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
            if record.message != *message {
                match fact {
                    Fact::Sent => {
                        // Another content for a sequence already claimed: keep the first
                        // (its proof decides), remember the lowest height either named.
                        if record.status == Status::Pending && !record.content_proven {
                            if let Some(step) = record.timeline.first_mut() {
                                if step.height == 0 || height < step.height {
                                    step.height = height;
                                }
                            }
                        }
                        self.refuse(chain, "conflicting_sent");
                        continue;
                    }
                    // The other end's events are proven by their keys, which do not cover
                    // the content: an unproven record takes the content the destination
                    // verified on chain when it received the message.
                    Fact::Received(_) if !record.content_proven => {
                        record.message = message.clone();
                    }
                    _ => self.refuse(chain, "conflicting_content"),
                }
            }
            advance(
                record,
                fact,
                chain,
                height,
                now,
                &mut changes,
                Some(&self.metrics),
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
            // A claim dropped while this batch was read asked for a re-read from below it.
            let rewind = self
                .rewinds
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(chain);
            self.store
                .put_cursor(&mut t, chain, rewind.map_or(h, |r| r.min(h)));
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

    /// Whether applying `event` (from `chain`) would move its message: what needs a proof
    /// before it is applied. Repeats of what the ledger already holds need none.
    pub fn would_move(&self, chain: &ChainId, event: &ChainEvent) -> Result<bool, StoreError> {
        let Some((fact, (message, height))) = Fact::of(event) else {
            return Ok(false);
        };
        if !event.emitted_by(chain)
            || !self
                .lanes
                .contains(&(message.source.clone(), message.destination.clone()))
        {
            return Ok(false);
        }
        let Some(stored) =
            self.store
                .message(&message.source, &message.destination, message.sequence)?
        else {
            return Ok(true);
        };
        let mut record = stored.clone();
        advance(
            &mut record,
            fact,
            chain,
            height,
            0,
            &mut Changes::default(),
            None,
        );
        Ok(record.status != stored.status || record.lane_skipped != stored.lane_skipped)
    }
}

/// What an event (or the relayer's own proof) says happened to a message.
#[derive(Debug, Clone, Copy)]
enum Fact<'a> {
    Sent,
    Received(&'a Acknowledgement),
    Expired,
    /// Settled by an ack (its content, when an event carried it).
    Acknowledged(Option<&'a Acknowledgement>),
    TimedOut,
}

impl<'a> Fact<'a> {
    fn of(event: &'a ChainEvent) -> Option<(Fact<'a>, (&'a Message, Height))> {
        Some(match event {
            ChainEvent::Sent { message, height } => (Fact::Sent, (message, *height)),
            ChainEvent::Received {
                message,
                height,
                ack,
            } => (Fact::Received(ack), (message, *height)),
            ChainEvent::Expired { message, height } => (Fact::Expired, (message, *height)),
            ChainEvent::Acknowledged {
                message,
                height,
                ack,
            } => (Fact::Acknowledged(Some(ack)), (message, *height)),
            ChainEvent::TimedOut { message, height } => (Fact::TimedOut, (message, *height)),
            ChainEvent::ClientUpdated { .. } | ChainEvent::ClientFrozen { .. } => return None,
        })
    }
}

fn advance(
    record: &mut MessageRecord,
    fact: Fact<'_>,
    chain: &ChainId,
    height: Height,
    now: u64,
    changes: &mut Changes,
    metrics: Option<&Metrics>,
) {
    let lane = [
        record.message.source.clone(),
        record.message.destination.clone(),
    ];
    let lane = [lane[0].as_str(), lane[1].as_str()];
    let latency = record
        .reached(Status::Pending)
        .map(|sent| now.saturating_sub(sent.at_ms) as f64 / 1000.0);
    let to = |record: &mut MessageRecord, status: Status| -> bool {
        if rank(status) <= rank(record.status) {
            return false;
        }
        record.advance(status, chain, height, now);
        true
    };
    match fact {
        Fact::Sent => {
            if let Some(step) = record.timeline.first_mut() {
                if step.height == 0 {
                    step.height = height;
                }
            }
        }
        Fact::Received(ack) => {
            if to(record, Status::Delivered) {
                record.ack = Some(ack.clone());
                changes.delivered += 1;
                if let Some(m) = metrics {
                    m.delivered.with_label_values(&lane).inc();
                    if let Some(l) = latency {
                        m.latency.observe(l);
                    }
                }
            } else if record.ack.is_none() {
                record.ack = Some(ack.clone());
            }
        }
        Fact::Expired => {
            if record.status == Status::TimedOut {
                if to(record, Status::Closed) {
                    changes.closed += 1;
                }
            } else if record.status == Status::Pending {
                record.lane_skipped = true;
            }
        }
        Fact::Acknowledged(ack) => {
            if record.ack.is_none() {
                record.ack = ack.cloned();
            }
            if to(record, Status::Acknowledged) {
                changes.acknowledged += 1;
                if let Some(m) = metrics {
                    m.acks.with_label_values(&lane).inc();
                }
            }
        }
        Fact::TimedOut => {
            let skipped = record.lane_skipped;
            if to(record, Status::TimedOut) {
                changes.timed_out += 1;
                if let Some(m) = metrics {
                    m.timeouts.with_label_values(&lane).inc();
                }
                if skipped && to(record, Status::Closed) {
                    changes.closed += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::Timeout;

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

    fn id(s: &str) -> ChainId {
        s.parse().unwrap()
    }

    fn refused(l: &Ledger, chain: &str, reason: &str) -> u64 {
        l.metrics
            .claims_refused
            .with_label_values(&[chain, reason])
            .get()
    }

    fn sent(seq: u64, height: Height, payload: &[u8]) -> ChainEvent {
        let mut message = msg(seq);
        message.payload = payload.to_vec();
        ChainEvent::Sent { height, message }
    }

    #[tokio::test]
    async fn events_are_taken_only_from_the_end_of_the_lane_they_describe() {
        let dir = tempfile::tempdir().unwrap();
        let l = ledger(dir.path());
        let (a, b) = (id("a"), id("b"));
        // b cannot send, acknowledge or time out a message of lane a → b.
        let c = l.apply(&b, &[sent(1, 5, b"x")], Some(5)).await.unwrap();
        assert_eq!(c, Changes::default());
        assert_eq!(l.store().message(&a, &b, 1).unwrap(), None);
        let ack = Acknowledgement::Success(vec![]);
        l.apply(&a, &[sent(1, 5, b"x")], Some(5)).await.unwrap();
        // a cannot receive its own message; b cannot settle it.
        let lies = [
            ChainEvent::Received {
                height: 6,
                message: msg_with(1, b"x"),
                ack: ack.clone(),
            },
            ChainEvent::Expired {
                height: 6,
                message: msg_with(1, b"x"),
            },
        ];
        assert_eq!(l.apply(&a, &lies, None).await.unwrap(), Changes::default());
        let lies = [
            ChainEvent::Acknowledged {
                height: 6,
                message: msg_with(1, b"x"),
                ack,
            },
            ChainEvent::TimedOut {
                height: 6,
                message: msg_with(1, b"x"),
            },
        ];
        assert_eq!(l.apply(&b, &lies, None).await.unwrap(), Changes::default());
        let r = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!((r.status, r.lane_skipped), (Status::Pending, false));
        assert_eq!(refused(&l, "b", "role"), 3);
        assert_eq!(refused(&l, "a", "role"), 2);
    }

    fn msg_with(seq: u64, payload: &[u8]) -> Message {
        let mut m = msg(seq);
        m.payload = payload.to_vec();
        m
    }

    #[tokio::test]
    async fn a_second_content_for_a_sequence_is_refused_and_a_dropped_claim_is_reread() {
        let dir = tempfile::tempdir().unwrap();
        let l = ledger(dir.path());
        let (a, b) = (id("a"), id("b"));
        // A lie first (height 20), the real message later (height 30), with a scan
        // cursor at 40.
        l.apply(&a, &[sent(1, 20, b"lie")], Some(25)).await.unwrap();
        l.apply(&a, &[sent(1, 30, b"real")], Some(40))
            .await
            .unwrap();
        let r = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!(
            r.message.payload, b"lie",
            "the first claim stays until proven"
        );
        assert_eq!(refused(&l, "a", "conflicting_sent"), 1);
        assert_eq!(r.timeline[0].height, 20);
        // Its proof contradicts it: dropped, and a is re-read from just below the claim.
        assert!(l.drop_claim(&r, "content_mismatch").await.unwrap());
        assert_eq!(l.store().message(&a, &b, 1).unwrap(), None);
        assert_eq!(l.store().cursor(&a).unwrap(), Some(19));
        assert_eq!(
            l.counts()
                .await
                .get(&(a.clone(), b.clone(), Status::Pending)),
            Some(&0)
        );
        assert!(
            !l.drop_claim(&r, "content_mismatch").await.unwrap(),
            "dropped once"
        );
        // A scan that read past the claim before the drop commits: its cursor stops at
        // the rewind.
        l.apply(&a, &[], Some(45)).await.unwrap();
        assert_eq!(l.store().cursor(&a).unwrap(), Some(19));
        // The re-read finds the real message.
        l.apply(&a, &[sent(1, 30, b"real")], Some(45))
            .await
            .unwrap();
        let r = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!(r.message.payload, b"real");
        assert_eq!(l.store().cursor(&a).unwrap(), Some(45));
        // Proven content is never dropped, and another content is refused outright.
        l.mark_content_proven(&[&r]).await.unwrap();
        let r = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert!(r.content_proven);
        assert!(!l.drop_claim(&r, "never_sent").await.unwrap());
        l.apply(&a, &[sent(1, 10, b"lie")], None).await.unwrap();
        let again = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!(
            (again.message.payload.as_slice(), again.timeline[0].height),
            (&b"real"[..], 30)
        );
        assert_eq!(l.store().message_by_id(&r.id).unwrap(), Some(again));
    }

    #[tokio::test]
    async fn a_proven_outcome_settles_a_message_whose_events_were_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let l = ledger(dir.path());
        let (a, b) = (id("a"), id("b"));
        l.apply(&a, &[sent(1, 5, b"x"), sent(2, 5, b"y")], Some(5))
            .await
            .unwrap();
        let c = l
            .apply_outcome(&a, &msg_with(1, b"x"), Outcome::Acknowledged, 9)
            .await
            .unwrap();
        assert_eq!(c.acknowledged, 1);
        let c = l
            .apply_outcome(&a, &msg_with(2, b"y"), Outcome::TimedOut, 9)
            .await
            .unwrap();
        assert_eq!(c.timed_out, 1);
        let one = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!((one.status, one.ack), (Status::Acknowledged, None));
        assert_eq!(
            l.store().message(&a, &b, 2).unwrap().unwrap().status,
            Status::TimedOut,
            "the destination lane still has to move past it"
        );
    }

    #[tokio::test]
    async fn only_moves_need_proof_and_the_destination_content_replaces_an_unproven_claim() {
        let dir = tempfile::tempdir().unwrap();
        let l = ledger(dir.path());
        let (a, b) = (id("a"), id("b"));
        let ack = Acknowledgement::Success(vec![7]);
        let received = |payload: &[u8]| ChainEvent::Received {
            height: 8,
            message: msg_with(1, payload),
            ack: ack.clone(),
        };
        assert!(
            l.would_move(&b, &received(b"real")).unwrap(),
            "unknown message"
        );
        assert!(!l.would_move(&a, &received(b"real")).unwrap(), "wrong role");
        l.apply(&a, &[sent(1, 5, b"lie")], Some(5)).await.unwrap();
        assert!(l.would_move(&b, &received(b"real")).unwrap());
        assert!(
            !l.would_move(&a, &sent(1, 5, b"lie")).unwrap(),
            "a send moves nothing"
        );
        let c = l.apply(&b, &[received(b"real")], Some(8)).await.unwrap();
        assert_eq!(c.delivered, 1);
        let r = l.store().message(&a, &b, 1).unwrap().unwrap();
        assert_eq!(r.message.payload, b"real");
        assert_eq!(r.ack, Some(ack.clone()));
        assert!(!l.would_move(&b, &received(b"real")).unwrap(), "a repeat");
        // A repeat with another ack changes nothing (the proven one stays).
        let other = ChainEvent::Received {
            height: 9,
            message: msg_with(1, b"real"),
            ack: Acknowledgement::Success(vec![8]),
        };
        l.apply(&b, &[other], None).await.unwrap();
        assert_eq!(
            l.store().message(&a, &b, 1).unwrap().unwrap().ack,
            Some(ack)
        );
    }
}
