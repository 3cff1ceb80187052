//! What the chains say happened to each message, read from their events as they are
//! produced: sent, arrived (received or expired), settled (acknowledged or timed out).
//! Each chain is followed from a cursor, so the run can watch progress and wait for
//! settlement without rescanning; a node that is down is simply asked again later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::Event;
use xrelay_light_client::{Acknowledgement, Address, ChainId, Decode};
use xrelay_protocol::TransferPacket;

/// A message by lane and sequence.
pub type Key = (ChainId, ChainId, u64);

/// How a message settled on its source.
#[derive(Debug, Default, Clone, Copy)]
pub struct Settled {
    /// `MessageAcknowledged` with a success ack.
    pub acked: u32,
    /// `MessageAcknowledged` with an error ack (the app refused it).
    pub refused: u32,
    /// `MessageTimedOut` (refunded).
    pub timed_out: u32,
}

impl Settled {
    fn total(&self) -> u32 {
        self.acked + self.refused + self.timed_out
    }
}

/// How a message arrived on its destination.
#[derive(Debug, Default, Clone, Copy)]
pub struct Arrived {
    /// `MessageReceived`: the app ran.
    pub received: u32,
    /// `MessageExpired`: the lane skipped it past its timeout.
    pub expired: u32,
}

/// Everything seen so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// `MessageSent` events (the value counts them: more than 1 would be a double send).
    pub sent: HashMap<Key, u32>,
    /// Arrivals on destinations.
    pub arrived: HashMap<Key, Arrived>,
    /// Settlements on sources.
    pub settled: HashMap<Key, Settled>,
    /// The packet of every transfer sent.
    pub transfers: HashMap<Key, TransferPacket>,
    /// Anything a chain did that a crash-safe chain must not (its head going back).
    pub notes: Vec<String>,
}

/// The verdict on a finished run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcomes {
    /// Distinct messages sent.
    pub sent: u64,
    /// Received on the destination and acknowledged on the source.
    pub delivered_acked: u64,
    /// Received, and the app's error ack settled it on the source.
    pub delivered_refused: u64,
    /// Timed out on the source (refunded), never received.
    pub timed_out: u64,
    /// Of those, skipped by the destination's lane past their timeout.
    pub timed_out_expired: u64,
    /// Sent and not settled.
    pub lost: u64,
    /// Sent, arrived or settled more than once.
    pub duplicated: u64,
    /// Settled in a way that contradicts the destination: acknowledged but never
    /// received, or timed out (refunded) although received.
    pub inconsistent: u64,
}

impl Tally {
    /// Messages settled on their source (once or more).
    pub fn settled_count(&self) -> usize {
        self.settled.len()
    }

    /// Whether every message sent so far is settled.
    pub fn all_settled(&self) -> bool {
        self.sent.keys().all(|k| self.settled.contains_key(k))
    }

    /// The verdict.
    pub fn outcomes(&self) -> Outcomes {
        let mut o = Outcomes {
            sent: self.sent.len() as u64,
            ..Default::default()
        };
        o.duplicated += self.sent.values().filter(|&&n| n > 1).count() as u64;
        o.duplicated += self
            .arrived
            .values()
            .filter(|a| a.received + a.expired > 1)
            .count() as u64;
        o.duplicated += self.settled.values().filter(|s| s.total() > 1).count() as u64;
        for key in self.sent.keys() {
            let arrived = self.arrived.get(key).copied().unwrap_or_default();
            let Some(s) = self.settled.get(key) else {
                o.lost += 1;
                continue;
            };
            if s.timed_out > 0 {
                o.timed_out += 1;
                o.timed_out_expired += u64::from(arrived.expired > 0);
                o.inconsistent += u64::from(arrived.received > 0);
            } else {
                if s.acked > 0 {
                    o.delivered_acked += 1;
                } else {
                    o.delivered_refused += 1;
                }
                o.inconsistent += u64::from(arrived.received == 0);
            }
        }
        // Arrivals or settlements of messages nobody sent.
        o.inconsistent += self
            .arrived
            .keys()
            .chain(self.settled.keys())
            .filter(|k| !self.sent.contains_key(*k))
            .count() as u64;
        o
    }

    /// What each account must hold after the run, by (chain, denomination, account): a
    /// sender keeps its coin less what it sent and was acknowledged (timed-out and refused
    /// transfers are refunded); a receiver holds the vouchers of what it received.
    pub fn expected_balances(&self) -> HashMap<(ChainId, String, Address), i128> {
        let mut delta: HashMap<(ChainId, String, Address), i128> = HashMap::new();
        for (key, p) in &self.transfers {
            let (src, dst, _) = key;
            let paid = self.settled.get(key).is_some_and(|s| s.acked > 0);
            let amount = i128::try_from(p.amount).unwrap_or(i128::MAX);
            let sent = delta
                .entry((src.clone(), p.denom.clone(), p.sender))
                .or_default();
            if paid {
                *sent -= amount;
            }
            let got = delta
                .entry((dst.clone(), voucher(src, &p.denom), p.receiver))
                .or_default();
            if paid {
                *got += amount;
            }
        }
        delta
    }

