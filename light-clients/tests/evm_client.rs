//! The EVM light client (`evm::client`): the attestation mode on a real anvil block and
//! its `eth_getProof` answer (gateway paths proven by the provable-storage convention),
//! committee failures, conflicts and freezing; the QBFT mode on signed header chains
//! (adjacency, parents, validator rotation, all-or-nothing); QBFT and IBFT 2.0 validator
//! additions and removals as Besu makes them, and a forged hand-over; the Clique mode
//! (turns, checkpoints); real QBFT and Clique headers as anchors; the canonical encoding.

use alloy_primitives::U256;
use proptest::prelude::*;
use serde_json::Value;
use xrelay_light_client::evm::attest::{
    AttestError, Attestation, Attested, BadSignature, Committee,
};
use xrelay_light_client::evm::client::{
    provable_slot, verify_path, EvmClientError, EvmClientState, EvmConsensusState, EvmStorageProof,
    EvmUpdate, FinalityMode, MAX_CONSENSUS_STATES,
};
use xrelay_light_client::evm::clique::CliqueError;
use xrelay_light_client::evm::consensus::{verify_header, EvmConsensus, EvmConsensusError};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{BftError, BftHeader, BftVariant, ValidatorVote};
use xrelay_light_client::evm::mpt::MptError;
use xrelay_light_client::evm::testkit::{
    addresses, bft_block_hash, bft_header, clique_header, clique_reseal, keys,
};
use xrelay_light_client::{Address, ChainId, Decode, Encode, Hash32, SigningKey};

fn anvil() -> ChainId {
    ChainId::new("anvil").unwrap()
}

fn answer() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/evm/anvil_gateway_proof.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("data file")).expect("JSON")
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    let digits = v.as_str().expect("hex string").trim_start_matches("0x");
    hex::decode(format!("{}{digits}", "0".repeat(digits.len() % 2))).expect("hex")
}

fn hex32(v: &Value) -> [u8; 32] {
    let raw = hex_bytes(v);
    let mut out = [0u8; 32];
    out[32 - raw.len()..].copy_from_slice(&raw);
    out
}

fn nodes(v: &Value) -> Vec<Vec<u8>> {
    v.as_array().unwrap().iter().map(hex_bytes).collect()
}

