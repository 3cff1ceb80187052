// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Strict reader of canonical RLP, in place in calldata (docs/PROTOCOL.md §11.1, §12.1).
/// @notice EVM headers and Merkle-Patricia nodes are hashed over their exact bytes, so a value
/// is only trusted if it has one encoding: this reader refuses every non-canonical form (a
/// long length where a short one fits, a length with a leading zero byte, a single byte below
/// 0x80 wrapped as a one-byte string, integers with leading zero bytes) and every item that
/// does not fit in its parent. Items are (offset, length) spans of calldata, so nothing is
/// copied until a caller hashes a span.
library Rlp {
    /// @notice One RLP item: the absolute calldata offset and length of its payload (the
    /// bytes after the prefix), where the whole item starts, and whether it is a list.
    struct Item {
        uint256 start;
        uint256 payload;
        uint256 payloadLen;
        bool list;
    }

    /// @notice The input ended inside an item (`at`: its absolute offset).
    error RlpTruncated(uint256 at);
    /// @notice An item is encoded in a longer form than canonical RLP allows.
    error RlpNonCanonical(uint256 at);
    /// @notice A list was found where a string belongs, or the reverse.
    error RlpWrongKind(uint256 at, bool wantedList);
    /// @notice A list has more items than its place allows, or fewer / more than required.
    error RlpItemCount(uint256 at, uint256 found);
    /// @notice A string has the wrong length for its field.
    error RlpWrongLength(uint256 at, uint256 found, uint256 expected);
    /// @notice Bytes follow the outermost item.
    error RlpTrailing(uint256 count);

    /// @notice Reads the item at `pos`, which must end at or before `end`; returns it and
    /// the offset just after it.
    function readAt(uint256 pos, uint256 end) internal pure returns (Item memory item, uint256 next) {
        if (pos >= end) revert RlpTruncated(pos);
        uint256 b;
        assembly ("memory-safe") {
            b := byte(0, calldataload(pos))
        }
        item.start = pos;
        uint256 headerLen;
        uint256 len;
        if (b < 0x80) {
            // A single byte is its own encoding.
            headerLen = 0;
            len = 1;
        } else if (b < 0xb8) {
            headerLen = 1;
            len = b - 0x80;
            if (len == 1) {
                if (pos + 1 >= end) revert RlpTruncated(pos);
                uint256 only;
                assembly ("memory-safe") {
                    only := byte(0, calldataload(add(pos, 1)))
                }
                if (only < 0x80) revert RlpNonCanonical(pos);
            }
        } else if (b < 0xc0) {
            (headerLen, len) = _longLength(pos, end, b - 0xb7);
        } else if (b < 0xf8) {
            item.list = true;
            headerLen = 1;
            len = b - 0xc0;
        } else {
            item.list = true;
            (headerLen, len) = _longLength(pos, end, b - 0xf7);
        }
        item.payload = pos + headerLen;
        item.payloadLen = len;
        next = item.payload + len;
        if (next > end || next < pos) revert RlpTruncated(pos);
    }

    /// @notice `readAt` without reverting or allocating, for callers that report a malformed
    /// item with their own error (which part of a structure broke): `ok` is false exactly
    /// where `readAt` would revert. Returns the payload's offset and length, whether the
    /// item is a list, and the offset just after it.
    function tryReadAt(uint256 pos, uint256 end)
        internal
        pure
        returns (bool ok, uint256 payload, uint256 payloadLen, bool list, uint256 next)
    {
        // Offsets are calldata positions and lengths at most 4 bytes, so nothing overflows.
        assembly ("memory-safe") {
            for {} lt(pos, end) {} {
                let b := byte(0, calldataload(pos))
                let headerLen := 1
                let longLen := 0 // bytes of a long-form length, 0 for the short forms
                switch lt(b, 0xc0)
                case 1 {
                    if lt(b, 0x80) {
                        headerLen := 0
                        payloadLen := 1
                    }
                    if and(iszero(lt(b, 0x80)), lt(b, 0xb8)) {
                        payloadLen := sub(b, 0x80)
                        if eq(payloadLen, 1) {
                            // A single byte below 0x80 must stand for itself.
                            if iszero(lt(add(pos, 1), end)) { break }
                            if lt(byte(0, calldataload(add(pos, 1))), 0x80) { break }
                        }
                    }
                    if iszero(lt(b, 0xb8)) { longLen := sub(b, 0xb7) }
                }
                default {
                    list := 1
                    switch lt(b, 0xf8)
                    case 1 { payloadLen := sub(b, 0xc0) }
                    default { longLen := sub(b, 0xf7) }
                }
                if longLen {
                    // Canonical long lengths only: at most 4 bytes, no leading zero, >= 56.
                    if gt(longLen, 4) { break }
                    if gt(add(add(pos, 1), longLen), end) { break }
                    payloadLen := shr(mul(8, sub(32, longLen)), calldataload(add(pos, 1)))
                    if iszero(shr(mul(8, sub(longLen, 1)), payloadLen)) { break }
                    if lt(payloadLen, 56) { break }
                    headerLen := add(1, longLen)
                }
                payload := add(pos, headerLen)
                next := add(payload, payloadLen)
                if gt(next, end) { break }
                ok := 1
                break
            }
            if iszero(ok) {
                payload := 0
                payloadLen := 0
                list := 0
                next := 0
            }
        }
    }

    /// @notice The single item filling `data` exactly (no trailing bytes).
    function whole(bytes calldata data) internal pure returns (Item memory item) {
        uint256 start;
        assembly ("memory-safe") {
            start := data.offset
        }
        uint256 end = start + data.length;
        uint256 next;
        (item, next) = readAt(start, end);
        if (next != end) revert RlpTrailing(end - next);
    }

    /// @notice The items of a list, at most `max` of them (more is `RlpItemCount`).
    function items(Item memory list, uint256 max) internal pure returns (Item[] memory out) {
        if (!list.list) revert RlpWrongKind(list.start, true);
        uint256 end = list.payload + list.payloadLen;
        uint256 pos = list.payload;
        uint256 n;
        // Count first so the array is exactly sized; each item is at least one byte.
        while (pos < end) {
            if (n == max) revert RlpItemCount(list.start, n + 1);
            (, pos) = readAt(pos, end);
            n++;
        }
        out = new Item[](n);
        pos = list.payload;
        for (uint256 i = 0; i < n; i++) {
            (out[i], pos) = readAt(pos, end);
        }
    }

    /// @notice The items of a list that must have exactly `n` of them.
    function exactly(Item memory list, uint256 n) internal pure returns (Item[] memory out) {
        out = items(list, n);
        if (out.length != n) revert RlpItemCount(list.start, out.length);
    }

    /// @notice Reverts unless `item` is a string.
    function requireString(Item memory item) internal pure {
        if (item.list) revert RlpWrongKind(item.start, false);
    }

    /// @notice A string of exactly `n` bytes, as a calldata slice.
    function fixedBytes(Item memory item, uint256 n) internal pure returns (bytes calldata out) {
        requireString(item);
        if (item.payloadLen != n) revert RlpWrongLength(item.start, item.payloadLen, n);
        return slice(item.payload, n);
    }

    /// @notice A 32-byte string.
    function toBytes32(Item memory item) internal pure returns (bytes32 v) {
        requireString(item);
        if (item.payloadLen != 32) revert RlpWrongLength(item.start, item.payloadLen, 32);
        uint256 p = item.payload;
        assembly ("memory-safe") {
            v := calldataload(p)
        }
    }

    /// @notice A 20-byte string.
    function toAddress(Item memory item) internal pure returns (address v) {
        requireString(item);
        if (item.payloadLen != 20) revert RlpWrongLength(item.start, item.payloadLen, 20);
        uint256 p = item.payload;
        assembly ("memory-safe") {
            v := shr(96, calldataload(p))
        }
    }

    /// @notice An integer of at most `maxBytes` (≤ 32) bytes, big-endian, without leading
    /// zero bytes (zero is the empty string).
    function toUint(Item memory item, uint256 maxBytes) internal pure returns (uint256 v) {
        requireString(item);
        uint256 n = item.payloadLen;
        if (n > maxBytes) revert RlpWrongLength(item.start, n, maxBytes);
        if (n == 0) return 0;
        uint256 p = item.payload;
        uint256 first;
        assembly ("memory-safe") {
            first := byte(0, calldataload(p))
            v := shr(mul(8, sub(32, n)), calldataload(p))
        }
        if (first == 0) revert RlpNonCanonical(item.start);
    }

    /// @notice The whole encoding of `item` (prefix and payload) as a calldata slice.
    function encoding(Item memory item) internal pure returns (bytes calldata) {
        return slice(item.start, item.payload + item.payloadLen - item.start);
    }

    /// @notice The length of the whole encoding of `item`.
    function encodedLen(Item memory item) internal pure returns (uint256) {
        return item.payload + item.payloadLen - item.start;
    }

    /// @notice keccak-256 of `len` calldata bytes at absolute offset `start`, using the
    /// memory past the free-memory pointer as scratch (allocates nothing).
    function keccakAt(uint256 start, uint256 len) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, start, len)
            h := keccak256(ptr, len)
        }
    }

    /// @notice keccak-256 of the whole encoding of `item`.
    function keccakOf(Item memory item) internal pure returns (bytes32) {
        return keccakAt(item.start, encodedLen(item));
    }

    /// @notice The calldata slice of `len` bytes at absolute offset `start`.
    function slice(uint256 start, uint256 len) internal pure returns (bytes calldata out) {
        assembly ("memory-safe") {
            out.offset := start
            out.length := len
        }
    }

    /// @notice The RLP prefix of a string (`list` false) or list payload of `len` bytes:
    /// what a caller writes before a payload it re-assembles in memory.
    function prefix(uint256 len, bool list) internal pure returns (bytes memory out) {
        uint256 base = list ? 0xc0 : 0x80;
        if (len < 56) return abi.encodePacked(uint8(base + len));
        uint256 n = 0;
        for (uint256 v = len; v != 0; v >>= 8) n++;
        out = new bytes(1 + n);
        out[0] = bytes1(uint8(base + 55 + n));
        for (uint256 i = 0; i < n; i++) {
            out[n - i] = bytes1(uint8(len >> (8 * i)));
        }
    }

    /// @notice The canonical RLP string encoding of `data` (a single byte below 0x80 as
    /// itself).
    function encodeString(bytes memory data) internal pure returns (bytes memory) {
        if (data.length == 1 && uint8(data[0]) < 0x80) return data;
        return bytes.concat(prefix(data.length, false), data);
    }

    /// @notice Reads a long-form length of `n` bytes after the prefix byte at `pos`:
    /// canonical only (no leading zero byte, and at least 56, else the short form applies).
    function _longLength(uint256 pos, uint256 end, uint256 n) private pure returns (uint256 headerLen, uint256 len) {
        // Lengths above 4 bytes cannot fit in any calldata; refusing them keeps the math small.
        if (n > 4) revert RlpTruncated(pos);
        if (pos + 1 + n > end) revert RlpTruncated(pos);
        assembly ("memory-safe") {
            len := shr(mul(8, sub(32, n)), calldataload(add(pos, 1)))
        }
        if (len >> (8 * (n - 1)) == 0) revert RlpNonCanonical(pos);
        if (len < 56) revert RlpNonCanonical(pos);
        headerLen = 1 + n;
    }
}
