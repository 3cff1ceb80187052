//! The running mesh: the [`Mesh`] handle the relayer holds (membership view, listening
//! addresses, commands, the lanes it cannot serve) and the task behind it: a libp2p swarm
//! (TCP, noise, yamux, gossipsub, identify) whose event loop publishes this relayer's
//! heartbeats and attester signatures, keeps the allow-list, redials peers, and turns
//! members' heartbeats into the [`Membership`] view. The only part of the mesh that does
//! networking.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::{KeyType, Keypair};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, watch};
use xrelay_light_client::ChainId;

use super::heartbeat::{Beats, Heartbeat, Lane};
use super::identity::load_or_create_identity;
use super::membership::Membership;
use super::signing::{accept_heartbeat, sign_heartbeat};
use super::MeshSection;
use crate::attestations::payload::{decode_payload, encode_payload};
use crate::attestations::AttestationBoard;
use crate::metrics::MeshMetrics;

/// The gossipsub topic of heartbeats (payload: [`heartbeat`](super::heartbeat),
/// PROTOCOL.md §10). `v2`: signed, counted and listing unserved lanes; `v1` members (an
/// 8-byte clock) are not heard, as if partitioned, until they are upgraded.
pub const HEARTBEAT_TOPIC: &str = "xrelay/mesh/heartbeat/v2";

/// The gossipsub topic of attester signatures (payload: canonical `Attestation ‖
/// AttesterSignature`, see [`crate::attestations::payload`]).
pub const ATTEST_TOPIC: &str = "xrelay/mesh/attest/v1";

/// Consecutive failed passes of a lane worker after which this relayer tells the mesh it
/// cannot serve the lane. With the worker's backoff (one block, doubling) that is about 30
/// block times of trying: long enough that a node restart or a contended client update
/// does not move work around, short enough that a lane waits on a stuck member briefly.
pub const STUCK_AFTER_FAILURES: u32 = 5;

/// Commands to the mesh task (fault injection for partition tests, behind the admin API).
#[derive(Debug)]
pub enum MeshCommand {
    /// Drop every connection and ignore every peer for this long.
    Isolate(Duration),
}

/// What the mesh needs of one end of a lane to judge whether this relayer can serve it.
/// The relay core's chain handle implements it, so that the mesh does not import the core
/// (which holds the mesh).
pub trait LaneEnd {
    /// The chain at this end.
    fn chain_id(&self) -> &ChainId;
    /// Whether the chain was found misbehaving (nothing from it is relayed).
    fn is_frozen(&self) -> bool;
}

impl<T: LaneEnd + ?Sized> LaneEnd for Arc<T> {
    fn chain_id(&self) -> &ChainId {
        (**self).chain_id()
    }

    fn is_frozen(&self) -> bool {
        (**self).is_frozen()
    }
}

