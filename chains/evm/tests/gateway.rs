//! The Gateway and its apps on a real anvil node, fed by a devchain-like source chain built
//! here: a state tree (`prover::StateTree`) holding commitments at the PROTOCOL.md §6 paths,
//! headers over its roots signed by a validator set of test keys, the on-chain light client
//! updated with them, and relay calls carrying the devchain's relay bodies.
//!
//! anvil is `$XRELAY_ANVIL`, else `$HOME/.cache/xrelay-tools/node_modules/.bin/anvil`
//! (installed by scripts/lib.sh); each test starts its own node, killed when the test ends.

mod common;

use std::collections::BTreeMap;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address as EvmAddress, Bytes};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolCall, SolError, SolEvent, SolInterface};
use xrelay_evm::gateway::{
    ack_body, deploy_all, provable_slot, recv_body, timeout_body, transfer_packet, Deployment,
    Gateway, GatewayErrors, SourceProof, TransferApp,
};
use xrelay_evm::light_client::{BftLightClient, BftLightClientErrors};
use xrelay_evm::{create_client_args, misbehaviour_body, update_body};
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::{
    paths, sha256, Acknowledgement, ChainId, Commit, Decode, Encode, Hash32, Header, Height,
    LightBlock, Message, Misbehaviour, SignedHeader, SigningKey, StateProof, Timeout, TrustOptions,
    TrustedState, Validator, ValidatorSet,
};

alloy::sol!(
    /// `contracts/test/ReentrantApp.sol`: an app that re-enters the Gateway from its
    /// callbacks and records what it saw.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    ReentrantApp,
    "artifacts/ReentrantApp.json"
);

// ------------------------------------------------------------------ the source chain

/// A devchain-like chain: a versioned state tree, one header per committed block (1 s
/// apart), 4 validators of equal power signing every header.
struct SourceChain {
    id: ChainId,
    keys: Vec<SigningKey>,
    set: ValidatorSet,
    store: MemoryTreeStore,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    headers: Vec<Header>,
    genesis_ms: u64,
}

impl SourceChain {
    fn new(id: &str, genesis_ms: u64) -> Self {
        let keys: Vec<SigningKey> = (0..4)
            .map(|i| SigningKey::from_seed(&format!("xrelay-test/{id}"), i))
            .collect();
        let set = ValidatorSet::new(keys.iter().map(|k| Validator::from_key(k, 10)).collect())
            .expect("test validator set");
        let store = MemoryTreeStore::new();
        StateTree::new(&store)
            .apply(0, Vec::new())
            .expect("genesis version");
        SourceChain {
            id: ChainId::new(id).expect("test chain id"),
            keys,
            set,
            store,
            state: BTreeMap::new(),
            headers: Vec::new(),
            genesis_ms,
        }
    }

    fn height(&self) -> Height {
        self.headers.len() as Height
    }

    /// Commits a block with `writes` (`None` deletes) and returns its height.
    fn commit(&mut self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Height {
        let h = self.height() + 1;
        for (k, v) in &writes {
            match v {
                Some(v) => self.state.insert(k.clone(), v.clone()),
                None => self.state.remove(k),
            };
        }
        let root = StateTree::new(&self.store)
            .apply(h, writes)
            .expect("state tree version");
        let header = Header {
            chain_id: self.id.clone(),
            height: h,
            time_ms: self.genesis_ms + (h - 1) * 1_000,
            parent_hash: self.headers.last().map_or(Hash32::ZERO, Header::hash),
            state_root: root,
            tx_root: sha256(&h.to_be_bytes()),
            validators_hash: self.set.hash(),
            next_validators_hash: self.set.hash(),
            proposer: self.set.validators()[0].address,
        };
        self.headers.push(header);
        h
    }

    fn light_block(&self, h: Height) -> LightBlock {
        let header = self.headers[(h - 1) as usize].clone();
        self.signed(header)
    }

    fn signed(&self, header: Header) -> LightBlock {
        let commit = Commit::sign(&header, &self.keys);
        LightBlock {
            signed_header: SignedHeader { header, commit },
            validators: self.set.clone(),
            next_validators: self.set.clone(),
        }
    }

    fn prove(&self, key: &[u8], h: Height) -> StateProof {
        StateTree::new(&self.store)
            .prove(key, h)
            .expect("state proof")
            .1
    }

    fn next_send(&self, destination: &ChainId) -> u64 {
        self.state
            .get(&paths::next_send(destination))
            .map_or(1, |v| u64::from_be_bytes(v[..].try_into().expect("u64")))
    }

    /// The writes of sending `message` (its commitment and the lane counter).
    fn send_writes(&self, message: &Message) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        vec![
            (
                paths::commitment(&message.destination, message.sequence),
                Some(message.commitment().0.to_vec()),
            ),
            (
                paths::next_send(&message.destination),
                Some((message.sequence + 1).to_be_bytes().to_vec()),
            ),
        ]
    }

    /// The writes of receiving `message` here with `ack` (receipt and ack commitment).
    fn receive_writes(message: &Message, ack: &Acknowledgement) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        vec![
            (
                paths::receipt(&message.source, message.sequence),
                Some(vec![1]),
            ),
            (
                paths::ack(&message.source, message.sequence),
                Some(ack.commitment().0.to_vec()),
            ),
            (
                paths::next_receive(&message.source),
                Some((message.sequence + 1).to_be_bytes().to_vec()),
            ),
        ]
    }
}

fn outcome_path(destination: &ChainId, sequence: u64) -> Vec<u8> {
    format!("outcomes/{destination}/{sequence}").into_bytes()
}

// ------------------------------------------------------------------ the EVM side

/// Why a call reverted, decoded with the ABI that names it.
#[derive(Debug)]
enum Reverted {
    Gateway(GatewayErrors),
    LightClient(BftLightClientErrors),
    /// `Error(string)`: the transfer app's readable reasons.
    Reason(String),
    /// Anything else; only ever printed (through `Debug`) in a failing assertion.
    Other(#[allow(dead_code)] String),
}

fn reverted(e: alloy::contract::Error) -> Reverted {
    match e.as_revert_data() {
        Some(data) => {
            if let Ok(g) = GatewayErrors::abi_decode(&data) {
                Reverted::Gateway(g)
            } else if let Ok(l) = BftLightClientErrors::abi_decode(&data) {
                Reverted::LightClient(l)
            } else if let Ok(r) = alloy::sol_types::Revert::abi_decode(&data) {
                Reverted::Reason(r.reason)
            } else {
                Reverted::Other(format!("revert data {data}"))
            }
        }
        None => Reverted::Other(e.to_string()),
    }
}

/// Sends a transaction; a revert (found by gas estimation) comes back decoded.
async fn submit<P: Provider, D: CallDecoder>(
    call: CallBuilder<P, D>,
) -> Result<TransactionReceipt, Reverted> {
    let pending = call.send().await.map_err(reverted)?;
    let receipt = pending.get_receipt().await.expect("receipt");
    assert!(receipt.status(), "mined transaction reverted: {receipt:?}");
    Ok(receipt)
}

/// The events `E` the contract at `from` emitted in `receipt`, in order.
fn events<E: SolEvent>(receipt: &TransactionReceipt, from: EvmAddress) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == from)
        .filter_map(|l| l.log_decode::<E>().ok())
        .map(|l| l.inner.data)
        .collect()
}

