//! The relay core: per chain a scanner (events from a persisted cursor into the ledger,
//! and misbehaviour checks on client updates), per directed lane a worker (deliveries,
//! timeouts, acks), all verified by the relayer's own light clients.

/// The attestation board is a leaf module of its own (the mesh holds it too);
/// `crate::core::attestations::…` paths keep naming it.
pub use crate::attestations;
pub mod chain;
pub mod claims;
/// The clock is a leaf module of its own (the mesh and the status page read it too);
/// `crate::core::clock::now_ms` keeps naming it.
pub use crate::clock;
pub mod error;
pub mod followed;
pub mod lane;
pub mod ledger;
pub mod misbehaviour;
mod parts;
pub mod remote;
pub mod status;
// Unit tests of the core over the testkit's in-process chains.
#[cfg(test)]
mod kit_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use xrelay_adapters::ChainEvent;
use xrelay_light_client::{ChainId, Height};

use crate::metrics::Metrics;
use chain::{ChainHandle, RelayError};
use ledger::Ledger;

/// How often an idle lane checks that the destination's client of the source is fresh.
const REFRESH_CHECK: Duration = Duration::from_secs(30);

/// Everything the workers share.
pub struct Relay {
    /// Message states.
    pub ledger: Ledger,
    /// Metrics.
    pub metrics: Metrics,
    /// The chains by id.
    pub chains: BTreeMap<ChainId, Arc<ChainHandle>>,
    /// Directed lanes relayed.
    pub lanes: Vec<(ChainId, ChainId)>,
    /// Most items per transaction.
    pub max_batch: usize,
    /// The relayer mesh (or a mesh of one).
    pub mesh: crate::mesh::Mesh,
    /// Attester signatures of this relayer and its mesh peers (the mesh's board).
    pub attestations: Arc<attestations::AttestationBoard>,
    /// What the status page and `/api/v1/status` show (refreshed by `status::run`).
    pub status: crate::status::StatusBoard,
    /// Work items taken over from silent members, counted once each.
    taken_over: std::sync::Mutex<BTreeSet<Vec<u8>>>,
}

impl Relay {
    /// Whether this relayer does `item` now (counting a takeover the first time).
    pub fn owns(&self, item: &[u8]) -> bool {
        let view = self.mesh.view.borrow();
        if !view.owns(item) {
            return false;
        }
        if view.is_takeover(item) {
            if let Ok(mut taken) = self.taken_over.lock() {
                if taken.insert(item.to_vec()) {
                    self.metrics.mesh.takeovers.inc();
                }
            }
        }
        true
    }
}

impl Relay {
    /// Runs every scanner and lane worker until `stop` turns true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        for chain in self.chains.values() {
            tasks.spawn(scan_loop(self.clone(), chain.clone(), stop.clone()));
        }
        for (src, dst) in &self.lanes {
            let (src, dst) = (self.chains[src].clone(), self.chains[dst].clone());
            tasks.spawn(lane_loop(self.clone(), src, dst, stop.clone()));
        }
        tasks.spawn(cosign_loop(self.clone(), stop.clone()));
        tasks.spawn(crate::status::run(self.clone(), stop.clone()));
        while tasks.join_next().await.is_some() {}
    }
}

/// Co-signings in flight at once: each costs a header request and a signature.
const COSIGN_CONCURRENCY: usize = 8;

/// Tries per attestation of a block this relayer's node does not have (or not as final)
/// yet, a block time apart: a peer's node may be a few blocks ahead.
const COSIGN_TRIES: u32 = 5;

