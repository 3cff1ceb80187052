//! The relayer mesh: the consortium's relayers form a libp2p network (TCP + noise + yamux,
//! gossipsub heartbeats, identify) and split the work deterministically, so a message is
//! submitted about once instead of once per relayer.
//!
//! Membership is live: an allowed peer is a member while its heartbeats keep arriving
//! within the grace period. Work is split by rendezvous hashing: the owner of a work item
//! (a window of a lane's sequences, for deliveries, timeouts and acks) is the live member
//! with the highest `SHA-256(peer id ‖ item)`. When a member goes silent, its items rehash
//! to the others (a takeover). A peer that is not on the allow-list is disconnected, never
//! counted as a member and so never given work; a relayer not on its own allow-list does no
//! work at all. Two relayers that cannot see each other both work (duplicates are "already
//! delivered" on chain), so a partition costs fees, never messages.
//!
//! Heartbeats ([`heartbeat`]) are signed and carry a counter that only grows and the time
//! they were made: a copy sent again (a replay) or one made more than the grace period ago
//! is refused and counted, so only the member itself can keep itself live. They also list
//! the lanes the member cannot serve now ([`Mesh::set_lane_served`], reported by the lane
//! workers): the others skip it when they pick those lanes' owners, so a member stuck on a
//! lane, or with a chain of it frozen, hands its windows over while it stays live for the
//! rest. It keeps trying those windows itself, and on its first success it serves the lane
//! again.
//!
//! The mesh also carries attester signatures (PROTOCOL.md §10, §12): what this relayer signs
//! ([`AttestationBoard::publish_own`]) is gossiped on [`ATTEST_TOPIC`], re-published with
//! each heartbeat while among its newest, and what members send is offered to the board.

pub mod heartbeat;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::{KeyType, Keypair, PublicKey};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr};

/// A relayer's identity in the mesh.
pub use libp2p::PeerId;
use prometheus::{IntCounter, IntCounterVec, IntGauge};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc, watch};

use crate::core::attestations::payload::{decode_payload, encode_payload};
use crate::core::attestations::AttestationBoard;
use heartbeat::{Beats, Heartbeat, Lane, Refusal};
use xrelay_light_client::ChainId;

/// The gossipsub topic of heartbeats (payload: [`heartbeat`], PROTOCOL.md §10). `v2`:
/// signed, counted and listing unserved lanes; `v1` members (an 8-byte clock) are not
/// heard, as if partitioned, until they are upgraded.
pub const HEARTBEAT_TOPIC: &str = "xrelay/mesh/heartbeat/v2";

/// The gossipsub topic of attester signatures (payload: canonical `Attestation ‖
/// AttesterSignature`, see [`crate::core::attestations::payload`]).
pub const ATTEST_TOPIC: &str = "xrelay/mesh/attest/v1";

/// Consecutive failed passes of a lane worker after which this relayer tells the mesh it
/// cannot serve the lane. With the worker's backoff (one block, doubling) that is about 30
/// block times of trying: long enough that a node restart or a contended client update
/// does not move work around, short enough that a lane waits on a stuck member briefly.
pub const STUCK_AFTER_FAILURES: u32 = 5;

/// `[mesh]` of the config (defined in `xrelay-config`, which has no libp2p).
pub use xrelay_config::MeshSection;

/// Reads the identity key at `path`, creating it (mode 0600 from its creation) if it does
/// not exist.
pub fn load_or_create_identity(path: &Path) -> anyhow::Result<Keypair> {
    if !path.exists() {
        let key = Keypair::generate_ed25519();
        match write_identity(path, &key) {
            Ok(()) => return Ok(key),
            // Another process created it meanwhile: read theirs.
            Err(e) if path.exists() => {
                tracing::debug!(path = %path.display(), error = %e, "identity key created by another process");
            }
            Err(e) => return Err(e),
        }
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not an identity key: {e}", path.display()))
}

/// Writes `key` to `path` (which must not exist) readable by the owner only: the bytes go
/// to a temporary file created with mode 0600 in the same directory, which is synced and
/// then linked to `path` (refused if `path` exists), so the key is never readable by
/// others, not even for a moment, and `path` never holds half a key.
pub fn write_identity(path: &Path, key: &Keypair) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let bytes = key.to_protobuf_encoding()?;
    let mut file = private_temp_file(dir)?;
    file.write_all(&bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.path().display()))?;
    file.persist_noclobber(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// A new empty file in `dir`, created (`O_CREAT | O_EXCL`) with mode 0600, removed when
/// dropped unless persisted.
fn private_temp_file(dir: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".identity-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
}

/// Who is in the mesh right now, as this relayer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// This relayer.
    pub me: PeerId,
    /// Live members (this relayer included when it is allowed), sorted.
    pub live: Vec<PeerId>,
    /// Every allowed peer (live or not).
    pub allowed: Vec<PeerId>,
    /// Whether the mesh is on (off: this relayer owns everything).
    pub enabled: bool,
    /// Lanes live members (this relayer included) cannot serve now; members without any
    /// are not listed. Others are skipped for those lanes' items; this relayer's own entry
    /// is informational (it keeps its items, to find out when it can serve again).
    pub unserved: BTreeMap<PeerId, BTreeSet<Lane>>,
}

