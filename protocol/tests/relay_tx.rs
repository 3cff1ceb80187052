//! Relay transactions from outside (a mempool, a Gateway call read back): strict decoding,
//! one encoding per value, no panic on any input; and submissions turned into the relay
//! transaction of their proofs' family.

use proptest::prelude::*;
use xrelay_light_client::evm::attest::{Attestation, Attested};
use xrelay_light_client::evm::client::EvmStorageProof;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::BftVariant;
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::evm::testkit::{bft_header, bft_reseal};
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{
    paths, Acknowledgement, ChainId, Decode, Encode, Message, Misbehaviour, StateProof, Timeout,
};
use xrelay_light_client::{Hash32, SigningKey};
use xrelay_protocol::limits::{MAX_BATCH, MAX_TX_HEADERS};
use xrelay_protocol::{
    tag, ChainProof, ClientUpdate, InboundMessage, MixedProofs, ProvenAck, ProvenMessage, RelayTx,
    SourceProof, Submission,
};

fn id(s: &str) -> ChainId {
    ChainId::new(s).unwrap()
}

fn message(sequence: u64) -> Message {
    Message {
        source: id("alpha"),
        destination: id("beta"),
        sequence,
        sender: vec![7; 20],
        receiver: "echo".into(),
        payload: b"hello".to_vec(),
        timeout: Timeout {
            height: 100,
            time_ms: 0,
        },
    }
}

/// A real sparse Merkle proof of `key` (present with `value`, or absent).
fn proof(key: &[u8], value: Option<&[u8]>) -> StateProof {
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    let mut writes = vec![(b"other".to_vec(), Some(b"x".to_vec()))];
    if let Some(v) = value {
        writes.push((key.to_vec(), Some(v.to_vec())));
    }
    tree.apply(0, writes).unwrap();
    tree.prove(key, 0).unwrap().1
}

/// Two QBFT blocks 1 of one 4-validator set, sealed by three of them each: evidence.
fn qbft_pair() -> (EvmHeader, EvmHeader) {
    let keys: Vec<SigningKey> = (0..4)
        .map(|i| SigningKey::from_seed("relay-tx", i))
        .collect();
    let set: Vec<_> = keys.iter().map(SigningKey::address).collect();
    let a = bft_header(
        BftVariant::Qbft,
        1,
        Hash32([1; 32]),
        10,
        &set,
        None,
        &keys[..3],
    );
    let mut b = a.clone();
    b.state_root = Hash32([0xbb; 32]);
    bft_reseal(BftVariant::Qbft, &mut b, &keys[1..]);
    (a, b)
}

fn evm_proof() -> EvmStorageProof {
    EvmStorageProof {
        account_proof: vec![vec![0xc0]],
        storage_proof: vec![vec![0x80]],
    }
}

/// One relay transaction of every tag, from a real signed chain and real proofs.
fn samples() -> Vec<RelayTx> {
    let chain = TestChain::new(ChainSpec::new("alpha", fixed_set(4, 10)), 4);
    let m = message(1);
    let ack = Acknowledgement::Success(b"ok".to_vec());
    let commitment = paths::commitment(&m.destination, 1);
    vec![
        RelayTx::UpdateClient {
            chain: id("alpha"),
            blocks: vec![chain.light_block(2), chain.light_block(3)],
        },
        RelayTx::Recv {
            source: id("alpha"),
            proof_height: 3,
            messages: vec![InboundMessage {
                message: m.clone(),
                shows: SourceProof::Committed,
                proof: proof(&commitment, Some(&m.commitment().0)),
            }],
        },
        RelayTx::Ack {
            destination: id("beta"),
            proof_height: 3,
            acks: vec![ProvenAck {
                message: m.clone(),
                ack: ack.clone(),
                proof: proof(&paths::ack(&m.source, 1), Some(&ack.commitment().0)),
            }],
        },
        RelayTx::Timeout {
            destination: id("beta"),
            proof_height: 3,
            messages: vec![ProvenMessage {
                message: m.clone(),
                proof: proof(&paths::receipt(&m.source, 1), None),
            }],
        },
        RelayTx::SubmitMisbehaviour {
            chain: id("alpha"),
            evidence: Box::new(Misbehaviour {
                trusted_height: 2,
                trusted_next_validators: chain.validators(3).clone(),
                first: chain.light_block(3),
                second: chain.conflicting_light_block(3, |h| h.state_root.0[0] ^= 1),
            }),
        },
        RelayTx::UpdateEvmClient {
            chain: id("gamma"),
            updates: vec![],
        },
        RelayTx::RecvEvm {
            source: id("gamma"),
            proof_height: 9,
            messages: vec![InboundMessage {
                message: m.clone(),
                shows: SourceProof::TimedOut,
                proof: evm_proof(),
            }],
        },
        RelayTx::AckEvm {
            destination: id("gamma"),
            proof_height: 9,
            acks: vec![ProvenAck {
                message: m.clone(),
                ack,
                proof: evm_proof(),
            }],
        },
        RelayTx::TimeoutEvm {
            destination: id("gamma"),
            proof_height: 9,
            messages: vec![ProvenMessage {
                message: m,
                proof: evm_proof(),
            }],
        },
        RelayTx::SubmitEvmMisbehaviour {
            chain: id("gamma"),
            evidence: Box::new(EvmMisbehaviour::Headers {
                first: Box::new(qbft_pair().0),
                second: Box::new(qbft_pair().1),
            }),
        },
    ]
}