/// The anvil block as the committee attests it.
fn anvil_attestation(answer: &Value) -> Attestation {
    let block = &answer["eth_getBlockByNumber"];
    Attestation {
        chain_id: anvil(),
        height: u64::from_str_radix(
            block["number"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap(),
        block_hash: Hash32(hex32(&block["hash"])),
        state_root: Hash32(hex32(&block["stateRoot"])),
        time_ms: u64::from_str_radix(
            block["timestamp"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap()
            * 1000,
    }
}

/// An attestation-mode client of anvil (committee of 4, quorum 3) trusting the anvil
/// block's parent, with the gateway of the data file.
fn attested_client(answer: &Value, committee: &[SigningKey]) -> EvmClientState {
    let block = &answer["eth_getBlockByNumber"];
    let gateway = Address::from_hex(answer["gateway"].as_str().unwrap()).unwrap();
    EvmClientState::new(
        anvil(),
        FinalityMode::Attestation(Committee::new(addresses(committee), 3).unwrap()),
        vec![],
        gateway,
        0,
        EvmConsensusState {
            block_hash: Hash32(hex32(&block["parentHash"])),
            state_root: Hash32([0x11; 32]),
            time_ms: 0,
        },
    )
    .unwrap()
}

fn storage_proof(answer: &Value, slot: &[u8; 32]) -> EvmStorageProof {
    let proof = &answer["eth_getProof"];
    let entry = proof["storageProof"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| hex32(&e["key"]) == *slot)
        .expect("slot in the answer");
    EvmStorageProof {
        account_proof: nodes(&proof["accountProof"]),
        storage_proof: nodes(&entry["proof"]),
    }
}

#[test]
fn attested_anvil_block_proves_gateway_paths() {
    let answer = answer();
    let committee = keys("committee", 4);
    let mut client = attested_client(&answer, &committee);
    let attestation = anvil_attestation(&answer);
    let height = attestation.height;
    // Before the update the height is unknown.
    let write = &answer["writes"][0];
    let slot = hex32(&write["slot"]);
    let proof = storage_proof(&answer, &slot);
    assert_eq!(
        verify_path(&client, height, b"commitments/beta/1", None, &proof),
        Err(EvmClientError::UnknownHeight(height))
    );

    let attested = Attested::sign(attestation.clone(), &committee[1..]);
    assert_eq!(
        client.update(&EvmUpdate::Attested(attested.clone())),
        Ok(height)
    );
    // Submitting it again changes nothing.
    let before = client.clone();
    assert_eq!(client.update(&EvmUpdate::Attested(attested)), Ok(height));
    assert_eq!(client, before);

    for write in answer["writes"].as_array().unwrap() {
        let slot = hex32(&write["slot"]);
        let proof = storage_proof(&answer, &slot);
        let Some(path) = write["path"].as_str() else {
            // A plain slot: its raw value.
            let value = client
                .verify_storage(height, &proof.account_proof, &proof.storage_proof, &slot)
                .unwrap();
            assert_eq!(value, hex32(&write["stored"]));
            continue;
        };
        // Our slot derivation is the one anvil's keccak gave the capture script.
        assert_eq!(provable_slot(path.as_bytes()), slot);
        let value = hex_bytes(&write["value"]);
        assert_eq!(
            verify_path(&client, height, path.as_bytes(), Some(&value), &proof),
            Ok(())
        );
        // Another value, or absence, is refused.
        let mut other = value.clone();
        other[0] ^= 1;
        assert!(matches!(
            verify_path(&client, height, path.as_bytes(), Some(&other), &proof),
            Err(EvmClientError::ValueMismatch { .. })
        ));
        assert!(matches!(
            verify_path(&client, height, path.as_bytes(), None, &proof),
            Err(EvmClientError::ValueMismatch { .. })
        ));
        // The proof of this path does not prove another path.
        assert!(verify_path(&client, height, b"commitments/beta/9", None, &proof).is_err());
    }

    let absent = answer["absent"]["path"].as_str().unwrap().as_bytes();
    let absent_slot = provable_slot(absent);
    assert_eq!(absent_slot, hex32(&answer["absent"]["slot"]));
    let proof = storage_proof(&answer, &absent_slot);
    assert_eq!(verify_path(&client, height, absent, None, &proof), Ok(()));
    assert!(matches!(
        verify_path(&client, height, absent, Some(b"x"), &proof),
        Err(EvmClientError::ValueMismatch { .. })
    ));

    // A tampered account proof, or a client of another gateway, proves nothing.
    let mut bad = proof.clone();
    let last = bad.account_proof.len() - 1;
    bad.account_proof[last][40] ^= 1;
    assert!(matches!(
        verify_path(&client, height, absent, None, &bad),
        Err(EvmClientError::AccountProof {
            error: MptError::HashMismatch { .. },
            ..
        })
    ));
    let mut bad = proof.clone();
    bad.storage_proof.clear();
    assert!(matches!(
        verify_path(&client, height, absent, None, &bad),
        Err(EvmClientError::StorageProof {
            error: MptError::MissingNode { index: 0 },
            ..
        })
    ));
    let other_gateway = EvmClientState::decode(&{
        let mut bytes = client.encode();
        // The gateway address follows the mode and the (empty) validator list.
        let at = anvil().encode().len()
            + FinalityMode::Attestation(Committee::new(addresses(&committee), 3).unwrap())
                .encode()
                .len()
            + 4;
        bytes[at + 19] ^= 1;
        bytes
    })
    .unwrap();
    assert_ne!(other_gateway.gateway(), client.gateway());
    assert!(verify_path(&other_gateway, height, absent, None, &proof).is_err());
}

#[test]
fn committee_failures_are_typed() {
    let answer = answer();
    let committee = keys("committee", 4);
    let outsider = SigningKey::from_seed("outsider", 0);
    let mut client = attested_client(&answer, &committee);
    let attestation = anvil_attestation(&answer);
    let height = attestation.height;
    let update = |a: Attested| EvmUpdate::Attested(a);

    let below = Attested::sign(attestation.clone(), &committee[..2]);
    assert_eq!(
        client.update(&update(below)),
        Err(EvmClientError::Attestation {
            height,
            error: AttestError::BelowQuorum {
                signed: 2,
                quorum: 3
            }
        })
    );

    let mut unknown = Attested::sign(attestation.clone(), &committee[..3]);
    unknown.add(attestation.sign(&outsider));
    assert!(matches!(
        client.update(&update(unknown)),
        Err(EvmClientError::Attestation {
            error: AttestError::UnknownAttester { attester, .. },
            ..
        }) if attester == outsider.address()
    ));

    let mut duplicate = Attested::sign(attestation.clone(), &committee[..2]);
    duplicate.signatures.push(duplicate.signatures[0]);
    assert!(matches!(
        client.update(&update(duplicate)),
        Err(EvmClientError::Attestation {
            error: AttestError::DuplicateAttester { index: 2, .. },
            ..
        })
    ));

    // A signature by one member presented as another's.
    let mut forged = Attested::sign(attestation.clone(), &committee[..3]);
    forged.signatures[0].signature = attestation.sign(&committee[3]).signature;
    assert!(matches!(
        client.update(&update(forged)),
        Err(EvmClientError::Attestation {
            error: AttestError::BadSignature {
                reason: BadSignature::OtherSigner(_),
                ..
            },
            ..
        })
    ));
    let mut malformed = Attested::sign(attestation.clone(), &committee[..3]);
    malformed.signatures[1].signature.0[64] = 29;
    assert!(matches!(
        client.update(&update(malformed)),
        Err(EvmClientError::Attestation {
            error: AttestError::BadSignature {
                reason: BadSignature::Malformed(_),
                ..
            },
            ..
        })
    ));
    // Signatures over other bytes (another state root) do not carry over.
    let mut moved = Attested::sign(attestation.clone(), &committee[..3]);
    moved.attestation.state_root.0[0] ^= 1;
    assert!(matches!(
        client.update(&update(moved)),
        Err(EvmClientError::Attestation {
            error: AttestError::BadSignature { .. },
            ..
        })
    ));

    let mut other_chain = attestation.clone();
    other_chain.chain_id = ChainId::new("other").unwrap();
    assert!(matches!(
        client.update(&update(Attested::sign(other_chain, &committee))),
        Err(EvmClientError::WrongChain { .. })
    ));
    assert_eq!(
        client.update(&EvmUpdate::Headers(vec![])),
        Err(EvmClientError::ModeMismatch {
            mode: "attestation",
            found: "headers"
        })
    );
    // Nothing above changed the client.
    assert_eq!(client, attested_client(&answer, &committee));

    // Accepted; then an older height, time going backwards, a conflicting block.
    client
        .update(&update(Attested::sign(attestation.clone(), &committee)))
        .unwrap();
    let mut older = attestation.clone();
    older.height = 0;
    older.block_hash = Hash32([9; 32]);
    assert!(matches!(
        client.update(&update(Attested::sign(older, &committee))),
        Err(EvmClientError::ConflictingHeader { height: 0, .. })
    ));
    let mut back = attestation.clone();
    back.height += 1;
    back.time_ms -= 1;
    assert!(matches!(
        client.update(&update(Attested::sign(back, &committee))),
        Err(EvmClientError::TimeDecreased { .. })
    ));
    let mut conflicting = attestation.clone();
    conflicting.state_root = Hash32([7; 32]);
    let conflicting = Attested::sign(conflicting, &committee[..3]);
    assert!(matches!(
        client.update(&update(conflicting.clone())),
        Err(EvmClientError::ConflictingHeader { .. })
    ));
    assert!(!client.is_frozen());

    // The conflict is evidence: the client freezes and refuses everything after.
    assert_eq!(
        client.freeze_on_conflict(&Attested::sign(attestation.clone(), &committee)),
        Err(EvmClientError::NoConflict(height))
    );
    assert_eq!(client.freeze_on_conflict(&conflicting), Ok(height));
    assert!(client.is_frozen());
    let mut next = attestation.clone();
    next.height += 1;
    assert_eq!(
        client.update(&update(Attested::sign(next, &committee))),
        Err(EvmClientError::Frozen)
    );
    let proof = storage_proof(&answer, &hex32(&answer["absent"]["slot"]));
    assert_eq!(
        verify_path(&client, height, b"commitments/beta/2", None, &proof),
        Err(EvmClientError::Frozen)
    );
    let decoded = EvmClientState::decode(&client.encode()).unwrap();
    assert!(decoded.is_frozen());
}

/// A QBFT header at `number` sealed by `sealers`, naming `validators` in its extraData.
fn qbft_header(
    number: u64,
    parent_hash: Hash32,
    timestamp: u64,
    validators: &[Address],
    sealers: &[SigningKey],
) -> EvmHeader {
    bft_header(
        BftVariant::Qbft,
        number,
        parent_hash,
        timestamp,
        validators,
        None,
        sealers,
    )
}

fn block_hash(header: &EvmHeader) -> Hash32 {
    bft_block_hash(BftVariant::Qbft, header)
}

/// Headers 1..=n after `genesis`, each naming `validators` and sealed by `sealers`.
fn chain(
    genesis: &EvmHeader,
    n: u64,
    validators: &[Address],
    sealers: &[SigningKey],
) -> Vec<EvmHeader> {
    let mut out: Vec<EvmHeader> = Vec::new();
    for number in 1..=n {
        let parent = out.last().unwrap_or(genesis);
        out.push(qbft_header(
            number,
            block_hash(parent),
            1_700_000_000 + number,
            validators,
            sealers,
        ));
    }
    out
}

fn gateway() -> Address {
    Address([0xaa; 20])
}

#[test]
fn qbft_adjacent_headers() {
    let vals = keys("qbft", 4);
    let set = addresses(&vals);
    let genesis = qbft_header(0, Hash32::ZERO, 1_700_000_000, &set, &[]);
    let chain_id = ChainId::new("besu").unwrap();
    let mut client =
        EvmClientState::from_header(chain_id.clone(), FinalityMode::Qbft, &genesis, gateway())
            .unwrap();
    let mut sorted = set.clone();
    sorted.sort();
    assert_eq!(client.validators(), &sorted[..]);
    let headers = chain(&genesis, 5, &set, &vals[..3]);

    // Skipping a header, a wrong parent, too few seals: refused, nothing changes.
    let start = client.clone();
    assert_eq!(
        client.update(&EvmUpdate::Headers(headers[1..].to_vec())),
        Err(EvmClientError::NotAdjacent {
            expected_parent: 0,
            found: 2
        })
    );
    let orphan = qbft_header(1, Hash32([3; 32]), 1_700_000_001, &set, &vals[..3]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![orphan])),
        Err(EvmClientError::ParentMismatch { height: 1, .. })
    ));
    let mut weak = headers.clone();
    weak[3] = qbft_header(4, block_hash(&headers[2]), 1_700_000_004, &set, &vals[..2]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(weak)),
        Err(EvmClientError::Seal { height: 4, .. })
    ));
    let mut outsider = headers.clone();
    outsider[0] = qbft_header(
        1,
        block_hash(&genesis),
        1_700_000_001,
        &set,
        &[
            vals[0].clone(),
            vals[1].clone(),
            SigningKey::from_seed("x", 0),
        ],
    );
    assert!(matches!(
        client.update(&EvmUpdate::Headers(outsider)),
        Err(EvmClientError::Seal { height: 1, .. })
    ));
    let attested = Attested::sign(
        Attestation {
            chain_id,
            height: 1,
            block_hash: Hash32::ZERO,
            state_root: Hash32::ZERO,
            time_ms: 0,
        },
        &vals,
    );
    assert!(matches!(
        client.update(&EvmUpdate::Attested(attested)),
        Err(EvmClientError::ModeMismatch { .. })
    ));
    assert_eq!(client, start);

    assert_eq!(
        client.update(&EvmUpdate::Headers(headers[..3].to_vec())),
        Ok(3)
    );
    // Overlapping resubmission: the known headers are skipped.
    assert_eq!(client.update(&EvmUpdate::Headers(headers.clone())), Ok(5));
    assert_eq!(client.heights().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
    let cs = client.consensus_state(5).unwrap();
    assert_eq!(cs.block_hash, block_hash(&headers[4]));
    assert_eq!(cs.state_root, headers[4].state_root);
    assert_eq!(cs.time_ms, 1_700_000_005_000);
    // A different header at a trusted height is a conflict.
    let other = qbft_header(5, block_hash(&headers[3]), 1_700_000_006, &set, &vals[1..]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![other])),
        Err(EvmClientError::ConflictingHeader { height: 5, .. })
    ));

    // Rotation: block 6 lists a fifth validator, so it is sealed by ceil(2·5/3) = 4 of the
    // five (three seals of the old four are not enough), and so is block 7.
    let five = keys("qbft", 5);
    let five_set = addresses(&five);
    let before = client.clone();
    let h6_weak = qbft_header(
        6,
        block_hash(&headers[4]),
        1_700_000_006,
        &five_set,
        &vals[..3],
    );
    assert_eq!(
        client.update(&EvmUpdate::Headers(vec![h6_weak])),
        Err(EvmClientError::Seal {
            height: 6,
            error: EvmConsensusError::Bft(BftError::InsufficientQuorum {
                signed: 3,
                required: 4,
                validators: 5
            })
        })
    );
    let h6 = qbft_header(
        6,
        block_hash(&headers[4]),
        1_700_000_006,
        &five_set,
        &five[1..],
    );
    let h7_weak = qbft_header(7, block_hash(&h6), 1_700_000_007, &five_set, &five[2..]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![h6.clone(), h7_weak])),
        Err(EvmClientError::Seal { height: 7, .. })
    ));
    assert_eq!(client, before);
    let h7 = qbft_header(7, block_hash(&h6), 1_700_000_007, &five_set, &five[1..]);
    assert_eq!(
        client.update(&EvmUpdate::Headers(vec![h6, h7.clone()])),
        Ok(7)
    );
    assert_eq!(client.validators().len(), 5);

    // Time must not go backwards.
    let h8 = qbft_header(8, block_hash(&h7), 1_700_000_000, &five_set, &five[1..]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![h8])),
        Err(EvmClientError::TimeDecreased { height: 8, .. })
    ));

    let decoded = EvmClientState::decode(&client.encode()).unwrap();
    assert_eq!(decoded, client);
    let update = EvmUpdate::Headers(headers);
    assert_eq!(EvmUpdate::decode(&update.encode()).unwrap(), update);
}

