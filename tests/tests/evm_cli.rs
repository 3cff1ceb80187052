//! The EVM tools of the `xrelay` binary, run as a user runs them:
//! `xrelay verify evm-proof` on the committed real anvil answer (valid; altered node, lying
//! field, wrong root refused with exit code 1; usage errors exit 2), and `xrelay tx send` /
//! `xrelay tx transfer` from a real anvil chain with the contracts deployed: the ids printed
//! are the ones the Gateway's `Sent` events give, its commitments hold those messages, the
//! escrow moved, `verify evm-proof` proves a commitment from the live node's answer, and
//! every refusal (tokens, ether, app, client, gateway, endpoint, dev account) is a clear
//! error with nothing sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use serde_json::Value;
use xrelay::devnet::evm::{deploy, mint, signing_provider, Anvil};
use xrelay::keys::Keystore;
use xrelay_evm::gateway::{provable_slot, Gateway, TransferApp};
use xrelay_evm::light_client::{create_client_args, BftLightClient};
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{sha256, ChainId, Decode, Message, MessageId, SigningKey, TrustOptions};
use xrelay_tests::xrelay_bin;

const PASS: &str = "dapp passphrase";

fn xrelay(args: &[&str]) -> Output {
    Command::new(xrelay_bin())
        .args(args)
        .env("RUST_LOG", "error")
        .env("XRELAY_KEY_PASSPHRASE", PASS)
        .stdin(Stdio::null())
        .output()
        .expect("xrelay runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

/// Exit code 1 with `want` in stderr (an error) or stdout (an INVALID verdict).
fn fails_with(out: &Output, want: &str) {
    let (so, se) = (stdout(out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{so}\n{se}");
    assert!(
        so.contains(want) || se.contains(want),
        "wanted {want:?} in:\n{so}\n{se}"
    );
}

fn anvil_data() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../light-clients/tests/data/evm/anvil_gateway_proof.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The header RLP of a block as a node's JSON gives it.
fn header_rlp(block: &Value) -> String {
    let block: alloy::rpc::types::Block = serde_json::from_value(block.clone()).unwrap();
    hex::encode(alloy::rlp::encode(&block.header.inner))
}

#[test]
fn verify_evm_proof_accepts_the_real_answer_and_refuses_lies() {
    let dir = tempfile::tempdir().unwrap();
    let data = anvil_data();
    let result = data["eth_getProof"].clone();
    let root = data["eth_getBlockByNumber"]["stateRoot"].as_str().unwrap();
    let stored = data["writes"][0]["stored"].as_str().unwrap();
    let plain = write_json(dir.path(), "result.json", &result);
    let response = write_json(
        dir.path(),
        "response.json",
        &serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": result}),
    );

    let text = ok(&xrelay(&[
        "verify",
        "evm-proof",
        "--proof",
        &plain,
        "--state-root",
        root,
    ]));
    assert!(text.ends_with("verdict:    VALID\n"), "{text}");
    assert!(text.contains("nonce:      1"), "{text}");
    assert_eq!(text.matches("slot:").count(), 6, "{text}");
    assert!(text.contains("absent (zero)"), "{text}");
    let text = ok(&xrelay(&[
        "verify",
        "evm-proof",
        "--proof",
        &response,
        "--state-root",
        root,
        "--path",
        "commitments/beta/1",
        "--value-sha256",
        stored,
    ]));
    assert!(
        text.contains(&format!(
            "path:       commitments/beta/1 holds sha256 {stored}"
        )),
        "{text}"
    );
    ok(&xrelay(&[
        "verify",
        "evm-proof",
        "--proof",
        &response,
        "--state-root",
        root,
        "--path",
        "commitments/beta/2",
        "--absent",
    ]));
    // From standard input, with the state root taken from the block's header.
    let mut child = Command::new(xrelay_bin())
        .args(["verify", "evm-proof", "--proof", "-", "--header"])
        .arg(header_rlp(&data["eth_getBlockByNumber"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(result.to_string().as_bytes())
        .unwrap();
    let text = ok(&child.wait_with_output().unwrap());
    assert!(text.contains("of block 1"), "{text}");
    assert!(text.contains("NOT verified"), "{text}");

    // Refused: the path's value, another root, a lying field, an altered node.
    fails_with(
        &xrelay(&[
            "verify",
            "evm-proof",
            "--proof",
            &plain,
            "--state-root",
            root,
            "--path",
            "commitments/beta/1",
            "--absent",
        ]),
        "verdict:    INVALID: path commitments/beta/1: expected absent",
    );
    let mut other_root = root.to_string();
    other_root.replace_range(10..11, if &root[10..11] == "0" { "1" } else { "0" });
    fails_with(
        &xrelay(&[
            "verify",
            "evm-proof",
            "--proof",
            &plain,
            "--state-root",
            &other_root,
        ]),
        "verdict:    INVALID: account proof: proof node 0 does not hash",
    );
    let mut lying = result.clone();
    lying["storageProof"][1]["value"] = Value::from("0x1");
    let lying = write_json(dir.path(), "lying.json", &lying);
    fails_with(
        &xrelay(&[
            "verify",
            "evm-proof",
            "--proof",
            &lying,
            "--state-root",
            root,
        ]),
        "the answer claims value 0x0000000000000000000000000000000000000000000000000000000000000001",
    );
    let mut altered = result.clone();
    let node = altered["accountProof"][1].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &node[..20],
        if &node[20..21] == "f" { "e" } else { "f" }
    );
    altered["accountProof"][1] = Value::from(format!("{flipped}{}", &node[21..]));
    let altered = write_json(dir.path(), "altered.json", &altered);
    fails_with(
        &xrelay(&[
            "verify",
            "evm-proof",
            "--proof",
            &altered,
            "--state-root",
            root,
        ]),
        "verdict:    INVALID: account proof",
    );

    // Unusable input is an error naming the field, not a verdict.
    let mut malformed = result.clone();
    malformed["accountProof"][0] = Value::from("0xabc");
    let malformed = write_json(dir.path(), "malformed.json", &malformed);
    let out = xrelay(&[
        "verify",
        "evm-proof",
        "--proof",
        &malformed,
        "--state-root",
        root,
    ]);
    fails_with(&out, "accountProof[0]: an odd number of hex digits");
    assert!(!stdout(&out).contains("verdict"));

    // Usage errors: clap's exit code 2.
    for args in [
        vec!["--proof", plain.as_str()],
        vec!["--proof", &plain, "--state-root", root, "--header", "00"],
        vec![
            "--proof",
            &plain,
            "--state-root",
            root,
            "--path",
            "acks/a/1",
        ],
        vec!["--proof", &plain, "--state-root", root, "--absent"],
        vec![
            "--proof",
            &plain,
            "--state-root",
            root,
            "--path",
            "acks/a/1",
            "--absent",
            "--value-sha256",
            stored,
        ],
    ] {
        let mut all = vec!["verify", "evm-proof"];
        all.extend(args);
        let out = xrelay(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stdout(&out));
    }
}

/// An anvil chain `evm-1` with the contracts, a client of the BFT chain `beta` on it, and
/// 100 `evm-1-coin` for the dApp user (anvil's account 2).
struct EvmChain {
    anvil: Anvil,
    gateway: Address,
    transfer: Address,
    user: SigningKey,
}

async fn evm_chain() -> EvmChain {
    let anvil = Anvil::start(1).expect("anvil starts");
    let url = anvil.url();
    let governance = anvil.key(0).unwrap();
    let user = anvil.key(2).unwrap();
    let deployed = deploy(&url, &governance, &"evm-1".parse().unwrap())
        .await
        .unwrap();
    let beta = TestChain::new(ChainSpec::new("beta", fixed_set(4, 10)), 2);
    let (state, options) = create_client_args(&beta.trusted_state(2), &TrustOptions::default());
    let receipt = BftLightClient::new(
        deployed.light_client,
        signing_provider(&url, &governance).unwrap(),
    )
    .createClient(state, options)
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(receipt.status());
    mint(
        &url,
        &governance,
        deployed.transfer,
        "evm-1-coin",
        Address::from(user.address().0),
        100,
    )
    .await
    .unwrap();
    EvmChain {
        anvil,
        gateway: deployed.gateway,
        transfer: deployed.transfer,
        user,
    }
}

/// A relayer config naming `beta` and `gamma` (devchains, never contacted), `evm-1` (the
/// anvil chain), and for the refusals `evm-2` (no gateway yet) and `evm-3` (nobody there).
fn config(dir: &Path, evm: &EvmChain) -> PathBuf {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let section = |id: &str, url: &str, gateway: &str| {
        format!(
            r#"
[[chains]]
id = "{id}"
kind = "evm"
rpc = ["{url}"]
block_time_ms = 1000
request_timeout_ms = 3000

[chains.evm]
chain_id = {chain_id}
gateway = "{gateway}"
consensus = "attestation"
attesters = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]
account_key = "relayer"
attester_key = "attester"
"#,
            chain_id = evm.anvil.chain_id()
        )
    };
    let text = format!(
        r#"
[relayer]
data_dir = "{data}"

[[chains]]
id = "beta"
kind = "devchain"
rpc = ["{dead}"]

[[chains]]
id = "gamma"
kind = "devchain"
rpc = ["{dead}"]
{evm1}{evm2}{evm3}
[[links]]
chains = ["beta", "evm-1"]
"#,
        data = dir.join("data").display(),
        evm1 = section("evm-1", &evm.anvil.url(), &evm.gateway.to_string()),
        evm2 = section(
            "evm-2",
            &evm.anvil.url(),
            "0x0000000000000000000000000000000000000000"
        ),
        evm3 = section("evm-3", &dead, &evm.gateway.to_string()),
    );
    let path = dir.join("relayer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The messages of the Gateway's `Sent` events, in order.
async fn sent_messages(provider: &impl Provider, gateway: Address) -> Vec<Message> {
    let filter = alloy::rpc::types::Filter::new()
        .address(gateway)
        .event_signature(Gateway::Sent::SIGNATURE_HASH)
        .from_block(0);
    provider
        .get_logs(&filter)
        .await
        .unwrap()
        .iter()
        .map(|log| {
            let sent = Gateway::Sent::decode_log_data(&log.inner.data).unwrap();
            Message::decode(&sent.message).unwrap()
        })
        .collect()
}

/// `xrelay tx SUB --config CFG --from evm-1 --to beta REST`.
fn tx_from_evm1(cfg: &str, sub: &str, rest: &[&str]) -> Output {
    let mut args = vec![
        "tx", sub, "--config", cfg, "--from", "evm-1", "--to", "beta",
    ];
    args.extend_from_slice(rest);
    xrelay(&args)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn ids(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_from_an_evm_chain_prints_the_ids_the_gateway_commits() {
    let dir = tempfile::tempdir().unwrap();
    let evm = evm_chain().await;
    let keys = dir.path().join("keys");
    let store = Keystore::new(&keys);
    store
        .add("dapp", Some(evm.user.secret_bytes()), PASS)
        .unwrap();
    store
        .add(
            "poor",
            Some(SigningKey::from_seed("evm-cli-poor", 0).secret_bytes()),
            PASS,
        )
        .unwrap();
    let cfg = config(dir.path(), &evm);
    let cfg = cfg.to_str().unwrap();
    let keys = keys.to_str().unwrap();
    let provider = signing_provider(&evm.anvil.url(), &evm.user).unwrap();
    let gateway = Gateway::new(evm.gateway, provider.clone());
    let app = TransferApp::new(evm.transfer, provider.clone());
    let beta_lane = || Bytes::from_static(b"beta");
    let tx = |sub: &str, rest: &[&str]| tx_from_evm1(cfg, sub, rest);
    let dapp = |rest: &[&str]| -> Vec<String> {
        rest.iter()
            .chain(&["--key", "dapp", "--keystore", keys])
            .map(|s| s.to_string())
            .collect()
    };
    let receiver = "abababababababababababababababababababab";

    // Three echo messages in one burst, then one signed by the node for its account 3.
    let burst = ids(&ok(&tx(
        "send",
        &strs(&dapp(&["--payload", "hello from evm", "--count", "3"])),
    )));
    let dev = ids(&ok(&tx(
        "send",
        &["--payload", "from dev 3", "--dev-account", "3"],
    )));
    // Tokens: 7 of the 100 minted, escrowed for beta.
    let transfer = ids(&ok(&tx(
        "transfer",
        &strs(&dapp(&["--amount", "7", "--receiver", receiver])),
    )));

    let evm1: ChainId = "evm-1".parse().unwrap();
    let beta: ChainId = "beta".parse().unwrap();
    let printed: Vec<String> = [burst, dev, transfer].concat();
    let expected: Vec<String> = (1..=5)
        .map(|s| MessageId::new(&evm1, &beta, s).to_string())
        .collect();
    assert_eq!(printed, expected);
    let sent = sent_messages(&provider, evm.gateway).await;
    assert_eq!(
        sent.iter().map(|m| m.id().to_string()).collect::<Vec<_>>(),
        expected,
        "the printed ids are the Sent events'"
    );
    let user = evm.user.address().0.to_vec();
    let dev3 = evm.anvil.key(3).unwrap().address().0.to_vec();
    let senders: Vec<Vec<u8>> = sent.iter().map(|m| m.sender.clone()).collect();
    assert_eq!(
        senders,
        vec![user.clone(), user.clone(), user.clone(), dev3, user]
    );
    assert_eq!(sent[0].payload, b"hello from evm");
    assert_eq!(sent[3].payload, b"from dev 3");
    assert_eq!(sent[4].receiver, "transfer");
    for m in &sent {
        let path = format!("commitments/beta/{}", m.sequence);
        let held = gateway
            .provableAt(Bytes::from(path.into_bytes()))
            .call()
            .await
            .unwrap();
        assert_eq!(
            held.0,
            sha256(&m.commitment().0).0,
            "message {}",
            m.sequence
        );
    }
    assert_eq!(gateway.nextSend(beta_lane()).call().await.unwrap(), 6);
    let user_addr = Address::from(evm.user.address().0);
    let coin = || Bytes::from_static(b"evm-1-coin");
    assert_eq!(app.balanceOf(coin(), user_addr).call().await.unwrap(), 93);
    assert_eq!(app.escrowOf(beta_lane(), coin()).call().await.unwrap(), 7);

    // The live node's proof of commitment 1, checked offline by the auditor's tool.
    let head = provider.get_block_number().await.unwrap();
    let slot = provable_slot(b"commitments/beta/1");
    let answer: Value = provider
        .raw_request(
            "eth_getProof".into(),
            (evm.gateway, vec![slot], BlockNumberOrTag::Number(head)),
        )
        .await
        .unwrap();
    let block: Value = provider
        .raw_request(
            "eth_getBlockByNumber".into(),
            (BlockNumberOrTag::Number(head), false),
        )
        .await
        .unwrap();
    let proof = write_json(dir.path(), "live.json", &answer);
    let value = format!("0x{}", hex::encode(sha256(&sent[0].commitment().0).0));
    let gateway_hex = evm.gateway.to_string();
    let header = header_rlp(&block);
    let text = ok(&xrelay(&[
        "verify",
        "evm-proof",
        "--proof",
        &proof,
        "--header",
        &header,
        "--address",
        &gateway_hex,
        "--path",
        "commitments/beta/1",
        "--value-sha256",
        &value,
    ]));
    assert!(text.ends_with("verdict:    VALID\n"), "{text}");
    fails_with(
        &xrelay(&[
            "verify",
            "evm-proof",
            "--proof",
            &proof,
            "--header",
            &header,
            "--path",
            "commitments/beta/1",
            "--absent",
        ]),
        "verdict:    INVALID",
    );

    // Refusals: each a clear error, and nothing sent.
    fails_with(
        &tx(
            "transfer",
            &strs(&dapp(&["--amount", "1000", "--receiver", receiver])),
        ),
        "holds 93 evm-1-coin, the transfer needs 1000",
    );
    fails_with(
        &tx("send", &strs(&dapp(&["--payload", "x", "--app", "chess"]))),
        "no app named \"chess\"",
    );
    fails_with(
        &tx(
            "send",
            &["--payload", "x", "--key", "poor", "--keystore", keys],
        ),
        "insufficient ether",
    );
    fails_with(
        &tx("send", &["--payload", "x", "--dev-account", "99"]),
        "no account 99",
    );
    let elsewhere = |from: &str, to: &str| {
        xrelay(&[
            "tx",
            "send",
            "--config",
            cfg,
            "--from",
            from,
            "--to",
            to,
            "--payload",
            "x",
            "--dev-account",
            "1",
        ])
    };
    fails_with(
        &elsewhere("evm-1", "gamma"),
        "the gateway has no client of gamma",
    );
    fails_with(
        &elsewhere("evm-1", "delta"),
        "chain delta is not in the config",
    );
    fails_with(&elsewhere("evm-2", "beta"), "has no gateway configured");
    fails_with(&elsewhere("evm-3", "beta"), "no RPC endpoint reachable");
    assert_eq!(gateway.nextSend(beta_lane()).call().await.unwrap(), 6);
    assert_eq!(sent_messages(&provider, evm.gateway).await.len(), 5);
}
