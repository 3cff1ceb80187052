//! The relay end to end, with real processes: `xrelay devnet up` (devchain nodes) and
//! `xrelay start` (relayers) on loopback. Every check reads the chains themselves.

use std::time::Duration;

use nix::sys::signal::Signal;
use xrelay::devnet::coin;
use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{Timeout, TrustOptions, TrustedState};
use xrelay_protocol::RelayTx;
use xrelay_tests::*;

const BLOCK_MS: u64 = 150;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn far() -> Timeout {
    Timeout {
        height: 0,
        time_ms: now_ms() + 3_600_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chains_both_ways_with_transfers_there_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &[]);
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let (na, nb) = (&net.nodes[0], &net.nodes[1]);
    let mut tx = Sender::default();
    let coin_a = coin(&a);
    let before = balance(na, &coin_a, &user(0)).await;
    let mut sent = Vec::new();
    for i in 0..3u32 {
        sent.push(
            tx.send(
                na,
                &a,
                &user(0),
                transfer(&b, &coin_a, 100, &user(0), &user(1), far()),
            )
            .await,
        );
        sent.push(
            tx.send(na, &a, &user(2), echo(&b, format!("ping {i}").as_bytes()))
                .await,
        );
        sent.push(
            tx.send(nb, &b, &user(3), echo(&a, format!("pong {i}").as_bytes()))
                .await,
        );
    }
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert!(settled.values().all(|s| s == "acknowledged"), "{settled:?}");
    let v = voucher(&a, &coin_a);
    assert_eq!(balance(nb, &v, &user(1)).await, 300);
    // And back: the vouchers burn on b and the escrow releases on a.
    let back = vec![
        tx.send(
            nb,
            &b,
            &user(1),
            transfer(&a, &v, 120, &user(1), &user(0), far()),
        )
        .await,
    ];
    let settled = wait_settled(&net, &back, WAIT).await;
    assert!(settled.values().all(|s| s == "acknowledged"), "{settled:?}");
    assert_eq!(balance(na, &coin_a, &user(0)).await, before - 300 + 120);
    assert_eq!(balance(nb, &v, &user(1)).await, 180);
    assert!(supply_conserved(&net).await);
    assert_eq!(duplicates(&net).await, 0);

    // The operator's view.
    assert_eq!(relayer.get("/healthz").0, 200);
    assert_eq!(relayer.get("/readyz").0, 200);
    assert!(
        relayer.metric(&format!(
            "xrelay_messages_delivered_total{{dst_chain=\"{b}\",src_chain=\"{a}\"}}"
        )) >= 6.0
    );
    assert!(
        relayer.metric(&format!(
            "xrelay_acks_relayed_total{{dst_chain=\"{a}\",src_chain=\"{b}\"}}"
        )) >= 3.0
    );
    assert!(relayer.metric_sum("xrelay_headers_verified_total", &[]) >= 2.0);
    assert!(relayer.metric_sum("xrelay_submissions_total", &["outcome=\"delivered\""]) >= 4.0);
    assert_eq!(
        relayer.metric_sum("xrelay_verification_failures_total", &[]),
        0.0
    );
    let (code, lanes) = relayer.get("/api/v1/lanes");
    assert_eq!(code, 200);
    let lanes: serde_json::Value = serde_json::from_str(&lanes).unwrap();
    assert_eq!(lanes.as_array().unwrap().len(), 2);
    let id = xrelay_light_client::MessageId::new(&a, &b, 1);
    let (code, timeline) = relayer.get(&format!("/api/v1/messages/{id}"));
    assert_eq!(code, 200, "{timeline}");
    let timeline: serde_json::Value = serde_json::from_str(&timeline).unwrap();
    assert_eq!(timeline["status"], "acknowledged");
    assert_eq!(
        timeline["timeline"].as_array().unwrap().len(),
        3,
        "pending, delivered, acknowledged"
    );
    assert_eq!(relayer.get("/api/v1/messages/00").0, 400);
    assert_eq!(relayer.get("/api/v1/messages?status=bogus").0, 400);
    assert!(relayer.proc.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_chains_in_full_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 3, BLOCK_MS, &[]);
    let _relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let mut sent = Vec::new();
    for (i, src) in net.ids.iter().enumerate() {
        for dst in net.ids.iter().filter(|d| *d != src) {
            for k in 0..3u8 {
                sent.push(
                    tx.send(&net.nodes[i], src, &user(u32::from(k)), echo(dst, &[k]))
                        .await,
                );
            }
        }
    }
    assert_eq!(sent.len(), 18);
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert!(settled.values().all(|s| s == "acknowledged"), "{settled:?}");
    assert_eq!(duplicates(&net).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayer_killed_mid_flight_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &[]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let coin_a = coin(&a);
    let mut sent = Vec::new();
    for i in 0..40u32 {
        sent.push(
            tx.send(
                &net.nodes[0],
                &a,
                &user(i % 4),
                transfer(&b, &coin_a, 5, &user(i % 4), &user(1), far()),
            )
            .await,
        );
        if i == 25 {
            // Mid-flight: some delivered, some acknowledged, some not even seen.
            relayer.proc.kill_nine();
            break;
        }
    }
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    for i in 0..10u32 {
        sent.push(
            tx.send(&net.nodes[1], &b, &user(i % 4), echo(&a, b"after restart"))
                .await,
        );
    }
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert!(settled.values().all(|s| s == "acknowledged"), "{settled:?}");
    assert_eq!(duplicates(&net).await, 0);
    assert!(supply_conserved(&net).await);
    assert_eq!(
        balance(&net.nodes[1], &voucher(&a, &coin_a), &user(1)).await,
        26 * 5
    );
    drop(relayer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_held_still_past_the_timeout_refunds_the_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &[]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let coin_a = coin(&a);
    let before = balance(&net.nodes[0], &coin_a, &user(0)).await;
    let pid = nix::unistd::Pid::from_raw(net.pids[1] as i32);
    nix::sys::signal::kill(pid, Signal::SIGSTOP).unwrap();
    let soon = Timeout {
        height: 0,
        time_ms: now_ms() + 1_000,
    };
    let late = tx
        .send(
            &net.nodes[0],
            &a,
            &user(0),
            transfer(&b, &coin_a, 77, &user(0), &user(1), soon),
        )
        .await;
    assert_eq!(
        balance(&net.nodes[0], &coin_a, &user(0)).await,
        before - 77,
        "escrowed"
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    nix::sys::signal::kill(pid, Signal::SIGCONT).unwrap();
    let settled = wait_settled(&net, std::slice::from_ref(&late), WAIT).await;
    assert_eq!(settled[&late], "timedout");
    assert_eq!(
        balance(&net.nodes[0], &coin_a, &user(0)).await,
        before,
        "refunded"
    );
    assert_eq!(
        balance(&net.nodes[1], &voucher(&a, &coin_a), &user(1)).await,
        0,
        "never minted"
    );
    // The destination lane moved past it: the next message still gets through.
    let next = tx
        .send(&net.nodes[0], &a, &user(0), echo(&b, b"next"))
        .await;
    let settled = wait_settled(&net, std::slice::from_ref(&next), WAIT).await;
    assert_eq!(settled[&next], "acknowledged");
    assert!(supply_conserved(&net).await);
    assert!(
        relayer.metric(&format!(
            "xrelay_timeouts_relayed_total{{dst_chain=\"{b}\",src_chain=\"{a}\"}}"
        )) >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_proofs_never_reach_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(
        dir.path(),
        2,
        BLOCK_MS,
        &["--fault", "chain-1=forged-proof"],
    );
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let forged_side = tx
        .send(&net.nodes[0], &a, &user(0), echo(&b, b"from the forger"))
        .await;
    let honest_side = tx
        .send(&net.nodes[1], &b, &user(0), echo(&a, b"to the forger"))
        .await;
    // The node's answers contradict their own proofs (the commitment it claims is not the
    // one its proof shows): a verification failure, never a submission.
    let deadline = std::time::Instant::now() + WAIT;
    let failures = loop {
        let f = relayer.metric_sum(
            "xrelay_verification_failures_total",
            &[&format!("chain=\"{a}\""), "reason=\"proof\""],
        );
        if f >= 2.0 {
            break f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no verification failure counted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(failures >= 2.0);
    // Nothing from the forger was received on b.
    let v: serde_json::Value = net.nodes[1]
        .call(
            "message_status",
            serde_json::json!({"source": a, "destination": b, "sequence": forged_side.seq}),
        )
        .await
        .unwrap();
    assert_eq!(v["received"], false, "{v}");
    let events = net.nodes[1]
        .events(
            1,
            net.nodes[1].status().await.unwrap().latest_height.min(999),
        )
        .await
        .unwrap();
    assert!(!events.iter().any(|e| matches!(&e.event, xrelay_devchain::Event::MessageReceived { message, .. } if message.source == a)));
    // The honest side's message is delivered to the forger (its proofs are honest), and
    // its ack comes back (the forger forges commitments, not acks).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v: serde_json::Value = net.nodes[0]
            .call(
                "message_status",
                serde_json::json!({"source": b, "destination": a, "sequence": honest_side.seq}),
            )
            .await
            .unwrap();
        if v["received"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the honest message was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = wait_settled(&net, std::slice::from_ref(&honest_side), WAIT).await;
    assert_eq!(settled[&honest_side], "acknowledged");
    assert_eq!(
        source_status(&net.nodes[0], &forged_side).await,
        "pending",
        "never delivered, so never settled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_header_is_detected_and_every_client_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(
        dir.path(),
        3,
        BLOCK_MS,
        &["--fault", "chain-1=conflicting-header:40"],
    );
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    // The attacker hands b's client of a the second header a's validators signed at 40.
    net.nodes[0].wait_height(41, WAIT).await.unwrap();
    let forged = net.nodes[0].forged_light_block(40).await.unwrap();
    let included = net.nodes[1]
        .submit(
            &Tx::Relay(RelayTx::UpdateClient {
                chain: a.clone(),
                blocks: vec![forged],
            }),
            WAIT,
        )
        .await
        .unwrap();
    assert!(included.outcome.is_ok(), "{:?}", included.outcome);
    let deadline = std::time::Instant::now() + WAIT;
    while relayer.metric(&format!(
        "xrelay_misbehaviour_detected_total{{chain=\"{a}\"}}"
    )) < 1.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "misbehaviour not detected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every chain that hosts a client of a froze it.
    for (i, id) in net.ids.iter().enumerate().filter(|(_, id)| **id != a) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let state = net.nodes[i].client_state(&a).await.unwrap().unwrap();
            if state.frozen().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{id}'s client of {a} not frozen"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (_, lanes) = relayer.get("/api/v1/lanes");
    assert!(lanes.contains("\"frozen\":true"), "{lanes}");
    relayer.proc.terminate();

    // Recovery: governance re-anchors every host's client of a on a header checked out of
    // band, then the operator lifts the relayer's flag from the same anchor.
    let anchor = net.nodes[0].status().await.unwrap().latest_height;
    let block = net.nodes[0].light_block(anchor).await.unwrap();
    let trusted = TrustedState::from_light_block(&block).unwrap();
    let gov = xrelay::devnet::governance_key();
    for (i, host) in net.ids.iter().enumerate().filter(|(_, id)| **id != a) {
        let nonce = net.nodes[i].nonce(&gov.address()).await.unwrap();
        let reset = Tx::Signed(Box::new(SignedAction::sign(
            host,
            &gov,
            nonce,
            Action::ResetClient {
                trusted: trusted.clone(),
                options: TrustOptions::default(),
            },
        )));
        let included = net.nodes[i].submit(&reset, WAIT).await.unwrap();
        assert!(included.outcome.is_ok(), "{host}: {:?}", included.outcome);
    }
    let config = net.relayer_config();
    let unfreeze = |env: &[(&str, String)]| {
        let mut cmd = std::process::Command::new(xrelay_bin());
        cmd.args(["unfreeze", "--chain", a.as_str(), "--config"])
            .arg(&config)
            .env("RUST_LOG", "error");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // Without a pinned anchor it refuses: the node's word is not enough after an incident.
    let refused = unfreeze(&[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("trusted_height and trusted_hash"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let pinned = [
        ("XRELAY_CHAINS__0__TRUSTED_HEIGHT", anchor.to_string()),
        (
            "XRELAY_CHAINS__0__TRUSTED_HASH",
            trusted.header_hash.to_string(),
        ),
    ];
    let done = unfreeze(&pinned);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("misbehaviour flag lifted"));
    let env: Vec<(&str, &str)> = pinned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let relayer = Relayer::start(&config, &env);
    let mut tx = Sender::default();
    let sent = vec![
        tx.send(&net.nodes[0], &a, &user(0), echo(&b, b"after the incident"))
            .await,
    ];
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert_eq!(settled[&sent[0]], "acknowledged", "{settled:?}");
    let (_, lanes) = relayer.get("/api/v1/lanes");
    assert!(!lanes.contains("\"frozen\":true"), "{lanes}");
    relayer.proc.terminate();

    // A new relayer on an empty data directory rescans the hosts from height 1 and meets
    // the old conflicting update again: nothing confirms it any more (its own client is
    // anchored above it, the hosts' clients were reset), so it keeps relaying.
    let fresh = dir.path().join("fresh-relayer");
    let fresh = fresh.to_str().unwrap();
    let mut env2 = env.clone();
    env2.push(("XRELAY_RELAYER__DATA_DIR", fresh));
    let relayer = Relayer::start(&config, &env2);
    let sent = vec![
        tx.send(&net.nodes[0], &a, &user(0), echo(&b, b"new relayer"))
            .await,
    ];
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert_eq!(settled[&sent[0]], "acknowledged", "{settled:?}");
    let (_, lanes) = relayer.get("/api/v1/lanes");
    assert!(!lanes.contains("\"frozen\":true"), "{lanes}");
    assert_eq!(
        relayer.metric(&format!(
            "xrelay_misbehaviour_detected_total{{chain=\"{a}\"}}"
        )),
        0.0
    );
    assert_eq!(duplicates(&net).await, 0);
}

/// A host whose node lies about the client it hosts (`--fault lying-host`: its
/// `ClientUpdated` events and blocks name a header the update did not carry, it reports the
/// client frozen and answers evidence as accepted) does not stop the relayer: its own light
/// client does not verify the "conflicting" header, so it counts the report as unconfirmed,
/// still sends the evidence to every host, and keeps relaying the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_host_does_not_freeze_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 3, BLOCK_MS, &["--fault", "chain-2=lying-host"]);
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let (a, c) = (net.ids[0].clone(), net.ids[2].clone());
    let verified = format!("xrelay_light_client_height{{chain=\"{a}\"}}");
    let deadline = std::time::Instant::now() + WAIT;
    while relayer.metric(&verified) < 1.0 {
        assert!(std::time::Instant::now() < deadline, "no own client of {a}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // An honest update of chain-2's client of a, above the relayer's trust root: chain-2's
    // node then reports that its client accepted another header at that height.
    let h = net.nodes[0].status().await.unwrap().latest_height + 2;
    net.nodes[0].wait_height(h, WAIT).await.unwrap();
    let honest = net.nodes[0].light_block(h).await.unwrap();
    let included = net.nodes[1]
        .submit(
            &Tx::Relay(RelayTx::UpdateClient {
                chain: a.clone(),
                blocks: vec![honest],
            }),
            WAIT,
        )
        .await
        .unwrap();
    assert!(included.outcome.is_ok(), "{:?}", included.outcome);
    let unconfirmed =
        format!("xrelay_misbehaviour_unconfirmed_total{{chain=\"{a}\",reason=\"not_verified\"}}");
    let deadline = std::time::Instant::now() + WAIT;
    while relayer.metric(&unconfirmed) < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the lie was not examined: {}",
            relayer.get("/metrics").1
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The chain is still relayed, to the honest host.
    let mut tx = Sender::default();
    let sent = vec![
        tx.send(&net.nodes[0], &a, &user(0), echo(&c, b"after the lie"))
            .await,
    ];
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert_eq!(settled[&sent[0]], "acknowledged", "{settled:?}");
    let (_, lanes) = relayer.get("/api/v1/lanes");
    assert!(!lanes.contains("\"frozen\":true"), "{lanes}");
    assert_eq!(
        relayer.metric(&format!(
            "xrelay_misbehaviour_detected_total{{chain=\"{a}\"}}"
        )),
        0.0
    );
    // The honest host checked the evidence itself and refused it.
    let state = net.nodes[2].client_state(&a).await.unwrap().unwrap();
    assert!(state.frozen().is_none());
    assert_eq!(duplicates(&net).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_rotation_is_followed_across_many_heights() {
    let dir = tempfile::tempdir().unwrap();
    // Four validators, one replaced every 2 heights: after 8 heights none is left.
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--rotate-every", "2"]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let start = net.nodes[1]
        .client_state(&a)
        .await
        .unwrap()
        .unwrap()
        .latest_height();
    net.nodes[0].wait_height(start + 40, WAIT).await.unwrap();
    net.nodes[1].wait_height(40, WAIT).await.unwrap();
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let sent = vec![
        tx.send(&net.nodes[0], &a, &user(0), echo(&b, b"across rotations"))
            .await,
        tx.send(&net.nodes[1], &b, &user(0), echo(&a, b"and back"))
            .await,
    ];
    let settled = wait_settled(&net, &sent, WAIT).await;
    assert!(settled.values().all(|s| s == "acknowledged"), "{settled:?}");
    // b's client of a needed intermediate headers: some update carried more than one.
    let head = net.nodes[1].status().await.unwrap().latest_height;
    let mut longest = 0;
    for h in 1..=head {
        for t in net.nodes[1].block_txs(h).await.unwrap() {
            if let Tx::Relay(RelayTx::UpdateClient { blocks, .. }) = t {
                longest = longest.max(blocks.len());
            }
        }
    }
    assert!(longest > 1, "every update was a single header");
    assert!(
        relayer.metric_sum(
            "xrelay_headers_verified_total",
            &[&format!("chain=\"{a}\"")]
        ) > 1.0
    );
}

/// 100,000 settled messages in the relayer's history: a restart reads counters and
/// cursors, not the history, and relays new messages at once. The time to ready and to the
/// first new delivery is printed (recorded in BENCHMARKS.md), not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_100k_messages_in_history_resumes_at_once() {
    use history::history_events;
    use xrelay::core::ledger::Ledger;
    use xrelay::metrics::Metrics;
    use xrelay::store::RelayStore;

    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &[]);
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let mut tx = Sender::default();
    let first = tx
        .send(&net.nodes[0], &a, &user(0), echo(&b, b"before"))
        .await;
    wait_settled(&net, std::slice::from_ref(&first), WAIT).await;
    assert!(relayer.proc.terminate().success());

    // Write 100,000 settled messages of lane a→b (sequences far above the live ones).
    {
        let store = std::sync::Arc::new(RelayStore::open(&dir.path().join("relayer/db")).unwrap());
        let lanes = [(a.clone(), b.clone()), (b.clone(), a.clone())]
            .into_iter()
            .collect();
        let ledger = Ledger::open(store, Metrics::new(), lanes).unwrap();
        for chunk in 0..100u64 {
            let (on_a, on_b) = history_events(&a, &b, 1_000_000 + chunk * 1_000, 1_000);
            ledger.apply(&a, &on_a, None).await.unwrap();
            ledger.apply(&b, &on_b, None).await.unwrap();
        }
        let counts = ledger.counts().await;
        assert_eq!(
            counts[&(a.clone(), b.clone(), xrelay::store::Status::Acknowledged)],
            100_001
        );
    }

    let started = std::time::Instant::now();
    let relayer = Relayer::start(&net.relayer_config(), &[]);
    let deadline = std::time::Instant::now() + WAIT;
    while relayer.get("/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ready = started.elapsed();
    let next = tx
        .send(&net.nodes[0], &a, &user(0), echo(&b, b"after"))
        .await;
    let sent_at = std::time::Instant::now();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v: serde_json::Value = net.nodes[1]
            .call(
                "message_status",
                serde_json::json!({"source": a, "destination": b, "sequence": next.seq}),
            )
            .await
            .unwrap();
        if v["received"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "restart with 100,001 messages in history: ready after {} ms (process start to /readyz 200); next message delivered {} ms after its send committed",
        ready.as_millis(),
        sent_at.elapsed().as_millis()
    );
    let settled = wait_settled(&net, std::slice::from_ref(&next), WAIT).await;
    assert_eq!(settled[&next], "acknowledged");
    let (_, lanes) = relayer.get("/api/v1/lanes");
    assert!(lanes.contains("\"acknowledged\":100002"), "{lanes}");
}

/// Events of `count` messages of lane `a→b` from sequence `from`: sent and acknowledged on
/// `a`, received on `b`.
mod history {
    use xrelay_adapters::ChainEvent;
    use xrelay_light_client::{Acknowledgement, ChainId, Message, Timeout};

    pub fn history_events(
        a: &ChainId,
        b: &ChainId,
        from: u64,
        count: u64,
    ) -> (Vec<ChainEvent>, Vec<ChainEvent>) {
        let mut on_a = Vec::new();
        let mut on_b = Vec::new();
        for seq in from..from + count {
            let message = Message {
                source: a.clone(),
                destination: b.clone(),
                sequence: seq,
                sender: vec![7; 20],
                receiver: "echo".into(),
                payload: seq.to_be_bytes().to_vec(),
                timeout: Timeout {
                    height: 0,
                    time_ms: u64::MAX / 2,
                },
            };
            let ack = Acknowledgement::Success(vec![1; 32]);
            on_a.push(ChainEvent::Sent {
                height: 1,
                message: message.clone(),
            });
            on_b.push(ChainEvent::Received {
                height: 1,
                message: message.clone(),
                ack: ack.clone(),
            });
            on_a.push(ChainEvent::Acknowledged {
                height: 2,
                message,
                ack,
            });
        }
        (on_a, on_b)
    }
}
