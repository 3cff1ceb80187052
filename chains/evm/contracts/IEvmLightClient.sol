// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Light client of EVM chains (QBFT, IBFT 2.0, Clique, attested dev nodes), as an
/// EVM contract.
/// @notice The rules of the Rust `EvmClientState` (docs/PROTOCOL.md §11–§12), plus a
/// trusting period (§12.6). Byte arguments are the canonical encodings of PROTOCOL.md: the
/// create arguments are an `EvmClientState` followed by the trust parameters, an update is
/// the devchain's tag-6 body and evidence an `EvmMisbehaviour` after the chain id, so one
/// Rust encoder serves both chain families. The views a Gateway reads (`provenState`,
/// `consensusState`, `latestHeight`, `isFrozen`) have `IBftLightClient`'s signatures.
/// "Now" is `block.timestamp * 1000` milliseconds.
interface IEvmLightClient {
    // ---- Client lifecycle ----
    /// @notice Only governance may create and reset clients or hand the role on.
    error NotGovernance(address caller);
    /// @notice Governance cannot be handed to the zero address.
    error ZeroGovernance();
    /// @notice `createClient` for a chain that already has a client.
    error ClientExists(bytes chainId);
    /// @notice No client of this chain.
    error UnknownClient(bytes chainId);
    /// @notice Misbehaviour froze the client; only a reset helps (`EvmClientError::Frozen`).
    error FrozenClient(bytes chainId);
    /// @notice The latest trusted block is older than the trusting period; only a reset helps.
    error ClientExpired(uint64 latestTimeMs, uint64 nowMs);
    /// @notice The trusting period is zero.
    error InvalidTrustOptions();
    /// @notice A client cannot be created frozen.
    error FrozenSetup();
    /// @notice An update body carries no update.
    error EmptyUpdate();

    // ---- Updates, PROTOCOL.md §12.5, one error per `EvmClientError` ----
    /// @notice The update's kind does not fit the client's mode (`ModeMismatch`; `mode` 0
    /// QBFT, 1 IBFT 2.0, 2 Clique, 3 attestation; `found` 0 headers, 1 attestation).
    error ModeMismatch(uint8 mode, uint8 found);
    /// @notice A header update without headers (`HeaderCount`).
    error HeaderCount(uint256 count, uint256 max);
    /// @notice An attestation for another chain (`WrongChain`).
    error WrongChain(bytes found);
    /// @notice A block at or below the latest height the client does not hold (`NotNewer`).
    error NotNewer(uint64 height, uint64 latest);
    /// @notice A header not at the trusted height + 1 (`NotAdjacent`).
    error NotAdjacent(uint64 expectedParent, uint64 found);
    /// @notice A header whose parent is not the trusted block (`ParentMismatch`).
    error ParentMismatch(uint64 height, bytes32 expected, bytes32 found);
    /// @notice Block time went backwards (`TimeDecreased`).
    error TimeDecreased(uint64 height, uint64 timeMs, uint64 latestMs);
    /// @notice A timestamp beyond any millisecond time (`TimeOverflow`).
    error TimeOverflow(uint64 height);
    /// @notice A header hands on more than 1,024 validators (`BadValidatorSet`).
    error BadValidatorSet(uint64 height);
    /// @notice A signature names a non-member (`AttestError::UnknownAttester`).
    error UnknownAttester(uint256 index, address attester);
    /// @notice Two signatures name one member (`AttestError::DuplicateAttester`).
    error DuplicateAttester(uint256 index, address attester);
    /// @notice A signature does not authenticate its member (`AttestError::BadSignature`;
    /// `why`: 0 v not 27/28, 1 r or s out of range, 2 high s, 3 unrecoverable, 4 another
    /// signer, `recovered`).
    error BadAttesterSignature(uint256 index, address attester, uint8 why, address recovered);
    /// @notice Fewer member signatures than the quorum (`AttestError::BelowQuorum`).
    error BelowQuorum(uint256 signed, uint256 quorum);
    /// @notice A verified block differs from the one held at its height (`ConflictingHeader`).
    error ConflictingHeader(uint64 height, bytes32 trusted, bytes32 found);
    /// @notice No block held at that height (`UnknownHeight`).
    error UnknownHeight(uint64 height);
    /// @notice Solidity only (§12.6): a block's time is beyond now + the allowed clock drift.
    error HeaderFromFuture(uint64 headerMs, uint64 nowMs, uint64 maxClockDriftMs);

