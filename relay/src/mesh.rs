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
//! The mesh also carries attester signatures (PROTOCOL.md §10, §12): what this relayer signs
//! ([`AttestationBoard::publish_own`]) is gossiped on [`ATTEST_TOPIC`], re-published with
//! each heartbeat while among its newest, and what members send is offered to the board.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr};

/// A relayer's identity in the mesh.
pub use libp2p::PeerId;
use prometheus::{IntCounter, IntCounterVec, IntGauge};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc, watch};

use crate::core::attestations::payload::{decode_payload, encode_payload};
use crate::core::attestations::AttestationBoard;

/// The gossipsub topic of heartbeats.
pub const HEARTBEAT_TOPIC: &str = "xrelay/mesh/heartbeat/v1";

/// The gossipsub topic of attester signatures (payload: canonical `Attestation ‖
/// AttesterSignature`, see [`crate::core::attestations::payload`]).
pub const ATTEST_TOPIC: &str = "xrelay/mesh/attest/v1";

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

impl Membership {
    /// A relayer alone (mesh off).
    pub fn solo(me: PeerId) -> Self {
        Membership {
            live: vec![me],
            allowed: vec![me],
            me,
            enabled: false,
        }
    }

    /// Whether this relayer should do `item` now.
    pub fn owns(&self, item: &[u8]) -> bool {
        !self.enabled || highest(self.live.iter(), item) == Some(&self.me)
    }

    /// Whether this relayer does `item` only because its first owner is not live.
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
    task: tokio::task::JoinHandle<()>,
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
        };
        let (view_tx, view) = watch::channel(initial);
        let (listen_tx, listening) = watch::channel(Vec::new());
        let (commands, mut rx) = mpsc::channel(8);
        let heartbeat = Duration::from_millis(cfg.heartbeat_ms);
        let grace = Duration::from_millis(cfg.grace_ms);
        let task = tokio::spawn(async move {
            let mut last_seen: BTreeMap<PeerId, Instant> = BTreeMap::new();
            let mut beat = tokio::time::interval(heartbeat);
            let mut redial = tokio::time::interval(Duration::from_secs(2));
            let mut isolated_until: Option<Instant> = None;
            loop {
                tokio::select! {
                    _ = beat.tick() => {
                        let isolated = isolated_until.is_some_and(|t| Instant::now() < t);
                        if !isolated {
                            let stamp = crate::core::chain::now_ms().to_be_bytes();
                            // No peers yet is normal at start; heartbeats resume when they come.
                            let _ = swarm.behaviour_mut().gossipsub.publish(topic.clone(), stamp.to_vec());
                            // Again for members that joined since: gossipsub message ids
                            // carry the sequence number, so repeats are new messages, and
                            // the board drops what it already holds cheaply.
                            for (attestation, signature) in board.recent_own() {
                                let payload = encode_payload(&attestation, &signature);
                                let _ = swarm.behaviour_mut().gossipsub.publish(attest_topic.clone(), payload);
                            }
                        }
                        let now = Instant::now();
                        let mut live: Vec<PeerId> = last_seen
                            .iter()
                            .filter(|(p, t)| allowed.contains(p) && now.duration_since(**t) < grace && !isolated)
                            .map(|(p, _)| *p)
                            .collect();
                        if allowed.contains(&me) {
                            live.push(me);
                        }
                        live.sort();
                        live.dedup();
                        metrics.peers.set(live.iter().filter(|p| **p != me).count() as i64);
                        view_tx.send_if_modified(|v| {
                            if v.live != live {
                                tracing::info!(members = live.len(), "mesh membership changed");
                                v.live = live;
                                true
                            } else {
                                false
                            }
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
                            last_seen.clear();
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
                                    last_seen.insert(source, Instant::now());
                                    if message.topic == attest_topic.hash() {
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
        };
        assert!(items.iter().all(|i| !outsider.owns(i)));
        // Mesh off: everything is ours.
        assert!(Membership::solo(all[0]).owns(&items[0]));
    }
}
