//! What an adapter refuses to pass on from a node, before the relay core sees it: events
//! outside the heights asked for, events that describe another chain's role, and heads that
//! jump further than the time since the last one allows. A node's answer is a claim; these
//! are the claims that can be refused without any proof, so they never reach the ledger.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use prometheus::IntCounterVec;
use xrelay_light_client::{ChainId, Height};

use crate::ChainEvent;

/// Where an adapter counts what it refuses: `xrelay_claims_refused_total{chain,reason}`
/// once the relayer installed it (tools and tests run without). Shared with the adapter's
/// head-following task, which starts before the counter is installed.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<OnceLock<IntCounterVec>>);

impl Refusals {
    /// Counts into `counter` from now on (the first one installed stays).
    pub fn install(&self, counter: IntCounterVec) {
        let _ = self.0.set(counter);
    }

    /// Counts one refusal of `chain`'s data for `reason`.
    pub fn count(&self, chain: &ChainId, reason: &str) {
        if let Some(c) = self.0.get() {
            c.with_label_values(&[chain.as_str(), reason]).inc();
        }
    }
}

/// Which end of a lane an event speaks for: the chain that emits it must be that end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sent, acknowledged, timed out: only the message's source emits these.
    Source,
    /// Received, expired: only the message's destination emits these.
    Destination,
    /// Client updates and freezes: about the emitting chain's own hosted clients.
    Host,
}

impl ChainEvent {
    /// The end of the lane this event speaks for.
    pub fn role(&self) -> Role {
        match self {
            ChainEvent::Sent { .. }
            | ChainEvent::Acknowledged { .. }
            | ChainEvent::TimedOut { .. } => Role::Source,
            ChainEvent::Received { .. } | ChainEvent::Expired { .. } => Role::Destination,
            ChainEvent::ClientUpdated { .. } | ChainEvent::ClientFrozen { .. } => Role::Host,
        }
    }

    /// Whether `chain` may emit this event: a message event only from the end of the lane
    /// it describes, a client event about another chain only (a chain hosts no client of
    /// itself).
    pub fn emitted_by(&self, chain: &ChainId) -> bool {
        match self {
            ChainEvent::Sent { message, .. }
            | ChainEvent::Acknowledged { message, .. }
            | ChainEvent::TimedOut { message, .. } => &message.source == chain,
            ChainEvent::Received { message, .. } | ChainEvent::Expired { message, .. } => {
                &message.destination == chain
            }
            ChainEvent::ClientUpdated { of, .. } | ChainEvent::ClientFrozen { of, .. } => {
                of != chain
            }
        }
    }
}

/// Keeps the events of an answer to "events of `from..=to` on `chain`" that the chain can
/// have emitted there: inside the range asked for, and in the emitting chain's role.
/// Everything else is dropped, logged and counted (`out_of_range`, `role`).
pub fn screen_events(
    chain: &ChainId,
    from: Height,
    to: Height,
    events: Vec<ChainEvent>,
    refused: &Refusals,
) -> Vec<ChainEvent> {
    events
        .into_iter()
        .filter(|e| {
            let reason = if !(from..=to).contains(&e.height()) {
                "out_of_range"
            } else if !e.emitted_by(chain) {
                "role"
            } else {
                return true;
            };
            tracing::warn!(%chain, from, to, height = e.height(), reason, "event refused: the node's answer cannot be true");
            refused.count(chain, reason);
            false
        })
        .collect()
}

/// Heights a head may be ahead of the chain's expected pace whatever the time: slow
/// blocks while the relayer started, a block-time estimate on the high side.
const HEAD_SLACK: u64 = 64;

/// How many times the expected block rate a chain may be seen to run at: a configured block
/// time on the slow side must not make honest heads look like lies.
const PACE_MARGIN: u128 = 4;

/// Judges the heads a node reports against the pace the chain can have kept since the
/// relayer first saw it: at most [`PACE_MARGIN`] times the expected block rate, plus
/// [`HEAD_SLACK`]. One
/// lying answer cannot push the relayer's view of a chain far past its real tip, while a
/// lagging endpoint catching up, or a chain resuming after a halt, stays within it. The
/// latest plausible report wins, lower or higher, so a lie within that pace lasts until
/// the next answer; the relay core verifies any height it uses anyway.
#[derive(Debug, Clone)]
pub struct HeadGuard {
    first: Height,
    since: Instant,
    last: Height,
    block_interval: Duration,
}