#[test]
fn every_tag_round_trips_and_reports_its_own_tag() {
    let samples = samples();
    let tags: Vec<u8> = samples.iter().map(RelayTx::tag).collect();
    assert_eq!(tags, (tag::UPDATE_CLIENT..=tag::LAST).collect::<Vec<_>>());
    for tx in &samples {
        let bytes = tx.encode();
        assert_eq!(bytes[0], tx.tag());
        assert_eq!(&RelayTx::decode(&bytes).unwrap(), tx, "{}", tx.kind());
        assert!(RelayTx::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
        assert!(RelayTx::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(tx.cost().check().is_ok());
    }
}

#[test]
fn a_signed_or_unknown_tag_is_not_a_relay_transaction() {
    let body = samples()[1].encode();
    for t in [tag::SIGNED, tag::LAST + 1, 255] {
        let mut bytes = body.clone();
        bytes[0] = t;
        let e = RelayTx::decode(&bytes).unwrap_err();
        assert!(e.to_string().contains("relay transaction tag"), "{e}");
    }
}

#[test]
fn counts_over_the_limits_are_refused_before_allocating() {
    // A receive claiming one more message than a batch holds, with no bytes for them.
    let mut bytes = vec![tag::RECV];
    bytes.extend(id("alpha").encode());
    bytes.extend(3u64.to_be_bytes());
    bytes.extend(((MAX_BATCH + 1) as u32).to_be_bytes());
    assert!(RelayTx::decode(&bytes).is_err());
    // An update with more headers than one transaction may make a chain check.
    let chain = TestChain::new(ChainSpec::new("alpha", fixed_set(1, 10)), 2);
    let tx = RelayTx::UpdateClient {
        chain: id("alpha"),
        blocks: vec![chain.light_block(2); MAX_TX_HEADERS + 1],
    };
    assert!(tx.cost().check().is_err());
}

#[test]
fn submissions_become_the_relay_transaction_of_their_proofs_family() {
    let m = message(1);
    let jmt = ChainProof::Jmt(proof(b"k", None));
    let evm = ChainProof::Evm(evm_proof());
    let receive = |proofs: Vec<ChainProof>| Submission::Receive {
        source: id("alpha"),
        proof_height: 3,
        messages: proofs
            .into_iter()
            .map(|proof| InboundMessage {
                message: m.clone(),
                shows: SourceProof::Committed,
                proof,
            })
            .collect(),
    };
    let kind = |s| RelayTx::from_submission(s).map(|t| t.tag());
    assert_eq!(kind(receive(vec![jmt.clone(), jmt.clone()])), Ok(tag::RECV));
    assert_eq!(kind(receive(vec![evm.clone()])), Ok(tag::RECV_EVM));
    assert_eq!(
        kind(receive(vec![])),
        Ok(tag::RECV),
        "an empty batch is sparse Merkle"
    );
    assert_eq!(
        kind(receive(vec![jmt.clone(), evm.clone()])),
        Err(MixedProofs)
    );
    let ack = |proof| Submission::Acknowledge {
        destination: id("beta"),
        proof_height: 3,
        acks: vec![ProvenAck {
            message: m.clone(),
            ack: Acknowledgement::Error("no".into()),
            proof,
        }],
    };
    assert_eq!(kind(ack(jmt.clone())), Ok(tag::ACK));
    assert_eq!(kind(ack(evm.clone())), Ok(tag::ACK_EVM));
    let timeout = |proofs: Vec<ChainProof>| Submission::Timeout {
        destination: id("beta"),
        proof_height: 3,
        messages: proofs
            .into_iter()
            .map(|proof| ProvenMessage {
                message: m.clone(),
                proof,
            })
            .collect(),
    };
    assert_eq!(kind(timeout(vec![jmt.clone()])), Ok(tag::TIMEOUT));
    assert_eq!(kind(timeout(vec![evm.clone()])), Ok(tag::TIMEOUT_EVM));
    assert_eq!(kind(timeout(vec![evm, jmt])), Err(MixedProofs));
    let update = |u| Submission::UpdateClient {
        of: id("alpha"),
        update: u,
    };
    assert_eq!(
        kind(update(ClientUpdate::Bft(vec![]))),
        Ok(tag::UPDATE_CLIENT)
    );
    assert_eq!(
        kind(update(ClientUpdate::Evm(vec![]))),
        Ok(tag::UPDATE_EVM_CLIENT)
    );
    let (a, b) = qbft_pair();
    let evidence = Box::new(EvmMisbehaviour::Headers {
        first: Box::new(a),
        second: Box::new(b),
    });
    let tx = RelayTx::from_submission(Submission::EvmMisbehaviour {
        of: id("gamma"),
        evidence: evidence.clone(),
    });
    assert_eq!(
        tx,
        Ok(RelayTx::SubmitEvmMisbehaviour {
            chain: id("gamma"),
            evidence
        })
    );
}

#[test]
fn evm_evidence_costs_what_its_blocks_would_in_an_update() {
    let (a, b) = qbft_pair();
    // Each header's extraData holds its three seals: three recoveries each, at most.
    let seals = |h: &EvmHeader| h.extra_data.len() / 65;
    let headers = RelayTx::SubmitEvmMisbehaviour {
        chain: id("gamma"),
        evidence: Box::new(EvmMisbehaviour::Headers {
            first: Box::new(a.clone()),
            second: Box::new(b.clone()),
        }),
    }
    .cost();
    assert_eq!(headers.headers, 2);
    assert_eq!(headers.signatures, seals(&a) + seals(&b));
    assert!(headers.signatures >= 6);
    let keys: Vec<SigningKey> = (0..3).map(|i| SigningKey::from_seed("cost", i)).collect();
    let attestation = Attestation {
        chain_id: id("gamma"),
        height: 5,
        block_hash: Hash32([5; 32]),
        state_root: Hash32([6; 32]),
        time_ms: 7,
    };
    let two = Attested::sign(attestation.clone(), &keys[..2]);
    let unsigned = Attested::sign(attestation, &[]);
    let cost = |e: EvmMisbehaviour| {
        RelayTx::SubmitEvmMisbehaviour {
            chain: id("gamma"),
            evidence: Box::new(e),
        }
        .cost()
    };
    let pair = cost(EvmMisbehaviour::Attestations {
        first: two.clone(),
        second: unsigned.clone(),
    });
    // An attested block without signatures still counts one recovery.
    assert_eq!((pair.headers, pair.signatures), (2, 3));
    let one = cost(EvmMisbehaviour::Conflict(two));
    assert_eq!((one.headers, one.signatures), (1, 2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-bit change either fails to decode or decodes to a different transaction
    /// that re-encodes to exactly the changed bytes: one encoding per value.
    #[test]
    fn bit_flips_never_alias(pick in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>()) {
        let txs = samples();
        let tx = &txs[pick.index(txs.len())];
        let bytes = tx.encode();
        let bit = bit.index(bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        if let Ok(other) = RelayTx::decode(&flipped) {
            prop_assert_ne!(&other, tx);
            prop_assert_eq!(other.encode(), flipped);
        }
    }

    /// Random bytes never panic the decoders, and what decodes re-encodes to the input.
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(tx) = RelayTx::decode(&bytes) {
            prop_assert_eq!(tx.encode(), bytes.clone());
            let _ = tx.cost().check();
        }
        let _ = InboundMessage::<StateProof>::decode(&bytes);
        let _ = ProvenAck::<EvmStorageProof>::decode(&bytes);
        let _ = xrelay_protocol::TransferPacket::decode(&bytes);
    }
}
