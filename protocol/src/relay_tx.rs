//! Relay transactions: the bodies a relayer submits to a chain (client updates, receives,
//! acks, timeouts, misbehaviour evidence of either family), their tags and their canonical encoding (PROTOCOL.md
//! §9.2). They carry their own proofs and are idempotent, so they need no signature, no
//! account and no nonce. A chain wraps them in its own transaction type (the devchain's
//! `Tx` beside its signed actions under tag 0); an EVM Gateway's relay calls carry the
//! body after the tag.

use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{decode_seq, encode_seq, Reader, Writer};
use xrelay_light_client::evm::client::{EvmStorageProof, EvmUpdate};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{ChainId, Decode, DecodeError, Encode, Height, LightBlock, Misbehaviour};

use crate::cost::TxCost;
use crate::items::{InboundMessage, ProvenAck, ProvenMessage};
use crate::limits::{MAX_BATCH, MAX_EVM_UPDATES, MAX_UPDATE_BLOCKS};

/// A relay transaction: anyone may submit it, the proofs it carries are its authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayTx {
    /// New headers of `chain` for its client here (bisection's intermediate ones included).
    UpdateClient {
        /// The followed chain.
        chain: ChainId,
        /// Light blocks in height order, each verifiable from the previous.
        blocks: Vec<LightBlock>,
    },
    /// Messages from `source`, proven at `proof_height` of its client here, in lane order.
    Recv {
        /// The sending chain.
        source: ChainId,
        /// A height the client of `source` has verified.
        proof_height: Height,
        /// The messages with proofs of their state on the source.
        messages: Vec<InboundMessage>,
    },
    /// Acknowledgements from `destination` of messages sent here.
    Ack {
        /// The chain that received the messages.
        destination: ChainId,
        /// A height the client of `destination` has verified.
        proof_height: Height,
        /// The acks with their proofs.
        acks: Vec<ProvenAck>,
    },
    /// Messages sent here that `destination` can no longer receive.
    Timeout {
        /// The chain the messages were for.
        destination: ChainId,
        /// A verified height of `destination` at or past the messages' timeouts.
        proof_height: Height,
        /// The messages with non-membership proofs of their receipts.
        messages: Vec<ProvenMessage>,
    },
    /// Evidence that `chain`'s validators misbehaved: freezes its client here.
    SubmitMisbehaviour {
        /// The misbehaving chain.
        chain: ChainId,
        /// The evidence (boxed: two light blocks and a validator set).
        evidence: Box<Misbehaviour>,
    },
    /// New blocks of the EVM chain `chain` for its client here: sealed headers or attested
    /// blocks, applied in order, all or nothing.
    UpdateEvmClient {
        /// The followed EVM chain.
        chain: ChainId,
        /// Updates in order, each verifiable from the client after the previous one.
        #[serde(with = "crate::canonical_hex::seq")]
        updates: Vec<EvmUpdate>,
    },
    /// [`RelayTx::Recv`] from an EVM chain: messages proven by storage proofs of its gateway.
    RecvEvm {
        /// The sending EVM chain.
        source: ChainId,
        /// A height the EVM client of `source` has verified.
        proof_height: Height,
        /// The messages with storage proofs of their state on the source.
        messages: Vec<InboundMessage<EvmStorageProof>>,
    },
    /// [`RelayTx::Ack`] from an EVM chain.
    AckEvm {
        /// The EVM chain that received the messages.
        destination: ChainId,
        /// A height the EVM client of `destination` has verified.
        proof_height: Height,
        /// The acks with storage proofs.
        acks: Vec<ProvenAck<EvmStorageProof>>,
    },
    /// [`RelayTx::Timeout`] against an EVM chain.
    TimeoutEvm {
        /// The EVM chain the messages were for.
        destination: ChainId,
        /// A verified height of `destination` at or past the messages' timeouts.
        proof_height: Height,
        /// The messages with storage proofs that their receipts are absent.
        messages: Vec<ProvenMessage<EvmStorageProof>>,
    },
    /// Evidence that the EVM chain `chain`'s validators (or its attestation committee)
    /// vouched for two different blocks at one height (PROTOCOL.md §12.7): freezes its
    /// client here.
    SubmitEvmMisbehaviour {
        /// The misbehaving EVM chain.
        chain: ChainId,
        /// The evidence (boxed: two headers or attestations).
        #[serde(with = "crate::canonical_hex::boxed")]
        evidence: Box<EvmMisbehaviour>,
    },
}

