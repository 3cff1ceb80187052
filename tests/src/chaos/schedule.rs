//! What the chaos run does, decided up front from one seed: the faults (which process or
//! connection, when, for how long) and the messages (which lane, which app, which
//! timeout). Same seed, same schedule; only the processes' own timing varies between runs.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;

/// How many faults of each kind, over how long.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Chains in the devnet.
    pub chains: usize,
    /// Relayer processes.
    pub relayers: usize,
    /// Faults start after this (the relayers and the first sends are up).
    pub lead: Duration,
    /// And stop before this.
    pub window: Duration,
    /// `kill -9` of a relayer, restarted with the same data directory.
    pub relayer_kills: u32,
    /// `kill -9` of a chain node, restarted from its data directory.
    pub node_kills: u32,
    /// Every live RPC connection to one chain reset.
    pub cuts: u32,
    /// RPC connections to one chain reset and refused for a while.
    pub outages: u32,
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` a relayer, restart it after `down`.
    KillRelayer {
        /// Index of the relayer (0-based).
        relayer: usize,
        /// Time before the restart.
        down: Duration,
    },
    /// `kill -9` a chain node, restart it after `down`.
    KillNode {
        /// Index of the chain (0-based).
        chain: usize,
        /// Time before the restart.
        down: Duration,
    },
    /// Reset every live connection through the chain's proxy.
    Cut {
        /// Index of the chain.
        chain: usize,
    },
    /// Reset every live connection and refuse new ones for `down`.
    Outage {
        /// Index of the chain.
        chain: usize,
        /// How long new connections are refused.
        down: Duration,
    },
}

impl Fault {
    /// Whether this is a process kill.
    pub fn is_kill(&self) -> bool {
        matches!(self, Fault::KillRelayer { .. } | Fault::KillNode { .. })
    }
}

/// A fault at a moment, counted from the start of sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: Duration,
    /// What.
    pub fault: Fault,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.at.as_secs_f64();
        match &self.fault {
            Fault::KillRelayer { relayer, down } => write!(
                f,
                "{t:6.2}s kill -9 relayer-{} (restart after {} ms)",
                relayer + 1,
                down.as_millis()
            ),
            Fault::KillNode { chain, down } => write!(
                f,
                "{t:6.2}s kill -9 chain-{} node (restart after {} ms)",
                chain + 1,
                down.as_millis()
            ),
            Fault::Cut { chain } => write!(f, "{t:6.2}s cut connections to chain-{}", chain + 1),
            Fault::Outage { chain, down } => write!(
                f,
                "{t:6.2}s cut and refuse connections to chain-{} for {} ms",
                chain + 1,
                down.as_millis()
            ),
        }
    }
}

fn millis(rng: &mut impl Rng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.gen_range(lo..=hi))
}

/// The faults of `plan` at random moments in `lead..window`, in time order. A process is
/// killed only while it is up (the schedule tracks each one's restart), so every kill
/// really kills something; the moment moves past the earliest restart when all the
/// processes of that kind are down.
pub fn faults(rng: &mut impl Rng, plan: &FaultPlan) -> Vec<Event> {
    #[derive(Clone, Copy)]
    enum Kind {
        Relayer,
        Node,
        Cut,
        Outage,
    }
    let mut kinds = Vec::new();
    kinds.extend(std::iter::repeat_n(
        Kind::Relayer,
        plan.relayer_kills as usize,
    ));
    kinds.extend(std::iter::repeat_n(Kind::Node, plan.node_kills as usize));
    kinds.extend(std::iter::repeat_n(Kind::Cut, plan.cuts as usize));
    kinds.extend(std::iter::repeat_n(Kind::Outage, plan.outages as usize));
    kinds.shuffle(rng);
    let (lo, hi) = (plan.lead.as_millis() as u64, plan.window.as_millis() as u64);
    let mut moments: Vec<u64> = kinds.iter().map(|_| rng.gen_range(lo..=hi)).collect();
    moments.sort_unstable();

    let mut relayer_up_at = vec![0u64; plan.relayers];
    let mut node_up_at = vec![0u64; plan.chains];
    let mut last = 0u64;
    let mut events = Vec::new();
    for (kind, at) in kinds.into_iter().zip(moments) {
        let mut at = at.max(last);
        let fault = match kind {
            Kind::Relayer => {
                let relayer = pick_up(&relayer_up_at, &mut at, rng);
                let down = millis(rng, 200, 4_000);
                relayer_up_at[relayer] = at + down.as_millis() as u64;
                Fault::KillRelayer { relayer, down }
            }
            Kind::Node => {
                let chain = pick_up(&node_up_at, &mut at, rng);
                let down = millis(rng, 300, 3_000);
                node_up_at[chain] = at + down.as_millis() as u64;
                Fault::KillNode { chain, down }
            }
            Kind::Cut => Fault::Cut {
                chain: rng.gen_range(0..plan.chains),
            },
            Kind::Outage => Fault::Outage {
                chain: rng.gen_range(0..plan.chains),
                down: millis(rng, 500, 4_000),
            },
        };
        last = at;
        events.push(Event {
            at: Duration::from_millis(at),
            fault,
        });
    }
    events
}

/// A process that is up at `at` (by the restart times in `up_at`), moving `at` just past
/// the earliest restart if none is.
fn pick_up(up_at: &[u64], at: &mut u64, rng: &mut impl Rng) -> usize {
    let earliest = up_at.iter().copied().min().unwrap_or(0);
    if earliest > *at {
        *at = earliest + 100;
    }
    let up: Vec<usize> = (0..up_at.len()).filter(|&i| up_at[i] <= *at).collect();
    up.choose(rng).copied().unwrap_or(0)
}

/// How a message may time out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortTimeout {
    /// This long after it is first signed (destination block time).
    Ms(u64),
    /// This many destination blocks after the destination's height when it is signed.
    Blocks(u64),
}

/// What one message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// An echo message that never times out.
    Echo,
    /// A transfer of the source chain's coin that never times out.
    Transfer {
        /// Amount.
        amount: u128,
    },
    /// A transfer with a short timeout: delivered, or timed out and refunded.
    ShortTransfer {
        /// Amount.
        amount: u128,
        /// Its timeout.
        timeout: ShortTimeout,
    },
}

/// One message of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSpec {
    /// Index of the destination chain.
    pub dst: usize,
    /// What it carries.
    pub payload: Payload,
}

/// `total` messages split over `accounts` senders on each of `chains` chains:
/// `plan[chain][account]` is that sender's messages in nonce order. Destinations are
/// spread over every other chain; 65 % echo, 30 % transfers, 5 % transfers with a short
/// timeout (half by time, half by height).
pub fn messages(
    rng: &mut impl Rng,
    chains: usize,
    accounts: usize,
    total: usize,
) -> Vec<Vec<Vec<MessageSpec>>> {
    let senders = chains * accounts;
    let mut plan = vec![vec![Vec::new(); accounts]; chains];
    for k in 0..total {
        let (chain, account) = ((k % senders) / accounts, k % accounts);
        let dst = (chain + rng.gen_range(1..chains)) % chains;
        let amount = rng.gen_range(1..=100u128);
        let payload = match rng.gen_range(0..100) {
            0..65 => Payload::Echo,
            65..95 => Payload::Transfer { amount },
            _ => Payload::ShortTransfer {
                amount,
                timeout: if rng.gen_bool(0.5) {
                    ShortTimeout::Ms(rng.gen_range(800..=4_000))
                } else {
                    ShortTimeout::Blocks(rng.gen_range(3..=20))
                },
            },
        };
        plan[chain][account].push(MessageSpec { dst, payload });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn plan() -> FaultPlan {
        FaultPlan {
            chains: 3,
            relayers: 2,
            lead: Duration::from_secs(2),
            window: Duration::from_secs(60),
            relayer_kills: 12,
            node_kills: 12,
            cuts: 10,
            outages: 6,
        }
    }

    #[test]
    fn one_seed_one_schedule() {
        let a = faults(&mut rand::rngs::StdRng::seed_from_u64(7), &plan());
        let b = faults(&mut rand::rngs::StdRng::seed_from_u64(7), &plan());
        let c = faults(&mut rand::rngs::StdRng::seed_from_u64(8), &plan());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let m = |s| messages(&mut rand::rngs::StdRng::seed_from_u64(s), 3, 4, 1_000);
        assert_eq!(m(7), m(7));
        assert_ne!(m(7), m(8));
    }

    #[test]
    fn every_fault_is_planned_in_order_and_kills_only_live_processes() {
        for seed in 0..200 {
            let events = faults(&mut rand::rngs::StdRng::seed_from_u64(seed), &plan());
            assert_eq!(events.len(), 40);
            assert_eq!(events.iter().filter(|e| e.fault.is_kill()).count(), 24);
            assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
            assert!(events.iter().all(|e| e.at >= plan().lead));
            let mut up_at = std::collections::HashMap::new();
            for e in &events {
                let (key, down) = match e.fault {
                    Fault::KillRelayer { relayer, down } => (("relayer", relayer), down),
                    Fault::KillNode { chain, down } => (("node", chain), down),
                    _ => continue,
                };
                let up = up_at.get(&key).copied().unwrap_or_default();
                assert!(e.at >= up, "seed {seed}: {e} kills a process that is down");
                up_at.insert(key, e.at + down);
            }
        }
    }

    #[test]
    fn messages_cover_every_sender_and_lane() {
        let plan = messages(&mut rand::rngs::StdRng::seed_from_u64(1), 3, 4, 10_000);
        let count: usize = plan.iter().flatten().map(Vec::len).sum();
        assert_eq!(count, 10_000);
        for (chain, accounts) in plan.iter().enumerate() {
            for msgs in accounts {
                assert!(msgs.len() >= 833);
                assert!(msgs.iter().all(|m| m.dst != chain && m.dst < 3));
                for dst in (0..3).filter(|&d| d != chain) {
                    assert!(msgs.iter().any(|m| m.dst == dst));
                }
            }
        }
        let short = plan
            .iter()
            .flatten()
            .flatten()
            .filter(|m| matches!(m.payload, Payload::ShortTransfer { .. }))
            .count();
        assert!((300..700).contains(&short), "{short} short timeouts");
    }
}
