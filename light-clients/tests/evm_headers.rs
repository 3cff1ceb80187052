//! EVM block headers and their seals: real headers from public sources (QBFT and IBFT 2.0
//! blocks of Besu networks, a Goerli Clique block; see `tests/data/evm/README.md`) decode,
//! re-encode byte for byte, hash to the chain's block hash and verify with the right
//! signers; every altered byte, seal or validator list is refused with a typed error;
//! headers signed here with our own keys cover votes, checkpoints and validator changes;
//! property tests cover decoding arbitrary bytes and round trips of generated headers.

use alloy_primitives::U256;
use alloy_rlp::{Encodable, Header as RlpHeader, PayloadView};
use proptest::prelude::*;

use xrelay_light_client::evm::clique::{self, check_recent_signers, CliqueError, CliqueHeader};
use xrelay_light_client::evm::consensus::{
    verify_header, verify_header_transition, EvmConsensus, EvmConsensusError,
};
use xrelay_light_client::evm::header::{
    keccak256, BlobGasFields, EvmHeader, EvmHeaderError, MAX_EXTRA_DATA_BYTES, MAX_HEADER_BYTES,
};
use xrelay_light_client::evm::istanbul::{
    quorum, trust_threshold, BftError, BftExtraData, BftHeader, BftVariant, ValidatorVote,
    ISTANBUL_MIX_HASH,
};
use xrelay_light_client::{Address, Hash32, SigningKey};

