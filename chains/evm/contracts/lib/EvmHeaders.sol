// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Rlp} from "./Rlp.sol";

/// @title Ethereum block headers from calldata, strictly (docs/PROTOCOL.md §11.1).
/// @notice Mirrors `light-clients/src/evm/header.rs`: at most 65,536 bytes, one canonical RLP
/// list and nothing after it, 15, 16, 17, 20 or 21 fields each of its exact length, integers
/// without leading zeros, extraData at most 32,768 bytes; the same checks in the same order,
/// so a header is refused here exactly when `EvmHeader::decode` refuses it, for the same
/// reason. A decoded header stays in calldata: its hash is keccak-256 of the exact bytes
/// received, and the seal digests re-assemble it in scratch memory with extraData replaced.
library EvmHeaders {
    /// @notice Largest encoded header (`MAX_HEADER_BYTES`).
    uint256 internal constant MAX_HEADER_BYTES = 65_536;
    /// @notice Largest extraData (`MAX_EXTRA_DATA_BYTES`).
    uint256 internal constant MAX_EXTRA_DATA_BYTES = 32_768;
    /// @notice secp256k1 group order n, and n / 2 (the largest low s).
    uint256 internal constant ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
    uint256 internal constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice `SignatureError` of PROTOCOL.md §4, as a number: why a signature recovers no
    /// address (0: it does).
    uint8 internal constant SIG_OK = 0;
    uint8 internal constant SIG_SCALAR_OUT_OF_RANGE = 1;
    uint8 internal constant SIG_HIGH_S = 2;
    uint8 internal constant SIG_UNRECOVERABLE = 3;

    /// @notice The header is longer than 65,536 bytes (`EvmHeaderError::TooLarge`).
    error HeaderTooLarge(uint256 len, uint256 max);
    /// @notice The header's RLP is truncated or not canonical (`EvmHeaderError::Rlp`).
    error HeaderRlp();
    /// @notice The header is an RLP string, not a list (`EvmHeaderError::NotAList`).
    error HeaderNotAList();
    /// @notice Bytes follow the header's list (`EvmHeaderError::TrailingBytes`).
    error HeaderTrailingBytes(uint256 count);
    /// @notice No fork has this field count (`EvmHeaderError::FieldCount`).
    error HeaderFieldCount(uint256 found);
    /// @notice Field `index` (0 parentHash … 20 requestsHash) has the wrong kind, length or
    /// leading zeros (`EvmHeaderError::Field`).
    error HeaderField(uint256 index);
    /// @notice extraData is longer than 32,768 bytes (`EvmHeaderError::ExtraDataTooLarge`).
    error ExtraDataTooLarge(uint256 len, uint256 max);

    /// @notice A decoded header: where it lies in calldata and the fields the rules read.
    struct Header {
        uint256 start; // first byte of the header (its list prefix)
        uint256 end; // one past its last byte
        uint256 payload; // first byte of the list payload
        uint256 extraItem; // first byte of the extraData item (its prefix)
        uint256 extraItemEnd; // one past the extraData item
        uint256 extra; // first byte of extraData itself
        uint256 extraLen;
        uint256 fieldCount;
        bytes32 parentHash;
        bytes32 ommersHash;
        address beneficiary;
        bytes32 stateRoot;
        uint256 difficulty;
        uint64 number;
        uint64 timestamp;
        bytes32 mixHash;
        bytes8 nonce;
    }

    /// @notice Decodes `data` as a header (EvmHeader::decode), reverting with the first rule
    /// broken.
    function decode(bytes calldata data) internal pure returns (Header memory h) {
        if (data.length > MAX_HEADER_BYTES) revert HeaderTooLarge(data.length, MAX_HEADER_BYTES);
        uint256 start;
        assembly ("memory-safe") {
            start := data.offset
        }
        uint256 end = start + data.length;
        (bool ok, uint256 payload, uint256 payloadLen, bool list, uint256 next) = Rlp.tryReadAt(start, end);
        if (!ok) revert HeaderRlp();
        if (!list) revert HeaderNotAList();
        h.start = start;
        h.end = end;
        h.payload = payload;

        // Every item's prefix is checked (and the items counted) before what follows the
        // list and any field, as alloy-rlp's `decode_raw` does.
        (uint256[21] memory items, uint256 n, uint256 extraItem) = _items(payload, payload + payloadLen);
        h.extraItem = extraItem;
        if (next != end) revert HeaderTrailingBytes(end - next);
        if (n != 15 && n != 16 && n != 17 && n != 20 && n != 21) revert HeaderFieldCount(n);
        h.fieldCount = n;

        // extraData first, as header.rs reads it.
        (uint256 extra, uint256 extraLen, bool extraIsList) = _item(items, 12);
        if (extraIsList) revert HeaderField(12);
        if (extraLen > MAX_EXTRA_DATA_BYTES) revert ExtraDataTooLarge(extraLen, MAX_EXTRA_DATA_BYTES);
        h.extraItemEnd = extra + extraLen;
        h.extra = extra;
        h.extraLen = extraLen;

        h.parentHash = _fixed(items, 0, 32);
        h.ommersHash = _fixed(items, 1, 32);
        h.beneficiary = address(bytes20(_fixed(items, 2, 20)));
        h.stateRoot = _fixed(items, 3, 32);
        _fixed(items, 4, 32);
        _fixed(items, 5, 32);
        _fixed(items, 6, 256);
        h.difficulty = _uint(items, 7, 32);
        h.number = uint64(_uint(items, 8, 8));
        _uint(items, 9, 8);
        _uint(items, 10, 8);
        h.timestamp = uint64(_uint(items, 11, 8));
        h.mixHash = _fixed(items, 13, 32);
        h.nonce = bytes8(_fixed(items, 14, 8));
        if (n > 15) _uint(items, 15, 32);
        if (n > 16) _fixed(items, 16, 32);
        if (n > 17) {
            _uint(items, 17, 8);
            _uint(items, 18, 8);
            _fixed(items, 19, 32);
        }
        if (n > 20) _fixed(items, 20, 32);
    }

    /// @notice keccak-256 of the header as received: the block hash of Ethereum and Clique.
    function hash(Header memory h) internal pure returns (bytes32) {
        return Rlp.keccakAt(h.start, h.end - h.start);
    }

    /// @notice keccak-256 of the header with its extraData replaced by `pre ‖ calldata[midStart,
    /// midStart + midLen) ‖ post` (at least 2 bytes in all, so always a prefixed string): how
    /// the seal digests hash a header whose extraData lost its seals. Built in scratch memory
    /// past the free-memory pointer, so it allocates nothing but the prefixes.
    function hashWithExtra(Header memory h, bytes memory pre, uint256 midStart, uint256 midLen, bytes memory post)
        internal
        pure
        returns (bytes32 digest)
    {
        uint256 extraLen = pre.length + midLen + post.length;
        bytes memory extraPrefix = Rlp.prefix(extraLen, false);
        bytes memory listPrefix =
            Rlp.prefix(h.extraItem - h.payload + extraPrefix.length + extraLen + h.end - h.extraItemEnd, true);
        assembly ("memory-safe") {
            function put(dst, b) -> next {
                let n := mload(b)
                mcopy(dst, add(b, 32), n)
                next := add(dst, n)
            }
            // Header fields are words in declaration order: end +32, payload +64,
            // extraItem +96, extraItemEnd +128.
            let base := mload(0x40)
            let p := put(base, listPrefix)
            let payload := mload(add(h, 64))
            let before := sub(mload(add(h, 96)), payload)
            calldatacopy(p, payload, before)
            p := add(p, before)
            p := put(p, extraPrefix)
            p := put(p, pre)
            calldatacopy(p, midStart, midLen)
            p := add(p, midLen)
            p := put(p, post)
            let extraItemEnd := mload(add(h, 128))
            let afterLen := sub(mload(add(h, 32)), extraItemEnd)
            calldatacopy(p, extraItemEnd, afterLen)
            p := add(p, afterLen)
            digest := keccak256(base, sub(p, base))
        }
    }

    /// @notice The header's time in milliseconds, and whether it fits a `u64`.
    function timeMs(Header memory h) internal pure returns (bool fits, uint64 ms) {
        uint256 t = uint256(h.timestamp) * 1000;
        if (t > type(uint64).max) return (false, 0);
        return (true, uint64(t));
    }

    /// @notice Recovers the signer of `digest` under PROTOCOL.md §4's rules (1 ≤ r, s < n,
    /// s ≤ n/2; `v` already 27 or 28): the address, or why none (`SIG_*`).
    function recover(bytes32 digest, uint256 r, uint256 s, uint8 v) internal pure returns (address signer, uint8 why) {
        if (r == 0 || r >= ORDER || s == 0 || s >= ORDER) return (address(0), SIG_SCALAR_OUT_OF_RANGE);
        if (s > HALF_ORDER) return (address(0), SIG_HIGH_S);
        signer = ecrecover(digest, v, bytes32(r), bytes32(s));
        if (signer == address(0)) return (address(0), SIG_UNRECOVERABLE);
        return (signer, SIG_OK);
    }

    /// Every item of the list payload `[payload, listEnd)` checked, counted, and (the first
    /// 21) kept as one word each: payload offset << 128 | length << 1 | is-a-list; and where
    /// item 12 (extraData) starts.
    function _items(uint256 payload, uint256 listEnd)
        private
        pure
        returns (uint256[21] memory items, uint256 n, uint256 extraItem)
    {
        for (uint256 pos = payload; pos < listEnd; ++n) {
            uint256 itemStart = pos;
            (bool ok, uint256 p, uint256 len, bool isList, uint256 after_) = Rlp.tryReadAt(pos, listEnd);
            if (!ok) revert HeaderRlp();
            if (n < 21) items[n] = (p << 128) | (len << 1) | (isList ? 1 : 0);
            if (n == 12) extraItem = itemStart;
            pos = after_;
        }
    }

    /// Item `i`'s payload offset, length and kind.
    function _item(uint256[21] memory items, uint256 i) private pure returns (uint256 p, uint256 len, bool list) {
        uint256 w = items[i];
        return (w >> 128, (w >> 1) & type(uint64).max, w & 1 == 1);
    }

    /// A string field of exactly `len` bytes, its first 32 bytes left-aligned (masked to `len`).
    function _fixed(uint256[21] memory items, uint256 i, uint256 len) private pure returns (bytes32 v) {
        (uint256 p, uint256 n, bool list) = _item(items, i);
        if (list || n != len) revert HeaderField(i);
        assembly ("memory-safe") {
            v := calldataload(p)
        }
        if (len < 32) v &= bytes32(~(type(uint256).max >> (8 * len)));
    }

    /// An integer field of at most `maxBytes` bytes without leading zeros.
    function _uint(uint256[21] memory items, uint256 i, uint256 maxBytes) private pure returns (uint256 v) {
        (uint256 p, uint256 n, bool list) = _item(items, i);
        if (list || n > maxBytes) revert HeaderField(i);
        if (n == 0) return 0;
        uint256 first;
        assembly ("memory-safe") {
            first := byte(0, calldataload(p))
            v := shr(mul(8, sub(32, n)), calldataload(p))
        }
        if (first == 0) revert HeaderField(i);
    }
}
