// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IEvmLightClient} from "./IEvmLightClient.sol";
import {EvmLightClientBase} from "./EvmLightClientBase.sol";
import {AddressSets} from "./lib/AddressSets.sol";
import {Attestations} from "./lib/Attestations.sol";
import {BftSeals} from "./lib/BftSeals.sol";
import {CliqueSeals} from "./lib/CliqueSeals.sol";
import {Codec} from "./lib/Codec.sol";
import {EvmHeaders} from "./lib/EvmHeaders.sol";

/// @title The rarely called half of `EvmLightClient`: creating and resetting clients, and
/// misbehaviour evidence (docs/PROTOCOL.md §12.4, §12.7).
/// @notice Deployed by `EvmLightClient`'s constructor and run only by its `delegatecall`, in
/// its storage (EIP-170 caps one contract's code at 24,576 bytes; the hot path, updates and
/// the views, stays in the client without a call in between). Called directly it refuses.
contract EvmLightClientAdmin is EvmLightClientBase {
    using Codec for Codec.Reader;
    using AddressSets for AddressSets.Set;

    /// @notice Called directly instead of through the client's `delegatecall`.
    error NotDelegated();

    address private immutable _self = address(this);

    /// A decoded `EvmMisbehaviour`: its kind (0 headers, 1 two attestations, 2 one
    /// attestation against a held block), where its parts lie, and its hash.
    struct Evidence {
        uint8 kind;
        uint256 first;
        uint256 firstLen;
        uint256 second;
        uint256 secondLen;
        Attestations.Attested a;
        Attestations.Attested b;
        bytes32 hash;
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert NotDelegated();
        _;
    }

    /// @notice See `IEvmLightClient`.
    function createClient(bytes calldata args) external onlyDelegated onlyGovernance {
        (bytes calldata chainId, uint64 height) = _setUp(args, false);
        emit IEvmLightClient.ClientCreated(chainId, height);
    }

    /// @notice See `IEvmLightClient`.
    function resetClient(bytes calldata args) external onlyDelegated onlyGovernance {
        (bytes calldata chainId, uint64 height) = _setUp(args, true);
        emit IEvmLightClient.ClientReset(chainId, height);
    }

    /// Decodes `EvmClientState ‖ u64 trusting_period_ms ‖ u64 max_clock_drift_ms` as the
    /// Rust decoder does and (re)writes the client.
    function _setUp(bytes calldata args, bool reset) private returns (bytes calldata chainId, uint64 height) {
        Codec.Reader memory r = Codec.reader(args);
        chainId = r.chainId();
        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (reset) {
            if (!c.exists) revert IEvmLightClient.UnknownClient(chainId);
        } else if (c.exists) {
            revert IEvmLightClient.ClientExists(chainId);
        }
        uint8 mode = r.u8();
        uint64 epoch;
        uint256 quorum;
        bytes calldata members = args[0:0];
        if (mode == CLIQUE) {
            epoch = r.u64();
            if (epoch == 0) revert Codec.InvalidValue("clique epoch");
        } else if (mode == ATTESTATION) {
            members = _ascending(r, Attestations.MAX_SIGNATURES, false, "attesters");
            quorum = r.u32();
            if (members.length == 0 || quorum == 0 || quorum > members.length / 20) {
                revert Codec.InvalidValue("committee");
            }
        } else if (mode > 1) {
            revert Codec.InvalidValue("finality mode");
        }
        bytes calldata validators = _ascending(r, MAX_VALIDATORS, mode != ATTESTATION, "validators");
        if (mode == ATTESTATION) {
            if (validators.length != 0) revert Codec.InvalidValue("validators");
            validators = members;
        }
        c.gateway = r.addr();
        height = r.u64();
        uint256 states = _readStates(r, height, _rings[key]);
        uint8 frozen = r.u8();
        if (frozen > 1) revert Codec.InvalidValue("frozen flag");
        uint64 period = r.u64();
        uint64 drift = r.u64();
        r.finish();
        if (frozen == 1) revert IEvmLightClient.FrozenSetup();
        if (period == 0) revert IEvmLightClient.InvalidTrustOptions();

        c.exists = true;
        c.frozen = false;
        c.evidenceHash = bytes32(0);
        c.mode = mode;
        c.epoch = epoch;
        c.quorum = uint16(quorum);
        c.trustingPeriodMs = period;
        c.maxClockDriftMs = drift;
        c.validators = validators;
        c.validatorsHash = keccak256(validators);
        c.validatorCount = uint16(validators.length / 20);
        c.latestHeight = height;
        c.head = uint16(states - 1);
        c.kept = uint16(states);
    }

    /// A `seq<address>` of at most `max`, strictly ascending (and non-empty if `nonEmpty`),
    /// as packed calldata bytes.
    function _ascending(Codec.Reader memory r, uint256 max, bool nonEmpty, string memory what)
        private
        pure
        returns (bytes calldata packed)
    {
        uint256 n = r.count(max, 20);
        packed = r.fixedBytes(n * 20);
        AddressSets.Set memory set = AddressSets.fromCalldata(packed);
        if ((nonEmpty && n == 0) || !set.isStrictlyAscending()) revert Codec.InvalidValue(what);
    }

    /// The consensus states of an `EvmClientState` (1–512, heights ascending, times not
    /// decreasing, the last at `latest`), written to the ring's first entries. Returns how
    /// many.
    function _readStates(Codec.Reader memory r, uint64 latest, ConsensusState[KEPT_CONSENSUS_STATES] storage ring)
        private
        returns (uint256 n)
    {
        n = r.count(KEPT_CONSENSUS_STATES, STATE_ENTRY_LEN);
        uint64 lastHeight;
        uint64 lastTime;
        for (uint256 i = 0; i < n; ++i) {
            uint64 h = r.u64();
            bytes32 blockHash = r.hash32();
            bytes32 root = r.hash32();
            uint64 t = r.u64();
            if (i > 0 && (h <= lastHeight || t < lastTime)) revert Codec.InvalidValue("consensus states");
            ring[i] = ConsensusState({blockHash: blockHash, stateRoot: root, height: h, timeMs: t});
            (lastHeight, lastTime) = (h, t);
        }
        if (n == 0 || lastHeight != latest) revert Codec.InvalidValue("consensus states");
    }

    // ------------------------------------------------------------------ misbehaviour

    /// @notice See `IEvmLightClient`.
    function submitMisbehaviour(bytes calldata body) external onlyDelegated returns (bytes32 evidenceHash) {
        Codec.Reader memory r = Codec.reader(body);
        bytes calldata chainId = r.chainId();
        Evidence memory e = _readEvidence(r);
        r.finish();
        evidenceHash = e.hash;
        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (!c.exists) revert IEvmLightClient.UnknownClient(chainId);
        if (e.kind == 0) {
            _checkHeaderEvidence(c, Codec.slice(e.first, e.firstLen), Codec.slice(e.second, e.secondLen));
        } else if (e.kind == 1) {
            _checkAttestationsEvidence(c, key, e.a, e.b);
        } else {
            _checkConflictEvidence(c, key, e.a);
        }
        if (!c.frozen) {
            c.frozen = true;
            c.evidenceHash = evidenceHash;
            emit IEvmLightClient.ClientFrozen(chainId, evidenceHash);
        }
    }

    /// Decodes an `EvmMisbehaviour` strictly (headers decoded, as the Rust decoder does)
    /// and hashes its exact bytes.
    function _readEvidence(Codec.Reader memory r) private view returns (Evidence memory e) {
        uint256 start = r.pos;
        e.kind = r.u8();
        if (e.kind == 0) {
            bytes calldata first = r.bytesField(EvmHeaders.MAX_HEADER_BYTES);
            _decodeOnly(first);
            bytes calldata second = r.bytesField(EvmHeaders.MAX_HEADER_BYTES);
            _decodeOnly(second);
            (e.first, e.firstLen) = (Codec.offsetOf(first), first.length);
            (e.second, e.secondLen) = (Codec.offsetOf(second), second.length);
        } else if (e.kind == 1) {
            e.a = Attestations.read(r);
            e.b = Attestations.read(r);
        } else if (e.kind == 2) {
            e.a = Attestations.read(r);
        } else {
            revert Codec.InvalidValue("evm misbehaviour");
        }
        e.hash = Codec.taggedHash(EVIDENCE_TAG, 26, start, r.pos - start);
    }

    /// Two headers at one height with different block hashes, both sealed under the
    /// trusted set (QBFT / IBFT 2.0: `verify_header`'s ceil(2|T|/3) seals each; Clique: by
    /// the same trusted signer).
    function _checkHeaderEvidence(Client storage c, bytes calldata first, bytes calldata second) private view {
        uint8 mode = c.mode;
        if (mode == ATTESTATION) revert IEvmLightClient.ModeMismatch(mode, FOUND_HEADERS);
        EvmHeaders.Header memory h1 = EvmHeaders.decode(first);
        EvmHeaders.Header memory h2 = EvmHeaders.decode(second);
        if (h1.number != h2.number) revert IEvmLightClient.EvidenceHeightMismatch(h1.number, h2.number);
        bytes32 hash1 = _blockHash(mode, h1);
        if (hash1 == _blockHash(mode, h2)) revert IEvmLightClient.NoConflict(h1.number);
        AddressSets.Set memory trusted = AddressSets.fromPacked(c.validators);
        if (mode == CLIQUE) {
            (address w1,) = CliqueSeals.verify(h1, CliqueSeals.parse(h1, c.epoch), trusted);
            (address w2,) = CliqueSeals.verify(h2, CliqueSeals.parse(h2, c.epoch), trusted);
            if (w1 != w2) revert IEvmLightClient.EvidenceSealersDiffer(w1, w2);
        } else {
            BftSeals.verify(h1, mode, trusted);
            BftSeals.verify(h2, mode, trusted);
        }
    }

    /// Two different attestations at one height, both vouched for by the committee.
    function _checkAttestationsEvidence(
        Client storage c,
        bytes32 key,
        Attestations.Attested memory a,
        Attestations.Attested memory b
    ) private view {
        if (c.mode != ATTESTATION) revert IEvmLightClient.ModeMismatch(c.mode, FOUND_ATTESTATION);
        if (a.height != b.height) revert IEvmLightClient.EvidenceHeightMismatch(a.height, b.height);
        if (Attestations.same(a, b)) revert IEvmLightClient.NoConflict(a.height);
        _checkAttested(c, key, a);
        _checkAttested(c, key, b);
    }

    /// One attestation vouched for by the committee that differs from the block held at
    /// its height (`freeze_on_conflict`).
    function _checkConflictEvidence(Client storage c, bytes32 key, Attestations.Attested memory a) private view {
        if (c.mode != ATTESTATION) revert IEvmLightClient.ModeMismatch(c.mode, FOUND_ATTESTATION);
        _checkAttested(c, key, a);
        (bool held, ConsensusState storage cs) = _find(c, _rings[key], a.height);
        if (!held || (cs.blockHash == a.blockHash && cs.stateRoot == a.stateRoot && cs.timeMs == a.timeMs)) {
            revert IEvmLightClient.NoConflict(a.height);
        }
    }

}
