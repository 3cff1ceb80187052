//! The mesh's heartbeat payload (`xrelay/mesh/heartbeat/v2`, docs/PROTOCOL.md §10:
//! `u64 counter ‖ u64 time_ms ‖ seq<Lane> unserved ‖ sig64`) on arbitrary bytes, as a relayer
//! receives it from a member: decoding must never panic, a payload that decodes must
//! re-encode to exactly the input (one encoding per heartbeat: its lanes strictly
//! ascending), and the receiver's rules (`Beats::accept`: stale, future, replay) must never
//! panic whatever the clocks, believe a fresh heartbeat once and refuse it the second time.
//!
//! The codec and the rules are compiled from the relayer's own source file (it depends on
//! xrelay-light-client and thiserror only), so this crate needs no libp2p; the signature,
//! checked with libp2p's ed25519, is not what is fuzzed here.
#![no_main]

#[allow(dead_code)]
#[path = "../../relay/src/mesh/heartbeat.rs"]
mod heartbeat;

use std::time::{Duration, Instant};

use heartbeat::{
    decode_payload, encode_payload, signing_bytes, Beats, Heartbeat, Refusal, MAX_PAYLOAD_LEN,
};
use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::hex;

fuzz_target!(|data: &[u8]| {
    let Ok((hb, signature)) = decode_payload(data) else {
        return;
    };
    let again = encode_payload(&hb, &signature);
    assert!(
        again == data,
        "heartbeat payload is not canonical: input {} re-encodes to {}",
        hex(data),
        hex(&again)
    );
    assert!(data.len() <= MAX_PAYLOAD_LEN);
    assert!(hb.unserved.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        Heartbeat::new(hb.counter, hb.time_ms, hb.unserved.clone()),
        hb,
        "a decoded heartbeat is already in canonical form"
    );
    // The signed bytes end with the payload's body.
    let signed = signing_bytes(b"peer", &hb);
    assert!(signed.ends_with(&data[..data.len() - heartbeat::SIGNATURE_LEN]));

    // A receiver whose clock agrees with the sender's believes it once; the copy is a replay.
    let now = Instant::now();
    let mut beats = Beats::new(Duration::from_millis(3_000));
    assert_eq!(beats.accept(&0u8, &hb, hb.time_ms, now), Ok(()));
    assert!(beats.is_live(&0u8, now));
    assert_eq!(
        beats.accept(&0u8, &hb, hb.time_ms, now),
        Err(Refusal::Replay)
    );
    // Any clock, any grace: an answer, never a panic.
    for grace_ms in [0, 1, hb.counter, u64::MAX] {
        let mut beats = Beats::new(Duration::from_millis(grace_ms));
        for now_ms in [0, hb.counter, hb.time_ms.wrapping_add(1), u64::MAX] {
            let _ = beats.accept(&1u8, &hb, now_ms, now);
            let _ = beats.live(now).count();
        }
    }
});