/// The two BFT variants with their client mode and consensus rule.
fn bft_modes() -> [(BftVariant, FinalityMode, EvmConsensus); 2] {
    [
        (BftVariant::Qbft, FinalityMode::Qbft, EvmConsensus::Qbft),
        (BftVariant::Ibft2, FinalityMode::Ibft2, EvmConsensus::Ibft2),
    ]
}

/// One block of [`bft_chain`]: the set it lists, its vote, the indices (into the test's
/// keys) of its sealers in seal order.
type BlockSpec<'a> = (&'a [Address], Option<ValidatorVote>, &'a [usize]);

/// The blocks after `parent`, one per spec, each the child of the one before.
fn bft_chain(
    variant: BftVariant,
    parent: &EvmHeader,
    keys: &[SigningKey],
    blocks: &[BlockSpec<'_>],
) -> Vec<EvmHeader> {
    let mut out: Vec<EvmHeader> = Vec::new();
    for (listed, vote, sealers) in blocks {
        let parent = out.last().unwrap_or(parent);
        let number = parent.number + 1;
        let sealers: Vec<SigningKey> = sealers.iter().map(|&i| keys[i].clone()).collect();
        out.push(bft_header(
            variant,
            number,
            bft_block_hash(variant, parent),
            1_700_000_000 + number,
            listed,
            *vote,
            &sealers,
        ));
    }
    out
}

fn sorted(set: &[Address]) -> Vec<Address> {
    let mut set = set.to_vec();
    set.sort();
    set
}

/// An addition as Besu makes it: three of four validators vote a newcomer in (blocks 1–3),
/// block 4 lists the five and the newcomer seals it. The client follows, where a quorum of
/// the previous set (the newcomer's seal unknown to it) would refuse block 4.
#[test]
fn bft_validator_addition_is_followed() {
    for (variant, mode, consensus) in bft_modes() {
        let keys = keys("grow", 5);
        let old = addresses(&keys[..4]);
        let five = addresses(&keys);
        let add = Some(ValidatorVote {
            recipient: keys[4].address(),
            authorize: true,
        });
        let genesis = bft_header(variant, 0, Hash32::ZERO, 1_700_000_000, &old, None, &[]);
        let mut client =
            EvmClientState::from_header(ChainId::new("besu").unwrap(), mode, &genesis, gateway())
                .unwrap();
        let headers = bft_chain(
            variant,
            &genesis,
            &keys,
            &[
                (&old, add, &[0, 1, 2]),
                (&old, add, &[1, 2, 3]),
                (&old, add, &[2, 3, 0]),
                (&five, None, &[4, 0, 1, 3]),
                (&five, None, &[4, 1, 2, 3]),
            ],
        );
        assert!(matches!(
            verify_header(consensus, &headers[3], &sorted(&old)),
            Err(EvmConsensusError::Bft(BftError::UnknownSigner {
                index: 0,
                ..
            }))
        ));

        // All-or-nothing: the same chain with block 5 three seals short of ceil(2·5/3) = 4
        // changes nothing, not even the trusted set.
        let start = client.clone();
        let mut broken = headers.clone();
        broken[4] = bft_header(
            variant,
            5,
            bft_block_hash(variant, &headers[3]),
            1_700_000_005,
            &five,
            None,
            &keys[1..4],
        );
        assert_eq!(
            client.update(&EvmUpdate::Headers(broken)),
            Err(EvmClientError::Seal {
                height: 5,
                error: EvmConsensusError::Bft(BftError::InsufficientQuorum {
                    signed: 3,
                    required: 4,
                    validators: 5
                })
            })
        );
        assert_eq!(client, start);

        // The votes alone change nothing; the block listing the five hands them on.
        assert_eq!(
            client.update(&EvmUpdate::Headers(headers[..3].to_vec())),
            Ok(3)
        );
        assert_eq!(client.validators(), &sorted(&old)[..]);
        assert_eq!(client.update(&EvmUpdate::Headers(headers.clone())), Ok(5));
        assert_eq!(client.validators(), &sorted(&five)[..]);
        assert_eq!(
            client.consensus_state(5).unwrap().block_hash,
            bft_block_hash(variant, &headers[4])
        );
        let mut client = EvmClientState::decode(&client.encode()).unwrap();

        // From now on blocks need four of the five: three old validators no longer do.
        let h6_weak = bft_header(
            variant,
            6,
            bft_block_hash(variant, &headers[4]),
            1_700_000_006,
            &five,
            None,
            &keys[..3],
        );
        assert!(matches!(
            client.update(&EvmUpdate::Headers(vec![h6_weak])),
            Err(EvmClientError::Seal {
                height: 6,
                error: EvmConsensusError::Bft(BftError::InsufficientQuorum { .. })
            })
        ));
        let h6 = bft_chain(variant, &headers[4], &keys, &[(&five, None, &[0, 2, 3, 4])]);
        assert_eq!(client.update(&EvmUpdate::Headers(h6)), Ok(6));
    }
}

/// A removal 4 → 3: three validators vote the fourth out (blocks 1–3), block 4 lists the
/// three and two of them seal it, a quorum of three but not of the previous four. The
/// client follows, header by header across updates (and encodings), and the removed
/// validator's seal no longer counts.
#[test]
fn bft_validator_removal_is_followed() {
    for (variant, mode, consensus) in bft_modes() {
        let keys = keys("shrink", 4);
        let four = addresses(&keys);
        let three = addresses(&keys[..3]);
        let drop = Some(ValidatorVote {
            recipient: keys[3].address(),
            authorize: false,
        });
        let genesis = bft_header(variant, 0, Hash32::ZERO, 1_700_000_000, &four, None, &[]);
        let mut client =
            EvmClientState::from_header(ChainId::new("besu").unwrap(), mode, &genesis, gateway())
                .unwrap();
        let headers = bft_chain(
            variant,
            &genesis,
            &keys,
            &[
                (&four, drop, &[0, 1, 3]),
                (&four, drop, &[1, 2, 3]),
                (&four, drop, &[2, 0, 3]),
                (&three, None, &[0, 1]),
                (&three, None, &[1, 2]),
            ],
        );
        assert_eq!(
            verify_header(consensus, &headers[3], &four),
            Err(EvmConsensusError::Bft(BftError::InsufficientQuorum {
                signed: 2,
                required: 3,
                validators: 4
            }))
        );
        for header in &headers {
            assert_eq!(
                client.update(&EvmUpdate::Headers(vec![header.clone()])),
                Ok(header.number)
            );
            client = EvmClientState::decode(&client.encode()).unwrap();
            let expected = if header.number < 4 { &four } else { &three };
            assert_eq!(client.validators(), &sorted(expected)[..]);
        }

        // The removed validator's seal is now an unknown signer.
        let h6 = bft_chain(variant, &headers[4], &keys, &[(&three, None, &[0, 3])]);
        assert!(matches!(
            client.update(&EvmUpdate::Headers(h6)),
            Err(EvmClientError::Seal {
                height: 6,
                error: EvmConsensusError::Bft(BftError::UnknownSigner { index: 1, signer })
            }) if signer == keys[3].address()
        ));
        let h6 = bft_chain(variant, &headers[4], &keys, &[(&three, None, &[2, 0])]);
        assert_eq!(client.update(&EvmUpdate::Headers(h6)), Ok(6));
    }
}

/// A forged hand-over: a header listing a set of strangers, sealed by all of them (final
/// under its own list), is refused because no trusted validator vouches for it; with one
/// of four trusted validators among its sealers it is still short of more than a third.
/// Refused inside a batch, it takes the valid headers before it down with it.
#[test]
fn bft_forged_hand_over_is_refused() {
    for (variant, mode, _) in bft_modes() {
        let keys: Vec<SigningKey> = keys("trusted", 4)
            .into_iter()
            .chain(keys("usurper", 4))
            .collect();
        let trusted = addresses(&keys[..4]);
        let strangers = addresses(&keys[4..]);
        let genesis = bft_header(variant, 0, Hash32::ZERO, 1_700_000_000, &trusted, None, &[]);
        let mut client =
            EvmClientState::from_header(ChainId::new("besu").unwrap(), mode, &genesis, gateway())
                .unwrap();
        let start = client.clone();

        let forged = bft_chain(
            variant,
            &genesis,
            &keys,
            &[(&strangers, None, &[4, 5, 6, 7])],
        );
        assert_eq!(
            client.update(&EvmUpdate::Headers(forged)),
            Err(EvmClientError::Seal {
                height: 1,
                error: EvmConsensusError::Bft(BftError::InsufficientTrustedSigners {
                    signed: 0,
                    required: 2,
                    trusted: 4
                })
            })
        );
        let mut mixed = strangers[1..].to_vec();
        mixed.push(keys[0].address());
        let one_trusted = bft_chain(variant, &genesis, &keys, &[(&mixed, None, &[0, 5, 6, 7])]);
        assert_eq!(
            client.update(&EvmUpdate::Headers(one_trusted)),
            Err(EvmClientError::Seal {
                height: 1,
                error: EvmConsensusError::Bft(BftError::InsufficientTrustedSigners {
                    signed: 1,
                    required: 2,
                    trusted: 4
                })
            })
        );
        assert_eq!(client, start);

        // After a valid block, in one batch.
        let valid = bft_chain(variant, &genesis, &keys, &[(&trusted, None, &[0, 1, 2])]);
        let mut batch = valid.clone();
        batch.extend(bft_chain(
            variant,
            &valid[0],
            &keys,
            &[(&strangers, None, &[4, 5, 6, 7])],
        ));
        assert!(matches!(
            client.update(&EvmUpdate::Headers(batch)),
            Err(EvmClientError::Seal {
                height: 2,
                error: EvmConsensusError::Bft(BftError::InsufficientTrustedSigners { .. })
            })
        ));
        assert_eq!(client, start);
        assert_eq!(client.update(&EvmUpdate::Headers(valid)), Ok(1));
        assert_eq!(client.validators(), &sorted(&trusted)[..]);
    }
}

#[test]
fn consensus_states_are_bounded() {
    let committee = keys("bounded", 1);
    let mut client = EvmClientState::new(
        anvil(),
        FinalityMode::Attestation(Committee::new(addresses(&committee), 1).unwrap()),
        vec![],
        gateway(),
        1,
        EvmConsensusState {
            block_hash: Hash32([1; 32]),
            state_root: Hash32([1; 32]),
            time_ms: 1,
        },
    )
    .unwrap();
    for height in 2..=600u64 {
        let a = Attestation {
            chain_id: anvil(),
            height,
            block_hash: Hash32([height as u8; 32]),
            state_root: Hash32([height as u8; 32]),
            time_ms: height,
        };
        client
            .update(&EvmUpdate::Attested(Attested::sign(a, &committee)))
            .unwrap();
    }
    let heights: Vec<_> = client.heights().collect();
    assert_eq!(heights.len(), MAX_CONSENSUS_STATES);
    assert_eq!(heights[0], 600 - MAX_CONSENSUS_STATES as u64 + 1);
    assert_eq!(client.latest_height(), 600);
    assert_eq!(EvmClientState::decode(&client.encode()).unwrap(), client);
}

#[test]
fn setup_is_checked() {
    let vals = addresses(&keys("setup", 3));
    let cs = EvmConsensusState {
        block_hash: Hash32([1; 32]),
        state_root: Hash32([2; 32]),
        time_ms: 3,
    };
    let new = |mode, validators| EvmClientState::new(anvil(), mode, validators, gateway(), 1, cs);
    assert!(new(FinalityMode::Qbft, vec![]).is_err());
    assert!(new(FinalityMode::Qbft, vec![vals[0], vals[0]]).is_err());
    assert!(new(FinalityMode::Clique { epoch: 0 }, vals.clone()).is_err());
    let committee = Committee::new(vals.clone(), 2).unwrap();
    assert!(new(FinalityMode::Attestation(committee.clone()), vals.clone()).is_err());
    assert!(new(FinalityMode::Attestation(committee), vec![]).is_ok());
    assert!(Committee::new(vals.clone(), 0).is_err());
    assert!(Committee::new(vals.clone(), 4).is_err());
    assert!(Committee::new(vec![], 1).is_err());
    assert!(Committee::new(vec![vals[1], vals[1]], 1).is_err());
    // Unsorted validators are kept sorted (one encoding).
    let mut reversed = vals.clone();
    reversed.reverse();
    let client = new(FinalityMode::Ibft2, reversed).unwrap();
    let mut sorted = vals.clone();
    sorted.sort();
    assert_eq!(client.validators(), &sorted[..]);
}

fn arb_client() -> impl Strategy<Value = EvmClientState> {
    let mode = prop_oneof![
        Just(FinalityMode::Qbft),
        Just(FinalityMode::Ibft2),
        (1u64..100_000).prop_map(|epoch| FinalityMode::Clique { epoch }),
        (
            prop::collection::btree_set(any::<[u8; 20]>(), 1..6),
            any::<prop::sample::Index>()
        )
            .prop_map(|(set, k)| {
                let set: Vec<Address> = set.into_iter().map(Address).collect();
                let quorum = k.index(set.len()) + 1;
                FinalityMode::Attestation(Committee::new(set, quorum).unwrap())
            }),
    ];
    (
        mode,
        prop::collection::btree_set(any::<[u8; 20]>(), 1..6),
        any::<[u8; 20]>(),
        prop::collection::btree_map(any::<u32>(), (any::<[u8; 32]>(), any::<[u8; 32]>()), 1..20),
        any::<bool>(),
    )
        .prop_map(|(mode, vals, gw, states, frozen)| {
            let validators = match mode {
                FinalityMode::Attestation(_) => vec![],
                _ => vals.into_iter().map(Address).collect(),
            };
            // Encode the fields directly: states with times ascending with height.
            let mut w = Vec::new();
            w.extend(anvil().encode());
            w.extend(mode.encode());
            w.extend((validators.len() as u32).to_be_bytes());
            for v in &validators {
                w.extend(v.0);
            }
            w.extend(gw);
            let latest = *states.keys().last().unwrap() as u64;
            w.extend(latest.to_be_bytes());
            w.extend((states.len() as u32).to_be_bytes());
            for (h, (hash, root)) in &states {
                w.extend((*h as u64).to_be_bytes());
                w.extend(hash);
                w.extend(root);
                w.extend((*h as u64 * 1000).to_be_bytes());
            }
            w.push(u8::from(frozen));
            EvmClientState::decode(&w).expect("valid encoding")
        })
}

proptest! {
    /// Decode ∘ encode is the identity, and any truncation, extension or changed tag
    /// byte is refused or decodes to a value that re-encodes to those exact bytes.
    #[test]
    fn encoding_is_canonical(client in arb_client(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = client.encode();
        prop_assert_eq!(EvmClientState::decode(&bytes).unwrap(), client);
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(EvmClientState::decode(&longer).is_err());
        prop_assert!(EvmClientState::decode(&bytes[..cut.index(bytes.len())]).is_err());
        let mut flipped = bytes.clone();
        flipped[flip.index(bytes.len())] ^= 1 << bit;
        if let Ok(other) = EvmClientState::decode(&flipped) {
            prop_assert_eq!(other.encode(), flipped);
        }
    }

    /// Storage proofs and updates round-trip too.
    #[test]
    fn proof_and_update_encodings(
        account in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..5),
        storage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..5),
        height in any::<u64>(),
    ) {
        let proof = EvmStorageProof { account_proof: account, storage_proof: storage };
        prop_assert_eq!(EvmStorageProof::decode(&proof.encode()).unwrap(), proof);
        let committee = keys("enc", 2);
        let update = EvmUpdate::Attested(Attested::sign(
            Attestation { chain_id: anvil(), height, block_hash: Hash32([1; 32]), state_root: Hash32([2; 32]), time_ms: 3 },
            &committee,
        ));
        prop_assert_eq!(EvmUpdate::decode(&update.encode()).unwrap(), update);
    }
}

