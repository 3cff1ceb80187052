//! A devchain and two EVM chains (real anvil nodes, the contracts deployed), every pair
//! linked, relayed by one real relayer process: an echo message on each of the six lanes
//! among them is delivered and acknowledged, so EVM ↔ EVM runs on the Gateways' own
//! `EvmLightClient`s and storage proofs, next to devchain ↔ EVM. And `xrelay demo --evm 2`:
//! two EVM chains alone relayed by three meshed relayers (a 2-of-3 attester committee),
//! transfers out and back, echo both ways, transfers to a chain held still refunded, supply
//! checked on both. And an EVM ↔ EVM lane whose source endpoint lies: forged storage
//! proofs refused off-chain and never submitted, then a relayer killed with messages in
//! flight resumes and settles each once. And `xrelay bench --evm 2` reports a whole run.

use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use alloy::primitives::Bytes;
use xrelay::devnet::evm::{signing_provider, EvmOptions, EvmTopology};
use xrelay_evm::gateway::Gateway;
use xrelay_light_client::ChainId;
use xrelay_tests::evm::{acknowledged, received_from, send_echo, wait_for};
use xrelay_tests::rpc_tamper::TamperProxy;
use xrelay_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devchain_and_two_evm_chains_relay_on_all_six_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(&dir.path().join("devnet"), 2, 200, &[]);
    let config = net.relayer_config();
    let topology = EvmTopology::up(
        dir.path(),
        &[config.as_path()],
        &[&net.nodes[0]],
        &EvmOptions {
            count: 2,
            block_time_s: 1,
            quorum: None,
        },
    )
    .await
    .expect("two anvil chains linked with chain-1 and each other");
    let home = net.ids[0].clone();
    let evms: Vec<ChainId> = topology.chains.iter().map(|c| c.chain.clone()).collect();
    let relayer = Relayer::start(&config, &[]);

    // Every lane among {chain-1, evm-1, evm-2} gets one echo message.
    let mut lanes = Vec::new();
    let mut sender = Sender::default();
    for evm in &evms {
        sender
            .send(
                &net.nodes[0],
                &home,
                &user(0),
                echo(evm, b"from the devchain"),
            )
            .await;
        lanes.push((home.clone(), evm.clone()));
    }
    for (i, source) in topology.chains.iter().enumerate() {
        let provider = signing_provider(&source.anvil.url(), &source.user).unwrap();
        let gateway = Gateway::new(source.deployment.gateway, provider);
        let destinations =
            std::iter::once(home.clone()).chain(evms.iter().filter(|e| **e != evms[i]).cloned());
        for destination in destinations {
            send_echo(&gateway, &destination, format!("from {}", source.chain)).await;
            lanes.push((source.chain.clone(), destination));
        }
    }
    assert_eq!(lanes.len(), 6);

    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let pending: Vec<_> = lanes
            .iter()
            .filter(|(src, dst)| {
                relayer.metric_sum(
                    "xrelay_acks_relayed_total",
                    &[
                        &format!("src_chain=\"{src}\""),
                        &format!("dst_chain=\"{dst}\""),
                    ],
                ) < 1.0
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lanes without an acknowledged message after 240 s: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let refused = relayer.metric_sum("xrelay_verification_failures_total", &[]);
    assert_eq!(
        refused, 0.0,
        "honest nodes, yet the relayer refused something"
    );
    relayer.proc.terminate();
}

#[test]
fn demo_with_two_evm_chains_crosses_both_ways_and_conserves_supply() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_json(&["demo", "--evm", "2", "--messages", "40"], dir.path());
    let count = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {summary}"))
    };
    assert!(count("sent") >= 40, "{summary}");
    assert!(
        count("timed_out") >= 2,
        "the held chain's transfers: {summary}"
    );
    assert_eq!(
        count("delivered"),
        count("sent") - count("timed_out"),
        "{summary}"
    );
    assert_eq!(count("acknowledged"), count("delivered"), "{summary}");
    assert_eq!(summary["lost"], 0, "{summary}");
    assert_eq!(summary["duplicated"], 0, "{summary}");
    assert_eq!(summary["supply_conserved"], true, "{summary}");
}

