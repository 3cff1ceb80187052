//! `TransferPacket::decode` on arbitrary bytes (the payload a destination's transfer app
//! reads from another chain): never panics, re-encodes to exactly the input, and a decoded
//! packet always has a valid denomination and a non-zero amount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_protocol::{TransferPacket, transfer::check_denom};

fuzz_target!(|data: &[u8]| {
    let Some(packet) = decode_canonical::<TransferPacket>(data) else {
        return;
    };
    assert!(check_denom(&packet.denom).is_ok());
    assert!(packet.amount > 0);
});
