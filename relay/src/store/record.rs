//! What the store keeps per message, and its stored bytes: [`MessageRecord`] (the message,
//! its [`Status`], ack, flags and timeline of [`Step`]s) in the protocol's strict binary
//! encoding (schema 3). Kept apart from the database because these bytes are the schema:
//! a change here needs a new schema version and a migration (`super::migrate`), while
//! the database code around them can change freely.

use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{decode_seq, encode_seq, DecodeError, Reader, Writer};
use xrelay_light_client::{
    Acknowledgement, ChainId, Decode, Encode, Hash32, Height, Message, MessageId,
};

use super::StoreError;

/// Where a message stands, as the relayer last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Committed on the source; to deliver.
    Pending,
    /// Received on the destination; its ack is to be relayed back.
    Delivered,
    /// Settled on the source by its ack. Final.
    Acknowledged,
    /// Refunded on the source by a timeout; the destination lane still has to move past it.
    TimedOut,
    /// Timed out and skipped by the destination lane. Final.
    Closed,
}

impl Status {
    /// All, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Delivered,
        Status::Acknowledged,
        Status::TimedOut,
        Status::Closed,
    ];

    /// Not settled yet: what a lane's backlog counts and its lag is measured on.
    pub const UNSETTLED: [Status; 3] = [Status::Pending, Status::Delivered, Status::TimedOut];

    /// Whether nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Acknowledged | Status::Closed)
    }

    pub(super) fn tag(self) -> u8 {
        self as u8
    }

    /// Parses the API's name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.name() == s)
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Acknowledged => "acknowledged",
            Status::TimedOut => "timed_out",
            Status::Closed => "closed",
        }
    }
}

/// One step of a message's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The status reached.
    pub status: Status,
    /// When the relayer recorded it (ms since the epoch).
    pub at_ms: u64,
    /// The chain and height of the block where it happened.
    pub chain: ChainId,
    /// That block's height.
    pub height: Height,
}

/// A message with its status and timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message.
    pub message: Message,
    /// Its id.
    pub id: MessageId,
    /// Current status.
    pub status: Status,
    /// The destination app's ack, once known.
    pub ack: Option<xrelay_light_client::Acknowledgement>,
    /// The destination lane moved past the message without delivering it (it arrived past
    /// its timeout): only a timeout on the source is left to do.
    #[serde(default)]
    pub lane_skipped: bool,
    /// The message's content matched its commitment on the source at a height the
    /// relayer verified: until then it is only what a node said.
    #[serde(default)]
    pub content_proven: bool,
    /// Every transition, oldest first.
    pub timeline: Vec<Step>,
}

impl MessageRecord {
    /// A message first seen committed on its source at `height`.
    pub fn sent(message: Message, height: Height, at_ms: u64) -> Self {
        MessageRecord {
            id: message.id(),
            timeline: vec![Step {
                status: Status::Pending,
                at_ms,
                chain: message.source.clone(),
                height,
            }],
            message,
            status: Status::Pending,
            ack: None,
            lane_skipped: false,
            content_proven: false,
        }
    }

    /// Moves to `status` (recorded in the timeline).
    pub fn advance(&mut self, status: Status, chain: &ChainId, height: Height, at_ms: u64) {
        self.status = status;
        self.timeline.push(Step {
            status,
            at_ms,
            chain: chain.clone(),
            height,
        });
    }

    /// When it reached `status`, if it did.
    pub fn reached(&self, status: Status) -> Option<&Step> {
        self.timeline.iter().find(|s| s.status == status)
    }
}

/// Decodes a stored record, a failure being corruption.
pub(super) fn decode_record(v: &[u8]) -> Result<MessageRecord, StoreError> {
    MessageRecord::decode(v).map_err(|e| StoreError::Corrupt {
        what: "message record",
        why: e.to_string(),
    })
}

/// Most steps a record's timeline can hold (a message has at most three transitions;
/// the bound only keeps a corrupt record from asking for a huge allocation).
const MAX_TIMELINE: usize = 16;