struct Env {
    _anvil: AnvilInstance,
    provider: DynProvider,
    d: Deployment,
    /// anvil's first account: deployer and governance.
    admin: EvmAddress,
    /// anvil's second account: a user.
    user: EvmAddress,
    user_provider: DynProvider,
    evm: ChainId,
    alpha: SourceChain,
}

impl Env {
    async fn start() -> Env {
        let anvil = common::spawn_anvil(&[]);
        let provider = common::wallet_provider(&anvil, 0);
        let user_provider = common::wallet_provider(&anvil, 1);
        let evm = ChainId::new("evm").expect("chain id");
        let d = deploy_all(provider.clone(), &evm)
            .await
            .expect("deploy_all");
        let now_s = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a block")
            .header
            .timestamp;
        // Source headers start an hour ago, one per second: never from the future.
        let mut alpha = SourceChain::new("alpha", now_s * 1000 - 3_600_000);
        alpha.commit(Vec::new());
        let trusted = TrustedState::from_light_block(&alpha.light_block(1)).expect("trusted");
        let (state, options) = create_client_args(&trusted, &TrustOptions::default());
        let lc = BftLightClient::new(d.light_client, &provider);
        submit(lc.createClient(state, options))
            .await
            .expect("createClient");
        Env {
            admin: anvil.addresses()[0],
            user: anvil.addresses()[1],
            _anvil: anvil,
            provider,
            user_provider,
            d,
            evm,
            alpha,
        }
    }

    /// A timeout a day after alpha's genesis: never reached on either chain in a test.
    fn later(&self) -> Timeout {
        Timeout {
            height: 0,
            time_ms: self.alpha.genesis_ms + 86_400_000,
        }
    }

    fn gateway(&self) -> Gateway::GatewayInstance<&DynProvider> {
        Gateway::new(self.d.gateway, &self.provider)
    }

    fn transfer_as_user(&self) -> TransferApp::TransferAppInstance<&DynProvider> {
        TransferApp::new(self.d.transfer, &self.user_provider)
    }

    fn transfer(&self) -> TransferApp::TransferAppInstance<&DynProvider> {
        TransferApp::new(self.d.transfer, &self.provider)
    }

