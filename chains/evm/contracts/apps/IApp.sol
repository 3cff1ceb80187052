// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The callbacks of an app that sends and receives xrelay messages through the
/// Gateway (the EVM twin of the devchain's `App` trait). Only the Gateway calls them. An app
/// is addressed by the name it is registered under; messages name the app on the
/// destination (`receiver`), and the same name on the source settles acks and timeouts.
/// When the Gateway calls back, the item is already recorded (receipt and lane counter, or
/// the settled outcome); from `onReceive`, `onAcknowledge` and `onTimeout` an app may send
/// (`sendFromApp`) but not enter `recv`, `acknowledge` or `timeout`, and from `onSend` it
/// may enter none of them nor send: the Gateway reverts with `Reentered`.
interface IApp {
    /// @notice Source chain, inside the send: validate the payload and take what the message
    /// carries (escrow, burn). A revert refuses the send.
    /// @param sender the account sending (the caller of the Gateway, or the user an app
    /// sends for)
    function onSend(address sender, bytes calldata destination, bytes calldata payload) external;

    /// @notice Destination chain: act on the message. The returned bytes become a success
    /// acknowledgement; a revert becomes an error acknowledgement (its text is the revert
    /// reason) and none of the app's writes are kept.
    function onReceive(bytes calldata source, uint64 sequence, bytes calldata sender, bytes calldata payload)
        external
        returns (bytes memory result);

    /// @notice Source chain, once the acknowledgement is proven: an error acknowledgement
    /// means undo what `onSend` took. A revert fails the whole acknowledge transaction.
    /// @param result the success result, or the error text when `success` is false
    function onAcknowledge(
        bytes calldata destination,
        uint64 sequence,
        bytes calldata payload,
        bool success,
        bytes calldata result
    ) external;

    /// @notice Source chain, once the timeout is proven: undo what `onSend` took.
    function onTimeout(bytes calldata destination, uint64 sequence, bytes calldata payload) external;
}

/// @notice What apps need from the Gateway.
interface IGateway {
    /// @notice This chain's id (canonical `ChainId` bytes, without length prefix).
    function chainId() external view returns (bytes memory);

    /// @notice Sends `payload` to the app of the same name on `destination` on behalf of
    /// `sender`, which the calling app vouches for. Callable only by a registered app; the
    /// Gateway calls the app's `onSend` first, exactly as for a direct send.
    function sendFromApp(
        address sender,
        bytes calldata destination,
        uint64 timeoutHeight,
        uint64 timeoutTimeMs,
        bytes calldata payload
    ) external returns (uint64 sequence);
}
