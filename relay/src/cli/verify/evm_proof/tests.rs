//! `verify evm-proof` on the committed real anvil answer
//! (`light-clients/tests/data/evm/anvil_gateway_proof.json`): valid as served; every
//! altered node, lying field and wrong root refused.

use serde_json::Value;
use xrelay_light_client::evm::client::provable_slot;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::mpt::{MptError, EMPTY_ROOT};

use super::check::hx;
use super::*;
use crate::cli::verify::proof_answer::ProofAnswer;

fn data() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../light-clients/tests/data/evm/anvil_gateway_proof.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("data file")).expect("JSON")
}

fn answer(data: &Value) -> ProofAnswer {
    ProofAnswer::parse(&data["eth_getProof"].to_string()).expect("a real answer parses")
}

fn word(v: &Value) -> [u8; 32] {
    Hash32::from_hex(v.as_str().unwrap()).unwrap().0
}

fn root(data: &Value) -> [u8; 32] {
    word(&data["eth_getBlockByNumber"]["stateRoot"])
}

fn sound() -> Expectation {
    Expectation::default()
}

fn path(p: &str, value_sha256: Option<[u8; 32]>) -> Expectation {
    Expectation {
        address: None,
        path: Some((p.to_string(), value_sha256)),
    }
}

#[test]
fn the_real_answer_proves_its_account_and_every_slot() {
    let data = data();
    let a = answer(&data);
    let checked = check(&a, &root(&data), &sound());
    assert!(checked.is_valid(), "{:?}", checked.refusals);
    let account = checked
        .account
        .clone()
        .unwrap()
        .expect("the gateway exists");
    assert_eq!(account.nonce, 1);
    assert_eq!(account.balance, [0u8; 32]);
    assert_eq!(account.storage_root, a.storage_hash);
    let writes = data["writes"].as_array().unwrap();
    assert_eq!(checked.slots.len(), writes.len() + 1);
    for (w, outcome) in writes.iter().zip(&checked.slots) {
        assert_eq!(*outcome, SlotOutcome::Proven(word(&w["stored"])));
    }
    assert_eq!(checked.slots[writes.len()], SlotOutcome::Proven([0u8; 32]));
    let lines = report(&a, &checked, None);
    assert_eq!(lines.last().unwrap(), "verdict:    VALID");
    assert!(lines.iter().any(|l| l.ends_with("absent (zero)")));
}

