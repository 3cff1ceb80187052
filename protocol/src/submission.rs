//! What the relay core asks a chain to run, whatever the chain's family: [`Submission`]
//! carries proofs as the source chain served them ([`ChainProof`]); the adapter of the
//! destination turns it into that family's transaction ([`RelayTx::from_submission`] for
//! chains that take relay transactions as such, a Gateway call on an EVM chain).

use xrelay_light_client::evm::client::{EvmStorageProof, EvmUpdate};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::{ChainId, Height, LightBlock, Misbehaviour, StateProof};

use crate::items::{InboundMessage, ProvenAck, ProvenMessage};
use crate::relay_tx::RelayTx;

/// A state proof as a chain family serves it. Unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProof {
    /// Sparse Merkle proof of a protocol path (devchain, §5).
    Jmt(StateProof),
    /// `eth_getProof` nodes of the Gateway account and the path's storage slot (§12).
    Evm(EvmStorageProof),
}

/// What moves a hosted client forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientUpdate {
    /// Light blocks of a BFT chain, each verifiable from the previous.
    Bft(Vec<LightBlock>),
    /// Sealed headers or attested blocks of an EVM chain.
    Evm(Vec<EvmUpdate>),
}

impl ClientUpdate {
    /// How many headers or attested blocks it carries.
    pub fn len(&self) -> usize {
        match self {
            ClientUpdate::Bft(b) => b.len(),
            ClientUpdate::Evm(u) => u.len(),
        }
    }

    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A transaction the relay asks a chain to run. Relay transactions carry their own proofs
/// and are idempotent: submitting one twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// Update this chain's client of `of`.
    UpdateClient {
        /// The followed chain.
        of: ChainId,
        /// The headers (or attested blocks), ascending.
        update: ClientUpdate,
    },
    /// Deliver messages from `source`, proven at `proof_height`.
    Receive {
        /// The sending chain.
        source: ChainId,
        /// A height this chain's client of `source` has verified.
        proof_height: Height,
        /// The messages with proofs, in lane order.
        messages: Vec<InboundMessage<ChainProof>>,
    },
    /// Relay acknowledgements from `destination` of messages sent here.
    Acknowledge {
        /// The receiving chain.
        destination: ChainId,
        /// A verified height of `destination`.
        proof_height: Height,
        /// The acks with proofs.
        acks: Vec<ProvenAck<ChainProof>>,
    },
    /// Time out messages sent here that `destination` can no longer receive.
    Timeout {
        /// The destination.
        destination: ChainId,
        /// A verified height of `destination` past the messages' timeouts.
        proof_height: Height,
        /// The messages with proofs that their receipts are absent.
        messages: Vec<ProvenMessage<ChainProof>>,
    },
    /// Evidence that `of` misbehaved: freezes this chain's client of it.
    Misbehaviour {
        /// The misbehaving chain.
        of: ChainId,
        /// The evidence.
        evidence: Box<Misbehaviour>,
    },
    /// Evidence that the EVM chain `of` (its validators or its attestation committee)
    /// vouched for two different blocks at one height: freezes this chain's client of it.
    EvmMisbehaviour {
        /// The misbehaving EVM chain.
        of: ChainId,
        /// The evidence (PROTOCOL.md §12.7).
        evidence: Box<EvmMisbehaviour>,
    },
}

impl Submission {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Submission::UpdateClient { .. } => "update_client",
            Submission::Receive { .. } => "recv",
            Submission::Acknowledge { .. } => "ack",
            Submission::Timeout { .. } => "timeout",
            Submission::Misbehaviour { .. } => "misbehaviour",
            Submission::EvmMisbehaviour { .. } => "evm_misbehaviour",
        }
    }
}

/// A submission whose items carry proofs of two families: a source chain serves one, so
/// such a transaction can only be a relayer's bug and is refused before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("one transaction mixes sparse Merkle and EVM storage proofs")]
pub struct MixedProofs;

/// Items sorted by proof family.
enum Family<J, E> {
    Jmt(J),
    Evm(E),
}

/// A proof carrier whose proof's family is made the carrier's.
trait Transpose {
    type Jmt;
    type Evm;
    fn transpose(self) -> Family<Self::Jmt, Self::Evm>;
}

fn family(p: ChainProof) -> Family<StateProof, EvmStorageProof> {
    match p {
        ChainProof::Jmt(p) => Family::Jmt(p),
        ChainProof::Evm(p) => Family::Evm(p),
    }
}