    fn apply(&mut self, event: Event) {
        let key = |m: &xrelay_light_client::Message| {
            (m.source.clone(), m.destination.clone(), m.sequence)
        };
        match event {
            Event::MessageSent { message } => {
                if message.receiver == "transfer" {
                    if let Ok(packet) = TransferPacket::decode(&message.payload) {
                        self.transfers.insert(key(&message), packet);
                    }
                }
                *self.sent.entry(key(&message)).or_default() += 1
            }
            Event::MessageReceived { message, .. } => {
                self.arrived.entry(key(&message)).or_default().received += 1
            }
            Event::MessageExpired { message } => {
                self.arrived.entry(key(&message)).or_default().expired += 1
            }
            Event::MessageAcknowledged { message, ack } => {
                let s = self.settled.entry(key(&message)).or_default();
                match ack {
                    Acknowledgement::Success(_) => s.acked += 1,
                    Acknowledgement::Error(_) => s.refused += 1,
                }
            }
            Event::MessageTimedOut { message } => {
                self.settled.entry(key(&message)).or_default().timed_out += 1
            }
            _ => {}
        }
    }
}

/// Follows one chain's events into `tally` until `stop` turns true, then reads up to the
/// chain's head one last time (retrying while the node is unreachable, up to `last_try`).
pub async fn follow(
    node: NodeClient,
    tally: Arc<Mutex<Tally>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    last_try: Duration,
) -> Result<(), String> {
    let mut cursor = 0u64;
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        let step = async {
            let head = node.status().await?.latest_height;
            if head < cursor {
                // A restarted node lost blocks it had served: re-read from its head.
                let note = format!("{}: head went back from {cursor} to {head}", node.url());
                tally
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .notes
                    .push(note);
                cursor = head;
            }
            while cursor < head {
                let to = head.min(cursor + 1_000);
                let events = node.events(cursor + 1, to).await?;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                for e in events {
                    t.apply(e.event);
                }
                cursor = to;
            }
            Ok::<_, xrelay_devchain::node::client::ClientError>(())
        };
        let result = step.await;
        if let Some(since) = stopping {
            match result {
                Ok(()) => return Ok(()),
                Err(e) if since.elapsed() > last_try => {
                    return Err(format!("{}: last read failed: {e}", node.url()))
                }
                Err(_) => {}
            }
        } else if *stop.borrow() {
            // One more full read after the stop, so nothing produced before it is missed.
            stopping = Some(tokio::time::Instant::now());
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            _ = stop.changed(), if stopping.is_none() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::{Encode, Message, SigningKey, Timeout};

    fn message(seq: u64, app: &str, payload: Vec<u8>) -> Message {
        Message {
            source: "a".parse().unwrap(),
            destination: "b".parse().unwrap(),
            sequence: seq,
            sender: vec![1],
            receiver: app.into(),
            payload,
            timeout: Timeout {
                height: 0,
                time_ms: 1,
            },
        }
    }

    #[test]
    fn outcomes_and_balances_follow_the_events() {
        let (from, to) = (SigningKey::from_seed("t", 0), SigningKey::from_seed("t", 1));
        let packet = |amount| TransferPacket {
            denom: "a-coin".into(),
            amount,
            sender: from.address(),
            receiver: to.address(),
        };
        let echo = message(1, "echo", b"hi".to_vec());
        let paid = message(2, "transfer", packet(30).encode());
        let refunded = message(3, "transfer", packet(50).encode());
        let lost = message(4, "echo", vec![]);
        let mut t = Tally::default();
        for m in [&echo, &paid, &refunded, &lost] {
            t.apply(Event::MessageSent { message: m.clone() });
        }
        let ok = Acknowledgement::Success(vec![]);
        for m in [&echo, &paid] {
            t.apply(Event::MessageReceived {
                message: m.clone(),
                ack: ok.clone(),
            });
            t.apply(Event::MessageAcknowledged {
                message: m.clone(),
                ack: ok.clone(),
            });
        }
        t.apply(Event::MessageExpired {
            message: refunded.clone(),
        });
        t.apply(Event::MessageTimedOut {
            message: refunded.clone(),
        });
        let o = t.outcomes();
        assert_eq!(
            (
                o.sent,
                o.delivered_acked,
                o.timed_out,
                o.timed_out_expired,
                o.lost
            ),
            (4, 2, 1, 1, 1)
        );
        assert_eq!((o.duplicated, o.inconsistent), (0, 0));
        let b = t.expected_balances();
        let (a, bb): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
        assert_eq!(b[&(a, "a-coin".into(), from.address())], -30);
        assert_eq!(
            b[&(
                bb.clone(),
                voucher(&"a".parse().unwrap(), "a-coin"),
                to.address()
            )],
            30
        );

        // A second delivery of the same message, and a refund of a received one.
        t.apply(Event::MessageReceived {
            message: echo.clone(),
            ack: ok.clone(),
        });
        t.apply(Event::MessageTimedOut {
            message: paid.clone(),
        });
        let o = t.outcomes();
        assert_eq!((o.duplicated, o.inconsistent), (2, 1));
    }
}