#[test]
fn decoding_refuses_broken_invariants() {
    let vals = addresses(&keys("dec", 2));
    let cs = EvmConsensusState {
        block_hash: Hash32([1; 32]),
        state_root: Hash32([2; 32]),
        time_ms: 3,
    };
    let client =
        EvmClientState::new(anvil(), FinalityMode::Qbft, vals.clone(), gateway(), 7, cs).unwrap();
    let bytes = client.encode();
    let mode_at = anvil().encode().len();
    // Unknown mode tag.
    let mut bad = bytes.clone();
    bad[mode_at] = 9;
    assert!(EvmClientState::decode(&bad).is_err());
    // Validators out of order.
    let mut bad = bytes.clone();
    let first = mode_at + 1 + 4;
    let (a, b) = bad[first..first + 40].split_at_mut(20);
    a.swap_with_slice(b);
    assert!(EvmClientState::decode(&bad).is_err());
    // Latest height without its consensus state.
    let mut bad = bytes.clone();
    let latest_at = first + 40 + 20;
    bad[latest_at + 7] = 8;
    assert!(EvmClientState::decode(&bad).is_err());
    // Frozen flag other than 0 or 1.
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() = 2;
    assert!(EvmClientState::decode(&bad).is_err());
    // A seal-mode client with no validators.
    let mut bad = bytes[..mode_at + 1].to_vec();
    bad.extend([0, 0, 0, 0]);
    bad.extend(&bytes[first + 40..]);
    assert!(EvmClientState::decode(&bad).is_err());
}

