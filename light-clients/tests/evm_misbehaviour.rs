//! The strict decoder of EVM misbehaviour evidence (`evm::misbehaviour`, PROTOCOL.md §12.7;
//! anyone may submit evidence, so its bytes are the most exposed input of an EVM client):
//! arbitrary bytes and mutated valid encodings never panic, and whatever decodes re-encodes
//! to exactly its input; generated evidence of every kind (QBFT, IBFT 2.0 and Clique forks
//! sealed with test keys in every header layout from Frontier-style to Prague, attestation
//! pairs and single conflicts, with real and arbitrary signatures) follows the documented
//! layout and round-trips; an encoding one byte short, or cut anywhere, is refused with
//! `DecodeError::UnexpectedEnd`, and one byte long with `DecodeError::TrailingBytes`.

use std::sync::LazyLock;

use alloy_primitives::U256;
use proptest::prelude::*;
use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature};
use xrelay_light_client::evm::header::{BlobGasFields, EvmHeader};
use xrelay_light_client::evm::istanbul::{BftVariant, ValidatorVote};
use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::evm::testkit::{
    addresses, bft_header, bft_reseal, clique_header, clique_reseal, keys,
};
use xrelay_light_client::{
    Address, ChainId, Decode, DecodeError, Encode, Hash32, Signature65, SigningKey,
};

/// The validators, Clique signers and attesters of the generated evidence.
static KEYS: LazyLock<Vec<SigningKey>> = LazyLock::new(|| keys("evm-misbehaviour-prop", 7));

fn hash_strategy() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

/// How a generated header is sealed.
#[derive(Debug, Clone, Copy)]
enum Sealing {
    Bft(BftVariant),
    Clique { epoch: u64 },
}

fn sealing_strategy() -> impl Strategy<Value = Sealing> {
    prop_oneof![
        Just(Sealing::Bft(BftVariant::Qbft)),
        Just(Sealing::Bft(BftVariant::Ibft2)),
        (1u64..64).prop_map(|epoch| Sealing::Clique { epoch }),
    ]
}

fn reseal(sealing: Sealing, header: &mut EvmHeader, sealers: &[SigningKey]) {
    match sealing {
        Sealing::Bft(variant) => bft_reseal(variant, header, sealers),
        Sealing::Clique { .. } => clique_reseal(header, &sealers[0]),
    }
}

prop_compose! {
    /// Two headers at one height with different state roots, each sealed by its own
    /// sealers (BFT) or by one signer (Clique), in the layout `fork` names: 0 the testkit's
    /// (London for BFT, 15 fields for Clique), then with the base fee (16), withdrawals
    /// (17), blob fields (20) and the requests hash (21) added before sealing.
    fn fork_strategy()(
        sealing in sealing_strategy(),
        number in 1u64..=u64::MAX,
        parent in hash_strategy(),
        timestamp in any::<u64>(),
        listed in 1usize..=7,
        sealed in (1usize..=7, 1usize..=7),
        vote in proptest::option::of((0usize..7, any::<bool>())),
        fork in 0usize..5,
        base_fee in any::<[u64; 4]>(),
        blob in any::<(u64, u64)>(),
        tail in proptest::array::uniform3(hash_strategy()),
        roots in (hash_strategy(), hash_strategy()),
    ) -> (EvmHeader, EvmHeader) {
        let keys = &KEYS[..];
        let set = addresses(&keys[..listed]);
        let (a_seals, b_seals) = (&keys[..sealed.0], &keys[7 - sealed.1..]);
        let mut a = match sealing {
            Sealing::Bft(variant) => {
                let vote = vote.map(|(i, authorize)| ValidatorVote {
                    recipient: keys[i].address(),
                    authorize,
                });
                bft_header(variant, number, parent, timestamp, &set, vote, a_seals)
            }
            Sealing::Clique { epoch } => {
                clique_header(number, parent, timestamp, epoch, &set, &set, &a_seals[0])
            }
        };
        a.state_root = roots.0;
        if fork >= 1 {
            a.base_fee_per_gas = Some(U256::from_limbs(base_fee));
        }
        a.withdrawals_root = (fork >= 2).then_some(tail[0]);
        a.blob_gas = (fork >= 3).then_some(BlobGasFields {
            blob_gas_used: blob.0,
            excess_blob_gas: blob.1,
            parent_beacon_block_root: tail[1],
        });
        a.requests_hash = (fork >= 4).then_some(tail[2]);
        let mut b = a.clone();
        b.state_root = if roots.1 == roots.0 { Hash32([!roots.0 .0[0]; 32]) } else { roots.1 };
        reseal(sealing, &mut a, a_seals);
        reseal(sealing, &mut b, match sealing {
            Sealing::Bft(_) => b_seals,
            Sealing::Clique { .. } => a_seals,
        });
        (a, b)
    }
}

fn chain_id_strategy() -> impl Strategy<Value = ChainId> {
    "[A-Za-z0-9._-]{1,64}".prop_map(|name| ChainId::new(name).expect("allowed alphabet"))
}

prop_compose! {
    fn attestation_strategy()(
        chain_id in chain_id_strategy(),
        height in any::<u64>(),
        block_hash in hash_strategy(),
        state_root in hash_strategy(),
        time_ms in any::<u64>(),
    ) -> Attestation {
        Attestation { chain_id, height, block_hash, state_root, time_ms }
    }
}