    /// Commits a block on alpha and brings the Gateway's client of alpha to it.
    async fn alpha_block(
        &mut self,
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> (Height, TransactionReceipt) {
        let h = self.alpha.commit(writes);
        let body = update_body(&self.alpha.id, &[self.alpha.light_block(h)]);
        let receipt = submit(self.gateway().updateClient(body))
            .await
            .expect("updateClient");
        (h, receipt)
    }

    /// A message on alpha → evm at alpha's next sequence.
    fn alpha_message(&self, receiver: &str, payload: Vec<u8>, timeout: Timeout) -> Message {
        Message {
            source: self.alpha.id.clone(),
            destination: self.evm.clone(),
            sequence: self.alpha.next_send(&self.evm),
            sender: vec![0xa1; 20],
            receiver: receiver.into(),
            payload,
            timeout,
        }
    }

    /// Sends `messages` (consecutive sequences) on alpha in one block, proven there.
    async fn alpha_sends(&mut self, messages: &[Message]) -> Height {
        let mut writes = Vec::new();
        for m in messages {
            writes.extend(self.alpha.send_writes(m));
        }
        self.alpha_block(writes).await.0
    }

    fn inbound(&self, messages: &[Message], h: Height) -> Vec<(Message, SourceProof, StateProof)> {
        messages
            .iter()
            .map(|m| {
                let proof = self
                    .alpha
                    .prove(&paths::commitment(&m.destination, m.sequence), h);
                (m.clone(), SourceProof::Committed, proof)
            })
            .collect()
    }

    async fn recv(
        &self,
        h: Height,
        items: &[(Message, SourceProof, StateProof)],
    ) -> Result<TransactionReceipt, Reverted> {
        submit(self.gateway().recv(recv_body(&self.alpha.id, h, items))).await
    }

    async fn provable(&self, path: &[u8]) -> [u8; 32] {
        self.gateway()
            .provableAt(Bytes::copy_from_slice(path))
            .call()
            .await
            .expect("provableAt")
            .0
    }

    async fn next_recv(&self) -> u64 {
        self.gateway()
            .nextRecv(Bytes::copy_from_slice(self.alpha.id.as_str().as_bytes()))
            .call()
            .await
            .expect("nextRecv")
    }

    async fn balance(&self, denom: &str, account: EvmAddress) -> u128 {
        self.transfer()
            .balanceOf(Bytes::copy_from_slice(denom.as_bytes()), account)
            .call()
            .await
            .expect("balanceOf")
    }

    async fn supply(&self, denom: &str) -> u128 {
        self.transfer()
            .supplyOf(Bytes::copy_from_slice(denom.as_bytes()))
            .call()
            .await
            .expect("supplyOf")
    }

    async fn escrow(&self, denom: &str) -> u128 {
        self.transfer()
            .escrowOf(
                Bytes::copy_from_slice(self.alpha.id.as_str().as_bytes()),
                Bytes::copy_from_slice(denom.as_bytes()),
            )
            .call()
            .await
            .expect("escrowOf")
    }

    /// The messages the Gateway emitted as `Sent` in `receipt`.
    fn sent(&self, receipt: &TransactionReceipt) -> Vec<Message> {
        events::<Gateway::Sent>(receipt, self.d.gateway)
            .into_iter()
            .map(|e| Message::decode(&e.message).expect("Sent carries a canonical message"))
            .collect()
    }

    /// alpha receives an EVM-sent message (receipt and ack written) and the ack is
    /// proven back on the Gateway.
    async fn alpha_acks(
        &mut self,
        message: &Message,
        ack: &Acknowledgement,
    ) -> Result<TransactionReceipt, Reverted> {
        let (h, _) = self
            .alpha_block(SourceChain::receive_writes(message, ack))
            .await;
        let proof = self
            .alpha
            .prove(&paths::ack(&message.source, message.sequence), h);
        submit(self.gateway().acknowledge(ack_body(
            &self.alpha.id,
            h,
            &[(message.clone(), ack.clone(), proof)],
        )))
        .await
    }
}

fn hash_of(bytes: &[u8]) -> [u8; 32] {
    sha256(bytes).0
}

fn echo_ack(payload: &[u8]) -> Acknowledgement {
    Acknowledgement::Success(sha256(payload).0.to_vec())
}

// ------------------------------------------------------------------ receive

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_received_in_lane_order_exactly_once() {
    let mut env = Env::start().await;
    let later = env.later();
    let messages: Vec<Message> = (0..3)
        .map(|i| {
            let mut m = env.alpha_message("echo", format!("hello {i}").into_bytes(), later);
            m.sequence += i;
            m
        })
        .collect();
    let h = env.alpha_sends(&messages).await;
    let items = env.inbound(&messages, h);

    // A gap refuses the whole batch and changes nothing.
    match env.recv(h, &items[1..]).await {
        Err(Reverted::Gateway(GatewayErrors::OutOfOrder(e))) => {
            assert_eq!((e.expected, e.found), (1, 2))
        }
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    assert_eq!(env.next_recv().await, 1);

    let receipt = env.recv(h, &items).await.expect("recv");
    let received = events::<Gateway::Received>(&receipt, env.d.gateway);
    assert_eq!(received.len(), 3);
    for (event, m) in received.iter().zip(&messages) {
        assert_eq!(event.message.as_ref(), m.encode().as_slice());
        let ack = Acknowledgement::decode(&event.ack).expect("canonical ack");
        assert_eq!(
            ack,
            echo_ack(&m.payload),
            "echo acks with the payload's SHA-256"
        );
        // The provable convention: sha256(path) -> sha256(value).
        assert_eq!(
            env.provable(&paths::receipt(&env.alpha.id, m.sequence))
                .await,
            hash_of(&[1])
        );
        assert_eq!(
            env.provable(&paths::ack(&env.alpha.id, m.sequence)).await,
            hash_of(&ack.commitment().0)
        );
    }
    assert_eq!(env.next_recv().await, 4);
    // The same values sit where a client of this chain reads them with eth_getProof: the
    // slot-0 mapping `provable`, at keccak256(sha256(path) ‖ 0).
    for (path, value) in [
        (paths::receipt(&env.alpha.id, 3), hash_of(&[1])),
        (
            paths::next_receive(&env.alpha.id),
            hash_of(&4u64.to_be_bytes()),
        ),
        (paths::receipt(&env.alpha.id, 4), [0; 32]),
    ] {
        let word = env
            .provider
            .get_storage_at(env.d.gateway, provable_slot(&path).into())
            .await
            .expect("eth_getStorageAt");
        assert_eq!(word.to_be_bytes::<32>(), value);
    }
    assert_eq!(
        env.provable(&paths::next_receive(&env.alpha.id)).await,
        hash_of(&4u64.to_be_bytes())
    );

    // The same batch again: every item already done, nothing delivered twice.
    let again = env.recv(h, &items).await.expect("duplicate recv succeeds");
    assert!(events::<Gateway::Received>(&again, env.d.gateway).is_empty());
    let done = events::<Gateway::AlreadyDone>(&again, env.d.gateway);
    let ids: Vec<[u8; 32]> = messages.iter().map(|m| m.id().0 .0).collect();
    assert_eq!(
        done.iter().map(|e| e.messageId.0).collect::<Vec<_>>(),
        ids,
        "AlreadyDone names each message id"
    );
    assert_eq!(env.next_recv().await, 4);

    // A duplicate followed by the next one: the duplicate is skipped, the next delivered.
    let fourth = env.alpha_message("echo", b"fourth".to_vec(), later);
    let h2 = env.alpha_sends(std::slice::from_ref(&fourth)).await;
    let mut mixed = env.inbound(&messages[2..], h2);
    mixed.extend(env.inbound(std::slice::from_ref(&fourth), h2));
    let receipt = env.recv(h2, &mixed).await.expect("mixed recv");
    assert_eq!(
        events::<Gateway::AlreadyDone>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(
        events::<Gateway::Received>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(env.next_recv().await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_proofs_and_messages_are_refused() {
    let mut env = Env::start().await;
    let later = env.later();
    let m = env.alpha_message("echo", b"genuine".to_vec(), later);
    let h = env.alpha_sends(std::slice::from_ref(&m)).await;
    let good = env.inbound(std::slice::from_ref(&m), h);

    // The message altered after it was committed: its commitment is not the proven value.
    let mut forged = good.clone();
    forged[0].0.payload = b"forged".to_vec();
    match env.recv(h, &forged).await {
        Err(Reverted::Gateway(GatewayErrors::ProofRefused(e))) => assert_eq!(e.sequence, 1),
        other => panic!("expected ProofRefused, got {other:?}"),
    }

    // A proof whose path does not hash to the root.
    let mut bad_sibling = good.clone();
    let sibling = bad_sibling[0]
        .2
        .siblings
        .iter_mut()
        .find(|s| **s != xrelay_light_client::proof::PLACEHOLDER);
    match sibling {
        Some(s) => s.0[0] ^= 1,
        None => bad_sibling[0].2.siblings.push(Hash32([7; 32])),
    }
    match env.recv(h, &bad_sibling).await {
        Err(Reverted::Gateway(GatewayErrors::ProofRefused(_))) => {}
        other => panic!("expected ProofRefused, got {other:?}"),
    }

    // A height the client never verified.
    match env.recv(h + 5, &good).await {
        // The light client's error, passed through (the Gateway's ABI has one of the same
        // signature, which decodes it first).
        Err(Reverted::Gateway(GatewayErrors::UnknownHeight(e))) => assert_eq!(e.height, h + 5),
        other => panic!("expected UnknownHeight, got {other:?}"),
    }

    // A message for another chain, and bytes after the batch.
    let mut elsewhere = good.clone();
    elsewhere[0].0.destination = ChainId::new("gamma").expect("id");
    match env.recv(h, &elsewhere).await {
        Err(Reverted::Gateway(GatewayErrors::WrongLane(_))) => {}
        other => panic!("expected WrongLane, got {other:?}"),
    }
    let mut trailing = recv_body(&env.alpha.id, h, &good).to_vec();
    trailing.push(0);
    match submit(env.gateway().recv(trailing.into())).await {
        Err(Reverted::Gateway(GatewayErrors::TrailingBytes(e))) => {
            assert_eq!(e.count, alloy::primitives::U256::from(1))
        }
        other => panic!("expected TrailingBytes, got {other:?}"),
    }

    assert_eq!(env.next_recv().await, 1, "nothing was received");
    let receipt = env.recv(h, &good).await.expect("the genuine message");
    assert_eq!(
        events::<Gateway::Received>(&receipt, env.d.gateway).len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_messages_move_the_lane_without_running_the_app() {
    let mut env = Env::start().await;
    let later = env.later();
    // Past its timeout on the EVM chain already (height 1 is behind us).
    let expired = env.alpha_message(
        "transfer",
        transfer_packet("atom", 5, EvmAddress::repeat_byte(0xa1), env.user),
        Timeout {
            height: 1,
            time_ms: 0,
        },
    );
    let h = env.alpha_sends(std::slice::from_ref(&expired)).await;
    let receipt = env
        .recv(h, &env.inbound(std::slice::from_ref(&expired), h))
        .await
        .expect("recv of an expired message");
    assert_eq!(events::<Gateway::Expired>(&receipt, env.d.gateway).len(), 1);
    assert!(events::<Gateway::Received>(&receipt, env.d.gateway).is_empty());
    assert_eq!(
        env.provable(&paths::receipt(&env.alpha.id, 1)).await,
        [0; 32],
        "no receipt: the source can prove the timeout"
    );
    assert_eq!(env.supply("v/alpha/atom").await, 0, "the app did not run");
    assert_eq!(env.next_recv().await, 2);

    // The source's timed-out outcome may skip a message only if it is expired here too.
    let live = env.alpha_message("echo", b"live".to_vec(), later);
    let mut writes = env.alpha.send_writes(&live);
    writes.push((outcome_path(&env.evm, live.sequence), Some(vec![3])));
    let (h2, _) = env.alpha_block(writes).await;
    let outcome_proof = env.alpha.prove(&outcome_path(&env.evm, live.sequence), h2);
    match env
        .recv(h2, &[(live.clone(), SourceProof::TimedOut, outcome_proof)])
        .await
    {
        Err(Reverted::Gateway(GatewayErrors::NotTimedOut(e))) => assert_eq!(e.sequence, 2),
        other => panic!("expected NotTimedOut, got {other:?}"),
    }

    // An expired message whose commitment the source already deleted (timed out there).
    let gone = {
        let mut m = env.alpha_message(
            "echo",
            b"gone".to_vec(),
            Timeout {
                height: 1,
                time_ms: 0,
            },
        );
        m.sequence = 2;
        m
    };
    let (h3, _) = env
        .alpha_block(vec![
            (paths::commitment(&env.evm, 2), None),
            (outcome_path(&env.evm, 2), Some(vec![3])),
        ])
        .await;
    // The outcome proves the timed-out state at h3 for sequence 2 whatever its content was;
    // the Gateway only needs it past its own timeout here.
    let proof = env.alpha.prove(&outcome_path(&env.evm, 2), h3);
    let receipt = env
        .recv(h3, &[(gone, SourceProof::TimedOut, proof)])
        .await
        .expect("skipping a message the source timed out");
    assert_eq!(events::<Gateway::Expired>(&receipt, env.d.gateway).len(), 1);
    assert_eq!(env.next_recv().await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_app_gives_an_error_ack_and_keeps_none_of_its_writes() {
    let mut env = Env::start().await;
    let later = env.later();
    let sender = EvmAddress::repeat_byte(0xa1);
    // A voucher "coming home" that was never escrowed here: the app reverts.
    let unbacked = env.alpha_message(
        "transfer",
        transfer_packet("v/evm/xrd", 10, sender, env.user),
        later,
    );
    let mut nobody = env.alpha_message("nope", b"x".to_vec(), later);
    nobody.sequence += 1;
    let mut bad_payload = env.alpha_message("transfer", b"not a packet".to_vec(), later);
    bad_payload.sequence += 2;
    let all = [unbacked, nobody, bad_payload];
    let h = env.alpha_sends(&all).await;
    let receipt = env.recv(h, &env.inbound(&all, h)).await.expect("recv");
    let acks: Vec<Acknowledgement> = events::<Gateway::Received>(&receipt, env.d.gateway)
        .iter()
        .map(|e| Acknowledgement::decode(&e.ack).expect("canonical ack"))
        .collect();
    let texts: Vec<String> = acks
        .iter()
        .map(|a| match a {
            Acknowledgement::Error(text) => text.clone(),
            ok => panic!("expected an error ack, got {ok:?}"),
        })
        .collect();
    assert!(texts[0].contains("cannot release 10"), "{texts:?}");
    assert_eq!(texts[1], "no app named \"nope\"");
    assert!(texts[2].starts_with("bad payload"), "{texts:?}");
    assert_eq!(env.balance("xrd", env.user).await, 0);
    assert_eq!(env.supply("xrd").await, 0);
    // Error acks are acks: the messages are received and their acks committed.
    assert_eq!(
        env.provable(&paths::ack(&env.alpha.id, 2)).await,
        hash_of(&acks[1].commitment().0)
    );
    assert_eq!(env.next_recv().await, 4);
}

// ------------------------------------------------------------------ re-entrancy

/// An app that re-enters the Gateway from its callbacks: with the relay body being
/// delivered (`recv` from `onReceive`), the ack being proven (`acknowledge` from
/// `onAcknowledge`), the timeout (`timeout` from `onTimeout`) and a send from `onSend`. Each
/// re-entry reverts with `Reentered` and the outer call completes once; while the app runs,
/// the Gateway already shows the message received and the lane moved. A reply sent from
/// `onReceive` is allowed.
#[tokio::test(flavor = "multi_thread")]
async fn apps_cannot_re_enter_the_gateway() {
    let mut env = Env::start().await;
    let later = env.later();
    let app = ReentrantApp::deploy(env.provider.clone(), env.d.gateway)
        .await
        .expect("deploy ReentrantApp");
    submit(
        env.gateway()
            .registerApp(Bytes::from_static(b"reentrant"), *app.address()),
    )
    .await
    .expect("registerApp");
    let reentered = Bytes::from(Gateway::Reentered {}.abi_encode());
    let check = |what: &'static str| {
        let app = &app;
        let reentered = reentered.clone();
        async move {
            assert!(
                app.tried().call().await.unwrap(),
                "{what}: no re-entry tried"
            );
            assert!(
                !app.succeeded().call().await.unwrap(),
                "{what}: re-entry went through"
            );
            assert_eq!(app.revertData().call().await.unwrap(), reentered, "{what}");
        }
    };

    // recv from onReceive, with the very body being delivered; the app replies with a send.
    let m = env.alpha_message("reentrant", b"hello".to_vec(), later);
    let h = env.alpha_sends(std::slice::from_ref(&m)).await;
    let items = env.inbound(std::slice::from_ref(&m), h);
    let body = recv_body(&env.alpha.id, h, &items);
    submit(app.arm(Gateway::recvCall { body }.abi_encode().into(), true))
        .await
        .expect("arm");
    let receipt = env.recv(h, &items).await.expect("recv");
    check("recv").await;
    assert_eq!(
        events::<Gateway::Received>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(app.received().call().await.unwrap(), 1, "the app ran once");
    assert_eq!(
        app.seenNextRecv().call().await.unwrap(),
        2,
        "lane moved before the app ran"
    );
    assert_eq!(
        app.seenReceipt().call().await.unwrap().0,
        hash_of(&[1]),
        "receipt written before the app ran"
    );
    assert_eq!(env.next_recv().await, 2);
    let replies = env.sent(&receipt);
    assert_eq!(replies.len(), 1, "a send from onReceive is allowed");
    assert_eq!(
        app.replySequence().call().await.unwrap(),
        replies[0].sequence
    );

    // acknowledge from onAcknowledge, with the same ack body.
    let reply = replies[0].clone();
    let ack = Acknowledgement::Success(b"ok".to_vec());
    let (h, _) = env
        .alpha_block(SourceChain::receive_writes(&reply, &ack))
        .await;
    let proof = env
        .alpha
        .prove(&paths::ack(&reply.source, reply.sequence), h);
    let body = ack_body(&env.alpha.id, h, &[(reply.clone(), ack, proof)]);
    submit(
        app.arm(
            Gateway::acknowledgeCall { body: body.clone() }
                .abi_encode()
                .into(),
            false,
        ),
    )
    .await
    .expect("arm");
    let receipt = submit(env.gateway().acknowledge(body))
        .await
        .expect("acknowledge");
    check("acknowledge").await;
    assert_eq!(
        events::<Gateway::Acknowledged>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(
        env.provable(&outcome_path(&env.alpha.id, reply.sequence))
            .await,
        hash_of(&[1])
    );

    // A send from onSend (the user sends through the app's name; the app sends again).
    let alpha = Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes());
    let nested = Gateway::sendMessageCall {
        destination: alpha.clone(),
        app: Bytes::from_static(b"reentrant"),
        timeoutHeight: 0,
        timeoutTimeMs: later.time_ms,
        payload: Bytes::from_static(b"nested"),
    };
    submit(app.arm(nested.abi_encode().into(), false))
        .await
        .expect("arm");
    let gw = Gateway::new(env.d.gateway, env.user_provider.clone());
    let timeout_height = env.alpha.height() + 1;
    let receipt = submit(gw.sendMessage(
        alpha,
        Bytes::from_static(b"reentrant"),
        timeout_height,
        0,
        Bytes::from_static(b"late"),
    ))
    .await
    .expect("send");
    check("send").await;
    let late = env.sent(&receipt);
    assert_eq!(late.len(), 1, "one message, not two");
    let late = late[0].clone();

    // timeout from onTimeout, with the same timeout body.
    let (h, _) = env.alpha_block(Vec::new()).await;
    assert!(h >= timeout_height);
    let proof = env
        .alpha
        .prove(&paths::receipt(&late.source, late.sequence), h);
    let body = timeout_body(&env.alpha.id, h, &[(late.clone(), proof)]);
    submit(
        app.arm(
            Gateway::timeoutCall { body: body.clone() }
                .abi_encode()
                .into(),
            false,
        ),
    )
    .await
    .expect("arm");
    let receipt = submit(env.gateway().timeout(body)).await.expect("timeout");
    check("timeout").await;
    assert_eq!(
        events::<Gateway::TimedOut>(&receipt, env.d.gateway).len(),
        1
    );
}

// ------------------------------------------------------------------ send, ack, timeout

#[tokio::test(flavor = "multi_thread")]
async fn sent_messages_settle_with_proven_acks_and_timeouts() {
    let mut env = Env::start().await;
    let gw = Gateway::new(env.d.gateway, env.user_provider.clone());
    let alpha = Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes());
    let far = env.alpha.genesis_ms + 86_400_000;
    let receipt = submit(gw.sendMessage(
        alpha.clone(),
        Bytes::from_static(b"echo"),
        0,
        far,
        Bytes::from_static(b"ping"),
    ))
    .await
    .expect("send");
    let sent = env.sent(&receipt);
    assert_eq!(sent.len(), 1);
    let m = sent[0].clone();
    assert_eq!(
        (m.source.as_str(), m.destination.as_str(), m.sequence),
        ("evm", "alpha", 1)
    );
    assert_eq!(
        m.sender,
        env.user.as_slice(),
        "sender: the caller's 20 bytes"
    );
    assert_eq!(
        env.provable(&paths::commitment(&env.alpha.id, 1)).await,
        hash_of(&m.commitment().0)
    );
    assert_eq!(
        env.provable(&paths::next_send(&env.alpha.id)).await,
        hash_of(&2u64.to_be_bytes())
    );

    // An ack for a message never sent, and one whose message differs from the committed.
    let mut unknown = m.clone();
    unknown.sequence = 9;
    let ack = echo_ack(b"ping");
    match env.alpha_acks(&unknown, &ack).await {
        Err(Reverted::Gateway(GatewayErrors::UnknownMessage(_))) => {}
        other => panic!("expected UnknownMessage, got {other:?}"),
    }
    let mut altered = m.clone();
    altered.payload = b"pong".to_vec();
    match env.alpha_acks(&altered, &ack).await {
        Err(Reverted::Gateway(GatewayErrors::CommitmentMismatch(_))) => {}
        other => panic!("expected CommitmentMismatch, got {other:?}"),
    }
    // An ack other than the one alpha committed.
    let h = env.alpha.height();
    let wrong = Acknowledgement::Error("made up".into());
    let proof = env.alpha.prove(&paths::ack(&m.source, 1), h);
    match submit(env.gateway().acknowledge(ack_body(
        &env.alpha.id,
        h,
        &[(m.clone(), wrong, proof)],
    )))
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::ProofRefused(_))) => {}
        other => panic!("expected ProofRefused, got {other:?}"),
    }

    let receipt = env.alpha_acks(&m, &ack).await.expect("acknowledge");
    let acked = events::<Gateway::Acknowledged>(&receipt, env.d.gateway);
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].ack.as_ref(), ack.encode().as_slice());
    assert_eq!(
        env.provable(&paths::commitment(&env.alpha.id, 1)).await,
        [0; 32]
    );
    assert_eq!(
        env.provable(&outcome_path(&env.alpha.id, 1)).await,
        hash_of(&[1])
    );
    // Again: already done.
    let h = env.alpha.height();
    let proof = env.alpha.prove(&paths::ack(&m.source, 1), h);
    let again = submit(env.gateway().acknowledge(ack_body(
        &env.alpha.id,
        h,
        &[(m.clone(), ack.clone(), proof)],
    )))
    .await
    .expect("repeated ack");
    assert_eq!(
        events::<Gateway::AlreadyDone>(&again, env.d.gateway).len(),
        1
    );

    // A message that alpha never receives before its timeout height.
    let timeout_height = env.alpha.height() + 2;
    let receipt = submit(gw.sendMessage(
        alpha,
        Bytes::from_static(b"echo"),
        timeout_height,
        0,
        Bytes::from_static(b"late"),
    ))
    .await
    .expect("send");
    let late = env.sent(&receipt)[0].clone();
    let (h, _) = env.alpha_block(Vec::new()).await;
    let proof = env
        .alpha
        .prove(&paths::receipt(&late.source, late.sequence), h);
    match submit(
        env.gateway()
            .timeout(timeout_body(&env.alpha.id, h, &[(late.clone(), proof)])),
    )
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::NotTimedOut(e))) => assert_eq!(e.height, h),
        other => panic!("expected NotTimedOut, got {other:?}"),
    }
    let (h, _) = env.alpha_block(Vec::new()).await;
    assert!(h >= timeout_height);
    let proof = env
        .alpha
        .prove(&paths::receipt(&late.source, late.sequence), h);
    let items = [(late.clone(), proof)];
    let receipt = submit(
        env.gateway()
            .timeout(timeout_body(&env.alpha.id, h, &items)),
    )
    .await
    .expect("timeout");
    assert_eq!(
        events::<Gateway::TimedOut>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(
        env.provable(&outcome_path(&env.alpha.id, late.sequence))
            .await,
        hash_of(&[3])
    );
    let again = submit(
        env.gateway()
            .timeout(timeout_body(&env.alpha.id, h, &items)),
    )
    .await
    .expect("repeated timeout");
    assert_eq!(
        events::<Gateway::AlreadyDone>(&again, env.d.gateway).len(),
        1
    );

    // A receipt that exists cannot be proven absent.
    let receipt = submit(gw.sendMessage(
        Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes()),
        Bytes::from_static(b"echo"),
        env.alpha.height() + 1,
        0,
        Bytes::from_static(b"delivered"),
    ))
    .await
    .expect("send");
    let delivered = env.sent(&receipt)[0].clone();
    let (h, _) = env
        .alpha_block(SourceChain::receive_writes(
            &delivered,
            &echo_ack(b"delivered"),
        ))
        .await;
    let proof = env
        .alpha
        .prove(&paths::receipt(&delivered.source, delivered.sequence), h);
    match submit(
        env.gateway()
            .timeout(timeout_body(&env.alpha.id, h, &[(delivered, proof)])),
    )
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::ProofRefused(_))) => {}
        other => panic!("expected ProofRefused, got {other:?}"),
    }
}

