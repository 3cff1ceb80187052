//! Real devchain node processes on loopback, driven by RPC calls alone: a person (or this
//! test) acting as the relayer carries messages both ways, a timeout is refunded, and a
//! node killed with SIGKILL while producing blocks resumes with identical blocks.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::node::client::ClientError;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{paths, Acknowledgement, Message, Timeout};
use xrelay_protocol::{ProvenAck, ProvenMessage, RelayTx, SourceProof};

async fn acknowledge(src: &Node, dst: &Node, m: &Message, ack: &Acknowledgement) -> Vec<Event> {
    let h = src.update_client_of(dst).await;
    let proof = dst
        .rpc
        .proof(&paths::ack(&src.chain, m.sequence), h)
        .await
        .unwrap()
        .proof;
    src.submit_ok(&Tx::Relay(RelayTx::Ack {
        destination: dst.chain.clone(),
        proof_height: h,
        acks: vec![ProvenAck {
            message: m.clone(),
            ack: ack.clone(),
            proof,
        }],
    }))
    .await
}

fn the_ack(evs: &[Event]) -> Acknowledgement {
    match evs {
        [Event::MessageReceived { ack, .. }] => ack.clone(),
        other => panic!("expected MessageReceived, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_relayed_by_hand_over_rpc() {
    let alpha = spawn("alpha", &["--memory"]);
    let beta = spawn("beta", &["--memory"]);
    alpha.create_client_of(&beta).await;
    beta.create_client_of(&alpha).await;

    // A transfer alpha -> beta, delivered and acknowledged.
    let (u0, u1) = (user(0), user(1));
    let coin = "alpha-coin";
    let before = alpha.balance(coin, &u0).await;
    let far = Timeout {
        height: 1_000_000,
        time_ms: 0,
    };
    let m = sent(
        &alpha
            .submit_ok(&transfer_tx(
                &alpha,
                &u0,
                0,
                &beta.chain,
                coin,
                700,
                &u1,
                far,
            ))
            .await,
    );
    let ack = the_ack(&deliver(&alpha, &beta, &[(m.clone(), SourceProof::Committed)]).await);
    assert!(ack.is_success());
    let v = voucher(&alpha.chain, coin);
    assert_eq!(beta.balance(&v, &u1).await, 700);
    // Delivering the same message again is "already delivered": no effect, no error.
    let again = deliver(&alpha, &beta, &[(m.clone(), SourceProof::Committed)]).await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(beta.balance(&v, &u1).await, 700);
    let acked = acknowledge(&alpha, &beta, &m, &ack).await;
    assert!(matches!(acked[..], [Event::MessageAcknowledged { .. }]));
    assert_eq!(alpha.balance(coin, &u0).await, before - 700);
    let status: Value = alpha
        .rpc
        .call(
            "message_status",
            json!({"source": "alpha", "destination": "beta", "sequence": 1}),
        )
        .await
        .unwrap();
    assert_eq!(status["status"], json!({"settled": "Acknowledged"}));

    // And back: the voucher burns on beta, the escrow releases on alpha.
    let back = sent(
        &beta
            .submit_ok(&transfer_tx(&beta, &u1, 0, &alpha.chain, &v, 200, &u0, far))
            .await,
    );
    let ack = the_ack(&deliver(&beta, &alpha, &[(back.clone(), SourceProof::Committed)]).await);
    acknowledge(&beta, &alpha, &back, &ack).await;
    assert_eq!(alpha.balance(coin, &u0).await, before - 500);
    assert_eq!(beta.balance(&v, &u1).await, 500);

    // An echo message: its ack is the hash of the payload.
    let echo = sent(
        &alpha
            .submit_ok(&echo_tx(&alpha, &u0, 1, &beta.chain, b"ping"))
            .await,
    );
    let ack = the_ack(&deliver(&alpha, &beta, &[(echo, SourceProof::Committed)]).await);
    assert!(ack.is_success());

    // A transfer that times out: the relayer holds beta still (delivers nothing) until it
    // passes the timeout height, then proves the absence of the receipt to alpha.
    let deadline = beta.height().await + 3;
    let timeout = Timeout {
        height: deadline,
        time_ms: 0,
    };
    let late = sent(
        &alpha
            .submit_ok(&transfer_tx(
                &alpha,
                &u0,
                2,
                &beta.chain,
                coin,
                50,
                &u1,
                timeout,
            ))
            .await,
    );
    assert_eq!(alpha.balance(coin, &u0).await, before - 550);
    beta.wait_height(deadline).await;
    let hb = alpha.update_client_of(&beta).await;
    let proof = beta
        .rpc
        .proof(&paths::receipt(&alpha.chain, late.sequence), hb)
        .await
        .unwrap()
        .proof;
    let out = alpha
        .submit_ok(&Tx::Relay(RelayTx::Timeout {
            destination: beta.chain.clone(),
            proof_height: hb,
            messages: vec![ProvenMessage {
                message: late.clone(),
                proof,
            }],
        }))
        .await;
    assert!(
        matches!(out[..], [Event::MessageTimedOut { .. }]),
        "{out:?}"
    );
    assert_eq!(alpha.balance(coin, &u0).await, before - 500, "refunded");
    // Delivering it late only moves beta's lane on (no voucher minted).
    let skipped = deliver(&alpha, &beta, &[(late, SourceProof::TimedOut)]).await;
    assert!(
        matches!(skipped[..], [Event::MessageExpired { .. }]),
        "{skipped:?}"
    );
    assert_eq!(beta.balance(&v, &u1).await, 500);

    // Supply of alpha's coin is conserved: escrow on alpha = vouchers on beta.
    let escrow: Value = alpha
        .rpc
        .call("supply", json!({"denom": coin, "counterparty": "beta"}))
        .await
        .unwrap();
    let vouchers: Value = beta.rpc.call("supply", json!({"denom": v})).await.unwrap();
    assert_eq!(escrow["escrow"], vouchers["supply"]);
    assert_eq!(escrow["escrow"], json!("500"));

    // Refused transactions are answered with the module's reason and change nothing.
    let replay = transfer_tx(&alpha, &u0, 0, &beta.chain, coin, 1, &u1, far);
    let refused = alpha.rpc.submit(&replay, WAIT).await.unwrap_err();
    assert!(
        refused.is_refusal() && refused.to_string().contains("nonce"),
        "{refused}"
    );
    let missing = alpha
        .rpc
        .call::<Value>("submit_tx", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ClientError::Rpc { code: -32602, .. }),
        "{missing}"
    );
    let garbage = alpha
        .rpc
        .call::<Value>("submit_tx", json!({"tx": "00ff"}))
        .await
        .unwrap_err();
    assert!(garbage.to_string().contains("does not decode"), "{garbage}");
    assert_eq!(alpha.balance(coin, &u0).await, before - 500);
}

/// SIGKILL at three moments while blocks are produced; after each restart the node is at
/// or past the last height seen, with the same hashes and state roots, and it continues
/// the same chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_and_restart_keeps_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let mut seen: Vec<Value> = Vec::new();
    for (round, pause_ms) in [(0u64, 0u64), (1, 40), (2, 95)].into_iter() {
        let mut node = spawn("gamma", &["--data-dir", &data]);
        let resumed = node.height().await;
        assert!(
            resumed >= seen.len() as u64,
            "round {round}: restarted at {resumed}, had {}",
            seen.len()
        );
        for (i, before) in seen.iter().enumerate() {
            let after: Value = node
                .rpc
                .call("header", json!({"height": i as u64 + 1}))
                .await
                .unwrap();
            assert_eq!(
                after["hash"],
                before["hash"],
                "round {round} height {}",
                i + 1
            );
            assert_eq!(after["state_root"], before["state_root"]);
        }
        // Send a few transactions so blocks carry state changes, then kill mid-interval.
        let first = node.rpc.nonce(&user(0).address()).await.unwrap();
        for n in 0..3u64 {
            let nonce = first + n;
            let pay = Action::Pay {
                to: user(1).address(),
                denom: "gamma-coin".into(),
                amount: u128::from(n) + 1,
            };
            let tx = Tx::Signed(Box::new(SignedAction::sign(
                &node.chain,
                &user(0),
                nonce,
                pay,
            )));
            node.rpc.broadcast(&tx).await.unwrap();
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let h = node.wait_height(resumed + 4).await;
        for i in seen.len() as u64 + 1..=h {
            seen.push(node.rpc.call("header", json!({"height": i})).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        node.child.kill().unwrap(); // SIGKILL: no chance to flush anything
        node.child.wait().unwrap();
    }
    let node = spawn("gamma", &["--data-dir", &data]);
    let resumed = node.height().await;
    node.wait_height(resumed + 2).await;
    let next: Value = node
        .rpc
        .call("header", json!({"height": resumed + 1}))
        .await
        .unwrap();
    let parent: Value = node
        .rpc
        .call("header", json!({"height": resumed}))
        .await
        .unwrap();
    assert_eq!(next["header"]["parent_hash"], parent["hash"]);
    for (i, before) in seen.iter().enumerate() {
        let after: Value = node
            .rpc
            .call("header", json!({"height": i as u64 + 1}))
            .await
            .unwrap();
        assert_eq!(after["hash"], before["hash"]);
    }
}

/// The WebSocket stream pushes every new block, in order, with its transactions' events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_pushed_over_websocket() {
    use jsonrpsee::core::client::SubscriptionClientT;
    let node = spawn("omega", &["--memory"]);
    let ws_url = node.rpc.url().replace("http://", "ws://");
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&ws_url)
        .await
        .unwrap();
    let mut blocks = ws
        .subscribe::<Value, _>(
            "subscribe_blocks",
            jsonrpsee::rpc_params![],
            "unsubscribe_blocks",
        )
        .await
        .unwrap();
    let nonce = node.rpc.nonce(&user(0).address()).await.unwrap();
    let pay = Action::Pay {
        to: user(1).address(),
        denom: "omega-coin".into(),
        amount: 5,
    };
    let tx = Tx::Signed(Box::new(SignedAction::sign(
        &node.chain,
        &user(0),
        nonce,
        pay,
    )));
    let hash = node.rpc.broadcast(&tx).await.unwrap();
    let mut last = None;
    let mut seen_tx = false;
    for count in 1..=20 {
        let notice = tokio::time::timeout(WAIT, blocks.next())
            .await
            .expect("a block within 30 s")
            .unwrap()
            .unwrap();
        let h = notice["height"].as_u64().unwrap();
        if let Some(prev) = last {
            assert_eq!(h, prev + 1, "blocks arrive in order without gaps");
        }
        last = Some(h);
        let header: Value = node.rpc.call("header", json!({"height": h})).await.unwrap();
        assert_eq!(notice["hash"], header["hash"]);
        if let Some(t) = notice["txs"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["hash"] == json!(hash)))
        {
            assert_eq!(t["outcome"]["Ok"]["events"][0]["type"], "paid");
            assert_eq!(t["outcome"]["Ok"]["events"][0]["amount"], "5");
            seen_tx = true;
        }
        if seen_tx && count >= 3 {
            break;
        }
    }
    assert!(seen_tx, "the transaction's block was pushed");
}