// ---------------------------------------------------------------------------------------
// Fixtures

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/evm/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    hex::decode(text.trim()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn addr(s: &str) -> Address {
    Address::from_hex(s).unwrap()
}

fn hash(s: &str) -> Hash32 {
    Hash32::from_hex(s).unwrap()
}

/// QBFT block 7528 of a 4-validator Besu network, with 3 committed seals.
fn qbft_bytes() -> Vec<u8> {
    fixture("qbft_besu_block_7528.hex")
}

/// The IBFT 2.0 header inside a full block RLP `[header, transactions, ommers]`.
fn ibft2_bytes() -> Vec<u8> {
    let block = fixture("ibft2_block_5618555.block.hex");
    let mut rest = &block[..];
    let Ok(PayloadView::List(items)) = RlpHeader::decode_raw(&mut rest) else {
        panic!("the IBFT 2.0 fixture is not an RLP list");
    };
    assert!(rest.is_empty());
    assert_eq!(items.len(), 3, "a block is [header, transactions, ommers]");
    items[0].to_vec()
}

/// Goerli block 1,798,342 (Clique), sealed by the Ethereum Foundation's Goerli signer.
fn clique_bytes() -> Vec<u8> {
    fixture("clique_goerli_block_1798342.hex")
}

const QBFT_VALIDATORS: [&str; 4] = [
    "647bfdd19655e51e69d35454ff3a92f8828e6302",
    "a5c8416b9d13417b45b45ada76408f39d1e504ef",
    "b92e91f4dcc9d28503be521afa2a8fbf3c1acf60",
    "ee3353e587cfa91625a1adaef308a726de3803d3",
];
const IBFT2_VALIDATORS: [&str; 4] = [
    "319fa8f1bc4e53410e92d10d918659b16540e60a",
    "5a573efb304d04c1224cd012313e827eca5dce5d",
    "a9c831c5a268031176ebf5f3de5051e8cba0dbfe",
    "c9577e7945db22e38fc060909f2278c7746b0f9b",
];
const GOERLI_SIGNER: &str = "a6dd2974b96e959f2c8930024451a30afec24203";

fn addrs(list: &[&str]) -> Vec<Address> {
    list.iter().map(|s| addr(s)).collect()
}

/// A Clique signer set in which the Goerli sealer is out of turn at block 1,798,342 (an
/// even number: with two signers the in-turn one is the lower address).
fn goerli_out_of_turn_set() -> Vec<Address> {
    vec![
        addr("0000000000000000000000000000000000000001"),
        addr(GOERLI_SIGNER),
    ]
}

fn bft_err(r: Result<impl std::fmt::Debug, EvmConsensusError>) -> BftError {
    match r {
        Err(EvmConsensusError::Bft(e)) => e,
        other => panic!("expected a BFT error, got {other:?}"),
    }
}

fn clique_err(r: Result<impl std::fmt::Debug, EvmConsensusError>) -> CliqueError {
    match r {
        Err(EvmConsensusError::Clique(e)) => e,
        other => panic!("expected a Clique error, got {other:?}"),
    }
}

/// Replaces a header's BFT extraData (decoded, edited, re-encoded).
fn with_extra(
    header: &EvmHeader,
    variant: BftVariant,
    edit: impl FnOnce(&mut BftExtraData),
) -> EvmHeader {
    let mut extra = BftExtraData::decode(variant, &header.extra_data).unwrap();
    edit(&mut extra);
    let mut out = header.clone();
    out.extra_data = extra.encode();
    out
}

// ---------------------------------------------------------------------------------------
// Real headers

#[test]
fn real_headers_reencode_byte_for_byte() {
    for bytes in [
        qbft_bytes(),
        fixture("qbft_besu_block_7528_commit_preimage.hex"),
        ibft2_bytes(),
        clique_bytes(),
    ] {
        let header = EvmHeader::decode(&bytes).unwrap();
        assert_eq!(header.encode(), bytes);
        assert_eq!(header.hash(), keccak256(&bytes));
    }
}

#[test]
fn real_qbft_header_verifies_with_its_three_committers() {
    let header = EvmHeader::decode(&qbft_bytes()).unwrap();
    assert_eq!(header.number, 7528);
    assert_eq!(header.timestamp, 1_715_495_307);
    assert_eq!(
        header.state_root,
        hash("166ed98eea93ab2b6f6b1a425526994adc2d675bf9a0d77d600ed1e02d8f77df")
    );
    let own = EvmConsensus::Qbft
        .header_validators(&header)
        .unwrap()
        .unwrap();
    assert_eq!(own, addrs(&QBFT_VALIDATORS));

    let verdict = verify_header(EvmConsensus::Qbft, &header, &own).unwrap();
    assert_eq!(
        verdict.signers,
        addrs(&[QBFT_VALIDATORS[0], QBFT_VALIDATORS[3], QBFT_VALIDATORS[1]])
    );
    assert_eq!((verdict.required, verdict.validator_count), (3, 4));
    assert_eq!(verdict.next_validators, Some(own));
    assert_eq!(verdict.vote, None);
    assert_eq!(verdict.in_turn, None);

    // The seals sign the header with an empty seal list and the round kept: exactly the
    // "commit hash" header the fixture's source publishes, whose keccak is known.
    let preimage = fixture("qbft_besu_block_7528_commit_preimage.hex");
    let expected = hash("75ea184f58cd3f0ef89032a069df01f07ec524ef3a85cf6d3e424d62130c0a32");
    assert_eq!(keccak256(&preimage), expected);
    assert_eq!(verdict.seal_digest, expected);
    let bft = BftHeader::parse(BftVariant::Qbft, &header).unwrap();
    assert_eq!(bft.extra.round, 1);
    assert_eq!(
        header.encode_with_extra_data(&bft.extra.encode_for_seal_digest()),
        preimage
    );

    // The block hash leaves out the round as well (QBFT writes round 0, seals []).
    let mut for_hash = bft.extra.clone();
    for_hash.round = 0;
    for_hash.seals.clear();
    assert_eq!(
        verdict.hash,
        header.hash_with_extra_data(&for_hash.encode())
    );
    assert_ne!(verdict.hash, header.hash());
    assert_eq!(
        EvmConsensus::Qbft.block_hash(&header).unwrap(),
        verdict.hash
    );
}

#[test]
fn real_ibft2_header_verifies_with_its_three_committers() {
    let header = EvmHeader::decode(&ibft2_bytes()).unwrap();
    assert_eq!(header.number, 5_618_555);
    assert_eq!(header.mix_hash, ISTANBUL_MIX_HASH);
    let own = EvmConsensus::Ibft2
        .header_validators(&header)
        .unwrap()
        .unwrap();
    assert_eq!(own, addrs(&IBFT2_VALIDATORS));

    let verdict = verify_header(EvmConsensus::Ibft2, &header, &own).unwrap();
    assert_eq!(
        verdict.signers,
        addrs(&[
            IBFT2_VALIDATORS[0],
            IBFT2_VALIDATORS[3],
            IBFT2_VALIDATORS[1]
        ])
    );
    assert_eq!((verdict.required, verdict.validator_count), (3, 4));

    // IBFT 2.0 drops the excluded items instead of zeroing them: the seal digest covers
    // [vanity, validators, vote, round], the block hash [vanity, validators, vote].
    let bft = BftHeader::parse(BftVariant::Ibft2, &header).unwrap();
    assert_eq!(bft.extra.round, 0);
    let for_seal = bft.extra.encode_for_seal_digest();
    let for_hash = bft.extra.encode_for_block_hash();
    assert_eq!(items_of(&for_seal)[..], items_of(&header.extra_data)[..4]);
    assert_eq!(items_of(&for_hash)[..], items_of(&header.extra_data)[..3]);
    assert!(for_seal.ends_with(&[0x84, 0, 0, 0, 0]));
    assert!(for_hash.ends_with(&[0x80]), "no vote is the empty string");
    assert_eq!(verdict.seal_digest, header.hash_with_extra_data(&for_seal));
    assert_eq!(verdict.hash, header.hash_with_extra_data(&for_hash));
}

#[test]
fn real_goerli_clique_header_hashes_and_verifies() {
    let header = EvmHeader::decode(&clique_bytes()).unwrap();
    assert_eq!(header.number, 1_798_342);
    // The hash Goerli gives this block (published next to the header).
    let expected = hash("2d775ab9b1290f487065e612942a84fc2275572e467040eea154fbbae2005c41");
    assert_eq!(header.hash(), expected);

    let parsed = CliqueHeader::parse(&header, clique::DEFAULT_EPOCH).unwrap();
    assert_eq!(parsed.signer().unwrap(), addr(GOERLI_SIGNER));
    assert_eq!(parsed.checkpoint_signers, None);
    assert_eq!(parsed.vote, None);
    assert!(!parsed.claims_in_turn());

    let verdict = verify_header(EvmConsensus::CLIQUE, &header, &goerli_out_of_turn_set()).unwrap();
    assert_eq!(verdict.hash, expected);
    assert_eq!(verdict.signers, vec![addr(GOERLI_SIGNER)]);
    assert_eq!(verdict.in_turn, Some(false));
    assert_eq!(verdict.next_validators, None);
    assert_eq!(
        EvmConsensus::CLIQUE.header_validators(&header).unwrap(),
        None
    );

    // Alone in the set the signer would be in turn, so difficulty 1 is a lie.
    assert_eq!(
        clique_err(verify_header(
            EvmConsensus::CLIQUE,
            &header,
            &[addr(GOERLI_SIGNER)]
        )),
        CliqueError::WrongDifficulty {
            difficulty: 1,
            in_turn: true
        }
    );
    // Without the signer in the set it is unauthorised.
    assert_eq!(
        clique_err(verify_header(
            EvmConsensus::CLIQUE,
            &header,
            &addrs(&QBFT_VALIDATORS)
        )),
        CliqueError::UnauthorizedSigner(addr(GOERLI_SIGNER))
    );
}

// ---------------------------------------------------------------------------------------
// Tampering with real headers

/// Flips each bit 0 of every byte of the encoded header in turn: no variant may verify.
fn assert_every_flip_refused(
    bytes: &[u8],
    consensus: EvmConsensus,
    validators: &[Address],
) -> usize {
    let mut decode_failures = 0;
    for i in 0..bytes.len() {
        let mut altered = bytes.to_vec();
        altered[i] ^= 0x01;
        match EvmHeader::decode(&altered) {
            Err(_) => decode_failures += 1,
            Ok(header) => {
                let result = verify_header(consensus, &header, validators);
                assert!(
                    result.is_err(),
                    "flipping byte {i} still verifies: {result:?}"
                );
            }
        }
    }
    decode_failures
}

#[test]
fn every_altered_byte_of_a_real_header_is_refused() {
    let qbft = qbft_bytes();
    let failures = assert_every_flip_refused(&qbft, EvmConsensus::Qbft, &addrs(&QBFT_VALIDATORS));
    // Most flips land in field contents and reach the seal check.
    assert!(failures < qbft.len() / 4, "{failures} decode failures");
    assert_every_flip_refused(
        &ibft2_bytes(),
        EvmConsensus::Ibft2,
        &addrs(&IBFT2_VALIDATORS),
    );
    assert_every_flip_refused(
        &clique_bytes(),
        EvmConsensus::CLIQUE,
        &goerli_out_of_turn_set(),
    );
}

#[test]
fn an_altered_header_field_is_signed_by_nobody_known() {
    let qbft = EvmHeader::decode(&qbft_bytes()).unwrap();
    let validators = addrs(&QBFT_VALIDATORS);
    for edit in [
        (|h: &mut EvmHeader| h.state_root.0[31] ^= 1) as fn(&mut EvmHeader),
        |h| h.number += 1,
        |h| h.timestamp += 1,
        |h| h.parent_hash.0[0] ^= 0x80,
        |h| h.gas_used += 1,
        |h| h.beneficiary.0[19] ^= 1,
    ] {
        let mut altered = qbft.clone();
        edit(&mut altered);
        assert!(matches!(
            bft_err(verify_header(EvmConsensus::Qbft, &altered, &validators)),
            BftError::UnknownSigner { index: 0, .. }
        ));
    }

    let goerli = EvmHeader::decode(&clique_bytes()).unwrap();
    let mut altered = goerli.clone();
    altered.state_root.0[0] ^= 1;
    assert!(matches!(
        clique_err(verify_header(
            EvmConsensus::CLIQUE,
            &altered,
            &goerli_out_of_turn_set()
        )),
        CliqueError::UnauthorizedSigner(_)
    ));
}

#[test]
fn altered_seals_are_refused() {
    let header = EvmHeader::decode(&ibft2_bytes()).unwrap();
    let validators = addrs(&IBFT2_VALIDATORS);
    let v = BftVariant::Ibft2;

    let r_changed = with_extra(&header, v, |e| e.seals[1][5] ^= 1);
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Ibft2, &r_changed, &validators)),
        BftError::UnknownSigner { index: 1, .. } | BftError::BadSeal { index: 1, .. }
    ));
    let v_flipped = with_extra(&header, v, |e| e.seals[2][64] ^= 1);
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Ibft2, &v_flipped, &validators)),
        BftError::UnknownSigner { index: 2, .. }
    ));
    let v_out_of_range = with_extra(&header, v, |e| e.seals[0][64] = 27);
    assert_eq!(
        bft_err(verify_header(
            EvmConsensus::Ibft2,
            &v_out_of_range,
            &validators
        )),
        BftError::SealRecoveryByte { index: 0, v: 27 }
    );
    let zero_r = with_extra(&header, v, |e| e.seals[0][..32].fill(0));
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Ibft2, &zero_r, &validators)),
        BftError::BadSeal { index: 0, .. }
    ));

    let goerli = EvmHeader::decode(&clique_bytes()).unwrap();
    let mut bad_v = goerli.clone();
    let last = bad_v.extra_data.len() - 1;
    bad_v.extra_data[last] = 28;
    assert_eq!(
        clique_err(verify_header(
            EvmConsensus::CLIQUE,
            &bad_v,
            &goerli_out_of_turn_set()
        )),
        CliqueError::SealRecoveryByte(28)
    );
}

