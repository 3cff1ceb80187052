//! Devchain ↔ EVM (a real anvil node with the Gateway deployed) end to end, with real node
//! and relayer processes: the newcomer's demo (transfers out and back, echo both ways,
//! supply checked on both chains); storage proofs forged by the EVM node's RPC refused by
//! the relayer before anything is submitted, then the same messages relayed once the
//! proofs are honest; a relayer killed with messages in flight resumes on both lanes.

use std::process::Command;
use std::time::Duration;

use xrelay::devnet::evm::{signing_provider, EvmDevnet, EVM_CHAIN};
use xrelay_devchain::Event;
use xrelay_evm::gateway::Gateway;
use xrelay_light_client::{ChainId, Timeout};
use xrelay_tests::evm::{acknowledged, send_echo, wait_for};
use xrelay_tests::rpc_tamper::TamperProxy;
use xrelay_tests::*;

#[test]
fn demo_with_evm_crosses_both_ways_and_conserves_supply() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_json(&["demo", "--with-evm", "--messages", "40"], dir.path());
    assert_eq!(summary["sent"], 40, "{summary}");
    assert_eq!(summary["delivered"], 40, "{summary}");
    assert_eq!(summary["acknowledged"], 40, "{summary}");
    assert_eq!(summary["lost"], 0, "{summary}");
    assert_eq!(summary["duplicated"], 0, "{summary}");
    assert_eq!(summary["supply_conserved"], true, "{summary}");
}

/// Messages from `source` the devchain behind `node` received (its `MessageReceived`
/// events), by sequence.
async fn received_from(
    node: &xrelay_devchain::node::client::NodeClient,
    source: &ChainId,
) -> Vec<u64> {
    let head = node.status().await.unwrap().latest_height;
    let mut out = Vec::new();
    let mut h = 0;
    while h < head {
        let to = head.min(h + 1_000);
        for e in node.events(h + 1, to).await.unwrap() {
            if let Event::MessageReceived { message, .. } = e.event {
                if message.source == *source {
                    out.push(message.sequence);
                }
            }
        }
        h = to;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_evm_proofs_are_refused_and_a_killed_relayer_resumes_on_both_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(&dir.path().join("devnet"), 2, 200, &[]);
    let home = net.ids[0].clone();
    let away: ChainId = EVM_CHAIN.parse().unwrap();
    let evm = EvmDevnet::up(dir.path(), &net.relayer_config(), &net.nodes[0], 1)
        .await
        .expect("anvil with the contracts");
    // The relayer reaches the EVM node through a proxy that can forge its storage proofs.
    let upstream = evm.anvil.url().trim_start_matches("http://").to_string();
    let proxy = TamperProxy::start(upstream).await.unwrap();
    let config = net.relayer_config();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&evm.anvil.url(), &proxy.url())).unwrap();

    // EVM → devchain with forged proofs: refused off-chain, nothing reaches the devchain.
    proxy
        .forging
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let relayer = Relayer::start(&config, &[]);
    let provider = signing_provider(&evm.anvil.url(), &evm.user).unwrap();
    let gateway = Gateway::new(evm.deployment.gateway, provider.clone());
    for i in 0..3 {
        send_echo(&gateway, &home, format!("forged {i}")).await;
    }
    let failures = || {
        relayer.metric_sum(
            "xrelay_verification_failures_total",
            &["chain=\"evm-1\"", "reason=\"proof\""],
        )
    };
    wait_for("a refused proof", Duration::from_secs(60), || async {
        failures() > 0.0
    })
    .await;
    assert!(proxy.forged.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert!(
        received_from(&net.nodes[0], &away).await.is_empty(),
        "a message proven by a forged proof reached the devchain"
    );

    // Honest proofs again: the same three messages are delivered (in order) and acked.
    proxy
        .forging
        .store(false, std::sync::atomic::Ordering::Relaxed);
    wait_for(
        "the EVM chain's messages acknowledged",
        Duration::from_secs(90),
        || async { acknowledged(&provider, evm.deployment.gateway).await == [1, 2, 3] },
    )
    .await;
    assert_eq!(received_from(&net.nodes[0], &away).await, [1, 2, 3]);

    // Kill the relayer with transfers in flight on the devchain → EVM lane, restart it.
    let mut sender = Sender::default();
    let mut sent = Vec::new();
    for i in 0..4 {
        let m = sender
            .send(
                &net.nodes[0],
                &home,
                &user(0),
                transfer(
                    &away,
                    &xrelay::devnet::coin(&home),
                    5 + i,
                    &user(0),
                    &evm.user,
                    Timeout {
                        height: 0,
                        time_ms: u64::MAX / 2,
                    },
                ),
            )
            .await;
        sent.push(m);
    }
    relayer.proc.kill_nine();
    let relayer = Relayer::start(&config, &[]);
    let settled = wait_settled(&net, &sent, Duration::from_secs(90)).await;
    for m in &sent {
        assert_eq!(
            settled.get(m).map(String::as_str),
            Some("acknowledged"),
            "{m:?}"
        );
    }
    assert_eq!(duplicates(&net).await, 0);
    assert_eq!(
        relayer.metric_sum(
            "xrelay_verification_failures_total",
            &["chain=\"evm-1\"", "reason=\"proof\""]
        ),
        0.0,
        "a restarted relayer sees honest proofs only"
    );
    relayer.proc.terminate();
}

