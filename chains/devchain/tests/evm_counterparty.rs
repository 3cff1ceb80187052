//! The devchain with a light client of an EVM chain: an attestation-mode `EvmClientState`
//! (committee of three test keys, two must sign) and a simulated EVM chain whose gateway
//! keeps the provable storage of docs/PROTOCOL.md §12 (`sha256(V)` at
//! `provable_slot(P)`), with real Merkle-Patricia state and storage tries built by
//! alloy-trie and `eth_getProof`-shaped proofs. Every lane rule of §9.1 is exercised
//! through the EVM-proven transactions (tags 6–9); one test follows the same chain in QBFT
//! mode, with sealed headers instead of attestations; misbehaviour evidence (tag 10)
//! freezes the client in both modes, and bad evidence changes nothing.

mod common;

use std::collections::BTreeMap;

use alloy_primitives::{B256, U256};
use alloy_rlp::Encodable;
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles};
use common::*;
use proptest::prelude::*;
use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::module::query::{self, SentStatus};
use xrelay_devchain::tx::{Action, Tx};
use xrelay_devchain::{Event, Module, ModuleError};
use xrelay_light_client::evm::attest::{Attestation, Attested, Committee};
use xrelay_light_client::evm::client::{
    provable_slot, EvmClientError, EvmClientState, EvmConsensusState, EvmStorageProof, EvmUpdate,
    FinalityMode,
};
use xrelay_light_client::evm::consensus::{EvmConsensus, EvmConsensusError};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{
    BftError, BftExtraData, BftHeader, BftVariant, ISTANBUL_MIX_HASH,
};
use xrelay_light_client::evm::misbehaviour::{EvmMisbehaviour, EvmMisbehaviourError, Which};
use xrelay_light_client::evm::mpt::keccak256;
use xrelay_light_client::evm::testkit::bft_reseal;
use xrelay_light_client::{
    paths, sha256, Acknowledgement, Address, ChainId, Decode, Encode, Hash32, Height, Message,
    MisbehaviourKind, SigningKey, Timeout,
};
use xrelay_protocol::{
    InboundMessage, Outcome, ProvenAck, ProvenMessage, RelayTx, SourceProof, TransferPacket,
};

// ---------------------------------------------------------------------------------------
// A simulated EVM chain: the gateway's provable storage, one state trie per block.
// ---------------------------------------------------------------------------------------

/// One block of the simulated chain: the provable storage after it, and its state root.
#[derive(Clone)]
struct EvmBlock {
    height: Height,
    time_ms: u64,
    provable: BTreeMap<Vec<u8>, Vec<u8>>,
    state_root: [u8; 32],
    block_hash: Hash32,
}

/// An EVM chain with a gateway contract, attested by a committee of three (quorum two).
struct EvmChain {
    id: ChainId,
    gateway: Address,
    committee: Vec<SigningKey>,
    /// Provable storage being built for the next block: path → value.
    pending: BTreeMap<Vec<u8>, Vec<u8>>,
    blocks: Vec<EvmBlock>,
    clock: Clock,
}

/// The state trie's RLP of an account `[nonce, balance, storageRoot, codeHash]`.
fn account_rlp(nonce: u64, balance: u64, storage_root: [u8; 32], code_hash: [u8; 32]) -> Vec<u8> {
    let balance = U256::from(balance);
    let (storage_root, code_hash) = (B256::from(storage_root), B256::from(code_hash));
    let payload = nonce.length() + balance.length() + storage_root.length() + code_hash.length();
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload,
    }
    .encode(&mut out);
    Encodable::encode(&nonce, &mut out);
    Encodable::encode(&balance, &mut out);
    Encodable::encode(&storage_root, &mut out);
    Encodable::encode(&code_hash, &mut out);
    out
}

