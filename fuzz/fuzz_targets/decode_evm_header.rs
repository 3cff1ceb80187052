//! `EvmHeader::decode` on arbitrary bytes (an EVM node's header RLP, as the relayer and the
//! CLI receive it): it must never panic, and a decoded header must re-encode to exactly the
//! input, because the block hash and every seal digest are keccak-256 over that encoding.
//! The consensus layers on top must not panic either: QBFT / IBFT 2.0 extraData decoding
//! (also canonical), the seal digests and block hashes, Clique's extraData split, and seal
//! verification against the header's own validator list when it carries few seals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_fuzz::{hex, MAX_RECOVERIES};
use xrelay_light_client::evm::consensus::{verify_header, EvmConsensus};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{BftExtraData, BftVariant};

fuzz_target!(|data: &[u8]| {
    // extraData is where the consensus formats live: decode the input as one too.
    for variant in [BftVariant::Qbft, BftVariant::Ibft2] {
        if let Ok(extra) = BftExtraData::decode(variant, data) {
            assert!(
                extra.encode() == data,
                "{variant:?} extraData {} is not canonical",
                hex(data)
            );
            let _ = (
                extra.encode_for_seal_digest(),
                extra.encode_for_block_hash(),
            );
        }
    }

    let Ok(header) = EvmHeader::decode(data) else {
        return;
    };
    let again = header.encode();
    assert!(
        again == data,
        "EvmHeader is not canonical: input {} re-encodes to {}",
        hex(data),
        hex(&again)
    );
    let _ = header.hash();

    for consensus in [
        EvmConsensus::Qbft,
        EvmConsensus::Ibft2,
        EvmConsensus::CLIQUE,
    ] {
        let _ = consensus.block_hash(&header);
        let Ok(Some(validators)) = consensus.header_validators(&header) else {
            continue;
        };
        // Recovery is one EC operation per seal: bound the work per input.
        let seals = match consensus {
            EvmConsensus::Qbft => BftExtraData::decode(BftVariant::Qbft, &header.extra_data)
                .map_or(0, |e| e.seals.len()),
            EvmConsensus::Ibft2 => BftExtraData::decode(BftVariant::Ibft2, &header.extra_data)
                .map_or(0, |e| e.seals.len()),
            EvmConsensus::Clique { .. } => 1,
        };
        if seals <= MAX_RECOVERIES {
            let _ = verify_header(consensus, &header, &validators);
        }
    }
});
