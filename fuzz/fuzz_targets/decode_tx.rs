//! `Tx::decode` on arbitrary bytes (what a node's mempool receives): it must never panic nor
//! allocate for hostile counts, a decoded transaction must re-encode to exactly the input,
//! and its id, kind and (for signed actions) signing digest must compute without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_devchain::tx::{SignedAction, Tx};
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::ChainId;

fuzz_target!(|data: &[u8]| {
    let Some(tx) = decode_canonical::<Tx>(data) else {
        return;
    };
    let _ = tx.hash();
    let _ = tx.kind();
    if let Tx::Signed(s) = &tx {
        let chain = ChainId::new("fuzz").expect("valid id");
        let digest = SignedAction::digest(&chain, &s.signer, s.nonce, &s.action);
        let _ = s.signature.recover_address(&digest);
    }
});
