// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IEvmLightClient} from "./IEvmLightClient.sol";
import {EvmLightClientAdmin} from "./EvmLightClientAdmin.sol";
import {EvmLightClientBase} from "./EvmLightClientBase.sol";
import {AddressSets} from "./lib/AddressSets.sol";
import {Attestations} from "./lib/Attestations.sol";
import {BftSeals} from "./lib/BftSeals.sol";
import {CliqueSeals} from "./lib/CliqueSeals.sol";
import {Codec} from "./lib/Codec.sol";
import {EvmHeaders} from "./lib/EvmHeaders.sol";

/// @title Light client of EVM chains (docs/PROTOCOL.md §11–§12), one per chain id.
/// @notice Mirrors `light-clients/src/evm/client.rs` and `misbehaviour.rs`: header runs
/// (QBFT / IBFT 2.0 committed seals with the hand-over rule, Clique seals with turns,
/// checkpoints and the "signed recently" rule) and attested blocks, the same checks in the
/// same order with one custom error per Rust error, updates all or nothing, the newest 512
/// consensus states kept in a ring. Beyond the Rust client (§12.6): a trusting period (no
/// update or proof once the latest trusted block is that old) and a bound on how far a
/// block's time may run ahead of this chain's clock.
///
/// What it trusts: governance (the deployer, transferable) for each client's initial and
/// reset state; after that the followed chain's validators (seal modes) or committee
/// (attestation mode), as §12.6 describes.
contract EvmLightClient is IEvmLightClient, EvmLightClientBase {
    using Codec for Codec.Reader;
    using AddressSets for AddressSets.Set;

    /// @notice The module that creates and resets clients and checks evidence, run by
    /// `delegatecall` in this contract's storage (deployed by the constructor).
    address public immutable admin;

    /// The trusted tip while a header run is checked, and what the run accepted.
    struct Run {
        uint64 height;
        bytes32 blockHash;
        uint64 timeMs;
        AddressSets.Set trusted; // count always known; start valid once `readable`
        bool readable;
        bytes32 trustedHash; // packed hash of `trusted` as listed
        uint256 accepted;
        uint64[] heights;
        bytes32[] hashes;
        bytes32[] roots;
        uint64[] times;
        address[] sealers; // Clique: the sealer of each accepted header
    }

    /// What a header's seals established, for the run.
    struct Sealed {
        bytes32 hash;
        bool hasNext; // the header names the set for what follows
        AddressSets.Set next;
        bytes32 nextHash;
        bool keep; // memory allocated for the run (the stored set) must outlive the header
    }

    /// Blocks newly trusted by a body, for the event and the return value.
    struct Out {
        uint64[] heights;
        bytes32[] hashes;
        uint256 n;
    }

    /// @notice The deployer is the first governance account; the admin module is deployed.
    constructor() {
        _governance = msg.sender;
        admin = address(new EvmLightClientAdmin());
        emit GovernanceTransferred(address(0), msg.sender);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IEvmLightClient
    function governance() external view returns (address) {
        return _governance;
    }

    /// @inheritdoc IEvmLightClient
    function transferGovernance(address next) external onlyGovernance {
        if (next == address(0)) revert ZeroGovernance();
        emit GovernanceTransferred(_governance, next);
        _governance = next;
    }

    /// @inheritdoc IEvmLightClient
    function createClient(bytes calldata) external {
        _delegate();
    }

    /// @inheritdoc IEvmLightClient
    function resetClient(bytes calldata) external {
        _delegate();
    }

    /// @inheritdoc IEvmLightClient
    function submitMisbehaviour(bytes calldata) external returns (bytes32) {
        _delegate();
    }

    /// Runs the call in the admin module, in this storage, and returns or reverts with
    /// what it returned.
    function _delegate() private {
        address module = admin;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ------------------------------------------------------------------ updates

    /// @inheritdoc IEvmLightClient
    function updateClient(bytes calldata body) external returns (uint64[] memory heights, bytes32[] memory hashes) {
        Codec.Reader memory r = Codec.reader(body);
        bytes calldata chainId = r.chainId();
        (uint256[] memory starts, uint256 blocks) = _scan(r);
        if (starts.length == 0) revert EmptyUpdate();
        bytes32 key = keccak256(chainId);
        uint256 nowMs = block.timestamp * 1000;
        Client storage c = _requireActive(key, chainId, nowMs);
        Out memory out = Out(new uint64[](blocks), new bytes32[](blocks), 0);
        for (uint256 i = 0; i < starts.length; ++i) {
            Codec.Reader memory u = Codec.Reader(starts[i], r.end);
            if (u.u8() == 0) _applyHeaders(c, key, u, nowMs, out);
            else _applyAttested(c, key, u, nowMs, out);
        }
        heights = out.heights;
        hashes = out.hashes;
        assembly ("memory-safe") {
            mstore(heights, mload(add(out, 64)))
            mstore(hashes, mload(add(out, 64)))
        }
        emit ClientUpdated(chainId, heights, hashes);
    }

    /// Pass 1: decodes `seq<EvmUpdate>` strictly (every header decoded, as the Rust decoder
    /// does before any rule is checked) and returns where each update starts and how many
    /// blocks the body can trust at most.
    function _scan(Codec.Reader memory r) private pure returns (uint256[] memory starts, uint256 blocks) {
        uint256 n = r.count(MAX_UPDATES, MIN_UPDATE_LEN);
        starts = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            starts[i] = r.pos;
            uint8 tag = r.u8();
            if (tag == 0) {
                uint256 count = r.count(MAX_HEADERS_PER_UPDATE, 4);
                for (uint256 j = 0; j < count; ++j) {
                    _decodeOnly(r.bytesField(EvmHeaders.MAX_HEADER_BYTES));
                }
                blocks += count;
            } else if (tag == 1) {
                Attestations.read(r);
                blocks += 1;
            } else {
                revert Codec.InvalidValue("evm update");
            }
        }
        r.finish();
    }

    /// A header run (`EvmClientState::update_headers`): checked from the latest trusted
    /// block, then stored with the trusted set it hands on.
    function _applyHeaders(Client storage c, bytes32 key, Codec.Reader memory r, uint256 nowMs, Out memory out)
        private
    {
        uint8 mode = c.mode;
        if (mode == ATTESTATION) revert ModeMismatch(mode, FOUND_HEADERS);
        uint256 count = r.u32();
        if (count == 0) revert HeaderCount(0, MAX_HEADERS_PER_UPDATE);
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring = _rings[key];
        Run memory run = _startRun(c, ring, count);
        for (uint256 j = 0; j < count; ++j) {
            _step(c, ring, run, r.bytesField(EvmHeaders.MAX_HEADER_BYTES), nowMs);
        }
        if (run.accepted == 0) return;
        for (uint256 j = 0; j < run.accepted; ++j) {
            _remember(c, ring, run.heights[j], run.hashes[j], run.roots[j], run.times[j]);
            _emitted(out, run.heights[j], run.hashes[j]);
        }
        if (run.readable && run.trustedHash != c.validatorsHash) {
            bytes memory sorted = run.trusted.packedSorted();
            bytes32 sortedHash = keccak256(sorted);
            if (sortedHash != c.validatorsHash) {
                c.validators = sorted;
                c.validatorsHash = sortedHash;
                c.validatorCount = uint16(run.trusted.count);
            }
        }
    }

    function _startRun(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, uint256 count)
        private
        view
        returns (Run memory run)
    {
        ConsensusState storage tip = ring[c.head];
        run.height = tip.height;
        run.blockHash = tip.blockHash;
        run.timeMs = tip.timeMs;
        run.trusted = AddressSets.Set({start: 0, count: c.validatorCount, stride: 20, inMemory: true});
        run.trustedHash = c.validatorsHash;
        run.heights = new uint64[](count);
        run.hashes = new bytes32[](count);
        run.roots = new bytes32[](count);
        run.times = new uint64[](count);
        if (c.mode == CLIQUE) run.sealers = new address[](count);
    }

    /// One header of a run, in the Rust order: held already, adjacent, parent, seals, time,
    /// the set it hands on. The memory it uses is given back unless the run keeps some.
    function _step(
        Client storage c,
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring,
        Run memory run,
        bytes calldata raw,
        uint256 nowMs
    ) private view {
        uint256 fmp;
        assembly ("memory-safe") {
            fmp := mload(0x40)
        }
        EvmHeaders.Header memory h = EvmHeaders.decode(raw);
        uint64 number = h.number;
        if (number <= run.height) {
            _known(c, ring, run, h);
        } else {
            if (uint256(number) != uint256(run.height) + 1) revert NotAdjacent(run.height, number);
            if (h.parentHash != run.blockHash) revert ParentMismatch(number, run.blockHash, h.parentHash);
            Sealed memory s = c.mode == CLIQUE ? _sealClique(c, run, h) : _sealBft(c, run, h);
            (bool fits, uint64 t) = EvmHeaders.timeMs(h);
            if (!fits) revert TimeOverflow(number);
            if (t < run.timeMs) revert TimeDecreased(number, t, run.timeMs);
            if (t > nowMs + c.maxClockDriftMs) revert HeaderFromFuture(t, uint64(nowMs), c.maxClockDriftMs);
            if (s.hasNext) {
                if (s.next.count > MAX_VALIDATORS) revert BadValidatorSet(number);
                run.trusted.start = s.next.start;
                run.trusted.count = s.next.count;
                run.trusted.stride = s.next.stride;
                run.trusted.inMemory = s.next.inMemory;
                run.readable = true;
                run.trustedHash = s.nextHash;
            }
            uint256 a = run.accepted;
            run.heights[a] = number;
            run.hashes[a] = s.hash;
            run.roots[a] = h.stateRoot;
            run.times[a] = t;
            run.accepted = a + 1;
            run.height = number;
            run.blockHash = s.hash;
            run.timeMs = t;
            if (s.keep) return;
        }
        assembly ("memory-safe") {
            mstore(0x40, fmp)
        }
    }

    /// A header at or below the run's height: skipped if held with the same hash before
    /// any new header, else a conflict (held) or too old.
    function _known(
        Client storage c,
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring,
        Run memory run,
        EvmHeaders.Header memory h
    ) private view {
        bytes32 found = _blockHash(c.mode, h);
        (bool held, ConsensusState storage cs) = _find(c, ring, h.number);
        if (held && cs.blockHash == found && run.accepted == 0) return;
        if (held) revert ConflictingHeader(h.number, cs.blockHash, found);
        revert NotNewer(h.number, c.latestHeight);
    }

    /// QBFT / IBFT 2.0 (`verify_header_transition`): final under its own list, more than a
    /// third of the trusted set among its sealers; the list becomes the trusted set.
    function _sealBft(Client storage c, Run memory run, EvmHeaders.Header memory h)
        private
        view
        returns (Sealed memory s)
    {
        BftSeals.Verdict memory v = BftSeals.verifyOwnList(h, c.mode);
        s.nextHash = v.listed.packedHash();
        bool listedIsTrusted = s.nextHash == run.trustedHash;
        if (!listedIsTrusted) s.keep = _readable(c, run);
        BftSeals.requireTrusted(v.signers, run.trusted, listedIsTrusted);
        s.hash = v.blockHash;
        s.hasNext = true;
        s.next = v.listed;
    }

    /// Clique: sealed by a trusted signer in its turn, not too recently within the run; a
    /// checkpoint's signers become the trusted set.
    function _sealClique(Client storage c, Run memory run, EvmHeaders.Header memory h)
        private
        view
        returns (Sealed memory s)
    {
        s.keep = _readable(c, run);
        CliqueSeals.Parsed memory p = CliqueSeals.parse(h, c.epoch);
        (address who,) = CliqueSeals.verify(h, p, run.trusted);
        CliqueSeals.checkRecentlySigned(run.heights, run.sealers, run.accepted, h.number, who, run.trusted.count);
        run.sealers[run.accepted] = who;
        s.hash = EvmHeaders.hash(h);
        if (p.checkpoint) {
            s.hasNext = true;
            s.next = p.signers;
            s.nextHash = p.signers.packedHash();
        }
    }

    /// Makes the run's trusted set readable, loading the stored one; true if it allocated.
    function _readable(Client storage c, Run memory run) private view returns (bool loaded) {
        if (run.readable) return false;
        bytes memory stored = c.validators;
        AddressSets.Set memory set = AddressSets.fromPacked(stored);
        run.trusted.start = set.start;
        run.trusted.stride = 20;
        run.trusted.inMemory = true;
        run.readable = true;
        return true;
    }

    /// An attested block (attestation mode): vouched for, then a no-op if held as it is, a
    /// conflict or too old at a held height, else the new latest.
    function _applyAttested(Client storage c, bytes32 key, Codec.Reader memory r, uint256 nowMs, Out memory out)
        private
    {
        if (c.mode != ATTESTATION) revert ModeMismatch(c.mode, FOUND_ATTESTATION);
        Attestations.Attested memory a = Attestations.read(r);
        _checkAttested(c, key, a);
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring = _rings[key];
        (bool held, ConsensusState storage cs) = _find(c, ring, a.height);
        if (held && cs.blockHash == a.blockHash && cs.stateRoot == a.stateRoot && cs.timeMs == a.timeMs) return;
        uint64 latest = c.latestHeight;
        if (a.height <= latest) {
            if (held) revert ConflictingHeader(a.height, cs.blockHash, a.blockHash);
            revert NotNewer(a.height, latest);
        }
        uint64 latestMs = ring[c.head].timeMs;
        if (a.timeMs < latestMs) revert TimeDecreased(a.height, a.timeMs, latestMs);
        if (a.timeMs > nowMs + c.maxClockDriftMs) revert HeaderFromFuture(a.timeMs, uint64(nowMs), c.maxClockDriftMs);
        _remember(c, ring, a.height, a.blockHash, a.stateRoot, a.timeMs);
        _emitted(out, a.height, a.blockHash);
    }

    function _emitted(Out memory out, uint64 height, bytes32 blockHash) private pure {
        out.heights[out.n] = height;
        out.hashes[out.n] = blockHash;
        out.n += 1;
    }

    // ------------------------------------------------------------------ queries

    /// @inheritdoc IEvmLightClient
    function provenState(bytes calldata chainId, uint64 height)
        external
        view
        returns (uint64 timeMs, bytes32 stateRoot)
    {
        bytes32 key = keccak256(chainId);
        Client storage c = _requireActive(key, chainId, block.timestamp * 1000);
        (bool known, ConsensusState storage s) = _find(c, _rings[key], height);
        if (!known) revert UnknownHeight(height);
        return (s.timeMs, s.stateRoot);
    }

    /// @inheritdoc IEvmLightClient
    function consensusState(bytes calldata chainId, uint64 height)
        external
        view
        returns (bool exists, uint64 timeMs, bytes32 headerHash, bytes32 stateRoot)
    {
        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (!c.exists) return (false, 0, bytes32(0), bytes32(0));
        (bool known, ConsensusState storage s) = _find(c, _rings[key], height);
        if (!known) return (false, 0, bytes32(0), bytes32(0));
        return (true, s.timeMs, s.blockHash, s.stateRoot);
    }

    /// @inheritdoc IEvmLightClient
    function clientState(bytes calldata chainId, uint64 height) external view returns (bytes memory) {
        bytes32 key = keccak256(chainId);
        Client storage c = _existing(chainId);
        if (c.frozen) revert FrozenClient(chainId);
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring = _rings[key];
        ConsensusState storage latest = ring[c.head];
        bytes memory entries = _entry(latest);
        uint32 count = 1;
        if (height != 0 && height < c.latestHeight) {
            (bool known, ConsensusState storage at) = _find(c, ring, height);
            if (known) {
                entries = abi.encodePacked(_entry(at), entries);
                count = 2;
            }
        }
        bytes memory members = c.validators;
        uint32 n = uint32(members.length / 20);
        bytes memory mode;
        bytes memory validators;
        if (c.mode == ATTESTATION) {
            mode = abi.encodePacked(c.mode, n, members, uint32(c.quorum));
            validators = abi.encodePacked(uint32(0));
        } else {
            mode = c.mode == CLIQUE ? abi.encodePacked(c.mode, c.epoch) : abi.encodePacked(c.mode);
            validators = abi.encodePacked(n, members);
        }
        return abi.encodePacked(
            uint32(chainId.length), chainId, mode, validators, c.gateway, c.latestHeight, count, entries, uint8(0)
        );
    }

    function _entry(ConsensusState storage s) private view returns (bytes memory) {
        return abi.encodePacked(s.height, s.blockHash, s.stateRoot, s.timeMs);
    }

    /// @inheritdoc IEvmLightClient
    function counterpartyGateway(bytes calldata chainId) external view returns (address) {
        return _existing(chainId).gateway;
    }

    /// @inheritdoc IEvmLightClient
    function trustedValidators(bytes calldata chainId) external view returns (address[] memory) {
        return AddressSets.fromPacked(_existing(chainId).validators).toArray();
    }

    /// @inheritdoc IEvmLightClient
    function trustParameters(bytes calldata chainId)
        external
        view
        returns (uint64 trustingPeriodMs, uint64 maxClockDriftMs)
    {
        Client storage c = _existing(chainId);
        return (c.trustingPeriodMs, c.maxClockDriftMs);
    }

    /// @inheritdoc IEvmLightClient
    function latestHeight(bytes calldata chainId) external view returns (uint64) {
        return _clients[keccak256(chainId)].latestHeight;
    }

    /// @inheritdoc IEvmLightClient
    function isFrozen(bytes calldata chainId) external view returns (bool) {
        return _clients[keccak256(chainId)].frozen;
    }
}
