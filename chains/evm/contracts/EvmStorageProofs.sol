// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Codec} from "./lib/Codec.sol";
import {MerklePatricia} from "./lib/MerklePatricia.sol";

/// @title Checker of an EVM Gateway's storage proofs (docs/PROTOCOL.md §12.1–§12.2).
/// @notice Stateless and trustless: it says what a proof shows against a state root the
/// caller already trusts. It is a contract of its own because the Merkle-Patricia verifier
/// does not fit in the Gateway next to everything else (EIP-170's 24,576-byte limit); the
/// Gateway calls it once per proven item with the state root its `EvmLightClient` verified
/// and the counterpart Gateway's address.
contract EvmStorageProofs {
    /// @notice Whether `proof` (one `EvmStorageProof`, nothing after it) shows that
    /// `gateway`'s `provable[pathHash]` holds `valueHash` (`membership`) or zero under
    /// `stateRoot`.
    /// @return result 0 when it does, else the `MerklePatricia.Result` that refutes it
    function checkGatewayPath(
        bytes32 stateRoot,
        address gateway,
        bytes32 pathHash,
        bool membership,
        bytes32 valueHash,
        bytes calldata proof
    ) external pure returns (uint8 result) {
        Codec.Reader memory r = Codec.reader(proof);
        MerklePatricia.Result shown =
            MerklePatricia.checkGatewayPath(r, stateRoot, gateway, pathHash, membership, valueHash);
        Codec.finish(r);
        return uint8(shown);
    }
}
