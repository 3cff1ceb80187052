//! `Acknowledgement::decode` on arbitrary bytes: it must never panic (unknown tags, lengths
//! above 64 KiB and non-UTF-8 error text are errors), a decoded acknowledgement must
//! re-encode to exactly the input (its commitment, proven back to the source chain, hashes
//! the encoding), and `commitment()` and `is_success()` must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::Acknowledgement;

fuzz_target!(|data: &[u8]| {
    let Some(ack) = decode_canonical::<Acknowledgement>(data) else {
        return;
    };
    let _ = ack.commitment();
    assert_eq!(ack.is_success(), data[0] == 0);
});
