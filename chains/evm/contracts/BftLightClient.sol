// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBftLightClient} from "./IBftLightClient.sol";
import {Codec} from "./lib/Codec.sol";
import {StateProofs} from "./lib/StateProofs.sol";

/// @title Light client of xrelay BFT chains (docs/PROTOCOL.md §7–§8), one per chain id.
/// @notice Mirrors `light-clients/src/{verifier,client,misbehaviour}.rs`: the same rules in
/// the same order, every commit signature checked with `ecrecover` (not just a quorum),
/// exact integer quorum arithmetic, a batch of light blocks stored all or nothing, the
/// newest 512 consensus states younger than the trusting period kept (PROTOCOL.md §9.3).
/// Headers are parsed from calldata and hashed over the exact bytes received.
///
/// What it trusts: governance (the deployer, transferable) for each client's initial and
/// reset trusted state; after that only signatures of the followed chain's validators.
contract BftLightClient is IBftLightClient {
    using Codec for Codec.Reader;

    /// @notice Consensus states kept per client after an update (PROTOCOL.md §9.3).
    uint256 public constant KEPT_CONSENSUS_STATES = 512;
    /// @notice Most light blocks in one update (PROTOCOL.md §9.2).
    uint256 public constant MAX_BLOCKS_PER_UPDATE = 256;
    /// @notice Most validators in a set, and signatures in a commit.
    uint256 public constant MAX_VALIDATORS = 1024;
    /// @notice Most total voting power of a set (2^60): quorum products never overflow.
    uint256 public constant MAX_TOTAL_POWER = 1 << 60;

    uint256 private constant VALIDATOR_LEN = 61; // address 20 ‖ pubkey 33 ‖ u64 power
    uint256 private constant COMMIT_SIG_LEN = 85; // address 20 ‖ r 32 ‖ s 32 ‖ v 1
    // Smallest LightBlock: header 201 (1-byte chain id) + commit 44 + two 1-member sets 65.
    uint256 private constant MIN_LIGHT_BLOCK_LEN = 375;
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 private constant ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
    bytes32 private constant HEADER_TAG = "xrelay.header.v1"; // 16 bytes
    bytes32 private constant VALSET_TAG = "xrelay.valset.v1"; // 16 bytes
    bytes32 private constant MISBEHAVIOUR_TAG = "xrelay.misbehaviour.v1"; // 22 bytes

    /// What the client keeps of one verified header.
    struct ConsensusState {
        bytes32 headerHash;
        bytes32 stateRoot;
        bytes32 nextValidatorsHash;
        uint64 height;
        uint64 timeMs;
    }

    /// One client. Its consensus states live in a ring of KEPT_CONSENSUS_STATES entries:
    /// the `kept` entries ending at `head` (the latest), heights ascending. A new state takes
    /// the next entry, evicting the oldest when the ring is full, so after the first
    /// KEPT_CONSENSUS_STATES updates storing a state rewrites slots instead of creating them
    /// (a fifth of the gas); forgetting a state is only a smaller `kept`.
    struct Client {
        uint64 latestHeight;
        uint16 head;
        uint16 kept;
        bool exists;
        bool frozen;
        uint64 trustNumerator;
        uint64 trustDenominator;
        uint64 trustingPeriodMs;
        uint64 maxClockDriftMs;
        bytes32 evidenceHash;
        // `ValidatorSet` encoding of the latest header's next set: the trusted set of a
        // skipping update (rewritten only when the set changes).
        bytes trustedNextValidators;
    }

    /// A `ValidatorSet` encoding located in calldata or memory, already validated.
    struct ValidatorSetView {
        uint256 start; // first byte of the encoding (the u32 count)
        uint256 len; // bytes of the encoding
        uint256 count;
        uint256 totalPower;
        bytes32 hash;
        bool inMemory;
    }

    /// A `LightBlock` parsed from calldata: offsets and the fields the rules read.
    struct LightBlockView {
        uint256 chainIdStart;
        uint256 chainIdLen;
        uint64 height;
        uint64 timeMs;
        bytes32 parentHash;
        bytes32 stateRoot;
        bytes32 validatorsHash;
        bytes32 nextValidatorsHash;
        bytes32 headerHash; // SHA-256("xrelay.header.v1" ‖ header bytes)
        uint64 commitHeight;
        bytes32 commitHash;
        uint256 sigsStart;
        uint256 sigCount;
        ValidatorSetView validators;
        ValidatorSetView nextValidators;
    }

    /// The state a light block is verified from (PROTOCOL.md §7 "trusted state").
    struct Trusted {
        uint64 height;
        uint64 timeMs;
        bytes32 headerHash;
        bytes32 nextValidatorsHash;
        bool haveSet; // nextValidators is loaded (needed only by skipping blocks)
        ValidatorSetView nextValidators;
    }

    /// A decoded `Misbehaviour` with its evidence hash.
    struct Evidence {
        uint64 trustedHeight;
        ValidatorSetView trustedSet;
        LightBlockView first;
        LightBlockView second;
        bytes32 hash;
    }

    address private _governance;
    mapping(bytes32 chainKey => Client) private _clients;
    mapping(bytes32 chainKey => ConsensusState[KEPT_CONSENSUS_STATES]) private _rings;

    /// @notice The deployer is the first governance account.
    constructor() {
        _governance = msg.sender;
        emit GovernanceTransferred(address(0), msg.sender);
    }

    modifier onlyGovernance() {
        if (msg.sender != _governance) revert NotGovernance(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IBftLightClient
    function governance() external view returns (address) {
        return _governance;
    }

    /// @inheritdoc IBftLightClient
    function transferGovernance(address next) external onlyGovernance {
        if (next == address(0)) revert ZeroGovernance();
        emit GovernanceTransferred(_governance, next);
        _governance = next;
    }

    /// @inheritdoc IBftLightClient
    function createClient(bytes calldata trustedState, bytes calldata trustOptions) external onlyGovernance {
        (bytes calldata chainId, uint64 height) = _setUp(trustedState, trustOptions, false);
        emit ClientCreated(chainId, height);
    }

    /// @inheritdoc IBftLightClient
    function resetClient(bytes calldata trustedState, bytes calldata trustOptions) external onlyGovernance {
        (bytes calldata chainId, uint64 height) = _setUp(trustedState, trustOptions, true);
        emit ClientReset(chainId, height);
    }

    /// Decodes a `TrustedState` and `TrustOptions` and (re)initialises the client.
    function _setUp(bytes calldata trustedState, bytes calldata trustOptions, bool reset)
        private
        returns (bytes calldata chainId, uint64 height)
    {
        Codec.Reader memory r = Codec.reader(trustedState);
        chainId = r.chainId();
        height = r.u64();
        uint64 timeMs = r.u64();
        bytes32 headerHash = r.hash32();
        bytes32 stateRoot = r.hash32();
        ValidatorSetView memory next = _readValidatorSet(r);
        r.finish();

        Codec.Reader memory o = Codec.reader(trustOptions);
        uint64 numerator = o.u64();
        uint64 denominator = o.u64();
        uint64 trustingPeriodMs = o.u64();
        uint64 maxClockDriftMs = o.u64();
        o.finish();
        // Threshold in [1/3, 1), a non-zero period (TrustOptions::validate).
        if (
            denominator == 0 || uint256(numerator) * 3 < denominator || numerator >= denominator
                || trustingPeriodMs == 0
        ) revert InvalidTrustOptions();

        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (reset) {
            if (!c.exists) revert UnknownClient(chainId);
        } else if (c.exists) {
            revert ClientExists(chainId);
        }
        c.exists = true;
        c.frozen = false;
        c.evidenceHash = bytes32(0);
        c.latestHeight = height;
        // One kept state: every earlier entry of the ring is outside the window at once.
        c.head = 0;
        c.kept = 1;
        c.trustNumerator = numerator;
        c.trustDenominator = denominator;
        c.trustingPeriodMs = trustingPeriodMs;
        c.maxClockDriftMs = maxClockDriftMs;
        c.trustedNextValidators = Codec.slice(next.start, next.len);
        _rings[key][0] = ConsensusState({
            headerHash: headerHash,
            stateRoot: stateRoot,
            nextValidatorsHash: next.hash,
            height: height,
            timeMs: timeMs
        });
    }

    // ------------------------------------------------------------------ updates

    /// @inheritdoc IBftLightClient
    function updateClient(bytes calldata body) external returns (uint64[] memory heights, bytes32[] memory hashes) {
        Codec.Reader memory r = Codec.reader(body);
        bytes calldata chainId = r.chainId();
        uint256 n = r.count(MAX_BLOCKS_PER_UPDATE, MIN_LIGHT_BLOCK_LEN);
        LightBlockView[] memory blocks = new LightBlockView[](n);
        for (uint256 i = 0; i < n; ++i) {
            blocks[i] = _readLightBlock(r);
        }
        r.finish();
        if (n == 0) revert EmptyUpdate();

        bytes32 key = keccak256(chainId);
        uint256 nowMs = _nowMs();
        Client storage c = _requireActive(key, chainId, nowMs);
        (heights, hashes) = _apply(c, key, blocks, nowMs);
        emit ClientUpdated(chainId, heights, hashes);
    }

    /// Verifies `blocks` in order (ClientState::update), then stores the accepted ones and
    /// prunes. Known blocks are looked up among the states kept before the update, as the
    /// Rust client does, so nothing is stored until every block has passed.
    function _apply(Client storage c, bytes32 key, LightBlockView[] memory blocks, uint256 nowMs)
        private
        returns (uint64[] memory heights, bytes32[] memory hashes)
    {
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring = _rings[key];
        uint64 startLatest = c.latestHeight;
        Trusted memory t = _trustedAt(ring[c.head]);
        bytes32 startNextHash = t.nextValidatorsHash;
        uint256 n = blocks.length;
        heights = new uint64[](n);
        hashes = new bytes32[](n);
        bool[] memory accepted = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            LightBlockView memory b = blocks[i];
            heights[i] = b.height;
            hashes[i] = b.headerHash;
            if (b.height <= t.height && b.height <= startLatest && _alreadyKept(c, ring, b)) continue;
            if (!t.haveSet && b.height != uint256(t.height) + 1) {
                t.nextValidators = _storedSet(c);
                t.haveSet = true;
            }
            _verify(c, key, t, b, nowMs);
            accepted[i] = true;
            t.height = b.height;
            t.timeMs = b.timeMs;
            t.headerHash = b.headerHash;
            t.nextValidatorsHash = b.nextValidatorsHash;
            t.nextValidators = b.nextValidators;
            t.haveSet = true;
        }
        for (uint256 i = 0; i < n; ++i) {
            if (accepted[i]) _remember(c, ring, blocks[i]);
        }
        // The trusted set of the next skipping update, rewritten only when it changed.
        if (t.nextValidatorsHash != startNextHash) {
            c.trustedNextValidators = Codec.slice(t.nextValidators.start, t.nextValidators.len);
        }
        _prune(c, ring, nowMs);
    }

    /// Whether `b` is kept already with the same hash (two relayers submitting one update is
    /// harmless); a kept state there with another hash is a conflict.
    function _alreadyKept(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, LightBlockView memory b)
        private
        view
        returns (bool)
    {
        (bool known, ConsensusState storage s) = _find(c, ring, b.height);
        if (!known) return false;
        if (s.headerHash != b.headerHash) revert ConflictingHeader(b.height, s.headerHash, b.headerHash);
        return true;
    }

    /// Stores a verified block's consensus state as the new latest, in the ring entry after
    /// the head (the oldest one when the ring is full).
    function _remember(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, LightBlockView memory b)
        private
    {
        uint256 head = (uint256(c.head) + 1) % KEPT_CONSENSUS_STATES;
        ring[head] = ConsensusState({
            headerHash: b.headerHash,
            stateRoot: b.stateRoot,
            nextValidatorsHash: b.nextValidatorsHash,
            height: b.height,
            timeMs: b.timeMs
        });
        c.head = uint16(head);
        if (c.kept < KEPT_CONSENSUS_STATES) c.kept += 1;
        c.latestHeight = b.height;
    }

    /// Forgets the oldest states while they are older than the trusting period, never the
    /// latest (ClientState::prune_to; the ring already holds at most the newest
    /// KEPT_CONSENSUS_STATES). Heights and times ascend together, so the oldest goes first.
    function _prune(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, uint256 nowMs) private {
        uint256 kept = c.kept;
        uint256 period = c.trustingPeriodMs;
        uint256 oldest = (uint256(c.head) + KEPT_CONSENSUS_STATES + 1 - kept) % KEPT_CONSENSUS_STATES;
        uint256 before = kept;
        while (kept > 1 && uint256(ring[oldest].timeMs) + period <= nowMs) {
            oldest = (oldest + 1) % KEPT_CONSENSUS_STATES;
            kept -= 1;
        }
        if (kept != before) c.kept = uint16(kept);
    }

    /// The kept state at `height`: the head, else a binary search of the kept window.
    function _find(Client storage c, ConsensusState[KEPT_CONSENSUS_STATES] storage ring, uint64 height)
        private
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

    // ------------------------------------------------------------------ misbehaviour

    /// @inheritdoc IBftLightClient
    function submitMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash) {
        Codec.Reader memory r = Codec.reader(body);
        bytes calldata chainId = r.chainId();
        Evidence memory e = _readEvidence(r);
        r.finish();
        evidenceHash = e.hash;

        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (!c.exists) revert UnknownClient(chainId);
        _checkEvidence(c, key, e);
        if (!c.frozen) {
            c.frozen = true;
            c.evidenceHash = evidenceHash;
            emit ClientFrozen(chainId, evidenceHash);
        }
    }

    /// Reads a `Misbehaviour` and hashes its exact bytes.
    function _readEvidence(Codec.Reader memory r) private view returns (Evidence memory e) {
        uint256 start = r.pos;
        e.trustedHeight = r.u64();
        e.trustedSet = _readValidatorSet(r);
        e.first = _readLightBlock(r);
        e.second = _readLightBlock(r);
        e.hash = Codec.taggedHash(MISBEHAVIOUR_TAG, 22, start, r.pos - start);
    }

    /// Misbehaviour::verify from the consensus state at the evidence's trusted height:
    /// the trusted set, the kind of conflict, the chain, then both headers under §7.
    function _checkEvidence(Client storage c, bytes32 key, Evidence memory e) private view {
        (bool known, ConsensusState storage cs) = _find(c, _rings[key], e.trustedHeight);
        if (!known) revert UnknownHeight(e.trustedHeight);
        bytes32 setHash = e.trustedSet.hash;
        if (cs.nextValidatorsHash != setHash) revert TrustedSetMismatch(cs.nextValidatorsHash, setHash);
        LightBlockView memory first = e.first;
        LightBlockView memory second = e.second;
        bytes32 firstChain = _chainKey(first);
        if (firstChain != _chainKey(second)) revert EvidenceChainMismatch();
        if (first.height == second.height) {
            if (first.headerHash == second.headerHash) revert NoConflict();
        } else {
            (LightBlockView memory lower, LightBlockView memory higher) =
                first.height < second.height ? (first, second) : (second, first);
            if (lower.timeMs < higher.timeMs) revert NoConflict();
        }
        if (firstChain != key) revert EvidenceChainMismatch();
        Trusted memory t = Trusted({
            height: e.trustedHeight,
            timeMs: cs.timeMs,
            headerHash: cs.headerHash,
            nextValidatorsHash: setHash,
            haveSet: true,
            nextValidators: e.trustedSet
        });
        uint256 nowMs = _nowMs();
        _verify(c, key, t, first, nowMs);
        _verify(c, key, t, second, nowMs);
    }

    // ------------------------------------------------------------------ verification (§7)

    /// Verifies `b` from `t` at `nowMs`; reverts with the first rule that fails.
    function _verify(Client storage c, bytes32 key, Trusted memory t, LightBlockView memory b, uint256 nowMs)
        private
        view
    {
        // 1. The trusted state is within the trusting period.
        uint256 expiresMs = uint256(t.timeMs) + c.trustingPeriodMs;
        if (expiresMs <= nowMs) revert TrustedStateExpired(t.timeMs, _u64(expiresMs), uint64(nowMs));
        // 2. Chain, height, time, clock drift.
        if (_chainKey(b) != key) revert WrongChain();
        if (b.height <= t.height) revert NonIncreasingHeight(t.height, b.height);
        if (b.timeMs <= t.timeMs) revert NonIncreasingTime(t.timeMs, b.timeMs);
        uint64 drift = c.maxClockDriftMs;
        if (b.timeMs > nowMs + drift) revert HeaderFromFuture(b.timeMs, uint64(nowMs), drift);
        // 3. The block agrees with itself.
        if (b.validatorsHash != b.validators.hash) revert ValidatorSetMismatch(0, b.validatorsHash, b.validators.hash);
        if (b.nextValidatorsHash != b.nextValidators.hash) {
            revert ValidatorSetMismatch(1, b.nextValidatorsHash, b.nextValidators.hash);
        }
        if (b.commitHeight != b.height || b.commitHash != b.headerHash) {
            revert CommitMismatch(b.commitHeight, b.commitHash, b.height, b.headerHash);
        }
        // 4. An adjacent block continues the trusted one.
        bool adjacent = b.height == t.height + 1;
        if (adjacent) {
            if (b.validatorsHash != t.nextValidatorsHash) {
                revert ValidatorSetMismatch(2, t.nextValidatorsHash, b.validatorsHash);
            }
            if (b.parentHash != t.headerHash) revert ParentHashMismatch(t.headerHash, b.parentHash);
        }
        // 5.–7. Signatures, quorum, trust.
        (uint256 signed, uint256 trustedSigned) = _tally(b, adjacent ? _noSet() : t.nextValidators, !adjacent);
        if (3 * signed <= 2 * b.validators.totalPower) {
            revert InsufficientVotingPower(uint64(signed), uint64(b.validators.totalPower));
        }
        if (!adjacent) {
            uint256 total = t.nextValidators.totalPower;
            if (uint256(c.trustDenominator) * trustedSigned <= uint256(c.trustNumerator) * total) {
                revert InsufficientTrust(uint64(trustedSigned), uint64(total));
            }
        }
    }

    /// Rule 5: every signer is a member of the block's set, none twice (checked for all
    /// signatures before any curve arithmetic), then every signature recovers to its signer,
    /// the first bad one in commit order reported. Returns the signers' power in the block's
    /// set and, when `withTrusted`, in the trusted set.
    function _tally(LightBlockView memory b, ValidatorSetView memory trusted, bool withTrusted)
        private
        pure
        returns (uint256 signed, uint256 trustedSigned)
    {
        uint256 n = b.sigCount;
        uint256[] memory seen = new uint256[]((b.validators.count + 255) / 256);
        for (uint256 i = 0; i < n; ++i) {
            address signer = _calldataAddress(b.sigsStart + i * COMMIT_SIG_LEN);
            (bool found, uint256 index, uint256 power) = _find(b.validators, signer);
            if (!found) revert UnknownSigner(signer);
            uint256 word = seen[index >> 8];
            uint256 bit = 1 << (index & 0xff);
            if (word & bit != 0) revert DuplicateSigner(signer);
            seen[index >> 8] = word | bit;
            signed += power;
            if (withTrusted) {
                (bool inTrusted,, uint256 trustedPower) = _find(trusted, signer);
                if (inTrusted) trustedSigned += trustedPower;
            }
        }
        bytes32 digest = b.headerHash;
        for (uint256 i = 0; i < n; ++i) {
            uint256 p = b.sigsStart + i * COMMIT_SIG_LEN;
            address signer = _calldataAddress(p);
            if (!_signatureValid(digest, p + 20, signer)) revert BadSignature(signer);
        }
    }

    /// PROTOCOL.md §4: v ∈ {27, 28}, 1 ≤ r < n, 1 ≤ s ≤ n/2, and ecrecover yields `signer`.
    function _signatureValid(bytes32 digest, uint256 sigAt, address signer) private pure returns (bool) {
        uint256 r;
        uint256 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(sigAt)
            s := calldataload(add(sigAt, 32))
            v := byte(0, calldataload(add(sigAt, 64)))
        }
        if (v != 27 && v != 28) return false;
        if (r == 0 || r >= ORDER || s == 0 || s > HALF_ORDER) return false;
        address recovered = ecrecover(digest, v, bytes32(r), bytes32(s));
        return recovered != address(0) && recovered == signer;
    }

    /// Binary search of `who` in a validated set (addresses strictly ascending).
    function _find(ValidatorSetView memory set, address who)
        private
        pure
        returns (bool found, uint256 index, uint256 power)
    {
        uint256 lo = 0;
        uint256 hi = set.count;
        uint256 base = set.start + 4;
        bool inMemory = set.inMemory;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            uint256 at = base + mid * VALIDATOR_LEN;
            address a = inMemory ? _memoryAddress(at) : _calldataAddress(at);
            if (a == who) {
                uint256 powerAt = at + 53;
                power = inMemory ? _memoryU64(powerAt) : _calldataU64(powerAt);
                return (true, mid, power);
            }
            if (a < who) lo = mid + 1;
            else hi = mid;
        }
        return (false, 0, 0);
    }

    // ------------------------------------------------------------------ decoding

    /// Reads a `LightBlock` = Header ‖ Commit ‖ ValidatorSet ‖ ValidatorSet, hashing the
    /// header and both sets over their exact bytes.
    function _readLightBlock(Codec.Reader memory r) private view returns (LightBlockView memory b) {
        uint256 headerStart = r.pos;
        bytes calldata chainId = r.chainId();
        b.chainIdStart = Codec.offsetOf(chainId);
        b.chainIdLen = chainId.length;
        b.height = r.u64();
        b.timeMs = r.u64();
        b.parentHash = r.hash32();
        b.stateRoot = r.hash32();
        r.take(32); // tx_root: hashed with the header, not read by the rules
        b.validatorsHash = r.hash32();
        b.nextValidatorsHash = r.hash32();
        r.take(20); // proposer
        b.headerHash = Codec.taggedHash(HEADER_TAG, 16, headerStart, r.pos - headerStart);
        b.commitHeight = r.u64();
        b.commitHash = r.hash32();
        b.sigCount = r.count(MAX_VALIDATORS, COMMIT_SIG_LEN);
        b.sigsStart = r.take(b.sigCount * COMMIT_SIG_LEN);
        b.validators = _readValidatorSet(r);
        b.nextValidators = _sameBytes(b.validators, r) ? _skipSame(b.validators, r) : _readValidatorSet(r);
    }

    /// Reads and validates a `ValidatorSet`: 1–1024 members, addresses strictly ascending,
    /// every power ≥ 1, total ≤ 2^60; and hashes it.
    function _readValidatorSet(Codec.Reader memory r) private view returns (ValidatorSetView memory set) {
        set.start = r.pos;
        uint256 n = r.count(MAX_VALIDATORS, VALIDATOR_LEN);
        if (n == 0) revert Codec.InvalidValue("validator set");
        uint256 first = r.take(n * VALIDATOR_LEN);
        uint256 total;
        address previous;
        for (uint256 i = 0; i < n; ++i) {
            uint256 at = first + i * VALIDATOR_LEN;
            address a = _calldataAddress(at);
            uint256 power = _calldataU64(at + 53);
            if ((i > 0 && a <= previous) || power == 0) revert Codec.InvalidValue("validator set");
            total += power;
            previous = a;
        }
        if (total > MAX_TOTAL_POWER) revert Codec.InvalidValue("validator set");
        set.len = r.pos - set.start;
        set.count = n;
        set.totalPower = total;
        set.hash = Codec.taggedHash(VALSET_TAG, 16, set.start, set.len);
    }

    /// Whether the bytes at the reader start with exactly `set`'s encoding (a block whose
    /// next set is its own set, the common case: validated and hashed once).
    function _sameBytes(ValidatorSetView memory set, Codec.Reader memory r) private pure returns (bool same) {
        uint256 len = set.len;
        if (r.end - r.pos < len) return false;
        uint256 a = set.start;
        uint256 b = r.pos;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, a, len)
            let ha := keccak256(ptr, len)
            calldatacopy(ptr, b, len)
            same := eq(ha, keccak256(ptr, len))
        }
    }

    /// The view of an identical copy of `set` at the reader, which it skips.
    function _skipSame(ValidatorSetView memory set, Codec.Reader memory r)
        private
        pure
        returns (ValidatorSetView memory copy)
    {
        copy = ValidatorSetView({
            start: r.take(set.len),
            len: set.len,
            count: set.count,
            totalPower: set.totalPower,
            hash: set.hash,
            inMemory: false
        });
    }

    /// The latest next set from storage, as a memory view (for a skipping first block).
    function _storedSet(Client storage c) private view returns (ValidatorSetView memory set) {
        bytes memory encoded = c.trustedNextValidators;
        uint256 start;
        uint256 n;
        assembly ("memory-safe") {
            start := add(encoded, 32)
            n := shr(224, mload(start))
        }
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            total += _memoryU64(start + 4 + i * VALIDATOR_LEN + 53);
        }
        set = ValidatorSetView({
            start: start,
            len: encoded.length,
            count: n,
            totalPower: total,
            hash: bytes32(0),
            inMemory: true
        });
    }

    function _noSet() private pure returns (ValidatorSetView memory set) {}

    // ------------------------------------------------------------------ queries

    /// @inheritdoc IBftLightClient
    function verifyMembership(
        bytes calldata chainId,
        uint64 height,
        bytes calldata path,
        bytes calldata value,
        bytes calldata proof
    ) external view returns (bool) {
        (, bytes32 root) = _provenState(chainId, height);
        return StateProofs.verify(root, Codec.sha256Of(path), true, Codec.sha256Of(value), proof)
            == StateProofs.Result.Valid;
    }

    /// @inheritdoc IBftLightClient
    function verifyNonMembership(bytes calldata chainId, uint64 height, bytes calldata path, bytes calldata proof)
        external
        view
        returns (bool)
    {
        (, bytes32 root) = _provenState(chainId, height);
        return StateProofs.verify(root, Codec.sha256Of(path), false, bytes32(0), proof) == StateProofs.Result.Valid;
    }

    /// @inheritdoc IBftLightClient
    function provenState(bytes calldata chainId, uint64 height)
        external
        view
        returns (uint64 timeMs, bytes32 stateRoot)
    {
        return _provenState(chainId, height);
    }

    /// @inheritdoc IBftLightClient
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
        return (true, s.timeMs, s.headerHash, s.stateRoot);
    }

    /// @inheritdoc IBftLightClient
    function clientState(bytes calldata chainId, uint64 height) external view returns (bytes memory) {
        bytes32 key = keccak256(chainId);
        Client storage c = _clients[key];
        if (!c.exists) revert UnknownClient(chainId);
        if (c.frozen) revert FrozenClient(chainId);
        ConsensusState[KEPT_CONSENSUS_STATES] storage ring = _rings[key];
        (bool haveLatest, ConsensusState storage latest) = _find(c, ring, c.latestHeight);
        if (!haveLatest) revert UnknownHeight(c.latestHeight);
        bytes memory entries = _entry(latest);
        uint32 count = 1;
        if (height != 0 && height < c.latestHeight) {
            (bool known, ConsensusState storage at) = _find(c, ring, height);
            if (known) {
                entries = abi.encodePacked(_entry(at), entries);
                count = 2;
            }
        }
        return abi.encodePacked(
            uint32(chainId.length),
            chainId,
            c.trustNumerator,
            c.trustDenominator,
            c.trustingPeriodMs,
            c.maxClockDriftMs,
            c.latestHeight,
            c.trustedNextValidators,
            count,
            entries,
            uint8(0)
        );
    }

    /// One consensus-state entry of the canonical `ClientState` (PROTOCOL.md §9.3).
    function _entry(ConsensusState storage s) private view returns (bytes memory) {
        return abi.encodePacked(s.height, s.timeMs, s.headerHash, s.stateRoot, s.nextValidatorsHash);
    }

    /// @inheritdoc IBftLightClient
    function latestHeight(bytes calldata chainId) external view returns (uint64) {
        return _clients[keccak256(chainId)].latestHeight;
    }

    /// @inheritdoc IBftLightClient
    function isFrozen(bytes calldata chainId) external view returns (bool) {
        return _clients[keccak256(chainId)].frozen;
    }

    function _provenState(bytes calldata chainId, uint64 height) private view returns (uint64, bytes32) {
        bytes32 key = keccak256(chainId);
        Client storage c = _requireActive(key, chainId, _nowMs());
        (bool known, ConsensusState storage s) = _find(c, _rings[key], height);
        if (!known) revert UnknownHeight(height);
        return (s.timeMs, s.stateRoot);
    }

    /// The client, if it exists, is not frozen and its latest state is within the period.
    function _requireActive(bytes32 key, bytes calldata chainId, uint256 nowMs)
        private
        view
        returns (Client storage c)
    {
        c = _clients[key];
        if (!c.exists) revert UnknownClient(chainId);
        if (c.frozen) revert FrozenClient(chainId);
        uint64 latestMs = _rings[key][c.head].timeMs;
        if (uint256(latestMs) + c.trustingPeriodMs <= nowMs) revert ClientExpired(latestMs, uint64(nowMs));
    }

    function _trustedAt(ConsensusState storage s) private view returns (Trusted memory t) {
        t.height = s.height;
        t.timeMs = s.timeMs;
        t.headerHash = s.headerHash;
        t.nextValidatorsHash = s.nextValidatorsHash;
    }

    // ------------------------------------------------------------------ low-level reads

    function _nowMs() private view returns (uint256) {
        return block.timestamp * 1000;
    }

    function _chainKey(LightBlockView memory b) private pure returns (bytes32 h) {
        uint256 start = b.chainIdStart;
        uint256 len = b.chainIdLen;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, start, len)
            h := keccak256(ptr, len)
        }
    }

    function _u64(uint256 v) private pure returns (uint64) {
        return v > type(uint64).max ? type(uint64).max : uint64(v);
    }

    function _calldataAddress(uint256 at) private pure returns (address a) {
        assembly ("memory-safe") {
            a := shr(96, calldataload(at))
        }
    }

    function _calldataU64(uint256 at) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(192, calldataload(at))
        }
    }

    function _memoryAddress(uint256 at) private pure returns (address a) {
        assembly ("memory-safe") {
            a := shr(96, mload(at))
        }
    }

    function _memoryU64(uint256 at) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(192, mload(at))
        }
    }
}
