//! `ValidatorSet::decode` on arbitrary bytes: it must never panic, and a decoded set must
//! re-encode to exactly the input, because headers commit to the hash of the encoding (a
//! second encoding of one set would be a second `validators_hash`). The decoded set must keep
//! the invariants decoding promises (non-empty, strictly ascending addresses found by
//! `index_of`, every power >= 1, `total_power` the exact sum and at most 2^60), and `hash()`
//! and `check_keys()` (point decompression of arbitrary 33-byte keys) must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::decode_canonical;
use xrelay_light_client::ValidatorSet;

/// `MAX_TOTAL_POWER` of the library (2^60).
const MAX_TOTAL_POWER: u64 = 1 << 60;

fuzz_target!(|data: &[u8]| {
    let Some(set) = decode_canonical::<ValidatorSet>(data) else {
        return;
    };
    assert!(!set.is_empty());
    let mut sum: u64 = 0;
    for (i, v) in set.validators().iter().enumerate() {
        assert!(v.power >= 1);
        assert_eq!(set.index_of(&v.address), Some(i));
        assert_eq!(set.get(&v.address), Some(v));
        sum = sum.checked_add(v.power).expect("powers overflow u64");
    }
    assert_eq!(set.total_power(), sum);
    assert!(sum <= MAX_TOTAL_POWER);
    let _ = set.hash();
    let _ = set.check_keys();
});