// ------------------------------------------------------------------ transfer app

#[tokio::test(flavor = "multi_thread")]
async fn transfers_escrow_mint_vouchers_refund_and_conserve_supply() {
    let mut env = Env::start().await;
    let user = env.user;
    let alice_on_alpha = EvmAddress::repeat_byte(0xa1);
    let denom = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    let alpha = Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes());
    let far = env.alpha.genesis_ms + 86_400_000;

    // Genesis funds: governance only.
    match submit(env.transfer_as_user().mint(user, denom("xrd"), 1)).await {
        // TransferApp's NotGovernance(address) has the Gateway's signature.
        Err(Reverted::Gateway(GatewayErrors::NotGovernance(e))) => assert_eq!(e.caller, user),
        other => panic!("a user cannot mint: {other:?}"),
    }
    submit(env.transfer().mint(user, denom("xrd"), 1_000))
        .await
        .expect("mint");
    assert_eq!(env.supply("xrd").await, 1_000);

    // A local payment.
    submit(env.transfer_as_user().pay(env.admin, denom("xrd"), 10))
        .await
        .expect("pay");
    assert_eq!(env.balance("xrd", env.admin).await, 10);
    assert_eq!(env.balance("xrd", user).await, 990);

    // xrd to alpha: escrowed here; alpha acks success (it minted v/evm/xrd there).
    let receipt = submit(env.transfer_as_user().send(
        alpha.clone(),
        denom("xrd"),
        300,
        alice_on_alpha,
        0,
        far,
    ))
    .await
    .expect("send xrd");
    let out = env.sent(&receipt)[0].clone();
    assert_eq!(out.receiver, "transfer");
    assert_eq!(
        out.payload,
        transfer_packet("xrd", 300, user, alice_on_alpha)
    );
    assert_eq!(env.escrow("xrd").await, 300);
    assert_eq!(env.balance("xrd", user).await, 690);
    env.alpha_acks(&out, &Acknowledgement::Success(vec![1]))
        .await
        .expect("ack");
    assert_eq!(env.escrow("xrd").await, 300, "vouchers on alpha: 300");

    // Sending more than the balance is refused with the app's reason.
    match submit(env.transfer_as_user().send(
        alpha.clone(),
        denom("xrd"),
        10_000,
        alice_on_alpha,
        0,
        far,
    ))
    .await
    {
        Err(Reverted::Reason(why)) => {
            assert_eq!(why, "insufficient funds: xrd balance 690 < 10000")
        }
        other => panic!("expected insufficient funds, got {other:?}"),
    }

    // 100 of alpha's vouchers come home: escrow released to the user.
    let later = env.later();
    let home = env.alpha_message(
        "transfer",
        transfer_packet("v/evm/xrd", 100, alice_on_alpha, user),
        later,
    );
    // alpha's native atom arrives: a voucher is minted here.
    let mut atom = env.alpha_message(
        "transfer",
        transfer_packet("atom", 50, alice_on_alpha, user),
        later,
    );
    atom.sequence += 1;
    let h = env.alpha_sends(&[home.clone(), atom.clone()]).await;
    let receipt = env
        .recv(h, &env.inbound(&[home, atom], h))
        .await
        .expect("recv transfers");
    for e in events::<Gateway::Received>(&receipt, env.d.gateway) {
        assert_eq!(
            Acknowledgement::decode(&e.ack).expect("ack"),
            Acknowledgement::Success(vec![1])
        );
    }
    assert_eq!(env.escrow("xrd").await, 200);
    assert_eq!(env.balance("xrd", user).await, 790);
    assert_eq!(env.supply("xrd").await, 1_000, "xrd is conserved");
    assert_eq!(env.balance("v/alpha/atom", user).await, 50);
    assert_eq!(env.supply("v/alpha/atom").await, 50);

    // The atom voucher goes home: burned here; alpha refuses it (error ack): re-minted.
    let receipt = submit(env.transfer_as_user().send(
        alpha.clone(),
        denom("v/alpha/atom"),
        20,
        alice_on_alpha,
        0,
        far,
    ))
    .await
    .expect("send voucher home");
    let back = env.sent(&receipt)[0].clone();
    assert_eq!(
        env.supply("v/alpha/atom").await,
        30,
        "burned while in flight"
    );
    env.alpha_acks(&back, &Acknowledgement::Error("alpha refused".into()))
        .await
        .expect("error ack");
    assert_eq!(env.supply("v/alpha/atom").await, 50, "refund re-mints");
    assert_eq!(env.balance("v/alpha/atom", user).await, 50);

    // xrd that alpha never receives before the timeout: refunded from escrow.
    let timeout_height = env.alpha.height() + 1;
    let receipt = submit(env.transfer_as_user().send(
        alpha.clone(),
        denom("xrd"),
        40,
        alice_on_alpha,
        timeout_height,
        0,
    ))
    .await
    .expect("send xrd");
    let lost = env.sent(&receipt)[0].clone();
    assert_eq!(env.escrow("xrd").await, 240);
    assert_eq!(env.balance("xrd", user).await, 750);
    let (h, _) = env.alpha_block(Vec::new()).await;
    let proof = env
        .alpha
        .prove(&paths::receipt(&lost.source, lost.sequence), h);
    let receipt = submit(
        env.gateway()
            .timeout(timeout_body(&env.alpha.id, h, &[(lost, proof)])),
    )
    .await
    .expect("timeout");
    assert_eq!(
        events::<Gateway::TimedOut>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(
        env.escrow("xrd").await,
        200,
        "escrow = alpha's 200 vouchers"
    );
    assert_eq!(env.balance("xrd", user).await, 790);
    assert_eq!(
        env.balance("xrd", user).await
            + env.balance("xrd", env.admin).await
            + env.escrow("xrd").await,
        env.supply("xrd").await,
        "balances plus escrow are the supply"
    );
}

