//! Cross-chain messages, their ids and commitments, acknowledgements, and the state-tree
//! paths under which chains store them (and relayers prove them).

use serde::{Deserialize, Serialize};

use crate::chain::{ChainId, Height, TimeMs};
use crate::encoding::{Decode, DecodeError, Encode, Reader, Writer};
use crate::hash::{sha256_concat, Hash32};

/// Domain tag of a message id.
pub const MESSAGE_ID_TAG: &[u8] = b"xrelay.msgid.v1";
/// Domain tag of a message commitment.
pub const MESSAGE_COMMITMENT_TAG: &[u8] = b"xrelay.message.v1";
/// Domain tag of an acknowledgement commitment.
pub const ACK_COMMITMENT_TAG: &[u8] = b"xrelay.ack.v1";

/// Longest sender, in bytes.
pub const MAX_SENDER_LEN: usize = 64;
/// Longest receiver (destination app name), in bytes.
pub const MAX_RECEIVER_LEN: usize = 64;
/// Largest payload, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
/// Largest acknowledgement result, in bytes.
pub const MAX_ACK_LEN: usize = 64 * 1024;

/// When a message stops being deliverable, measured on the destination chain. Zero means
/// "no limit" for that field; at least one field is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeout {
    /// The message may be received only at destination heights below this.
    pub height: Height,
    /// The message may be received only in destination blocks with time below this.
    pub time_ms: TimeMs,
}

impl Timeout {
    /// Whether a destination block at `height` and `time_ms` is past the timeout.
    pub fn has_passed(&self, height: Height, time_ms: TimeMs) -> bool {
        (self.height != 0 && height >= self.height)
            || (self.time_ms != 0 && time_ms >= self.time_ms)
    }
}

/// A cross-chain message: sent on `source`, delivered on `destination` in lane order.
///
/// Deserialising (from a node's JSON answer, say) applies the same rules as
/// [`Decode`]: a message no chain would accept is an error, not a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MessageRepr")]
pub struct Message {
    /// The sending chain.
    pub source: ChainId,
    /// The receiving chain.
    pub destination: ChainId,
    /// Position in the source→destination lane, starting at 1, without gaps.
    pub sequence: u64,
    /// Who sent it on the source (an account or app address), 1–64 bytes.
    #[serde(with = "hex_bytes")]
    pub sender: Vec<u8>,
    /// The app that receives it on the destination (e.g. `echo`, `transfer`), 1–64 bytes.
    pub receiver: String,
    /// Opaque application data, at most 64 KiB.
    #[serde(with = "hex_bytes")]
    pub payload: Vec<u8>,
    /// When delivery is no longer allowed.
    pub timeout: Timeout,
}

/// The serde shape of [`Message`], checked by [`Message::validate`] on the way in.
#[derive(Deserialize)]
struct MessageRepr {
    source: ChainId,
    destination: ChainId,
    sequence: u64,
    #[serde(with = "hex_bytes")]
    sender: Vec<u8>,
    receiver: String,
    #[serde(with = "hex_bytes")]
    payload: Vec<u8>,
    timeout: Timeout,
}

impl TryFrom<MessageRepr> for Message {
    type Error = DecodeError;

    fn try_from(r: MessageRepr) -> Result<Self, DecodeError> {
        let m = Message {
            source: r.source,
            destination: r.destination,
            sequence: r.sequence,
            sender: r.sender,
            receiver: r.receiver,
            payload: r.payload,
            timeout: r.timeout,
        };
        m.validate()?;
        Ok(m)
    }
}

/// The 32-byte id of a message: `SHA-256("xrelay.msgid.v1" ‖ source ‖ destination ‖ sequence)`.
/// Unique per lane position, so dApps can track a message before it is delivered.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct MessageId(pub Hash32);

