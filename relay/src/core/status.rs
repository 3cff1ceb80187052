//! What the relayer shows an operator: one snapshot of lanes (backlog, lag), light clients
//! (the relayer's own and those hosted on the chains: height, age, trust left, frozen),
//! chains, mesh and the latest message changes. A sampler refreshes it every couple of
//! seconds and sets the matching gauges, so `/api/v1/status`, the status page at `/` and
//! the alert rules all read the same numbers and a page view costs no RPC.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use xrelay_light_client::ChainId;

use crate::clock::now_ms;
use crate::core::followed::ClientFacts;
use crate::core::ledger::RecentChange;
use crate::core::Relay;
use crate::store::Status;

/// How often the snapshot is rebuilt from the relayer's own state (cheap: memory and the
/// store's indexes).
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Clients hosted on chains are read over RPC once per this many samples.
const HOSTED_EVERY: u32 = 5;

/// `host` of the relayer's own light clients.
pub const RELAYER_HOST: &str = "relayer";

/// One directed lane.
#[derive(Debug, Clone, Serialize)]
pub struct LaneView {
    /// Source chain.
    pub src_chain: ChainId,
    /// Destination chain.
    pub dst_chain: ChainId,
    /// Messages by status.
    pub messages: std::collections::BTreeMap<&'static str, u64>,
    /// Messages not yet settled (pending, delivered without ack relayed, timed out and not
    /// yet skipped by the destination).
    pub backlog: u64,
    /// Seconds the oldest unsettled message has waited since this relayer saw it sent.
    pub lag_s: u64,
    /// That message's id, to look up its timeline.
    pub oldest_waiting: Option<String>,
}

/// One light client.
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    /// `relayer` for the relayer's own client, else the chain hosting it.
    pub host: String,
    /// The chain it follows.
    pub chain: ChainId,
    /// Height, header time, trusting period, frozen.
    #[serde(flatten)]
    pub facts: ClientFacts,
    /// Seconds since its newest header.
    pub age_s: u64,
    /// Seconds left before it expires without an update (BFT clients only).
    pub trust_remaining_s: Option<i64>,
}

/// A hosted client that could not be read (the chain unreachable, or no client yet).
#[derive(Debug, Clone, Serialize)]
pub struct ClientProblem {
    /// The chain hosting it.
    pub host: ChainId,
    /// The chain it follows.
    pub chain: ChainId,
    /// Why it is not shown.
    pub problem: String,
}

/// One chain as the relayer reaches it.
#[derive(Debug, Clone, Serialize)]
pub struct ChainView {
    /// The chain.
    pub id: ChainId,
    /// `bft` or `evm`.
    pub family: &'static str,
    /// Its latest final height, as the adapter last saw it.
    pub head: u64,
    /// The relayer's verified height.
    pub verified: u64,
    /// Whether it was found misbehaving (nothing from it is relayed).
    pub frozen: bool,
}

/// The mesh of relayers.
#[derive(Debug, Clone, Serialize)]
pub struct MeshView {
    /// Whether the mesh is on.
    pub enabled: bool,
    /// This relayer's peer id.
    pub peer_id: String,
    /// Live members other than this relayer.
    pub peers: Vec<String>,
    /// Allowed members other than this relayer.
    pub expected: Vec<String>,
    /// Allowed members not live now.
    pub missing: Vec<String>,
}

/// Everything the status page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The relayer's version.
    pub version: &'static str,
    /// When the snapshot was taken (Unix ms).
    pub taken_ms: u64,
    /// When this process started relaying (Unix ms).
    pub started_ms: u64,
    /// Directed lanes.
    pub lanes: Vec<LaneView>,
    /// Chains.
    pub chains: Vec<ChainView>,
    /// Light clients: the relayer's own, then those hosted on chains.
    pub clients: Vec<ClientView>,
    /// Hosted clients that could not be read.
    pub client_problems: Vec<ClientProblem>,
    /// The mesh.
    pub mesh: MeshView,
    /// The latest message status changes, newest first.
    pub recent: Vec<RecentChange>,
}

/// The latest snapshot, shared by the sampler and the HTTP handlers.
pub struct StatusBoard {
    latest: watch::Sender<Option<Arc<Snapshot>>>,
    started_ms: u64,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard {
            latest: watch::Sender::new(None),
            started_ms: now_ms(),
        }
    }
}

impl StatusBoard {
    /// The latest snapshot (`None` before the first sample).
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.borrow().clone()
    }
}

/// Hosted clients read at the last RPC round, kept between rounds.
#[derive(Default)]
struct Hosted {
    clients: Vec<(ChainId, ChainId, ClientFacts)>,
    problems: Vec<ClientProblem>,
}

/// Rebuilds the snapshot every [`SAMPLE_EVERY`] until `stop`.
pub async fn run(relay: Arc<Relay>, mut stop: watch::Receiver<bool>) {
    let mut hosted = Hosted::default();
    let mut round: u32 = 0;
    loop {
        if round.is_multiple_of(HOSTED_EVERY) {
            hosted = read_hosted(&relay).await;
        }
        round = round.wrapping_add(1);
        let snapshot = sample(&relay, &hosted).await;
        relay.status.latest.send_replace(Some(Arc::new(snapshot)));
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = stop.changed() => {
                if *stop.borrow() {
                    return;
                }
            }
        }
    }
}

