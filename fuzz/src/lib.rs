//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Every decoder of `xrelay-light-client` is strict (bounded lengths, no trailing bytes, one
//! encoding per value), so a successful decode must re-encode to exactly the input bytes:
//! if it does not, two byte strings would name one value and hashes or signatures over the
//! encoding could be replayed or forked. [`decode_canonical`] asserts that.

use std::any::type_name;
use std::fmt::Debug;

use xrelay_light_client::{sha256, CommitSig, Decode, Encode, Hash32};

/// How many commit signatures a target recovers per input: recovery is one EC operation
/// (~50 µs), so a full 1024-signature commit would slow the fuzzer without covering more.
pub const MAX_RECOVERIES: usize = 4;

/// Decodes `data`; when it decodes, asserts that the value re-encodes to exactly `data`.
pub fn decode_canonical<T: Decode + Encode + Debug>(data: &[u8]) -> Option<T> {
    let value = T::decode(data).ok()?;
    let again = value.encode();
    assert!(
        again == data,
        "{} is not canonical: input {} decodes to {value:?}, which re-encodes to {}",
        type_name::<T>(),
        hex(data),
        hex(&again),
    );
    Some(value)
}

/// Recovers the signer of the first [`MAX_RECOVERIES`] signatures over `digest`; the
/// result is ignored, only a panic (in the range, recovery-id or curve code) matters.
pub fn recover_some(signatures: &[CommitSig], digest: &Hash32) {
    for sig in signatures.iter().take(MAX_RECOVERIES) {
        let _ = sig.signature.recover_address(digest);
    }
}

/// A hash derived from the input and a label: an arbitrary but reproducible root or key.
pub fn derived(data: &[u8], label: &[u8]) -> Hash32 {
    let mut buf = Vec::with_capacity(label.len() + data.len());
    buf.extend_from_slice(label);
    buf.extend_from_slice(data);
    sha256(&buf)
}

/// Lower-case hex, for panic messages that must carry the input.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
