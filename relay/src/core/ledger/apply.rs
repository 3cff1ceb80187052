//! Applying events to the ledger: what a chain may claim about a message, the first
//! content wins, dropped claims rewind the scanner, and each batch is one store transition.

use std::collections::{BTreeSet, HashMap};

use xrelay_adapters::ChainEvent;
use xrelay_light_client::{ChainId, Height, Message};
use xrelay_protocol::Outcome;

use super::facts::{advance, Fact};
use super::{Changes, Ledger, RecentChange, RECENT};
use crate::core::clock::now_ms;
use crate::store::{MessageRecord, Status, StoreError};

impl Ledger {
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
