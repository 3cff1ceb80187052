//! `EvmMisbehaviour::decode` on arbitrary bytes (evidence against an EVM client is submitted
//! by anyone): it must never panic, decoded evidence must re-encode to exactly the input (its
//! hash, SHA-256 over the tag and those bytes, names the freeze), and judging it must return:
//! each header's hash and block hashes, then `freeze_on_misbehaviour` against a client of
//! every finality mode (`src/evm_evidence.rs`). A client that freezes is frozen at the
//! evidence's height, with two different blocks there (or the attested one unlike the block
//! held); a refusal has a reason and leaves the client as it was.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::{decode_canonical, evm_evidence, MAX_RECOVERIES};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::evm::consensus::EvmConsensus;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{BftExtraData, BftVariant};
use xrelay_light_client::evm::misbehaviour::{EvmMisbehaviour, EVIDENCE_TAG};
use xrelay_light_client::hash::sha256_concat;

static CLIENTS: LazyLock<[EvmClientState; 4]> = LazyLock::new(evm_evidence::clients);

/// The most seals either BFT reading of `header`'s extraData finds (recovery is one EC
/// operation per seal: the work per input stays bounded).
fn seals(header: &EvmHeader) -> usize {
    [BftVariant::Qbft, BftVariant::Ibft2]
        .into_iter()
        .filter_map(|v| BftExtraData::decode(v, &header.extra_data).ok())
        .map(|e| e.seals.len())
        .max()
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Some(evidence) = decode_canonical::<EvmMisbehaviour>(data) else {
        return;
    };
    assert_eq!(evidence.hash(), sha256_concat(&[EVIDENCE_TAG, data]));
    let bounded = match &evidence {
        EvmMisbehaviour::Headers { first, second } => {
            for header in [first, second] {
                let _ = header.hash();
                for consensus in [
                    EvmConsensus::Qbft,
                    EvmConsensus::Ibft2,
                    EvmConsensus::Clique {
                        epoch: evm_evidence::CLIQUE_EPOCH,
                    },
                ] {
                    let _ = consensus.block_hash(header);
                }
            }
            seals(first) <= MAX_RECOVERIES && seals(second) <= MAX_RECOVERIES
        }
        EvmMisbehaviour::Attestations { first, second } => {
            first.signatures.len() <= MAX_RECOVERIES && second.signatures.len() <= MAX_RECOVERIES
        }
        EvmMisbehaviour::Conflict(attested) => attested.signatures.len() <= MAX_RECOVERIES,
    };
    if !bounded {
        return;
    }
    for client in CLIENTS.iter() {
        let mut judged = client.clone();
        match judged.freeze_on_misbehaviour(&evidence) {
            Ok(height) => {
                assert!(judged.is_frozen());
                match &evidence {
                    EvmMisbehaviour::Headers { first, second } => {
                        assert!(first.number == height && second.number == height);
                        assert!(first != second);
                    }
                    EvmMisbehaviour::Attestations { first, second } => {
                        let (a, b) = (&first.attestation, &second.attestation);
                        assert!(a.height == height && b.height == height && a != b);
                    }
                    EvmMisbehaviour::Conflict(attested) => {
                        let a = &attested.attestation;
                        assert_eq!(a.height, height);
                        let held = client.consensus_state(height).expect("a held block");
                        assert!(
                            held.block_hash != a.block_hash
                                || held.state_root != a.state_root
                                || held.time_ms != a.time_ms
                        );
                    }
                }
            }
            Err(e) => {
                assert!(!e.reason().is_empty());
                assert_eq!(&judged, client, "a refused evidence changed the client");
            }
        }
    }
});
