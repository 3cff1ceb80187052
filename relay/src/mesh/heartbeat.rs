//! Heartbeats on `xrelay/mesh/heartbeat/v2` (docs/PROTOCOL.md §10): what a member says of
//! itself, and the rules that decide whether a receiver believes it.
//!
//! A heartbeat carries a counter that only grows, the sender's clock, and the lanes the
//! sender cannot serve now, signed by the sender's identity key over a domain tag and its
//! peer id. A receiver refuses a heartbeat that does not decode strictly, does not verify,
//! repeats or goes back on a counter it holds (a replay), or is older than the grace period
//! by its own clock (stale) or that far in the future; a member is live until the grace
//! period after the time its newest accepted heartbeat was *made*, not after it arrived, so
//! a heartbeat replayed after its sender stopped can never keep it live.
//!
//! This file depends on `xrelay_light_client` and `std` only, so the fuzz crate (which has
//! no libp2p) compiles it as is (`fuzz/fuzz_targets/decode_heartbeat.rs`); checking the
//! signature, which needs the identity key types, is the mesh's part.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use xrelay_light_client::chain::MAX_CHAIN_ID_LEN;
use xrelay_light_client::encoding::{
    decode_seq, encode_seq, Decode, DecodeError, Encode, Reader, Writer,
};
use xrelay_light_client::ChainId;

/// The domain tag in front of the signed bytes, so a heartbeat signature can never be
/// taken for a signature over anything else the identity key signs (gossipsub signs with
/// the prefix `libp2p-pubsub:`).
pub const SIGNING_TAG: &[u8] = b"xrelay.mesh-heartbeat.v2";

/// Most lanes a heartbeat lists as unserved: a relayer serves two directed lanes per
/// link, and a consortium links far fewer chains than this.
pub const MAX_UNSERVED: usize = 256;

/// An ed25519 signature's length.
pub const SIGNATURE_LEN: usize = 64;

/// The shortest encoding of a lane: two chain ids of one byte with their prefixes.
const MIN_LANE_LEN: usize = 2 * (4 + 1);

/// The longest payload: counter, time, the longest list of the longest lanes, signature.
/// Longer messages are refused before decoding.
pub const MAX_PAYLOAD_LEN: usize =
    8 + 8 + 4 + MAX_UNSERVED * 2 * (4 + MAX_CHAIN_ID_LEN) + SIGNATURE_LEN;

/// A directed lane `source → destination`, as heartbeats name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lane {
    /// Where the lane's messages are sent.
    pub source: ChainId,
    /// Where they are delivered.
    pub destination: ChainId,
}

impl Encode for Lane {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.source).put(&self.destination);
    }
}

impl Decode for Lane {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Lane {
            source: r.get()?,
            destination: r.get()?,
        })
    }
}

/// What a member says of itself, once per heartbeat interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// Strictly greater in every heartbeat of a member than in the one before, across
    /// restarts too: a relayer starts it at its clock in milliseconds when the mesh starts
    /// and adds one per heartbeat (fewer than one per millisecond), so a restarted member
    /// goes on above where it stopped.
    pub counter: u64,
    /// The sender's clock when it made the heartbeat (ms since the Unix epoch).
    pub time_ms: u64,
    /// Lanes the sender cannot serve now (stuck, or a chain of the lane frozen for it),
    /// strictly ascending: other members skip it when they pick those lanes' owners.
    pub unserved: Vec<Lane>,
}

impl Heartbeat {
    /// The heartbeat with `unserved` sorted, deduplicated and cut to [`MAX_UNSERVED`] (the
    /// canonical form; a relayer with more stuck lanes than that lists the first ones).
    pub fn new(counter: u64, time_ms: u64, unserved: impl IntoIterator<Item = Lane>) -> Self {
        let set: BTreeSet<Lane> = unserved.into_iter().collect();
        Heartbeat {
            counter,
            time_ms,
            unserved: set.into_iter().take(MAX_UNSERVED).collect(),
        }
    }