/// What [`HeadGuard::admit`] made of a reported head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Another plausible head than the last one accepted (usually newer): publish it.
    Moved(Height),
    /// The same as the last one: nothing to do.
    Known,
    /// Further ahead than elapsed time allows: ignore it and ask another endpoint.
    Suspect {
        /// The highest head the guard would have accepted now.
        allowed: Height,
    },
}

impl HeadGuard {
    /// Starts from `head`, seen now; `block_interval` is the chain's expected block time.
    pub fn new(head: Height, block_interval: Duration) -> Self {
        HeadGuard {
            first: head,
            since: Instant::now(),
            last: head,
            block_interval: block_interval.max(Duration::from_millis(1)),
        }
    }

    /// The highest head plausible now.
    pub fn allowed(&self) -> Height {
        let blocks = self.since.elapsed().as_millis() / self.block_interval.as_millis().max(1);
        self.first
            .saturating_add(u64::try_from(blocks.saturating_mul(PACE_MARGIN)).unwrap_or(u64::MAX))
            .saturating_add(HEAD_SLACK)
    }

    /// Judges `head`; an accepted head is the new latest.
    pub fn admit(&mut self, head: Height) -> Head {
        if head == self.last {
            return Head::Known;
        }
        let allowed = self.allowed();
        if head > allowed {
            return Head::Suspect { allowed };
        }
        self.last = head;
        Head::Moved(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::{Acknowledgement, Message, Timeout};

    fn id(s: &str) -> ChainId {
        s.parse().unwrap()
    }

    fn msg(src: &str, dst: &str) -> Message {
        Message {
            source: id(src),
            destination: id(dst),
            sequence: 1,
            sender: vec![1],
            receiver: "echo".into(),
            payload: vec![],
            timeout: Timeout {
                height: 10,
                time_ms: 0,
            },
        }
    }

    #[test]
    fn events_are_kept_only_from_the_end_of_the_lane_they_describe_and_in_range() {
        let ack = Acknowledgement::Success(vec![]);
        let events = vec![
            ChainEvent::Sent {
                height: 5,
                message: msg("a", "b"),
            },
            // A third chain cannot have sent a message of lane a → b.
            ChainEvent::Sent {
                height: 5,
                message: msg("c", "b"),
            },
            ChainEvent::Received {
                height: 5,
                message: msg("b", "a"),
                ack: ack.clone(),
            },
            ChainEvent::Received {
                height: 5,
                message: msg("a", "b"),
                ack: ack.clone(),
            },
            ChainEvent::Acknowledged {
                height: 6,
                message: msg("a", "b"),
                ack,
            },
            // Outside the range asked for.
            ChainEvent::TimedOut {
                height: 99,
                message: msg("a", "b"),
            },
            ChainEvent::ClientUpdated {
                height: 5,
                of: id("a"),
                headers: vec![],
            },
            ChainEvent::ClientFrozen {
                height: 5,
                of: id("b"),
            },
        ];
        let counter = IntCounterVec::new(
            prometheus::Opts::new("refused", "refused"),
            &["chain", "reason"],
        )
        .unwrap();
        let refused = Refusals::default();
        refused.install(counter.clone());
        let kept = screen_events(&id("a"), 5, 10, events, &refused);
        let kinds: Vec<_> = kept.iter().map(|e| (e.height(), e.role())).collect();
        assert_eq!(
            kinds,
            vec![
                (5, Role::Source),
                (5, Role::Destination),
                (6, Role::Source),
                (5, Role::Host)
            ]
        );
        assert_eq!(counter.with_label_values(&["a", "role"]).get(), 3);
        assert_eq!(counter.with_label_values(&["a", "out_of_range"]).get(), 1);
    }

    #[test]
    fn a_head_may_only_run_ahead_as_far_as_time_allows() {
        let mut g = HeadGuard::new(100, Duration::from_secs(3600));
        assert_eq!(g.admit(100), Head::Known);
        assert_eq!(g.admit(101), Head::Moved(101));
        assert_eq!(g.admit(100 + HEAD_SLACK), Head::Moved(100 + HEAD_SLACK));
        assert!(matches!(g.admit(101 + HEAD_SLACK), Head::Suspect { .. }));
        assert!(matches!(
            g.admit(1_000_000_000_000),
            Head::Suspect { allowed } if allowed == 100 + HEAD_SLACK
        ));
        // The lie changed nothing; a plausible lower answer (a lie within the pace, now
        // corrected) replaces the last one.
        assert_eq!(g.admit(100 + HEAD_SLACK), Head::Known);
        assert_eq!(g.admit(102), Head::Moved(102));
        let mut fast = HeadGuard::new(0, Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(fast.admit(100), Head::Moved(100)));
    }
}