/// The running mesh.
pub struct Mesh {
    /// The current membership.
    pub view: watch::Receiver<Membership>,
    /// Where it listens (once bound).
    pub listening: watch::Receiver<Vec<Multiaddr>>,
    /// Commands.
    pub commands: mpsc::Sender<MeshCommand>,
    /// Its item window.
    pub window: u64,
    /// Attester signatures: this relayer's go out through the mesh, members' come in.
    pub attestations: Arc<AttestationBoard>,
    /// Lanes this relayer cannot serve now, listed in its heartbeats.
    unserved: Arc<Mutex<BTreeSet<Lane>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Mesh {
    /// Records whether this relayer can serve lane `source → destination` now (a lane
    /// worker's verdict); from the next heartbeat on, the other members skip it for that
    /// lane's items while it cannot. Returns whether that changed anything.
    pub fn set_lane_served(&self, source: &ChainId, destination: &ChainId, served: bool) -> bool {
        let lane = Lane {
            source: source.clone(),
            destination: destination.clone(),
        };
        let mut unserved = self.unserved.lock().unwrap_or_else(|e| e.into_inner());
        if served {
            unserved.remove(&lane)
        } else {
            unserved.insert(lane)
        }
    }

    /// A lane worker's report after a pass over `src → dst`: `failed_passes` consecutive
    /// passes failed. This relayer cannot serve the lane once [`STUCK_AFTER_FAILURES`]
    /// passes in a row failed (a proof or header it cannot get verified, a node that does
    /// not answer) or while either chain is frozen for it; it can again after one pass
    /// succeeds. The change goes out with the next heartbeat (and is logged).
    pub fn report_lane(&self, src: &impl LaneEnd, dst: &impl LaneEnd, failed_passes: u32) {
        let (src, dst, frozen) = (
            src.chain_id(),
            dst.chain_id(),
            src.is_frozen() || dst.is_frozen(),
        );
        let stuck = frozen || failed_passes >= STUCK_AFTER_FAILURES;
        if self.set_lane_served(src, dst, !stuck) {
            if stuck && self.view.borrow().enabled {
                tracing::warn!(src = %src, dst = %dst, frozen, failed_passes, "this relayer cannot serve the lane: other mesh members take its windows over");
            } else if stuck {
                tracing::warn!(src = %src, dst = %dst, frozen, failed_passes, "this relayer cannot serve the lane");
            } else {
                tracing::info!(src = %src, dst = %dst, "this relayer serves the lane again");
            }
        }
    }

    /// The lanes this relayer reports it cannot serve.
    pub fn unserved_lanes(&self) -> Vec<Lane> {
        let unserved = self.unserved.lock().unwrap_or_else(|e| e.into_inner());
        unserved.iter().cloned().collect()
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
}

impl Mesh {
    /// A mesh that is off: this relayer owns all work, and its attestation board sees only
    /// its own signatures (enough for a committee of one).
    pub fn off(window: u64, attestations: Arc<AttestationBoard>) -> Mesh {
        let me = Keypair::generate_ed25519().public().to_peer_id();
        let (_, view) = watch::channel(Membership::solo(me));
        let (_, listening) = watch::channel(Vec::new());
        let (commands, _) = mpsc::channel(1);
        Mesh {
            view,
            listening,
            commands,
            window,
            attestations,
            unserved: Default::default(),
            task: tokio::spawn(async {}),
        }
    }

    /// Starts the mesh of `cfg` (which must be enabled and valid), gossiping the attester
    /// signatures of `attestations`.
    pub async fn start(
        cfg: &MeshSection,
        metrics: MeshMetrics,
        attestations: Arc<AttestationBoard>,
    ) -> anyhow::Result<Mesh> {
        let path = cfg
            .identity_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("mesh.identity_key is required"))?;
        let key = load_or_create_identity(&path)?;
        if key.key_type() != KeyType::Ed25519 {
            anyhow::bail!(
                "{}: the mesh identity must be an ed25519 key (heartbeats are signed with it and checked against the peer id), not {:?}",
                path.display(),
                key.key_type()
            );
        }
        let signer = key.clone();
        let me = key.public().to_peer_id();
        let allowed: BTreeSet<PeerId> = cfg
            .allowed
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()?;
        if !allowed.contains(&me) {
            tracing::warn!(peer = %me, "this relayer's peer id is not on mesh.allowed: it will do no work");
        }
        let gossip_cfg = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(cfg.heartbeat_ms.clamp(100, 1_000)))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .build()
            .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| {
                let gossipsub = gossipsub::Behaviour::new(
                    MessageAuthenticity::Signed(key.clone()),
                    gossip_cfg,
                )?;
                let identify = identify::Behaviour::new(identify::Config::new(
                    "/xrelay/1.0.0".into(),
                    key.public(),
                ));
                Ok(Behaviour {
                    gossipsub,
                    identify,
                })
            })
            .map_err(|e| anyhow::anyhow!("mesh behaviour: {e}"))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let topic = IdentTopic::new(HEARTBEAT_TOPIC);
        swarm.behaviour_mut().gossipsub.subscribe(&topic)?;
        let attest_topic = IdentTopic::new(ATTEST_TOPIC);
        swarm.behaviour_mut().gossipsub.subscribe(&attest_topic)?;
        let mut own_signatures = attestations.subscribe_outbound();
        let board = attestations.clone();
        swarm.listen_on(cfg.listen.parse()?)?;
        let peers: Vec<Multiaddr> = cfg
            .peers
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()?;