/// A trie of `entries` (hashed keys → RLP leaves) and, if asked, the `eth_getProof` node
/// list of `target`: the path's nodes root first, without those embedded in their parent.
fn trie(entries: &BTreeMap<[u8; 32], Vec<u8>>, target: [u8; 32]) -> ([u8; 32], Vec<Vec<u8>>) {
    let retainer = ProofRetainer::from_iter([Nibbles::unpack(target)]);
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (k, v) in entries {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    let root = builder.root().0;
    let proof = builder
        .take_proof_nodes()
        .matching_nodes_sorted(&Nibbles::unpack(target))
        .into_iter()
        .enumerate()
        .filter(|(i, (_, n))| *i == 0 || n.len() >= 32)
        .map(|(_, (_, n))| n.to_vec())
        .collect();
    (root, proof)
}

impl EvmChain {
    /// The chain with block 1 (the gateway already holds a version entry, and another
    /// account shares the state trie).
    fn new(id: &str, clock: &Clock) -> Self {
        let mut chain = EvmChain {
            id: ChainId::new(id).unwrap(),
            gateway: Address([0x6a; 20]),
            committee: (0..3)
                .map(|i| SigningKey::from_seed("evm-attester", i))
                .collect(),
            pending: BTreeMap::from([(b"gateway/version".to_vec(), b"1".to_vec())]),
            blocks: Vec::new(),
            clock: clock.clone(),
        };
        chain.mine();
        chain
    }

    fn storage_entries(provable: &BTreeMap<Vec<u8>, Vec<u8>>) -> BTreeMap<[u8; 32], Vec<u8>> {
        provable
            .iter()
            .map(|(path, value)| {
                let slot_value = U256::from_be_bytes(sha256(value).0);
                (
                    keccak256(&provable_slot(path)),
                    alloy_rlp::encode(slot_value),
                )
            })
            .collect()
    }

    fn state_entries(&self, storage_root: [u8; 32]) -> BTreeMap<[u8; 32], Vec<u8>> {
        BTreeMap::from([
            (
                keccak256(&self.gateway.0),
                account_rlp(1, 0, storage_root, keccak256(b"gateway code")),
            ),
            (
                keccak256(&[0x11; 20]),
                account_rlp(7, 1_000, keccak256(&[0x80]), keccak256(&[])),
            ),
        ])
    }

    /// Seals the pending storage into the next block.
    fn mine(&mut self) -> Height {
        let height = self.blocks.len() as Height + 1;
        let storage = Self::storage_entries(&self.pending);
        let (storage_root, _) = trie(&storage, [0; 32]);
        let (state_root, _) = trie(&self.state_entries(storage_root), [0; 32]);
        let mut preimage = height.to_be_bytes().to_vec();
        preimage.extend_from_slice(&state_root);
        self.blocks.push(EvmBlock {
            height,
            time_ms: self.clock.tick(),
            provable: self.pending.clone(),
            state_root,
            block_hash: Hash32(keccak256(&preimage)),
        });
        height
    }

    fn block(&self, height: Height) -> &EvmBlock {
        &self.blocks[height as usize - 1]
    }

    fn attestation(&self, height: Height) -> Attestation {
        let b = self.block(height);
        Attestation {
            chain_id: self.id.clone(),
            height: b.height,
            block_hash: b.block_hash,
            state_root: Hash32(b.state_root),
            time_ms: b.time_ms,
        }
    }

    /// Block `height` attested by `signers` of the committee.
    fn attested(&self, height: Height, signers: &[usize]) -> EvmUpdate {
        let keys: Vec<SigningKey> = signers.iter().map(|i| self.committee[*i].clone()).collect();
        EvmUpdate::Attested(Attested::sign(self.attestation(height), &keys))
    }

    /// The client a chain would create, trusting block `height`.
    fn client_at(&self, height: Height) -> EvmClientState {
        let committee =
            Committee::new(self.committee.iter().map(|k| k.address()).collect(), 2).unwrap();
        let b = self.block(height);
        EvmClientState::new(
            self.id.clone(),
            FinalityMode::Attestation(committee),
            vec![],
            self.gateway,
            height,
            EvmConsensusState {
                block_hash: b.block_hash,
                state_root: Hash32(b.state_root),
                time_ms: b.time_ms,
            },
        )
        .unwrap()
    }

    /// `eth_getProof` of `path`'s provable slot at `height` (membership or absence).
    fn prove(&self, path: &[u8], height: Height) -> EvmStorageProof {
        let b = self.block(height);
        let slot_key = keccak256(&provable_slot(path));
        let (storage_root, storage_proof) = trie(&Self::storage_entries(&b.provable), slot_key);
        let (state_root, account_proof) = trie(
            &self.state_entries(storage_root),
            keccak256(&self.gateway.0),
        );
        assert_eq!(
            state_root, b.state_root,
            "the simulated chain is deterministic"
        );
        EvmStorageProof {
            account_proof,
            storage_proof,
        }
    }

    /// The gateway sends `message`: its commitment becomes provable.
    fn commit(&mut self, message: &Message) {
        self.pending.insert(
            paths::commitment(&message.destination, message.sequence),
            message.commitment().0.to_vec(),
        );
    }

    /// The gateway times out a message it sent: commitment gone, outcome "timed out".
    fn time_out(&mut self, message: &Message) {
        self.pending
            .remove(&paths::commitment(&message.destination, message.sequence));
        self.pending.insert(
            format!("outcomes/{}/{}", message.destination, message.sequence).into_bytes(),
            vec![Outcome::TimedOut as u8],
        );
    }

    /// The gateway receives `message` and its app answers `ack`.
    fn receive(&mut self, message: &Message, ack: &Acknowledgement) {
        self.pending
            .insert(paths::receipt(&message.source, message.sequence), vec![1]);
        self.pending.insert(
            paths::ack(&message.source, message.sequence),
            ack.commitment().0.to_vec(),
        );
    }

    /// A message of this chain's `sender` to `app` on `to`.
    fn message(&self, to: &ChainId, sequence: u64, app: &str, payload: Vec<u8>) -> Message {
        Message {
            source: self.id.clone(),
            destination: to.clone(),
            sequence,
            sender: vec![0x5e; 20],
            receiver: app.into(),
            payload,
            timeout: far(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The devchain side.
// ---------------------------------------------------------------------------------------

/// A devchain ("alpha", alice holds 1,000,000 xrd), an EVM chain ("evm-1") it has an EVM
/// client of (trusting block 1), and the shared clock.
fn setup() -> (Chain, EvmChain) {
    let clock = Clock::default();
    let alice = user("alice");
    let mut dev = Chain::new(
        "alpha",
        &clock,
        Module::default(),
        vec![(alice.address(), "xrd".into(), 1_000_000)],
    );
    let evm = EvmChain::new("evm-1", &clock);
    let gov = dev.governance.clone();
    let tx = dev.signed(&gov, Action::CreateEvmClient(Box::new(evm.client_at(1))));
    let report = dev.run(tx);
    assert_eq!(
        report.events,
        vec![Event::ClientCreated {
            chain: evm.id.clone(),
            height: 1
        }]
    );
    (dev, evm)
}

fn evm_client(dev: &Chain, evm: &EvmChain) -> EvmClientState {
    query::evm_client(&dev.state, &evm.id).unwrap().unwrap()
}

/// Mines a block on `evm` and brings `dev`'s client to it.
fn mine_and_update(dev: &mut Chain, evm: &mut EvmChain) -> Height {
    let h = evm.mine();
    dev.run(Tx::Relay(RelayTx::UpdateEvmClient {
        chain: evm.id.clone(),
        updates: vec![evm.attested(h, &[0, 2])],
    }));
    h
}

fn recv(evm: &EvmChain, height: Height, messages: &[&Message]) -> Tx {
    Tx::Relay(RelayTx::RecvEvm {
        source: evm.id.clone(),
        proof_height: height,
        messages: messages
            .iter()
            .map(|m| InboundMessage {
                message: (*m).clone(),
                shows: SourceProof::Committed,
                proof: evm.prove(&paths::commitment(&m.destination, m.sequence), height),
            })
            .collect(),
    })
}

fn failure(dev: &mut Chain, tx: Tx) -> ModuleError {
    dev.block(vec![tx]).pop().unwrap().unwrap_err()
}

/// `key` signs `action`, which must fail; its nonce was not used, so it is handed back.
fn refused(dev: &mut Chain, key: &SigningKey, action: Action) -> ModuleError {
    let tx = dev.signed(key, action);
    let err = failure(dev, tx);
    if let Some(nonce) = dev.nonces.get_mut(&key.address()) {
        *nonce -= 1;
    }
    err
}

fn evm_error(e: ModuleError) -> EvmClientError {
    match e {
        ModuleError::EvmClient { error, .. } => *error,
        other => panic!("not an EVM client error: {other:?}"),
    }
}

fn transfer(denom: &str, amount: u128, sender: Address, receiver: Address) -> Vec<u8> {
    TransferPacket {
        denom: denom.into(),
        amount,
        sender,
        receiver,
    }
    .encode()
}

// ---------------------------------------------------------------------------------------
// Client creation and updates.
// ---------------------------------------------------------------------------------------

#[test]
fn governance_creates_the_client_once_and_only_governance_can() {
    let (mut dev, evm) = setup();
    assert_eq!(evm_client(&dev, &evm), evm.client_at(1));

    // Again: one client per chain, of either kind.
    let gov = dev.governance.clone();
    let again = Action::CreateEvmClient(Box::new(evm.client_at(1)));
    assert_eq!(
        refused(&mut dev, &gov, again),
        ModuleError::ClientExists(evm.id.clone())
    );
    let other = Chain::new("beta", &dev.clock.clone(), Module::default(), vec![]);
    let mut bft_of_evm = other.trusted();
    bft_of_evm.chain_id = evm.id.clone();
    let action = Action::CreateClient {
        trusted: bft_of_evm,
        options: Default::default(),
    };
    assert_eq!(
        refused(&mut dev, &gov, action),
        ModuleError::ClientExists(evm.id.clone())
    );

    // Anyone else: refused, nothing written.
    let mallory = user("mallory");
    let evm2 = EvmChain::new("evm-2", &dev.clock.clone());
    let action = Action::CreateEvmClient(Box::new(evm2.client_at(1)));
    assert_eq!(
        refused(&mut dev, &mallory, action),
        ModuleError::NotGovernance {
            signer: mallory.address()
        }
    );
    assert_eq!(query::evm_client(&dev.state, &evm2.id).unwrap(), None);

    // A frozen state is refused, by creation and by reset alike.
    let frozen_state = frozen(&evm2.client_at(1));
    assert!(frozen_state.is_frozen());
    let action = Action::CreateEvmClient(Box::new(frozen_state));
    assert_eq!(
        evm_error(refused(&mut dev, &gov, action)),
        EvmClientError::Frozen
    );
    let action = Action::ResetEvmClient(Box::new(frozen(&evm.client_at(1))));
    assert_eq!(
        evm_error(refused(&mut dev, &gov, action)),
        EvmClientError::Frozen
    );
    assert_eq!(evm_client(&dev, &evm), evm.client_at(1));
}

/// `client` with its frozen flag (the last byte of the canonical layout) set.
fn frozen(client: &EvmClientState) -> EvmClientState {
    let mut bytes = client.encode();
    *bytes.last_mut().unwrap() = 1;
    EvmClientState::decode(&bytes).unwrap()
}

#[test]
fn updates_apply_all_or_nothing_and_report_new_blocks() {
    let (mut dev, mut evm) = setup();
    let (h2, h3, h4) = (evm.mine(), evm.mine(), evm.mine());
    let report = dev.run(Tx::Relay(RelayTx::UpdateEvmClient {
        chain: evm.id.clone(),
        updates: vec![evm.attested(h2, &[0, 1]), evm.attested(h4, &[1, 2])],
    }));
    assert_eq!(
        report.events,
        vec![Event::ClientUpdated {
            chain: evm.id.clone(),
            headers: vec![
                (h2, evm.block(h2).block_hash),
                (h4, evm.block(h4).block_hash)
            ],
        }]
    );
    let client = evm_client(&dev, &evm);
    assert_eq!(client.latest_height(), h4);
    assert_eq!(client.heights().collect::<Vec<_>>(), vec![1, h2, h4]);

    // The same update again (a second relayer): accepted, nothing new.
    let report = dev.run(Tx::Relay(RelayTx::UpdateEvmClient {
        chain: evm.id.clone(),
        updates: vec![evm.attested(h4, &[0, 1])],
    }));
    assert_eq!(
        report.events,
        vec![Event::ClientUpdated {
            chain: evm.id.clone(),
            headers: vec![]
        }]
    );

    // A good update followed by one signed by a single attester: all refused.
    let h5 = evm.mine();
    let h6 = evm.mine();
    let err = failure(
        &mut dev,
        Tx::Relay(RelayTx::UpdateEvmClient {
            chain: evm.id.clone(),
            updates: vec![evm.attested(h5, &[0, 1]), evm.attested(h6, &[2])],
        }),
    );
    assert!(matches!(evm_error(err), EvmClientError::Attestation { height, .. } if height == h6));
    assert_eq!(evm_client(&dev, &evm).latest_height(), h4);

    // An older height the client never verified, and an empty update.
    assert_eq!(
        evm_error(failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: evm.id.clone(),
                updates: vec![evm.attested(h3, &[0, 1])],
            })
        )),
        EvmClientError::NotNewer {
            height: h3,
            latest: h4
        }
    );
    assert_eq!(
        failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: evm.id.clone(),
                updates: vec![],
            })
        ),
        ModuleError::EmptyBatch
    );
}