fn score(peer: &PeerId, item: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(peer.to_bytes());
    h.update(item);
    h.finalize().into()
}

fn highest<'a>(peers: impl Iterator<Item = &'a PeerId>, item: &[u8]) -> Option<&'a PeerId> {
    peers.max_by_key(|p| score(p, item))
}

/// The lane a work item (`{kind}/{src}/{dst}/{window}`) belongs to; chain ids contain no
/// `/`, so the split is unambiguous.
fn lane_of(item: &[u8]) -> Option<Lane> {
    let text = std::str::from_utf8(item).ok()?;
    let mut parts = text.split('/');
    let (_kind, src, dst, _window) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Lane {
        source: ChainId::new(src).ok()?,
        destination: ChainId::new(dst).ok()?,
    })
}

impl Membership {
    /// A relayer alone (mesh off).
    pub fn solo(me: PeerId) -> Self {
        Membership {
            live: vec![me],
            allowed: vec![me],
            me,
            enabled: false,
            unserved: BTreeMap::new(),
        }
    }

    /// The member that does `item`: the live member with the highest score among those
    /// that serve its lane. This relayer counts as serving every lane (it keeps trying its
    /// own items, and does those of a lane no other member serves); when it is not live
    /// itself (not allowed) and nobody serves the lane, all live members count.
    pub fn owner(&self, item: &[u8]) -> Option<&PeerId> {
        let others_unserved = self
            .unserved
            .iter()
            .any(|(p, l)| *p != self.me && !l.is_empty());
        let lane = if others_unserved { lane_of(item) } else { None };
        let serves = |p: &&PeerId| {
            **p == self.me
                || lane.as_ref().is_none_or(|lane| {
                    self.unserved
                        .get(*p)
                        .is_none_or(|lanes| !lanes.contains(lane))
                })
        };
        highest(self.live.iter().filter(serves), item).or_else(|| highest(self.live.iter(), item))
    }

    /// Whether this relayer should do `item` now.
    pub fn owns(&self, item: &[u8]) -> bool {
        !self.enabled || self.owner(item) == Some(&self.me)
    }

    /// Whether this relayer does `item` only because its first owner is not live or does
    /// not serve the item's lane.
    pub fn is_takeover(&self, item: &[u8]) -> bool {
        self.enabled && self.owns(item) && highest(self.allowed.iter(), item) != Some(&self.me)
    }
}

/// The work item of a lane window: `{kind}/{src}/{dst}/{sequence / window}`.
pub fn work_item(kind: &str, src: &str, dst: &str, sequence: u64, window: u64) -> Vec<u8> {
    format!("{kind}/{src}/{dst}/{}", sequence / window.max(1)).into_bytes()
}

/// Commands to the mesh task (fault injection for partition tests, behind the admin API).
#[derive(Debug)]
pub enum MeshCommand {
    /// Drop every connection and ignore every peer for this long.
    Isolate(Duration),
}

