// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Strict reader of xrelay's canonical encoding (docs/PROTOCOL.md §1), from calldata.
/// @notice Integers are big-endian and fixed width, `bytes` is a u32 length then the bytes,
/// `seq<T>` a u32 count then the elements. Every read is bounds-checked against the end of
/// the value and fails with a custom error (never reads past it, never allocates from a
/// hostile length); `finish` refuses trailing bytes. Positions are absolute calldata
/// offsets, so a field can be returned as a calldata slice and hashed in place: hashes are
/// taken over the exact bytes received, never over a re-encoding.
library Codec {
    /// @notice A cursor over one encoded value in calldata: `pos` is the next byte to read,
    /// `end` one past the last byte of the value (both absolute calldata offsets).
    struct Reader {
        uint256 pos;
        uint256 end;
    }

    /// @notice The input ended before the value did.
    error UnexpectedEnd(uint256 needed, uint256 remaining);
    /// @notice The value was complete but bytes were left over.
    error TrailingBytes(uint256 count);
    /// @notice A length or count prefix is above the bound of its field.
    error TooLong(uint256 len, uint256 max);
    /// @notice A field decoded but breaks a rule of its layout (`what` names the field).
    error InvalidValue(string what);

    /// @notice Longest chain id, in bytes (PROTOCOL.md §2).
    uint256 internal constant MAX_CHAIN_ID_LEN = 64;
    /// @notice Bit `c` is set for every byte `c` of `[A-Za-z0-9._-]`, the chain id alphabet.
    uint256 private constant CHAIN_ID_ALPHABET = 0x07fffffe87fffffe03ff600000000000;

    /// @notice A reader over the whole of `data`.
    function reader(bytes calldata data) internal pure returns (Reader memory r) {
        uint256 start = offsetOf(data);
        r.pos = start;
        r.end = start + data.length;
    }

    /// @notice Bytes not read yet.
    function remaining(Reader memory r) internal pure returns (uint256) {
        return r.end - r.pos;
    }

    /// @notice Advances past `n` bytes and returns where they start.
    function take(Reader memory r, uint256 n) internal pure returns (uint256 start) {
        start = r.pos;
        uint256 left = r.end - start;
        if (left < n) revert UnexpectedEnd(n, left);
        r.pos = start + n;
    }

    /// @notice One byte.
    function u8(Reader memory r) internal pure returns (uint8 v) {
        uint256 p = take(r, 1);
        assembly ("memory-safe") {
            v := shr(248, calldataload(p))
        }
    }

    /// @notice Two bytes, big-endian.
    function u16(Reader memory r) internal pure returns (uint16 v) {
        uint256 p = take(r, 2);
        assembly ("memory-safe") {
            v := shr(240, calldataload(p))
        }
    }

    /// @notice Four bytes, big-endian.
    function u32(Reader memory r) internal pure returns (uint32 v) {
        uint256 p = take(r, 4);
        assembly ("memory-safe") {
            v := shr(224, calldataload(p))
        }
    }

    /// @notice Eight bytes, big-endian.
    function u64(Reader memory r) internal pure returns (uint64 v) {
        uint256 p = take(r, 8);
        assembly ("memory-safe") {
            v := shr(192, calldataload(p))
        }
    }

    /// @notice A 32-byte hash.
    function hash32(Reader memory r) internal pure returns (bytes32 v) {
        uint256 p = take(r, 32);
        assembly ("memory-safe") {
            v := calldataload(p)
        }
    }

    /// @notice A 20-byte address.
    function addr(Reader memory r) internal pure returns (address v) {
        uint256 p = take(r, 20);
        assembly ("memory-safe") {
            v := shr(96, calldataload(p))
        }
    }

    /// @notice The next `n` raw bytes (a fixed-width field), as a calldata slice.
    function fixedBytes(Reader memory r, uint256 n) internal pure returns (bytes calldata out) {
        uint256 p = take(r, n);
        assembly ("memory-safe") {
            out.offset := p
            out.length := n
        }
    }

    /// @notice A u32 length prefix at most `max`, checked against the bytes left assuming
    /// each element takes at least `minElemSize` bytes (so a hostile prefix fails at once).
    function count(Reader memory r, uint256 max, uint256 minElemSize) internal pure returns (uint256 n) {
        n = u32(r);
        if (n > max) revert TooLong(n, max);
        uint256 needed = n * minElemSize;
        uint256 left = r.end - r.pos;
        if (needed > left) revert UnexpectedEnd(needed, left);
    }

    /// @notice A `bytes` field (u32 length ‖ bytes) of at most `max` bytes, as a calldata slice.
    function bytesField(Reader memory r, uint256 max) internal pure returns (bytes calldata out) {
        uint256 n = count(r, max, 1);
        return fixedBytes(r, n);
    }

    /// @notice A `ChainId`: 1–64 bytes of `[A-Za-z0-9._-]`.
    function chainId(Reader memory r) internal pure returns (bytes calldata id) {
        id = bytesField(r, MAX_CHAIN_ID_LEN);
        requireChainId(id);
    }

    /// @notice Reverts unless `id` is 1–64 bytes of `[A-Za-z0-9._-]`.
    function requireChainId(bytes calldata id) internal pure {
        uint256 n = id.length;
        if (n == 0 || n > MAX_CHAIN_ID_LEN) revert InvalidValue("chain id");
        uint256 bad;
        assembly ("memory-safe") {
            let p := id.offset
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let c := byte(0, calldataload(add(p, i)))
                bad := or(bad, iszero(and(shr(c, CHAIN_ID_ALPHABET), 1)))
            }
        }
        if (bad != 0) revert InvalidValue("chain id");
    }

    /// @notice The bytes read since `start` (an earlier `pos`), as a calldata slice: how a
    /// caller gets the exact encoding of a value it just read.
    function since(Reader memory r, uint256 start) internal pure returns (bytes calldata out) {
        uint256 len = r.pos - start;
        assembly ("memory-safe") {
            out.offset := start
            out.length := len
        }
    }

    /// @notice The calldata slice of `len` bytes at absolute offset `start` (a span the
    /// reader already bounds-checked).
    function slice(uint256 start, uint256 len) internal pure returns (bytes calldata out) {
        assembly ("memory-safe") {
            out.offset := start
            out.length := len
        }
    }

    /// @notice Reverts unless every byte was read.
    function finish(Reader memory r) internal pure {
        uint256 left = r.end - r.pos;
        if (left != 0) revert TrailingBytes(left);
    }

    /// @notice `SHA-256(tag ‖ calldata[start, start + len))`, where `tag` holds `tagLen`
    /// (≤ 32) left-aligned ASCII bytes: a domain-separated hash of exact received bytes.
    /// Uses the memory past the free-memory pointer as scratch, so it allocates nothing.
    function taggedHash(bytes32 tag, uint256 tagLen, uint256 start, uint256 len) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, tag)
            calldatacopy(add(ptr, tagLen), start, len)
            if iszero(staticcall(gas(), 0x02, ptr, add(tagLen, len), 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @notice `SHA-256(data)` of a calldata slice, without allocating.
    function sha256Of(bytes calldata data) internal view returns (bytes32) {
        return taggedHash(bytes32(0), 0, offsetOf(data), data.length);
    }

    /// @notice The absolute calldata offset where a calldata slice starts.
    function offsetOf(bytes calldata data) internal pure returns (uint256 o) {
        assembly ("memory-safe") {
            o := data.offset
        }
    }
}
