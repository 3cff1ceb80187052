// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Light client of xrelay BFT chains (the devchain), as an EVM contract.
/// @notice Follows other chains' signed headers (docs/PROTOCOL.md §7), freezes on proven
/// misbehaviour (§8) and checks state proofs (§5) against the state roots of verified
/// headers. Every byte argument is the canonical encoding of PROTOCOL.md §1–§2, the same
/// bytes the devchain's relay transactions carry (§9.2), so one Rust encoder serves both
/// chains. "Now" is `block.timestamp * 1000` milliseconds.
interface IBftLightClient {
    // ---- Client lifecycle and storage ----
    /// @notice Only governance may create and reset clients or hand the role on.
    error NotGovernance(address caller);
    /// @notice Governance cannot be handed to the zero address.
    error ZeroGovernance();
    /// @notice `createClient` for a chain that already has a client.
    error ClientExists(bytes chainId);
    /// @notice No client of this chain.
    error UnknownClient(bytes chainId);
    /// @notice Misbehaviour froze the client; only a reset helps.
    error FrozenClient(bytes chainId);
    /// @notice The latest trusted header is older than the trusting period; only a reset helps.
    error ClientExpired(uint64 latestTimeMs, uint64 nowMs);
    /// @notice The trust options break [1/3, 1) or have a zero trusting period.
    error InvalidTrustOptions();
    /// @notice An update carries no light block.
    error EmptyUpdate();
    /// @notice A block at a height the client keeps, with another hash.
    error ConflictingHeader(uint64 height, bytes32 trusted, bytes32 found);
    /// @notice No consensus state at that height (never verified, or pruned).
    error UnknownHeight(uint64 height);

    // ---- Header verification, docs/PROTOCOL.md §7, in rule order ----
    /// @notice Rule 1: trusted time + trusting period is not after now.
    error TrustedStateExpired(uint64 trustedMs, uint64 expiresMs, uint64 nowMs);
    /// @notice Rule 2: the header names another chain.
    error WrongChain();
    /// @notice Rule 2: the header is not above the trusted height.
    error NonIncreasingHeight(uint64 trusted, uint64 untrusted);
    /// @notice Rule 2: the header's time is not after the trusted time.
    error NonIncreasingTime(uint64 trustedMs, uint64 untrustedMs);
    /// @notice Rule 2: the header's time is beyond now + the allowed clock drift.
    error HeaderFromFuture(uint64 headerMs, uint64 nowMs, uint64 maxClockDriftMs);
    /// @notice Rules 3 and 4: a set does not hash to what is committed. `field`: 0 the
    /// header's validators_hash, 1 its next_validators_hash, 2 the trusted next set (adjacent).
    error ValidatorSetMismatch(uint8 field, bytes32 expected, bytes32 found);
    /// @notice Rule 3: the commit is for another height or header.
    error CommitMismatch(uint64 commitHeight, bytes32 commitHash, uint64 headerHeight, bytes32 headerHash);
    /// @notice Rule 4: an adjacent header does not point at the trusted header.
    error ParentHashMismatch(bytes32 expected, bytes32 found);
    /// @notice Rule 5: a signature names a signer outside the header's validator set.
    error UnknownSigner(address signer);
    /// @notice Rule 5: one validator signs twice.
    error DuplicateSigner(address signer);
    /// @notice Rule 5: a signature does not authenticate its signer (PROTOCOL.md §4).
    error BadSignature(address signer);
    /// @notice Rule 6: not more than 2/3 of the header's own set signed.
    error InsufficientVotingPower(uint64 signed, uint64 total);
    /// @notice Rule 7: a skipping header is not signed by more than the trust threshold of
    /// the trusted set (not an attack by itself: the relayer bisects).
    error InsufficientTrust(uint64 signed, uint64 total);

    // ---- Misbehaviour, §8 ----
    /// @notice The evidence's trusted set does not hash to the trusted state's next set.
    error TrustedSetMismatch(bytes32 expected, bytes32 found);
    /// @notice The two headers are for different chains, or not for the client's chain.
    error EvidenceChainMismatch();
    /// @notice The two headers do not conflict (same header, or consistent heights and times).
    error NoConflict();

