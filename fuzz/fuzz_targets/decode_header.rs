//! `Header::decode` on arbitrary bytes: it must never panic, and a decoded header must
//! re-encode to exactly the input, because the header hash (what validators sign) is taken
//! over the encoding: a second encoding of one header would be a second signable digest.
//! `hash()` must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::Header;

fuzz_target!(|data: &[u8]| {
    let Some(header) = decode_canonical::<Header>(data) else {
        return;
    };
    let _ = header.hash();
});
