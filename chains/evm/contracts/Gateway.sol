// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBftLightClient} from "./IBftLightClient.sol";
import {IEvmLightClient} from "./IEvmLightClient.sol";
import {EvmStorageProofs} from "./EvmStorageProofs.sol";
import {IApp} from "./apps/IApp.sol";
import {Codec} from "./lib/Codec.sol";
import {StateProofs} from "./lib/StateProofs.sol";
import {MerklePatricia} from "./lib/MerklePatricia.sol";

/// @title xrelay Gateway: the message module of an EVM chain
/// @notice The EVM twin of the devchain's message module (docs/PROTOCOL.md §6, §9): an outbox
/// of message commitments, an inbox of receipts, acknowledgements and ordered lane counters,
/// and the apps messages are addressed to. A counterparty is of one of two families, fixed
/// by the client governance created for it: an xrelay BFT chain (the devchain), whose
/// headers the `BftLightClient` verifies and whose sparse Merkle proofs are checked here
/// against the state root it proved (one call per batch); or an EVM chain, whose sealed or
/// attested headers the `EvmLightClient` verifies, and whose Gateway's storage is proven
/// by Merkle-Patricia proofs against the state roots it trusts (`EvmStorageProofs`, §12). Relay calls take the same canonical
/// byte bodies as the devchain's relay transactions (§9.2): `updateClient`, `recv`,
/// `acknowledge`, `timeout`, `submitMisbehaviour` those of tags 1–5 (BFT counterparties),
/// `updateEvmClient`, `recvEvm`, `acknowledgeEvm`, `timeoutEvm` those of tags 6–9 and
/// `submitEvmMisbehaviour` the EVM client's evidence (EVM counterparties), so one encoder
/// serves every chain. A call of one family naming a chain of the other is refused. Anyone
/// may submit them: they carry their own proofs, and an item already processed is a no-op
/// reported as `AlreadyDone`.
/// @dev Storage convention (what a client of this chain proves with `eth_getProof`): slot 0
/// is `provable`; for every protocol path P of §6 holding value V, `provable[sha256(P)]` is
/// `sha256(V)`, and an absent path is zero. Nothing may ever be declared before it.
/// Chain time: height = `block.number`, time = `block.timestamp * 1000` ms.
contract Gateway {
    /// @notice `sha256(path)` → `sha256(value)` for every protocol path (§6). Slot 0.
    mapping(bytes32 => bytes32) public provable;

    /// @notice This chain's id (without length prefix).
    bytes public chainId;

    /// @notice The account that registers apps (the deployer).
    address public immutable governance;

    /// @notice Verifies BFT counterparties' headers; holds their state roots.
    IBftLightClient public immutable lightClient;

    /// @notice Verifies EVM counterparties' headers; holds their state roots and the
    /// addresses of their Gateways.
    IEvmLightClient public immutable evmLightClient;

    /// @notice Checks EVM counterparties' Merkle-Patricia storage proofs (stateless; a
    /// contract of its own because the verifier does not fit in this one, EIP-170).
    EvmStorageProofs public immutable evmStorageProofs;

    /// @notice Gas given to each app callback on receive. The caller must leave enough for
    /// it, so an app that fails for lack of gas fails for its own budget, never for a
    /// relayer's gas limit (which would otherwise turn a good message into an error ack).
    uint256 public constant APP_GAS = 500_000;

    /// Most items in one receive, acknowledge or timeout batch (§9.2).
    uint256 private constant MAX_BATCH = 1024;
    uint256 private constant MAX_SENDER_LEN = 64;
    uint256 private constant MAX_RECEIVER_LEN = 64;
    uint256 private constant MAX_PAYLOAD_LEN = 65536;
    uint256 private constant MAX_ACK_LEN = 65536;
    /// Smallest encodings, so a hostile count fails before any work: a Message (2 one-byte
    /// chain ids, 1-byte sender and receiver), a StateProof (no leaf, no sibling; an
    /// EvmStorageProof is longer), an ack.
    uint256 private constant MIN_MESSAGE_LEN = 5 + 5 + 8 + 5 + 5 + 4 + 16;
    uint256 private constant MIN_PROOF_LEN = 3;
    uint256 private constant MIN_ACK_LEN = 5;

    uint8 private constant OUTCOME_ACKNOWLEDGED = 1;
    uint8 private constant OUTCOME_REFUSED = 2;
    uint8 private constant OUTCOME_TIMED_OUT = 3;

    bytes32 private constant MESSAGE_TAG = "xrelay.message.v1"; // 17 bytes
    bytes32 private constant MESSAGE_ID_TAG = "xrelay.msgid.v1"; // 15 bytes

    /// `sha256(0x01)`: the provable value of a receipt.
    bytes32 private immutable RECEIPT_VALUE;
    /// `sha256(0x03)`: the provable value of a timed-out outcome.
    bytes32 private immutable TIMED_OUT_VALUE;

    /// Next sequence to send, by `keccak256(destination)` (0: none sent yet, so 1).
    mapping(bytes32 => uint64) private nextSendOf;
    /// Next sequence expected, by `keccak256(source)` (0: none received yet, so 1).
    mapping(bytes32 => uint64) private nextRecvOf;
    /// Apps by `keccak256(name)`.
    mapping(bytes32 => IApp) private appOf;
    /// Names by app address (empty: not an app).
    mapping(address => bytes) private nameOf;

    /// Reentrancy guards, in transient storage (EIP-1153; no storage slot, so `provable`
    /// stays slot 0): set while a relay call (`recv`, `acknowledge`, `timeout`) runs, and
    /// while a send runs its app's `onSend`. An app called back may send (a reply from
    /// `onReceive`), but never enter a relay call, and nothing may enter a send or a relay
    /// call from `onSend`.
    bool private transient relaying;
    bool private transient sending;

    /// @notice A message was committed for sending (canonical `Message`).
    event Sent(bytes message);
    /// @notice A message was received and its app answered (canonical `Acknowledgement`).
    event Received(bytes message, bytes ack);
    /// @notice A message arrived past its timeout: the lane moved on, the app did not run.
    event Expired(bytes message);
    /// @notice The acknowledgement of a message sent here was proven; it is settled.
    event Acknowledged(bytes message, bytes ack);
    /// @notice A message sent here timed out; its app refunded.
    event TimedOut(bytes message);
    /// @notice An item of a batch was already processed: no effect, a success for relayers.
    event AlreadyDone(bytes32 messageId);
    /// @notice The client of `chainId` accepted these headers (the light client's event,
    /// re-emitted so relayers follow one address).
    event ClientUpdated(bytes chainId, uint64[] heights, bytes32[] hashes);
    /// @notice The client of `chainId` was frozen by misbehaviour evidence (re-emitted; the
    /// light client's own event also carries the evidence hash).
    event ClientFrozen(bytes chainId);
    /// @notice An app was registered under `name`.
    event AppRegistered(bytes name, address app);

    /// @notice Only governance may do this.
    error NotGovernance(address caller);
    /// @notice No app is registered under this name.
    error UnknownApp(bytes name);
    /// @notice The name or the address is registered already, the name is not 1–64 bytes of
    /// UTF-8, or the address holds no contract.
    error InvalidApp(bytes name, address app);
    /// @notice Only a registered app may send on behalf of a user.
    error NotAnApp(address caller);
    /// @notice A send this chain refuses (`why` says which rule).
    error InvalidSend(string why);
    /// @notice A lane needs a client of the other chain to ever settle.
    error UnknownClient(bytes chainId);
    /// @notice A BFT relay call (`updateClient`, `recv`, …) names a chain whose client is
    /// not a BFT one.
    error NotBftClient(bytes chainId);
    /// @notice An EVM relay call (`updateEvmClient`, `recvEvm`, …) names a chain whose
    /// client is not an EVM one.
    error NotEvmClient(bytes chainId);
    /// @notice A message is not on the lane the call names.
    error WrongLane(uint64 sequence);
    /// @notice A message skips ahead of the lane's next sequence.
    error OutOfOrder(uint64 expected, uint64 found);
    /// @notice An acknowledgement or timeout names a message this chain never sent.
    error UnknownMessage(uint64 sequence);
    /// @notice The message differs from the one committed at its sequence.
    error CommitmentMismatch(uint64 sequence);
    /// @notice The message is not past its timeout at that height and time (zero height
    /// and time: the source proved a timeout this chain would still deliver).
    error NotTimedOut(uint64 sequence, uint64 height, uint64 timeMs);
    /// @notice The client has no consensus state at the proof height.
    error UnknownHeight(uint64 height);
    /// @notice The state proof of this item does not show its claim (`result`: a
    /// `StateProofs.Result` for a BFT counterparty, a `MerklePatricia.Result` for an EVM one).
    error ProofRefused(uint64 sequence, uint8 result);
    /// @notice A batch without items.
    error EmptyBatch();
    /// @notice The caller left too little gas for an app callback's budget.
    error InsufficientGas();
    /// @notice An app called back by the Gateway tried to enter a relay call (or, from
    /// `onSend`, any call that runs apps) before the outer call finished.
    error Reentered();

    /// A message parsed from calldata: absolute calldata offsets of its fields.
    struct Msg {
        uint256 start; // first byte of the Message
        uint256 idEnd; // end of source ‖ destination ‖ sequence (the message id preimage)
        uint256 end; // one past the last byte
        uint256 src; // source chain id
        uint256 srcLen;
        uint256 dst; // destination chain id
        uint256 dstLen;
        uint64 sequence;
        uint256 sender;
        uint256 senderLen;
        uint256 receiver;
        uint256 receiverLen;
        uint256 payload;
        uint256 payloadLen;
        uint64 timeoutHeight;
        uint64 timeoutTimeMs;
    }

    /// A relay batch: its header, this chain's id, and the proven state at the proof
    /// height (fetched from the light client once, on the first item that needs it).
    struct Batch {
        uint256 other; // counterparty chain id (absolute calldata offset)
        uint256 otherLen;
        bytes32 otherHash; // keccak256 of it
        uint64 proofHeight;
        bool evm; // the counterparty is an EVM chain (tags 7–9)
        uint256 count;
        bytes self;
        bytes32 selfHash;
        bool proven;
        bytes32 root;
        address counterpart; // an EVM counterparty's Gateway, whose storage is proven
        bytes32 nextRecvKey; // sha256("next_recv/" ‖ other), once the lane moves (recv)
    }

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        _;
    }

    /// A relay call: not while another relay call or a send's `onSend` runs.
    modifier relayCall() {
        if (relaying || sending) revert Reentered();
        relaying = true;
        _;
        relaying = false;
    }

    /// A send: not from within another send's `onSend`.
    modifier sendCall() {
        if (sending) revert Reentered();
        sending = true;
        _;
        sending = false;
    }

    /// @param chainId_ this chain's id (1–64 bytes of `[A-Za-z0-9._-]`)
    /// @param lightClient_ the client of BFT counterparty chains
    /// @param evmLightClient_ the client of EVM counterparty chains
    /// @param evmStorageProofs_ the checker of EVM counterparties' storage proofs
    constructor(
        bytes memory chainId_,
        IBftLightClient lightClient_,
        IEvmLightClient evmLightClient_,
        EvmStorageProofs evmStorageProofs_
    ) {
        if (!_validChainId(chainId_)) revert Codec.InvalidValue("chain id");
        chainId = chainId_;
        governance = msg.sender;
        lightClient = lightClient_;
        evmLightClient = evmLightClient_;
        evmStorageProofs = evmStorageProofs_;
        RECEIPT_VALUE = sha256(hex"01");
        TIMED_OUT_VALUE = sha256(abi.encodePacked(OUTCOME_TIMED_OUT));
    }

    // ---------------------------------------------------------------- governance and apps

    /// @notice Registers `app` (a contract) under `name` (governance). Names are permanent:
    /// replacing an app with messages in flight would settle them with the wrong accounting.
    function registerApp(bytes calldata name, IApp app) external onlyGovernance {
        if (
            name.length == 0 || name.length > MAX_RECEIVER_LEN || !_validUtf8(name) || address(app).code.length == 0
                || address(appOf[keccak256(name)]) != address(0) || nameOf[address(app)].length != 0
        ) revert InvalidApp(name, address(app));
        appOf[keccak256(name)] = app;
        nameOf[address(app)] = name;
        emit AppRegistered(name, address(app));
    }

    /// @notice The app registered under `name` (zero if none).
    function appAddress(bytes calldata name) external view returns (address) {
        return address(appOf[keccak256(name)]);
    }

    // ---------------------------------------------------------------- light client

    /// @notice Verifies and stores headers of a BFT counterparty (body = `ChainId ‖
    /// seq<LightBlock>`, §9.2 tag 1) through the BFT light client.
    function updateClient(bytes calldata body) external returns (uint64[] memory heights, bytes32[] memory hashes) {
        bytes calldata other = _leadingChainId(body);
        _requireFamily(other, false);
        (heights, hashes) = lightClient.updateClient(body);
        emit ClientUpdated(other, heights, hashes);
    }

    /// @notice Freezes a BFT counterparty's client with misbehaviour evidence (body =
    /// `ChainId ‖ Misbehaviour`, §9.2 tag 5).
    function submitMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash) {
        bytes calldata other = _leadingChainId(body);
        _requireFamily(other, false);
        evidenceHash = lightClient.submitMisbehaviour(body);
        emit ClientFrozen(other);
    }

    /// @notice Verifies and stores sealed headers or attested blocks of an EVM counterparty
    /// (body = `ChainId ‖ seq<EvmUpdate>`, §9.2 tag 6) through the EVM light client.
    function updateEvmClient(bytes calldata body) external returns (uint64[] memory heights, bytes32[] memory hashes) {
        bytes calldata other = _leadingChainId(body);
        _requireFamily(other, true);
        (heights, hashes) = evmLightClient.updateClient(body);
        emit ClientUpdated(other, heights, hashes);
    }

    /// @notice Freezes an EVM counterparty's client with evidence of two valid blocks at one
    /// height (body = `ChainId ‖ EvmMisbehaviour`, §12).
    function submitEvmMisbehaviour(bytes calldata body) external returns (bytes32 evidenceHash) {
        bytes calldata other = _leadingChainId(body);
        _requireFamily(other, true);
        evidenceHash = evmLightClient.submitMisbehaviour(body);
        emit ClientFrozen(other);
    }

    // ---------------------------------------------------------------- lanes (views)

    /// @notice The next sequence to be sent to `destination`.
    function nextSend(bytes calldata destination) external view returns (uint64) {
        return _orOne(nextSendOf[keccak256(destination)]);
    }

    /// @notice The next sequence expected from `source`.
    function nextRecv(bytes calldata source) external view returns (uint64) {
        return _orOne(nextRecvOf[keccak256(source)]);
    }

    /// @notice The provable value hash stored for protocol path `path` (zero if absent).
    function provableAt(bytes calldata path) external view returns (bytes32) {
        return provable[sha256(path)];
    }

    // ---------------------------------------------------------------- send

    /// @notice Sends `payload` to app `app` on `destination` as the caller: the local app of
    /// that name runs its `onSend` first (a transfer escrows or burns the caller's tokens).
    /// @return sequence the message's position in the lane
    function sendMessage(
        bytes calldata destination,
        bytes calldata app,
        uint64 timeoutHeight,
        uint64 timeoutTimeMs,
        bytes calldata payload
    ) external sendCall returns (uint64 sequence) {
        IApp target = appOf[keccak256(app)];
        if (address(target) == address(0)) revert UnknownApp(app);
        return _send(msg.sender, destination, app, target, timeoutHeight, timeoutTimeMs, payload);
    }

    /// @notice Sends for `sender`, which the calling registered app vouches for (the user of
    /// the app's own entry point); the message goes to the app of the same name, and this
    /// app's `onSend` runs as for a direct send.
    function sendFromApp(
        address sender,
        bytes calldata destination,
        uint64 timeoutHeight,
        uint64 timeoutTimeMs,
        bytes calldata payload
    ) external sendCall returns (uint64 sequence) {
        bytes memory name = nameOf[msg.sender];
        if (name.length == 0) revert NotAnApp(msg.sender);
        return _send(sender, destination, name, IApp(msg.sender), timeoutHeight, timeoutTimeMs, payload);
    }

    function _send(
        address sender,
        bytes calldata destination,
        bytes memory app,
        IApp target,
        uint64 timeoutHeight,
        uint64 timeoutTimeMs,
        bytes calldata payload
    ) private returns (uint64) {
        Codec.requireChainId(destination);
        if (keccak256(destination) == keccak256(chainId)) revert InvalidSend("destination is this chain");
        if (payload.length > MAX_PAYLOAD_LEN) revert InvalidSend("payload longer than 65536 bytes");
        if (timeoutHeight == 0 && timeoutTimeMs == 0) revert InvalidSend("no timeout set");
        if (lightClient.latestHeight(destination) == 0 && evmLightClient.latestHeight(destination) == 0) {
            revert UnknownClient(destination);
        }
        target.onSend(sender, destination, payload);
        bytes memory tail =
            abi.encodePacked(uint32(app.length), app, uint32(payload.length), payload, timeoutHeight, timeoutTimeMs);
        return _commit(destination, abi.encodePacked(uint32(20), sender), tail);
    }

    /// Assigns the lane's next sequence to the message `… ‖ sender ‖ tail` and commits it.
    function _commit(bytes calldata destination, bytes memory sender, bytes memory tail)
        private
        returns (uint64 sequence)
    {
        bytes memory self = chainId;
        bytes32 lane = keccak256(destination);
        sequence = _orOne(nextSendOf[lane]);
        bytes memory message =
            abi.encodePacked(uint32(self.length), self, uint32(destination.length), destination, sequence, sender, tail);
        bytes32 commitment = sha256(abi.encodePacked("xrelay.message.v1", message));
        provable[sha256(abi.encodePacked("commitments/", destination, "/", _decimal(sequence)))] =
            sha256(abi.encodePacked(commitment));
        nextSendOf[lane] = sequence + 1;
        provable[sha256(abi.encodePacked("next_send/", destination))] = sha256(abi.encodePacked(sequence + 1));
        emit Sent(message);
    }

    // ---------------------------------------------------------------- receive

    /// @notice Receives messages from a counterparty in lane order (body = `ChainId source ‖
    /// u64 proof_height ‖ seq<InboundMessage>`, §9.2 tag 2). Below the lane's next sequence
    /// an item is `AlreadyDone`; above it the whole call reverts; at it, the message is
    /// delivered (its app answers, receipt and ack are written) or, past its timeout here,
    /// expired (no receipt). Each new item's state on the source is proven: the commitment,
    /// or (only for a message expired here) the timed-out outcome. The lane counter and the
    /// receipt are written before the app runs, so an app sees its message received, and
    /// the call cannot be re-entered (`Reentered`).
    function recv(bytes calldata body) external relayCall {
        _recv(body, false);
    }

    /// @notice `recv` from an EVM counterparty (§9.2 tag 7): the same rules, each proof an
    /// `EvmStorageProof` of the counterpart Gateway's storage (§12.2).
    function recvEvm(bytes calldata body) external relayCall {
        _recv(body, true);
    }

    function _recv(bytes calldata body, bool evm) private {
        (Batch memory b, Codec.Reader memory r) = _batch(body, MIN_MESSAGE_LEN + 1 + MIN_PROOF_LEN, evm);
        uint64 next = _orOne(nextRecvOf[b.otherHash]);
        for (uint256 i = 0; i < b.count; i++) {
            next = _recvItem(r, b, next);
        }
        Codec.finish(r);
    }

    /// One `InboundMessage` on a lane expecting `next`; returns the lane's next sequence.
    function _recvItem(Codec.Reader memory r, Batch memory b, uint64 next) private returns (uint64) {
        Msg memory m = _readMessage(r);
        if (keccak256(_src(m)) != b.otherHash || keccak256(_dst(m)) != b.selfHash) revert WrongLane(m.sequence);
        uint8 shows = Codec.u8(r);
        if (shows > 1) revert Codec.InvalidValue("source proof tag");
        if (m.sequence < next) {
            _skipProof(r, b.evm);
            emit AlreadyDone(_messageId(m));
            return next;
        }
        if (m.sequence > next) revert OutOfOrder(next, m.sequence);
        bool expired = _passed(m, uint64(block.number), uint64(block.timestamp) * 1000);
        if (shows == 1) {
            // The source timed it out and refunded: only a message this chain would not
            // deliver any more can be skipped that way.
            if (!expired) revert NotTimedOut(m.sequence, 0, 0);
            _prove(r, b, _path("outcomes/", b.self, m.sequence), true, TIMED_OUT_VALUE, m.sequence);
        } else {
            _prove(r, b, _path("commitments/", b.self, m.sequence), true, sha256(_commitment(m)), m.sequence);
        }
        // The lane moves on before anything runs.
        nextRecvOf[b.otherHash] = next + 1;
        if (b.nextRecvKey == 0) b.nextRecvKey = sha256(abi.encodePacked("next_recv/", _other(b)));
        provable[b.nextRecvKey] = sha256(abi.encodePacked(next + 1));
        if (expired) {
            emit Expired(_whole(m));
        } else {
            _deliver(m);
        }
        return next + 1;
    }

    /// Writes the receipt, runs the receiving app, then writes the acknowledgement
    /// commitment.
    function _deliver(Msg memory m) private {
        bytes memory seq = _decimal(m.sequence);
        bytes calldata source = _src(m);
        provable[sha256(abi.encodePacked("receipts/", source, "/", seq))] = RECEIPT_VALUE;
        bytes memory ack = _runApp(m);
        provable[sha256(abi.encodePacked("acks/", source, "/", seq))] =
            sha256(abi.encodePacked(sha256(abi.encodePacked("xrelay.ack.v1", ack))));
        emit Received(_whole(m), ack);
    }

    /// The acknowledgement of the message's app: its result, or an error if there is no such
    /// app, it reverts (its writes are undone with its call) or it answers something that
    /// is not ABI-encoded `bytes`. A low-level call, so no answer of the app can make this
    /// call revert and block the lane.
    function _runApp(Msg memory m) private returns (bytes memory) {
        bytes calldata receiver = _cd(m.receiver, m.receiverLen);
        IApp app = appOf[keccak256(receiver)];
        if (address(app) == address(0)) return _errorAck(abi.encodePacked('no app named "', receiver, '"'));
        if (gasleft() < APP_GAS + APP_GAS / 63 + 20_000) revert InsufficientGas();
        (bool ok, bytes memory answer) = address(app).call{gas: APP_GAS}(
            abi.encodeCall(
                IApp.onReceive, (_src(m), m.sequence, _cd(m.sender, m.senderLen), _cd(m.payload, m.payloadLen))
            )
        );
        if (ok) {
            (bool wellFormed, bytes memory result) = _abiBytes(answer, 0);
            if (!wellFormed) return _errorAck("app answer is not ABI-encoded bytes");
            if (result.length > MAX_ACK_LEN) return _errorAck("app result longer than 65536 bytes");
            return abi.encodePacked(uint8(0), uint32(result.length), result);
        }
        if (answer.length >= 4 && bytes4(answer) == 0x08c379a0) {
            // Error(string): the app's reason becomes the error text.
            (bool wellFormed, bytes memory reason) = _abiBytes(answer, 4);
            if (wellFormed) return _errorAck(reason);
        } else if (answer.length == 36 && bytes4(answer) == 0x4e487b71) {
            // Panic(uint256).
            uint256 code;
            assembly ("memory-safe") {
                code := mload(add(answer, 36))
            }
            return _errorAck(abi.encodePacked("app panicked: code ", _decimal(code)));
        }
        return _errorAck("app reverted");
    }

    /// The ABI-encoded `bytes` at `start` of `data` (an offset word of 32, a length, the
    /// bytes), if it is well formed.
    function _abiBytes(bytes memory data, uint256 start) private pure returns (bool ok, bytes memory out) {
        if (data.length < start + 64) return (false, out);
        uint256 offset;
        uint256 len;
        assembly ("memory-safe") {
            offset := mload(add(add(data, 32), start))
            len := mload(add(add(data, 64), start))
        }
        if (offset != 32 || len > data.length - start - 64) return (false, out);
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 32), add(add(data, 96), start), len)
        }
        return (true, out);
    }

    /// An error acknowledgement: `0x01 ‖ bytes text`, the text kept UTF-8 and bounded.
    function _errorAck(bytes memory text) private pure returns (bytes memory) {
        if (text.length > MAX_ACK_LEN || !_validUtf8Memory(text)) text = "app error text is not valid UTF-8";
        return abi.encodePacked(uint8(1), uint32(text.length), text);
    }

    // ---------------------------------------------------------------- acknowledge

    /// @notice Settles messages sent here with their proven acknowledgements (body =
    /// `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖ Acknowledgement ‖
    /// StateProof>`, §9.2 tag 3): deletes each commitment, records the outcome (`0x01`, or
    /// `0x02` for an error ack) and calls the app, which refunds on an error ack. Each item is
    /// settled before its app is called; the call cannot be re-entered (`Reentered`).
    function acknowledge(bytes calldata body) external relayCall {
        _acknowledge(body, false);
    }

    /// @notice `acknowledge` of messages an EVM counterparty received (§9.2 tag 8).
    function acknowledgeEvm(bytes calldata body) external relayCall {
        _acknowledge(body, true);
    }

    function _acknowledge(bytes calldata body, bool evm) private {
        (Batch memory b, Codec.Reader memory r) = _batch(body, MIN_MESSAGE_LEN + MIN_ACK_LEN + MIN_PROOF_LEN, evm);
        for (uint256 i = 0; i < b.count; i++) {
            _acknowledgeItem(r, b);
        }
        Codec.finish(r);
    }

    /// One `Message ‖ Acknowledgement ‖ StateProof`.
    function _acknowledgeItem(Codec.Reader memory r, Batch memory b) private {
        Msg memory m = _readMessage(r);
        _checkOutbound(m, b);
        uint256 ackStart = r.pos;
        _readAck(r);
        bytes calldata ack = Codec.since(r, ackStart);
        if (!_pending(m)) {
            _skipProof(r, b.evm);
            emit AlreadyDone(_messageId(m));
            return;
        }
        bytes32 ackCommitment = sha256(abi.encodePacked("xrelay.ack.v1", ack));
        _prove(r, b, _path("acks/", b.self, m.sequence), true, sha256(abi.encodePacked(ackCommitment)), m.sequence);
        bool success = ack[0] == 0x00;
        _settle(m, success ? OUTCOME_ACKNOWLEDGED : OUTCOME_REFUSED);
        _app(m).onAcknowledge(_dst(m), m.sequence, _cd(m.payload, m.payloadLen), success, ack[5:]);
        emit Acknowledged(_whole(m), ack);
    }

    // ---------------------------------------------------------------- timeout

    /// @notice Times out messages sent here that the destination never received (body =
    /// `ChainId destination ‖ u64 proof_height ‖ seq<Message ‖ StateProof>`, §9.2 tag 4):
    /// the proof height's header must be past each message's timeout and prove its receipt
    /// absent; the commitment is deleted, outcome `0x03` recorded and the app refunds. Each
    /// item is settled before its app is called; the call cannot be re-entered (`Reentered`).
    function timeout(bytes calldata body) external relayCall {
        _timeout(body, false);
    }

    /// @notice `timeout` against an EVM counterparty (§9.2 tag 9): the proof time is the
    /// block time the EVM light client verified at the proof height.
    function timeoutEvm(bytes calldata body) external relayCall {
        _timeout(body, true);
    }

    function _timeout(bytes calldata body, bool evm) private {
        (Batch memory b, Codec.Reader memory r) = _batch(body, MIN_MESSAGE_LEN + MIN_PROOF_LEN, evm);
        (bool exists, uint64 proofTime,,) = evm
            ? evmLightClient.consensusState(_other(b), b.proofHeight)
            : lightClient.consensusState(_other(b), b.proofHeight);
        if (!exists) revert UnknownHeight(b.proofHeight);
        for (uint256 i = 0; i < b.count; i++) {
            _timeoutItem(r, b, proofTime);
        }
        Codec.finish(r);
    }

    /// One `Message ‖ StateProof`, proven at a header of time `proofTime`.
    function _timeoutItem(Codec.Reader memory r, Batch memory b, uint64 proofTime) private {
        Msg memory m = _readMessage(r);
        _checkOutbound(m, b);
        if (!_pending(m)) {
            _skipProof(r, b.evm);
            emit AlreadyDone(_messageId(m));
            return;
        }
        if (!_passed(m, b.proofHeight, proofTime)) revert NotTimedOut(m.sequence, b.proofHeight, proofTime);
        _prove(r, b, _path("receipts/", b.self, m.sequence), false, bytes32(0), m.sequence);
        _settle(m, OUTCOME_TIMED_OUT);
        _app(m).onTimeout(_dst(m), m.sequence, _cd(m.payload, m.payloadLen));
        emit TimedOut(_whole(m));
    }

    // ---------------------------------------------------------------- settlement helpers

    /// Whether an outbound message is pending: true if its commitment is stored and equal,
    /// false if it was settled already; reverts if it never existed or differs.
    function _pending(Msg memory m) private view returns (bool) {
        bytes memory seq = _decimal(m.sequence);
        bytes calldata destination = _dst(m);
        bytes32 stored = provable[sha256(abi.encodePacked("commitments/", destination, "/", seq))];
        if (stored != 0) {
            if (stored != sha256(_commitment(m))) revert CommitmentMismatch(m.sequence);
            return true;
        }
        if (provable[sha256(abi.encodePacked("outcomes/", destination, "/", seq))] != 0) return false;
        revert UnknownMessage(m.sequence);
    }

    /// Deletes the commitment and records how the message ended.
    function _settle(Msg memory m, uint8 outcome) private {
        bytes memory seq = _decimal(m.sequence);
        bytes calldata destination = _dst(m);
        delete provable[sha256(abi.encodePacked("commitments/", destination, "/", seq))];
        provable[sha256(abi.encodePacked("outcomes/", destination, "/", seq))] = sha256(abi.encodePacked(outcome));
    }

    /// The local app a settled message is reported to: the one it was sent through.
    function _app(Msg memory m) private view returns (IApp app) {
        bytes calldata name = _cd(m.receiver, m.receiverLen);
        app = appOf[keccak256(name)];
        if (address(app) == address(0)) revert UnknownApp(name);
    }

    function _checkOutbound(Msg memory m, Batch memory b) private pure {
        if (keccak256(_src(m)) != b.selfHash || keccak256(_dst(m)) != b.otherHash) revert WrongLane(m.sequence);
    }

    /// Reads the item's proof and checks that `path` holds the value hashed to `valueHash`
    /// (membership), or is absent, against the batch's proven root (fetched once): a
    /// `StateProof`, or an `EvmStorageProof` of the counterpart Gateway's storage.
    function _prove(
        Codec.Reader memory r,
        Batch memory b,
        bytes memory path,
        bool membership,
        bytes32 valueHash,
        uint64 sequence
    ) private view {
        if (b.evm) {
            uint8 code = _checkEvmProof(r, b, sha256(path), membership, valueHash);
            if (code != 0) revert ProofRefused(sequence, code);
            return;
        }
        if (!b.proven) {
            (, b.root) = lightClient.provenState(_other(b), b.proofHeight);
            b.proven = true;
        }
        StateProofs.Result result = StateProofs.check(r, b.root, sha256(path), membership, valueHash);
        if (result != StateProofs.Result.Valid) revert ProofRefused(sequence, uint8(result));
    }

    /// Reads the item's `EvmStorageProof` and checks it against the state root the EVM
    /// light client trusts at the proof height and the counterpart Gateway it names: 0 if
    /// it shows the claim, else the `MerklePatricia.Result` that refutes it.
    function _checkEvmProof(
        Codec.Reader memory r,
        Batch memory b,
        bytes32 pathHash,
        bool membership,
        bytes32 valueHash
    ) private view returns (uint8) {
        if (!b.proven) {
            (, b.root) = evmLightClient.provenState(_other(b), b.proofHeight);
            b.counterpart = evmLightClient.counterpartyGateway(_other(b));
            b.proven = true;
        }
        uint256 start = r.pos;
        MerklePatricia.skipStorageProof(r);
        return evmStorageProofs.checkGatewayPath(
            b.root, b.counterpart, pathHash, membership, valueHash, Codec.since(r, start)
        );
    }

    // ---------------------------------------------------------------- canonical decoding

    /// Reads `ChainId other ‖ u64 proof_height ‖ u32 count` (1–1024 items of at least
    /// `minItem` bytes) and checks that `other` has a client of the call's family.
    function _batch(bytes calldata body, uint256 minItem, bool evm)
        private
        view
        returns (Batch memory b, Codec.Reader memory r)
    {
        r = Codec.reader(body);
        bytes calldata other = Codec.chainId(r);
        b.other = Codec.offsetOf(other);
        b.otherLen = other.length;
        b.otherHash = keccak256(other);
        b.proofHeight = Codec.u64(r);
        b.evm = evm;
        _requireFamily(other, evm);
        b.count = Codec.count(r, MAX_BATCH, minItem);
        if (b.count == 0) revert EmptyBatch();
        b.self = chainId;
        b.selfHash = keccak256(b.self);
    }

    /// Reverts unless `other` has a client of the family a call is for (`evm`) and none of
    /// the other family: a chain is proven one way only, whatever governance created.
    function _requireFamily(bytes calldata other, bool evm) private view {
        uint64 bft = lightClient.latestHeight(other);
        uint64 evmHeight = evmLightClient.latestHeight(other);
        if (evm ? bft != 0 : evmHeight != 0) {
            if (evm) revert NotEvmClient(other);
            revert NotBftClient(other);
        }
        if ((evm ? evmHeight : bft) == 0) revert UnknownClient(other);
    }

    /// Reads a `Message` with every field rule of §2 except the chain ids' alphabet (each
    /// call compares them with a checked id, which implies it).
    function _readMessage(Codec.Reader memory r) private pure returns (Msg memory m) {
        m.start = r.pos;
        bytes calldata f = Codec.bytesField(r, Codec.MAX_CHAIN_ID_LEN);
        (m.src, m.srcLen) = (Codec.offsetOf(f), f.length);
        f = Codec.bytesField(r, Codec.MAX_CHAIN_ID_LEN);
        (m.dst, m.dstLen) = (Codec.offsetOf(f), f.length);
        m.sequence = Codec.u64(r);
        m.idEnd = r.pos;
        f = Codec.bytesField(r, MAX_SENDER_LEN);
        (m.sender, m.senderLen) = (Codec.offsetOf(f), f.length);
        f = Codec.bytesField(r, MAX_RECEIVER_LEN);
        (m.receiver, m.receiverLen) = (Codec.offsetOf(f), f.length);
        f = Codec.bytesField(r, MAX_PAYLOAD_LEN);
        (m.payload, m.payloadLen) = (Codec.offsetOf(f), f.length);
        m.timeoutHeight = Codec.u64(r);
        m.timeoutTimeMs = Codec.u64(r);
        m.end = r.pos;
        if (m.srcLen == 0 || m.dstLen == 0) revert Codec.InvalidValue("chain id");
        if (keccak256(_src(m)) == keccak256(_dst(m))) revert Codec.InvalidValue("message: same source and destination");
        if (m.sequence == 0) revert Codec.InvalidValue("message: sequence 0");
        if (m.senderLen == 0) revert Codec.InvalidValue("message: empty sender");
        if (m.receiverLen == 0 || !_validUtf8(_cd(m.receiver, m.receiverLen))) {
            revert Codec.InvalidValue("message: receiver");
        }
        if (m.timeoutHeight == 0 && m.timeoutTimeMs == 0) revert Codec.InvalidValue("message: no timeout");
    }

    /// Reads an `Acknowledgement` (`u8 0 ‖ bytes result` or `u8 1 ‖ bytes UTF-8 error`).
    function _readAck(Codec.Reader memory r) private pure {
        uint8 tag = Codec.u8(r);
        if (tag > 1) revert Codec.InvalidValue("ack tag");
        bytes calldata text = Codec.bytesField(r, MAX_ACK_LEN);
        if (tag == 1 && !_validUtf8(text)) revert Codec.InvalidValue("ack error");
    }

    /// Reads the item's proof strictly without judging it (an item already done).
    function _skipProof(Codec.Reader memory r, bool evm) private pure {
        if (evm) MerklePatricia.skipStorageProof(r);
        else _skipStateProof(r);
    }

    /// Reads a `StateProof` strictly without judging it.
    function _skipStateProof(Codec.Reader memory r) private pure {
        uint8 leaf = Codec.u8(r);
        if (leaf == 1) Codec.take(r, 64);
        else if (leaf != 0) revert Codec.InvalidValue("proof leaf tag");
        uint256 len = Codec.u16(r);
        if (len > StateProofs.MAX_SIBLINGS) revert Codec.TooLong(len, StateProofs.MAX_SIBLINGS);
        for (uint256 j = 0; j < len; ++j) {
            uint8 tag = Codec.u8(r);
            if (tag == 1) {
                if (Codec.hash32(r) == StateProofs.PLACEHOLDER) revert Codec.InvalidValue("proof sibling");
            } else if (tag != 0) {
                revert Codec.InvalidValue("proof sibling tag");
            }
        }
    }

    /// The chain id a relay body starts with.
    function _leadingChainId(bytes calldata body) private pure returns (bytes calldata) {
        Codec.Reader memory r = Codec.reader(body);
        return Codec.chainId(r);
    }

    // ---------------------------------------------------------------- calldata views

    /// The calldata slice at absolute offset `start`.
    function _cd(uint256 start, uint256 len) private pure returns (bytes calldata out) {
        assembly ("memory-safe") {
            out.offset := start
            out.length := len
        }
    }

    function _src(Msg memory m) private pure returns (bytes calldata) {
        return _cd(m.src, m.srcLen);
    }

    function _dst(Msg memory m) private pure returns (bytes calldata) {
        return _cd(m.dst, m.dstLen);
    }

    function _whole(Msg memory m) private pure returns (bytes calldata) {
        return _cd(m.start, m.end - m.start);
    }

    function _other(Batch memory b) private pure returns (bytes calldata) {
        return _cd(b.other, b.otherLen);
    }

    // ---------------------------------------------------------------- hashes, paths, rules

    /// `sha256("xrelay.message.v1" ‖ Message)` as 32 bytes, over the message's exact calldata.
    function _commitment(Msg memory m) private view returns (bytes memory) {
        return abi.encodePacked(Codec.taggedHash(MESSAGE_TAG, 17, m.start, m.end - m.start));
    }

    /// `sha256("xrelay.msgid.v1" ‖ source ‖ destination ‖ sequence)`.
    function _messageId(Msg memory m) private view returns (bytes32) {
        return Codec.taggedHash(MESSAGE_ID_TAG, 15, m.start, m.idEnd - m.start);
    }

    /// Whether a destination block at `height` and `timeMs` is past the message's timeout.
    function _passed(Msg memory m, uint64 height, uint64 timeMs) private pure returns (bool) {
        return (m.timeoutHeight != 0 && height >= m.timeoutHeight)
            || (m.timeoutTimeMs != 0 && timeMs >= m.timeoutTimeMs);
    }

    /// `{prefix}{chain}/{sequence}`.
    function _path(string memory prefix, bytes memory chain, uint64 sequence) private pure returns (bytes memory) {
        return abi.encodePacked(prefix, chain, "/", _decimal(sequence));
    }

    function _orOne(uint64 v) private pure returns (uint64) {
        return v == 0 ? 1 : v;
    }

    /// Decimal digits of `v`, no leading zeros (how paths spell sequences).
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

    /// 1–64 bytes of `[A-Za-z0-9._-]` (§2), for the constructor's argument.
    function _validChainId(bytes memory id) private pure returns (bool) {
        if (id.length == 0 || id.length > Codec.MAX_CHAIN_ID_LEN) return false;
        for (uint256 i = 0; i < id.length; i++) {
            bytes1 c = id[i];
            bool ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "."
                || c == "_" || c == "-";
            if (!ok) return false;
        }
        return true;
    }

    function _validUtf8(bytes calldata s) private pure returns (bool) {
        return _validUtf8Memory(s);
    }

    /// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as Rust's
    /// `str::from_utf8` accepts it.
    function _validUtf8Memory(bytes memory s) private pure returns (bool) {
        uint256 i = 0;
        uint256 n = s.length;
        while (i < n) {
            uint8 c = uint8(s[i]);
            if (c < 0x80) {
                i++;
                continue;
            }
            uint256 extra;
            uint8 lo = 0x80;
            uint8 hi = 0xbf;
            if (c >= 0xc2 && c <= 0xdf) {
                extra = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                extra = 2;
                if (c == 0xe0) lo = 0xa0;
                if (c == 0xed) hi = 0x9f;
            } else if (c >= 0xf0 && c <= 0xf4) {
                extra = 3;
                if (c == 0xf0) lo = 0x90;
                if (c == 0xf4) hi = 0x8f;
            } else {
                return false;
            }
            if (i + extra >= n) return false;
            uint8 c1 = uint8(s[i + 1]);
            if (c1 < lo || c1 > hi) return false;
            for (uint256 k = 2; k <= extra; k++) {
                uint8 ck = uint8(s[i + k]);
                if (ck < 0x80 || ck > 0xbf) return false;
            }
            i += extra + 1;
        }
        return true;
    }
}
