//! The verdicts of `contracts/lib/MerklePatricia.sol` in Rust terms: its result codes
//! (`MerklePatricia.Result`, a `uint8` on chain) and the Rust errors each stands for, so a
//! relayer can read a refused proof's code and tests can compare the contract's verdict with
//! the Rust verifier's (`xrelay_light_client::evm::mpt`, `evm::client::verify_path`).

use xrelay_light_client::encoding::Writer;
use xrelay_light_client::evm::client::EvmClientError;
use xrelay_light_client::evm::mpt::MptError;

/// `MerklePatricia.Result`: one code per kind of Rust error (the table in the contract's
/// documentation and in `chains/evm/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MptCode {
    /// The proof shows the value (or the absence) it was asked about.
    Valid = 0,
    /// [`MptError::TooManyNodes`].
    TooManyNodes = 1,
    /// [`MptError::NodeTooLong`].
    NodeTooLong = 2,
    /// [`MptError::HashMismatch`].
    HashMismatch = 3,
    /// [`MptError::MissingNode`].
    MissingNode = 4,
    /// [`MptError::TrailingNodes`].
    TrailingNodes = 5,
    /// [`MptError::Rlp`].
    BadRlp = 6,
    /// [`MptError::Malformed`].
    Malformed = 7,
    /// [`MptError::BadAccount`].
    BadAccount = 8,
    /// [`MptError::BadStorageValue`].
    BadStorageValue = 9,
    /// [`EvmClientError::GatewayAbsent`].
    GatewayAbsent = 10,
    /// [`EvmClientError::ValueMismatch`].
    ValueMismatch = 11,
}

impl MptCode {
    /// Every code, in order.
    pub const ALL: [MptCode; 12] = [
        MptCode::Valid,
        MptCode::TooManyNodes,
        MptCode::NodeTooLong,
        MptCode::HashMismatch,
        MptCode::MissingNode,
        MptCode::TrailingNodes,
        MptCode::BadRlp,
        MptCode::Malformed,
        MptCode::BadAccount,
        MptCode::BadStorageValue,
        MptCode::GatewayAbsent,
        MptCode::ValueMismatch,
    ];

    /// The code a contract returned, `None` if no code has that number.
    pub fn from_u8(code: u8) -> Option<MptCode> {
        MptCode::ALL.get(usize::from(code)).copied()
    }
}

/// A proof verdict as the contract states it: the code and, for refusals that name a node,
/// that node's index in the proof (for `TooManyNodes` and `MissingNode`, the node count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MptVerdict {
    /// The result code.
    pub code: MptCode,
    /// The node the refusal names, if the Rust error names one.
    pub index: Option<usize>,
}

impl MptVerdict {
    /// The verdict a contract returned as `(code, index)`, the index kept only for the codes
    /// whose Rust error names a node; `None` for a number that is no code.
    pub fn from_contract(code: u8, index: u64) -> Option<MptVerdict> {
        let code = MptCode::from_u8(code)?;
        let names_a_node = matches!(
            code,
            MptCode::TooManyNodes
                | MptCode::NodeTooLong
                | MptCode::HashMismatch
                | MptCode::MissingNode
                | MptCode::TrailingNodes
                | MptCode::BadRlp
                | MptCode::Malformed
        );
        let index = names_a_node.then(|| usize::try_from(index).unwrap_or(usize::MAX));
        Some(MptVerdict { code, index })
    }
}

impl From<&MptError> for MptVerdict {
    fn from(e: &MptError) -> Self {
        let (code, index) = match e {
            MptError::TooManyNodes { count, .. } => (MptCode::TooManyNodes, Some(*count)),
            MptError::NodeTooLong { index, .. } => (MptCode::NodeTooLong, Some(*index)),
            MptError::HashMismatch { index } => (MptCode::HashMismatch, Some(*index)),
            MptError::MissingNode { index } => (MptCode::MissingNode, Some(*index)),
            MptError::TrailingNodes { index, .. } => (MptCode::TrailingNodes, Some(*index)),
            MptError::Rlp { index, .. } => (MptCode::BadRlp, Some(*index)),
            MptError::Malformed { index, .. } => (MptCode::Malformed, Some(*index)),
            MptError::BadAccount(_) => (MptCode::BadAccount, None),
            MptError::BadStorageValue(_) => (MptCode::BadStorageValue, None),
        };
        MptVerdict { code, index }
    }
}

/// What `MerklePatricia.checkGatewayPathAt` reports for a gateway path: the code, whether
/// the refusal is in the storage proof (else the account proof), and the node it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathVerdict {
    /// The code and node.
    pub verdict: MptVerdict,
    /// The refusal is in the storage proof (Rust's `StorageProof`, `ValueMismatch`), not in
    /// the account proof (`AccountProof`, `GatewayAbsent`).
    pub in_storage_proof: bool,
}

impl PathVerdict {
    /// The verdict the contract gives where Rust's `verify_path` returned `result`; `None`
    /// for the client's own refusals that no proof causes (frozen client, unknown height,
    /// and errors of updates), which the contract leaves to the light client.
    pub fn of(result: &Result<(), EvmClientError>) -> Option<PathVerdict> {
        let (verdict, in_storage_proof) = match result {
            Ok(()) => (
                MptVerdict {
                    code: MptCode::Valid,
                    index: None,
                },
                false,
            ),
            Err(EvmClientError::AccountProof { error, .. }) => (error.into(), false),
            Err(EvmClientError::StorageProof { error, .. }) => (error.into(), true),
            Err(EvmClientError::GatewayAbsent(_)) => (
                MptVerdict {
                    code: MptCode::GatewayAbsent,
                    index: None,
                },
                false,
            ),
            Err(EvmClientError::ValueMismatch { .. }) => (
                MptVerdict {
                    code: MptCode::ValueMismatch,
                    index: None,
                },
                true,
            ),
            Err(_) => return None,
        };
        Some(PathVerdict {
            verdict,
            in_storage_proof,
        })
    }
}

impl PathVerdict {
    /// What `checkGatewayPathAt` returned as `(code, inStorageProof, index)`; `None` for a
    /// number that is no code.
    pub fn from_contract(code: u8, in_storage_proof: bool, index: u64) -> Option<PathVerdict> {
        Some(PathVerdict {
            verdict: MptVerdict::from_contract(code, index)?,
            in_storage_proof,
        })
    }
}

/// A node list as `seq<bytes>` (the canonical framing `MerklePatricia.verify` reads).
pub fn encode_nodes<N: AsRef<[u8]>>(nodes: &[N]) -> Vec<u8> {
    let mut w = Writer::default();
    w.len_prefix(nodes.len());
    for n in nodes {
        w.bytes(n.as_ref());
    }
    w.into_vec()
}