impl Status {
    fn from_tag(tag: u8) -> Result<Status, DecodeError> {
        Status::ALL
            .into_iter()
            .find(|s| s.tag() == tag)
            .ok_or_else(|| DecodeError::invalid("status", format!("tag {tag}")))
    }
}

impl Encode for Step {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.status.tag())
            .u64(self.at_ms)
            .put(&self.chain)
            .u64(self.height);
    }
}

impl Decode for Step {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Step {
            status: Status::from_tag(r.u8()?)?,
            at_ms: r.u64()?,
            chain: r.get()?,
            height: r.u64()?,
        })
    }
}

/// The stored layout of a record (schema 3), in the protocol's strict encoding: the
/// message, its id, the status tag, the ack (0 or 1, then the ack), a flags byte (bit 0:
/// the lane skipped it; bit 1: its content is proven; schema 2 had only bit 0) and the
/// timeline. About a tenth of the JSON's cost to read and write.
impl Encode for MessageRecord {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message)
            .fixed(&self.id.0 .0)
            .u8(self.status.tag());
        match &self.ack {
            Some(a) => w.u8(1).put(a),
            None => w.u8(0),
        };
        w.u8(u8::from(self.lane_skipped) | (u8::from(self.content_proven) << 1));
        encode_seq(w, &self.timeline);
    }
}

impl Decode for MessageRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = r.get()?;
        let id = MessageId(Hash32(r.array()?));
        let status = Status::from_tag(r.u8()?)?;
        let ack = match r.u8()? {
            0 => None,
            1 => Some(r.get::<Acknowledgement>()?),
            t => return Err(DecodeError::invalid("ack flag", format!("{t}"))),
        };
        let flags = r.u8()?;
        if flags > 0b11 {
            return Err(DecodeError::invalid(
                "record flags",
                format!("{flags:#04x}"),
            ));
        }
        let (lane_skipped, content_proven) = (flags & 1 != 0, flags & 2 != 0);
        // A step is at least a tag, two u64s and a non-empty chain id.
        let timeline = decode_seq(r, "timeline", MAX_TIMELINE, 18)?;
        Ok(MessageRecord {
            message,
            id,
            status,
            ack,
            lane_skipped,
            content_proven,
            timeline,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use xrelay_light_client::Timeout;

    /// A message of lane `src` → `dst` (the store's tests share it).
    pub(in crate::store) fn msg(src: &str, dst: &str, seq: u64) -> Message {
        Message {
            source: src.parse().unwrap(),
            destination: dst.parse().unwrap(),
            sequence: seq,
            sender: vec![1],
            receiver: "echo".into(),
            payload: vec![seq as u8],
            timeout: Timeout {
                height: 100,
                time_ms: 0,
            },
        }
    }

    proptest::proptest! {
        /// Records survive their stored layout unchanged, and any bytes at all decode to a
        /// record or a typed error, never a panic.
        #[test]
        fn records_round_trip_and_garbage_is_an_error(
            seq in 1u64..1_000_000,
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            steps in 0usize..4,
            ack in proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut m = msg("chain-1", "chain-2", seq);
            m.payload = payload;
            let mut r = MessageRecord::sent(m, seq, seq + 1);
            for i in 0..steps {
                let dst = r.message.destination.clone();
                r.advance(Status::ALL[i + 1], &dst, seq + i as u64, 9);
            }
            r.ack = ack.map(Acknowledgement::Success);
            proptest::prop_assert_eq!(MessageRecord::decode(&r.encode()).unwrap(), r.clone());
            let mut mutated = r.encode();
            mutated.extend_from_slice(&garbage);
            let _ = MessageRecord::decode(&mutated);
            let _ = MessageRecord::decode(&garbage);
            if !garbage.is_empty() {
                proptest::prop_assert!(MessageRecord::decode(&mutated).is_err());
            }
        }
    }
}