    // ---- Misbehaviour, PROTOCOL.md §12.7, one error per `EvmMisbehaviourError` ----
    /// @notice The two blocks of the evidence are at different heights.
    error EvidenceHeightMismatch(uint64 first, uint64 second);
    /// @notice The evidence shows no conflict (same block, or nothing different held).
    error NoConflict(uint64 height);
    /// @notice Clique evidence sealed by two different signers.
    error EvidenceSealersDiffer(address first, address second);

    /// @notice Blocks became trusted (each block the update newly trusts, in order).
    event ClientUpdated(bytes chainId, uint64[] heights, bytes32[] hashes);
    /// @notice Evidence was accepted: the client refuses every update and proof until
    /// governance resets it. `evidenceHash` = SHA-256("xrelay.evm-misbehaviour.v1" ‖ evidence).
    event ClientFrozen(bytes chainId, bytes32 evidenceHash);
    /// @notice Governance created a client trusting `height` of `chainId`.
    event ClientCreated(bytes chainId, uint64 height);
    /// @notice Governance replaced a client's whole state.
    event ClientReset(bytes chainId, uint64 height);
    /// @notice The governance role moved to another account.
    event GovernanceTransferred(address indexed previous, address indexed next);

    /// @notice Creates the client of the state's chain (governance only).
    /// @param args `EvmClientState` (PROTOCOL.md §12.4, not frozen) ‖ `u64 trusting_period_ms`
    /// (> 0) ‖ `u64 max_clock_drift_ms`
    function createClient(bytes calldata args) external;

    /// @notice Replaces an existing client's whole state (unfreezes, revives an expired
    /// client; governance only). Same layout as `createClient`.
    function resetClient(bytes calldata args) external;

    /// @notice Applies updates in order (§12.5), all or nothing.
    /// @param body `ChainId ‖ seq<EvmUpdate>` (1–16): the devchain's tag-6 body
    /// @return heights the height of each block newly trusted, in order
    /// @return hashes its block hash
    function updateClient(bytes calldata body)
        external
        returns (uint64[] memory heights, bytes32[] memory hashes);

    /// @notice Checks evidence (§12.7) against the client's trusted validators or
    /// committee and freezes the client (evidence against a frozen client is checked, the
    /// first evidence kept).
    /// @param body `ChainId ‖ EvmMisbehaviour`
    /// @return evidenceHash SHA-256("xrelay.evm-misbehaviour.v1" ‖ EvmMisbehaviour)
    function submitMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash);

    /// @notice The time and state root of the block trusted at `height`. Reverts unless the
    /// client is active (exists, not frozen, not expired) and holds that height.
    function provenState(bytes calldata chainId, uint64 height)
        external
        view
        returns (uint64 timeMs, bytes32 stateRoot);

    /// @notice What the client holds at `height` (`exists` false if nothing), whatever its
    /// status; `headerHash` is the chain's block hash.
    function consensusState(bytes calldata chainId, uint64 height)
        external
        view
        returns (bool exists, uint64 timeMs, bytes32 headerHash, bytes32 stateRoot);

    /// @notice The client as the canonical `EvmClientState` (PROTOCOL.md §12.4), trimmed to
    /// the latest consensus state and the one at `height` (if held; 0 for the latest only):
    /// what a relayer builds the next update from. Reverts for an unknown or frozen client.
    function clientState(bytes calldata chainId, uint64 height) external view returns (bytes memory);

    /// @notice The source chain's Gateway, whose storage the client's state roots prove.
    /// Reverts for an unknown client.
    function counterpartyGateway(bytes calldata chainId) external view returns (address);

    /// @notice Seal modes: the trusted validators after the latest block (ascending);
    /// attestation mode: the committee. Reverts for an unknown client.
    function trustedValidators(bytes calldata chainId) external view returns (address[] memory);

    /// @notice The trusting period and the allowed clock drift, in milliseconds. Reverts
    /// for an unknown client.
    function trustParameters(bytes calldata chainId)
        external
        view
        returns (uint64 trustingPeriodMs, uint64 maxClockDriftMs);

    /// @notice Height of the newest trusted block (0 if there is no such client).
    function latestHeight(bytes calldata chainId) external view returns (uint64);

    /// @notice Whether evidence froze the client.
    function isFrozen(bytes calldata chainId) external view returns (bool);

    /// @notice The account allowed to create and reset clients.
    function governance() external view returns (address);

    /// @notice Hands the governance role to `next` (governance only; not the zero address).
    function transferGovernance(address next) external;
}