/// Mesh metrics.
#[derive(Clone)]
pub struct MeshMetrics {
    /// `xrelay_mesh_peers`: live members other than this relayer.
    pub peers: IntGauge,
    /// `xrelay_mesh_takeovers_total`: work items taken over from silent members.
    pub takeovers: IntCounter,
    /// `xrelay_mesh_rejected_peers_total`: connections from peers not on the allow-list.
    pub rejected: IntCounter,
    /// `xrelay_mesh_heartbeats_refused_total{reason}`: heartbeats from allowed members not
    /// believed (so they kept nobody live): `malformed`, `bad_signature`, `replay`, `stale`
    /// or `future` ([`heartbeat::Refusal`]).
    pub heartbeats_refused: IntCounterVec,
    /// `xrelay_mesh_attestations_received_total`: attester signatures from members that
    /// verified and went to the board.
    pub attestations_received: IntCounter,
    /// `xrelay_mesh_attestations_dropped_total{reason}`: attester signatures from members
    /// that were dropped: `malformed` (the payload does not decode strictly),
    /// `unknown_chain` (no committee of the attested chain is configured here),
    /// `not_member` (the attester is not in that committee), `bad_signature` (it does not
    /// recover to the attester it names) or `full` (the attestation has the most signers).
    pub attestations_dropped: IntCounterVec,
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
    pub fn report_lane(
        &self,
        src: &crate::core::chain::ChainHandle,
        dst: &crate::core::chain::ChainHandle,
        failed_passes: u32,
    ) {
        let frozen = src.is_frozen() || dst.is_frozen();
        let stuck = frozen || failed_passes >= STUCK_AFTER_FAILURES;
        if self.set_lane_served(&src.id, &dst.id, !stuck) {
            if stuck && self.view.borrow().enabled {
                tracing::warn!(src = %src.id, dst = %dst.id, frozen, failed_passes, "this relayer cannot serve the lane: other mesh members take its windows over");
            } else if stuck {
                tracing::warn!(src = %src.id, dst = %dst.id, frozen, failed_passes, "this relayer cannot serve the lane");
            } else {
                tracing::info!(src = %src.id, dst = %dst.id, "this relayer serves the lane again");
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
            let mut counter = crate::core::chain::now_ms();
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
                            let hb = Heartbeat::new(counter, crate::core::chain::now_ms(), mine.iter().cloned());
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

/// The payload of heartbeat `hb` signed by this relayer's identity key (`None` if the key
/// cannot sign, which an ed25519 key always can).
fn sign_heartbeat(key: &Keypair, me: &[u8], hb: &Heartbeat) -> Option<Vec<u8>> {
    let signature = key.sign(&heartbeat::signing_bytes(me, hb)).ok()?;
    let signature: [u8; heartbeat::SIGNATURE_LEN] = signature.try_into().ok()?;
    Some(heartbeat::encode_payload(hb, &signature))
}

/// The ed25519 key a peer id carries (an ed25519 peer id is the identity multihash of the
/// public key, so the key needs no lookup).
fn peer_public_key(peer: &PeerId) -> Option<PublicKey> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if hash.code() != 0 {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(hash.digest()).ok()?;
    (key.key_type() == KeyType::Ed25519).then_some(key)
}

/// Decodes heartbeat `data` from `source` and checks its signature under `source`'s key.
pub fn verify_heartbeat(source: &PeerId, data: &[u8]) -> Result<Heartbeat, Refusal> {
    let (hb, signature) = heartbeat::decode_payload(data).map_err(|_| Refusal::Malformed)?;
    let key = peer_public_key(source).ok_or(Refusal::BadSignature)?;
    if !key.verify(
        &heartbeat::signing_bytes(&source.to_bytes(), &hb),
        &signature,
    ) {
        return Err(Refusal::BadSignature);
    }
    Ok(hb)
}

/// Believes a member's heartbeat if it verifies and is news (PROTOCOL.md §10), counting
/// and logging what is refused.
fn accept_heartbeat(
    beats: &mut Beats<PeerId>,
    metrics: &MeshMetrics,
    source: &PeerId,
    data: &[u8],
) {
    let verdict = verify_heartbeat(source, data)
        .and_then(|hb| beats.accept(source, &hb, crate::core::chain::now_ms(), Instant::now()));
    if let Err(refused) = verdict {
        metrics
            .heartbeats_refused
            .with_label_values(&[refused.label()])
            .inc();
        match refused {
            // Replays arrive in bursts when someone re-sends; one line each would flood.
            Refusal::Replay => {
                tracing::debug!(peer = %source, reason = refused.label(), "heartbeat refused: {refused}")
            }
            _ => {
                tracing::warn!(peer = %source, reason = refused.label(), "heartbeat from a member refused: it keeps nobody live ({refused})")
            }
        }
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
mod tests {
    use super::*;

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n)
            .map(|_| Keypair::generate_ed25519().public().to_peer_id())
            .collect()
    }

    fn test_metrics() -> MeshMetrics {
        crate::metrics::Metrics::new().mesh
    }

    /// A mesh config on an ephemeral 127.0.0.1 port with a fresh identity in a temp dir.
    fn local_config(name: &str, allowed: &[PeerId], peers: Vec<String>) -> (MeshSection, PeerId) {
        let dir = std::env::temp_dir().join(format!(
            "xrelay-mesh-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let path = dir.join("identity.key");
        let key = Keypair::generate_ed25519();
        write_identity(&path, &key).unwrap();
        let me = key.public().to_peer_id();
        let mut allowed: Vec<String> = allowed.iter().map(|p| p.to_string()).collect();
        allowed.push(me.to_string());
        let cfg = MeshSection {
            enabled: true,
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            identity_key: Some(path),
            peers,
            allowed,
            heartbeat_ms: 100,
            grace_ms: 2_000,
            window: 500,
        };
        (cfg, me)
    }

    async fn first_address(mesh: &Mesh) -> Multiaddr {
        let mut listening = mesh.listening.clone();
        let addrs = tokio::time::timeout(
            Duration::from_secs(10),
            listening.wait_for(|l| !l.is_empty()),
        )
        .await
        .expect("the mesh listens")
        .expect("the mesh task runs");
        addrs[0].clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_meshes_exchange_attester_signatures_until_both_gather_a_quorum() {
        use xrelay_light_client::evm::attest::{Attestation, Committee};
        use xrelay_light_client::{ChainId, Hash32, SigningKey};

        // Both identities are known up front, so each allow-lists the other.
        let (mut cfg_a, a_id) = local_config("a", &[], vec![]);
        let (cfg_b_tmp, b_id) = local_config("b", &[a_id], vec![]);
        cfg_a.allowed.push(b_id.to_string());
        let metrics_a = test_metrics();
        let board_a = AttestationBoard::new();
        let mesh_a = Mesh::start(&cfg_a, metrics_a.clone(), board_a.clone())
            .await
            .unwrap();
        let addr_a = first_address(&mesh_a).await;
        let cfg_b = MeshSection {
            peers: vec![format!("{addr_a}/p2p/{a_id}")],
            ..cfg_b_tmp
        };

        let keys = [
            SigningKey::from_seed("mesh-attest", 0),
            SigningKey::from_seed("mesh-attest", 1),
        ];
        let committee = Committee::new(keys.iter().map(SigningKey::address).collect(), 2).unwrap();
        board_a.admit(ChainId::new("anvil").unwrap(), &committee);
        let attestation = Attestation {
            chain_id: ChainId::new("anvil").unwrap(),
            height: 12,
            block_hash: Hash32([0x12; 32]),
            state_root: Hash32([0x34; 32]),
            time_ms: 1_700_000_012_000,
        };
        // A publishes before B even exists: B, a late joiner, gets it from the re-publication.
        board_a
            .publish_own(attestation.clone(), attestation.sign(&keys[0]))
            .unwrap();

        let metrics_b = test_metrics();
        let board_b = AttestationBoard::new();
        board_b.admit(attestation.chain_id.clone(), &committee);
        let mesh_b = Mesh::start(&cfg_b, metrics_b.clone(), board_b.clone())
            .await
            .unwrap();
        // B signs once it sees A as a member, as a relayer would on its next block.
        let mut view_b = mesh_b.view.clone();
        tokio::time::timeout(
            Duration::from_secs(20),
            view_b.wait_for(|v| v.live.contains(&a_id)),
        )
        .await
        .expect("the meshes connect")
        .unwrap();
        board_b
            .publish_own(attestation.clone(), attestation.sign(&keys[1]))
            .unwrap();

        let wait = Duration::from_secs(20);
        let (got_a, got_b) = tokio::join!(
            board_a.gather(&attestation, &committee, wait),
            board_b.gather(&attestation, &committee, wait)
        );
        for (who, got) in [("A", got_a), ("B", got_b)] {
            let attested = got.unwrap_or_else(|| panic!("{who} gathers 2 of 2"));
            assert_eq!(attested.attestation, attestation);
            assert_eq!(committee.verify(&attested).unwrap().len(), 2, "{who}");
        }
        // The mesh task counts a signature right after the board stored it (and woke the
        // gatherer), so the counters may trail the gather by a moment.
        let counted = tokio::time::timeout(Duration::from_secs(5), async {
            while metrics_a.attestations_received.get() < 1
                || metrics_b.attestations_received.get() < 1
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(
            counted.is_ok(),
            "both meshes count the signature they received"
        );
        assert_eq!(
            metrics_a
                .attestations_dropped
                .with_label_values(&["malformed"])
                .get(),
            0
        );

        // A member's malformed payload, forged signature, an outsider's signature or one
        // over a chain with no committee here is dropped and counted, never stored.
        let before = board_a.len();
        let mut forged = attestation.sign(&keys[0]);
        forged.attester = keys[1].address();
        let mut other = attestation.clone();
        other.height = 13;
        accept_attestation(&board_a, &metrics_a, b_id, &[1, 2, 3]);
        accept_attestation(&board_a, &metrics_a, b_id, &encode_payload(&other, &forged));
        let mut trailing = encode_payload(&other, &other.sign(&keys[1]));
        trailing.push(0);
        accept_attestation(&board_a, &metrics_a, b_id, &trailing);
        let outsider = SigningKey::from_seed("mesh-attest", 9);
        accept_attestation(
            &board_a,
            &metrics_a,
            b_id,
            &encode_payload(&other, &other.sign(&outsider)),
        );
        let mut elsewhere = other.clone();
        elsewhere.chain_id = ChainId::new("unknown").unwrap();
        accept_attestation(
            &board_a,
            &metrics_a,
            b_id,
            &encode_payload(&elsewhere, &elsewhere.sign(&keys[0])),
        );
        let dropped = |reason| {
            metrics_a
                .attestations_dropped
                .with_label_values(&[reason])
                .get()
        };
        assert_eq!(dropped("malformed"), 2);
        assert_eq!(dropped("bad_signature"), 1);
        assert_eq!(dropped("not_member"), 1);
        assert_eq!(dropped("unknown_chain"), 1);
        assert_eq!(board_a.len(), before);
        drop((mesh_a, mesh_b));
    }

    fn lane(a: &str, b: &str) -> Lane {
        Lane {
            source: ChainId::new(a).unwrap(),
            destination: ChainId::new(b).unwrap(),
        }
    }

    #[test]
    fn a_member_that_cannot_serve_a_lane_is_skipped_for_it_and_keeps_its_other_lanes() {
        let all = peers(3);
        let view = |me: PeerId, unserved: &BTreeMap<PeerId, BTreeSet<Lane>>| Membership {
            me,
            live: all.clone(),
            allowed: all.clone(),
            enabled: true,
            unserved: unserved.clone(),
        };
        let items = |src: &str, dst: &str| -> Vec<Vec<u8>> {
            (0..600u64)
                .flat_map(|w| {
                    ["deliver", "timeout", "ack"].map(|k| work_item(k, src, dst, w * 10, 10))
                })
                .collect()
        };
        let (ab, ba) = (items("a", "b"), items("b", "a"));
        // Member 0 cannot serve a → b.
        let stuck: BTreeMap<PeerId, BTreeSet<Lane>> = [(all[0], [lane("a", "b")].into())].into();
        let healthy = BTreeMap::new();
        let mut took_over = 0;
        for item in &ab {
            let first = (0..3).find(|i| view(all[*i], &healthy).owns(item)).unwrap();
            // The others agree on one owner among themselves, never member 0.
            let owners: Vec<usize> = (1..3)
                .filter(|i| view(all[*i], &stuck).owns(item))
                .collect();
            assert_eq!(owners.len(), 1);
            if first == 0 {
                took_over += 1;
                assert!(view(all[owners[0]], &stuck).is_takeover(item));
            } else {
                assert_eq!(owners[0], first, "a serving member keeps its items");
            }
            // Member 0 keeps trying its own items (that is how it finds out it can serve
            // again): duplicates while stuck, never a gap.
            assert_eq!(view(all[0], &stuck).owns(item), first == 0);
        }
        assert!(took_over > 300, "member 0 had about a third: {took_over}");
        // On its other lane nothing moves.
        for item in &ba {
            for p in &all {
                assert_eq!(view(*p, &stuck).owns(item), view(*p, &healthy).owns(item));
            }
        }
        // Every member stuck on the lane: each tries all of it (nothing waits on another).
        let everyone: BTreeMap<PeerId, BTreeSet<Lane>> =
            all.iter().map(|p| (*p, [lane("a", "b")].into())).collect();
        for item in &ab {
            assert!((0..3).all(|i| view(all[i], &everyone).owns(item)));
        }
    }

    #[test]
    fn a_heartbeat_verifies_only_under_its_authors_peer_id() {
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let (a_id, b_id) = (a.public().to_peer_id(), b.public().to_peer_id());
        let hb = Heartbeat::new(5, 1_000, [lane("x", "y")]);
        let payload = sign_heartbeat(&a, &a_id.to_bytes(), &hb).unwrap();
        assert_eq!(verify_heartbeat(&a_id, &payload), Ok(hb.clone()));
        // Someone else's heartbeat presented as B's, or A's signed as if by B.
        assert_eq!(
            verify_heartbeat(&b_id, &payload),
            Err(Refusal::BadSignature)
        );
        let as_b = sign_heartbeat(&a, &b_id.to_bytes(), &hb).unwrap();
        assert_eq!(verify_heartbeat(&b_id, &as_b), Err(Refusal::BadSignature));
        // Any change to the signed fields breaks the signature.
        let mut other = hb.clone();
        other.counter += 1;
        let mut forged = heartbeat::encode_payload(&other, &[0; 64]);
        let n = forged.len();
        forged[n - 64..].copy_from_slice(&payload[payload.len() - 64..]);
        assert_eq!(verify_heartbeat(&a_id, &forged), Err(Refusal::BadSignature));
        assert_eq!(
            verify_heartbeat(&a_id, &payload[1..]),
            Err(Refusal::Malformed)
        );
        // The v1 payload (a bare clock) is malformed.
        assert_eq!(
            verify_heartbeat(&a_id, &1_000u64.to_be_bytes()),
            Err(Refusal::Malformed)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_hear_each_others_heartbeats_and_the_lanes_each_cannot_serve() {
        let (mut cfg_a, a_id) = local_config("hb-a", &[], vec![]);
        let (cfg_b_tmp, b_id) = local_config("hb-b", &[a_id], vec![]);
        cfg_a.allowed.push(b_id.to_string());
        let metrics_b = test_metrics();
        let mesh_a = Mesh::start(&cfg_a, test_metrics(), AttestationBoard::new())
            .await
            .unwrap();
        let addr_a = first_address(&mesh_a).await;
        let cfg_b = MeshSection {
            peers: vec![format!("{addr_a}/p2p/{a_id}")],
            ..cfg_b_tmp
        };
        let mesh_b = Mesh::start(&cfg_b, metrics_b.clone(), AttestationBoard::new())
            .await
            .unwrap();
        let wait =
            |mesh: &Mesh, what: &'static str, f: Box<dyn Fn(&Membership) -> bool + Send + Sync>| {
                let mut view = mesh.view.clone();
                async move {
                    tokio::time::timeout(Duration::from_secs(20), view.wait_for(|v| f(v)))
                        .await
                        .unwrap_or_else(|_| panic!("timed out: {what}"))
                        .unwrap();
                }
            };
        wait(
            &mesh_b,
            "B sees A",
            Box::new(move |v| v.live.contains(&a_id)),
        )
        .await;
        wait(
            &mesh_a,
            "A sees B",
            Box::new(move |v| v.live.contains(&b_id)),
        )
        .await;
        // A cannot serve x → y: B hears it with A's next heartbeat and owns A's items there.
        let (x, y) = (ChainId::new("x").unwrap(), ChainId::new("y").unwrap());
        assert!(mesh_a.set_lane_served(&x, &y, false));
        assert!(!mesh_a.set_lane_served(&x, &y, false), "no change");
        assert_eq!(mesh_a.unserved_lanes(), [lane("x", "y")]);
        wait(
            &mesh_b,
            "B hears A's unserved lane",
            Box::new(move |v| {
                v.unserved
                    .get(&a_id)
                    .is_some_and(|l| l.contains(&lane("x", "y")))
            }),
        )
        .await;
        let b_view = mesh_b.view.borrow().clone();
        assert!((0..200u64)
            .map(|w| work_item("deliver", "x", "y", w, 1))
            .all(|item| b_view.owns(&item)));
        assert!(mesh_a.set_lane_served(&x, &y, true));
        wait(
            &mesh_b,
            "B hears A serves again",
            Box::new(move |v| !v.unserved.contains_key(&a_id)),
        )
        .await;
        assert_eq!(
            metrics_b
                .heartbeats_refused
                .with_label_values(&["bad_signature"])
                .get()
                + metrics_b
                    .heartbeats_refused
                    .with_label_values(&["malformed"])
                    .get(),
            0
        );
        // A stops: gone from B's view after the grace period.
        drop(mesh_a);
        wait(
            &mesh_b,
            "B drops A",
            Box::new(move |v| !v.live.contains(&a_id)),
        )
        .await;
        drop(mesh_b);
    }

    #[cfg(unix)]
    #[test]
    fn the_identity_key_is_owner_only_from_its_creation_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The file the key is written into is 0600 as created, before a byte is in it
        // (a plain create would be 0644 under the usual umask).
        let fresh = private_temp_file(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(fresh.path()).unwrap().len(), 0);
        assert_eq!(mode(fresh.path()), 0o600);
        drop(fresh);

        let path = dir.path().join("sub/identity.key");
        let key = load_or_create_identity(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        // Read back, the same identity; and only the key file is left in its directory.
        let again = load_or_create_identity(&path).unwrap();
        assert_eq!(again.public().to_peer_id(), key.public().to_peer_id());
        let files: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["identity.key"]);
        // An existing key is never replaced.
        let other = Keypair::generate_ed25519();
        assert!(write_identity(&path, &other).is_err());
        assert_eq!(
            load_or_create_identity(&path)
                .unwrap()
                .public()
                .to_peer_id(),
            key.public().to_peer_id()
        );
        // Garbage is an error, not a new identity.
        std::fs::write(dir.path().join("bad.key"), b"nonsense").unwrap();
        assert!(load_or_create_identity(&dir.path().join("bad.key")).is_err());
    }

    #[test]
    fn rendezvous_gives_each_item_one_owner_and_moves_only_the_dead_members_items() {
        let all = peers(3);
        let views: Vec<Membership> = all
            .iter()
            .map(|me| Membership {
                me: *me,
                live: all.clone(),
                allowed: all.clone(),
                enabled: true,
                unserved: BTreeMap::new(),
            })
            .collect();
        let items: Vec<Vec<u8>> = (0..3_000u64)
            .map(|s| work_item("deliver", "a", "b", s * 100, 100))
            .collect();
        let mut share = vec![0usize; 3];
        for item in &items {
            let owners: Vec<usize> = (0..3).filter(|i| views[*i].owns(item)).collect();
            assert_eq!(owners.len(), 1, "exactly one owner");
            share[owners[0]] += 1;
        }
        assert!(share.iter().all(|s| *s > 800), "roughly even: {share:?}");
        // Member 2 goes silent: its items move to 0 and 1; nobody else's move.
        let survivors: Vec<PeerId> = all[..2].to_vec();
        let after: Vec<Membership> = (0..2)
            .map(|i| Membership {
                me: all[i],
                live: survivors.clone(),
                allowed: all.clone(),
                enabled: true,
                unserved: BTreeMap::new(),
            })
            .collect();
        for item in &items {
            let before_owner = (0..3).find(|i| views[*i].owns(item)).unwrap();
            let now_owner = (0..2).find(|i| after[*i].owns(item)).unwrap();
            if before_owner < 2 {
                assert_eq!(before_owner, now_owner, "a live member keeps its items");
                assert!(!after[now_owner].is_takeover(item));
            } else {
                assert!(after[now_owner].is_takeover(item));
            }
        }
        // A relayer not on the allow-list owns nothing.
        let outsider = Membership {
            me: peers(1)[0],
            live: all.clone(),
            allowed: all.clone(),
            enabled: true,
            unserved: BTreeMap::new(),
        };
        assert!(items.iter().all(|i| !outsider.owns(i)));
        // Mesh off: everything is ours.
        assert!(Membership::solo(all[0]).owns(&items[0]));
    }
}
