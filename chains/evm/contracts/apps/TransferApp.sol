// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IApp, IGateway} from "./IApp.sol";

/// @title transfer
/// @notice Fungible tokens across chains (docs/PROTOCOL.md §9.4, the devchain's `transfer`).
/// Sending a token native here (or a voucher of a third chain) escrows it per destination;
/// the destination mints the voucher `v/{source}/{denom}`. Sending a voucher back to the
/// chain it came from burns it here, and that chain releases the escrow. An error ack or a
/// timeout gives the sender back what the send took. So for every token, the escrow on its
/// home chain equals the vouchers outstanding elsewhere plus what is in flight.
/// @dev Denominations are bytes (1–128 of `[A-Za-z0-9._/-]`, no empty `/` segment); amounts
/// are `u128` as in the payload. Reverts carry readable reasons: on receive they become the
/// error acknowledgement's text.
contract TransferApp is IApp {
    /// @notice The Gateway: the only caller of the callbacks, and where sends go.
    IGateway public immutable gateway;
    /// @notice The account that mints genesis funds (the deployer).
    address public immutable governance;

    /// Longest denomination.
    uint256 private constant MAX_DENOM_LEN = 128;

    /// This chain's id (for vouchers coming home).
    bytes private chainId;
    /// Balances by `keccak256(denom)` and account.
    mapping(bytes32 => mapping(address => uint256)) private balances;
    /// Tokens of a denomination that exist on this chain, escrow included.
    mapping(bytes32 => uint256) private supplies;
    /// Escrow by `keccak256(counterparty)` and `keccak256(denom)`.
    mapping(bytes32 => mapping(bytes32 => uint256)) private escrows;

    /// @notice Tokens moved between accounts here.
    event Paid(address indexed from, address indexed to, bytes denom, uint128 amount);
    /// @notice Governance created tokens (genesis funds).
    event Minted(address indexed to, bytes denom, uint128 amount);

    /// @notice A callback came from someone other than the Gateway.
    error NotGateway(address caller);
    /// @notice Only governance mints.
    error NotGovernance(address caller);

    modifier onlyGateway() {
        if (msg.sender != address(gateway)) revert NotGateway(msg.sender);
        _;
    }

    /// @param gateway_ the Gateway this app is registered with (as `transfer`)
    constructor(IGateway gateway_) {
        gateway = gateway_;
        governance = msg.sender;
        chainId = gateway_.chainId();
    }

    // ---------------------------------------------------------------- views

    /// @notice Balance of `account` in `denom`.
    function balanceOf(bytes calldata denom, address account) external view returns (uint128) {
        return uint128(balances[keccak256(denom)][account]);
    }

    /// @notice Tokens of `denom` that exist on this chain (balances and escrow together).
    function supplyOf(bytes calldata denom) external view returns (uint128) {
        return uint128(supplies[keccak256(denom)]);
    }

    /// @notice What is escrowed here for `counterparty` in `denom`.
    function escrowOf(bytes calldata counterparty, bytes calldata denom) external view returns (uint128) {
        return uint128(escrows[keccak256(counterparty)][keccak256(denom)]);
    }

    // ---------------------------------------------------------------- accounts

    /// @notice Creates `amount` of `denom` for `to` (governance: genesis funds).
    function mint(address to, bytes calldata denom, uint128 amount) external {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        _checkDenom(denom);
        require(amount > 0, "bad payload: zero amount");
        _mint(denom, to, amount);
        emit Minted(to, denom, amount);
    }

    /// @notice Moves `amount` of `denom` from the caller to `to` on this chain.
    function pay(address to, bytes calldata denom, uint128 amount) external {
        _checkDenom(denom);
        _debit(denom, msg.sender, amount);
        _credit(denom, to, amount);
        emit Paid(msg.sender, to, denom, amount);
    }

    /// @notice Sends `amount` of `denom` to `receiver` on `destination`; the Gateway calls
    /// back `onSend`, which escrows (or burns a voucher going home).
    /// @return sequence the message's position in the lane
    function send(
        bytes calldata destination,
        bytes calldata denom,
        uint128 amount,
        address receiver,
        uint64 timeoutHeight,
        uint64 timeoutTimeMs
    ) external returns (uint64 sequence) {
        bytes memory packet = abi.encodePacked(uint32(denom.length), denom, amount, msg.sender, receiver);
        return gateway.sendFromApp(msg.sender, destination, timeoutHeight, timeoutTimeMs, packet);
    }

    // ---------------------------------------------------------------- callbacks

    /// @inheritdoc IApp
    function onSend(address sender, bytes calldata destination, bytes calldata payload) external onlyGateway {
        (bytes calldata denom, uint128 amount, address from,) = _decode(payload);
        require(from == sender, "payload sender is not the message sender");
        _debit(denom, sender, amount);
        if (_home(denom, destination).length != 0) {
            // A voucher going home: it stops existing here.
            _reduceSupply(denom, amount);
        } else {
            _addEscrow(destination, denom, amount);
        }
    }

    /// @inheritdoc IApp
    function onReceive(bytes calldata source, uint64, bytes calldata, bytes calldata payload)
        external
        onlyGateway
        returns (bytes memory)
    {
        (bytes calldata denom, uint128 amount,, address receiver) = _decode(payload);
        bytes calldata homeDenom = _home(denom, chainId);
        if (homeDenom.length != 0) {
            _releaseEscrow(source, homeDenom, amount);
            _credit(homeDenom, receiver, amount);
        } else {
            bytes memory voucher = abi.encodePacked("v/", source, "/", denom);
            if (voucher.length > MAX_DENOM_LEN) revert("bad payload: voucher denomination too long");
            _mint(voucher, receiver, amount);
        }
        return hex"01";
    }

    /// @inheritdoc IApp
    function onAcknowledge(bytes calldata destination, uint64, bytes calldata payload, bool success, bytes calldata)
        external
        onlyGateway
    {
        if (!success) _refund(destination, payload);
    }

    /// @inheritdoc IApp
    function onTimeout(bytes calldata destination, uint64, bytes calldata payload) external onlyGateway {
        _refund(destination, payload);
    }

    /// Gives back what `onSend` took: re-mint a burned voucher, or release the escrow.
    function _refund(bytes calldata destination, bytes calldata payload) private {
        (bytes calldata denom, uint128 amount, address sender,) = _decode(payload);
        if (_home(denom, destination).length != 0) {
            _mint(denom, sender, amount);
        } else {
            _releaseEscrow(destination, denom, amount);
            _credit(denom, sender, amount);
        }
    }

    // ---------------------------------------------------------------- accounting

    function _mint(bytes memory denom, address to, uint128 amount) private {
        bytes32 d = keccak256(denom);
        supplies[d] = _add(supplies[d], amount);
        balances[d][to] = _add(balances[d][to], amount);
    }

    function _credit(bytes memory denom, address to, uint128 amount) private {
        bytes32 d = keccak256(denom);
        balances[d][to] = _add(balances[d][to], amount);
    }

    function _debit(bytes calldata denom, address from, uint128 amount) private {
        bytes32 d = keccak256(denom);
        uint256 have = balances[d][from];
        if (have < amount) {
            revert(string(abi.encodePacked("insufficient funds: ", denom, " balance ", _dec(have), " < ", _dec(amount))));
        }
        balances[d][from] = have - amount;
    }

    function _reduceSupply(bytes calldata denom, uint128 amount) private {
        bytes32 d = keccak256(denom);
        uint256 have = supplies[d];
        if (have < amount) revert(string(abi.encodePacked("bad payload: supply/", denom, " below ", _dec(amount))));
        supplies[d] = have - amount;
    }

    function _addEscrow(bytes calldata counterparty, bytes calldata denom, uint128 amount) private {
        mapping(bytes32 => uint256) storage e = escrows[keccak256(counterparty)];
        e[keccak256(denom)] = _add(e[keccak256(denom)], amount);
    }

    function _releaseEscrow(bytes calldata counterparty, bytes calldata denom, uint128 amount) private {
        mapping(bytes32 => uint256) storage e = escrows[keccak256(counterparty)];
        uint256 have = e[keccak256(denom)];
        if (have < amount) {
            revert(
                string(
                    abi.encodePacked(
                        "bad payload: escrow/", counterparty, "/", denom, " holds ", _dec(have), ", cannot release ",
                        _dec(amount)
                    )
                )
            );
        }
        e[keccak256(denom)] = have - amount;
    }

    /// Sum bounded to `u128`, like every amount of the protocol.
    function _add(uint256 a, uint128 b) private pure returns (uint256 sum) {
        sum = a + b;
        if (sum > type(uint128).max) revert("amount overflow");
    }

    // ---------------------------------------------------------------- packets and denominations

    /// Decodes a `TransferPacket` (`bytes denom ‖ u128 amount ‖ address sender ‖ address
    /// receiver`) strictly: valid denomination, amount ≥ 1, no trailing bytes.
    function _decode(bytes calldata p)
        private
        pure
        returns (bytes calldata denom, uint128 amount, address sender, address receiver)
    {
        if (p.length < 4) revert("bad payload: truncated");
        uint256 len = uint32(bytes4(p[0:4]));
        if (len > MAX_DENOM_LEN) revert("bad payload: denomination too long");
        if (p.length != 4 + len + 16 + 20 + 20) revert("bad payload: wrong length");
        denom = p[4:4 + len];
        _checkDenom(denom);
        uint256 o = 4 + len;
        amount = uint128(bytes16(p[o:o + 16]));
        if (amount == 0) revert("bad payload: zero amount");
        sender = address(bytes20(p[o + 16:o + 36]));
        receiver = address(bytes20(p[o + 36:o + 56]));
    }

    /// 1–128 bytes of `[A-Za-z0-9._/-]`, no empty `/` segment.
    function _checkDenom(bytes calldata denom) private pure {
        uint256 n = denom.length;
        bool ok = n > 0 && n <= MAX_DENOM_LEN && denom[0] != "/" && denom[n - 1] != "/";
        for (uint256 i = 0; ok && i < n; i++) {
            bytes1 c = denom[i];
            ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_"
                || c == "-" || (c == "/" && denom[i - 1] != "/");
        }
        if (!ok) revert("bad payload: invalid denomination");
    }

    /// If `denom` is a voucher of `home` (`v/{home}/{rest}`), the name `rest` it has there;
    /// empty otherwise.
    function _home(bytes calldata denom, bytes memory home) private pure returns (bytes calldata rest) {
        uint256 h = home.length;
        if (
            denom.length > h + 3 && denom[0] == "v" && denom[1] == "/" && denom[h + 2] == "/"
                && keccak256(denom[2:h + 2]) == keccak256(home)
        ) {
            return denom[h + 3:];
        }
        return denom[0:0];
    }

    /// Decimal digits of `v` (for readable error acknowledgements).
    function _dec(uint256 v) private pure returns (bytes memory out) {
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