#[test]
fn duplicate_seals_and_missing_seals_are_refused() {
    let header = EvmHeader::decode(&qbft_bytes()).unwrap();
    let validators = addrs(&QBFT_VALIDATORS);
    let v = BftVariant::Qbft;

    let duplicated = with_extra(&header, v, |e| {
        let first = e.seals[0];
        e.seals.push(first);
    });
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &duplicated, &validators)),
        BftError::DuplicateSigner {
            signer: addr(QBFT_VALIDATORS[0])
        }
    );

    let two_seals = with_extra(&header, v, |e| {
        e.seals.pop();
    });
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &two_seals, &validators)),
        BftError::InsufficientQuorum {
            signed: 2,
            required: 3,
            validators: 4
        }
    );

    let unsealed = with_extra(&header, v, |e| e.seals.clear());
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Qbft, &unsealed, &validators)),
        BftError::InsufficientQuorum { signed: 0, .. }
    ));
}

#[test]
fn the_validator_set_decides() {
    let header = EvmHeader::decode(&qbft_bytes()).unwrap();
    let validators = addrs(&QBFT_VALIDATORS);

    // A signer missing from the trusted set.
    let without_signer: Vec<Address> = validators[1..].to_vec();
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &header, &without_signer)),
        BftError::UnknownSigner {
            index: 0,
            signer: validators[0]
        }
    );
    // The non-signing validator missing: 3 of 3 still verify.
    let signers_only = addrs(&[QBFT_VALIDATORS[0], QBFT_VALIDATORS[1], QBFT_VALIDATORS[3]]);
    assert!(verify_header(EvmConsensus::Qbft, &header, &signers_only).is_ok());
    // A larger set raises the quorum above the three seals: ceil(2·6/3) = 4.
    let mut larger = validators.clone();
    larger.push(addr("0000000000000000000000000000000000000001"));
    larger.push(addr("0000000000000000000000000000000000000002"));
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &header, &larger)),
        BftError::InsufficientQuorum {
            signed: 3,
            required: 4,
            validators: 6
        }
    );
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &header, &[])),
        BftError::EmptyValidatorSet
    );
    let mut doubled = validators.clone();
    doubled.push(validators[2]);
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Qbft, &header, &doubled)),
        BftError::DuplicateValidator(validators[2])
    );

    // The validator list inside extraData is signed too: changing it changes the digest.
    let listed_other = with_extra(&header, BftVariant::Qbft, |e| e.validators[2].0[0] ^= 1);
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &listed_other,
            &validators
        )),
        BftError::UnknownSigner { .. }
    ));
    // So is the vote.
    let with_vote = with_extra(&header, BftVariant::Qbft, |e| {
        e.vote = Some(ValidatorVote {
            recipient: addr("0000000000000000000000000000000000000009"),
            authorize: true,
        })
    });
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Qbft, &with_vote, &validators)),
        BftError::UnknownSigner { .. }
    ));
}

