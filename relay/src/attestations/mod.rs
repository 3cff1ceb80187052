//! The attestation board: where a relayer collects the attester signatures of a k-of-n
//! committee (docs/PROTOCOL.md §12) until a quorum signed one attestation.
//!
//! Signatures arrive from this relayer's own attester key ([`AttestationBoard::publish_own`])
//! and from its mesh peers (the mesh offers everything it receives on
//! `xrelay/mesh/attest/v1`, PROTOCOL.md §10). Each is checked on arrival: the attestation
//! must name a chain whose committee was admitted ([`AttestationBoard::admit`]), the
//! attester must be a member of it, and the signature must recover to that attester. Only
//! then is it kept, per attestation digest, so outsiders cannot fill the board.
//! [`AttestationBoard::gather`] waits until a quorum signed exactly the wanted attestation;
//! [`AttestationBoard::subscribe_seen`] tells the co-signer of attestations it has not seen
//! before, so that it can check them against its own node and sign them too.
//!
//! Memory is bounded: at most [`MAX_ATTESTATIONS`] attestations (the least recently first
//! seen is forgotten first), at most [`MAX_ATTESTERS`](xrelay_light_client::evm::attest::MAX_ATTESTERS) signatures each, and the newest
//! [`OWN_REPUBLISHED`] of this relayer's own signatures, which the mesh re-publishes so that
//! a peer that joins late still gets them.

mod board;
pub mod payload;
mod quorum;
#[cfg(test)]
mod tests;

/// The board itself lives in `board` (storage, admission, publication) and `quorum`
/// (assembling and waiting for a quorum); this path is the one its users name.
pub use board::AttestationBoard;

/// Most attestations kept: a relayer attests a few blocks per lane at a time, so this holds
/// minutes of attestations of many chains while bounding what a flooding peer can cost.
pub const MAX_ATTESTATIONS: usize = 1_024;

/// How many of this relayer's own newest signatures the mesh re-publishes with each
/// heartbeat.
pub const OWN_REPUBLISHED: usize = 16;

/// Own signatures queued for the mesh before it takes them; a slower mesh loses the
/// oldest, which the periodic re-publication covers.
const OUTBOUND_CAPACITY: usize = 256;

/// New attestations announced to the co-signer before it takes them; a slower co-signer
/// loses the oldest (their owners re-publish, which announces nothing new, so it then
/// relies on the owner's retry).
const SEEN_CAPACITY: usize = 256;

/// Why the board refused a signature (nothing was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No committee of the attested chain was admitted: this relayer follows no such
    /// chain in attestation mode.
    #[error("no committee is known for the attested chain")]
    UnknownChain,
    /// The attester is not a member of the chain's committee.
    #[error("the attester is not in the chain's committee")]
    NotMember,
    /// The signature does not recover to the attester it names.
    #[error("the signature does not recover to the attester it names")]
    BadSignature,
    /// The attestation already has [`MAX_ATTESTERS`] other signers.
    #[error("the attestation already has the most signers kept")]
    Full,
}

impl Refused {
    /// The `reason` label of `xrelay_mesh_attestations_dropped_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refused::UnknownChain => "unknown_chain",
            Refused::NotMember => "not_member",
            Refused::BadSignature => "bad_signature",
            Refused::Full => "full",
        }
    }
}