#[test]
fn governance_resets_an_evm_client() {
    let (mut dev, mut evm) = setup();
    for _ in 0..3 {
        evm.mine();
    }
    let gov = dev.governance.clone();
    let tx = dev.signed(&gov, Action::ResetEvmClient(Box::new(evm.client_at(4))));
    assert_eq!(
        dev.run(tx).events,
        vec![Event::ClientCreated {
            chain: evm.id.clone(),
            height: 4
        }]
    );
    assert_eq!(evm_client(&dev, &evm), evm.client_at(4));
    // Heights of the replaced state are forgotten.
    let m = evm.message(&dev.id, 1, "echo", b"x".to_vec());
    evm.commit(&m);
    evm.mine();
    assert_eq!(
        evm_error(failure(&mut dev, recv(&evm, 1, &[&m]))),
        EvmClientError::UnknownHeight(1)
    );

    // Resetting a client that does not exist, or by someone else.
    let evm2 = EvmChain::new("evm-2", &dev.clock.clone());
    let action = Action::ResetEvmClient(Box::new(evm2.client_at(1)));
    assert_eq!(
        refused(&mut dev, &gov, action),
        ModuleError::UnknownEvmClient(evm2.id.clone())
    );
    let mallory = user("mallory");
    let action = Action::ResetEvmClient(Box::new(evm.client_at(1)));
    assert!(matches!(
        refused(&mut dev, &mallory, action),
        ModuleError::NotGovernance { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Messages from the EVM chain.
// ---------------------------------------------------------------------------------------

#[test]
fn messages_are_delivered_in_order_and_duplicates_are_no_ops() {
    let (mut dev, mut evm) = setup();
    let m1 = evm.message(&dev.id, 1, "echo", b"one".to_vec());
    let m2 = evm.message(&dev.id, 2, "echo", b"two".to_vec());
    let m3 = evm.message(&dev.id, 3, "echo", b"three".to_vec());
    for m in [&m1, &m2, &m3] {
        evm.commit(m);
    }
    let h = mine_and_update(&mut dev, &mut evm);

    // A gap: 2 before 1.
    assert_eq!(
        failure(&mut dev, recv(&evm, h, &[&m2])),
        ModuleError::OutOfOrder {
            expected: 1,
            found: 2
        }
    );

    let report = dev.run(recv(&evm, h, &[&m1, &m2]));
    assert_eq!(report.already_done, 0);
    assert_eq!(
        report.events,
        vec![
            Event::MessageReceived {
                message: m1.clone(),
                ack: Acknowledgement::Success(sha256(b"one").0.to_vec()),
            },
            Event::MessageReceived {
                message: m2.clone(),
                ack: Acknowledgement::Success(sha256(b"two").0.to_vec()),
            },
        ]
    );
    assert!(query::received(&dev.state, &evm.id, 2).unwrap());
    let ack_path = paths::ack(&evm.id, 1);
    assert_eq!(
        dev.state.0.get(&ack_path),
        Some(
            &Acknowledgement::Success(sha256(b"one").0.to_vec())
                .commitment()
                .0
                .to_vec()
        )
    );

    // Another relayer delivers 1 and 2 again, with 3: the first two are no-ops.
    let report = dev.run(recv(&evm, h, &[&m1, &m2, &m3]));
    assert_eq!(report.already_done, 2);
    assert_eq!(report.events.len(), 1);
    assert_eq!(query::lane_counters(&dev.state, &evm.id).unwrap().1, 4);
    // Only duplicates: nothing to prove, nothing done.
    assert_eq!(dev.run(recv(&evm, h, &[&m3])).already_done, 1);
}

#[test]
fn forged_proofs_are_refused_and_write_nothing() {
    let (mut dev, mut evm) = setup();
    let m1 = evm.message(&dev.id, 1, "echo", b"real".to_vec());
    evm.commit(&m1);
    let h = mine_and_update(&mut dev, &mut evm);
    let before = dev.state.clone();

    // A message the gateway never committed, with the proof of the real one's slot.
    let mut forged = m1.clone();
    forged.payload = b"forged".to_vec();
    let mut tx = recv(&evm, h, &[&m1]);
    if let Tx::Relay(RelayTx::RecvEvm { messages, .. }) = &mut tx {
        messages[0].message = forged.clone();
    }
    assert!(matches!(
        evm_error(failure(&mut dev, tx)),
        EvmClientError::ValueMismatch { .. }
    ));

    // The real message with one byte of its storage proof changed.
    let mut tx = recv(&evm, h, &[&m1]);
    if let Tx::Relay(RelayTx::RecvEvm { messages, .. }) = &mut tx {
        let node = messages[0].proof.storage_proof.last_mut().unwrap();
        let i = node.len() / 2;
        node[i] ^= 1;
    }
    assert!(matches!(
        evm_error(failure(&mut dev, tx)),
        EvmClientError::StorageProof { .. }
    ));

    // The gateway's account proof cut short.
    let mut tx = recv(&evm, h, &[&m1]);
    if let Tx::Relay(RelayTx::RecvEvm { messages, .. }) = &mut tx {
        messages[0].proof.account_proof.pop();
    }
    assert!(matches!(
        evm_error(failure(&mut dev, tx)),
        EvmClientError::AccountProof { .. }
    ));

    // A height the client never verified.
    let unverified = evm.mine();
    assert_eq!(
        evm_error(failure(&mut dev, recv(&evm, unverified, &[&m1]))),
        EvmClientError::UnknownHeight(unverified)
    );

    // No receipt, no ack, no lane move: nothing at all was written.
    assert!(!query::received(&dev.state, &evm.id, 1).unwrap());
    assert_eq!(dev.state.0.get(&paths::ack(&evm.id, 1)), None);
    assert_eq!(query::lane_counters(&dev.state, &evm.id).unwrap().1, 1);
    assert_eq!(dev.state, before);

    // The honest delivery still goes through.
    assert_eq!(dev.run(recv(&evm, h, &[&m1])).events.len(), 1);
}

#[test]
fn transfers_from_the_evm_chain_mint_vouchers() {
    let (mut dev, mut evm) = setup();
    let bob = user("bob");
    let m = evm.message(
        &dev.id,
        1,
        "transfer",
        transfer("eth", 42, Address([0x5e; 20]), bob.address()),
    );
    evm.commit(&m);
    let h = mine_and_update(&mut dev, &mut evm);
    let report = dev.run(recv(&evm, h, &[&m]));
    assert!(matches!(
        &report.events[..],
        [Event::MessageReceived { ack, .. }] if ack.is_success()
    ));
    let v = voucher(&evm.id, "eth");
    assert_eq!(dev.balance(&v, &bob.address()), 42);
    assert_eq!(dev.supply(&v), 42);
}

#[test]
fn expired_and_timed_out_messages_move_the_lane_without_the_app() {
    let (mut dev, mut evm) = setup();
    let expired_at = Timeout {
        height: 1,
        time_ms: 0,
    };
    // 1: committed but already past its timeout here; 2: timed out (refunded) on the EVM
    // chain, so only its outcome is provable; 3: in time.
    let mut m1 = evm.message(&dev.id, 1, "echo", b"late".to_vec());
    m1.timeout = expired_at;
    let mut m2 = evm.message(&dev.id, 2, "echo", b"refunded".to_vec());
    m2.timeout = expired_at;
    let m3 = evm.message(&dev.id, 3, "echo", b"fine".to_vec());
    evm.commit(&m1);
    evm.commit(&m2);
    evm.commit(&m3);
    evm.time_out(&m2);
    let h = mine_and_update(&mut dev, &mut evm);

    let outcome_proof = evm.prove(format!("outcomes/{}/2", dev.id).as_bytes(), h);
    let tx = Tx::Relay(RelayTx::RecvEvm {
        source: evm.id.clone(),
        proof_height: h,
        messages: vec![
            InboundMessage {
                message: m1.clone(),
                shows: SourceProof::Committed,
                proof: evm.prove(&paths::commitment(&dev.id, 1), h),
            },
            InboundMessage {
                message: m2.clone(),
                shows: SourceProof::TimedOut,
                proof: outcome_proof,
            },
            InboundMessage {
                message: m3.clone(),
                shows: SourceProof::Committed,
                proof: evm.prove(&paths::commitment(&dev.id, 3), h),
            },
        ],
    });
    let report = dev.run(tx);
    assert_eq!(
        report.events[..2],
        [
            Event::MessageExpired { message: m1 },
            Event::MessageExpired {
                message: m2.clone()
            },
        ]
    );
    assert!(matches!(report.events[2], Event::MessageReceived { .. }));
    assert!(!query::received(&dev.state, &evm.id, 1).unwrap());
    assert!(!query::received(&dev.state, &evm.id, 2).unwrap());
    assert!(query::received(&dev.state, &evm.id, 3).unwrap());

    // A "timed out" claim for a message this chain would still deliver is refused.
    let mut evm_b = EvmChain::new("evm-b", &dev.clock.clone());
    let gov = dev.governance.clone();
    let tx = dev.signed(&gov, Action::CreateEvmClient(Box::new(evm_b.client_at(1))));
    dev.run(tx);
    let live = evm_b.message(&dev.id, 1, "echo", b"live".to_vec());
    evm_b.commit(&live);
    evm_b.time_out(&live);
    let hb = mine_and_update(&mut dev, &mut evm_b);
    let tx = Tx::Relay(RelayTx::RecvEvm {
        source: evm_b.id.clone(),
        proof_height: hb,
        messages: vec![InboundMessage {
            message: live.clone(),
            shows: SourceProof::TimedOut,
            proof: evm_b.prove(format!("outcomes/{}/1", dev.id).as_bytes(), hb),
        }],
    });
    assert!(matches!(
        failure(&mut dev, tx),
        ModuleError::NotTimedOut { sequence: 1, .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Messages to the EVM chain: acks and timeouts proven by its storage.
// ---------------------------------------------------------------------------------------

/// Alice sends `amount` xrd to the EVM chain with `timeout`.
fn send_xrd(dev: &mut Chain, evm: &EvmChain, amount: u128, timeout: Timeout) -> Message {
    let alice = user("alice");
    dev.send(
        &alice,
        &evm.id,
        "transfer",
        transfer("xrd", amount, alice.address(), Address([0x5e; 20])),
        timeout,
    )
    .unwrap()
}

fn ack_tx(evm: &EvmChain, height: Height, items: &[(&Message, &Acknowledgement)]) -> Tx {
    Tx::Relay(RelayTx::AckEvm {
        destination: evm.id.clone(),
        proof_height: height,
        acks: items
            .iter()
            .map(|(m, ack)| ProvenAck {
                message: (*m).clone(),
                ack: (*ack).clone(),
                proof: evm.prove(&paths::ack(&m.source, m.sequence), height),
            })
            .collect(),
    })
}

fn timeout_tx(evm: &EvmChain, height: Height, messages: &[&Message]) -> Tx {
    Tx::Relay(RelayTx::TimeoutEvm {
        destination: evm.id.clone(),
        proof_height: height,
        messages: messages
            .iter()
            .map(|m| ProvenMessage {
                message: (*m).clone(),
                proof: evm.prove(&paths::receipt(&m.source, m.sequence), height),
            })
            .collect(),
    })
}

#[test]
fn acks_from_the_evm_chain_settle_and_refund() {
    let (mut dev, mut evm) = setup();
    let alice = user("alice").address();
    let m1 = send_xrd(&mut dev, &evm, 100, far());
    let m2 = send_xrd(&mut dev, &evm, 30, far());
    assert_eq!(dev.balance("xrd", &alice), 1_000_000 - 130);
    assert_eq!(dev.escrow(&evm.id, "xrd"), 130);

    let ok = Acknowledgement::Success(vec![1]);
    let refused = Acknowledgement::Error("no such account".into());
    evm.receive(&m1, &ok);
    evm.receive(&m2, &refused);
    let h = mine_and_update(&mut dev, &mut evm);

    // An ack other than the one the EVM chain wrote does not verify.
    assert!(matches!(
        evm_error(failure(&mut dev, ack_tx(&evm, h, &[(&m1, &refused)]))),
        EvmClientError::ValueMismatch { .. }
    ));

    let report = dev.run(ack_tx(&evm, h, &[(&m1, &ok), (&m2, &refused)]));
    assert_eq!(
        report.events,
        vec![
            Event::MessageAcknowledged {
                message: m1.clone(),
                ack: ok.clone()
            },
            Event::MessageAcknowledged {
                message: m2.clone(),
                ack: refused.clone()
            },
        ]
    );
    assert_eq!(
        query::sent_status(&dev.state, &evm.id, 1).unwrap(),
        SentStatus::Settled(Outcome::Acknowledged)
    );
    assert_eq!(
        query::sent_status(&dev.state, &evm.id, 2).unwrap(),
        SentStatus::Settled(Outcome::Refused)
    );
    assert_eq!(dev.balance("xrd", &alice), 1_000_000 - 100);
    assert_eq!(dev.escrow(&evm.id, "xrd"), 100);
    assert_eq!(dev.supply("xrd"), 1_000_000);

    // Settled already: a no-op.
    assert_eq!(dev.run(ack_tx(&evm, h, &[(&m1, &ok)])).already_done, 1);
}

#[test]
fn timeouts_proven_by_the_evm_chain_refund() {
    let (mut dev, mut evm) = setup();
    let alice = user("alice").address();
    // Times out at EVM height 3 (the chain is at 1).
    let m = send_xrd(
        &mut dev,
        &evm,
        250,
        Timeout {
            height: 3,
            time_ms: 0,
        },
    );
    assert_eq!(dev.escrow(&evm.id, "xrd"), 250);
    let h2 = mine_and_update(&mut dev, &mut evm);

    // Not yet past the timeout at height 2.
    let err = failure(&mut dev, timeout_tx(&evm, h2, &[&m]));
    assert_eq!(
        err,
        ModuleError::NotTimedOut {
            sequence: 1,
            height: h2,
            time_ms: evm.block(h2).time_ms,
        }
    );
    // A height the client does not know: the proof time is unknown.
    let mut unknown = timeout_tx(&evm, h2, &[&m]);
    if let Tx::Relay(RelayTx::TimeoutEvm { proof_height, .. }) = &mut unknown {
        *proof_height = 7;
    }
    assert_eq!(
        evm_error(failure(&mut dev, unknown)),
        EvmClientError::UnknownHeight(7)
    );

    let h3 = mine_and_update(&mut dev, &mut evm);
    let report = dev.run(timeout_tx(&evm, h3, &[&m]));
    assert_eq!(
        report.events,
        vec![Event::MessageTimedOut { message: m.clone() }]
    );
    assert_eq!(dev.balance("xrd", &alice), 1_000_000);
    assert_eq!(dev.escrow(&evm.id, "xrd"), 0);
    assert_eq!(dev.supply("xrd"), 1_000_000);
    assert_eq!(
        query::sent_status(&dev.state, &evm.id, 1).unwrap(),
        SentStatus::Settled(Outcome::TimedOut)
    );
    // Again: already done.
    assert_eq!(dev.run(timeout_tx(&evm, h3, &[&m])).already_done, 1);
}

#[test]
fn a_received_message_cannot_be_timed_out() {
    let (mut dev, mut evm) = setup();
    let m = send_xrd(
        &mut dev,
        &evm,
        5,
        Timeout {
            height: 2,
            time_ms: 0,
        },
    );
    // The EVM chain received it (late as it is, say its gateway accepted it): the receipt
    // is there, so no absence proof exists.
    evm.receive(&m, &Acknowledgement::Success(vec![1]));
    let h = mine_and_update(&mut dev, &mut evm);
    assert!(matches!(
        evm_error(failure(&mut dev, timeout_tx(&evm, h, &[&m]))),
        EvmClientError::ValueMismatch { .. }
    ));
    assert_eq!(dev.escrow(&evm.id, "xrd"), 5);
    assert_eq!(
        query::sent_status(&dev.state, &evm.id, 1).unwrap(),
        SentStatus::Pending
    );
}

// ---------------------------------------------------------------------------------------
// One kind of client per chain.
// ---------------------------------------------------------------------------------------

#[test]
fn a_chain_is_proven_only_by_the_kind_of_client_it_has() {
    let (mut dev, mut evm) = setup();
    let mut beta = Chain::new("beta", &dev.clock.clone(), Module::default(), vec![]);
    dev.create_client_of(&beta);
    beta.create_client_of(&dev);
    let m = evm.message(&dev.id, 1, "echo", b"x".to_vec());
    evm.commit(&m);
    let h = mine_and_update(&mut dev, &mut evm);

    // EVM-proven transactions about a BFT-followed chain.
    let mut tx = recv(&evm, h, &[&m]);
    if let Tx::Relay(RelayTx::RecvEvm { source, .. }) = &mut tx {
        *source = beta.id.clone();
    }
    assert_eq!(
        failure(&mut dev, tx),
        ModuleError::NotEvmClient(beta.id.clone())
    );
    assert_eq!(
        failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: beta.id.clone(),
                updates: vec![evm.attested(h, &[0, 1])],
            })
        ),
        ModuleError::NotEvmClient(beta.id.clone())
    );
    assert_eq!(
        failure(
            &mut dev,
            Tx::Relay(RelayTx::AckEvm {
                destination: beta.id.clone(),
                proof_height: h,
                acks: vec![ProvenAck {
                    message: m.clone(),
                    ack: Acknowledgement::Success(vec![]),
                    proof: EvmStorageProof::default(),
                }],
            })
        ),
        ModuleError::NotEvmClient(beta.id.clone())
    );
    let gov = dev.governance.clone();
    let beta_as_evm = EvmChain::new("beta", &dev.clock.clone()).client_at(1);
    let action = Action::ResetEvmClient(Box::new(beta_as_evm.clone()));
    assert_eq!(
        refused(&mut dev, &gov, action),
        ModuleError::NotEvmClient(beta.id.clone())
    );
    let action = Action::CreateEvmClient(Box::new(beta_as_evm));
    assert_eq!(
        refused(&mut dev, &gov, action),
        ModuleError::ClientExists(beta.id.clone())
    );

    // BFT-proven transactions about an EVM-followed chain.
    let proof = beta.prove(b"anything", beta.height());
    let bft = [
        Tx::Relay(RelayTx::Recv {
            source: evm.id.clone(),
            proof_height: h,
            messages: vec![InboundMessage {
                message: m.clone(),
                shows: SourceProof::Committed,
                proof: proof.clone(),
            }],
        }),
        Tx::Relay(RelayTx::Timeout {
            destination: evm.id.clone(),
            proof_height: h,
            messages: vec![ProvenMessage {
                message: m.clone(),
                proof,
            }],
        }),
        Tx::Relay(RelayTx::UpdateClient {
            chain: evm.id.clone(),
            blocks: vec![beta.tip().clone()],
        }),
    ];
    for tx in bft {
        assert_eq!(
            failure(&mut dev, tx),
            ModuleError::NotBftClient(evm.id.clone())
        );
    }
    let mut trusted = beta.trusted();
    trusted.chain_id = evm.id.clone();
    let action = Action::ResetClient {
        trusted,
        options: Default::default(),
    };
    assert_eq!(
        refused(&mut dev, &gov, action),
        ModuleError::NotBftClient(evm.id.clone())
    );

    // A chain followed by neither.
    let nobody = ChainId::new("nobody").unwrap();
    let mut tx = recv(&evm, h, &[&m]);
    if let Tx::Relay(RelayTx::RecvEvm { source, .. }) = &mut tx {
        *source = nobody.clone();
    }
    assert_eq!(
        failure(&mut dev, tx),
        ModuleError::UnknownEvmClient(nobody.clone())
    );
    let alice = user("alice");
    let err = dev
        .send(&alice, &nobody, "echo", vec![1], far())
        .unwrap_err();
    assert_eq!(err, ModuleError::UnknownClient(nobody));

    // Both lanes still work with their own kind of proof.
    assert_eq!(dev.run(recv(&evm, h, &[&m])).events.len(), 1);
    let mb = beta
        .send(&user("bob"), &dev.id, "echo", b"b".to_vec(), far())
        .unwrap();
    if let Some(tx) = update(&beta, &dev) {
        dev.run(tx);
    }
    let hb = beta.height();
    let report = dev.run(Tx::Relay(RelayTx::Recv {
        source: beta.id.clone(),
        proof_height: hb,
        messages: vec![InboundMessage {
            message: mb.clone(),
            shows: SourceProof::Committed,
            proof: beta.prove(&paths::commitment(&dev.id, 1), hb),
        }],
    }));
    assert_eq!(report.events.len(), 1);
}

// ---------------------------------------------------------------------------------------
// A seal-mode client: QBFT headers instead of attestations.
// ---------------------------------------------------------------------------------------

/// The QBFT header of `evm`'s block `height` (its state root and time), child of `parent`,
/// naming `validators` and sealed by `sealers`.
fn qbft_header(
    evm: &EvmChain,
    height: Height,
    parent: Hash32,
    validators: &[Address],
    sealers: &[SigningKey],
) -> EvmHeader {
    let mut listed = validators.to_vec();
    listed.sort();
    let mut extra = BftExtraData {
        variant: BftVariant::Qbft,
        vanity: [0; 32],
        validators: listed,
        vote: None,
        round: 0,
        seals: vec![],
    };
    let block = evm.block(height);
    let mut header = EvmHeader {
        parent_hash: parent,
        ommers_hash: Hash32([0x1d; 32]),
        beneficiary: Address::default(),
        state_root: Hash32(block.state_root),
        transactions_root: Hash32([0x56; 32]),
        receipts_root: Hash32([0x56; 32]),
        logs_bloom: Box::new([0; 256]),
        difficulty: U256::from(1),
        number: height,
        gas_limit: 30_000_000,
        gas_used: 0,
        timestamp: block.time_ms / 1000,
        extra_data: extra.encode(),
        mix_hash: ISTANBUL_MIX_HASH,
        nonce: [0; 8],
        base_fee_per_gas: Some(U256::from(1_000_000_000u64)),
        withdrawals_root: None,
        blob_gas: None,
        requests_hash: None,
    };
    let digest = BftHeader::parse(BftVariant::Qbft, &header)
        .unwrap()
        .seal_digest();
    extra.seals = sealers
        .iter()
        .map(|k| {
            let mut seal = k.sign_digest(&digest).0;
            seal[64] -= 27;
            seal
        })
        .collect();
    header.extra_data = extra.encode();
    header
}

#[test]
fn a_qbft_chain_is_followed_by_its_sealed_headers() {
    let clock = Clock::default();
    let mut dev = Chain::new("alpha", &clock, Module::default(), vec![]);
    let mut evm = EvmChain::new("besu-1", &clock);
    let keys: Vec<SigningKey> = (0..4)
        .map(|i| SigningKey::from_seed("qbft-validator", i))
        .collect();
    let validators: Vec<Address> = keys.iter().map(SigningKey::address).collect();
    let hash = |h: &EvmHeader| EvmConsensus::Qbft.block_hash(h).unwrap();

    // Governance anchors the client at block 1 (its extraData names the validators).
    let anchor = qbft_header(&evm, 1, Hash32::ZERO, &validators, &keys[..3]);
    let client =
        EvmClientState::from_header(evm.id.clone(), FinalityMode::Qbft, &anchor, evm.gateway)
            .unwrap();
    let gov = dev.governance.clone();
    let tx = dev.signed(&gov, Action::CreateEvmClient(Box::new(client)));
    dev.run(tx);

    let m = evm.message(&dev.id, 1, "echo", b"sealed".to_vec());
    evm.commit(&m);
    let (h2, h3) = (evm.mine(), evm.mine());
    let header2 = qbft_header(&evm, h2, hash(&anchor), &validators, &keys[1..]);
    let header3 = qbft_header(&evm, h3, hash(&header2), &validators, &keys[..3]);

    // Two seals of four are below the quorum of three: refused, nothing written.
    let thin = qbft_header(&evm, h2, hash(&anchor), &validators, &keys[..2]);
    let err = evm_error(failure(
        &mut dev,
        Tx::Relay(RelayTx::UpdateEvmClient {
            chain: evm.id.clone(),
            updates: vec![EvmUpdate::Headers(vec![thin])],
        }),
    ));
    assert!(
        matches!(
            err,
            EvmClientError::Seal {
                height: 2,
                error: EvmConsensusError::Bft(_)
            }
        ),
        "{err:?}"
    );
    // An attestation does not move a QBFT client.
    assert!(matches!(
        evm_error(failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: evm.id.clone(),
                updates: vec![evm.attested(h2, &[0, 1])],
            })
        )),
        EvmClientError::ModeMismatch { .. }
    ));
    assert_eq!(evm_client(&dev, &evm).latest_height(), 1);

    let report = dev.run(Tx::Relay(RelayTx::UpdateEvmClient {
        chain: evm.id.clone(),
        updates: vec![EvmUpdate::Headers(vec![header2.clone(), header3.clone()])],
    }));
    assert_eq!(
        report.events,
        vec![Event::ClientUpdated {
            chain: evm.id.clone(),
            headers: vec![(h2, hash(&header2)), (h3, hash(&header3))],
        }]
    );
    // The message is proven against the sealed state root, like any other.
    let report = dev.run(recv(&evm, h3, &[&m]));
    assert!(matches!(
        &report.events[..],
        [Event::MessageReceived { message, .. }] if *message == m
    ));
}

// ---------------------------------------------------------------------------------------
// Misbehaviour evidence (tag 10, PROTOCOL.md §12.7).
// ---------------------------------------------------------------------------------------

fn evidence_tx(chain: &ChainId, evidence: EvmMisbehaviour) -> Tx {
    Tx::Relay(RelayTx::SubmitEvmMisbehaviour {
        chain: chain.clone(),
        evidence: Box::new(evidence),
    })
}

/// Block `height` of `evm` attested by `signers`, its state root replaced by `root` bytes
/// (another block at that height), or the chain's own when `root` is 0.
fn attested_block(evm: &EvmChain, height: Height, root: u8, signers: &[usize]) -> Attested {
    let mut attestation = evm.attestation(height);
    if root != 0 {
        attestation.state_root = Hash32([root; 32]);
        attestation.block_hash = Hash32([root; 32]);
    }
    let keys: Vec<SigningKey> = signers.iter().map(|i| evm.committee[*i].clone()).collect();
    Attested::sign(attestation, &keys)
}

fn evidence_error(e: ModuleError) -> EvmMisbehaviourError {
    match e {
        ModuleError::EvmMisbehaviour { error, .. } => error,
        other => panic!("not an evidence error: {other:?}"),
    }
}

/// Refused evidence: the module's error, and the whole state as it was (no write at all).
fn refused_evidence(dev: &mut Chain, chain: &ChainId, evidence: EvmMisbehaviour) -> ModuleError {
    let before = dev.state.clone();
    let err = failure(dev, evidence_tx(chain, evidence));
    assert_eq!(dev.state, before, "refused evidence wrote nothing");
    err
}

#[test]
fn attested_evidence_freezes_the_client_and_bad_evidence_changes_nothing() {
    let (mut dev, mut evm) = setup();
    let h = mine_and_update(&mut dev, &mut evm);
    let honest = attested_block(&evm, h, 0, &[0, 2]);
    let forged = attested_block(&evm, h, 0xee, &[1, 2]);
    assert_eq!(
        evm_client(&dev, &evm)
            .consensus_state(h)
            .unwrap()
            .block_hash,
        honest.attestation.block_hash
    );
    let id = evm.id.clone();

    // The block the client holds is no conflict with itself.
    assert_eq!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Conflict(honest.clone())
        )),
        EvmMisbehaviourError::NoConflict(h)
    );
    // Two copies of one attestation are no conflict either.
    assert_eq!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Attestations {
                first: forged.clone(),
                second: forged.clone()
            }
        )),
        EvmMisbehaviourError::NoConflict(h)
    );
    // One attester alone is below the committee's quorum.
    let lone = attested_block(&evm, h, 0xee, &[1]);
    assert!(matches!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Attestations {
                first: honest.clone(),
                second: lone.clone()
            }
        )),
        EvmMisbehaviourError::Attestation {
            which: Which::Second,
            ..
        }
    ));
    assert!(matches!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Conflict(lone)
        )),
        EvmMisbehaviourError::Attestation {
            which: Which::First,
            ..
        }
    ));
    // Signed by strangers.
    let strangers: Vec<SigningKey> = (0..2)
        .map(|i| SigningKey::from_seed("stranger", i))
        .collect();
    let stranger = Attested::sign(forged.attestation.clone(), &strangers);
    assert!(matches!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Conflict(stranger)
        )),
        EvmMisbehaviourError::Attestation { .. }
    ));
    // Attested for another chain by the same committee.
    let mut elsewhere = forged.attestation.clone();
    elsewhere.chain_id = ChainId::new("evm-2").unwrap();
    let elsewhere = Attested::sign(elsewhere, &evm.committee[..2]);
    assert_eq!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Attestations {
                first: honest.clone(),
                second: elsewhere
            }
        )),
        EvmMisbehaviourError::WrongChain {
            expected: id.clone(),
            found: ChainId::new("evm-2").unwrap()
        }
    );
    // Two heights.
    let h2 = evm.mine();
    let later = attested_block(&evm, h2, 0xee, &[0, 1]);
    assert_eq!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Attestations {
                first: honest.clone(),
                second: later
            }
        )),
        EvmMisbehaviourError::HeightMismatch {
            first: h,
            second: h2
        }
    );
    // Sealed headers against a client in the attestation mode.
    let header = qbft_header(
        &evm,
        h,
        Hash32::ZERO,
        &[evm.committee[0].address()],
        &evm.committee[..1],
    );
    assert!(matches!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Headers {
                first: Box::new(header.clone()),
                second: Box::new(header)
            }
        )),
        EvmMisbehaviourError::ModeMismatch { .. }
    ));
    // A chain this devchain has no client of, and one it follows as a BFT chain.
    let nobody = ChainId::new("evm-9").unwrap();
    assert_eq!(
        refused_evidence(&mut dev, &nobody, EvmMisbehaviour::Conflict(forged.clone())),
        ModuleError::UnknownEvmClient(nobody)
    );
    let beta = Chain::new("beta", &dev.clock.clone(), Module::default(), vec![]);
    dev.create_client_of(&beta);
    assert_eq!(
        refused_evidence(
            &mut dev,
            &beta.id,
            EvmMisbehaviour::Conflict(forged.clone())
        ),
        ModuleError::NotEvmClient(beta.id.clone())
    );
    assert!(!evm_client(&dev, &evm).is_frozen());

    // Two attestations of height `h` vouched for by the committee: frozen, and the event
    // names the height and the evidence.
    let evidence = EvmMisbehaviour::Attestations {
        first: forged.clone(),
        second: honest.clone(),
    };
    let report = dev.run(evidence_tx(&id, evidence.clone()));
    assert_eq!(
        report.events,
        vec![Event::ClientFrozen {
            chain: id.clone(),
            kind: MisbehaviourKind::ConflictingHeaders { height: h },
            evidence: evidence.hash(),
        }]
    );
    let client = evm_client(&dev, &evm);
    assert!(client.is_frozen());
    // Frozen, it proves nothing and takes no update.
    let m = evm.message(&dev.id, 1, "echo", b"after".to_vec());
    evm.commit(&m);
    let h3 = evm.mine();
    assert_eq!(
        evm_error(failure(&mut dev, recv(&evm, h3, &[&m]))),
        EvmClientError::Frozen
    );
    assert_eq!(
        evm_error(failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: id.clone(),
                updates: vec![evm.attested(h3, &[0, 1])],
            })
        )),
        EvmClientError::Frozen
    );
    // Evidence again (another relayer's, of the other kind): checked, and it stays frozen.
    dev.run(evidence_tx(&id, EvmMisbehaviour::Conflict(forged)));
    assert_eq!(evm_client(&dev, &evm), client);
}