// ------------------------------------------------------------------ clients through the gateway

#[tokio::test(flavor = "multi_thread")]
async fn client_events_come_from_the_gateway_and_a_frozen_client_proves_nothing() {
    let mut env = Env::start().await;
    let later = env.later();
    let m = env.alpha_message("echo", b"before".to_vec(), later);
    let h = env.alpha.commit(env.alpha.send_writes(&m));
    let block = env.alpha.light_block(h);
    let receipt = submit(
        env.gateway()
            .updateClient(update_body(&env.alpha.id, std::slice::from_ref(&block))),
    )
    .await
    .expect("update");
    let updated = events::<Gateway::ClientUpdated>(&receipt, env.d.gateway);
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].chainId.as_ref(), b"alpha");
    assert_eq!(updated[0].heights, vec![h]);
    assert_eq!(updated[0].hashes[0].0, block.header().hash().0);

    // Two headers at one height, both signed by the whole set: evidence.
    let mut other = env.alpha.headers[(h - 1) as usize].clone();
    other.state_root = sha256(b"another state");
    let evidence = Misbehaviour {
        trusted_height: 1,
        trusted_next_validators: env.alpha.set.clone(),
        first: block,
        second: env.alpha.signed(other),
    };
    let receipt = submit(
        env.gateway()
            .submitMisbehaviour(misbehaviour_body(&env.alpha.id, &evidence)),
    )
    .await
    .expect("misbehaviour");
    let frozen = events::<Gateway::ClientFrozen>(&receipt, env.d.gateway);
    assert_eq!(frozen.len(), 1);
    assert_eq!(frozen[0].chainId.as_ref(), b"alpha");
    match env.recv(h, &env.inbound(std::slice::from_ref(&m), h)).await {
        Err(Reverted::LightClient(BftLightClientErrors::FrozenClient(_))) => {}
        other => panic!("expected FrozenClient, got {other:?}"),
    }
}

