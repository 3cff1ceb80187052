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
//!
//! The parts, each with its tests:
//! - `membership`: [`Membership`] and window ownership ([`work_item`], rendezvous
//!   hashing, takeovers, members skipped on lanes they cannot serve): pure logic over peer
//!   ids, no networking;
//! - [`heartbeat`]: the heartbeat payload and [`heartbeat::Beats`], the rules that refuse
//!   replayed, stale and future heartbeats (no libp2p, so the fuzz crate compiles it);
//! - `signing`: heartbeats signed with the identity key and verified against the
//!   sender's peer id ([`verify_heartbeat`]), and what a receiver believes and counts;
//! - `swarm`: the running [`Mesh`]: the libp2p behaviour and its event loop;
//! - `identity`: the ed25519 identity key file ([`load_or_create_identity`]).
//!
//! Its metric families ([`MeshMetrics`]) are defined in `crate::metrics`, which imports
//! nothing from the mesh.
//!
//! [`AttestationBoard::publish_own`]: crate::attestations::AttestationBoard::publish_own

pub mod heartbeat;
mod identity;
mod membership;
mod signing;
mod swarm;

/// A relayer's identity in the mesh.
pub use libp2p::PeerId;

/// `[mesh]` of the config (defined in `xrelay-config`, which has no libp2p).
pub use xrelay_config::MeshSection;

// The public paths are those of the single file the mesh was before its split.
pub use crate::metrics::MeshMetrics;
pub use identity::{load_or_create_identity, write_identity};
pub use membership::{work_item, Membership};
pub use signing::verify_heartbeat;
pub use swarm::{LaneEnd, Mesh, MeshCommand, ATTEST_TOPIC, HEARTBEAT_TOPIC, STUCK_AFTER_FAILURES};