#[test]
fn one_attestation_against_the_held_block_freezes() {
    let (mut dev, mut evm) = setup();
    let h = mine_and_update(&mut dev, &mut evm);
    let forged = attested_block(&evm, h, 0xee, &[0, 1]);
    let report = dev.run(evidence_tx(&evm.id, EvmMisbehaviour::Conflict(forged)));
    assert!(matches!(
        &report.events[..],
        [Event::ClientFrozen { kind: MisbehaviourKind::ConflictingHeaders { height }, .. }] if *height == h
    ));
    assert!(evm_client(&dev, &evm).is_frozen());
}

#[test]
fn sealed_evidence_freezes_a_qbft_client_and_bad_seals_change_nothing() {
    let clock = Clock::default();
    let mut dev = Chain::new("alpha", &clock, Module::default(), vec![]);
    let mut evm = EvmChain::new("besu-1", &clock);
    let keys: Vec<SigningKey> = (0..4)
        .map(|i| SigningKey::from_seed("qbft-validator", i))
        .collect();
    let validators: Vec<Address> = keys.iter().map(SigningKey::address).collect();
    let hash = |h: &EvmHeader| EvmConsensus::Qbft.block_hash(h).unwrap();
    let anchor = qbft_header(&evm, 1, Hash32::ZERO, &validators, &keys[..3]);
    let client =
        EvmClientState::from_header(evm.id.clone(), FinalityMode::Qbft, &anchor, evm.gateway)
            .unwrap();
    let gov = dev.governance.clone();
    let tx = dev.signed(&gov, Action::CreateEvmClient(Box::new(client)));
    dev.run(tx);
    let h2 = evm.mine();
    let own = qbft_header(&evm, h2, hash(&anchor), &validators, &keys[..3]);
    dev.run(Tx::Relay(RelayTx::UpdateEvmClient {
        chain: evm.id.clone(),
        updates: vec![EvmUpdate::Headers(vec![own.clone()])],
    }));
    // Another block 2 (other state root) sealed by a quorum of the same set.
    let mut forged = own.clone();
    forged.state_root = Hash32([0xee; 32]);
    bft_reseal(BftVariant::Qbft, &mut forged, &keys[1..]);
    assert_ne!(hash(&forged), hash(&own));
    let headers = |a: &EvmHeader, b: &EvmHeader| EvmMisbehaviour::Headers {
        first: Box::new(a.clone()),
        second: Box::new(b.clone()),
    };
    let id = evm.id.clone();

    // The same block sealed by another quorum is one block: no conflict.
    let resealed = qbft_header(&evm, h2, hash(&anchor), &validators, &keys[1..]);
    assert_eq!(hash(&resealed), hash(&own));
    assert_eq!(
        evidence_error(refused_evidence(&mut dev, &id, headers(&own, &resealed))),
        EvmMisbehaviourError::NoConflict(h2)
    );
    // Two seals of four are no quorum: a bad seal, nothing frozen.
    let mut thin = forged.clone();
    bft_reseal(BftVariant::Qbft, &mut thin, &keys[..2]);
    assert!(matches!(
        evidence_error(refused_evidence(&mut dev, &id, headers(&own, &thin))),
        EvmMisbehaviourError::Header {
            which: Which::Second,
            error: EvmConsensusError::Bft(BftError::InsufficientQuorum { .. }),
            ..
        }
    ));
    // Sealed by keys outside the trusted set (listing themselves).
    let outsiders: Vec<SigningKey> = (0..4)
        .map(|i| SigningKey::from_seed("outsider", i))
        .collect();
    let outsider_set: Vec<Address> = outsiders.iter().map(SigningKey::address).collect();
    let foreign = qbft_header(&evm, h2, hash(&anchor), &outsider_set, &outsiders[..3]);
    assert!(matches!(
        evidence_error(refused_evidence(&mut dev, &id, headers(&foreign, &own))),
        EvmMisbehaviourError::Header {
            which: Which::First,
            ..
        }
    ));
    // Blocks at two heights.
    let h3 = evm.mine();
    let next = qbft_header(&evm, h3, hash(&own), &validators, &keys[..3]);
    assert_eq!(
        evidence_error(refused_evidence(&mut dev, &id, headers(&own, &next))),
        EvmMisbehaviourError::HeightMismatch {
            first: h2,
            second: h3
        }
    );
    // Attestations against a QBFT client.
    assert!(matches!(
        evidence_error(refused_evidence(
            &mut dev,
            &id,
            EvmMisbehaviour::Conflict(attested_block(&evm, h2, 0xee, &[0, 1]))
        )),
        EvmMisbehaviourError::ModeMismatch { .. }
    ));
    assert!(!evm_client(&dev, &evm).is_frozen());

    let evidence = headers(&forged, &own);
    let report = dev.run(evidence_tx(&id, evidence.clone()));
    assert_eq!(
        report.events,
        vec![Event::ClientFrozen {
            chain: id.clone(),
            kind: MisbehaviourKind::ConflictingHeaders { height: h2 },
            evidence: evidence.hash(),
        }]
    );
    assert!(evm_client(&dev, &evm).is_frozen());
    assert_eq!(
        evm_error(failure(
            &mut dev,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: id,
                updates: vec![EvmUpdate::Headers(vec![next])],
            })
        )),
        EvmClientError::Frozen
    );
}

