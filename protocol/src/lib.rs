//! # xrelay-protocol
//!
//! What both ends of a lane and the relayer between them agree on, defined once: the relay
//! transaction bodies and their tags ([`RelayTx`]), the proof carriers they hold
//! ([`InboundMessage`], [`ProvenAck`], [`ProvenMessage`]), what a relayer asks a chain to
//! run whatever its family ([`Submission`]), how a message ended ([`Outcome`]), the
//! verification budget and batch limits ([`limits`], [`TxCost`]) and the `transfer` app's
//! packet. Messages, acks, paths and proofs themselves are the light client's
//! (`xrelay_light_client::{message, paths, proof}`), which this crate builds on.
//!
//! Chains, adapters and the relay core depend on this crate; none of them imports a chain
//! crate for these types. `docs/PROTOCOL.md` §9.2 specifies the bytes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical_hex;
pub mod cost;
pub mod items;
pub mod limits;
pub mod outcome;
pub mod relay_tx;
pub mod submission;
pub mod transfer;
pub mod trusted;

pub use cost::{evm_update_runs, light_block_runs, TooCostly, TxCost};
pub use items::{InboundMessage, ProvenAck, ProvenMessage, SourceProof};
pub use outcome::Outcome;
pub use relay_tx::{tag, RelayTx};
pub use submission::{ChainProof, ClientUpdate, MixedProofs, Submission};
pub use transfer::TransferPacket;