    fn encode_body(&self, w: &mut Writer) {
        w.u64(self.counter).u64(self.time_ms);
        encode_seq(w, &self.unserved);
    }
}

/// The bytes the sender signs: `SIGNING_TAG ‖ bytes peer_id ‖ u64 counter ‖ u64 time_ms ‖
/// seq<Lane> unserved`, where `peer_id` is the sender's peer id as a multihash
/// (`PeerId::to_bytes`).
pub fn signing_bytes(peer_id: &[u8], heartbeat: &Heartbeat) -> Vec<u8> {
    let mut w = Writer::with_capacity(SIGNING_TAG.len() + 4 + peer_id.len() + 64);
    w.fixed(SIGNING_TAG).bytes(peer_id);
    heartbeat.encode_body(&mut w);
    w.into_vec()
}

/// The payload: `u64 counter ‖ u64 time_ms ‖ seq<Lane> unserved ‖ sig64 signature`.
pub fn encode_payload(heartbeat: &Heartbeat, signature: &[u8; SIGNATURE_LEN]) -> Vec<u8> {
    let mut w = Writer::with_capacity(8 + 8 + 4 + SIGNATURE_LEN);
    heartbeat.encode_body(&mut w);
    w.fixed(signature);
    w.into_vec()
}

/// Decodes a payload strictly: every field canonical, lanes strictly ascending (so each
/// heartbeat has one encoding), no bytes left.
pub fn decode_payload(bytes: &[u8]) -> Result<(Heartbeat, [u8; SIGNATURE_LEN]), DecodeError> {
    if bytes.len() > MAX_PAYLOAD_LEN {
        return Err(DecodeError::invalid(
            "heartbeat",
            format!("{} bytes, at most {MAX_PAYLOAD_LEN}", bytes.len()),
        ));
    }
    let mut r = Reader::new(bytes);
    let counter = r.u64()?;
    let time_ms = r.u64()?;
    let unserved: Vec<Lane> = decode_seq(&mut r, "unserved lanes", MAX_UNSERVED, MIN_LANE_LEN)?;
    if unserved.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DecodeError::invalid(
            "unserved lanes",
            "not strictly ascending",
        ));
    }
    let signature = r.array::<SIGNATURE_LEN>()?;
    r.finish()?;
    Ok((
        Heartbeat {
            counter,
            time_ms,
            unserved,
        },
        signature,
    ))
}

/// Why a heartbeat was not believed (nothing about its sender changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The payload does not decode strictly.
    #[error("the payload does not decode")]
    Malformed,
    /// The signature does not verify under the sender's peer id (or that id carries no
    /// ed25519 key).
    #[error("the signature does not verify under the sender's peer id")]
    BadSignature,
    /// Its counter is not above the newest one held from the sender: a copy of a heartbeat
    /// seen before, sent again.
    #[error("the counter does not grow: a replay")]
    Replay,
    /// It was made at least the grace period ago, by this relayer's clock.
    #[error("made at least the grace period ago")]
    Stale,
    /// It was made at least the grace period in the future, by this relayer's clock.
    #[error("made at least the grace period in the future")]
    Future,
}

impl Refusal {
    /// The `reason` label of `xrelay_mesh_heartbeats_refused_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::BadSignature => "bad_signature",
            Refusal::Replay => "replay",
            Refusal::Stale => "stale",
            Refusal::Future => "future",
        }
    }
}

/// The longest grace period [`Beats`] applies.
const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 3_600);

/// The newest believed heartbeat of one member.
#[derive(Debug, Clone)]
struct Newest {
    counter: u64,
    /// Until when the member is live: the grace period after the heartbeat was made
    /// (mapped onto this process's monotonic clock when it arrived).
    live_until: Instant,
    unserved: BTreeSet<Lane>,
}

/// The heartbeats a relayer believes, per member: the liveness and unserved lanes the mesh
/// splits work by.
#[derive(Debug, Clone)]
pub struct Beats<P> {
    grace: Duration,
    newest: BTreeMap<P, Newest>,
}