// ---------------------------------------------------------------------------------------
// Encoding of the new transactions.
// ---------------------------------------------------------------------------------------

fn round_trips(tx: &Tx) {
    let bytes = tx.encode();
    assert_eq!(&Tx::decode(&bytes).unwrap(), tx);
    assert!(Tx::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
    assert!(Tx::decode(&bytes[..bytes.len() - 1]).is_err());
    let json = serde_json::to_string(tx).unwrap();
    assert_eq!(&serde_json::from_str::<Tx>(&json).unwrap(), tx);
}

#[test]
fn real_transactions_round_trip_with_their_tags() {
    let (mut dev, mut evm) = setup();
    let m = evm.message(&dev.id, 1, "echo", b"x".to_vec());
    evm.commit(&m);
    let h = evm.mine();
    let sent = send_xrd(&mut dev, &evm, 1, far());
    let gov = dev.governance.clone();
    let txs = [
        (
            6,
            Tx::Relay(RelayTx::UpdateEvmClient {
                chain: evm.id.clone(),
                updates: vec![evm.attested(h, &[0, 1]), evm.attested(h, &[1, 2])],
            }),
        ),
        (7, recv(&evm, h, &[&m])),
        (
            8,
            ack_tx(&evm, 1, &[(&sent, &Acknowledgement::Success(vec![1]))]),
        ),
        (9, timeout_tx(&evm, h, &[&sent])),
        (
            10,
            evidence_tx(
                &evm.id,
                EvmMisbehaviour::Conflict(attested_block(&evm, h, 0xee, &[0, 1])),
            ),
        ),
        (
            0,
            dev.signed(&gov, Action::CreateEvmClient(Box::new(evm.client_at(h)))),
        ),
        (
            0,
            dev.signed(&gov, Action::ResetEvmClient(Box::new(evm.client_at(1)))),
        ),
    ];
    for (tag, tx) in &txs {
        assert_eq!(tx.encode()[0], *tag, "{}", tx.kind());
        round_trips(tx);
    }
    // The action tags 4 and 5 follow the signer and nonce.
    for (tx, action_tag) in [(&txs[5].1, 4u8), (&txs[6].1, 5)] {
        assert_eq!(tx.encode()[1 + 20 + 8], action_tag);
    }
    let kinds: Vec<&str> = txs.iter().map(|(_, tx)| tx.kind()).collect();
    assert_eq!(
        kinds,
        [
            "update_evm_client",
            "recv_evm",
            "ack_evm",
            "timeout_evm",
            "evm_misbehaviour",
            "create_evm_client",
            "reset_evm_client"
        ]
    );
    // Tag 11 does not exist; action tag 6 neither.
    let mut bytes = txs[1].1.encode();
    bytes[0] = 11;
    assert!(Tx::decode(&bytes).is_err());
    let mut bytes = txs[5].1.encode();
    bytes[1 + 20 + 8] = 6;
    assert!(Tx::decode(&bytes).is_err());
}

#[test]
fn hostile_counts_are_refused_before_allocation() {
    let chain = ChainId::new("evm-1").unwrap();
    // 17 updates, and a million proven messages with no bytes behind them.
    let mut updates = vec![6u8];
    updates.extend(chain.encode());
    updates.extend(17u32.to_be_bytes());
    updates.extend(vec![0u8; 17 * 5]);
    assert!(Tx::decode(&updates).is_err());
    for tag in [7u8, 8, 9] {
        let mut bytes = vec![tag];
        bytes.extend(chain.encode());
        bytes.extend(5u64.to_be_bytes());
        bytes.extend(1_000u32.to_be_bytes());
        assert!(Tx::decode(&bytes).is_err(), "tag {tag}");
        bytes.truncate(bytes.len() - 4);
        bytes.extend(1_025u32.to_be_bytes());
        assert!(Tx::decode(&bytes).is_err(), "tag {tag}");
    }
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        1u64..1_000,
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(any::<u8>(), 1..21),
        1u64..,
        any::<u64>(),
    )
        .prop_map(|(sequence, payload, sender, height, time_ms)| Message {
            source: ChainId::new("evm-1").unwrap(),
            destination: ChainId::new("alpha").unwrap(),
            sequence,
            sender,
            receiver: "echo".into(),
            payload,
            timeout: Timeout { height, time_ms },
        })
}