/// An attestation with the signatures of the first 0–7 keys, or with 0–5 arbitrary
/// entries (the decoder reads a signature's 85 bytes without checking them).
fn attested_strategy() -> impl Strategy<Value = Attested> {
    let arbitrary = proptest::collection::vec(
        (
            any::<[u8; 20]>(),
            proptest::collection::vec(any::<u8>(), 65),
        ),
        0..6,
    );
    prop_oneof![
        (attestation_strategy(), 0usize..=7).prop_map(|(a, k)| Attested::sign(a, &KEYS[..k])),
        (attestation_strategy(), arbitrary).prop_map(|(attestation, entries)| Attested {
            attestation,
            signatures: entries
                .into_iter()
                .map(|(attester, sig)| AttesterSignature {
                    attester: Address(attester),
                    signature: Signature65(sig.try_into().expect("65 bytes")),
                })
                .collect(),
        }),
    ]
}

/// Evidence of every kind: a fork of sealed headers, two attestations of one height (the
/// second another block), one attestation against a held block.
fn evidence_strategy() -> impl Strategy<Value = EvmMisbehaviour> {
    prop_oneof![
        fork_strategy().prop_map(|(a, b)| EvmMisbehaviour::Headers {
            first: Box::new(a),
            second: Box::new(b),
        }),
        (attested_strategy(), attested_strategy(), hash_strategy()).prop_map(
            |(first, mut second, block_hash)| {
                second.attestation.chain_id = first.attestation.chain_id.clone();
                second.attestation.height = first.attestation.height;
                second.attestation.block_hash = block_hash;
                EvmMisbehaviour::Attestations { first, second }
            }
        ),
        attested_strategy().prop_map(EvmMisbehaviour::Conflict),
    ]
}

/// The documented layout (PROTOCOL.md §12.7): `u8 0 ‖ bytes header_rlp ‖ bytes
/// header_rlp` | `u8 1 ‖ Attested ‖ Attested` | `u8 2 ‖ Attested`, `bytes` being a `u32`
/// big-endian length and the bytes.
fn layout(evidence: &EvmMisbehaviour) -> Vec<u8> {
    let mut out = Vec::new();
    match evidence {
        EvmMisbehaviour::Headers { first, second } => {
            out.push(0);
            for header in [first, second] {
                let rlp = header.encode();
                out.extend((rlp.len() as u32).to_be_bytes());
                out.extend(rlp);
            }
        }
        EvmMisbehaviour::Attestations { first, second } => {
            out.push(1);
            out.extend(first.encode());
            out.extend(second.encode());
        }
        EvmMisbehaviour::Conflict(attested) => {
            out.push(2);
            out.extend(attested.encode());
        }
    }
    out
}

/// Decodes `bytes`; what decodes must re-encode to exactly `bytes`.
fn decode_strictly(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(evidence) = EvmMisbehaviour::decode(bytes) {
        prop_assert_eq!(evidence.encode(), bytes);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, alone or after a tag (the known ones and the first unknown one):
    /// the decoder returns, and what it accepts is canonical.
    #[test]
    fn arbitrary_bytes_never_panic(
        tag in proptest::option::of(0u8..4),
        bytes in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let input: Vec<u8> = tag.into_iter().chain(bytes).collect();
        decode_strictly(&input)?;
        if input.first().is_some_and(|t| *t > 2) {
            prop_assert!(
                matches!(
                    EvmMisbehaviour::decode(&input),
                    Err(DecodeError::InvalidValue { what: "evm misbehaviour", .. })
                ),
                "unknown tag {} accepted", input[0]
            );
        }
    }

    /// Valid evidence with bytes overwritten (lengths, RLP headers, signatures, the tag):
    /// the decoder returns, and what it accepts is canonical.
    #[test]
    fn mutated_evidence_never_panics(
        evidence in evidence_strategy(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = evidence.encode();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        decode_strictly(&bytes)?;
    }

    /// Generated evidence encodes as documented and decodes back to itself.
    #[test]
    fn generated_evidence_round_trips(evidence in evidence_strategy()) {
        let bytes = evidence.encode();
        prop_assert_eq!(&bytes, &layout(&evidence));
        let decoded = EvmMisbehaviour::decode(&bytes).expect("valid evidence decodes");
        prop_assert_eq!(&decoded.encode(), &bytes);
        prop_assert_eq!(decoded.hash(), evidence.hash());
        prop_assert_eq!(decoded, evidence);
    }

    /// One byte short (or cut anywhere before the end): `UnexpectedEnd`, needing more than
    /// is left; one byte long: `TrailingBytes { count: 1 }`.
    #[test]
    fn truncations_are_refused_as_unexpected_end(
        evidence in evidence_strategy(),
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let bytes = evidence.encode();
        for len in [bytes.len() - 1, cut.index(bytes.len())] {
            match EvmMisbehaviour::decode(&bytes[..len]) {
                Err(DecodeError::UnexpectedEnd { needed, remaining }) => {
                    prop_assert!(needed > remaining, "cut at {}: needed {} of {}", len, needed, remaining);
                }
                other => prop_assert!(false, "cut at {} of {}: {:?}", len, bytes.len(), other),
            }
        }
        let mut longer = bytes;
        longer.push(extra);
        prop_assert_eq!(
            EvmMisbehaviour::decode(&longer),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }
}