/// The block time of Clique block `number` in these tests: 15 s apart from 1,600,000,000.
fn clique_time(number: u64) -> u64 {
    1_600_000_000 + 15 * number
}

#[test]
fn clique_headers_follow_checkpoints() {
    let epoch = 4;
    let three = keys("clique", 3);
    let three_set = addresses(&three);
    let genesis = clique_header(
        0,
        Hash32::ZERO,
        clique_time(0),
        epoch,
        &three_set,
        &three_set,
        &three[0],
    );
    let mode = FinalityMode::Clique { epoch };
    let chain_id = ChainId::new("goerli-like").unwrap();
    let mut client =
        EvmClientState::from_header(chain_id.clone(), mode.clone(), &genesis, gateway()).unwrap();
    assert_eq!(client.validators().len(), 3);

    // Blocks 1..=3, one signer each; block 4 is a checkpoint naming two of a new set.
    let mut headers = vec![];
    let mut parent = genesis.hash();
    for number in 1..=3u64 {
        let h = clique_header(
            number,
            parent,
            clique_time(number),
            epoch,
            &[],
            &three_set,
            &three[number as usize % 3],
        );
        parent = h.hash();
        headers.push(h);
    }
    let newcomer = SigningKey::from_seed("clique-new", 0);
    let next_set = vec![three[1].address(), newcomer.address()];
    let h4 = clique_header(
        4,
        parent,
        clique_time(4),
        epoch,
        &next_set,
        &three_set,
        &three[1],
    );

    // An outsider's seal, a signer claiming the wrong turn: refused, nothing changes.
    let start = client.clone();
    let outsider = clique_header(
        1,
        genesis.hash(),
        clique_time(1),
        epoch,
        &[],
        &three_set,
        &newcomer,
    );
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![outsider])),
        Err(EvmClientError::Seal { height: 1, .. })
    ));
    // Block 1's sealer with the other difficulty, properly sealed.
    let mut wrong_turn = headers[0].clone();
    wrong_turn.difficulty = U256::from(3u8) - wrong_turn.difficulty;
    clique_reseal(&mut wrong_turn, &three[1]);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![wrong_turn])),
        Err(EvmClientError::Seal {
            height: 1,
            error: EvmConsensusError::Clique(CliqueError::WrongDifficulty { .. })
        })
    ));
    assert_eq!(client, start);

    let mut all = headers.clone();
    all.push(h4.clone());
    assert_eq!(client.update(&EvmUpdate::Headers(all)), Ok(4));
    let mut expected = next_set.clone();
    expected.sort();
    assert_eq!(client.validators(), &expected[..]);
    assert_eq!(client.consensus_state(4).unwrap().block_hash, h4.hash());

    // After the checkpoint a signer outside the new set is refused, the newcomer accepted.
    let dropped = clique_header(
        5,
        h4.hash(),
        clique_time(5),
        epoch,
        &[],
        &next_set,
        &three[2],
    );
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![dropped])),
        Err(EvmClientError::Seal { height: 5, .. })
    ));
    let h5 = clique_header(
        5,
        h4.hash(),
        clique_time(5),
        epoch,
        &[],
        &next_set,
        &newcomer,
    );
    assert_eq!(client.update(&EvmUpdate::Headers(vec![h5])), Ok(5));
    assert_eq!(EvmClientState::decode(&client.encode()).unwrap(), client);

    // An anchor must be a checkpoint: it is what lists the signers.
    assert!(matches!(
        EvmClientState::from_header(chain_id, mode, &headers[0], gateway()),
        Err(EvmClientError::InvalidSetup(_))
    ));
}

