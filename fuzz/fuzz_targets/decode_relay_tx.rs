//! `RelayTx::decode` on arbitrary bytes (what a chain reads back from an EVM Gateway call,
//! tag prepended): it must never panic nor allocate for hostile counts, a decoded relay
//! transaction must re-encode to exactly the input, and its kind, tag and verification cost
//! must compute without panicking; the tag it reports is the byte it was read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_protocol::RelayTx;

fuzz_target!(|data: &[u8]| {
    let Some(tx) = decode_canonical::<RelayTx>(data) else {
        return;
    };
    let _ = tx.kind();
    let _ = tx.cost().check();
    assert_eq!(Some(&tx.tag()), data.first());
});