/// Two EVM chains alone, linked with each other, and a relayer that reaches `evm-1` through
/// a proxy able to forge its `eth_getProof` answers. Forged proofs of `evm-1`'s messages
/// are refused by the relayer's own Merkle-Patricia check: nothing reaches `evm-2`. Honest
/// again, the same messages are delivered in order. Then messages in flight both ways when
/// the relayer is killed with SIGKILL: the restarted relayer settles each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_proofs_on_an_evm_lane_are_refused_and_a_killed_relayer_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relayer.toml");
    let data_dir = dir.path().join("relayer");
    std::fs::write(
        &config,
        format!("[relayer]\ndata_dir = {:?}\n", data_dir.to_str().unwrap()),
    )
    .unwrap();
    let topology = EvmTopology::up(
        dir.path(),
        &[config.as_path()],
        &[],
        &EvmOptions {
            count: 2,
            block_time_s: 1,
            quorum: None,
        },
    )
    .await
    .expect("two anvil chains linked with each other");
    let (a, b) = (&topology.chains[0], &topology.chains[1]);
    let upstream = a.anvil.url().trim_start_matches("http://").to_string();
    let proxy = TamperProxy::start(upstream).await.unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let quoted = |url: String| format!("\"{url}\"");
    assert!(text.contains(&quoted(a.anvil.url())));
    std::fs::write(
        &config,
        text.replace(&quoted(a.anvil.url()), &quoted(proxy.url())),
    )
    .unwrap();
    let provider_a = signing_provider(&a.anvil.url(), &a.user).unwrap();
    let provider_b = signing_provider(&b.anvil.url(), &b.user).unwrap();
    let gateway_a = Gateway::new(a.deployment.gateway, provider_a.clone());
    let gateway_b = Gateway::new(b.deployment.gateway, provider_b.clone());

    // evm-1 → evm-2 with forged proofs: refused off-chain, nothing reaches evm-2.
    proxy.forging.store(true, Ordering::Relaxed);
    let relayer = Relayer::start(&config, &[]);
    for i in 0..3 {
        send_echo(&gateway_a, &b.chain, format!("forged {i}")).await;
    }
    let refused = |r: &Relayer| {
        r.metric_sum(
            "xrelay_verification_failures_total",
            &["chain=\"evm-1\"", "reason=\"proof\""],
        )
    };
    wait_for("a refused proof", Duration::from_secs(90), || async {
        refused(&relayer) > 0.0
    })
    .await;
    assert!(proxy.forged.load(Ordering::Relaxed) > 0);
    assert!(
        received_from(&provider_b, b.deployment.gateway, &a.chain)
            .await
            .is_empty(),
        "a message proven by a forged proof reached evm-2"
    );

    // Honest proofs again: the same three are delivered in order and acknowledged.
    proxy.forging.store(false, Ordering::Relaxed);
    wait_for(
        "evm-1's messages acknowledged",
        Duration::from_secs(120),
        || async { acknowledged(&provider_a, a.deployment.gateway).await == [1, 2, 3] },
    )
    .await;
    assert_eq!(
        received_from(&provider_b, b.deployment.gateway, &a.chain).await,
        [1, 2, 3]
    );

    // Messages in flight both ways, the relayer killed, restarted: each settles once.
    let mut pending = Vec::new();
    for i in 0..4 {
        for (gateway, to) in [(&gateway_a, &b.chain), (&gateway_b, &a.chain)] {
            pending.push(
                gateway
                    .sendMessage(
                        Bytes::copy_from_slice(to.as_str().as_bytes()),
                        Bytes::copy_from_slice(b"echo"),
                        0,
                        u64::MAX / 2,
                        Bytes::from(format!("in flight {i}").into_bytes()),
                    )
                    .send()
                    .await
                    .unwrap(),
            );
        }
    }
    for p in pending {
        assert!(p.get_receipt().await.unwrap().status());
    }
    relayer.proc.kill_nine();
    assert!(
        acknowledged(&provider_b, b.deployment.gateway).await.len() < 4,
        "everything settled before the kill: nothing was in flight"
    );
    let relayer = Relayer::start(&config, &[]);
    wait_for("both lanes settled", Duration::from_secs(150), || async {
        acknowledged(&provider_a, a.deployment.gateway).await == (1..=7).collect::<Vec<u64>>()
            && acknowledged(&provider_b, b.deployment.gateway).await == [1, 2, 3, 4]
    })
    .await;
    assert_eq!(
        received_from(&provider_b, b.deployment.gateway, &a.chain).await,
        (1..=7).collect::<Vec<u64>>(),
        "each of evm-1's messages received once, in order"
    );
    assert_eq!(
        received_from(&provider_a, a.deployment.gateway, &b.chain).await,
        [1, 2, 3, 4],
        "each of evm-2's messages received once, in order"
    );
    assert_eq!(refused(&relayer), 0.0, "honest proofs after the restart");
    relayer.proc.terminate();
}

/// `xrelay bench --evm 2`: the EVM ↔ EVM benchmark runs against two real anvil chains and
/// relayer processes and ends in the same JSON report as the devchain one, every message
/// delivered and acknowledged once, the relayer figures read from the processes.
#[test]
fn bench_among_two_evm_chains_reports_every_message_settled() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_json(
        &["bench", "--evm", "2", "--messages", "40", "--rate", "10"],
        dir.path(),
    );
    let last = v.to_string();
    assert_eq!(v["evm_chains"], 2, "{last}");
    assert_eq!(v["chains"], 0, "{last}");
    assert_eq!(v["messages"], 40, "{last}");
    assert_eq!(v["delivered"], 40, "{last}");
    assert_eq!(v["acknowledged"], 40, "{last}");
    assert_eq!(v["lost"], 0, "{last}");
    assert_eq!(v["duplicated"], 0, "{last}");
    assert_eq!(
        v["block_time_ms"], 1_000,
        "anvil blocks are whole seconds: {last}"
    );
    assert!(
        v["relayer_cpu_us_per_msg"].as_f64().unwrap() > 0.0,
        "{last}"
    );
    assert!(
        v["relayer_verify_us_per_msg"].as_f64().unwrap() > 0.0,
        "{last}"
    );
    let (p50, p99) = (
        v["latency_ms_p50"].as_u64().unwrap(),
        v["latency_ms_p99"].as_u64().unwrap(),
    );
    assert!(p50 > 0 && p50 <= p99, "{last}");
}