/// An operator puts xrelay on an EVM chain with the CLI alone: `xrelay evm deploy` deploys the
/// contracts (paid by the configured account), creates the EVM light client's client of the
/// linked devchain and, with the devchain's governance key, the devchain's client of the EVM
/// chain; with the printed Gateway address in the configuration, `xrelay start` relays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_deploy_from_the_cli_then_relay() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(&dir.path().join("devnet"), 2, 200, &[]);
    let home = net.ids[0].clone();
    let anvil = xrelay::devnet::evm::Anvil::start(1).unwrap();
    let keys = dir.path().join("keys");
    let store = xrelay::keys::Keystore::new(&keys);
    let pass = "operator passphrase";
    let account = anvil.key(1).unwrap();
    let attester = xrelay_light_client::SigningKey::from_seed("cli-deploy-attester", 0);
    store
        .add("evm-account", Some(account.secret_bytes()), pass)
        .unwrap();
    store
        .add("attester", Some(attester.secret_bytes()), pass)
        .unwrap();
    store
        .add(
            "gov",
            Some(xrelay::devnet::governance_key().secret_bytes()),
            pass,
        )
        .unwrap();
    let pass_file = dir.path().join("passphrase");
    std::fs::write(&pass_file, format!("{pass}\n")).unwrap();
    let evm_section = |gateway: &str| {
        format!(
            r#"
[[chains]]
id = "evm-1"
kind = "evm"
rpc = ["{url}"]
block_time_ms = 1000

[chains.evm]
chain_id = {chain_id}
gateway = "{gateway}"
consensus = "attestation"
attesters = ["{attester}"]
account_key = "evm-account"
attester_key = "attester"
keys_dir = "{keys}"
passphrase_file = "{pass_file}"

[[links]]
chains = ["{home}", "evm-1"]
"#,
            url = anvil.url(),
            chain_id = anvil.chain_id(),
            attester = attester.address(),
            keys = keys.display(),
            pass_file = pass_file.display(),
        )
    };
    let base = std::fs::read_to_string(net.relayer_config()).unwrap();
    let config = dir.path().join("relayer.toml");
    std::fs::write(
        &config,
        format!(
            "{base}{}",
            evm_section("0x0000000000000000000000000000000000000000")
        ),
    )
    .unwrap();
    let out = Command::new(xrelay_bin())
        .args(["evm", "deploy", "--config"])
        .arg(&config)
        .args(["--chain", "evm-1", "--devchain-governance-key", "gov"])
        // The keys' passphrase comes from `passphrase_file`, as under a supervisor.
        .env_remove("XRELAY_KEY_PASSPHRASE")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "evm deploy failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("client of {home} created on evm-1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("client of evm-1 created on {home}")),
        "{text}"
    );
    let gateway = text
        .lines()
        .find_map(|l| l.strip_prefix("gateway = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no gateway line in:\n{text}"))
        .to_string();
    std::fs::write(&config, format!("{base}{}", evm_section(&gateway))).unwrap();

    let relayer = Relayer::start(&config, &[]);
    let away: ChainId = "evm-1".parse().unwrap();
    let mut sender = Sender::default();
    let sent = vec![
        sender
            .send(
                &net.nodes[0],
                &home,
                &user(1),
                echo(&away, b"deployed by the CLI"),
            )
            .await,
    ];
    let settled = wait_settled(&net, &sent, Duration::from_secs(90)).await;
    assert_eq!(settled[&sent[0]], "acknowledged");
    // The health check reads both families' chains and clients, with no keystore access.
    let health = Command::new(xrelay_bin())
        .args(["health-check", "--config"])
        .arg(&config)
        .env("RUST_LOG", "error")
        .env_remove("XRELAY_KEY_PASSPHRASE")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&health.stdout);
    assert!(
        health.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&health.stderr)
    );
    assert!(
        report.contains("chain evm-1            reachable"),
        "{report}"
    );
    assert!(
        report.contains("client of evm-1        on chain-1      fresh"),
        "{report}"
    );
    assert!(
        report.contains("client of chain-1      on evm-1        fresh"),
        "{report}"
    );
    relayer.proc.terminate();
}

