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
    /// Where one node leads (`_walkNode`), or why it fails (never 2 or 17: `_decodeNode`
    /// returns those item counts in the same place).
    uint256 private constant STEP_NEXT = 0;
    uint256 private constant STEP_DONE = 1;
    uint256 private constant STEP_RLP = 3;
    uint256 private constant STEP_MALFORMED = 4;
    /// What a child reference is (`_child`).
    uint256 private constant CHILD_EMPTY = 0;
    uint256 private constant CHILD_HASH = 1;
    uint256 private constant CHILD_EMBEDDED = 2;
    uint256 private constant CHILD_BAD = 3;
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
        count = Codec.count(r, maxCount, 4);
        first = r.pos;
        tooLong = NONE;
        for (uint256 i = 0; i < count; ++i) {
            uint256 len = Codec.bytesField(r, maxLen).length;
            if (len > MAX_NODE_LEN && tooLong == NONE) tooLong = i;
        }
    }

    // ---------------------------------------------------------------- the walk (§12.1)

    /// The position of a walk down the trie along `key`.
    struct Walk {
        bytes32 key;
        /// Nibbles of the key consumed so far.
        uint256 depth;
        /// The node reached next was referenced by an extension, so it must be a branch.
        bool mustBranch;
    }

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
        return _walkNodes(pos, count, root, Walk(key, 0, false));
    }

    /// Walks the `count` framed nodes at `pos` from the one hashing to `expected`.
    function _walkNodes(uint256 pos, uint256 count, bytes32 expected, Walk memory w)
        private
        pure
        returns (Result, uint256, uint256 start, uint256 len)
    {
        for (uint256 index = 0; index < count; ++index) {
            uint256 node = pos + 4;
            pos = node + _u32(pos);
            if (Rlp.keccakAt(node, pos - node) != expected) return (Result.HashMismatch, index, 0, 0);
            uint256 step;
            (step, start, len) = _walkNode(w, node, pos);
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

    /// Walks the node at `[start, end)` and the nodes embedded in it, moving `w`. Returns
    /// the step and: for `STEP_NEXT` the next hash in `a`; for `STEP_DONE` the leaf value's
    /// span (`a`, `b`), `b` 0 for absence.
    function _walkNode(Walk memory w, uint256 start, uint256 end)
        private
        pure
        returns (uint256 step, uint256 a, uint256 b)
    {
        while (true) {
            uint256 depth = w.depth;
            (uint256 status, uint256 payload, uint256 selected, uint256 last) =
                _decodeNode(start, end, depth < KEY_NIBBLES ? _nibble(w.key, depth) : 17);
            if (status == STEP_RLP || status == STEP_MALFORMED) return (status, 0, 0);
            bool branchExpected = w.mustBranch;
            w.mustBranch = false;
            if (status == 17) {
                // A branch: its last item (the value) is the empty string `0x80`, as keys
                // have a fixed length; follow the key's nibble.
                if (depth >= KEY_NIBBLES || _byteAt(last) != 0x80) return (STEP_MALFORMED, 0, 0);
                w.depth = depth + 1;
                last = selected;
            } else {
                // A leaf or an extension (two items: `payload`, `last`).
                if (branchExpected) return (STEP_MALFORMED, 0, 0);
                (step, a, b, depth) = _shortNode(payload, last, w.key, depth);
                if (step != STEP_NEXT) return (step, a, b);
                // An extension on the key's path: its child must be a branch.
                w.depth = depth;
                w.mustBranch = true;
            }
            uint256 kind;
            (kind, a, b) = _child(last, end);
            if (kind == CHILD_HASH) return (STEP_NEXT, a, 0);
            if (kind == CHILD_EMPTY) {
                // An empty branch slot proves absence; an extension needs a child.
                return (w.mustBranch ? STEP_MALFORMED : STEP_DONE, 0, 0);
            }
            if (kind == CHILD_BAD) return (STEP_MALFORMED, 0, 0);
            (start, end) = (a, b);
        }
    }

    /// Decodes the node at `[start, end)`: an RLP list using every byte, of 2 or 17 valid
    /// items (in Rust's order of checks). Returns `STEP_RLP`, `STEP_MALFORMED`, or the item
    /// count (2 or 17); the payload's start, where item `want` starts and where the last
    /// item starts.
    function _decodeNode(uint256 start, uint256 end, uint256 want)
        private
        pure
        returns (uint256 status, uint256 payload, uint256 selected, uint256 last)
    {
        (bool ok, uint256 p, uint256 len, bool list,) = Rlp.tryReadAt(start, end);
        if (!ok) return (STEP_RLP, 0, 0, 0);
        if (!list || p + len != end) return (STEP_MALFORMED, 0, 0, 0);
        uint256 count;
        (status, count, selected, last) = _items(p, end, want);
        if (status != STEP_NEXT) return (status, 0, 0, 0);
        if (count != 2 && count != 17) return (STEP_MALFORMED, 0, 0, 0);
        return (count, p, selected, last);
    }

    /// Scans the items of a list payload `[p, end)`, each a valid RLP item (else `STEP_RLP`),
    /// at most 17 (else `STEP_MALFORMED`, before reading an 18th). Returns `STEP_NEXT`
    /// (scanned), the count, where item `want` starts and where the last item starts.
    function _items(uint256 p, uint256 end, uint256 want)
        private
        pure
        returns (uint256 status, uint256 count, uint256 selected, uint256 last)
    {
        while (p < end) {
            if (count == 17) return (STEP_MALFORMED, 0, 0, 0);
            if (count == want) selected = p;
            last = p;
            uint256 b = _byteAt(p);
            // The two items of every branch, canonical by construction: the empty string
            // and a 32-byte string (a hash reference).
            if (b == 0x80) {
                p += 1;
            } else if (b == 0xa0 && p + 33 <= end) {
                p += 33;
            } else {
                (bool ok, uint256 payload, uint256 len, ,) = Rlp.tryReadAt(p, end);
                if (!ok) return (STEP_RLP, 0, 0, 0);
                p = payload + len;
            }
            ++count;
        }
        return (STEP_NEXT, count, selected, last);
    }

    /// A leaf or extension (items at `payload` and `second`) met at `depth`: the leaf's
    /// value span (`STEP_DONE`; length 0 if its path leaves the key), absence where an
    /// extension's path leaves the key, else `STEP_NEXT` with the depth after the extension.
    function _shortNode(uint256 payload, uint256 second, bytes32 key, uint256 depth)
        private
        pure
        returns (uint256 step, uint256 a, uint256 b, uint256)
    {
        (bool leaf, uint256 pathLen, uint256 nibbles, bool fine) = _hexPrefix(payload);
        if (!fine) return (STEP_MALFORMED, 0, 0, depth);
        bool matches = _prefixMatches(nibbles, pathLen, key, depth);
        if (leaf) {
            if (depth + pathLen != KEY_NIBBLES) return (STEP_MALFORMED, 0, 0, depth);
            (, uint256 vp, uint256 vl, bool list,) = Rlp.tryReadAt(second, type(uint256).max);
            if (list || vl == 0) return (STEP_MALFORMED, 0, 0, depth);
            return (STEP_DONE, vp, matches ? vl : 0, depth);
        }
        if (pathLen == 0 || depth + pathLen >= KEY_NIBBLES) return (STEP_MALFORMED, 0, 0, depth);
        if (!matches) return (STEP_DONE, 0, 0, depth);
        return (STEP_NEXT, 0, 0, depth + pathLen);
    }

    /// The hex-prefix path of the item at `p`: leaf or extension, its length in nibbles and
    /// the nibbles left-aligned; `fine` false if it is a list, empty, has a flag above 3, or
    /// is even with a non-zero pad nibble.
    function _hexPrefix(uint256 p) private pure returns (bool leaf, uint256 pathLen, uint256 nibbles, bool fine) {
        (, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(p, type(uint256).max);
        if (list || len == 0) return (false, 0, 0, false);
        uint256 first = _byteAt(payload);
        uint256 flag = first >> 4;
        if (flag > 3) return (false, 0, 0, false);
        bool odd = flag & 1 == 1;
        if (!odd && first & 0x0f != 0) return (false, 0, 0, false);
        pathLen = (len - 1) * 2 + (odd ? 1 : 0);
        // Odd: the nibbles start in the flag byte's low half; even: after the flag byte.
        assembly ("memory-safe") {
            switch odd
            case 1 { nibbles := shl(4, calldataload(payload)) }
            default { nibbles := calldataload(add(payload, 1)) }
        }
        return (flag >= 2, pathLen, nibbles, true);
    }

    /// Whether the first `pathLen` nibbles of `nibbles` (left-aligned) are `key[depth..]`.
    /// A path longer than the key's rest never matches; such nodes are refused anyway.
    function _prefixMatches(uint256 nibbles, uint256 pathLen, bytes32 key, uint256 depth)
        private
        pure
        returns (bool m)
    {
        if (depth + pathLen > KEY_NIBBLES) return false;
        assembly ("memory-safe") {
            let drop := sub(256, mul(4, pathLen))
            m := eq(shr(drop, nibbles), shr(drop, shl(mul(4, depth), key)))
        }
    }

    /// The child reference at `p` (a branch slot or an extension's second item, inside a
    /// node ending at `end`): empty, a 32-byte hash (`a`), an embedded node shorter than
    /// 32 bytes (`[a, b)`), or anything else (`CHILD_BAD`).
    function _child(uint256 p, uint256 end) private pure returns (uint256 kind, uint256 a, uint256 b) {
        (, uint256 payload, uint256 len, bool list,) = Rlp.tryReadAt(p, end);
        if (list) {
            b = payload + len;
            return (b - p < 32 ? CHILD_EMBEDDED : CHILD_BAD, p, b);
        }
        if (len == 0) return (CHILD_EMPTY, 0, 0);
        if (len == 32) {
            assembly ("memory-safe") {
                a := calldataload(payload)
            }
            return (CHILD_HASH, a, 0);
        }
        return (CHILD_BAD, 0, 0);
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

    function _nibble(bytes32 key, uint256 i) private pure returns (uint256) {
        return (uint256(key) >> (252 - 4 * i)) & 0x0f;
    }

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
