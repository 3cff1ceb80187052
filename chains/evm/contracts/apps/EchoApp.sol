// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IApp} from "./IApp.sol";

/// @title echo
/// @notice Acknowledges every message with the SHA-256 of its payload, so a sender can check
/// end to end that the destination saw exactly its bytes (the devchain's `echo`, same ack).
contract EchoApp is IApp {
    /// @notice The only caller of the callbacks.
    address public immutable gateway;

    /// @notice A callback came from someone other than the Gateway.
    error NotGateway(address caller);

    modifier onlyGateway() {
        if (msg.sender != gateway) revert NotGateway(msg.sender);
        _;
    }

    /// @param gateway_ the Gateway this app is registered with
    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @inheritdoc IApp
    function onSend(address, bytes calldata, bytes calldata) external view onlyGateway {}

    /// @inheritdoc IApp
    function onReceive(bytes calldata, uint64, bytes calldata, bytes calldata payload)
        external
        view
        onlyGateway
        returns (bytes memory)
    {
        return abi.encodePacked(sha256(payload));
    }

    /// @inheritdoc IApp
    function onAcknowledge(bytes calldata, uint64, bytes calldata, bool, bytes calldata) external view onlyGateway {}

    /// @inheritdoc IApp
    function onTimeout(bytes calldata, uint64, bytes calldata) external view onlyGateway {}
}
