// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AddressSets} from "./AddressSets.sol";
import {EvmHeaders} from "./EvmHeaders.sol";
import {Rlp} from "./Rlp.sol";

/// @title QBFT and IBFT 2.0 committed seals (docs/PROTOCOL.md §11.2).
/// @notice Mirrors `light-clients/src/evm/istanbul.rs` and the BFT half of `consensus.rs`:
/// extraData `[vanity, validators, vote, round, seals]` decoded strictly in each variant's
/// encoding, the committed-seal digest and the block hash rebuilt from the received bytes,
/// every seal recovered with `ecrecover` (v ∈ {0, 1}, low s), Besu's ceil(2n/3) quorum of
/// distinct listed validators, and `verify_header_transition`'s hand-over rule. Checks run
/// in the Rust order, so a refusal names the same rule.
library BftSeals {
    using AddressSets for AddressSets.Set;

    /// @notice The variants (FinalityMode tags 0 and 1).
    uint8 internal constant QBFT = 0;
    uint8 internal constant IBFT2 = 1;
    /// @notice The mixHash of every BFT header, "ctical byzantine fault tolerance".
    bytes32 internal constant ISTANBUL_MIX_HASH = 0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365;

    /// @notice Which part of extraData is malformed (`BftError::Shape`'s reason): 0 not five
    /// items, 1 vanity not a string, 2 validators not a list, 3 a validator not 20 bytes,
    /// 4 vote not a [recipient, type] list, 5 recipient not 20 bytes, 6 vote type not add or
    /// drop, 7 round not the variant's integer, 8 seals not a list, 9 a seal not 65 bytes.
    error BftExtraDataShape(uint8 part);
    /// @notice extraData is not one canonical RLP list (`BftError::Rlp`).
    error BftExtraDataRlp();
    /// @notice The vanity is not 32 bytes (`BftError::VanityLength`).
    error BftVanityLength(uint256 len);
    /// @notice mixHash is not the Istanbul digest (`BftError::MixHash`).
    error BftMixHash(bytes32 found);
    /// @notice A seal's recovery byte is not 0 or 1 (`BftError::SealRecoveryByte`).
    error BftSealRecoveryByte(uint256 index, uint8 v);
    /// @notice A seal recovers no address (`BftError::BadSeal`; `why`: 1 r or s out of range,
    /// 2 high s, 3 unrecoverable).
    error BftBadSeal(uint256 index, uint8 why);
    /// @notice A seal is by a key outside the set (`BftError::UnknownSigner`).
    error BftUnknownSigner(uint256 index, address signer);
    /// @notice A validator sealed twice (`BftError::DuplicateSigner`).
    error BftDuplicateSigner(address signer);
    /// @notice Fewer than ceil(2n/3) distinct validators sealed (`BftError::InsufficientQuorum`).
    error BftInsufficientQuorum(uint256 signed, uint256 required, uint256 validators);
    /// @notice Not more than a third of the trusted set sealed a block
    /// (`BftError::InsufficientTrustedSigners`).
    error BftInsufficientTrustedSigners(uint256 signed, uint256 required, uint256 trusted);
    /// @notice The set to check against is empty (`BftError::EmptyValidatorSet`).
    error EmptyValidatorSet();
    /// @notice The set to check against lists an address twice (`BftError::DuplicateValidator`).
    error DuplicateValidator(address validator);

    /// @notice A decoded extraData: where its parts lie in calldata.
    struct Extra {
        uint256 listPayload; // the vanity item: first byte of the list payload
        uint256 voteEnd; // one past the vote item
        uint256 roundEnd; // one past the round item
        AddressSets.Set validators; // the listed validators (21-byte RLP items in calldata)
        uint256 seals; // first seal's 65 bytes
        uint256 sealCount;
    }

    /// @notice What a header's verification established.
    struct Verdict {
        bytes32 blockHash;
        bytes32 sealDigest;
        address[] signers; // in seal order
        AddressSets.Set listed; // the validators the header lists (its set for what follows)
    }

    /// @notice `BftHeader::parse`: the mixHash, then extraData decoded as `variant` writes it.
    function parse(EvmHeaders.Header memory h, uint8 variant) internal pure returns (Extra memory e) {
        if (h.mixHash != ISTANBUL_MIX_HASH) revert BftMixHash(h.mixHash);
        uint256 end = h.extra + h.extraLen;
        (bool ok, uint256 payload, uint256 payloadLen, bool list, uint256 next) = Rlp.tryReadAt(h.extra, end);
        if (!ok || !list) revert BftExtraDataRlp();
        uint256[5] memory items;
        uint256[5] memory ends;
        uint256 n;
        uint256 listEnd = payload + payloadLen;
        for (uint256 pos = payload; pos < listEnd; ++n) {
            uint256 itemStart = pos;
            (ok,,,, pos) = Rlp.tryReadAt(pos, listEnd);
            if (!ok) revert BftExtraDataRlp();
            if (n < 5) {
                items[n] = itemStart;
                ends[n] = pos;
            }
        }
        if (next != end) revert BftExtraDataRlp();
        if (n != 5) revert BftExtraDataShape(0);
        e.listPayload = payload;

        (, , uint256 vanityLen, bool vanityList,) = Rlp.tryReadAt(items[0], listEnd);
        if (vanityList) revert BftExtraDataShape(1);
        if (vanityLen != 32) revert BftVanityLength(vanityLen);

        e.validators = _validators(items[1], ends[1]);
        _vote(variant, items[2], ends[2]);
        e.voteEnd = ends[2];
        _round(variant, items[3], ends[3]);
        e.roundEnd = ends[3];
        (e.seals, e.sealCount) = _seals(items[4], ends[4]);
    }

    /// @notice The digest every committed seal signs: the header with extraData
    /// `[vanity, validators, vote, round, []]` (QBFT) or `[vanity, validators, vote, round]`
    /// (IBFT 2.0); block 0 as it is.
    function sealDigest(EvmHeaders.Header memory h, Extra memory e, uint8 variant) internal pure returns (bytes32) {
        if (h.number == 0) return EvmHeaders.hash(h);
        uint256 kept = e.roundEnd - e.listPayload;
        if (variant == QBFT) {
            return EvmHeaders.hashWithExtra(h, Rlp.prefix(kept + 1, true), e.listPayload, kept, hex"c0");
        }
        return EvmHeaders.hashWithExtra(h, Rlp.prefix(kept, true), e.listPayload, kept, "");
    }

    /// @notice The block hash the chain uses: extraData `[vanity, validators, vote, 0, []]`
    /// (QBFT) or `[vanity, validators, vote]` (IBFT 2.0); block 0 as it is.
    function blockHash(EvmHeaders.Header memory h, Extra memory e, uint8 variant) internal pure returns (bytes32) {
        if (h.number == 0) return EvmHeaders.hash(h);
        uint256 kept = e.voteEnd - e.listPayload;
        if (variant == QBFT) {
            return EvmHeaders.hashWithExtra(h, Rlp.prefix(kept + 2, true), e.listPayload, kept, hex"80c0");
        }
        return EvmHeaders.hashWithExtra(h, Rlp.prefix(kept, true), e.listPayload, kept, "");
    }

    /// @notice `verify_header` for QBFT / IBFT 2.0: final under `validators` (every seal by
    /// a distinct member, at least ceil(2n/3) of them).
    function verify(EvmHeaders.Header memory h, uint8 variant, AddressSets.Set memory validators)
        internal
        pure
        returns (Verdict memory v)
    {
        Extra memory e = parse(h, variant);
        v.sealDigest = sealDigest(h, e, variant);
        v.signers = _verifySeals(e, v.sealDigest, validators);
        v.blockHash = blockHash(h, e, variant);
        v.listed = e.validators;
    }

    /// @notice The first half of `verify_header_transition`: the header final under its
    /// own list (Besu requires a block to list the validators that must seal it).
    function verifyOwnList(EvmHeaders.Header memory h, uint8 variant) internal pure returns (Verdict memory v) {
        Extra memory e = parse(h, variant);
        v.sealDigest = sealDigest(h, e, variant);
        v.signers = _verifySeals(e, v.sealDigest, e.validators);
        v.blockHash = blockHash(h, e, variant);
        v.listed = e.validators;
    }

    /// @notice The second half: more than a third of the trusted set `trusted`
    /// (floor(|T|/3) + 1) among the sealers. `listedIsTrusted` (the header lists exactly the
    /// trusted set) means every sealer is trusted, and `trusted` is not read.
    function requireTrusted(address[] memory signers, AddressSets.Set memory trusted, bool listedIsTrusted)
        internal
        pure
    {
        uint256 n = signers.length;
        uint256 vouching = n;
        if (!listedIsTrusted) {
            bool ascending = trusted.isStrictlyAscending();
            vouching = 0;
            for (uint256 i = 0; i < n; ++i) {
                (bool member,) = trusted.indexOf(signers[i], ascending);
                if (member) ++vouching;
            }
        }
        uint256 required = trusted.count / 3 + 1;
        if (vouching < required) revert BftInsufficientTrustedSigners(vouching, required, trusted.count);
    }

    /// @notice Besu's quorum: ceil(2n/3).
    function quorum(uint256 n) internal pure returns (uint256) {
        return (2 * n + 2) / 3;
    }

    /// @notice `check_validator_set`: not empty, no address twice (the smallest repeated one
    /// is reported). Returns whether the set is strictly ascending (searchable by halves).
    function checkSet(AddressSets.Set memory set) internal pure returns (bool ascending) {
        if (set.count == 0) revert EmptyValidatorSet();
        ascending = set.isStrictlyAscending();
        if (!ascending) {
            (bool dup, address who) = set.smallestDuplicate();
            if (dup) revert DuplicateValidator(who);
        }
    }

    /// `verify_seals`: the set, every seal recovered in order, then membership and
    /// distinctness in seal order, then the quorum.
    function _verifySeals(Extra memory e, bytes32 digest, AddressSets.Set memory set)
        private
        pure
        returns (address[] memory signers)
    {
        bool ascending = checkSet(set);
        uint256 n = e.sealCount;
        signers = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 at = e.seals + i * 67;
            uint256 r;
            uint256 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(at)
                s := calldataload(add(at, 32))
                v := byte(0, calldataload(add(at, 64)))
            }
            if (v > 1) revert BftSealRecoveryByte(i, v);
            (address signer, uint8 why) = EvmHeaders.recover(digest, r, s, v + 27);
            if (why != EvmHeaders.SIG_OK) revert BftBadSeal(i, why);
            signers[i] = signer;
        }
        uint256[] memory seen = new uint256[]((set.count + 255) / 256);
        for (uint256 i = 0; i < n; ++i) {
            (bool found, uint256 index) = set.indexOf(signers[i], ascending);
            if (!found) revert BftUnknownSigner(i, signers[i]);
            uint256 bit = 1 << (index & 0xff);
            if (seen[index >> 8] & bit != 0) revert BftDuplicateSigner(signers[i]);
            seen[index >> 8] |= bit;
        }
        uint256 required = quorum(set.count);
        if (n < required) revert BftInsufficientQuorum(n, required, set.count);
    }

    /// The validators item: a list (every item prefix valid), then each a 20-byte string.
    function _validators(uint256 item, uint256 itemEnd) private pure returns (AddressSets.Set memory set) {
        (bool ok, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(item, itemEnd);
        if (!ok || !list) revert BftExtraDataShape(2);
        uint256 end = payload + len;
        uint256 n;
        for (uint256 pos = payload; pos < end; ++n) {
            (ok,,,, pos) = Rlp.tryReadAt(pos, end);
            if (!ok) revert BftExtraDataShape(2);
        }
        uint256 p = payload;
        for (uint256 i = 0; i < n; ++i) {
            (, , uint256 l, bool isList, uint256 nextItem) = Rlp.tryReadAt(p, end);
            if (isList || l != 20) revert BftExtraDataShape(3);
            p = nextItem;
        }
        // Each item is 0x94 ‖ 20 bytes: the addresses sit 21 bytes apart.
        set = AddressSets.Set({start: payload + 1, count: n, stride: 21, inMemory: false});
    }

    /// The vote item: the variant's "no vote" byte, or `[recipient, type]`.
    function _vote(uint8 variant, uint256 item, uint256 itemEnd) private pure {
        uint256 first;
        assembly ("memory-safe") {
            first := byte(0, calldataload(item))
        }
        if (itemEnd - item == 1 && first == (variant == QBFT ? 0xc0 : 0x80)) return;
        (uint256 recipient, uint256 kind, uint256 kindEnd) = _pair(item, itemEnd);
        (, , uint256 recipientLen, bool recipientList,) = Rlp.tryReadAt(recipient, kind);
        if (recipientList || recipientLen != 20) revert BftExtraDataShape(5);
        uint256 word;
        assembly ("memory-safe") {
            word := calldataload(kind)
        }
        bool add = kindEnd - kind == 2 && word >> 240 == 0x81ff;
        bool drop = kindEnd - kind == 1 && word >> 248 == (variant == QBFT ? 0x80 : 0x00);
        if (!add && !drop) revert BftExtraDataShape(6);
    }

    /// A list of exactly two items (every prefix valid): where each starts, and the end of
    /// the second.
    function _pair(uint256 item, uint256 itemEnd) private pure returns (uint256 a, uint256 b, uint256 bEnd) {
        (bool ok, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(item, itemEnd);
        if (!ok || !list) revert BftExtraDataShape(4);
        uint256 end = payload + len;
        uint256 n;
        for (uint256 pos = payload; pos < end; ++n) {
            uint256 partStart = pos;
            (ok,,,, pos) = Rlp.tryReadAt(pos, end);
            if (!ok) revert BftExtraDataShape(4);
            if (n == 0) a = partStart;
            if (n == 1) (b, bEnd) = (partStart, pos);
        }
        if (n != 2) revert BftExtraDataShape(4);
    }

    /// The round item: QBFT an RLP integer of at most 4 bytes, IBFT 2.0 exactly 4 bytes.
    function _round(uint8 variant, uint256 item, uint256 itemEnd) private pure {
        (, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(item, itemEnd);
        if (list) revert BftExtraDataShape(7);
        if (variant == QBFT) {
            uint256 first;
            assembly ("memory-safe") {
                first := byte(0, calldataload(payload))
            }
            if (len > 4 || (len > 0 && first == 0)) revert BftExtraDataShape(7);
        } else if (len != 4) {
            revert BftExtraDataShape(7);
        }
    }

    /// The seals item: a list, each item a 65-byte string (0xb841 ‖ 65 bytes, 67 apart).
    function _seals(uint256 item, uint256 itemEnd) private pure returns (uint256 first, uint256 n) {
        (bool ok, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(item, itemEnd);
        if (!ok || !list) revert BftExtraDataShape(8);
        uint256 end = payload + len;
        for (uint256 pos = payload; pos < end; ++n) {
            (ok,,,, pos) = Rlp.tryReadAt(pos, end);
            if (!ok) revert BftExtraDataShape(8);
        }
        uint256 p = payload;
        for (uint256 i = 0; i < n; ++i) {
            (, , uint256 l, bool isList, uint256 nextItem) = Rlp.tryReadAt(p, end);
            if (isList || l != 65) revert BftExtraDataShape(9);
            p = nextItem;
        }
        first = payload + 2;
    }
}
