//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Every decoder of `xrelay-light-client` is strict (bounded lengths, no trailing bytes, one
//! encoding per value), so a successful decode must re-encode to exactly the input bytes:
//! if it does not, two byte strings would name one value and hashes or signatures over the
//! encoding could be replayed or forked. [`decode_canonical`] asserts that.

pub mod evm_evidence;
pub mod json;

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

/// What `decode_rpc_answer` reads from its input: how the answer is given and what the
/// caller asked for (decoders check the answer against the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcRequest {
    /// The answer is a [`json::value`] description rather than JSON text.
    pub structured: bool,
    /// The height asked for (`header`, `proof`, `proofs`).
    pub height: u64,
    /// How many proofs were asked for (`proofs`).
    pub asked: usize,
}

/// Bytes before the answer in a `decode_rpc_answer` input: mode, height (u64 big-endian),
/// number of proofs.
pub const RPC_HEAD: usize = 10;

impl RpcRequest {
    /// Splits a `decode_rpc_answer` input into the request and the answer's bytes; inputs
    /// shorter than [`RPC_HEAD`] are skipped.
    pub fn split(data: &[u8]) -> Option<(RpcRequest, &[u8])> {
        let (head, body) = data.split_first_chunk::<RPC_HEAD>()?;
        let mut height = [0u8; 8];
        height.copy_from_slice(&head[1..9]);
        let req = RpcRequest {
            structured: head[0] & 1 == 1,
            height: u64::from_be_bytes(height),
            asked: head[9] as usize,
        };
        Some((req, body))
    }

    /// A `decode_rpc_answer` input: this request, then `body`.
    pub fn input(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(RPC_HEAD + body.len());
        out.push(u8::from(self.structured));
        out.extend_from_slice(&self.height.to_be_bytes());
        out.push(u8::try_from(self.asked).unwrap_or(u8::MAX));
        out.extend_from_slice(body);
        out
    }
}

/// Splits a `parse_relayer_config` input: the file's bytes up to the first NUL, then up to
/// [`MAX_ENV`] environment variables `NAME=VALUE` separated by NULs, each `NAME` prefixed with
/// `XRELAY_` (so that every variable reaches the override code, which ignores the others).
pub fn config_input(data: &[u8]) -> (&[u8], Vec<(String, String)>) {
    let mut parts = data.split(|b| *b == 0);
    let file = parts.next().unwrap_or_default();
    let env = parts
        .take(MAX_ENV)
        .map(|p| {
            let text = String::from_utf8_lossy(p);
            let (name, value) = text.split_once('=').unwrap_or((&text, ""));
            (format!("XRELAY_{name}"), value.to_string())
        })
        .collect();
    (file, env)
}

/// Most environment overrides per `parse_relayer_config` input.
pub const MAX_ENV: usize = 8;