#[test]
fn wrong_consensus_or_malformed_extra_data_is_refused() {
    let qbft = EvmHeader::decode(&qbft_bytes()).unwrap();
    let ibft2 = EvmHeader::decode(&ibft2_bytes()).unwrap();
    let goerli = EvmHeader::decode(&clique_bytes()).unwrap();

    // QBFT's empty-list "no vote" is not IBFT 2.0's, and vice versa.
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Ibft2,
            &qbft,
            &addrs(&QBFT_VALIDATORS)
        )),
        BftError::Shape {
            variant: BftVariant::Ibft2,
            ..
        }
    ));
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &ibft2,
            &addrs(&IBFT2_VALIDATORS)
        )),
        BftError::Shape {
            variant: BftVariant::Qbft,
            ..
        }
    ));
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &goerli,
            &goerli_out_of_turn_set()
        )),
        BftError::MixHash(_)
    ));
    assert_eq!(
        clique_err(verify_header(
            EvmConsensus::CLIQUE,
            &qbft,
            &addrs(&QBFT_VALIDATORS)
        )),
        CliqueError::SignersOutsideCheckpoint { number: 7528 }
    );

    let mut not_rlp = qbft.clone();
    not_rlp.extra_data = vec![0xf9, 0x01];
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &not_rlp,
            &addrs(&QBFT_VALIDATORS)
        )),
        BftError::Rlp(_)
    ));
    let mut four_items = qbft.clone();
    let extra = BftExtraData::decode(BftVariant::Qbft, &qbft.extra_data).unwrap();
    let mut payload = Vec::new();
    extra.vanity.encode(&mut payload);
    alloy_rlp::encode_list::<_, [u8; 20]>(
        &extra.validators.iter().map(|a| a.0).collect::<Vec<_>>(),
        &mut payload,
    );
    payload.push(0xc0);
    1u32.encode(&mut payload);
    let mut bytes = Vec::new();
    RlpHeader {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut bytes);
    bytes.extend_from_slice(&payload);
    four_items.extra_data = bytes;
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &four_items,
            &addrs(&QBFT_VALIDATORS)
        )),
        BftError::Shape { .. }
    ));

    // A vanity of 31 bytes.
    let mut short_vanity = qbft.extra_data.clone();
    // f90144 a0 <32 bytes> → f90143 9f <31 bytes>
    short_vanity[2] -= 1;
    short_vanity[3] = 0x9f;
    short_vanity.remove(4);
    let mut h = qbft.clone();
    h.extra_data = short_vanity;
    assert_eq!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &h,
            &addrs(&QBFT_VALIDATORS)
        )),
        BftError::VanityLength(31)
    );

    // A QBFT round written with a leading zero byte: decodable by a lax reader, refused.
    let mut padded_round = qbft.extra_data.clone();
    let round_at = padded_round
        .windows(3)
        .position(|w| w == [0xc0, 0x01, 0xf8])
        .unwrap();
    padded_round.splice(round_at + 1..round_at + 2, [0x82, 0x00, 0x01]);
    padded_round[2] += 2;
    let mut h = qbft.clone();
    h.extra_data = padded_round;
    assert!(matches!(
        bft_err(verify_header(
            EvmConsensus::Qbft,
            &h,
            &addrs(&QBFT_VALIDATORS)
        )),
        BftError::Shape { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Headers sealed here with our own keys

fn base_header(number: u64) -> EvmHeader {
    EvmHeader {
        parent_hash: Hash32([7; 32]),
        ommers_hash: clique::EMPTY_OMMERS_HASH,
        beneficiary: Address::default(),
        state_root: Hash32([8; 32]),
        transactions_root: Hash32([9; 32]),
        receipts_root: Hash32([10; 32]),
        logs_bloom: Box::new([0; 256]),
        difficulty: U256::from(1u64),
        number,
        gas_limit: 30_000_000,
        gas_used: 21_000,
        timestamp: 1_700_000_000 + number,
        extra_data: Vec::new(),
        mix_hash: ISTANBUL_MIX_HASH,
        nonce: [0; 8],
        base_fee_per_gas: Some(U256::ZERO),
        withdrawals_root: None,
        blob_gas: None,
        requests_hash: None,
    }
}

fn keys(n: u32) -> Vec<SigningKey> {
    let mut keys: Vec<SigningKey> = (0..n)
        .map(|i| SigningKey::from_seed("evm-test", i))
        .collect();
    keys.sort_by_key(|k| k.address());
    keys
}

/// `r ‖ s ‖ v` with `v ∈ {0, 1}`, as Besu, GoQuorum and geth write seals.
fn seal(key: &SigningKey, digest: &Hash32) -> [u8; 65] {
    let mut sig = key.sign_digest(digest).0;
    sig[64] -= 27;
    sig
}

/// A BFT header listing `listed`, carrying `vote`, sealed by `sealers`.
fn sealed_bft(
    variant: BftVariant,
    number: u64,
    listed: &[Address],
    vote: Option<ValidatorVote>,
    round: u32,
    sealers: &[&SigningKey],
) -> EvmHeader {
    let mut header = base_header(number);
    let mut extra = BftExtraData {
        variant,
        vanity: [0x11; 32],
        validators: listed.to_vec(),
        vote,
        round,
        seals: Vec::new(),
    };
    header.extra_data = extra.encode();
    let digest = BftHeader::parse(variant, &header).unwrap().seal_digest();
    extra.seals = sealers.iter().map(|k| seal(k, &digest)).collect();
    header.extra_data = extra.encode();
    // Through bytes, as a relayer receives it.
    EvmHeader::decode(&header.encode()).unwrap()
}

#[test]
fn votes_round_trip_in_each_variants_encoding() {
    let keys = keys(4);
    let set: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let subject = addr("00000000000000000000000000000000000000aa");
    for variant in [BftVariant::Qbft, BftVariant::Ibft2] {
        for authorize in [true, false] {
            let vote = Some(ValidatorVote {
                recipient: subject,
                authorize,
            });
            let header = sealed_bft(variant, 42, &set, vote, 3, &[&keys[0], &keys[2], &keys[3]]);
            let consensus = match variant {
                BftVariant::Qbft => EvmConsensus::Qbft,
                BftVariant::Ibft2 => EvmConsensus::Ibft2,
            };
            let verdict = verify_header(consensus, &header, &set).unwrap();
            let cast = verdict.vote.unwrap();
            assert_eq!((cast.subject, cast.authorize), (subject, authorize));
            assert_eq!(verdict.signers, vec![set[0], set[2], set[3]]);

            // The vote's type byte as each client writes it.
            let extra = &header.extra_data;
            let at = extra.windows(20).position(|w| w == subject.0).unwrap() + 20;
            let expected: &[u8] = match (variant, authorize) {
                (_, true) => &[0x81, 0xff],
                (BftVariant::Qbft, false) => &[0x80],
                (BftVariant::Ibft2, false) => &[0x00],
            };
            assert_eq!(&extra[at..at + expected.len()], expected);
        }
    }
}

#[test]
fn a_validator_change_is_followed_through_the_header_lists() {
    // Block 10 (signed by the old set {0,1,2,3}) votes in key 4; block 11 lists and is
    // signed by the new set. A client that trusted block 10's list verifies block 11 against
    // block 11's own list only after checking the change, which it sees in the verdicts.
    let keys = keys(5);
    let old: Vec<Address> = keys[..4].iter().map(|k| k.address()).collect();
    let mut new: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    new.sort();
    let vote = Some(ValidatorVote {
        recipient: keys[4].address(),
        authorize: true,
    });
    let b10 = sealed_bft(
        BftVariant::Qbft,
        10,
        &old,
        vote,
        0,
        &[&keys[0], &keys[1], &keys[2]],
    );
    let v10 = verify_header(EvmConsensus::Qbft, &b10, &old).unwrap();
    assert_eq!(v10.next_validators.as_deref(), Some(&old[..]));
    assert_eq!(v10.vote.unwrap().subject, keys[4].address());

    let b11 = sealed_bft(
        BftVariant::Qbft,
        11,
        &new,
        None,
        0,
        &[&keys[4], &keys[1], &keys[2], &keys[3]],
    );
    // Key 4's seal is unknown to the old set.
    assert!(matches!(
        bft_err(verify_header(EvmConsensus::Qbft, &b11, &old)),
        BftError::UnknownSigner { index: 0, .. }
    ));
    let v11 = verify_header(EvmConsensus::Qbft, &b11, &new).unwrap();
    assert_eq!(v11.required, quorum(5));
    assert_eq!(v11.next_validators, Some(new));
}

#[test]
fn validator_changes_are_followed_through_a_trusted_third() {
    let keys = keys(7);
    let addr_of = |ks: &[&SigningKey]| -> Vec<Address> {
        let mut v: Vec<Address> = ks.iter().map(|k| k.address()).collect();
        v.sort();
        v
    };
    let old = addr_of(&[&keys[0], &keys[1], &keys[2], &keys[3]]);
    let consensus = EvmConsensus::Qbft;

    // Without a change the transition rule is the plain rule.
    let same = sealed_bft(
        BftVariant::Qbft,
        20,
        &old,
        None,
        0,
        &[&keys[0], &keys[1], &keys[2]],
    );
    assert_eq!(
        verify_header_transition(consensus, &same, &old).unwrap(),
        verify_header(consensus, &same, &old).unwrap()
    );

    // Removal 4 -> 3: two seals are a quorum of the new set, not of the old one.
    let three = addr_of(&[&keys[0], &keys[1], &keys[2]]);
    let shrunk = sealed_bft(BftVariant::Qbft, 21, &three, None, 0, &[&keys[0], &keys[1]]);
    assert_eq!(
        bft_err(verify_header(consensus, &shrunk, &old)),
        BftError::InsufficientQuorum {
            signed: 2,
            required: 3,
            validators: 4
        }
    );
    let verdict = verify_header_transition(consensus, &shrunk, &old).unwrap();
    assert_eq!(verdict.next_validators, Some(three.clone()));

    // Addition 4 -> 5: the newcomer's seal is unknown to the old set.
    let five = addr_of(&[&keys[0], &keys[1], &keys[2], &keys[3], &keys[4]]);
    let grown = sealed_bft(
        BftVariant::Qbft,
        21,
        &five,
        None,
        0,
        &[&keys[4], &keys[0], &keys[1], &keys[2]],
    );
    assert!(matches!(
        bft_err(verify_header(consensus, &grown, &old)),
        BftError::UnknownSigner { index: 0, .. }
    ));
    assert_eq!(
        verify_header_transition(consensus, &grown, &old)
            .unwrap()
            .next_validators,
        Some(five.clone())
    );

    // A forged hand-over: a foreign set sealing its own list, with one old validator (a
    // quarter of the old set) among the sealers, is refused.
    let foreign = addr_of(&[&keys[0], &keys[4], &keys[5], &keys[6]]);
    let forged = sealed_bft(
        BftVariant::Qbft,
        21,
        &foreign,
        None,
        0,
        &[&keys[0], &keys[4], &keys[5], &keys[6]],
    );
    assert_eq!(trust_threshold(4), 2);
    assert_eq!(
        bft_err(verify_header_transition(consensus, &forged, &old)),
        BftError::InsufficientTrustedSigners {
            signed: 1,
            required: 2,
            trusted: 4
        }
    );
    // The header must still satisfy its own list: a sealer outside it is refused.
    let outsider = sealed_bft(BftVariant::Qbft, 21, &three, None, 0, &[&keys[0], &keys[3]]);
    assert!(matches!(
        bft_err(verify_header_transition(consensus, &outsider, &old)),
        BftError::UnknownSigner { index: 1, .. }
    ));
    assert_eq!(
        bft_err(verify_header_transition(consensus, &same, &[])),
        BftError::EmptyValidatorSet
    );
}

#[test]
fn consensus_names_parse_and_print() {
    for (name, consensus) in [
        ("qbft", EvmConsensus::Qbft),
        ("QBFT", EvmConsensus::Qbft),
        ("ibft2", EvmConsensus::Ibft2),
        ("clique", EvmConsensus::CLIQUE),
    ] {
        assert_eq!(name.parse::<EvmConsensus>().unwrap(), consensus);
        assert_eq!(consensus.to_string(), name.to_ascii_lowercase());
    }
    assert_eq!(
        EvmConsensus::CLIQUE,
        EvmConsensus::Clique {
            epoch: clique::DEFAULT_EPOCH
        }
    );
    let err = "pow".parse::<EvmConsensus>().unwrap_err();
    assert!(err.to_string().contains("pow"));
}

#[test]
fn quorum_is_two_thirds_rounded_up() {
    let expected = [
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 3),
        (5, 4),
        (6, 4),
        (7, 5),
        (10, 7),
        (100, 67),
    ];
    for (n, q) in expected {
        assert_eq!(quorum(n), q, "n = {n}");
    }
    // A 5-validator block with exactly quorum seals verifies; one fewer does not.
    let keys = keys(5);
    let set: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let four = sealed_bft(
        BftVariant::Ibft2,
        5,
        &set,
        None,
        0,
        &[&keys[0], &keys[1], &keys[2], &keys[3]],
    );
    assert!(verify_header(EvmConsensus::Ibft2, &four, &set).is_ok());
    let three = sealed_bft(
        BftVariant::Ibft2,
        5,
        &set,
        None,
        0,
        &[&keys[0], &keys[1], &keys[2]],
    );
    assert_eq!(
        bft_err(verify_header(EvmConsensus::Ibft2, &three, &set)),
        BftError::InsufficientQuorum {
            signed: 3,
            required: 4,
            validators: 5
        }
    );
}

#[test]
fn bft_genesis_is_hashed_as_it_is() {
    let keys = keys(4);
    let set: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let genesis = sealed_bft(BftVariant::Qbft, 0, &set, None, 0, &[]);
    let bft = BftHeader::parse(BftVariant::Qbft, &genesis).unwrap();
    assert_eq!(bft.block_hash(), genesis.hash());
    assert_eq!(
        EvmConsensus::Qbft.header_validators(&genesis).unwrap(),
        Some(set)
    );
}

fn sealed_clique(
    number: u64,
    signers: Option<&[Address]>,
    key: &SigningKey,
    in_turn: bool,
) -> EvmHeader {
    let mut header = base_header(number);
    header.mix_hash = Hash32::ZERO;
    header.base_fee_per_gas = None;
    header.difficulty = U256::from(if in_turn { 2u64 } else { 1u64 });
    let mut extra = vec![0x22; clique::VANITY_LENGTH];
    if let Some(list) = signers {
        for a in list {
            extra.extend_from_slice(&a.0);
        }
    }
    // What the seal signs: the header with extraData minus the seal.
    let digest = header.hash_with_extra_data(&extra);
    extra.extend_from_slice(&seal(key, &digest));
    header.extra_data = extra;
    EvmHeader::decode(&header.encode()).unwrap()
}

#[test]
fn clique_checkpoints_expose_their_signer_list() {
    let keys = keys(3);
    let set: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let consensus = EvmConsensus::Clique { epoch: 100 };
    // Block 200 is a checkpoint: in-turn signer is 200 mod 3 = 2.
    let checkpoint = sealed_clique(200, Some(&set), &keys[2], true);
    let parsed = CliqueHeader::parse(&checkpoint, 100).unwrap();
    let unsealed = &checkpoint.extra_data[..checkpoint.extra_data.len() - clique::SEAL_LENGTH];
    assert_eq!(
        parsed.seal_hash(),
        checkpoint.hash_with_extra_data(unsealed)
    );
    assert_eq!(
        consensus.header_validators(&checkpoint).unwrap(),
        Some(set.clone())
    );
    let verdict = verify_header(consensus, &checkpoint, &set).unwrap();
    assert_eq!(verdict.next_validators, Some(set.clone()));
    assert_eq!(verdict.in_turn, Some(true));

    // The same signer out of turn at block 201 (in turn: 201 mod 3 = 0).
    let plain = sealed_clique(201, None, &keys[2], false);
    assert_eq!(
        verify_header(consensus, &plain, &set).unwrap().in_turn,
        Some(false)
    );
    let lying = sealed_clique(201, None, &keys[2], true);
    assert_eq!(
        clique_err(verify_header(consensus, &lying, &set)),
        CliqueError::WrongDifficulty {
            difficulty: 2,
            in_turn: false
        }
    );

    // Signers listed outside a checkpoint, unsorted at a checkpoint, a vote at a checkpoint.
    let extra_signers = sealed_clique(201, Some(&set), &keys[0], true);
    assert_eq!(
        clique_err(verify_header(consensus, &extra_signers, &set)),
        CliqueError::SignersOutsideCheckpoint { number: 201 }
    );
    let reversed: Vec<Address> = set.iter().rev().copied().collect();
    let unsorted = sealed_clique(300, Some(&reversed), &keys[0], true);
    assert_eq!(
        clique_err(verify_header(consensus, &unsorted, &set)),
        CliqueError::CheckpointSignersOrder
    );
    let mut voting = checkpoint.clone();
    voting.beneficiary = addr("00000000000000000000000000000000000000bb");
    assert_eq!(
        clique_err(verify_header(consensus, &voting, &set)),
        CliqueError::CheckpointVote
    );
    let mut bad_nonce = plain.clone();
    bad_nonce.nonce = [1; 8];
    assert_eq!(
        clique_err(verify_header(consensus, &bad_nonce, &set)),
        CliqueError::InvalidVote([1; 8])
    );
    let mut shanghai = plain.clone();
    shanghai.base_fee_per_gas = Some(U256::ZERO);
    shanghai.withdrawals_root = Some(Hash32::ZERO);
    assert_eq!(
        clique_err(verify_header(consensus, &shanghai, &set)),
        CliqueError::PostShanghaiFields
    );
    assert_eq!(
        clique_err(verify_header(
            EvmConsensus::Clique { epoch: 0 },
            &plain,
            &set
        )),
        CliqueError::ZeroEpoch
    );
}

#[test]
fn clique_signers_may_not_seal_recently() {
    let [a, b, c, d] = [1u8, 2, 3, 4].map(|i| Address([i; 20]));
    // 4 signers: window of 3 blocks; a may seal again 3 blocks later.
    assert_eq!(
        check_recent_signers(&[(10, a), (11, b), (12, c), (13, a)], 4),
        Ok(())
    );
    assert_eq!(
        check_recent_signers(&[(10, a), (11, b), (12, a)], 4),
        Err(CliqueError::RecentlySigned {
            signer: a,
            number: 12,
            previous: 10
        })
    );
    // 5 signers: window of 3 as well; 6 signers: window of 4.
    assert!(check_recent_signers(&[(1, a), (2, b), (3, c), (4, a)], 5).is_ok());
    assert!(check_recent_signers(&[(1, a), (2, b), (3, c), (4, a)], 6).is_err());
    assert!(check_recent_signers(&[(1, a), (2, b), (3, c), (4, d), (5, a)], 6).is_ok());
    // 1 signer may seal every block.
    assert!(check_recent_signers(&[(1, a), (2, a), (3, a)], 1).is_ok());
    assert_eq!(
        check_recent_signers(&[(1, a), (3, b)], 4),
        Err(CliqueError::NotConsecutive {
            number: 3,
            previous: 1
        })
    );
    assert_eq!(
        check_recent_signers(&[(1, a)], 0),
        Err(CliqueError::BadSignerSet)
    );
}

// ---------------------------------------------------------------------------------------
// Header decoding: strictness and bounds

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = Vec::new();
    RlpHeader {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// The RLP items of an encoded header.
fn items_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = bytes;
    match RlpHeader::decode_raw(&mut rest).unwrap() {
        PayloadView::List(items) => items.into_iter().map(<[u8]>::to_vec).collect(),
        PayloadView::String(_) => unreachable!(),
    }
}

#[test]
fn header_decoding_is_strict() {
    let good = qbft_bytes();
    let mut trailing = good.clone();
    trailing.push(0x80);
    assert_eq!(
        EvmHeader::decode(&trailing),
        Err(EvmHeaderError::TrailingBytes(1))
    );
    assert!(matches!(
        EvmHeader::decode(&good[..good.len() - 1]),
        Err(EvmHeaderError::Rlp(_))
    ));
    assert_eq!(
        EvmHeader::decode(&[0x83, 1, 2, 3]),
        Err(EvmHeaderError::NotAList)
    );
    assert!(matches!(
        EvmHeader::decode(&[]),
        Err(EvmHeaderError::Rlp(_))
    ));

    let items = items_of(&good);
    for count in [0usize, 14, 18, 19, 22] {
        let mut list = items.clone();
        list.resize(count, vec![0x80]);
        assert_eq!(
            EvmHeader::decode(&rlp_list(&list)),
            Err(EvmHeaderError::FieldCount(count))
        );
    }

    let field = |index: usize, value: &[u8]| {
        let mut list = items.clone();
        list[index] = value.to_vec();
        EvmHeader::decode(&rlp_list(&list))
    };
    // number 7528 = 0x1d68 written with a leading zero byte.
    assert_eq!(
        field(8, &[0x83, 0x00, 0x1d, 0x68]),
        Err(EvmHeaderError::Field {
            field: "number",
            source: alloy_rlp::Error::LeadingZero
        })
    );
    // A one-byte value below 0x80 written in long form.
    // (alloy-rlp checks every item header while splitting the list.)
    assert_eq!(
        field(10, &[0x81, 0x05]),
        Err(EvmHeaderError::Rlp(
            alloy_rlp::Error::NonCanonicalSingleByte
        ))
    );
    // A 31-byte state root, a 9-byte nonce, a 21-byte beneficiary, a list as the number.
    assert!(matches!(
        field(3, &[&[0x9f][..], &[0; 31]].concat()),
        Err(EvmHeaderError::Field {
            field: "stateRoot",
            ..
        })
    ));
    assert!(matches!(
        field(14, &[&[0x89][..], &[0; 9]].concat()),
        Err(EvmHeaderError::Field { field: "nonce", .. })
    ));
    assert!(matches!(
        field(2, &[&[0x95][..], &[0; 21]].concat()),
        Err(EvmHeaderError::Field { field: "miner", .. })
    ));
    assert!(matches!(
        field(8, &[0xc0]),
        Err(EvmHeaderError::Field {
            field: "number",
            ..
        })
    ));
    // 2^64 does not fit the number.
    assert!(matches!(
        field(8, &[&[0x89, 0x01][..], &[0; 8]].concat()),
        Err(EvmHeaderError::Field {
            field: "number",
            source: alloy_rlp::Error::Overflow
        })
    ));
}

#[test]
fn header_size_is_bounded() {
    let mut header = base_header(1);
    header.extra_data = vec![0xab; MAX_EXTRA_DATA_BYTES];
    let at_limit = header.encode();
    assert_eq!(EvmHeader::decode(&at_limit).unwrap(), header);
    header.extra_data.push(0xab);
    assert_eq!(
        EvmHeader::decode(&header.encode()),
        Err(EvmHeaderError::ExtraDataTooLarge {
            len: MAX_EXTRA_DATA_BYTES + 1,
            max: MAX_EXTRA_DATA_BYTES
        })
    );
    let huge = vec![0u8; MAX_HEADER_BYTES + 1];
    assert_eq!(
        EvmHeader::decode(&huge),
        Err(EvmHeaderError::TooLarge {
            len: MAX_HEADER_BYTES + 1,
            max: MAX_HEADER_BYTES
        })
    );
    assert!(EvmHeader::from_hex(&format!("0x{}", hex::encode(&at_limit))).is_ok());
    assert!(EvmHeader::from_hex("0xzz").is_err());
}

#[test]
fn every_fork_layout_round_trips() {
    let mut header = base_header(9);
    header.base_fee_per_gas = None;
    let layouts: [fn(&mut EvmHeader); 5] = [
        |_| {},
        |h| h.base_fee_per_gas = Some(U256::from(7u64)),
        |h| h.withdrawals_root = Some(Hash32([1; 32])),
        |h| {
            h.blob_gas = Some(BlobGasFields {
                blob_gas_used: 131_072,
                excess_blob_gas: 0,
                parent_beacon_block_root: Hash32([2; 32]),
            })
        },
        |h| h.requests_hash = Some(Hash32([3; 32])),
    ];
    for (fields, add) in [15usize, 16, 17, 20, 21].into_iter().zip(layouts) {
        add(&mut header);
        let bytes = header.encode();
        assert_eq!(items_of(&bytes).len(), fields);
        assert_eq!(EvmHeader::decode(&bytes).unwrap(), header);
    }
}

// ---------------------------------------------------------------------------------------
// Property tests

fn hash_strategy() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn u256_strategy() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ]
}

