// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Codec} from "./Codec.sol";
import {Rlp} from "./Rlp.sol";

/// @title Merkle-Patricia proofs of EVM state, read in place from calldata (PROTOCOL.md §12.1, §12.2).
/// @notice The on-chain twin of the Rust verifier `xrelay_light_client::evm::mpt` and of
/// `evm::client::verify_path`: it accepts exactly the proofs Rust accepts and, for every
/// refusal, reports the Rust error's kind. A proof is `eth_getProof`'s node list for one key,
/// root first, framed in xrelay's canonical encoding as `seq<bytes>`; nodes are walked where
/// they lie in calldata (hashed with `Rlp.keccakAt`, items scanned without copying), nodes
/// shorter than 32 bytes embedded in their parent are walked in place.
///
/// A malformed *framing* (a count or length that does not fit the input, or above the
/// bounds `EvmStorageProof` decoding imposes) reverts with `Codec`'s errors, as Rust refuses
/// to decode it; what the framed nodes prove is a `Result`, so the caller chooses to revert.
///
/// `Result` ↔ Rust, one value per kind (`xrelay_evm::mpt::MptCode` maps them in Rust):
///
/// | code | `Result`          | Rust                                             |
/// | ---: | ----------------- | ------------------------------------------------ |
/// |    0 | `Valid`           | `Ok` (the value, or a proven absence)            |
/// |    1 | `TooManyNodes`    | `MptError::TooManyNodes`                         |
/// |    2 | `NodeTooLong`     | `MptError::NodeTooLong`                          |
/// |    3 | `HashMismatch`    | `MptError::HashMismatch`                         |
/// |    4 | `MissingNode`     | `MptError::MissingNode`                          |
/// |    5 | `TrailingNodes`   | `MptError::TrailingNodes`                        |
/// |    6 | `BadRlp`          | `MptError::Rlp`                                  |
/// |    7 | `Malformed`       | `MptError::Malformed`                            |
/// |    8 | `BadAccount`      | `MptError::BadAccount`                           |
/// |    9 | `BadStorageValue` | `MptError::BadStorageValue`                      |
/// |   10 | `GatewayAbsent`   | `EvmClientError::GatewayAbsent`                  |
/// |   11 | `ValueMismatch`   | `EvmClientError::ValueMismatch`                  |
///
/// The node `index` returned with a refusal is the Rust error's `index` (for
/// `TooManyNodes` and `MissingNode`, the node count; for `BadAccount`, `BadStorageValue`
/// and `ValueMismatch`, which carry none in Rust, the index of the leaf's node).
library MerklePatricia {
    /// @notice What a framed proof shows; see the table above.
    enum Result {
        Valid,
        TooManyNodes,
        NodeTooLong,
        HashMismatch,
        MissingNode,
        TrailingNodes,
        BadRlp,
        Malformed,
        BadAccount,
        BadStorageValue,
        GatewayAbsent,
        ValueMismatch
    }

    /// @notice Most nodes a proof may hold (a path through 64 nibbles has at most 64 hashed nodes).
    uint256 internal constant MAX_NODES = 64;
    /// @notice Largest node accepted, in bytes (a full branch is 532).
    uint256 internal constant MAX_NODE_LEN = 4096;
    /// @notice keccak-256 of `0x80`: the root of an empty trie.
    bytes32 internal constant EMPTY_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// Nibbles in a trie key.
    uint256 private constant KEY_NIBBLES = 64;
    /// Where one node leads (`_walkNode`), or why it fails; the assembly's `decodeNode`
    /// returns `STEP_RLP`, `STEP_MALFORMED` or an item count (2 or 17) in one value.
    uint256 private constant STEP_NEXT = 0;
    uint256 private constant STEP_DONE = 1;
    uint256 private constant STEP_EMBEDDED = 2;
    uint256 private constant STEP_RLP = 3;
    uint256 private constant STEP_MALFORMED = 4;
    /// No node is above the size bound.
    uint256 private constant NONE = type(uint256).max;

    // ---------------------------------------------------------------- proofs of one key

    /// @notice Reads one `seq<bytes>` node list (framing checked against the input only)
    /// and verifies it for the 64-nibble trie key `key` (already hashed) against `root`, as
    /// Rust's `verify_proof` does on the same list: the §12.1 bounds are results here.
    /// @return result `Valid`, or the refusal
    /// @return index the node the refusal names (see the table)
    /// @return value the key's leaf value in calldata (the raw bytes the trie stores); empty
    /// for a proven absence (a leaf value is never empty)
    function verify(Codec.Reader memory r, bytes32 root, bytes32 key)
        internal
        pure
        returns (Result result, uint256 index, bytes calldata value)
    {
        (uint256 first, uint256 count, uint256 tooLong) = _frame(r, type(uint256).max, type(uint256).max);
        uint256 start;
        uint256 len;
        (result, index, start, len) = _walk(first, count, tooLong, root, key);
        value = Codec.slice(start, len);
    }

    /// @notice Decodes an account leaf `[nonce, balance, storageRoot, codeHash]` strictly
    /// (nonce ≤ 8 bytes, balance ≤ 32, neither with a leading zero; two 32-byte hashes; no
    /// other byte). `ok` false is Rust's `BadAccount`.
    function decodeAccount(bytes calldata leaf)
        internal
        pure
        returns (bool ok, uint64 nonce, uint256 balance, bytes32 storageRoot, bytes32 codeHash)
    {
        uint256 end = Codec.offsetOf(leaf) + leaf.length;
        (bool fine, uint256 p, uint256 len, bool list,) = Rlp.tryReadAt(Codec.offsetOf(leaf), end);
        if (!fine || !list || p + len != end) return (false, 0, 0, 0, 0);
        uint256 v;
        (fine, v, p) = _uintField(p, end, 8);
        if (!fine) return (false, 0, 0, 0, 0);
        nonce = uint64(v);
        (fine, balance, p) = _uintField(p, end, 32);
        if (!fine) return (false, 0, 0, 0, 0);
        (fine, storageRoot, p) = _hashField(p, end);
        if (!fine) return (false, 0, 0, 0, 0);
        (fine, codeHash, p) = _hashField(p, end);
        if (!fine || p != end) return (false, 0, 0, 0, 0);
        ok = true;
    }

    /// @notice Decodes a storage leaf: the RLP string of a non-zero integer of 1–32 bytes
    /// without leading zeros, and nothing else. `ok` false is Rust's `BadStorageValue`.
    function decodeStorageValue(bytes calldata leaf) internal pure returns (bool ok, bytes32 value) {
        uint256 end = Codec.offsetOf(leaf) + leaf.length;
        (bool fine, uint256 v, uint256 next) = _uintField(Codec.offsetOf(leaf), end, 32);
        if (!fine || next != end || v == 0) return (false, 0);
        return (true, bytes32(v));
    }

    // ---------------------------------------------------------------- the gateway's paths

    /// @notice Reads one `EvmStorageProof` (`seq<bytes> account_proof ‖ seq<bytes>
    /// storage_proof`, ≤ 64 nodes of ≤ 4,096 bytes, else `Codec` reverts) and checks that the
    /// `gateway` account exists under `stateRoot` and that its storage holds, at the
    /// provable slot of `pathHash` (`keccak256(pathHash ‖ bytes32(0))`, §12.2), `valueHash`
    /// (`membership`) or nothing (zero). Rust's `verify_path` with `pathHash = sha256(path)`
    /// and `valueHash = sha256(value)`. The reader ends after the proof, whatever the result.
    function checkGatewayPath(
        Codec.Reader memory r,
        bytes32 stateRoot,
        address gateway,
        bytes32 pathHash,
        bool membership,
        bytes32 valueHash
    ) internal pure returns (Result result) {
        (result,,) = checkGatewayPathAt(r, stateRoot, gateway, pathHash, membership, valueHash);
    }

    /// @notice `checkGatewayPath`, also saying where a refusal is: in the storage proof
    /// (`inStorageProof`; Rust's `StorageProof` error, else `AccountProof`) and at which node.
    function checkGatewayPathAt(
        Codec.Reader memory r,
        bytes32 stateRoot,
        address gateway,
        bytes32 pathHash,
        bool membership,
        bytes32 valueHash
    ) internal pure returns (Result result, bool inStorageProof, uint256 index) {
        // The whole proof is decoded before anything is judged, as Rust decodes it first.
        (uint256 accountFirst, uint256 accountCount,) = _frame(r, MAX_NODES, MAX_NODE_LEN);
        (uint256 storageFirst, uint256 storageCount,) = _frame(r, MAX_NODES, MAX_NODE_LEN);
        bytes32 storageRoot;
        (result, index, storageRoot) = _gatewayAccount(accountFirst, accountCount, stateRoot, gateway);
        if (result != Result.Valid) return (result, false, index);
        bytes32 found;
        (result, index, found) = _slotValue(storageFirst, storageCount, storageRoot, pathHash);
        if (result != Result.Valid) return (result, true, index);
        if (found != (membership ? valueHash : bytes32(0))) return (Result.ValueMismatch, true, index);
    }

    /// @notice Reads one `EvmStorageProof` strictly without judging it (an item a caller
    /// skips), leaving the reader after it.
    function skipStorageProof(Codec.Reader memory r) internal pure {
        _frame(r, MAX_NODES, MAX_NODE_LEN);
        _frame(r, MAX_NODES, MAX_NODE_LEN);
    }

    /// The gateway's account under `stateRoot`: its storage root, `GatewayAbsent` if the
    /// proof shows no account.
    function _gatewayAccount(uint256 first, uint256 count, bytes32 stateRoot, address gateway)
        private
        pure
        returns (Result result, uint256 index, bytes32 storageRoot)
    {
        bytes32 key;
        assembly ("memory-safe") {
            mstore(0x00, shl(96, gateway))
            key := keccak256(0x00, 20)
        }
        uint256 start;
        uint256 len;
        (result, index, start, len) = _walk(first, count, NONE, stateRoot, key);
        if (result != Result.Valid) return (result, index, 0);
        if (len == 0) return (Result.GatewayAbsent, index, 0);
        bool ok;
        (ok,,, storageRoot,) = decodeAccount(Codec.slice(start, len));
        if (!ok) return (Result.BadAccount, index, 0);
    }

    /// The value of the provable slot of `pathHash` under `storageRoot` (zero if absent).
    function _slotValue(uint256 first, uint256 count, bytes32 storageRoot, bytes32 pathHash)
        private
        pure
        returns (Result result, uint256 index, bytes32 value)
    {
        bytes32 key;
        assembly ("memory-safe") {
            mstore(0x00, pathHash)
            mstore(0x20, 0)
            mstore(0x00, keccak256(0x00, 0x40))
            key := keccak256(0x00, 0x20)
        }
        uint256 start;
        uint256 len;
        (result, index, start, len) = _walk(first, count, NONE, storageRoot, key);
        if (result != Result.Valid || len == 0) return (result, index, 0);
        bool ok;
        (ok, value) = decodeStorageValue(Codec.slice(start, len));
        if (!ok) return (Result.BadStorageValue, index, 0);
    }

    // ---------------------------------------------------------------- framing

    /// Reads `u32 count ‖ count × (u32 len ‖ len bytes)` with `count ≤ maxCount` and every
    /// `len ≤ maxLen` (`Codec` reverts otherwise). Returns where the first node's length
    /// prefix is, the count, and the index of the first node above `MAX_NODE_LEN` (`NONE`).
    function _frame(Codec.Reader memory r, uint256 maxCount, uint256 maxLen)
        private
        pure
        returns (uint256 first, uint256 count, uint256 tooLong)
    {
        // One pass in assembly that accepts exactly what the `Codec` reads below accept;
        // anything else is read again by them, so they revert with their own error.
        uint256 pos = r.pos;
        uint256 end = r.end;
        bool fine;
        assembly ("memory-safe") {
            tooLong := not(0)
            first := add(pos, 4)
            if iszero(gt(first, end)) {
                count := shr(224, calldataload(pos))
                fine := iszero(or(gt(count, maxCount), gt(mul(count, 4), sub(end, first))))
                pos := first
                for { let i := 0 } and(fine, lt(i, count)) { i := add(i, 1) } {
                    if gt(add(pos, 4), end) {
                        fine := 0
                        break
                    }
                    let len := shr(224, calldataload(pos))
                    pos := add(pos, 4)
                    if or(gt(len, maxLen), gt(len, sub(end, pos))) {
                        fine := 0
                        break
                    }
                    if and(gt(len, MAX_NODE_LEN), eq(tooLong, not(0))) { tooLong := i }
                    pos := add(pos, len)
                }
            }
        }
        if (fine) {
            r.pos = pos;
            return (first, count, tooLong);
        }
        count = Codec.count(r, maxCount, 4);
        first = r.pos;
        tooLong = NONE;
        for (uint256 i = 0; i < count; ++i) {
            uint256 len = Codec.bytesField(r, maxLen).length;
            if (len > MAX_NODE_LEN && tooLong == NONE) tooLong = i;
        }
    }

    // ---------------------------------------------------------------- the walk (§12.1)

    /// Verifies the framed nodes at `pos` for `key` against `root`. `len` 0 is absence.
    function _walk(uint256 pos, uint256 count, uint256 tooLong, bytes32 root, bytes32 key)
        private
        pure
        returns (Result, uint256, uint256 start, uint256 len)
    {
        if (count > MAX_NODES) return (Result.TooManyNodes, count, 0, 0);
        if (tooLong != NONE) return (Result.NodeTooLong, tooLong, 0, 0);
        if (root == EMPTY_ROOT) {
            // No node at all, or the single node `0x80` its root hashes.
            if (count == 0) return (Result.Valid, 0, 0, 0);
            if (_u32(pos) == 1 && _byteAt(pos + 4) == 0x80) {
                return (count == 1 ? Result.Valid : Result.TrailingNodes, 0, 0, 0);
            }
            return (Result.HashMismatch, 0, 0, 0);
        }
        return _walkNodes(pos, count, root, key);
    }

    /// Walks the `count` framed nodes at `pos` from the one hashing to `expected`.
    function _walkNodes(uint256 pos, uint256 count, bytes32 expected, bytes32 key)
        private
        pure
        returns (Result, uint256, uint256 start, uint256 len)
    {
        // Where the walk is: nibbles of the key consumed, and whether the next node was
        // referenced by an extension (so must be a branch).
        uint256 depth;
        uint256 mustBranch;
        for (uint256 index = 0; index < count; ++index) {
            uint256 node;
            // The framing was checked: every node lies inside the calldata.
            unchecked {
                node = pos + 4;
                pos = node + _u32(pos);
            }
            if (Rlp.keccakAt(node, pos - node) != expected) return (Result.HashMismatch, index, 0, 0);
            uint256 step;
            (step, start, len, depth, mustBranch) = _walkNode(node, pos, key, depth, mustBranch);
            if (step == STEP_NEXT) {
                expected = bytes32(start);
            } else if (step == STEP_DONE) {
                if (index + 1 < count) return (Result.TrailingNodes, index, 0, 0);
                return (Result.Valid, index, start, len);
            } else {
                return (step == STEP_RLP ? Result.BadRlp : Result.Malformed, index, 0, 0);
            }
        }
        return (Result.MissingNode, count, 0, 0);
    }

    /// Walks the hashed node at `[start, end)` and the nodes embedded in it along `key`
    /// from `depth` (Rust's `Walk::node`, check for check). Returns the step: `STEP_NEXT`
    /// with the next node's hash in `a`; `STEP_DONE` with the leaf value's span `[a, a + b)`,
    /// `b` 0 for a proven absence; or `STEP_RLP` / `STEP_MALFORMED`; and the walk's new
    /// position. In assembly: it runs for every node of every proof, and the item scan of a
    /// branch is most of a proof's cost. Offsets are calldata positions, so no sum overflows.
    function _walkNode(uint256 start, uint256 end, bytes32 key, uint256 depth, uint256 mustBranch)
        private
        pure
        returns (uint256 step, uint256 a, uint256 b, uint256 depthAfter, uint256 mustBranchAfter)
    {
        assembly ("memory-safe") {
            // The RLP item at `p` ending by `limit`, with `Rlp.tryReadAt`'s rules: canonical
            // (a single byte below 0x80 is its own encoding; a long length has no leading
            // zero and is at least 56; at most 4 length bytes), and inside `limit`.
            function item(p, limit) -> ok, list, payload, len {
                if lt(p, limit) {
                    let b0 := byte(0, calldataload(p))
                    switch lt(b0, 0x80)
                    case 1 {
                        ok := 1
                        payload := p
                        len := 1
                    }
                    default {
                        list := gt(b0, 0xbf)
                        let short := sub(b0, add(0x80, mul(list, 0x40)))
                        switch lt(short, 56)
                        case 1 {
                            payload := add(p, 1)
                            len := short
                            ok := 1
                            if and(iszero(list), eq(len, 1)) {
                                ok := and(lt(payload, limit), gt(byte(0, calldataload(payload)), 0x7f))
                            }
                        }
                        default {
                            let n := sub(short, 55)
                            payload := add(add(p, 1), n)
                            if and(lt(n, 5), iszero(gt(payload, limit))) {
                                len := shr(mul(8, sub(32, n)), calldataload(add(p, 1)))
                                ok := and(iszero(lt(len, shl(mul(8, sub(n, 1)), 1))), gt(len, 55))
                            }
                        }
                    }
                    ok := and(ok, iszero(gt(add(payload, len), limit)))
                }
            }

            // Rust's `decode_node`: an RLP list filling `[s, e)` of 2 or 17 valid items, at
            // most 17 read. Returns `STEP_RLP`, `STEP_MALFORMED`, or the item count with, for
            // 17, where item `want` and the last item start, for 2, where both start.
            function decodeNode(s, e, want) -> status, x, y {
                let ok, list, payload, len := item(s, e)
                if iszero(ok) {
                    status := STEP_RLP
                    leave
                }
                if or(iszero(list), iszero(eq(add(payload, len), e))) {
                    status := STEP_MALFORMED
                    leave
                }
                status, x, y := scan(payload, e, want)
            }

            function scan(p, e, want) -> status, x, y {
                x := p
                // Up to the key's item (a branch's slot), then on to 17 items.
                let count, q, last, ok := skip(p, e, 0, want, 0)
                if iszero(ok) {
                    status := STEP_RLP
                    leave
                }
                let selected := q
                count, p, y, ok := skip(q, e, count, 17, last)
                // An item that did not fit (a 32-byte string past the end, found only now)
                // or did not decode is an RLP error; bytes after 17 items, a malformed node.
                if or(iszero(ok), gt(p, e)) {
                    status := STEP_RLP
                    leave
                }
                if lt(p, e) {
                    status := STEP_MALFORMED
                    leave
                }
                switch count
                case 2 { status := 2 }
                case 17 {
                    status := 17
                    x := selected
                }
                default { status := STEP_MALFORMED }
            }

            // Reads items from `p` while bytes remain before `e` and fewer than `limit` items
            // (`count` so far) were read. Returns the count, where it stopped, where the last
            // item read starts (`last0` if none), and 0 if an item did not decode.
            function skip(p, e, count, limit, last0) -> n, q, last, ok {
                n := count
                last := last0
                q := p
                ok := 1
                for {} and(lt(q, e), lt(n, limit)) {} {
                    last := q
                    // A branch's items are the empty string and 32-byte strings: canonical
                    // as they are (the caller refuses a 32-byte string past the end).
                    let b0 := byte(0, calldataload(q))
                    let size := add(eq(b0, 0x80), mul(eq(b0, 0xa0), 33))
                    if iszero(size) {
                        let valid, list, payload, len := item(q, e)
                        if iszero(valid) {
                            ok := 0
                            leave
                        }
                        size := sub(add(payload, len), q)
                    }
                    q := add(q, size)
                    n := add(n, 1)
                }
            }

            // Whether the `pathLen` nibbles of the hex-prefix payload at `pp` (odd: they
            // start in its first byte's low half) are `key[depth..]`; never past the key.
            function pathMatches(pp, odd, pathLen, key_, depth_) -> m {
                if iszero(gt(add(depth_, pathLen), KEY_NIBBLES)) {
                    let nibbles := calldataload(add(pp, 1))
                    if odd { nibbles := shl(4, calldataload(pp)) }
                    let drop := sub(256, shl(2, pathLen))
                    m := eq(shr(drop, nibbles), shr(drop, shl(shl(2, depth_), key_)))
                }
            }

            // Rust's `hex_prefix`: the path item at `p` (a valid item). Returns 0 if it is
            // a list, empty, has a flag above 3 or an even path a non-zero pad nibble; else
            // 1, with leaf or extension, where its payload starts, odd, and its nibbles.
            function hexPrefix(p) -> ok, leaf, pp, odd, pathLen {
                let valid, list, payload, len := item(p, not(0))
                if or(list, iszero(len)) { leave }
                let first := byte(0, calldataload(payload))
                let flag := shr(4, first)
                if gt(flag, 3) { leave }
                odd := and(flag, 1)
                if and(iszero(odd), gt(and(first, 0x0f), 0)) { leave }
                ok := 1
                leaf := shr(1, flag)
                pp := payload
                pathLen := add(shl(1, sub(len, 1)), odd)
            }

            // A leaf or an extension, items at `p0` (path) and `p1`, met at `depth_`:
            // `STEP_DONE` with the leaf's value (length 0 if its path leaves the key) or for
            // an extension leaving the key (absence), `STEP_NEXT` past a matching extension
            // (its child is read by the caller), or malformed.
            function shortNode(p0, p1, key_, depth_) -> st, va, vb, d {
                d := depth_
                st := STEP_MALFORMED
                let ok, leaf, pp, odd, pathLen := hexPrefix(p0)
                if iszero(ok) { leave }
                let m := pathMatches(pp, odd, pathLen, key_, d)
                switch leaf
                case 1 {
                    if iszero(eq(add(d, pathLen), KEY_NIBBLES)) { leave }
                    let valid, list, payload, len := item(p1, not(0))
                    if or(list, iszero(len)) { leave }
                    st := STEP_DONE
                    if m {
                        va := payload
                        vb := len
                    }
                }
                default {
                    if or(iszero(pathLen), iszero(lt(add(d, pathLen), KEY_NIBBLES))) { leave }
                    st := STEP_DONE
                    if m {
                        st := STEP_NEXT
                        d := add(d, pathLen)
                    }
                }
            }

            // Rust's `child`: the reference at `p` inside `[.., e)`: `STEP_NEXT` with a
            // 32-byte hash, `STEP_EMBEDDED` with the span of a list shorter than 32 bytes,
            // `STEP_DONE` for the empty string (absence) unless an extension holds it, else
            // malformed.
            function child(p, e, ofExtension) -> st, ca, cb {
                st := STEP_MALFORMED
                // The item was scanned already: a `0xa0` string fits.
                switch byte(0, calldataload(p))
                case 0xa0 {
                    st := STEP_NEXT
                    ca := calldataload(add(p, 1))
                    leave
                }
                case 0x80 {
                    if iszero(ofExtension) { st := STEP_DONE }
                    leave
                }
                let ok, list, payload, len := item(p, e)
                switch list
                case 1 {
                    cb := add(payload, len)
                    if lt(sub(cb, p), 32) {
                        st := STEP_EMBEDDED
                        ca := p
                    }
                }
                default {
                    if eq(len, 32) {
                        st := STEP_NEXT
                        ca := calldataload(payload)
                    }
                    if iszero(len) {
                        st := STEP_DONE
                        if ofExtension { st := STEP_MALFORMED }
                    }
                }
            }

            // One node (hashed or embedded) at `[s, e)`.
            function nodeStep(s, e, key_, depth_, must) -> st, va, vb, d, m {
                d := depth_
                let want := 17
                if lt(d, KEY_NIBBLES) { want := and(shr(sub(252, shl(2, d)), key_), 0x0f) }
                let status, x, y := decodeNode(s, e, want)
                switch status
                case 17 {
                    // A branch: its value (last item) is the empty string, as keys have a
                    // fixed length; follow the key's nibble (item `want`).
                    if or(iszero(lt(d, KEY_NIBBLES)), iszero(eq(byte(0, calldataload(y)), 0x80))) {
                        st := STEP_MALFORMED
                        leave
                    }
                    d := add(d, 1)
                }
                case 2 {
                    if must {
                        // An extension's child must be a branch.
                        st := STEP_MALFORMED
                        leave
                    }
                    st, va, vb, d := shortNode(x, y, key_, d)
                    if st { leave }
                    m := 1
                    x := y
                }
                default {
                    st := status
                    leave
                }
                st, va, vb := child(x, e, m)
            }

            for {} 1 {} {
                step, a, b, depth, mustBranch := nodeStep(start, end, key, depth, mustBranch)
                if iszero(eq(step, STEP_EMBEDDED)) { break }
                start := a
                end := b
            }
            depthAfter := depth
            mustBranchAfter := mustBranch
        }
    }

    // ---------------------------------------------------------------- leaf fields

    /// An RLP string at `p` (ending by `end`) holding an integer of at most `maxLen` bytes
    /// without a leading zero byte; returns it and where the item ends.
    function _uintField(uint256 p, uint256 end, uint256 maxLen)
        private
        pure
        returns (bool ok, uint256 v, uint256 next)
    {
        (bool fine, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(p, end);
        if (!fine || list || len > maxLen) return (false, 0, 0);
        next = payload + len;
        if (len == 0) return (true, 0, next);
        if (_byteAt(payload) == 0) return (false, 0, 0);
        assembly ("memory-safe") {
            v := shr(mul(8, sub(32, len)), calldataload(payload))
        }
        ok = true;
    }

    /// A 32-byte RLP string at `p` (ending by `end`); returns it and where the item ends.
    function _hashField(uint256 p, uint256 end) private pure returns (bool ok, bytes32 h, uint256 next) {
        (bool fine, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(p, end);
        if (!fine || list || len != 32) return (false, 0, 0);
        assembly ("memory-safe") {
            h := calldataload(payload)
        }
        return (true, h, payload + 32);
    }

    // ---------------------------------------------------------------- calldata bytes

    function _byteAt(uint256 p) private pure returns (uint256 b) {
        assembly ("memory-safe") {
            b := byte(0, calldataload(p))
        }
    }

    function _u32(uint256 p) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(224, calldataload(p))
        }
    }
}
