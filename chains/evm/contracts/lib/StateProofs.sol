// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Codec} from "./Codec.sol";

/// @title Membership and non-membership proofs of the xrelay state tree (PROTOCOL.md §5).
/// @notice A 256-level sparse Merkle tree over SHA-256 in the Jellyfish layout (a subtree
/// with one leaf is that leaf, an empty subtree a placeholder). A key `k` sits at
/// `SHA-256(k)`, its value `v` is committed as `SHA-256(v)`. The proof encoding (§2):
/// `u8 leaf_tag (0 | 1 ‖ hash32 key_hash ‖ hash32 value_hash) ‖ u16 count (≤ 256) ‖ count ×
/// (u8 0 | u8 1 ‖ hash32)`, siblings from the bottom of the path to the root, the
/// placeholder only in its one-byte form. Decoding is strict (errors of `Codec`); whether
/// the proof shows the claim is a `Result`, so a caller can choose to revert or not.
library StateProofs {
    /// @notice What a well-formed proof shows about a claim.
    enum Result {
        /// The claim holds under the root.
        Valid,
        /// Membership asked, but the proof ends at no leaf or at another key's leaf.
        KeyAbsent,
        /// Membership asked, the key's leaf holds another value.
        ValueMismatch,
        /// Non-membership asked, but the proof ends at the key's own leaf.
        KeyPresent,
        /// Non-membership asked, and the proof's leaf is not where the key would be.
        LeafOffPath,
        /// The path does not hash to the root.
        RootMismatch
    }

    /// @notice `requireValid` of `Result.KeyAbsent`.
    error ProofKeyAbsent();
    /// @notice `requireValid` of `Result.ValueMismatch`.
    error ProofValueMismatch();
    /// @notice `requireValid` of `Result.KeyPresent`.
    error ProofKeyPresent();
    /// @notice `requireValid` of `Result.LeafOffPath`.
    error ProofLeafOffPath();
    /// @notice `requireValid` of `Result.RootMismatch`.
    error ProofRootMismatch();

    /// @notice The hash of an empty subtree and the root of an empty tree.
    bytes32 internal constant PLACEHOLDER = "SPARSE_MERKLE_PLACEHOLDER_HASH__";
    /// @notice Most siblings of a path (the tree has 256 levels).
    uint256 internal constant MAX_SIBLINGS = 256;
    bytes32 private constant LEAF_TAG = "JMT::LeafNode"; // 13 bytes
    bytes32 private constant INTERNAL_TAG = "JMT::IntrnalNode"; // 16 bytes, jmt's spelling

    /// @notice Decodes a whole `StateProof` from `proof` and checks it for `keyHash` under
    /// `root`: membership of the value hashed to `valueHash` when `membership`, else absence.
    function verify(bytes32 root, bytes32 keyHash, bool membership, bytes32 valueHash, bytes calldata proof)
        internal
        view
        returns (Result result)
    {
        Codec.Reader memory r = Codec.reader(proof);
        result = check(r, root, keyHash, membership, valueHash);
        Codec.finish(r);
    }

    /// @notice Reads one `StateProof` at the reader's position (leaving the reader after it)
    /// and checks it as `verify` does: for proofs embedded in a larger body. A malformed
    /// proof reverts with a `Codec` error before any claim is judged.
    function check(Codec.Reader memory r, bytes32 root, bytes32 keyHash, bool membership, bytes32 valueHash)
        internal
        view
        returns (Result result)
    {
        uint8 tag = Codec.u8(r);
        bytes32 node = PLACEHOLDER;
        bytes32 leafKey;
        bytes32 leafValue;
        if (tag == 1) {
            leafKey = Codec.hash32(r);
            leafValue = Codec.hash32(r);
            node = _leaf(leafKey, leafValue);
        } else if (tag != 0) {
            revert Codec.InvalidValue("proof leaf tag");
        }
        uint256 len = Codec.u16(r);
        if (len > MAX_SIBLINGS) revert Codec.TooLong(len, MAX_SIBLINGS);
        if (len > Codec.remaining(r)) revert Codec.UnexpectedEnd(len, Codec.remaining(r));
        result = _judgeLeaf(tag == 1, leafKey, leafValue, keyHash, membership, valueHash, len);
        // The whole proof is decoded (strictly) whatever the verdict on the leaf.
        for (uint256 j = 0; j < len; ++j) {
            bytes32 sibling = PLACEHOLDER;
            uint8 sibTag = Codec.u8(r);
            if (sibTag == 1) {
                sibling = Codec.hash32(r);
                if (sibling == PLACEHOLDER) revert Codec.InvalidValue("proof sibling");
            } else if (sibTag != 0) {
                revert Codec.InvalidValue("proof sibling tag");
            }
            // Depth of this step: len - 1 - j; bit `depth` of the key, most significant first.
            if ((uint256(keyHash) >> (255 - (len - 1 - j))) & 1 == 1) {
                node = _internal(sibling, node);
            } else {
                node = _internal(node, sibling);
            }
        }
        if (result == Result.Valid && node != root) result = Result.RootMismatch;
    }

    /// @notice Reverts with the custom error of a failed `Result`.
    function requireValid(Result result) internal pure {
        if (result == Result.Valid) return;
        if (result == Result.KeyAbsent) revert ProofKeyAbsent();
        if (result == Result.ValueMismatch) revert ProofValueMismatch();
        if (result == Result.KeyPresent) revert ProofKeyPresent();
        if (result == Result.LeafOffPath) revert ProofLeafOffPath();
        revert ProofRootMismatch();
    }

    /// @notice §5 step 2: the leaf (if any) against the claim; `len` is the sibling count.
    function _judgeLeaf(
        bool hasLeaf,
        bytes32 leafKey,
        bytes32 leafValue,
        bytes32 keyHash,
        bool membership,
        bytes32 valueHash,
        uint256 len
    ) private pure returns (Result) {
        if (membership) {
            if (!hasLeaf || leafKey != keyHash) return Result.KeyAbsent;
            if (leafValue != valueHash) return Result.ValueMismatch;
            return Result.Valid;
        }
        if (!hasLeaf) return Result.Valid;
        if (leafKey == keyHash) return Result.KeyPresent;
        // The other leaf must share the key's first `len` bits (sit where the key would go).
        // A shift by 256 (len = 0) yields 0 in the EVM: nothing to share.
        if ((uint256(leafKey ^ keyHash) >> (256 - len)) != 0) return Result.LeafOffPath;
        return Result.Valid;
    }

    function _leaf(bytes32 keyHash, bytes32 valueHash) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, LEAF_TAG)
            mstore(add(ptr, 13), keyHash)
            mstore(add(ptr, 45), valueHash)
            if iszero(staticcall(gas(), 0x02, ptr, 77, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    function _internal(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, INTERNAL_TAG)
            mstore(add(ptr, 16), left)
            mstore(add(ptr, 48), right)
            if iszero(staticcall(gas(), 0x02, ptr, 80, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }
}
