// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IEvmLightClient} from "../IEvmLightClient.sol";
import {AddressSets} from "./AddressSets.sol";
import {Codec} from "./Codec.sol";
import {EvmHeaders} from "./EvmHeaders.sol";
import {Rlp} from "./Rlp.sol";

/// @title Attested blocks (docs/PROTOCOL.md §12.3), read from calldata.
/// @notice Mirrors `light-clients/src/evm/attest.rs`: `Attestation ‖ seq<AttesterSignature>`
/// decoded strictly, the digest SHA-256("xrelay.evm-attest.v1" ‖ Attestation) taken over the
/// received bytes, and each signature checked in order (a member, not seen before, a valid
/// §4 signature by the member it names) before the quorum.
library Attestations {
    using Codec for Codec.Reader;
    using AddressSets for AddressSets.Set;

    /// @notice Most signatures an `Attested` carries (`MAX_ATTESTERS`).
    uint256 internal constant MAX_SIGNATURES = 256;
    uint256 private constant SIGNATURE_LEN = 85; // address 20 ‖ r 32 ‖ s 32 ‖ v 1
    bytes32 private constant ATTEST_TAG = "xrelay.evm-attest.v1"; // 20 bytes

    /// @notice An `Attested` in calldata.
    struct Attested {
        uint256 start; // the Attestation's first byte
        uint256 end; // one past its last byte (where the signatures' count starts)
        bytes32 chainKey; // keccak-256 of its chain id
        uint256 chainIdStart;
        uint256 chainIdLen;
        uint64 height;
        bytes32 blockHash;
        bytes32 stateRoot;
        uint64 timeMs;
        uint256 signatures; // first signature
        uint256 count;
    }

    /// @notice Reads an `Attested` at the reader (strict: a valid chain id, at most 256
    /// signatures, each 85 bytes).
    function read(Codec.Reader memory r) internal pure returns (Attested memory a) {
        a.start = r.pos;
        bytes calldata chainId = r.chainId();
        a.chainIdStart = Codec.offsetOf(chainId);
        a.chainIdLen = chainId.length;
        a.chainKey = keccak256(chainId);
        a.height = r.u64();
        a.blockHash = r.hash32();
        a.stateRoot = r.hash32();
        a.timeMs = r.u64();
        a.end = r.pos;
        a.count = r.count(MAX_SIGNATURES, SIGNATURE_LEN);
        a.signatures = r.take(a.count * SIGNATURE_LEN);
    }

    /// @notice `check_attested`: for the chain `chainKey` (else `WrongChain`), then vouched
    /// for by the committee `members` (ascending) with `quorum`.
    function check(Attested memory a, bytes32 chainKey, AddressSets.Set memory members, uint256 quorum)
        internal
        view
    {
        if (a.chainKey != chainKey) revert IEvmLightClient.WrongChain(Codec.slice(a.chainIdStart, a.chainIdLen));
        bytes32 digest = Codec.taggedHash(ATTEST_TAG, 20, a.start, a.end - a.start);
        uint256 seen; // a committee has at most 256 members: one bit each
        uint256 n = a.count;
        for (uint256 i = 0; i < n; ++i) {
            uint256 at = a.signatures + i * SIGNATURE_LEN;
            address attester;
            uint256 r;
            uint256 s;
            uint8 v;
            assembly ("memory-safe") {
                attester := shr(96, calldataload(at))
                r := calldataload(add(at, 20))
                s := calldataload(add(at, 52))
                v := byte(0, calldataload(add(at, 84)))
            }
            (bool member, uint256 index) = members.indexOf(attester, true);
            if (!member) revert IEvmLightClient.UnknownAttester(i, attester);
            if (seen & (1 << index) != 0) revert IEvmLightClient.DuplicateAttester(i, attester);
            seen |= 1 << index;
            if (v != 27 && v != 28) revert IEvmLightClient.BadAttesterSignature(i, attester, 0, address(0));
            (address recovered, uint8 why) = EvmHeaders.recover(digest, r, s, v);
            if (why != EvmHeaders.SIG_OK) revert IEvmLightClient.BadAttesterSignature(i, attester, why, address(0));
            if (recovered != attester) revert IEvmLightClient.BadAttesterSignature(i, attester, 4, recovered);
        }
        if (n < quorum) revert IEvmLightClient.BelowQuorum(n, quorum);
    }

    /// @notice Whether two attestations are the same bytes (so the same block, time and root).
    function same(Attested memory a, Attested memory b) internal pure returns (bool) {
        uint256 len = a.end - a.start;
        return len == b.end - b.start && Rlp.keccakAt(a.start, len) == Rlp.keccakAt(b.start, len);
    }
}
