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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr};

/// A relayer's identity in the mesh.
pub use libp2p::PeerId;
use prometheus::{IntCounter, IntGauge};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

/// The gossipsub topic of heartbeats.
pub const HEARTBEAT_TOPIC: &str = "xrelay/mesh/heartbeat/v1";

/// `[mesh]` of the config (defined in `xrelay-config`, which has no libp2p).
pub use xrelay_config::MeshSection;

/// Reads the identity key at `path`, creating it (mode 0600) if it does not exist.
pub fn load_or_create_identity(path: &Path) -> anyhow::Result<Keypair> {
    if path.exists() {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not an identity key: {e}", path.display()));
    }
    let key = Keypair::generate_ed25519();
    write_identity(path, &key)?;
    Ok(key)
}

/// Writes `key` to `path` readable by the owner only.
pub fn write_identity(path: &Path, key: &Keypair) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = key.to_protobuf_encoding()?;
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
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
    /// A mesh that is off: this relayer owns all work.
    pub fn off(window: u64) -> Mesh {
        let me = Keypair::generate_ed25519().public().to_peer_id();
        let (_, view) = watch::channel(Membership::solo(me));
        let (_, listening) = watch::channel(Vec::new());
        let (commands, _) = mpsc::channel(1);
        Mesh {
            view,
            listening,
            commands,
            window,
            task: tokio::spawn(async {}),
        }
    }

    /// Starts the mesh of `cfg` (which must be enabled and valid).
    pub async fn start(cfg: &MeshSection, metrics: MeshMetrics) -> anyhow::Result<Mesh> {
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
            task,
        })
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