/// Checks and signs the attestations the committee's other members publish, for the
/// chains this relayer attests (docs/PROTOCOL.md §12): without it a quorum above one
/// would form only for blocks every member needed by itself.
async fn cosign_loop(relay: Arc<Relay>, mut stop: watch::Receiver<bool>) {
    let mut seen = relay.attestations.subscribe_seen();
    let mut running = JoinSet::new();
    loop {
        let attestation = tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() {
                    break;
                }
                continue;
            }
            got = seen.recv() => match got {
                Ok(a) => a,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "co-signer fell behind; the skipped attestations' owners retry");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        };
        let Some(chain) = relay.chains.get(&attestation.chain_id).cloned() else {
            continue;
        };
        while running.len() >= COSIGN_CONCURRENCY {
            running.join_next().await;
        }
        running.spawn(async move {
            for attempt in 1..=COSIGN_TRIES {
                match chain.cosign(&attestation).await {
                    Ok(done) => {
                        match done {
                            chain::Cosigned::Signed => tracing::debug!(chain = %chain.id, height = attestation.height, "co-signed a peer's attestation"),
                            chain::Cosigned::TooOld => tracing::debug!(chain = %chain.id, height = attestation.height, "a peer's attestation is older than the heights this relayer remembers signing: not co-signed"),
                            _ => {}
                        }
                        return;
                    }
                    // Not readable or not final on this relayer's node yet: a peer's node
                    // may be a few blocks ahead.
                    Err(e @ (RelayError::Adapter(_) | RelayError::Retry(_))) if attempt < COSIGN_TRIES => {
                        tracing::debug!(chain = %chain.id, height = attestation.height, error = %e, "block not readable or not final yet; co-signing later");
                        tokio::time::sleep(chain.block_time).await;
                    }
                    // Said once, loudly, when it stopped; not again per attestation.
                    Err(e @ RelayError::CosignHalted { .. }) => {
                        tracing::debug!(chain = %chain.id, height = attestation.height, error = %e, "peer's attestation not co-signed");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(chain = %chain.id, height = attestation.height, error = %e, "peer's attestation not co-signed");
                        return;
                    }
                }
            }
        });
        // Reap what finished so the set does not grow with idle handles.
        while running.try_join_next().is_some() {}
    }
    running.abort_all();
}

/// Waits for `d`, a change of `heads`, or stop; returns false on stop.
async fn pause(
    d: Duration,
    heads: &mut [watch::Receiver<u64>],
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let changed = async {
        if heads.is_empty() {
            std::future::pending::<()>().await;
        }
        let waits = heads.iter_mut().map(|h| Box::pin(h.changed()));
        let _ = futures::future::select_all(waits).await;
    };
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = changed => true,
        _ = stop.changed() => !*stop.borrow(),
    }
}

/// Events the scanner aims to read per request: enough to amortise a round trip, few
/// enough that a backlog of a million sends never sits in memory at once.
const SCAN_TARGET_EVENTS: u64 = 2_000;

/// How many heights the next event request of a chain covers, learnt from the last one:
/// busy blocks shrink it, quiet ones grow it (doubling) up to the adapter's maximum.
#[derive(Debug, Clone, Copy)]
pub struct ScanRange(u64);

impl Default for ScanRange {
    /// Starts at one height: the first request after a long outage may face blocks full
    /// of sends.
    fn default() -> Self {
        ScanRange(1)
    }
}

impl ScanRange {
    fn shrink(&mut self) {
        self.0 = (self.0 / 2).max(1);
    }

    fn learn(&mut self, heights: u64, events: u64, max: u64) {
        let per_height = events.div_ceil(heights.max(1)).max(1);
        let fit = (SCAN_TARGET_EVENTS / per_height).max(1);
        let grown = if events * 2 < SCAN_TARGET_EVENTS {
            self.0.saturating_mul(2)
        } else {
            self.0
        };
        self.0 = grown.min(fit).clamp(1, max.max(1));
    }
}

/// Reads `chain`'s events from its cursor towards `head` (one range at most) into the
/// ledger and checks the client updates among them. Returns whether the cursor moved.
pub async fn scan_once(
    relay: &Relay,
    chain: &ChainHandle,
    head: Height,
) -> Result<bool, RelayError> {
    let mut range = ScanRange(chain.adapter.max_event_range().max(1));
    scan_step(relay, chain, head, &mut range).await
}

/// [`scan_once`] with a range that adapts to how busy the chain's blocks are.
pub async fn scan_step(
    relay: &Relay,
    chain: &ChainHandle,
    head: Height,
    range: &mut ScanRange,
) -> Result<bool, RelayError> {
    let cursor = relay.ledger.store().cursor(&chain.id)?.unwrap_or(0);
    if head <= cursor {
        return Ok(false);
    }
    let max = chain.adapter.max_event_range().max(1);
    let to = head.min(cursor + range.0.min(max));
    let events = match chain.adapter.events(cursor + 1, to).await {
        Ok(events) => events,
        Err(e) => {
            // Too many events for one answer (a node caps its response size) looks like
            // any other failure: ask for fewer heights next time.
            range.shrink();
            return Err(e.into());
        }
    };
    range.learn(to - cursor, events.len() as u64, max);
    // The cursor only moves to a height the relayer's light client verified: a node
    // reporting heights it does not have cannot make the scanner skip them.
    if to > chain.verified_height().await {
        chain.verified(to).await?;
    }
    let events = claims::prove_events(relay, chain, events, to).await?;
    relay.ledger.apply(&chain.id, &events, Some(to)).await?;
    for e in &events {
        if let ChainEvent::ClientUpdated {
            height,
            of,
            headers,
        } = e
        {
            misbehaviour::check(relay, chain, *height, of, headers).await;
        }
    }
    Ok(true)
}

