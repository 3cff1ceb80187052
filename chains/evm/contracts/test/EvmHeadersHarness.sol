// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AddressSets} from "../lib/AddressSets.sol";
import {BftSeals} from "../lib/BftSeals.sol";
import {CliqueSeals} from "../lib/CliqueSeals.sol";
import {EvmHeaders} from "../lib/EvmHeaders.sol";

/// @title Test harness: the header libraries' `verify_header`, callable on its own.
/// @notice The differential tests (`chains/evm/tests/evm_light_client.rs`) give it every
/// real header and vector and compare its verdict, block hash, seal digest and signers
/// with the Rust `verify_header` of `light-clients/src/evm/consensus.rs`. Not deployed by
/// xrelay: the light client calls the same libraries.
contract EvmHeadersHarness {
    using AddressSets for AddressSets.Set;

    /// @notice `ownList` was asked of a Clique header that is not a checkpoint: it names no
    /// signers (`header_validators` gives none).
    error NoListedValidators();
    /// @notice The consensus number is not 0 (QBFT), 1 (IBFT 2.0) or 2 (Clique).
    error UnknownConsensus(uint8 consensus);

    /// @notice Verifies `header` under `consensus` (0 QBFT, 1 IBFT 2.0, 2 Clique with
    /// `epoch`) against `validators` (packed 20-byte addresses), or, when `ownList`, against
    /// the validators the header itself names (`EvmConsensus::header_validators`).
    /// @return blockHash the chain's hash of the block
    /// @return sealDigest what the seals signed
    /// @return signers the sealers in seal order
    /// @return listed the validators the header names (BFT: its list; Clique: a checkpoint's
    /// signers, else none)
    function verifyHeader(uint8 consensus, uint64 epoch, bytes calldata header, bytes calldata validators, bool ownList)
        external
        pure
        returns (bytes32 blockHash, bytes32 sealDigest, address[] memory signers, address[] memory listed)
    {
        EvmHeaders.Header memory h = EvmHeaders.decode(header);
        AddressSets.Set memory set = AddressSets.fromCalldata(validators);
        if (consensus == BftSeals.QBFT || consensus == BftSeals.IBFT2) {
            if (ownList) set = BftSeals.parse(h, consensus).validators;
            BftSeals.Verdict memory v = BftSeals.verify(h, consensus, set);
            return (v.blockHash, v.sealDigest, v.signers, v.listed.toArray());
        }
        if (consensus != 2) revert UnknownConsensus(consensus);
        CliqueSeals.Parsed memory p = CliqueSeals.parse(h, epoch);
        if (ownList) {
            if (!p.checkpoint) revert NoListedValidators();
            set = p.signers;
        }
        (address who, bytes32 digest) = CliqueSeals.verify(h, p, set);
        signers = new address[](1);
        signers[0] = who;
        return (EvmHeaders.hash(h), digest, signers, p.signers.toArray());
    }
}
