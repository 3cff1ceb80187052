// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Light client of EVM chains (provisional: what the Gateway calls).
interface IEvmLightClient {
    function updateClient(bytes calldata body) external returns (uint64[] memory heights, bytes32[] memory hashes);
    function submitMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash);
    function verifyPath(
        bytes calldata chainId,
        uint64 height,
        bytes32 pathHash,
        bool membership,
        bytes32 valueHash,
        bytes calldata proof
    ) external view returns (uint8 result);
    function consensusState(bytes calldata chainId, uint64 height)
        external
        view
        returns (bool exists, uint64 timeMs, bytes32 blockHash, bytes32 stateRoot);
    function latestHeight(bytes calldata chainId) external view returns (uint64);
}
