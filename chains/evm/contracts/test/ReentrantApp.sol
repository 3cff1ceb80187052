// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IApp, IGateway} from "../apps/IApp.sol";

/// @title A hostile app, for tests only
/// @notice Tries to re-enter the Gateway from its callbacks with a relay body it was armed
/// with (`arm`), and records what happened: whether the re-entry went through or the revert
/// data it got, and what the Gateway's state showed while the callback ran (is the message
/// already received, the lane already moved?). Never registered outside tests.
contract ReentrantApp is IApp {
    /// @notice The Gateway this app is registered with.
    address public immutable gateway;

    /// @notice The Gateway call to re-enter with (`Gateway.recv/acknowledge/timeout` or a
    /// send, ABI-encoded); consumed by the first callback that uses it.
    bytes public armed;
    /// @notice Whether a re-entry was tried.
    bool public tried;
    /// @notice Whether it succeeded.
    bool public succeeded;
    /// @notice The revert data of a failed re-entry.
    bytes public revertData;
    /// @notice `onReceive` calls that ran to the end.
    uint256 public received;
    /// @notice During the last `onReceive`: the Gateway's next expected sequence from the
    /// source and its provable receipt value of the message (zero if not written yet).
    uint64 public seenNextRecv;
    bytes32 public seenReceipt;
    /// @notice Reply with a send from `onReceive` (allowed by the Gateway).
    bool public replies;
    /// @notice The sequence of that reply.
    uint64 public replySequence;

    /// @param gateway_ the Gateway this app is registered with
    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @notice Sets the call made from the next callback (`call` is ABI-encoded calldata
    /// for the Gateway), and whether `onReceive` replies with a send.
    function arm(bytes calldata call, bool replies_) external {
        armed = call;
        replies = replies_;
        tried = false;
        succeeded = false;
        delete revertData;
    }

    /// @inheritdoc IApp
    function onSend(address, bytes calldata, bytes calldata) external {
        _reenter();
    }

    /// @inheritdoc IApp
    function onReceive(bytes calldata source, uint64 sequence, bytes calldata, bytes calldata)
        external
        returns (bytes memory)
    {
        (, bytes memory next) = gateway.staticcall(abi.encodeWithSignature("nextRecv(bytes)", source));
        seenNextRecv = abi.decode(next, (uint64));
        bytes memory path = abi.encodePacked("receipts/", source, "/", _decimal(sequence));
        (, bytes memory receipt) = gateway.staticcall(abi.encodeWithSignature("provableAt(bytes)", path));
        seenReceipt = abi.decode(receipt, (bytes32));
        _reenter();
        if (replies) {
            replies = false;
            replySequence = IGateway(gateway).sendFromApp(address(this), source, 0, type(uint64).max, "reply");
        }
        received += 1;
        return "";
    }

    /// @inheritdoc IApp
    function onAcknowledge(bytes calldata, uint64, bytes calldata, bool, bytes calldata) external {
        _reenter();
    }

    /// @inheritdoc IApp
    function onTimeout(bytes calldata, uint64, bytes calldata) external {
        _reenter();
    }

    function _reenter() private {
        if (armed.length == 0) return;
        bytes memory call = armed;
        delete armed;
        tried = true;
        (succeeded, revertData) = gateway.call(call);
    }

    function _decimal(uint256 v) private pure returns (bytes memory out) {
        if (v == 0) return "0";
        uint256 digits;
        for (uint256 t = v; t != 0; t /= 10) digits++;
        out = new bytes(digits);
        for (uint256 i = digits; i > 0; i--) {
            out[i - 1] = bytes1(uint8(48 + (v % 10)));
            v /= 10;
        }
    }
}
