//! The events a transaction emits. They have their own file because every handler emits
//! them and the node, the RPC answers and the relayer read them: one definition, apart from
//! the handlers that produce it.

use serde::{Deserialize, Serialize};
use xrelay_light_client::{Acknowledgement, Address, ChainId, Height, Message, MisbehaviourKind};

/// What a transaction did, for the event stream relayers and dApps follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was committed for sending.
    MessageSent {
        /// The message (its id is derivable).
        message: Message,
    },
    /// A message was received and its app answered.
    MessageReceived {
        /// The message.
        message: Message,
        /// The app's answer, now committed at `acks/{source}/{sequence}`.
        ack: Acknowledgement,
    },
    /// A message arrived past its timeout: the lane moved on, the app did not run.
    MessageExpired {
        /// The message.
        message: Message,
    },
    /// The ack of a message sent here was proven; the commitment is gone.
    MessageAcknowledged {
        /// The message.
        message: Message,
        /// The ack.
        ack: Acknowledgement,
    },
    /// A message sent here timed out; the sender was refunded.
    MessageTimedOut {
        /// The message.
        message: Message,
    },
    /// A client was created (genesis or governance) or reset.
    ClientCreated {
        /// The followed chain.
        chain: ChainId,
        /// Its trusted height.
        height: Height,
    },
    /// A client accepted new headers. The headers are listed so that anyone can compare
    /// them with the followed chain's own (misbehaviour detection).
    ClientUpdated {
        /// The followed chain.
        chain: ChainId,
        /// Heights and header hashes accepted, ascending.
        headers: Vec<(Height, xrelay_light_client::Hash32)>,
    },
    /// A client was frozen by misbehaviour evidence.
    ClientFrozen {
        /// The misbehaving chain.
        chain: ChainId,
        /// What the evidence showed.
        kind: MisbehaviourKind,
        /// The evidence hash.
        evidence: xrelay_light_client::Hash32,
    },
    /// Tokens moved between accounts here.
    Paid {
        /// Payer.
        from: Address,
        /// Payee.
        to: Address,
        /// Token.
        denom: String,
        /// Amount.
        #[serde(with = "crate::amount")]
        amount: u128,
    },
}