/// The first byte of each transaction's encoding (PROTOCOL.md §9.2). Tag 0 is a chain's
/// own signed transaction; an EVM Gateway's relay calls carry the body after the tag, so
/// the tag is what turns a call back into a transaction.
pub mod tag {
    /// A chain's own signed transaction (the devchain's account actions), never a relay one.
    pub const SIGNED: u8 = 0;
    /// [`super::RelayTx::UpdateClient`].
    pub const UPDATE_CLIENT: u8 = 1;
    /// [`super::RelayTx::Recv`].
    pub const RECV: u8 = 2;
    /// [`super::RelayTx::Ack`].
    pub const ACK: u8 = 3;
    /// [`super::RelayTx::Timeout`].
    pub const TIMEOUT: u8 = 4;
    /// [`super::RelayTx::SubmitMisbehaviour`].
    pub const SUBMIT_MISBEHAVIOUR: u8 = 5;
    /// [`super::RelayTx::UpdateEvmClient`].
    pub const UPDATE_EVM_CLIENT: u8 = 6;
    /// [`super::RelayTx::RecvEvm`].
    pub const RECV_EVM: u8 = 7;
    /// [`super::RelayTx::AckEvm`].
    pub const ACK_EVM: u8 = 8;
    /// [`super::RelayTx::TimeoutEvm`].
    pub const TIMEOUT_EVM: u8 = 9;
    /// [`super::RelayTx::SubmitEvmMisbehaviour`].
    pub const SUBMIT_EVM_MISBEHAVIOUR: u8 = 10;
    /// The highest relay transaction tag: relay tags are `UPDATE_CLIENT..=LAST`.
    pub const LAST: u8 = SUBMIT_EVM_MISBEHAVIOUR;
}

/// Smallest encodings, for bounding counts against the bytes left.
const MIN_MESSAGE_LEN: usize = 4 + 1 + 4 + 1 + 8 + 4 + 1 + 4 + 1 + 4 + 16;
const MIN_PROOF_LEN: usize = 3;
/// Two empty node lists.
const MIN_EVM_PROOF_LEN: usize = 4 + 4;
/// A header update without headers (`u8 0` ‖ `u32 0`).
const MIN_EVM_UPDATE_LEN: usize = 1 + 4;

impl RelayTx {
    /// What verifying this transaction can cost, counted without verifying anything.
    pub fn cost(&self) -> TxCost {
        let proofs = |n: usize| TxCost {
            proofs: n,
            ..TxCost::default()
        };
        match self {
            RelayTx::UpdateClient { blocks, .. } => TxCost::light_blocks(blocks),
            RelayTx::SubmitMisbehaviour { evidence, .. } => {
                TxCost::light_blocks([&evidence.first, &evidence.second])
            }
            RelayTx::UpdateEvmClient { updates, .. } => TxCost::evm_updates(updates),
            RelayTx::SubmitEvmMisbehaviour { evidence, .. } => TxCost::evm_evidence(evidence),
            RelayTx::Recv { messages, .. } => proofs(messages.len()),
            RelayTx::Ack { acks, .. } => proofs(acks.len()),
            RelayTx::Timeout { messages, .. } => proofs(messages.len()),
            RelayTx::RecvEvm { messages, .. } => proofs(messages.len()),
            RelayTx::AckEvm { acks, .. } => proofs(acks.len()),
            RelayTx::TimeoutEvm { messages, .. } => proofs(messages.len()),
        }
    }