// ------------------------------------------------------------------ who may do what

#[tokio::test(flavor = "multi_thread")]
async fn sends_and_registrations_are_checked() {
    let env = Env::start().await;
    let as_user = Gateway::new(env.d.gateway, env.user_provider.clone());
    let alpha = Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes());
    let later = env.later().time_ms;

    // Apps are registered by governance only, once per name and per address.
    match submit(as_user.registerApp(Bytes::from_static(b"mine"), env.user)).await {
        Err(Reverted::Gateway(GatewayErrors::NotGovernance(e))) => assert_eq!(e.caller, env.user),
        other => panic!("expected NotGovernance, got {other:?}"),
    }
    match submit(
        env.gateway()
            .registerApp(Bytes::from_static(b"echo"), env.user),
    )
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::InvalidApp(_))) => {}
        other => panic!("expected InvalidApp, got {other:?}"),
    }
    match submit(
        env.gateway()
            .registerApp(Bytes::from_static(b"echo2"), env.d.echo),
    )
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::InvalidApp(_))) => {}
        other => panic!("expected InvalidApp, got {other:?}"),
    }
    match submit(
        env.gateway()
            .registerApp(Bytes::from_static(b"wallet"), env.user),
    )
    .await
    {
        Err(Reverted::Gateway(GatewayErrors::InvalidApp(_))) => {}
        other => panic!("an account without code is no app: {other:?}"),
    }
    assert_eq!(
        env.gateway()
            .appAddress(Bytes::from_static(b"transfer"))
            .call()
            .await
            .expect("appAddress"),
        env.d.transfer
    );

    // Only a registered app sends on behalf of someone else.
    match submit(as_user.sendFromApp(env.admin, alpha.clone(), 0, later, Bytes::from_static(b"x")))
        .await
    {
        Err(Reverted::Gateway(GatewayErrors::NotAnApp(e))) => assert_eq!(e.caller, env.user),
        other => panic!("expected NotAnApp, got {other:?}"),
    }
    // Unknown apps, chains without a client, this chain, malformed ids, no timeout.
    let send = |dst: &'static [u8], app: &'static [u8], th: u64, tt: u64| {
        as_user.sendMessage(
            Bytes::from_static(dst),
            Bytes::from_static(app),
            th,
            tt,
            Bytes::from_static(b"x"),
        )
    };
    match submit(send(b"alpha", b"nope", 0, later)).await {
        Err(Reverted::Gateway(GatewayErrors::UnknownApp(_))) => {}
        other => panic!("expected UnknownApp, got {other:?}"),
    }
    match submit(send(b"gamma", b"echo", 0, later)).await {
        Err(Reverted::Gateway(GatewayErrors::UnknownClient(_))) => {}
        other => panic!("expected UnknownClient, got {other:?}"),
    }
    for (dst, th, tt) in [
        (&b"evm"[..], 0, later),
        (&b"al/pha"[..], 0, later),
        (&b"alpha"[..], 0, 0),
    ] {
        let call = as_user.sendMessage(
            Bytes::from_static(dst),
            Bytes::from_static(b"echo"),
            th,
            tt,
            Bytes::from_static(b"x"),
        );
        match submit(call).await {
            Err(Reverted::Gateway(GatewayErrors::InvalidSend(_)))
            | Err(Reverted::Gateway(GatewayErrors::InvalidValue(_))) => {}
            other => panic!("expected a refused send to {dst:?}, got {other:?}"),
        }
    }

    // A transfer packet sent directly must name its sender as the payer.
    submit(
        env.transfer()
            .mint(env.admin, Bytes::from_static(b"xrd"), 5),
    )
    .await
    .expect("mint");
    let theirs = transfer_packet("xrd", 5, env.admin, env.user);
    match submit(as_user.sendMessage(
        alpha.clone(),
        Bytes::from_static(b"transfer"),
        0,
        later,
        theirs.into(),
    ))
    .await
    {
        Err(Reverted::Reason(why)) => assert_eq!(why, "payload sender is not the message sender"),
        other => panic!("expected the sender check, got {other:?}"),
    }
    let own = transfer_packet("xrd", 5, env.admin, env.user);
    let as_admin = env.gateway();
    let receipt =
        submit(as_admin.sendMessage(alpha, Bytes::from_static(b"transfer"), 0, later, own.into()))
            .await
            .expect("a direct transfer send");
    assert_eq!(env.sent(&receipt)[0].sender, env.admin.as_slice());
    assert_eq!(env.escrow("xrd").await, 5);
    assert_eq!(env.balance("xrd", env.admin).await, 0);
}