impl MessageId {
    /// The id of the message at `sequence` of the `source`→`destination` lane.
    pub fn new(source: &ChainId, destination: &ChainId, sequence: u64) -> Self {
        let mut w = Writer::with_capacity(2 * 68 + 8);
        w.put(source).put(destination).u64(sequence);
        MessageId(sha256_concat(&[MESSAGE_ID_TAG, w.as_slice()]))
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Message {
    /// This message's id.
    pub fn id(&self) -> MessageId {
        MessageId::new(&self.source, &self.destination, self.sequence)
    }

    /// `SHA-256("xrelay.message.v1" ‖ encoding)`: the value stored at
    /// `commitments/{destination}/{sequence}` on the source chain.
    pub fn commitment(&self) -> Hash32 {
        sha256_concat(&[MESSAGE_COMMITMENT_TAG, &self.encode()])
    }

    /// Checks the field rules that decoding enforces, for messages built in memory.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.source == self.destination {
            return Err(DecodeError::invalid(
                "message",
                "source and destination are the same chain",
            ));
        }
        if self.sequence == 0 {
            return Err(DecodeError::invalid(
                "message",
                "sequence 0 (lanes start at 1)",
            ));
        }
        if self.sender.is_empty() || self.sender.len() > MAX_SENDER_LEN {
            return Err(DecodeError::invalid("message", "sender must be 1-64 bytes"));
        }
        if self.receiver.is_empty() || self.receiver.len() > MAX_RECEIVER_LEN {
            return Err(DecodeError::invalid(
                "message",
                "receiver must be 1-64 bytes",
            ));
        }
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(DecodeError::TooLong {
                what: "payload",
                len: self.payload.len() as u64,
                max: MAX_PAYLOAD_LEN as u64,
            });
        }
        if self.timeout.height == 0 && self.timeout.time_ms == 0 {
            return Err(DecodeError::invalid("message", "no timeout set"));
        }
        Ok(())
    }
}

impl Encode for Message {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.source)
            .put(&self.destination)
            .u64(self.sequence)
            .bytes(&self.sender)
            .bytes(self.receiver.as_bytes())
            .bytes(&self.payload)
            .u64(self.timeout.height)
            .u64(self.timeout.time_ms);
    }
}

impl Decode for Message {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let source = r.get()?;
        let destination = r.get()?;
        let sequence = r.u64()?;
        let sender = r.bytes("sender", MAX_SENDER_LEN)?.to_vec();
        let receiver = std::str::from_utf8(r.bytes("receiver", MAX_RECEIVER_LEN)?)
            .map_err(|_| DecodeError::invalid("receiver", "not UTF-8"))?
            .to_string();
        let payload = r.bytes("payload", MAX_PAYLOAD_LEN)?.to_vec();
        let timeout = Timeout {
            height: r.u64()?,
            time_ms: r.u64()?,
        };
        let msg = Message {
            source,
            destination,
            sequence,
            sender,
            receiver,
            payload,
            timeout,
        };
        msg.validate()?;
        Ok(msg)
    }
}

/// What the receiving app answered: written on the destination, proven back to the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Acknowledgement {
    /// The app accepted the message; the bytes are its result.
    Success(#[serde(with = "hex_bytes")] Vec<u8>),
    /// The app refused it; the text says why. The sending app reverts (e.g. refunds).
    Error(String),
}

impl Acknowledgement {
    /// `SHA-256("xrelay.ack.v1" ‖ encoding)`: the value stored at `acks/{source}/{sequence}`.
    pub fn commitment(&self) -> Hash32 {
        sha256_concat(&[ACK_COMMITMENT_TAG, &self.encode()])
    }

    /// Whether the app accepted the message.
    pub fn is_success(&self) -> bool {
        matches!(self, Acknowledgement::Success(_))
    }
}

impl Encode for Acknowledgement {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Acknowledgement::Success(b) => w.u8(0).bytes(b),
            Acknowledgement::Error(e) => w.u8(1).bytes(e.as_bytes()),
        };
    }
}

impl Decode for Acknowledgement {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Acknowledgement::Success(
                r.bytes("ack result", MAX_ACK_LEN)?.to_vec(),
            )),
            1 => {
                let text = std::str::from_utf8(r.bytes("ack error", MAX_ACK_LEN)?)
                    .map_err(|_| DecodeError::invalid("ack error", "not UTF-8"))?;
                Ok(Acknowledgement::Error(text.to_string()))
            }
            t => Err(DecodeError::invalid(
                "ack tag",
                format!("{t} is not 0 or 1"),
            )),
        }
    }
}

/// State-tree keys of the protocol. Chain ids cannot contain `/`, so every path has one
/// parse. The values are documented in `docs/PROTOCOL.md`.
pub mod paths {
    use crate::chain::ChainId;

    /// On the source: `commitments/{destination}/{sequence}` → message commitment.
    pub fn commitment(destination: &ChainId, sequence: u64) -> Vec<u8> {
        format!("commitments/{destination}/{sequence}").into_bytes()
    }

