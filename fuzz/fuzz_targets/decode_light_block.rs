//! `LightBlock::decode` on arbitrary bytes: it must never panic, and a decoded light block
//! must re-encode to exactly the input. `TrustedState::from_light_block` (the self-consistency
//! check an operator's genesis block goes through: set hashes, commit hash, signatures,
//! quorum) must return a result, never panic, whatever the block holds; its result is
//! ignored, since a random block is almost never consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::{LightBlock, TrustedState};

fuzz_target!(|data: &[u8]| {
    let Some(block) = decode_canonical::<LightBlock>(data) else {
        return;
    };
    let _ = block.header().hash();
    let _ = block.validators.hash();
    let _ = block.next_validators.hash();
    if let Ok(state) = TrustedState::from_light_block(&block) {
        // A block accepted as trusted describes itself.
        assert_eq!(state.height, block.height());
        assert_eq!(state.header_hash, block.header().hash());
        assert_eq!(state.next_validators, block.next_validators);
    }
});