#[test]
fn gateway_paths_are_checked_by_their_provable_slot() {
    let data = data();
    let a = answer(&data);
    let root = root(&data);
    let commitment = &data["writes"][0];
    let stored = word(&commitment["stored"]);
    // The data file's value hashes to what the Gateway layout stores.
    let value = hex::decode(
        commitment["value"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    assert_eq!(xrelay_light_client::sha256(&value).0, stored);

    let ok = check(&a, &root, &path("commitments/beta/1", Some(stored)));
    assert!(ok.is_valid(), "{:?}", ok.refusals);
    assert_eq!(
        hx(&ok.path_slot.unwrap()),
        commitment["slot"].as_str().unwrap()
    );
    assert!(check(&a, &root, &path("commitments/beta/2", None)).is_valid());

    let refused = check(&a, &root, &path("commitments/beta/1", None));
    assert!(matches!(
        refused.refusals.as_slice(),
        [Refusal::PathValue { expected, .. }] if expected == "absent"
    ));
    let refused = check(&a, &root, &path("commitments/beta/2", Some(stored)));
    assert!(matches!(
        refused.refusals.as_slice(),
        [Refusal::PathValue { found, .. }] if found == "absent"
    ));
    let refused = check(&a, &root, &path("commitments/beta/9", None));
    assert!(matches!(
        refused.refusals.as_slice(),
        [Refusal::PathNotInProof { .. }]
    ));
}

#[test]
fn an_altered_node_byte_is_refused() {
    let data = data();
    let root = root(&data);
    let a = answer(&data);
    for i in 0..a.account_proof.len() {
        let mut bad = a.clone();
        let mid = bad.account_proof[i].len() / 2;
        bad.account_proof[i][mid] ^= 0x01;
        let checked = check(&bad, &root, &sound());
        assert!(
            matches!(checked.refusals.first(), Some(Refusal::AccountProof(_))),
            "account node {i}: {:?}",
            checked.refusals
        );
        assert!(checked.slots.iter().all(|s| *s == SlotOutcome::NotChecked));
        let lines = report(&bad, &checked, None);
        assert!(lines
            .last()
            .unwrap()
            .starts_with("verdict:    INVALID: account proof"));
    }
    for (e, entry) in a.storage.iter().enumerate() {
        for n in 0..entry.proof.len() {
            let mut bad = a.clone();
            let mid = bad.storage[e].proof[n].len() / 2;
            bad.storage[e].proof[n][mid] ^= 0x80;
            let checked = check(&bad, &root, &sound());
            assert_eq!(checked.slots[e], SlotOutcome::Refused, "slot {e} node {n}");
            assert!(matches!(
                checked.refusals.as_slice(),
                [Refusal::StorageProof { .. }]
            ));
        }
    }
}

#[test]
fn a_lying_field_is_refused_even_with_honest_nodes() {
    let data = data();
    let root = root(&data);
    let a = answer(&data);
    let mut value = a.clone();
    value.storage[0].value[31] ^= 1;
    let mut absent = a.clone();
    let last = absent.storage.len() - 1;
    absent.storage[last].value[31] = 7;
    let mut balance = a.clone();
    balance.balance[31] = 1;
    let mut nonce = a.clone();
    nonce.nonce = 2;
    let mut storage_hash = a.clone();
    storage_hash.storage_hash = EMPTY_ROOT;
    let mut code_hash = a.clone();
    code_hash.code_hash[0] ^= 1;
    for (lie, field) in [
        (value, "value"),
        (absent, "value"),
        (balance, "balance"),
        (nonce, "nonce"),
        (storage_hash, "storageHash"),
        (code_hash, "codeHash"),
    ] {
        let checked = check(&lie, &root, &sound());
        match checked.refusals.as_slice() {
            [Refusal::StorageClaim { .. }] if field == "value" => {}
            [Refusal::AccountClaim { field: f, .. }] if *f == field => {}
            other => panic!("a lying {field}: {other:?}"),
        }
    }
}

#[test]
fn another_root_or_another_account_is_refused() {
    let data = data();
    let a = answer(&data);
    let mut other = root(&data);
    other[5] ^= 1;
    let checked = check(&a, &other, &sound());
    assert_eq!(
        checked.refusals,
        vec![Refusal::AccountProof(MptError::HashMismatch { index: 0 })]
    );
    let checked = check(
        &a,
        &root(&data),
        &Expectation {
            address: Some([0x11; 20]),
            path: None,
        },
    );
    assert!(matches!(
        checked.refusals.as_slice(),
        [Refusal::OtherAccount { .. }]
    ));
}

#[test]
fn an_absent_account_claims_nothing_and_proves_no_path() {
    // Against the empty state trie, the empty account proof shows every account absent.
    let text = r#"{"address":"0x00000000000000000000000000000000000a11ce","nonce":"0x0",
        "balance":"0x0","storageHash":"0x0000000000000000000000000000000000000000000000000000000000000000",
        "codeHash":"0x0000000000000000000000000000000000000000000000000000000000000000",
        "accountProof":[],"storageProof":[{"key":"0x0","value":"0x0","proof":[]}]}"#;
    let a = ProofAnswer::parse(text).unwrap();
    let checked = check(&a, &EMPTY_ROOT, &sound());
    assert!(checked.is_valid(), "{:?}", checked.refusals);
    assert_eq!(checked.account, Ok(None));
    assert_eq!(checked.slots, vec![SlotOutcome::Proven([0u8; 32])]);
    assert!(report(&a, &checked, None)
        .iter()
        .any(|l| l.contains("account:    absent")));
    let mut rich = a.clone();
    rich.balance[31] = 5;
    assert!(matches!(
        check(&rich, &EMPTY_ROOT, &sound()).refusals.as_slice(),
        [Refusal::AccountClaim {
            field: "balance",
            ..
        }]
    ));
    let mut slot_of_path = a.clone();
    slot_of_path.storage[0].key = provable_slot(b"next_send/beta");
    let checked = check(&slot_of_path, &EMPTY_ROOT, &path("next_send/beta", None));
    assert!(matches!(
        checked.refusals.as_slice(),
        [Refusal::AccountAbsent { .. }]
    ));
}

#[test]
fn a_header_gives_the_state_root_of_its_block() {
    // The anvil block's RLP, rebuilt from its JSON, hashes to the block hash anvil gave,
    // so `--header` reads the same state root the answer was taken at.
    let data = data();
    let block: alloy::rpc::types::Block =
        serde_json::from_value(data["eth_getBlockByNumber"].clone()).expect("an anvil block");
    let rlp = alloy::rlp::encode(&block.header.inner);
    let header = EvmHeader::decode(&rlp).expect("a canonical header");
    assert_eq!(header.hash().0, word(&data["eth_getBlockByNumber"]["hash"]));
    assert_eq!(header.state_root.0, root(&data));
    assert!(check(&answer(&data), &header.state_root.0, &sound()).is_valid());
}

#[test]
fn only_protocol_paths_are_taken() {
    for ok in [
        "commitments/chain-2/7",
        "receipts/alpha/1",
        "acks/a/18446744073709551615",
        "outcomes/beta/0",
        "next_send/beta",
        "next_recv/evm-1",
    ] {
        assert_eq!(parse_path(ok), Ok(()), "{ok}");
    }
    for (bad, rule) in [
        ("", "shape"),
        ("commitments/beta", "shape"),
        ("next_send/beta/1", "shape"),
        ("balances/beta", "shape"),
        ("commitments/beta/07", "sequence"),
        ("commitments/beta/-1", "sequence"),
        ("commitments/beta/18446744073709551616", "sequence"),
        ("commitments//1", "chain"),
    ] {
        let found = match parse_path(bad) {
            Err(BadPath::Shape(_)) => "shape",
            Err(BadPath::Sequence(_)) => "sequence",
            Err(BadPath::ChainId { .. }) => "chain",
            Ok(()) => "accepted",
        };
        assert_eq!(found, rule, "{bad}");
    }
}