fn arb_proof() -> impl Strategy<Value = EvmStorageProof> {
    let nodes = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..4);
    (nodes.clone(), nodes).prop_map(|(account_proof, storage_proof)| EvmStorageProof {
        account_proof,
        storage_proof,
    })
}

fn arb_ack() -> impl Strategy<Value = Acknowledgement> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Acknowledgement::Success),
        "[a-z ]{0,30}".prop_map(Acknowledgement::Error),
    ]
}

fn arb_attested() -> impl Strategy<Value = EvmUpdate> {
    (
        1u64..1_000,
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        0usize..4,
    )
        .prop_map(|(height, hash, root, time_ms, signers)| {
            let keys: Vec<SigningKey> = (0..signers as u32)
                .map(|i| SigningKey::from_seed("evm-attester", i))
                .collect();
            EvmUpdate::Attested(Attested::sign(
                Attestation {
                    chain_id: ChainId::new("evm-1").unwrap(),
                    height,
                    block_hash: Hash32(hash),
                    state_root: Hash32(root),
                    time_ms,
                },
                &keys,
            ))
        })
}

fn arb_evm_tx() -> impl Strategy<Value = Tx> {
    let chain = || Just(ChainId::new("evm-1").unwrap());
    prop_oneof![
        (chain(), prop::collection::vec(arb_attested(), 0..4))
            .prop_map(|(chain, updates)| Tx::Relay(RelayTx::UpdateEvmClient { chain, updates })),
        (
            chain(),
            any::<u64>(),
            prop::collection::vec(
                (arb_message(), any::<bool>(), arb_proof()).prop_map(|(message, t, proof)| {
                    InboundMessage {
                        message,
                        shows: if t {
                            SourceProof::TimedOut
                        } else {
                            SourceProof::Committed
                        },
                        proof,
                    }
                }),
                0..4
            )
        )
            .prop_map(
                |(source, proof_height, messages)| Tx::Relay(RelayTx::RecvEvm {
                    source,
                    proof_height,
                    messages
                })
            ),
        (
            chain(),
            any::<u64>(),
            prop::collection::vec(
                (arb_message(), arb_ack(), arb_proof()).prop_map(|(message, ack, proof)| {
                    ProvenAck {
                        message,
                        ack,
                        proof,
                    }
                }),
                0..4
            )
        )
            .prop_map(
                |(destination, proof_height, acks)| Tx::Relay(RelayTx::AckEvm {
                    destination,
                    proof_height,
                    acks
                })
            ),
        (
            chain(),
            any::<u64>(),
            prop::collection::vec(
                (arb_message(), arb_proof())
                    .prop_map(|(message, proof)| ProvenMessage { message, proof }),
                0..4
            )
        )
            .prop_map(|(destination, proof_height, messages)| Tx::Relay(
                RelayTx::TimeoutEvm {
                    destination,
                    proof_height,
                    messages
                }
            )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every EVM transaction decodes to itself, refuses a trailing or missing byte, and
    /// survives JSON; a flipped byte decodes to an error or to another canonical value.
    #[test]
    fn evm_transactions_round_trip(tx in arb_evm_tx(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        round_trips(&tx);
        let mut bytes = tx.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(other) = Tx::decode(&bytes) {
            prop_assert_eq!(other.encode(), bytes);
        }
    }
}
