//! `Commit::decode` on arbitrary bytes: it must never panic nor allocate for a hostile
//! signature count (the count is bounded by the bytes left), and a decoded commit must
//! re-encode to exactly the input. Recovering the signers of the first few signatures over
//! the commit's own header hash must not panic (bad `v`, zero or out-of-range `r`/`s`,
//! high `s`, points that do not recover are all errors, never panics).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::{decode_canonical, recover_some};
use xrelay_light_client::Commit;

fuzz_target!(|data: &[u8]| {
    let Some(commit) = decode_canonical::<Commit>(data) else {
        return;
    };
    recover_some(&commit.signatures, &commit.header_hash);
});
