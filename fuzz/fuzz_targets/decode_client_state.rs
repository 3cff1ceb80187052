//! `ClientState::decode` on arbitrary bytes (what a chain reads back from its state tree):
//! it must never panic, a decoded client must re-encode to exactly the input, must satisfy
//! its invariants (the latest height has a consensus state, no state above it) and must
//! answer its read-only queries without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::ClientState;

fuzz_target!(|data: &[u8]| {
    let Some(client) = decode_canonical::<ClientState>(data) else {
        return;
    };
    let latest = client.latest_height();
    assert!(client.consensus_state(latest).is_some());
    assert_eq!(client.heights().last(), Some(latest));
    let _ = client.status(u64::MAX);
    let _ = client.status(0);
    let trusted = client.latest_trusted();
    assert_eq!(trusted.height, latest);
});
