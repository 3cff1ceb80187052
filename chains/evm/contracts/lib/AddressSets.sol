// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Read-only address lists where they already are: in calldata or in memory.
/// @notice Validator lists arrive in different shapes (a QBFT extraData list is 21-byte RLP
/// items, a Clique checkpoint packs 20-byte addresses, a stored set is packed in memory), so
/// a set is a view `(start, count, stride)` read in place instead of a copied array: finding
/// a signer costs no allocation, and the common case (a list that equals the trusted one)
/// is recognised by one hash.
library AddressSets {
    /// @notice `count` addresses, the i-th in the 20 bytes at `start + i * stride`, in
    /// calldata or (`inMemory`) in memory.
    struct Set {
        uint256 start;
        uint256 count;
        uint256 stride;
        bool inMemory;
    }

    /// @notice A packed (20-byte stride) set over the bytes of `packed` in memory.
    function fromPacked(bytes memory packed) internal pure returns (Set memory set) {
        uint256 start;
        assembly ("memory-safe") {
            start := add(packed, 32)
        }
        set = Set({start: start, count: packed.length / 20, stride: 20, inMemory: true});
    }

    /// @notice A packed set over calldata bytes.
    function fromCalldata(bytes calldata packed) internal pure returns (Set memory set) {
        uint256 start;
        assembly ("memory-safe") {
            start := packed.offset
        }
        set = Set({start: start, count: packed.length / 20, stride: 20, inMemory: false});
    }

    /// @notice The `i`-th address.
    function at(Set memory set, uint256 i) internal pure returns (address a) {
        uint256 p = set.start + i * set.stride;
        if (set.inMemory) {
            assembly ("memory-safe") {
                a := shr(96, mload(p))
            }
        } else {
            assembly ("memory-safe") {
                a := shr(96, calldataload(p))
            }
        }
    }

    /// @notice Whether the addresses are strictly ascending (so distinct and in one order).
    function isStrictlyAscending(Set memory set) internal pure returns (bool) {
        uint256 n = set.count;
        address previous;
        for (uint256 i = 0; i < n; ++i) {
            address a = at(set, i);
            if (i > 0 && a <= previous) return false;
            previous = a;
        }
        return true;
    }

    /// @notice The smallest address listed twice, if any (the one a sorted scan meets first).
    function smallestDuplicate(Set memory set) internal pure returns (bool found, address dup) {
        uint256 n = set.count;
        for (uint256 i = 0; i < n; ++i) {
            address a = at(set, i);
            if (found && a >= dup) continue;
            for (uint256 j = i + 1; j < n; ++j) {
                if (at(set, j) == a) {
                    found = true;
                    dup = a;
                    break;
                }
            }
        }
    }

    /// @notice Where `who` is listed: a binary search when `ascending`, else a scan.
    function indexOf(Set memory set, address who, bool ascending) internal pure returns (bool, uint256) {
        if (ascending) {
            uint256 lo = 0;
            uint256 hi = set.count;
            while (lo < hi) {
                uint256 mid = (lo + hi) >> 1;
                address a = at(set, mid);
                if (a == who) return (true, mid);
                if (a < who) lo = mid + 1;
                else hi = mid;
            }
            return (false, 0);
        }
        uint256 n = set.count;
        for (uint256 i = 0; i < n; ++i) {
            if (at(set, i) == who) return (true, i);
        }
        return (false, 0);
    }

    /// @notice keccak-256 of the addresses packed (20 bytes each, in listed order): equal
    /// hashes mean the same list in the same order. Uses scratch memory, allocates nothing.
    function packedHash(Set memory set) internal pure returns (bytes32 h) {
        uint256 n = set.count;
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := mload(0x40)
        }
        for (uint256 i = 0; i < n; ++i) {
            address a = at(set, i);
            assembly ("memory-safe") {
                mstore(add(ptr, mul(i, 20)), shl(96, a))
            }
        }
        assembly ("memory-safe") {
            h := keccak256(ptr, mul(n, 20))
        }
    }

    /// @notice The addresses packed in ascending order (a sorted copy): what a client stores.
    function packedSorted(Set memory set) internal pure returns (bytes memory out) {
        uint256 n = set.count;
        address[] memory list = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            list[i] = at(set, i);
        }
        // Insertion sort: sets are short and usually sorted already (one pass then).
        for (uint256 i = 1; i < n; ++i) {
            address a = list[i];
            uint256 j = i;
            while (j > 0 && list[j - 1] > a) {
                list[j] = list[j - 1];
                --j;
            }
            list[j] = a;
        }
        out = new bytes(n * 20);
        for (uint256 i = 0; i < n; ++i) {
            address a = list[i];
            assembly ("memory-safe") {
                mstore(add(add(out, 32), mul(i, 20)), shl(96, a))
            }
        }
        // The last address's word ran up to 12 bytes past the list: zero from the list's end
        // (its padding, and scratch past the free pointer at most).
        assembly ("memory-safe") {
            mstore(add(add(out, 32), mul(n, 20)), 0)
        }
    }

    /// @notice The addresses as an array, in listed order.
    function toArray(Set memory set) internal pure returns (address[] memory out) {
        uint256 n = set.count;
        out = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = at(set, i);
        }
    }
}