impl<P: Ord + Clone> Beats<P> {
    /// No member heard yet; `grace` is `mesh.grace_ms` (at most a year is used, so that
    /// instants computed from it cannot overflow).
    pub fn new(grace: Duration) -> Self {
        Beats {
            grace: grace.min(MAX_GRACE),
            newest: BTreeMap::new(),
        }
    }

    /// Believes `heartbeat` from `peer` (whose signature the caller verified), received
    /// at `now` (monotonic) when this relayer's clock read `now_ms`, or says why not.
    pub fn accept(
        &mut self,
        peer: &P,
        heartbeat: &Heartbeat,
        now_ms: u64,
        now: Instant,
    ) -> Result<(), Refusal> {
        let grace_ms = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX);
        let age_ms = now_ms.saturating_sub(heartbeat.time_ms);
        if age_ms >= grace_ms {
            return Err(Refusal::Stale);
        }
        if heartbeat.time_ms.saturating_sub(now_ms) >= grace_ms {
            return Err(Refusal::Future);
        }
        let live_until = now + self.grace.saturating_sub(Duration::from_millis(age_ms));
        if let Some(held) = self.newest.get(peer) {
            // While the held heartbeat still counts, only a greater counter is news. Once
            // it has lapsed, anything older than it is stale anyway (refused above), so a
            // member whose clock was set back and restarted is heard again.
            if heartbeat.counter <= held.counter && now < held.live_until {
                return Err(Refusal::Replay);
            }
        }
        let live_until = match self.newest.get(peer) {
            Some(held) if now < held.live_until => live_until.max(held.live_until),
            _ => live_until,
        };
        self.newest.insert(
            peer.clone(),
            Newest {
                counter: heartbeat.counter,
                live_until,
                unserved: heartbeat.unserved.iter().cloned().collect(),
            },
        );
        Ok(())
    }

    /// Whether `peer` is live at `now`.
    pub fn is_live(&self, peer: &P, now: Instant) -> bool {
        self.newest.get(peer).is_some_and(|n| now < n.live_until)
    }

    /// The live members at `now`, with the lanes each cannot serve.
    pub fn live(&self, now: Instant) -> impl Iterator<Item = (&P, &BTreeSet<Lane>)> + '_ {
        self.newest
            .iter()
            .filter(move |(_, n)| now < n.live_until)
            .map(|(p, n)| (p, &n.unserved))
    }

    /// Forgets everything heard (an isolation drill). Heartbeats seen before are stale by
    /// the time they could be replayed to no effect: a copy is believed at most until the
    /// grace period after it was made, like the original.
    pub fn clear(&mut self) {
        self.newest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GRACE: Duration = Duration::from_millis(3_000);

    fn lane(a: &str, b: &str) -> Lane {
        Lane {
            source: ChainId::new(a).unwrap(),
            destination: ChainId::new(b).unwrap(),
        }
    }

    #[test]
    fn the_payload_layout_is_the_documented_one() {
        let hb = Heartbeat::new(0x0102, 0x0304, [lane("b", "a"), lane("a", "b")]);
        assert_eq!(hb.unserved, [lane("a", "b"), lane("b", "a")], "sorted");
        let sig = [0xee; SIGNATURE_LEN];
        let bytes = encode_payload(&hb, &sig);
        let mut expected = vec![0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 0, 2];
        for (s, d) in [("a", "b"), ("b", "a")] {
            for c in [s, d] {
                expected.extend([0, 0, 0, 1]);
                expected.extend(c.as_bytes());
            }
        }
        expected.extend([0xee; SIGNATURE_LEN]);
        assert_eq!(bytes, expected);
        assert_eq!(decode_payload(&bytes).unwrap(), (hb.clone(), sig));
        let signed = signing_bytes(b"peer", &hb);
        assert!(signed.starts_with(b"xrelay.mesh-heartbeat.v2\0\0\0\x04peer"));
        assert!(signed.ends_with(&bytes[..bytes.len() - SIGNATURE_LEN]));
    }

    #[test]
    fn lanes_out_of_order_repeated_or_too_many_are_refused() {
        let sig = [1; SIGNATURE_LEN];
        let mut hb = Heartbeat::new(1, 1, []);
        hb.unserved = vec![lane("b", "a"), lane("a", "b")];
        assert!(decode_payload(&encode_payload(&hb, &sig)).is_err());
        hb.unserved = vec![lane("a", "b"), lane("a", "b")];
        assert!(decode_payload(&encode_payload(&hb, &sig)).is_err());
        let many: Vec<Lane> = (0..MAX_UNSERVED + 1)
            .map(|i| lane("a", &format!("c{i:04}")))
            .collect();
        hb.unserved = many.clone();
        assert!(decode_payload(&encode_payload(&hb, &sig)).is_err());
        assert_eq!(Heartbeat::new(1, 1, many).unserved.len(), MAX_UNSERVED);
    }

    #[test]
    fn replays_are_refused_and_counters_must_grow() {
        let t0 = Instant::now();
        let mut beats = Beats::new(GRACE);
        let hb = |counter, time_ms| Heartbeat::new(counter, time_ms, []);
        assert_eq!(beats.accept(&"a", &hb(10, 1_000), 1_000, t0), Ok(()));
        // The same heartbeat again, and an earlier one, are replays.
        assert_eq!(
            beats.accept(&"a", &hb(10, 1_000), 1_100, t0 + Duration::from_millis(100)),
            Err(Refusal::Replay)
        );
        assert_eq!(
            beats.accept(&"a", &hb(9, 900), 1_100, t0 + Duration::from_millis(100)),
            Err(Refusal::Replay)
        );
        assert_eq!(
            beats.accept(&"a", &hb(11, 1_500), 1_500, t0 + Duration::from_millis(500)),
            Ok(())
        );
        // Another member's counters are its own.
        assert_eq!(beats.accept(&"b", &hb(1, 1_500), 1_500, t0), Ok(()));
    }

    #[test]
    fn stale_and_future_heartbeats_are_refused() {
        let t0 = Instant::now();
        let mut beats = Beats::new(GRACE);
        let now_ms = 100_000;
        let hb = |time_ms| Heartbeat::new(1, time_ms, []);
        assert_eq!(
            beats.accept(&"a", &hb(now_ms - 3_000), now_ms, t0),
            Err(Refusal::Stale)
        );
        assert_eq!(
            beats.accept(&"a", &hb(now_ms + 3_000), now_ms, t0),
            Err(Refusal::Future)
        );
        assert!(!beats.is_live(&"a", t0));
        assert_eq!(beats.accept(&"a", &hb(now_ms - 2_999), now_ms, t0), Ok(()));
        // Live only for what is left of its grace period: 1 ms.
        assert!(beats.is_live(&"a", t0));
        assert!(!beats.is_live(&"a", t0 + Duration::from_millis(1)));
    }

    #[test]
    fn a_replayed_heartbeat_of_a_stopped_member_never_keeps_it_live() {
        // Member "a" beats every 500 ms until t = 5 s, then stops. Someone keeps every
        // heartbeat it sent and sends them all again, at any moment, to a relayer that saw
        // them (replays) and to one that restarted and never did (stale once lapsed).
        let t0 = Instant::now();
        let sent: Vec<Heartbeat> = (0..=10u64)
            .map(|i| Heartbeat::new(1_000 + i, i * 500, []))
            .collect();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut seen = Beats::new(GRACE);
        for hb in &sent {
            assert_eq!(seen.accept(&"a", hb, hb.time_ms, at(hb.time_ms)), Ok(()));
        }
        let stopped = 5_000;
        let mut fresh = Beats::new(GRACE);
        for replay_at in (stopped..stopped + 10_000).step_by(250) {
            for hb in &sent {
                let _ = seen.accept(&"a", hb, replay_at, at(replay_at));
                let _ = fresh.accept(&"a", hb, replay_at, at(replay_at));
            }
            let lapsed = replay_at >= stopped + GRACE.as_millis() as u64;
            for beats in [&seen, &fresh] {
                assert_eq!(
                    beats.is_live(&"a", at(replay_at)),
                    !lapsed,
                    "at {replay_at} ms"
                );
            }
        }
    }

    #[test]
    fn a_member_restarted_with_its_clock_set_back_is_heard_again_once_its_last_beat_lapsed() {
        let t0 = Instant::now();
        let mut beats = Beats::new(GRACE);
        assert_eq!(
            beats.accept(&"a", &Heartbeat::new(50_000, 50_000, []), 50_000, t0),
            Ok(())
        );
        let later = t0 + GRACE;
        assert_eq!(
            beats.accept(&"a", &Heartbeat::new(49_000, 53_000, []), 53_000, later),
            Ok(())
        );
        assert!(beats.is_live(&"a", later));
    }

    #[test]
    fn the_lanes_a_member_cannot_serve_are_those_of_its_newest_heartbeat() {
        let t0 = Instant::now();
        let mut beats = Beats::new(GRACE);
        beats
            .accept(&"a", &Heartbeat::new(7, 1_000, [lane("a", "b")]), 1_000, t0)
            .unwrap();
        let unserved = |beats: &Beats<&'static str>| -> Vec<(&'static str, usize)> {
            beats.live(t0).map(|(p, u)| (*p, u.len())).collect()
        };
        assert_eq!(unserved(&beats), [("a", 1)]);
        beats
            .accept(&"a", &Heartbeat::new(8, 1_000, []), 1_000, t0)
            .unwrap();
        assert_eq!(unserved(&beats), [("a", 0)]);
        beats.clear();
        assert!(!beats.is_live(&"a", t0));
    }

    fn arb_chain() -> impl Strategy<Value = ChainId> {
        "[A-Za-z0-9._-]{1,64}".prop_map(|s| ChainId::new(s).unwrap())
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_what_decodes_re_encodes_exactly(
            bytes in proptest::collection::vec(any::<u8>(), 0..400)
        ) {
            if let Ok((hb, sig)) = decode_payload(&bytes) {
                prop_assert_eq!(encode_payload(&hb, &sig), bytes);
            }
        }

        #[test]
        fn every_heartbeat_round_trips_and_a_byte_less_or_more_is_refused(
            counter in any::<u64>(),
            time_ms in any::<u64>(),
            lanes in proptest::collection::vec((arb_chain(), arb_chain()), 0..8),
            sig in proptest::array::uniform32(any::<u8>()),
            extra in any::<u8>(),
        ) {
            let hb = Heartbeat::new(
                counter,
                time_ms,
                lanes.into_iter().map(|(source, destination)| Lane { source, destination }),
            );
            let mut signature = [0u8; SIGNATURE_LEN];
            signature[..32].copy_from_slice(&sig);
            signature[32..].copy_from_slice(&sig);
            let bytes = encode_payload(&hb, &signature);
            prop_assert!(bytes.len() <= MAX_PAYLOAD_LEN);
            prop_assert_eq!(decode_payload(&bytes).unwrap(), (hb, signature));
            prop_assert!(decode_payload(&bytes[..bytes.len() - 1]).is_err());
            let mut longer = bytes;
            longer.push(extra);
            prop_assert!(decode_payload(&longer).is_err());
        }

        #[test]
        fn a_mutated_payload_never_panics(
            counter in any::<u64>(),
            lanes in proptest::collection::vec((arb_chain(), arb_chain()), 0..4),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let hb = Heartbeat::new(
                counter,
                counter,
                lanes.into_iter().map(|(source, destination)| Lane { source, destination }),
            );
            let mut bytes = encode_payload(&hb, &[3; SIGNATURE_LEN]);
            let i = at % bytes.len();
            bytes[i] = byte;
            if let Ok((hb, sig)) = decode_payload(&bytes) {
                prop_assert_eq!(encode_payload(&hb, &sig), bytes);
            }
        }
    }
}