impl Transpose for InboundMessage<ChainProof> {
    type Jmt = InboundMessage<StateProof>;
    type Evm = InboundMessage<EvmStorageProof>;
    fn transpose(self) -> Family<Self::Jmt, Self::Evm> {
        let InboundMessage {
            message,
            shows,
            proof,
        } = self;
        match family(proof) {
            Family::Jmt(proof) => Family::Jmt(InboundMessage {
                message,
                shows,
                proof,
            }),
            Family::Evm(proof) => Family::Evm(InboundMessage {
                message,
                shows,
                proof,
            }),
        }
    }
}

impl Transpose for ProvenAck<ChainProof> {
    type Jmt = ProvenAck<StateProof>;
    type Evm = ProvenAck<EvmStorageProof>;
    fn transpose(self) -> Family<Self::Jmt, Self::Evm> {
        let ProvenAck {
            message,
            ack,
            proof,
        } = self;
        match family(proof) {
            Family::Jmt(proof) => Family::Jmt(ProvenAck {
                message,
                ack,
                proof,
            }),
            Family::Evm(proof) => Family::Evm(ProvenAck {
                message,
                ack,
                proof,
            }),
        }
    }
}

impl Transpose for ProvenMessage<ChainProof> {
    type Jmt = ProvenMessage<StateProof>;
    type Evm = ProvenMessage<EvmStorageProof>;
    fn transpose(self) -> Family<Self::Jmt, Self::Evm> {
        let ProvenMessage { message, proof } = self;
        match family(proof) {
            Family::Jmt(proof) => Family::Jmt(ProvenMessage { message, proof }),
            Family::Evm(proof) => Family::Evm(ProvenMessage { message, proof }),
        }
    }
}

/// Items of one family, the family known.
type Sorted<T> = Family<Vec<<T as Transpose>::Jmt>, Vec<<T as Transpose>::Evm>>;

/// Sorts items by proof family; items of both families are refused. No item (an empty
/// batch) counts as sparse Merkle, as it always has.
fn by_family<T: Transpose>(items: Vec<T>) -> Result<Sorted<T>, MixedProofs> {
    let mut jmt = Vec::new();
    let mut evm = Vec::new();
    for item in items {
        match item.transpose() {
            Family::Jmt(j) => jmt.push(j),
            Family::Evm(e) => evm.push(e),
        }
    }
    match (jmt.is_empty(), evm.is_empty()) {
        (_, true) => Ok(Family::Jmt(jmt)),
        (true, false) => Ok(Family::Evm(evm)),
        (false, false) => Err(MixedProofs),
    }
}

impl RelayTx {
    /// The relay transaction that runs `s`: tags 1–5 for items proven by sparse Merkle
    /// proofs of a BFT chain, tags 6–10 for EVM headers, storage proofs and evidence.
    pub fn from_submission(s: Submission) -> Result<RelayTx, MixedProofs> {
        Ok(match s {
            Submission::UpdateClient {
                of,
                update: ClientUpdate::Bft(blocks),
            } => RelayTx::UpdateClient { chain: of, blocks },
            Submission::UpdateClient {
                of,
                update: ClientUpdate::Evm(updates),
            } => RelayTx::UpdateEvmClient { chain: of, updates },
            Submission::Receive {
                source,
                proof_height,
                messages,
            } => match by_family(messages)? {
                Family::Jmt(messages) => RelayTx::Recv {
                    source,
                    proof_height,
                    messages,
                },
                Family::Evm(messages) => RelayTx::RecvEvm {
                    source,
                    proof_height,
                    messages,
                },
            },
            Submission::Acknowledge {
                destination,
                proof_height,
                acks,
            } => match by_family(acks)? {
                Family::Jmt(acks) => RelayTx::Ack {
                    destination,
                    proof_height,
                    acks,
                },
                Family::Evm(acks) => RelayTx::AckEvm {
                    destination,
                    proof_height,
                    acks,
                },
            },
            Submission::Timeout {
                destination,
                proof_height,
                messages,
            } => match by_family(messages)? {
                Family::Jmt(messages) => RelayTx::Timeout {
                    destination,
                    proof_height,
                    messages,
                },
                Family::Evm(messages) => RelayTx::TimeoutEvm {
                    destination,
                    proof_height,
                    messages,
                },
            },
            Submission::Misbehaviour { of, evidence } => RelayTx::SubmitMisbehaviour {
                chain: of,
                evidence,
            },
            Submission::EvmMisbehaviour { of, evidence } => RelayTx::SubmitEvmMisbehaviour {
                chain: of,
                evidence,
            },
        })
    }
}