    /// On the destination: `receipts/{source}/{sequence}` → `0x01` once received.
    pub fn receipt(source: &ChainId, sequence: u64) -> Vec<u8> {
        format!("receipts/{source}/{sequence}").into_bytes()
    }

    /// On the destination: `acks/{source}/{sequence}` → acknowledgement commitment.
    pub fn ack(source: &ChainId, sequence: u64) -> Vec<u8> {
        format!("acks/{source}/{sequence}").into_bytes()
    }

    /// On the destination: `next_recv/{source}` → next expected sequence (u64 big-endian).
    pub fn next_receive(source: &ChainId) -> Vec<u8> {
        format!("next_recv/{source}").into_bytes()
    }

    /// On the source: `next_send/{destination}` → next sequence to assign (u64 big-endian).
    pub fn next_send(destination: &ChainId) -> Vec<u8> {
        format!("next_send/{destination}").into_bytes()
    }

    /// On the source: `outcomes/{destination}/{sequence}` → how a sent message ended, one
    /// byte (`xrelay_protocol::Outcome`), written when its commitment is deleted.
    pub fn outcome(destination: &ChainId, sequence: u64) -> Vec<u8> {
        format!("outcomes/{destination}/{sequence}").into_bytes()
    }
}

/// Hex strings for byte fields in JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.trim_start_matches("0x")).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            source: ChainId::new("alpha").unwrap(),
            destination: ChainId::new("beta").unwrap(),
            sequence: 1,
            sender: vec![0xaa; 20],
            receiver: "echo".into(),
            payload: b"hello".to_vec(),
            timeout: Timeout {
                height: 100,
                time_ms: 0,
            },
        }
    }

    #[test]
    fn json_messages_obey_the_decoding_rules() {
        let m = msg();
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(serde_json::from_value::<Message>(json.clone()).unwrap(), m);
        for (field, bad) in [
            ("sequence", serde_json::json!(0)),
            ("destination", serde_json::json!("alpha")),
            ("receiver", serde_json::json!("")),
            ("sender", serde_json::json!("")),
            ("timeout", serde_json::json!({"height": 0, "time_ms": 0})),
        ] {
            let mut v = json.clone();
            v[field] = bad;
            assert!(
                serde_json::from_value::<Message>(v).is_err(),
                "{field} accepted"
            );
        }
    }

    #[test]
    fn messages_round_trip_and_ids_depend_on_the_lane_position() {
        let m = msg();
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        let mut other = m.clone();
        other.payload = b"changed".to_vec();
        assert_eq!(m.id(), other.id());
        assert_ne!(m.commitment(), other.commitment());
        other.sequence = 2;
        assert_ne!(m.id(), other.id());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
    }

    #[test]
    fn invalid_messages_do_not_decode() {
        let mut m = msg();
        m.timeout = Timeout {
            height: 0,
            time_ms: 0,
        };
        assert!(Message::decode(&m.encode()).is_err());
        let mut m = msg();
        m.sequence = 0;
        assert!(Message::decode(&m.encode()).is_err());
        let mut m = msg();
        m.destination = m.source.clone();
        assert!(Message::decode(&m.encode()).is_err());
    }

    #[test]
    fn timeouts() {
        let t = Timeout {
            height: 10,
            time_ms: 5_000,
        };
        assert!(!t.has_passed(9, 4_999));
        assert!(t.has_passed(10, 0));
        assert!(t.has_passed(1, 5_000));
        let only_height = Timeout {
            height: 10,
            time_ms: 0,
        };
        assert!(!only_height.has_passed(9, u64::MAX));
    }

    #[test]
    fn acks_round_trip() {
        for ack in [
            Acknowledgement::Success(vec![1, 2]),
            Acknowledgement::Error("no".into()),
        ] {
            assert_eq!(Acknowledgement::decode(&ack.encode()).unwrap(), ack);
        }
        assert!(Acknowledgement::decode(&[2, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn paths_are_readable() {
        let beta = ChainId::new("beta").unwrap();
        assert_eq!(paths::commitment(&beta, 7), b"commitments/beta/7");
        assert_eq!(paths::receipt(&beta, 7), b"receipts/beta/7");
        assert_eq!(paths::ack(&beta, 7), b"acks/beta/7");
        assert_eq!(paths::next_receive(&beta), b"next_recv/beta");
    }
}
