// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IEvmLightClient} from "./IEvmLightClient.sol";
import {AddressSets} from "./lib/AddressSets.sol";
import {Attestations} from "./lib/Attestations.sol";
import {BftSeals} from "./lib/BftSeals.sol";
import {EvmHeaders} from "./lib/EvmHeaders.sol";

/// @title What `EvmLightClient` and its admin module share: the storage layout (clients and
/// their rings of consensus states), the limits, and the helpers both halves use.
/// @notice The admin module runs by `delegatecall` in the client's storage, so both must see
/// exactly this layout: neither declares storage of its own.
abstract contract EvmLightClientBase {
    /// @notice Consensus states kept per client (`MAX_CONSENSUS_STATES`).
    uint256 public constant KEPT_CONSENSUS_STATES = 512;
    /// @notice Most updates in one body (`MAX_EVM_UPDATES`).
    uint256 public constant MAX_UPDATES = 16;
    /// @notice Most headers in one update (`MAX_UPDATE_HEADERS`).
    uint256 public constant MAX_HEADERS_PER_UPDATE = 256;
    /// @notice Most validators a seal-mode client follows (`MAX_VALIDATORS`).
    uint256 public constant MAX_VALIDATORS = 1024;

    uint8 internal constant QBFT = 0;
    uint8 internal constant CLIQUE = 2;
    uint8 internal constant ATTESTATION = 3;
    uint8 internal constant FOUND_HEADERS = 0;
    uint8 internal constant FOUND_ATTESTATION = 1;
    uint256 internal constant MIN_UPDATE_LEN = 5; // u8 0 ‖ u32 0
    uint256 internal constant STATE_ENTRY_LEN = 80; // u64 ‖ hash32 ‖ hash32 ‖ u64
    bytes32 internal constant EVIDENCE_TAG = "xrelay.evm-misbehaviour.v1"; // 26 bytes

    /// What the client keeps of one trusted block.
    struct ConsensusState {
        bytes32 blockHash;
        bytes32 stateRoot;
        uint64 height;
        uint64 timeMs;
    }

    /// One client. Its consensus states live in a ring: the `kept` entries ending at `head`
    /// (the latest), heights ascending.
    struct Client {
        uint64 latestHeight;
        uint16 head;
        uint16 kept;
        bool exists;
        bool frozen;
        uint8 mode; // FinalityMode tag: 0 QBFT, 1 IBFT 2.0, 2 Clique, 3 attestation
        uint64 epoch; // Clique
        uint64 trustingPeriodMs;
        uint64 maxClockDriftMs;
        uint16 quorum; // attestation
        uint16 validatorCount;
        address gateway;
        // keccak-256 of `validators`: a header listing exactly this set is recognised
        // without reading the set from storage.
        bytes32 validatorsHash;
        // Packed 20-byte addresses, ascending: the trusted set (seal modes) or the committee.
        bytes validators;
        bytes32 evidenceHash;
    }

    address internal _governance;
    mapping(bytes32 chainKey => Client) internal _clients;
    mapping(bytes32 chainKey => ConsensusState[KEPT_CONSENSUS_STATES]) internal _rings;

    modifier onlyGovernance() {
        if (msg.sender != _governance) revert IEvmLightClient.NotGovernance(msg.sender);
        _;
    }

    /// Decodes a header and forgets it (the memory it used is given back).
    function _decodeOnly(bytes calldata raw) internal pure {
        uint256 fmp;
        assembly ("memory-safe") {
            fmp := mload(0x40)
        }
        EvmHeaders.decode(raw);
        assembly ("memory-safe") {
            mstore(0x40, fmp)
        }
    }

    function _checkAttested(Client storage c, bytes32 key, Attestations.Attested memory a) internal view {
        Attestations.check(a, key, AddressSets.fromPacked(c.validators), c.quorum);
    }

    // ------------------------------------------------------------------ storage

    /// Stores a trusted block as the new latest, in the ring entry after the head (the
    /// oldest when the ring is full).
    function _remember(
        Client storage c,
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring,
        uint64 height,
        bytes32 blockHash,
        bytes32 root,
        uint64 timeMs
    ) internal {
        uint256 head = (uint256(c.head) + 1) % KEPT_CONSENSUS_STATES;
        ring[head] = ConsensusState({blockHash: blockHash, stateRoot: root, height: height, timeMs: timeMs});
        c.head = uint16(head);
        if (c.kept < KEPT_CONSENSUS_STATES) c.kept += 1;
        c.latestHeight = height;
    }

    /// The held state at `height`: the head, else a binary search of the kept window.
    function _find(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, uint64 height)
        internal
        view
        returns (bool found, ConsensusState storage s)
    {
        uint256 head = c.head;
        s = ring[head];
        if (height == c.latestHeight) return (true, s);
        if (height > c.latestHeight) return (false, s);
        uint256 kept = c.kept;
        uint256 oldest = head + KEPT_CONSENSUS_STATES + 1 - kept;
        uint256 lo = 0;
        uint256 hi = kept - 1; // the head is not `height`
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            ConsensusState storage m = ring[(oldest + mid) % KEPT_CONSENSUS_STATES];
            uint64 h = m.height;
            if (h == height) return (true, m);
            if (h < height) lo = mid + 1;
            else hi = mid;
        }
        return (false, s);
    }

    /// The chain's hash of a header (`EvmConsensus::block_hash`).
    function _blockHash(uint8 mode, EvmHeaders.Header memory h) internal pure returns (bytes32) {
        if (mode == CLIQUE) return EvmHeaders.hash(h);
        return BftSeals.blockHash(h, BftSeals.parse(h, mode), mode);
    }

    /// The client, if it exists, is not frozen and its latest block is within the period.
    function _requireActive(bytes32 key, bytes calldata chainId, uint256 nowMs)
        internal
        view
        returns (Client storage c)
    {
        c = _clients[key];
        if (!c.exists) revert IEvmLightClient.UnknownClient(chainId);
        if (c.frozen) revert IEvmLightClient.FrozenClient(chainId);
        uint64 latestMs = _rings[key][c.head].timeMs;
        if (uint256(latestMs) + c.trustingPeriodMs <= nowMs) revert IEvmLightClient.ClientExpired(latestMs, uint64(nowMs));
    }

    function _existing(bytes calldata chainId) internal view returns (Client storage c) {
        c = _clients[keccak256(chainId)];
        if (!c.exists) revert IEvmLightClient.UnknownClient(chainId);
    }

}