async fn read_hosted(relay: &Relay) -> Hosted {
    let mut out = Hosted::default();
    for (src, dst) in &relay.lanes {
        let host = &relay.chains[dst];
        match host.adapter.client_state(src).await {
            Ok(Some(c)) => out
                .clients
                .push((dst.clone(), src.clone(), ClientFacts::of_hosted(&c))),
            Ok(None) => out.problems.push(ClientProblem {
                host: dst.clone(),
                chain: src.clone(),
                problem: "no client".into(),
            }),
            Err(e) => out.problems.push(ClientProblem {
                host: dst.clone(),
                chain: src.clone(),
                problem: e.to_string(),
            }),
        }
    }
    out
}

async fn sample(relay: &Relay, hosted: &Hosted) -> Snapshot {
    let now = now_ms();
    let m = &relay.metrics;
    let counts = relay.ledger.counts().await;
    let store = relay.ledger.store();
    let mut lanes = Vec::new();
    for (src, dst) in &relay.lanes {
        let n = |st: Status| {
            counts
                .get(&(src.clone(), dst.clone(), st))
                .copied()
                .unwrap_or(0)
        };
        let messages = Status::ALL.iter().map(|s| (s.name(), n(*s))).collect();
        // The lowest sequence of each open status is the oldest message in it.
        let mut oldest: Option<(u64, String)> = None;
        for st in Status::UNSETTLED {
            if n(st) == 0 {
                continue;
            }
            if let Ok(first) = store.by_status(st, src, dst, 1) {
                if let Some(r) = first.first() {
                    let seen = r.timeline.first().map_or(now, |s| s.at_ms);
                    if oldest.as_ref().is_none_or(|(t, _)| seen < *t) {
                        oldest = Some((seen, r.id.0.to_string()));
                    }
                }
            }
        }
        let lag_s = oldest
            .as_ref()
            .map_or(0, |(t, _)| now.saturating_sub(*t) / 1000);
        m.lane_lag
            .with_label_values(&[src.as_str(), dst.as_str()])
            .set(i64::try_from(lag_s).unwrap_or(i64::MAX));
        lanes.push(LaneView {
            src_chain: src.clone(),
            dst_chain: dst.clone(),
            messages,
            backlog: Status::UNSETTLED.iter().map(|st| n(*st)).sum(),
            lag_s,
            oldest_waiting: oldest.map(|(_, id)| id),
        });
    }

    let mut chains = Vec::new();
    let mut clients = Vec::new();
    for (id, c) in &relay.chains {
        let mut facts = c.client_facts().await;
        // Evidence found by this relayer stops the chain even before any client holds it.
        facts.frozen |= c.is_frozen();
        chains.push(ChainView {
            id: id.clone(),
            family: facts.family,
            head: *c.adapter.heads().borrow(),
            verified: facts.height,
            frozen: c.is_frozen(),
        });
        clients.push(client_view(relay, RELAYER_HOST, id, facts, now));
    }
    for (host, chain, facts) in &hosted.clients {
        clients.push(client_view(relay, host.as_str(), chain, *facts, now));
    }

    let view = relay.mesh.view.borrow().clone();
    let others = |v: &[libp2p::PeerId]| -> Vec<String> {
        v.iter()
            .filter(|p| **p != view.me)
            .map(|p| p.to_string())
            .collect()
    };
    let peers = others(&view.live);
    let expected = if view.enabled {
        others(&view.allowed)
    } else {
        Vec::new()
    };
    let missing = expected
        .iter()
        .filter(|p| !peers.contains(p))
        .cloned()
        .collect();
    m.mesh_expected_peers
        .set(i64::try_from(expected.len()).unwrap_or(i64::MAX));

    Snapshot {
        version: env!("CARGO_PKG_VERSION"),
        taken_ms: now,
        started_ms: relay.status.started_ms,
        lanes,
        chains,
        clients,
        client_problems: hosted.problems.clone(),
        mesh: MeshView {
            enabled: view.enabled,
            peer_id: view.me.to_string(),
            peers,
            expected,
            missing,
        },
        recent: relay.ledger.recent(),
    }
}

/// A client's row, with its gauges set.
fn client_view(
    relay: &Relay,
    host: &str,
    chain: &ChainId,
    facts: ClientFacts,
    now: u64,
) -> ClientView {
    let labels = [host, chain.as_str()];
    let age_s = facts.age_ms(now) / 1000;
    let trust_remaining_s = facts.trust_remaining_ms(now).map(|ms| ms / 1000);
    let m = &relay.metrics;
    m.client_age
        .with_label_values(&labels)
        .set(i64::try_from(age_s).unwrap_or(i64::MAX));
    m.client_frozen
        .with_label_values(&labels)
        .set(i64::from(facts.frozen));
    if let Some(left) = trust_remaining_s {
        m.client_trust_remaining
            .with_label_values(&labels)
            .set(left);
    }
    ClientView {
        host: host.to_string(),
        chain: chain.clone(),
        facts,
        age_s,
        trust_remaining_s,
    }
}
