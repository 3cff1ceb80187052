//! `SignedHeader::decode` on arbitrary bytes: it must never panic, and a decoded signed
//! header must re-encode to exactly the input (a relayer forwards these bytes and a chain
//! hashes them). `Header::hash` and recovering the first few signers over that hash (what a
//! verifier does) must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::{decode_canonical, recover_some};
use xrelay_light_client::SignedHeader;

fuzz_target!(|data: &[u8]| {
    let Some(signed) = decode_canonical::<SignedHeader>(data) else {
        return;
    };
    let digest = signed.header.hash();
    recover_some(&signed.commit.signatures, &digest);
});
