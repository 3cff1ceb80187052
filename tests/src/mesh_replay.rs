//! A hostile mesh member that replays other members' heartbeats: it joins the mesh with an
//! allowed identity, keeps every heartbeat it receives (gossipsub messages signed by their
//! authors, held back unvalidated) and later forwards a member's kept heartbeats to a peer
//! one at a time, byte for byte, as if they were new. A relayer that believed them would
//! keep a stopped member "live" and leave its windows undone.
//!
//! It uses gossipsub's own message validation: with `validate_messages`, a received message
//! is kept in the message cache until the application accepts it, and accepting forwards
//! it, untouched and with its author's signature, to the peers subscribed to its topic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId};
use tokio::sync::{mpsc, watch};

/// What the test asks of the replayer.
enum Command {
    /// Forward `author`'s kept heartbeats, oldest first, one per `every`, once `to` is
    /// subscribed to the heartbeat topic.
    Replay {
        author: PeerId,
        to: PeerId,
        every: Duration,
    },
}

/// The running hostile member (its task stops when dropped).
pub struct HeartbeatReplayer {
    /// This member's peer id.
    pub peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    kept: watch::Receiver<BTreeMap<PeerId, usize>>,
    released: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HeartbeatReplayer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HeartbeatReplayer {
    /// Joins the mesh with the identity key at `identity` (an allowed member's), listening
    /// on `listen` (where the others dial that member).
    pub fn start(identity: &Path, listen: Multiaddr) -> HeartbeatReplayer {
        let key = xrelay::mesh::load_or_create_identity(identity).expect("identity key");
        let peer_id = key.public().to_peer_id();
        let config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Strict)
            .validate_messages()
            .heartbeat_interval(Duration::from_millis(100))
            // Unvalidated messages stay in the cache for 1,200 gossipsub heartbeats: 2 min.
            .history_length(1_200)
            .history_gossip(3)
            .build()
            .expect("gossipsub config");
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp transport")
            .with_behaviour(|key| {
                let behaviour: gossipsub::Behaviour =
                    gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)?;
                Ok(behaviour)
            })
            .expect("gossipsub")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let topic = IdentTopic::new(xrelay::mesh::HEARTBEAT_TOPIC);
        swarm.behaviour_mut().subscribe(&topic).expect("subscribe");
        swarm.listen_on(listen).expect("listen");
        let (commands, mut rx) = mpsc::channel(4);
        let (kept_tx, kept) = watch::channel(BTreeMap::new());
        let released = Arc::new(AtomicUsize::new(0));
        let counter = released.clone();
        let task = tokio::spawn(async move {
            // Per author, the messages held back (id and the peer they came from).
            let mut held: BTreeMap<PeerId, VecDeque<(MessageId, PeerId)>> = BTreeMap::new();
            let mut subscribed: BTreeSet<PeerId> = BTreeSet::new();
            let mut replay: Option<(PeerId, PeerId)> = None;
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some(Command::Replay { author, to, every }) => {
                            replay = Some((author, to));
                            tick = tokio::time::interval(every);
                        }
                        None => return,
                    },
                    _ = tick.tick() => {
                        let Some((author, to)) = replay else { continue };
                        if !subscribed.contains(&to) {
                            continue;
                        }
                        if let Some((id, from)) = held.get_mut(&author).and_then(VecDeque::pop_front) {
                            if swarm.behaviour_mut().report_message_validation_result(&id, &from, MessageAcceptance::Accept) {
                                counter.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            // Explicit peers get every forwarded message of their topics,
                            // whatever the mesh.
                            swarm.behaviour_mut().add_explicit_peer(&peer_id);
                        }
                        SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, topic: t }) if t == topic.hash() => {
                            subscribed.insert(peer_id);
                        }
                        SwarmEvent::Behaviour(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                            match message.source {
                                Some(author) if message.topic == topic.hash() => {
                                    held.entry(author).or_default().push_back((message_id, propagation_source));
                                    kept_tx.send_modify(|k| *k.entry(author).or_default() += 1);
                                }
                                _ => {
                                    swarm.behaviour_mut().report_message_validation_result(&message_id, &propagation_source, MessageAcceptance::Ignore);
                                }
                            }
                        }
                        _ => {}
                    },
                }
            }
        });
        HeartbeatReplayer {
            peer_id,
            commands,
            kept,
            released,
            task,
        }
    }

    /// Waits (at most `wait`) until `n` heartbeats of `author` are kept.
    pub async fn wait_kept(&self, author: PeerId, n: usize, wait: Duration) {
        let mut kept = self.kept.clone();
        tokio::time::timeout(
            wait,
            kept.wait_for(|k| k.get(&author).copied().unwrap_or(0) >= n),
        )
        .await
        .unwrap_or_else(|_| panic!("{n} heartbeats of {author} not received within {wait:?}"))
        .expect("the replayer runs");
    }

    /// Starts forwarding `author`'s kept heartbeats to `to`, oldest first, one per `every`
    /// (once `to` is subscribed), until none is left.
    pub async fn replay(&self, author: PeerId, to: PeerId, every: Duration) {
        self.commands
            .send(Command::Replay { author, to, every })
            .await
            .expect("the replayer runs");
    }

    /// How many kept heartbeats were forwarded so far.
    pub fn released(&self) -> usize {
        self.released.load(Ordering::SeqCst)
    }
}
