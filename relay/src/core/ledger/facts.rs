//! The message state machine's rules: what each observed fact does to a record (forward
//! only, never backward), and the counters and metrics a move bumps.

use xrelay_adapters::ChainEvent;
use xrelay_light_client::{Acknowledgement, ChainId, Height, Message};

use super::Changes;
use crate::metrics::Metrics;
use crate::store::{MessageRecord, Status};

fn rank(s: Status) -> u8 {
    match s {
        Status::Pending => 0,
        Status::Delivered | Status::TimedOut => 1,
        Status::Acknowledged | Status::Closed => 2,
    }
}

/// What an event (or the relayer's own proof) says happened to a message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fact<'a> {
    Sent,
    Received(&'a Acknowledgement),
    Expired,
    /// Settled by an ack (its content, when an event carried it).
    Acknowledged(Option<&'a Acknowledgement>),
    TimedOut,
}

impl<'a> Fact<'a> {
    pub(super) fn of(event: &'a ChainEvent) -> Option<(Fact<'a>, (&'a Message, Height))> {
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

pub(super) fn advance(
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