prop_compose! {
    fn header_strategy()(
        hashes in proptest::array::uniform6(hash_strategy()),
        beneficiary in any::<[u8; 20]>(),
        bloom in proptest::collection::vec(any::<u8>(), 256),
        difficulty in u256_strategy(),
        numbers in any::<[u64; 4]>(),
        extra_data in proptest::collection::vec(any::<u8>(), 0..200),
        nonce in any::<[u8; 8]>(),
        fork in 0usize..5,
        base_fee in u256_strategy(),
        blob in any::<(u64, u64)>(),
        tail in proptest::array::uniform3(hash_strategy()),
    ) -> EvmHeader {
        let mut logs_bloom = Box::new([0u8; 256]);
        logs_bloom.copy_from_slice(&bloom);
        EvmHeader {
            parent_hash: hashes[0],
            ommers_hash: hashes[1],
            beneficiary: Address(beneficiary),
            state_root: hashes[2],
            transactions_root: hashes[3],
            receipts_root: hashes[4],
            logs_bloom,
            difficulty,
            number: numbers[0],
            gas_limit: numbers[1],
            gas_used: numbers[2],
            timestamp: numbers[3],
            extra_data,
            mix_hash: hashes[5],
            nonce,
            base_fee_per_gas: (fork >= 1).then_some(base_fee),
            withdrawals_root: (fork >= 2).then_some(tail[0]),
            blob_gas: (fork >= 3).then_some(BlobGasFields {
                blob_gas_used: blob.0,
                excess_blob_gas: blob.1,
                parent_beacon_block_root: tail[1],
            }),
            requests_hash: (fork >= 4).then_some(tail[2]),
        }
    }
}

