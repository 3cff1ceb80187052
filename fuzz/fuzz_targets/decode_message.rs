//! `Message::decode` on arbitrary bytes: it must never panic, a decoded message must
//! re-encode to exactly the input (the commitment stored on the source chain is a hash of
//! the encoding, so a second encoding would be a second commitment for one message), and it
//! must satisfy `validate()` (decoding enforces the same rules). `id()`, `commitment()`,
//! the state-tree paths and `Timeout::has_passed` must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::{paths, Message};

fuzz_target!(|data: &[u8]| {
    let Some(msg) = decode_canonical::<Message>(data) else {
        return;
    };
    assert_eq!(msg.validate(), Ok(()));
    let _ = msg.id();
    let _ = msg.commitment();
    let _ = paths::commitment(&msg.destination, msg.sequence);
    let _ = paths::receipt(&msg.source, msg.sequence);
    let _ = paths::ack(&msg.source, msg.sequence);
    let t = msg.timeout;
    for (h, ms) in [(0, 0), (t.height, t.time_ms), (u64::MAX, u64::MAX)] {
        let _ = t.has_passed(h, ms);
    }
});