    /// @notice Light blocks were verified and their consensus states stored (one entry per
    /// block of the update, in order; a block already known with the same hash is listed too).
    event ClientUpdated(bytes chainId, uint64[] heights, bytes32[] hashes);
    /// @notice Misbehaviour evidence was accepted: the client refuses every update and proof
    /// until governance resets it. `evidenceHash` = SHA-256("xrelay.misbehaviour.v1" ‖ evidence).
    event ClientFrozen(bytes chainId, bytes32 evidenceHash);
    /// @notice Governance created a client trusting `height` of `chainId`.
    event ClientCreated(bytes chainId, uint64 height);
    /// @notice Governance replaced a client's whole state with a new trusted state.
    event ClientReset(bytes chainId, uint64 height);
    /// @notice The governance role moved to another account.
    event GovernanceTransferred(address indexed previous, address indexed next);

    /// @notice Creates the client of `TrustedState.chain_id` (governance only).
    /// @param trustedState `ChainId ‖ u64 height ‖ u64 time_ms ‖ hash32 header_hash ‖
    /// hash32 state_root ‖ ValidatorSet next_validators`
    /// @param trustOptions `u64 numerator ‖ u64 denominator ‖ u64 trusting_period_ms ‖
    /// u64 max_clock_drift_ms`, threshold in [1/3, 1), period > 0
    function createClient(bytes calldata trustedState, bytes calldata trustOptions) external;

    /// @notice Replaces an existing client's state (unfreezes, revives an expired client;
    /// governance only). Same encodings as `createClient`; every consensus state is forgotten.
    function resetClient(bytes calldata trustedState, bytes calldata trustOptions) external;

    /// @notice Verifies light blocks in order, each from the one before (the first from the
    /// latest trusted state), and stores them all, or reverts with the first failure.
    /// @param body `ChainId ‖ seq<LightBlock>` (1–256 blocks): the devchain's tag-1 body
    /// @return heights the height of each block in `body`, in order
    /// @return hashes the header hash of each block in `body`, in order
    function updateClient(bytes calldata body)
        external
        returns (uint64[] memory heights, bytes32[] memory hashes);

    /// @notice Checks misbehaviour evidence against the consensus state at its trusted height
    /// and freezes the client (evidence against a frozen client is checked but not kept).
    /// @param body `ChainId ‖ Misbehaviour`: the devchain's tag-5 body
    /// @return evidenceHash SHA-256("xrelay.misbehaviour.v1" ‖ Misbehaviour)
    function submitMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash);

    /// @notice Whether `path` held `value` in `chainId`'s state after the verified header at
    /// `height`. False when the proof does not show it; reverts when the client is unknown,
    /// frozen or expired, the height is not kept, or `proof` is not a valid `StateProof`
    /// encoding.
    function verifyMembership(
        bytes calldata chainId,
        uint64 height,
        bytes calldata path,
        bytes calldata value,
        bytes calldata proof
    ) external view returns (bool);

    /// @notice Whether `path` was absent from `chainId`'s state after the verified header at
    /// `height`. Same failure rules as `verifyMembership`.
    function verifyNonMembership(
        bytes calldata chainId,
        uint64 height,
        bytes calldata path,
        bytes calldata proof
    ) external view returns (bool);

    /// @notice The time and state root of the verified header at `height`, for a caller that
    /// checks many proofs itself (StateProofs library) against one root. Reverts unless the
    /// client is active (exists, not frozen, not expired) and keeps that height.
    function provenState(bytes calldata chainId, uint64 height)
        external
        view
        returns (uint64 timeMs, bytes32 stateRoot);

    /// @notice What the client keeps of the header at `height` (`exists` false if nothing),
    /// whatever the client's status.
    function consensusState(bytes calldata chainId, uint64 height)
        external
        view
        returns (bool exists, uint64 timeMs, bytes32 headerHash, bytes32 stateRoot);

    /// @notice The client as the canonical `ClientState` of PROTOCOL.md §9.3, trimmed to the
    /// latest consensus state and the one at `height` (if kept; 0 for the latest only):
    /// what a relayer computes the next update path from. Reverts for an unknown or frozen
    /// client.
    function clientState(bytes calldata chainId, uint64 height) external view returns (bytes memory);

    /// @notice Height of the newest verified header (0 if there is no such client).
    function latestHeight(bytes calldata chainId) external view returns (uint64);

    /// @notice Whether misbehaviour froze the client.
    function isFrozen(bytes calldata chainId) external view returns (bool);

    /// @notice The account allowed to create and reset clients.
    function governance() external view returns (address);

    /// @notice Hands the governance role to `next` (governance only; not the zero address).
    function transferGovernance(address next) external;
}
