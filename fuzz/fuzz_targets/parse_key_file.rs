//! `keyfile::parse` on arbitrary text (validator key files are written by operators):
//! never panics, and every key it accepts is a valid secret key that parses back
//! identically from its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_devchain::keyfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(keys) = keyfile::parse(text) else {
        return;
    };
    let canonical: String = keys
        .iter()
        .map(|k| format!("{}\n", hex::encode(k)))
        .collect();
    assert_eq!(keyfile::parse(&canonical).as_ref(), Ok(&keys));
});