/// An ack batch naming one message twice settles it once: the second item is already
/// done, so an error ack refunds once.
#[tokio::test(flavor = "multi_thread")]
async fn one_message_twice_in_a_batch_is_settled_once() {
    let mut env = Env::start().await;
    submit(
        env.transfer()
            .mint(env.user, Bytes::from_static(b"xrd"), 100),
    )
    .await
    .expect("mint");
    let receipt = submit(env.transfer_as_user().send(
        Bytes::copy_from_slice(env.alpha.id.as_str().as_bytes()),
        Bytes::from_static(b"xrd"),
        60,
        EvmAddress::repeat_byte(0xa1),
        0,
        env.later().time_ms,
    ))
    .await
    .expect("send");
    let m = env.sent(&receipt)[0].clone();
    assert_eq!(env.balance("xrd", env.user).await, 40);
    let ack = Acknowledgement::Error("refused".into());
    let (h, _) = env.alpha_block(SourceChain::receive_writes(&m, &ack)).await;
    let proof = env.alpha.prove(&paths::ack(&m.source, m.sequence), h);
    let item = (m.clone(), ack, proof);
    let receipt = submit(env.gateway().acknowledge(ack_body(
        &env.alpha.id,
        h,
        &[item.clone(), item],
    )))
    .await
    .expect("acknowledge");
    assert_eq!(
        events::<Gateway::Acknowledged>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(
        events::<Gateway::AlreadyDone>(&receipt, env.d.gateway).len(),
        1
    );
    assert_eq!(env.balance("xrd", env.user).await, 100, "refunded once");
    assert_eq!(env.escrow("xrd").await, 0);
    assert_eq!(
        env.provable(&outcome_path(&env.alpha.id, m.sequence)).await,
        hash_of(&[2]),
        "outcome: error ack, refunded"
    );
}

/// A relayer cannot turn a good message into an error ack by starving the app of gas: a
/// call that leaves less than the app's budget reverts as a whole.
#[tokio::test(flavor = "multi_thread")]
async fn too_little_gas_for_the_app_reverts_instead_of_failing_the_message() {
    let mut env = Env::start().await;
    let later = env.later();
    let m = env.alpha_message("echo", b"hungry".to_vec(), later);
    let h = env.alpha_sends(std::slice::from_ref(&m)).await;
    let body = recv_body(&env.alpha.id, h, &env.inbound(std::slice::from_ref(&m), h));
    let starved = env.gateway().recv(body.clone()).gas(300_000).call().await;
    match starved.map_err(reverted) {
        Err(Reverted::Gateway(GatewayErrors::InsufficientGas(_))) => {}
        other => panic!("expected InsufficientGas, got {other:?}"),
    }
    let receipt = submit(env.gateway().recv(body)).await.expect("recv");
    let ack = &events::<Gateway::Received>(&receipt, env.d.gateway)[0].ack;
    assert_eq!(
        Acknowledgement::decode(ack).expect("ack"),
        echo_ack(b"hungry")
    );
}

// ------------------------------------------------------------------ gas

/// Gas used per received message for batches of 1, 10 and 50 echo messages and transfers
/// (each transfer mints a voucher to a distinct new account), printed for BENCHMARKS.md and
/// bounded so a regression fails. The lane and the voucher's supply are warmed by one
/// unmeasured delivery first, so every row is the steady state. Each row also prints the
/// floor no implementation can go below: the transaction's base cost, its calldata, and the
/// fresh storage slots each delivery must write (receipt and ack; a transfer also the new
/// account's balance), 22,100 gas each.
#[tokio::test(flavor = "multi_thread")]
async fn gas_per_received_message() {
    use alloy::sol_types::SolCall;
    let mut env = Env::start().await;
    let later = env.later();
    let batch = |env: &Env, app: &str, n: u64| -> Vec<Message> {
        let first = env.alpha.next_send(&env.evm);
        (0..n)
            .map(|i| {
                let payload = if app == "echo" {
                    format!("message {first}+{i}").into_bytes()
                } else {
                    let receiver = EvmAddress::left_padding_from(&(first + i).to_be_bytes());
                    transfer_packet("atom", 1_000, EvmAddress::repeat_byte(0xa1), receiver)
                };
                let mut m = env.alpha_message(app, payload, later);
                m.sequence = first + i;
                m
            })
            .collect()
    };
    for app in ["echo", "transfer"] {
        let warm = batch(&env, app, 1);
        let h = env.alpha_sends(&warm).await;
        env.recv(h, &env.inbound(&warm, h)).await.expect("warm-up");
    }
    let mut rows = Vec::new();
    // Bounds: about 15% above what was measured when the Gateway was written.
    for (app, fresh_slots, bounds) in [
        ("echo", 2u64, [160_000u64, 103_000, 103_000]),
        ("transfer", 3u64, [213_000u64, 145_000, 145_000]),
    ] {
        for (n, bound) in [1u64, 10, 50].into_iter().zip(bounds) {
            let messages = batch(&env, app, n);
            let (h, update) = {
                let mut writes = Vec::new();
                for m in &messages {
                    writes.extend(env.alpha.send_writes(m));
                }
                env.alpha_block(writes).await
            };
            let items = env.inbound(&messages, h);
            let body = recv_body(&env.alpha.id, h, &items);
            let receipt = env.recv(h, &items).await.expect("recv batch");
            let received = events::<Gateway::Received>(&receipt, env.d.gateway);
            assert_eq!(received.len() as u64, n);
            for e in received {
                assert!(Acknowledgement::decode(&e.ack).expect("ack").is_success());
            }
            let input = Gateway::recvCall { body: body.clone() }.abi_encode();
            let calldata_gas: u64 = input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum();
            let floor = 21_000 + calldata_gas + n * fresh_slots * 22_100;
            let per = receipt.gas_used / n;
            println!(
                "gas: app={app} batch={n} total={} per_message={per} body_bytes_per_message={} \
                 floor_per_message={} ratio_to_floor={:.2} update_client={}",
                receipt.gas_used,
                body.len() as u64 / n,
                floor / n,
                receipt.gas_used as f64 / floor as f64,
                update.gas_used
            );
            assert!(per < bound, "{app} batch {n}: {per} gas per message");
            rows.push((app, n, per));
        }
    }
    // Batching amortises the transaction's fixed cost.
    for app in ["echo", "transfer"] {
        let of = |n| rows.iter().find(|r| r.0 == app && r.1 == n).map(|r| r.2);
        assert!(of(10) < of(1), "{app}: {rows:?}");
    }
}
