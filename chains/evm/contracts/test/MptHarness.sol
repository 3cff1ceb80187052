// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Codec} from "../lib/Codec.sol";
import {MerklePatricia} from "../lib/MerklePatricia.sol";

/// @title Test-only window on `MerklePatricia`, so tests on a node compare its verdicts with
/// the Rust verifier's (`chains/evm/tests/mpt.rs`) and measure its gas.
/// @notice Every function but `checkGatewayPathInside` takes a whole encoding (`Codec.finish`
/// refuses trailing bytes, as Rust's `Decode::decode` does) and returns the result code
/// (`MerklePatricia.Result` as a `uint8`); malformed framing reverts with `Codec`'s errors.
contract MptHarness {
    /// @notice What a gateway-path check is asked to show (`MerklePatricia.checkGatewayPath`).
    struct Claim {
        bytes32 stateRoot;
        address gateway;
        bytes32 pathHash;
        bool membership;
        bytes32 valueHash;
    }

    /// @notice An account's fields (Rust's `evm::mpt::Account`).
    struct Account {
        uint64 nonce;
        uint256 balance;
        bytes32 storageRoot;
        bytes32 codeHash;
    }

    /// @notice Emitted by `checkGatewayPathTx`, so a transaction's receipt carries the verdict.
    event Checked(uint8 code);

    /// @notice `MerklePatricia.verify` over a whole `seq<bytes>` node list: Rust's
    /// `verify_proof(root, key, nodes)`.
    function verifyProof(bytes32 root, bytes32 key, bytes calldata nodes)
        external
        pure
        returns (uint8 code, uint256 index, bool found, bytes memory value)
    {
        bytes calldata leaf;
        (code, index, leaf) = _verifyWhole(root, key, nodes);
        return (code, index, leaf.length != 0, leaf);
    }

    /// @notice Rust's `verify_account(root, account, nodes)`: the account's fields when the
    /// proof shows it (`found`), `BadAccount` when its leaf does not decode.
    function verifyAccount(bytes32 root, address account, bytes calldata nodes)
        external
        pure
        returns (uint8 code, uint256 index, bool found, Account memory fields)
    {
        bytes calldata leaf;
        (code, index, leaf) = _verifyWhole(root, keccak256(abi.encodePacked(account)), nodes);
        found = leaf.length != 0;
        if (found) {
            bool ok;
            (ok, fields.nonce, fields.balance, fields.storageRoot, fields.codeHash) =
                MerklePatricia.decodeAccount(leaf);
            if (!ok) return (uint8(MerklePatricia.Result.BadAccount), index, false, fields);
        }
    }

    /// @notice Rust's `verify_storage(root, slot, nodes)`: the slot's value, zero if absent,
    /// `BadStorageValue` when its leaf does not decode.
    function verifyStorage(bytes32 root, bytes32 slot, bytes calldata nodes)
        external
        pure
        returns (uint8 code, uint256 index, bytes32 value)
    {
        bytes calldata leaf;
        (code, index, leaf) = _verifyWhole(root, keccak256(abi.encode(slot)), nodes);
        if (leaf.length != 0) {
            bool ok;
            (ok, value) = MerklePatricia.decodeStorageValue(leaf);
            if (!ok) return (uint8(MerklePatricia.Result.BadStorageValue), index, 0);
        }
    }

    /// @notice `MerklePatricia.checkGatewayPathAt` over a whole `EvmStorageProof`: Rust's
    /// `verify_path`.
    function checkGatewayPath(Claim calldata claim, bytes calldata proof)
        external
        pure
        returns (uint8 code, bool inStorageProof, uint256 index)
    {
        Codec.Reader memory r = Codec.reader(proof);
        MerklePatricia.Result result;
        (result, inStorageProof, index) = MerklePatricia.checkGatewayPathAt(
            r, claim.stateRoot, claim.gateway, claim.pathHash, claim.membership, claim.valueHash
        );
        Codec.finish(r);
        code = uint8(result);
    }

    /// @notice `MerklePatricia.checkGatewayPath` on a proof starting `offset` bytes into a
    /// larger `body`, as a Gateway reads it from a relay call: returns where the reader
    /// stopped (relative to `body`).
    function checkGatewayPathInside(Claim calldata claim, bytes calldata body, uint256 offset)
        external
        pure
        returns (uint8 code, uint256 stop)
    {
        Codec.Reader memory r = Codec.reader(body);
        Codec.take(r, offset);
        MerklePatricia.Result result = MerklePatricia.checkGatewayPath(
            r, claim.stateRoot, claim.gateway, claim.pathHash, claim.membership, claim.valueHash
        );
        return (uint8(result), r.pos - Codec.offsetOf(body));
    }

    /// @notice The gas `MerklePatricia.checkGatewayPath` spends on `proof` (measured with
    /// `gasleft`, so neither the call's intrinsic cost nor its calldata is counted).
    function gasOfCheckGatewayPath(Claim calldata claim, bytes calldata proof)
        external
        view
        returns (uint8 code, uint256 gasUsed)
    {
        Codec.Reader memory r = Codec.reader(proof);
        uint256 before = gasleft();
        MerklePatricia.Result result = MerklePatricia.checkGatewayPath(
            r, claim.stateRoot, claim.gateway, claim.pathHash, claim.membership, claim.valueHash
        );
        gasUsed = before - gasleft();
        Codec.finish(r);
        code = uint8(result);
    }

    /// @notice `checkGatewayPath` in a transaction (emits `Checked`): its receipt's gasUsed is
    /// the whole cost of a call carrying the proof.
    function checkGatewayPathTx(Claim calldata claim, bytes calldata proof) external {
        Codec.Reader memory r = Codec.reader(proof);
        MerklePatricia.Result result = MerklePatricia.checkGatewayPath(
            r, claim.stateRoot, claim.gateway, claim.pathHash, claim.membership, claim.valueHash
        );
        Codec.finish(r);
        emit Checked(uint8(result));
    }

    /// `MerklePatricia.verify` over the whole of `nodes`.
    function _verifyWhole(bytes32 root, bytes32 key, bytes calldata nodes)
        private
        pure
        returns (uint8 code, uint256 index, bytes calldata leaf)
    {
        Codec.Reader memory r = Codec.reader(nodes);
        MerklePatricia.Result result;
        (result, index, leaf) = MerklePatricia.verify(r, root, key);
        Codec.finish(r);
        code = uint8(result);
    }
}
