//! `Misbehaviour::decode` on arbitrary bytes (evidence is submitted by anyone, so this is
//! the most exposed decoder): it must never panic, decoded evidence must re-encode to exactly
//! the input (its hash names it in logs and state), and `kind()` (the signature-free
//! classification: fork or BFT-time violation), `hash()` and the self-consistency check of
//! each light block (`TrustedState::from_light_block`) must return results, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::{Misbehaviour, MisbehaviourKind, TrustedState};

fuzz_target!(|data: &[u8]| {
    let Some(evidence) = decode_canonical::<Misbehaviour>(data) else {
        return;
    };
    let _ = evidence.hash();
    let (a, b) = (evidence.first.header(), evidence.second.header());
    match evidence.kind() {
        Ok(MisbehaviourKind::ConflictingHeaders { height }) => {
            assert!(a.height == height && b.height == height && a != b);
        }
        Ok(MisbehaviourKind::TimeViolation { lower, higher, .. }) => {
            assert!(lower < higher);
        }
        Err(_) => {}
    }
    let _ = TrustedState::from_light_block(&evidence.first);
    let _ = TrustedState::from_light_block(&evidence.second);
});