/// EIP-225's "signed recently" rule within one update: with 4 signers a signer may seal
/// one of any 3 consecutive blocks. A run breaking it is refused whole at the offending
/// header; the rule is not carried from one update to the next (PROTOCOL.md §12.5).
#[test]
fn clique_updates_refuse_a_signer_sealing_too_recently() {
    let epoch = 100;
    let four = keys("clique-recent", 4);
    let set = addresses(&four);
    let genesis = clique_header(0, Hash32::ZERO, clique_time(0), epoch, &set, &set, &four[0]);
    let mode = FinalityMode::Clique { epoch };
    let mut client = EvmClientState::from_header(
        ChainId::new("clique-recent").unwrap(),
        mode,
        &genesis,
        gateway(),
    )
    .unwrap();
    // Sealers by block: 1 a, 2 b, 3 a (too soon: a sealed block 1, within 3 blocks).
    let (a, b) = (&four[0], &four[1]);
    let h1 = clique_header(1, genesis.hash(), clique_time(1), epoch, &[], &set, a);
    let h2 = clique_header(2, h1.hash(), clique_time(2), epoch, &[], &set, b);
    let h3 = clique_header(3, h2.hash(), clique_time(3), epoch, &[], &set, a);
    let start = client.clone();
    assert_eq!(
        client.update(&EvmUpdate::Headers(vec![
            h1.clone(),
            h2.clone(),
            h3.clone()
        ])),
        Err(EvmClientError::Seal {
            height: 3,
            error: EvmConsensusError::Clique(CliqueError::RecentlySigned {
                signer: a.address(),
                number: 3,
                previous: 1,
            }),
        })
    );
    assert_eq!(client, start, "a refused run changes nothing");
    // The same signer twice in a row is refused too.
    let h2_by_a = clique_header(2, h1.hash(), clique_time(2), epoch, &[], &set, a);
    assert!(matches!(
        client.update(&EvmUpdate::Headers(vec![h1.clone(), h2_by_a])),
        Err(EvmClientError::Seal {
            height: 2,
            error: EvmConsensusError::Clique(CliqueError::RecentlySigned { .. })
        })
    ));
    // a again at block 4 is three blocks after block 1: allowed.
    let h3_by_c = clique_header(3, h2.hash(), clique_time(3), epoch, &[], &set, &four[2]);
    let h4 = clique_header(4, h3_by_c.hash(), clique_time(4), epoch, &[], &set, a);
    assert_eq!(
        client.update(&EvmUpdate::Headers(vec![
            h1.clone(),
            h2.clone(),
            h3_by_c.clone(),
            h4
        ])),
        Ok(4)
    );
    // Across updates the rule is not enforced: the client keeps no sealers between them.
    let mut split = start.clone();
    assert_eq!(split.update(&EvmUpdate::Headers(vec![h1, h2])), Ok(2));
    assert_eq!(split.update(&EvmUpdate::Headers(vec![h3])), Ok(3));
}

