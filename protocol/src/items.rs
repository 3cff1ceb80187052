//! The proof carriers of relay transactions: a message with what its proof shows on the
//! source, an ack with its proof, a message with the proof its receipt is absent. Generic
//! over the kind of proof so one definition serves every chain family (PROTOCOL.md §9.2).

use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{Reader, Writer};
#[cfg(doc)]
use xrelay_light_client::evm::client::EvmStorageProof;
use xrelay_light_client::{Acknowledgement, Decode, DecodeError, Encode, Message, StateProof};

/// A message sent here with the proof, from its destination, that it was never received.
/// `P` is the destination's kind of proof: a [`StateProof`] from a chain with a state tree
/// (§5), an [`EvmStorageProof`] from an EVM chain (§12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenMessage<P = StateProof> {
    /// The message as this chain stored it.
    pub message: Message,
    /// Non-membership of `receipts/{source}/{sequence}` on the destination.
    pub proof: P,
}

/// What a receive item's proof shows about its message on the source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceProof {
    /// Membership of `commitments/{destination}/{sequence}` with the message's commitment:
    /// the message is pending on the source.
    Committed,
    /// Membership of `outcomes/{destination}/{sequence}` = timed out: the source already
    /// refunded it, so the destination only moves its lane past it (an ordered lane would
    /// otherwise stay blocked behind a message whose commitment is gone).
    TimedOut,
}

/// A message to receive, with the proof of its state on the source. `P` is the source's
/// kind of proof (see [`ProvenMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage<P = StateProof> {
    /// The message as the source stored it.
    pub message: Message,
    /// What the proof shows.
    pub shows: SourceProof,
    /// The proof, at the transaction's proof height.
    pub proof: P,
}

impl<P: Encode> Encode for InboundMessage<P> {
    fn encode_to(&self, w: &mut Writer) {
        let tag = match self.shows {
            SourceProof::Committed => 0,
            SourceProof::TimedOut => 1,
        };
        w.put(&self.message).u8(tag).put(&self.proof);
    }
}

impl<P: Decode> Decode for InboundMessage<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = r.get()?;
        let shows = match r.u8()? {
            0 => SourceProof::Committed,
            1 => SourceProof::TimedOut,
            t => {
                return Err(DecodeError::invalid(
                    "source proof tag",
                    format!("{t} is not 0 or 1"),
                ))
            }
        };
        Ok(InboundMessage {
            message,
            shows,
            proof: r.get()?,
        })
    }
}

/// An acknowledgement with the proof that the destination wrote it. `P` is the
/// destination's kind of proof (see [`ProvenMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenAck<P = StateProof> {
    /// The acknowledged message.
    pub message: Message,
    /// What the destination app answered.
    pub ack: Acknowledgement,
    /// Membership of `acks/{source}/{sequence}` on the destination.
    pub proof: P,
}

impl<P: Encode> Encode for ProvenMessage<P> {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message).put(&self.proof);
    }
}

impl<P: Decode> Decode for ProvenMessage<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProvenMessage {
            message: r.get()?,
            proof: r.get()?,
        })
    }
}

impl<P: Encode> Encode for ProvenAck<P> {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message).put(&self.ack).put(&self.proof);
    }
}

impl<P: Decode> Decode for ProvenAck<P> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ProvenAck {
            message: r.get()?,
            ack: r.get()?,
            proof: r.get()?,
        })
    }
}