async fn scan_loop(relay: Arc<Relay>, chain: Arc<ChainHandle>, mut stop: watch::Receiver<bool>) {
    let mut heads = [chain.adapter.heads()];
    let mut range = ScanRange::default();
    loop {
        if *stop.borrow() {
            return;
        }
        let head = *heads[0].borrow_and_update();
        match scan_step(&relay, &chain, head, &mut range).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(RelayError::Store(e)) => {
                tracing::error!(chain = %chain.id, error = %e, "store failed; scanner stopping");
                return;
            }
            Err(e) => tracing::warn!(chain = %chain.id, error = %e, "event scan failed; retrying"),
        }
        if !pause(chain.block_time * 4, &mut heads, &mut stop).await {
            return;
        }
    }
}

async fn lane_loop(
    relay: Arc<Relay>,
    src: Arc<ChainHandle>,
    dst: Arc<ChainHandle>,
    mut stop: watch::Receiver<bool>,
) {
    // Woken by new blocks on either side and by the ledger recording moves (the scanner
    // saw new sends; a confirmation or another relayer's work moved messages on).
    let mut heads = [
        src.adapter.heads(),
        dst.adapter.heads(),
        relay.ledger.moved(),
    ];
    let mut failures = 0u32;
    let mut last_refresh = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let pass = lane::relay_once(&relay, &src, &dst).await;
        failures = match &pass {
            Ok(_) => 0,
            Err(_) => failures.saturating_add(1),
        };
        // Stuck or frozen: the other mesh members take this lane's windows over.
        relay.mesh.report_lane(&src, &dst, failures);
        let (wait, wake_on_blocks) = match pass {
            Ok(pass) if pass.submitted > 0 => continue,
            Ok(_) => {
                if last_refresh.elapsed() > REFRESH_CHECK {
                    last_refresh = std::time::Instant::now();
                    if let Err(e) = lane::refresh_client(&relay, &src, &dst).await {
                        tracing::warn!(host = %dst.id, of = %src.id, error = %e, "client refresh failed");
                    }
                }
                (src.block_time.min(dst.block_time), true)
            }
            Err(e) => {
                match &e {
                    RelayError::Retry(_) => {
                        tracing::debug!(src = %src.id, dst = %dst.id, error = %e, "lane: retrying")
                    }
                    _ => {
                        tracing::warn!(src = %src.id, dst = %dst.id, error = %e, "lane: step failed; backing off")
                    }
                }
                // Back off: one block, doubling up to about 30 blocks.
                (
                    src.block_time.max(dst.block_time) * (1u32 << failures.min(5)),
                    false,
                )
            }
        };
        for h in heads.iter_mut() {
            h.borrow_and_update();
        }
        let woken = if wake_on_blocks {
            &mut heads[..]
        } else {
            &mut [][..]
        };
        if !pause(wait, woken, &mut stop).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_range_shrinks_on_busy_blocks_and_grows_on_quiet_ones() {
        let mut r = ScanRange::default();
        // Quiet chain: doubles up to the adapter's maximum.
        for _ in 0..20 {
            r.learn(r.0, 3, 1_000);
        }
        assert_eq!(r.0, 1_000);
        // A failed request (say, an answer over the node's size cap) halves it.
        r.shrink();
        assert_eq!(r.0, 500);
        // Blocks of 5,000 sends: one height at a time.
        r.learn(1_000, 5_000_000, 1_000);
        assert_eq!(r.0, 1);
        // 100 sends per height: about 20 heights per request.
        r.learn(1, 100, 1_000);
        assert!(r.0 <= 20, "{}", r.0);
        assert!(r.0 >= 1);
    }
}
