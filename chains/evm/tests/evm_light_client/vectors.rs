//! The header libraries against real headers: the light-client tests' Besu QBFT, IBFT 2.0
//! and Goerli Clique headers (and every single-bit alteration of them, bit 0 and bit 7 of
//! each byte), and the shared real-data vectors of `/work/shared/vectors/evm-headers/`
//! (read in place). The harness's verdict must equal the Rust `verify_header`'s, and for
//! a vector not marked `policy` also the vector's expectation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use alloy_rlp::{Header as RlpHeader, PayloadView};
use serde_json::Value;
use xrelay_light_client::evm::consensus::EvmConsensus;
use xrelay_light_client::Address;

use super::harness::{self, Harness};
use super::setups::single_bit_flips;

fn data_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../light-clients/tests/data/evm")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::decode(text.trim()).expect("hex")
}

fn addr(s: &str) -> Address {
    Address::from_hex(s.trim_start_matches("0x")).expect("address")
}

/// A real header: its name, consensus, bytes and the set it is checked against (`None`:
/// its own list).
type RealHeader = (&'static str, EvmConsensus, Vec<u8>, Option<Vec<Address>>);

/// The real headers of `light-clients/tests/data/evm/`.
fn real_headers() -> Vec<RealHeader> {
    let block = data_file("ibft2_block_5618555.block.hex");
    let mut rest = &block[..];
    let Ok(PayloadView::List(items)) = RlpHeader::decode_raw(&mut rest) else {
        panic!("the IBFT 2.0 data file is a block [header, transactions, ommers]");
    };
    let ibft2 = items[0].to_vec();
    // Goerli block 1,798,342 is even and out of turn: with two signers, the higher address
    // (the Goerli signer) is out of turn, as its difficulty 1 says.
    let goerli = vec![
        addr("0000000000000000000000000000000000000001"),
        addr("a6dd2974b96e959f2c8930024451a30afec24203"),
    ];
    vec![
        (
            "qbft besu 7528",
            EvmConsensus::Qbft,
            data_file("qbft_besu_block_7528.hex"),
            None,
        ),
        ("ibft2 5618555", EvmConsensus::Ibft2, ibft2, None),
        (
            "clique goerli 1798342",
            EvmConsensus::CLIQUE,
            data_file("clique_goerli_block_1798342.hex"),
            Some(goerli),
        ),
    ]
}

/// Each real header as it is, then every byte with bit 0 and with bit 7 flipped.
pub async fn real_headers_and_every_bit_flipped(h: &Harness) {
    let mut verdicts = BTreeMap::<String, usize>::new();
    let mut compared = 0usize;
    for (name, consensus, bytes, set) in real_headers() {
        let rust = harness::in_rust(consensus, &bytes, set.as_deref());
        let chain = harness::on_chain(h, consensus, &bytes, set.as_deref()).await;
        assert!(rust.is_ok(), "{name}: {rust:?}");
        assert_eq!(chain, rust, "{name}");
        for (pos, mask, altered) in single_bit_flips(&bytes, 0) {
            let rust = harness::in_rust(consensus, &altered, set.as_deref());
            let chain = harness::on_chain(h, consensus, &altered, set.as_deref()).await;
            assert_eq!(chain, rust, "{name}: byte {pos} ^ {mask:#04x}");
            let label = match &rust {
                Ok(_) => "accepted".to_string(),
                Err(e) => e.split('(').next().unwrap_or(e).to_string(),
            };
            *verdicts.entry(label).or_default() += 1;
            compared += 1;
        }
    }
    println!("real headers, every bit 0 / bit 7 flipped: {compared} headers, harness = Rust: {verdicts:?}");
}

fn consensus_of(v: &Value) -> EvmConsensus {
    let epoch = v["epoch"].as_u64().unwrap_or(30_000);
    match v["consensus"].as_str().expect("consensus") {
        "qbft" => EvmConsensus::Qbft,
        "ibft2" => EvmConsensus::Ibft2,
        "clique" => EvmConsensus::Clique { epoch },
        other => panic!("unknown consensus {other}"),
    }
}

/// Every vector of the shared real-data set, in place.
pub async fn shared_vectors(h: &Harness) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/evm-headers/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vectors: Vec<Value> = serde_json::from_str(&text).expect("vectors JSON");
    let (mut valid, mut invalid, mut policy) = (0, 0, 0);
    let mut policy_disagreements = Vec::new();
    for v in &vectors {
        let name = v["name"].as_str().expect("name");
        let consensus = consensus_of(v);
        let hex_text = v["header_rlp_hex"].as_str().expect("hex");
        let bytes = hex::decode(hex_text.trim().trim_start_matches("0x")).expect("header hex");
        let set: Option<Vec<Address>> = v["validators"].as_array().map(|list| {
            list.iter()
                .map(|a| addr(a.as_str().expect("address")))
                .collect()
        });
        let rust = harness::in_rust(consensus, &bytes, set.as_deref());
        let chain = harness::on_chain(h, consensus, &bytes, set.as_deref()).await;
        assert_eq!(chain, rust, "{name}: harness and Rust disagree");
        let expect_valid = v["expect"].as_str() == Some("valid");
        if v["policy"].as_bool() == Some(true) {
            policy += 1;
            if rust.is_ok() != expect_valid {
                policy_disagreements.push(name.to_string());
            }
            continue;
        }
        if !expect_valid {
            assert!(
                rust.is_err(),
                "{name}: accepted, the vector expects a refusal"
            );
            invalid += 1;
            continue;
        }
        let verdict =
            rust.unwrap_or_else(|e| panic!("{name}: refused ({e}), the vector expects valid"));
        let hex_of = |k: &str| {
            v[k].as_str()
                .expect(k)
                .trim_start_matches("0x")
                .to_lowercase()
        };
        assert_eq!(
            verdict.hash.to_hex(),
            hex_of("expect_block_hash"),
            "{name}: block hash"
        );
        assert_eq!(
            verdict.digest.to_hex(),
            hex_of("expect_seal_digest"),
            "{name}: seal digest"
        );
        let signers: Vec<String> = v["expect_signers"]
            .as_array()
            .expect("signers")
            .iter()
            .map(|s| {
                s.as_str()
                    .expect("signer")
                    .trim_start_matches("0x")
                    .to_lowercase()
            })
            .collect();
        let ours: Vec<String> = verdict.signers.iter().map(|a| hex::encode(a.0)).collect();
        assert_eq!(ours, signers, "{name}: signers");
        valid += 1;
    }
    println!(
        "shared EVM header vectors: {} compared, harness = Rust on all; {valid} valid and {invalid} invalid as expected, {policy} policy ({} differ from the vector by policy: {policy_disagreements:?})",
        vectors.len(),
        policy_disagreements.len()
    );
}
