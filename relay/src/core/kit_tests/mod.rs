//! Unit tests of the relay core (`core::{lane, remote, ledger, misbehaviour, followed}`)
//! over the testkit's in-process devchains: the real module, signed headers and proofs,
//! a real RocksDB store on a temporary directory, no processes. Each test runs in
//! milliseconds.

mod followed;
mod lane;
mod ledger;
mod misbehaviour;
mod remote;

use std::sync::Arc;

use xrelay_devchain::Event;
use xrelay_light_client::{ChainId, Height, Timeout};

use crate::testkit::{net, Harness, MemChain};

/// A timeout no test reaches (the module requires one).
const NEVER: Timeout = Timeout {
    height: 1_000_000,
    time_ms: 0,
};

/// A timeout at destination height `height`.
fn at(height: Height) -> Timeout {
    Timeout { height, time_ms: 0 }
}

/// Chains `a` and `b` with clients of each other, and a relay over both lanes.
async fn pair() -> (Arc<MemChain>, Arc<MemChain>, Harness) {
    let chains = net(&["a", "b"]).expect("chains");
    let h = Harness::over(&chains).await.expect("relay");
    (chains[0].clone(), chains[1].clone(), h)
}

/// Chains `a`, `b`, `c`, each with clients of the others, and a relay over all six lanes.
async fn triple() -> (Vec<Arc<MemChain>>, Harness) {
    let chains = net(&["a", "b", "c"]).expect("chains");
    let h = Harness::over(&chains).await.expect("relay");
    (chains, h)
}

/// The sequences `chain` received from `source`, in the order its blocks did (every
/// `MessageReceived` event: a duplicate delivery would show twice).
fn received_sequences(chain: &MemChain, source: &ChainId) -> Vec<u64> {
    chain
        .events_of(1, chain.height())
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::MessageReceived { message, .. } if message.source == *source => {
                Some(message.sequence)
            }
            _ => None,
        })
        .collect()
}

/// How many `MessageAcknowledged` events `chain` emitted for messages to `destination`.
fn acknowledged(chain: &MemChain, destination: &ChainId) -> usize {
    chain
        .events_of(1, chain.height())
        .into_iter()
        .filter(|(_, e)| {
            matches!(e, Event::MessageAcknowledged { message, .. } if message.destination == *destination)
        })
        .count()
}

/// A counter of the relay's metrics by labels.
fn metric(v: &prometheus::IntCounterVec, labels: &[&str]) -> u64 {
    v.with_label_values(labels).get()
}

/// A counter of the relay's metrics summed over every label but `chain`.
fn metric_sum(v: &prometheus::IntCounterVec, chain: &str) -> u64 {
    use prometheus::core::Collector;
    v.collect()
        .iter()
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "chain" && l.value() == chain)
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}