fn data_header(name: &str) -> EvmHeader {
    let path = format!("{}/tests/data/evm/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("data file");
    EvmHeader::decode(&hex::decode(text.trim()).expect("hex")).expect("header")
}

/// Real headers as trust anchors: a Besu QBFT block hands on the four validators its
/// extraData lists; a Goerli (Clique) block between checkpoints cannot anchor a client.
#[test]
fn real_headers_as_anchors() {
    let qbft = data_header("qbft_besu_block_7528.hex");
    let client = EvmClientState::from_header(
        ChainId::new("besu-qbft").unwrap(),
        FinalityMode::Qbft,
        &qbft,
        gateway(),
    )
    .unwrap();
    assert_eq!(client.latest_height(), 7528);
    assert_eq!(client.validators().len(), 4);
    let cs = client.consensus_state(7528).unwrap();
    assert_eq!(
        cs.block_hash,
        BftHeader::parse(BftVariant::Qbft, &qbft)
            .unwrap()
            .block_hash()
    );
    assert_eq!(cs.state_root, qbft.state_root);
    assert_eq!(cs.time_ms, qbft.timestamp * 1000);
    // The same header is not a Clique block.
    assert!(matches!(
        EvmClientState::from_header(
            ChainId::new("besu-qbft").unwrap(),
            FinalityMode::Clique { epoch: 30_000 },
            &qbft,
            gateway(),
        ),
        Err(EvmClientError::Seal { .. })
    ));

    let goerli = data_header("clique_goerli_block_1798342.hex");
    assert!(matches!(
        EvmClientState::from_header(
            ChainId::new("goerli").unwrap(),
            FinalityMode::Clique { epoch: 30_000 },
            &goerli,
            gateway(),
        ),
        Err(EvmClientError::InvalidSetup(_))
    ));
}
