//! `ChainId::decode` on arbitrary bytes: it must never panic, a decoded id must re-encode to
//! exactly the input (one encoding per id), and the text form must obey the id rules
//! (`ChainId::new` accepts it back unchanged), because ids are spliced into state-tree
//! paths such as `commitments/{dst}/{seq}` where a `/` or a second spelling would let one
//! chain's keys collide with another's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::{paths, ChainId};

fuzz_target!(|data: &[u8]| {
    let Some(id) = decode_canonical::<ChainId>(data) else {
        return;
    };
    let text = id.as_str();
    assert_eq!(id.to_string(), text);
    assert_eq!(ChainId::new(text).as_ref(), Ok(&id));
    assert!(
        !text.contains('/'),
        "chain id {text:?} contains a path separator"
    );
    let key = paths::commitment(&id, 1);
    assert_eq!(key, format!("commitments/{text}/1").into_bytes());
    let _ = (
        paths::receipt(&id, u64::MAX),
        paths::ack(&id, 0),
        paths::next_receive(&id),
        paths::next_send(&id),
    );
});