prop_compose! {
    fn bft_extra_strategy()(
        variant in prop_oneof![Just(BftVariant::Qbft), Just(BftVariant::Ibft2)],
        vanity in any::<[u8; 32]>(),
        validators in proptest::collection::vec(any::<[u8; 20]>(), 0..8),
        vote in proptest::option::of((any::<[u8; 20]>(), any::<bool>())),
        round in any::<u32>(),
        seals in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 65), 0..5),
    ) -> BftExtraData {
        BftExtraData {
            variant,
            vanity,
            validators: validators.into_iter().map(Address).collect(),
            vote: vote.map(|(r, authorize)| ValidatorVote { recipient: Address(r), authorize }),
            round,
            seals: seals.into_iter().map(|s| {
                let mut seal = [0u8; 65];
                seal.copy_from_slice(&s);
                seal
            }).collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        if let Ok(header) = EvmHeader::decode(&bytes) {
            // Whatever decodes is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(&header.encode(), &bytes);
        }
        for variant in [BftVariant::Qbft, BftVariant::Ibft2] {
            if let Ok(extra) = BftExtraData::decode(variant, &bytes) {
                prop_assert_eq!(&extra.encode(), &bytes);
            }
        }
    }

    #[test]
    fn decoding_mutated_real_headers_never_panics(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = [qbft_bytes(), ibft2_bytes(), clique_bytes()][which].clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(header) = EvmHeader::decode(&bytes) {
            prop_assert_eq!(&header.encode(), &bytes);
            for consensus in [EvmConsensus::Qbft, EvmConsensus::Ibft2, EvmConsensus::CLIQUE] {
                let _ = consensus.header_validators(&header);
                let _ = verify_header(consensus, &header, &addrs(&QBFT_VALIDATORS));
            }
        }
    }

    #[test]
    fn generated_headers_round_trip(header in header_strategy()) {
        let bytes = header.encode();
        let decoded = EvmHeader::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &header);
        prop_assert_eq!(&decoded.encode(), &bytes);
        prop_assert_eq!(decoded.hash(), keccak256(&bytes));
    }

    #[test]
    fn generated_bft_extra_data_round_trips(extra in bft_extra_strategy()) {
        let bytes = extra.encode();
        let decoded = BftExtraData::decode(extra.variant, &bytes).unwrap();
        prop_assert_eq!(&decoded, &extra);
        // The seal and hash encodings never carry the seals.
        if !extra.seals.is_empty() {
            let seal = extra.seals[0];
            let contains = |hay: &[u8]| hay.windows(65).any(|w| w == seal);
            prop_assert!(!contains(&extra.encode_for_seal_digest()));
            prop_assert!(!contains(&extra.encode_for_block_hash()));
        }
    }
}