/// A committee of two relayers, quorum two, attests the EVM chain over the mesh: one relayer
/// alone gets nothing from the EVM chain accepted (its signature is half a quorum, on its
/// own client and on the devchain's); once the second joins, each co-signs what the other
/// needs after checking it against its own node, and both lanes settle exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_of_two_attester_committee_relays_over_the_mesh_and_one_alone_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(&dir.path().join("devnet"), 2, 200, &["--relayers", "2"]);
    let home = net.ids[0].clone();
    let away: ChainId = EVM_CHAIN.parse().unwrap();
    let configs = [
        net.dir.join("relayer-1.toml"),
        net.dir.join("relayer-2.toml"),
    ];
    let evm = EvmDevnet::up_with_committee(
        dir.path(),
        &[configs[0].as_path(), configs[1].as_path()],
        &net.nodes[0],
        1,
    )
    .await
    .expect("anvil with the contracts and a committee of two");

    let first = Relayer::start(&configs[0], &[]);
    let provider = signing_provider(&evm.anvil.url(), &evm.user).unwrap();
    let gateway = Gateway::new(evm.deployment.gateway, provider.clone());
    for i in 0..2 {
        send_echo(&gateway, &home, format!("attested by two {i}")).await;
    }
    let mut sender = Sender::default();
    let mut sent = Vec::new();
    for i in 0..2 {
        sent.push(
            sender
                .send(
                    &net.nodes[0],
                    &home,
                    &user(2),
                    echo(&away, format!("to the committee {i}").as_bytes()),
                )
                .await,
        );
    }
    // Alone for a while (several attestation waits): nothing from the EVM chain is taken.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(
        received_from(&net.nodes[0], &away).await.is_empty(),
        "one of two attesters got an EVM message accepted"
    );
    assert!(acknowledged(&provider, evm.deployment.gateway)
        .await
        .is_empty());
    for m in &sent {
        assert_eq!(
            source_status(&net.nodes[0], m).await,
            "pending",
            "an ack proven on the EVM chain was accepted with one attester"
        );
    }

    // The second member joins: the quorum forms and everything settles once.
    let second = Relayer::start(&configs[1], &[]);
    wait_for(
        "the EVM chain's messages acknowledged",
        Duration::from_secs(120),
        || async { acknowledged(&provider, evm.deployment.gateway).await == [1, 2] },
    )
    .await;
    let settled = wait_settled(&net, &sent, Duration::from_secs(120)).await;
    for m in &sent {
        assert_eq!(
            settled.get(m).map(String::as_str),
            Some("acknowledged"),
            "{m:?}"
        );
    }
    assert_eq!(received_from(&net.nodes[0], &away).await, [1, 2]);
    assert_eq!(duplicates(&net).await, 0);
    for r in [&first, &second] {
        assert!(
            r.metric("xrelay_mesh_attestations_received_total") > 0.0,
            "each relayer took the other's signatures from the mesh"
        );
        assert_eq!(
            r.metric_sum(
                "xrelay_verification_failures_total",
                &["reason=\"attestation_conflict\""]
            ),
            0.0
        );
    }
    first.proc.terminate();
    second.proc.terminate();
}