        let initial = Membership {
            me,
            live: if allowed.contains(&me) {
                vec![me]
            } else {
                vec![]
            },
            allowed: allowed.iter().copied().collect(),
            enabled: true,
            unserved: BTreeMap::new(),
        };
        let (view_tx, view) = watch::channel(initial);
        let (listen_tx, listening) = watch::channel(Vec::new());
        let (commands, mut rx) = mpsc::channel(8);
        let heartbeat = Duration::from_millis(cfg.heartbeat_ms);
        let grace = Duration::from_millis(cfg.grace_ms);
        let unserved: Arc<Mutex<BTreeSet<Lane>>> = Default::default();
        let own_unserved = unserved.clone();
        let task = tokio::spawn(async move {
            let mut beats: Beats<PeerId> = Beats::new(grace);
            // Above every counter of this relayer's earlier runs (fewer than one beat per
            // millisecond), so a restart is not taken for a replay.
            let mut counter = crate::clock::now_ms();
            let me_bytes = me.to_bytes();
            let mut beat = tokio::time::interval(heartbeat);
            let mut redial = tokio::time::interval(Duration::from_secs(2));
            let mut isolated_until: Option<Instant> = None;
            loop {
                tokio::select! {
                    _ = beat.tick() => {
                        let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                        let mine: BTreeSet<Lane> = own_unserved
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clone();
                        counter += 1;
                        if !isolated {
                            let hb = Heartbeat::new(counter, crate::clock::now_ms(), mine.iter().cloned());
                            match sign_heartbeat(&signer, &me_bytes, &hb) {
                                // No peers yet is normal at start; heartbeats resume when they come.
                                Some(payload) => {
                                    let _ = swarm.behaviour_mut().gossipsub.publish(topic.clone(), payload);
                                }
                                None => tracing::error!("the identity key could not sign a heartbeat"),
                            }
                            // Again for members that joined since: gossipsub message ids
                            // carry the sequence number, so repeats are new messages, and
                            // the board drops what it already holds cheaply.
                            for (attestation, signature) in board.recent_own() {
                                let payload = encode_payload(&attestation, &signature);
                                let _ = swarm.behaviour_mut().gossipsub.publish(attest_topic.clone(), payload);
                            }
                        }
                        let now = Instant::now();
                        let mut live = Vec::new();
                        let mut lanes = BTreeMap::new();
                        if !isolated {
                            for (p, unserved) in beats.live(now) {
                                if allowed.contains(p) {
                                    live.push(*p);
                                    if !unserved.is_empty() {
                                        lanes.insert(*p, unserved.clone());
                                    }
                                }
                            }
                        }
                        if allowed.contains(&me) {
                            live.push(me);
                            if !mine.is_empty() {
                                lanes.insert(me, mine);
                            }
                        }
                        live.sort();
                        live.dedup();
                        metrics.peers.set(live.iter().filter(|p| **p != me).count() as i64);
                        view_tx.send_if_modified(|v| {
                            let mut changed = false;
                            if v.live != live {
                                tracing::info!(members = live.len(), "mesh membership changed");
                                v.live = live;
                                changed = true;
                            }
                            if v.unserved != lanes {
                                tracing::info!(members = lanes.len(), "lanes members cannot serve changed");
                                v.unserved = lanes;
                                changed = true;
                            }
                            changed
                        });
                    }
                    _ = redial.tick() => {
                        let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                        if !isolated {
                            for addr in &peers {
                                let peer = addr.iter().find_map(|c| match c {
                                    libp2p::multiaddr::Protocol::P2p(p) => Some(p),
                                    _ => None,
                                });
                                if peer.is_some_and(|p| !swarm.is_connected(&p)) {
                                    let _ = swarm.dial(addr.clone());
                                }
                            }
                        }
                    }
                    own = own_signatures.recv() => match own {
                        Ok((attestation, signature)) => {
                            let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                            if !isolated {
                                let payload = encode_payload(&attestation, &signature);
                                // Without subscribed peers yet this fails; the heartbeat
                                // re-publishes it.
                                let _ = swarm.behaviour_mut().gossipsub.publish(attest_topic.clone(), payload);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(skipped)) => {
                            tracing::debug!(skipped, "own attester signatures skipped; the newest are re-published with the heartbeat");
                        }
                        // The board (and so the sender) lives as long as this task.
                        Err(broadcast::error::RecvError::Closed) => {}
                    },
                    cmd = rx.recv() => match cmd {
                        Some(MeshCommand::Isolate(d)) => {
                            tracing::warn!(ms = d.as_millis() as u64, "mesh isolated on request (fault injection)");
                            isolated_until = Some(Instant::now() + d);
                            beats.clear();
                            let connected: Vec<PeerId> = swarm.connected_peers().copied().collect();
                            for p in connected {
                                let _ = swarm.disconnect_peer_id(p);
                            }
                        }
                        None => {}
                    },
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::NewListenAddr { address, .. } => {
                            listen_tx.send_modify(|l| l.push(address));
                        }
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                            if !allowed.contains(&peer_id) || isolated {
                                if !allowed.contains(&peer_id) {
                                    metrics.rejected.inc();
                                    tracing::warn!(peer = %peer_id, "peer not on mesh.allowed: disconnected");
                                }
                                let _ = swarm.disconnect_peer_id(peer_id);
                            }
                        }
                        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                            let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                            if let Some(source) = message.source {
                                if allowed.contains(&source) && source != me && !isolated {
                                    // Only a believed heartbeat makes a member live; any other
                                    // message may be a copy of an old one.
                                    if message.topic == topic.hash() {
                                        accept_heartbeat(&mut beats, &metrics, &source, &message.data);
                                    } else if message.topic == attest_topic.hash() {
                                        accept_attestation(&board, &metrics, source, &message.data);
                                    }
                                }
                            }
                        }
                        _ => {}
                    },
                }
            }
        });
        Ok(Mesh {
            view,
            listening,
            commands,
            window: cfg.window,
            attestations,
            unserved,
            task,
        })
    }
}

/// Offers one attester signature a member gossiped to the board, counting what is dropped.
fn accept_attestation(
    board: &AttestationBoard,
    metrics: &MeshMetrics,
    source: PeerId,
    data: &[u8],
) {
    match decode_payload(data) {
        Ok((attestation, signature)) => {
            let height = attestation.height;
            let chain = attestation.chain_id.clone();
            match board.offer(attestation, signature) {
                Ok(()) => metrics.attestations_received.inc(),
                Err(refused) => {
                    metrics
                        .attestations_dropped
                        .with_label_values(&[refused.label()])
                        .inc();
                    tracing::warn!(peer = %source, attester = %signature.attester, %chain, height, reason = %refused, "attester signature from a member refused: dropped");
                }
            }
        }
        Err(e) => {
            metrics
                .attestations_dropped
                .with_label_values(&["malformed"])
                .inc();
            tracing::warn!(peer = %source, error = %e, "malformed attestation payload from a member: dropped");
        }
    }
}

#[cfg(test)]
mod tests;