    /// A short name of the kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RelayTx::UpdateClient { .. } => "update_client",
            RelayTx::Recv { .. } => "recv",
            RelayTx::Ack { .. } => "ack",
            RelayTx::Timeout { .. } => "timeout",
            RelayTx::SubmitMisbehaviour { .. } => "misbehaviour",
            RelayTx::UpdateEvmClient { .. } => "update_evm_client",
            RelayTx::RecvEvm { .. } => "recv_evm",
            RelayTx::AckEvm { .. } => "ack_evm",
            RelayTx::TimeoutEvm { .. } => "timeout_evm",
            RelayTx::SubmitEvmMisbehaviour { .. } => "evm_misbehaviour",
        }
    }

    /// The tag its encoding starts with.
    pub fn tag(&self) -> u8 {
        match self {
            RelayTx::UpdateClient { .. } => tag::UPDATE_CLIENT,
            RelayTx::Recv { .. } => tag::RECV,
            RelayTx::Ack { .. } => tag::ACK,
            RelayTx::Timeout { .. } => tag::TIMEOUT,
            RelayTx::SubmitMisbehaviour { .. } => tag::SUBMIT_MISBEHAVIOUR,
            RelayTx::UpdateEvmClient { .. } => tag::UPDATE_EVM_CLIENT,
            RelayTx::RecvEvm { .. } => tag::RECV_EVM,
            RelayTx::AckEvm { .. } => tag::ACK_EVM,
            RelayTx::TimeoutEvm { .. } => tag::TIMEOUT_EVM,
            RelayTx::SubmitEvmMisbehaviour { .. } => tag::SUBMIT_EVM_MISBEHAVIOUR,
        }
    }

    /// The encoding without its tag byte: what an EVM Gateway's relay call carries.
    pub fn body(&self) -> Vec<u8> {
        let mut encoded = self.encode();
        encoded.remove(0);
        encoded
    }

    /// Decodes the body that follows `tag` (a chain's decoder has read the tag to tell its
    /// own transactions apart).
    pub fn decode_body(tag: u8, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match tag {
            tag::UPDATE_CLIENT => RelayTx::UpdateClient {
                chain: r.get()?,
                blocks: decode_seq(r, "light blocks", MAX_UPDATE_BLOCKS, 64)?,
            },
            tag::RECV => RelayTx::Recv {
                source: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 1 + MIN_PROOF_LEN,
                )?,
            },
            tag::ACK => RelayTx::Ack {
                destination: r.get()?,
                proof_height: r.u64()?,
                acks: decode_seq(r, "acks", MAX_BATCH, MIN_MESSAGE_LEN + 5 + MIN_PROOF_LEN)?,
            },
            tag::TIMEOUT => RelayTx::Timeout {
                destination: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(r, "messages", MAX_BATCH, MIN_MESSAGE_LEN + MIN_PROOF_LEN)?,
            },
            tag::SUBMIT_MISBEHAVIOUR => RelayTx::SubmitMisbehaviour {
                chain: r.get()?,
                evidence: Box::new(r.get()?),
            },
            tag::UPDATE_EVM_CLIENT => RelayTx::UpdateEvmClient {
                chain: r.get()?,
                updates: decode_seq(r, "evm updates", MAX_EVM_UPDATES, MIN_EVM_UPDATE_LEN)?,
            },
            tag::RECV_EVM => RelayTx::RecvEvm {
                source: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 1 + MIN_EVM_PROOF_LEN,
                )?,
            },
            tag::ACK_EVM => RelayTx::AckEvm {
                destination: r.get()?,
                proof_height: r.u64()?,
                acks: decode_seq(
                    r,
                    "acks",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + 5 + MIN_EVM_PROOF_LEN,
                )?,
            },
            tag::TIMEOUT_EVM => RelayTx::TimeoutEvm {
                destination: r.get()?,
                proof_height: r.u64()?,
                messages: decode_seq(
                    r,
                    "messages",
                    MAX_BATCH,
                    MIN_MESSAGE_LEN + MIN_EVM_PROOF_LEN,
                )?,
            },
            tag::SUBMIT_EVM_MISBEHAVIOUR => RelayTx::SubmitEvmMisbehaviour {
                chain: r.get()?,
                evidence: Box::new(r.get()?),
            },
            t => {
                return Err(DecodeError::invalid(
                    "transaction tag",
                    format!("{t} is not a relay transaction tag (1-10)"),
                ))
            }
        })
    }
}

impl Encode for RelayTx {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            RelayTx::UpdateClient { chain, blocks } => {
                w.u8(tag::UPDATE_CLIENT).put(chain);
                encode_seq(w, blocks);
            }
            RelayTx::Recv {
                source,
                proof_height,
                messages,
            } => {
                w.u8(tag::RECV).put(source).u64(*proof_height);
                encode_seq(w, messages);
            }
            RelayTx::Ack {
                destination,
                proof_height,
                acks,
            } => {
                w.u8(tag::ACK).put(destination).u64(*proof_height);
                encode_seq(w, acks);
            }
            RelayTx::Timeout {
                destination,
                proof_height,
                messages,
            } => {
                w.u8(tag::TIMEOUT).put(destination).u64(*proof_height);
                encode_seq(w, messages);
            }
            RelayTx::SubmitMisbehaviour { chain, evidence } => {
                w.u8(tag::SUBMIT_MISBEHAVIOUR)
                    .put(chain)
                    .put(evidence.as_ref());
            }
            RelayTx::UpdateEvmClient { chain, updates } => {
                w.u8(tag::UPDATE_EVM_CLIENT).put(chain);
                encode_seq(w, updates);
            }
            RelayTx::RecvEvm {
                source,
                proof_height,
                messages,
            } => {
                w.u8(tag::RECV_EVM).put(source).u64(*proof_height);
                encode_seq(w, messages);
            }
            RelayTx::AckEvm {
                destination,
                proof_height,
                acks,
            } => {
                w.u8(tag::ACK_EVM).put(destination).u64(*proof_height);
                encode_seq(w, acks);
            }
            RelayTx::TimeoutEvm {
                destination,
                proof_height,
                messages,
            } => {
                w.u8(tag::TIMEOUT_EVM).put(destination).u64(*proof_height);
                encode_seq(w, messages);
            }
            RelayTx::SubmitEvmMisbehaviour { chain, evidence } => {
                w.u8(tag::SUBMIT_EVM_MISBEHAVIOUR)
                    .put(chain)
                    .put(evidence.as_ref());
            }
        }
    }
}

impl Decode for RelayTx {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        RelayTx::decode_body(tag, r)
    }
}
