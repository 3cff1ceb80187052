// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AddressSets} from "./AddressSets.sol";
import {EvmHeaders} from "./EvmHeaders.sol";

/// @title Clique (EIP-225) seals (docs/PROTOCOL.md §11.3).
/// @notice Mirrors `light-clients/src/evm/clique.rs`: extraData = 32 bytes vanity ‖ signers
/// (checkpoints only, ascending) ‖ 65-byte seal; the fixed fields (mixHash zero, empty
/// ommers, nonce a vote or none, difficulty 1 or 2, no post-London fields); the seal over the
/// header without its last 65 extraData bytes; the sealer an authorised signer whose turn
/// matches the difficulty; EIP-225's "signed recently" rule over consecutive blocks.
library CliqueSeals {
    using AddressSets for AddressSets.Set;

    /// @notice keccak-256 of RLP([]): every Clique block's ommers hash.
    bytes32 internal constant EMPTY_OMMERS_HASH = 0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347;
    uint256 private constant VANITY = 32;
    uint256 private constant SEAL = 65;

    /// @notice The epoch is zero (`CliqueError::ZeroEpoch`).
    error CliqueZeroEpoch();
    /// @notice extraData is shorter than vanity and seal (`CliqueError::ExtraDataTooShort`).
    error CliqueExtraDataTooShort(uint256 len);
    /// @notice A non-checkpoint block lists signers (`CliqueError::SignersOutsideCheckpoint`).
    error CliqueSignersOutsideCheckpoint(uint64 number);
    /// @notice A checkpoint's list is not whole addresses (`CliqueError::CheckpointSignersLength`).
    error CliqueCheckpointSignersLength(uint256 len);
    /// @notice A checkpoint's list is empty or not ascending (`CliqueError::CheckpointSignersOrder`).
    error CliqueCheckpointSignersOrder();
    /// @notice The nonce is not a vote (`CliqueError::InvalidVote`).
    error CliqueInvalidVote(bytes8 nonce);
    /// @notice A checkpoint carries a vote (`CliqueError::CheckpointVote`).
    error CliqueCheckpointVote();
    /// @notice mixHash is not zero (`CliqueError::MixHash`).
    error CliqueMixHash();
    /// @notice The ommers hash is not the empty list's (`CliqueError::OmmersHash`).
    error CliqueOmmersHash();
    /// @notice The header has Shanghai or later fields (`CliqueError::PostShanghaiFields`).
    error CliquePostShanghaiFields();
    /// @notice The difficulty is not 1 or 2 (`CliqueError::Difficulty`).
    error CliqueDifficulty();
    /// @notice The seal's recovery byte is not 0 or 1 (`CliqueError::SealRecoveryByte`).
    error CliqueSealRecoveryByte(uint8 v);
    /// @notice The seal recovers no address (`CliqueError::BadSeal`; `why` as BftBadSeal's).
    error CliqueBadSeal(uint8 why);
    /// @notice The sealer is not authorised (`CliqueError::UnauthorizedSigner`).
    error CliqueUnauthorizedSigner(address signer);
    /// @notice The difficulty claims the wrong turn (`CliqueError::WrongDifficulty`).
    error CliqueWrongDifficulty(uint64 difficulty, bool inTurn);
    /// @notice The signer set is empty or repeats an address (`CliqueError::BadSignerSet`).
    error CliqueBadSignerSet();
    /// @notice A signer sealed too recently (`CliqueError::RecentlySigned`).
    error CliqueRecentlySigned(address signer, uint64 number, uint64 previous);

    /// @notice A parsed Clique header.
    struct Parsed {
        bool checkpoint;
        AddressSets.Set signers; // the checkpoint's list (packed in calldata), else empty
        uint256 seal; // the seal's first byte in calldata
    }

    /// @notice `CliqueHeader::parse`: the epoch, the layout, extraData split, the vote and
    /// the fixed fields, in that order.
    function parse(EvmHeaders.Header memory h, uint64 epoch) internal pure returns (Parsed memory p) {
        if (epoch == 0) revert CliqueZeroEpoch();
        if (h.fieldCount > 16) revert CliquePostShanghaiFields();
        if (h.extraLen < VANITY + SEAL) revert CliqueExtraDataTooShort(h.extraLen);
        uint256 signerBytes = h.extraLen - VANITY - SEAL;
        p.checkpoint = h.number % epoch == 0;
        if (p.checkpoint) {
            if (signerBytes % 20 != 0) revert CliqueCheckpointSignersLength(signerBytes);
            p.signers = AddressSets.Set({start: h.extra + VANITY, count: signerBytes / 20, stride: 20, inMemory: false});
            if (p.signers.count == 0 || !p.signers.isStrictlyAscending()) revert CliqueCheckpointSignersOrder();
        } else if (signerBytes != 0) {
            revert CliqueSignersOutsideCheckpoint(h.number);
        }
        bool authorize;
        if (h.nonce == bytes8(type(uint64).max)) authorize = true;
        else if (h.nonce != bytes8(0)) revert CliqueInvalidVote(h.nonce);
        if (p.checkpoint && (h.beneficiary != address(0) || authorize)) revert CliqueCheckpointVote();
        if (h.mixHash != bytes32(0)) revert CliqueMixHash();
        if (h.ommersHash != EMPTY_OMMERS_HASH) revert CliqueOmmersHash();
        if (h.difficulty != 1 && h.difficulty != 2) revert CliqueDifficulty();
        p.seal = h.extra + h.extraLen - SEAL;
    }

    /// @notice The digest the seal signs: the header with extraData minus its last 65 bytes.
    function sealHash(EvmHeaders.Header memory h) internal pure returns (bytes32) {
        return EvmHeaders.hashWithExtra(h, "", h.extra, h.extraLen - SEAL, "");
    }

    /// @notice The sealer of `p` over `digest`.
    function signer(Parsed memory p, bytes32 digest) internal pure returns (address who) {
        uint256 at = p.seal;
        uint256 r;
        uint256 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(at)
            s := calldataload(add(at, 32))
            v := byte(0, calldataload(add(at, 64)))
        }
        if (v > 1) revert CliqueSealRecoveryByte(v);
        uint8 why;
        (who, why) = EvmHeaders.recover(digest, r, s, v + 27);
        if (why != EvmHeaders.SIG_OK) revert CliqueBadSeal(why);
    }

    /// @notice `verify_header` for Clique under `signers`: the set, then the sealer
    /// recovered, authorised, and in the turn its difficulty claims (the in-turn signer of
    /// block n is the (n mod N)-th of the signers in ascending order). Returns the sealer
    /// and the seal digest.
    function verify(EvmHeaders.Header memory h, Parsed memory p, AddressSets.Set memory signers)
        internal
        pure
        returns (address who, bytes32 digest)
    {
        uint256 n = signers.count;
        bool ascending = signers.isStrictlyAscending();
        if (n == 0) revert CliqueBadSignerSet();
        if (!ascending) {
            (bool dup,) = signers.smallestDuplicate();
            if (dup) revert CliqueBadSignerSet();
        }
        digest = sealHash(h);
        who = signer(p, digest);
        (bool found, uint256 index) = signers.indexOf(who, ascending);
        if (!found) revert CliqueUnauthorizedSigner(who);
        // Position in ascending order: the index itself when sorted, else the count below.
        uint256 position = index;
        if (!ascending) {
            position = 0;
            for (uint256 i = 0; i < n; ++i) {
                if (signers.at(i) < who) ++position;
            }
        }
        bool inTurn = h.number % n == position;
        bool claims = h.difficulty == 2;
        if (inTurn != claims) revert CliqueWrongDifficulty(claims ? 2 : 1, inTurn);
    }

    /// @notice `check_recently_signed` for block `number` sealed by `who` after the
    /// consecutive blocks `numbers[0..count)` sealed by `sealers`, with `signerCount`
    /// signers authorised: refused if `who` sealed one of the floor(N/2) blocks before it.
    function checkRecentlySigned(
        uint64[] memory numbers,
        address[] memory sealers,
        uint256 count,
        uint64 number,
        address who,
        uint256 signerCount
    ) internal pure {
        uint256 window = signerCount / 2 + 1;
        for (uint256 i = count; i > 0; --i) {
            uint64 previous = numbers[i - 1];
            if (number - previous >= window) break;
            if (sealers[i - 1] == who) revert CliqueRecentlySigned(who, number, previous);
        }
    }
}
