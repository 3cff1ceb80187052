//! Block production under a flood of free relay transactions of the greatest cost the
//! verification budget admits (PROTOCOL.md §9.2): a node with a client of a 1,024-validator
//! chain is sent, by several concurrent clients, updates of two fully signed headers whose
//! very last signature is corrupted (2,048 signature recoveries each, then refused), and
//! updates over the cap. Measured: blocks per second against the same node idle, and the
//! CPU one such transaction would cost without the cap.
//!
//! Ignored by default (it saturates both cores for about half a minute):
//!
//! ```sh
//! cargo test --release -p xrelay-devchain --test flood -- --ignored --nocapture
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xrelay_devchain::node::chain::{ChainConfig, KeySource, Limits, ValidatorPlan};
use xrelay_devchain::node::client::{ClientError, NodeClient};
use xrelay_devchain::node::rpc::codes;
use xrelay_devchain::node::run::{start, NodeOptions, RunningNode};
use xrelay_devchain::tx::Tx;
use xrelay_devchain::Genesis;
use xrelay_light_client::testkit::{fixed_set, ChainSpec, TestChain};
use xrelay_light_client::{ChainId, ClientState, LightBlock, SigningKey, TrustOptions};
use xrelay_protocol::RelayTx;

const BLOCK_MS: u64 = 200;
const CLIENTS: usize = 4;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn corrupted(mut block: LightBlock) -> LightBlock {
    if let Some(last) = block.signed_header.commit.signatures.last_mut() {
        last.signature.0[10] ^= 0x5a;
    }
    block
}

async fn node(big: &TestChain, limits: Limits) -> RunningNode {
    start(NodeOptions {
        chain: ChainConfig {
            chain_id: ChainId::new("host").unwrap(),
            validators: ValidatorPlan {
                keys: KeySource::Seed("host-validators".into()),
                count: 4,
                power: 10,
                rotate_every: None,
            },
            signers: None,
            genesis: Genesis {
                governance: SigningKey::from_seed("flood", 0).address(),
                clients: vec![(big.trusted_state(1), TrustOptions::default())],
                balances: vec![],
            },
            limits,
        },
        data_dir: None,
        rpc: "127.0.0.1:0".parse().unwrap(),
        block_time_ms: BLOCK_MS,
        fault: None,
    })
    .await
    .unwrap()
}

/// Blocks per second over `secs`, while `flood` (if any) is sent by [`CLIENTS`] clients;
/// also how the node answered them.
async fn measure(url: &str, secs: u64, flood: Option<Tx>) -> (f64, u64, u64, u64) {
    let client = NodeClient::new(url, Duration::from_secs(60)).unwrap();
    let (refused, busy, other) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    if let Some(tx) = flood {
        for _ in 0..CLIENTS {
            let (client, tx) = (client.clone(), tx.clone());
            let (refused, busy, other, stop) =
                (refused.clone(), busy.clone(), other.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.broadcast(&tx).await {
                        Err(ClientError::Rpc { code, .. }) if code == codes::TX_REFUSED => {
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(ClientError::Rpc { code, .. }) if code == codes::MEMPOOL_FULL => {
                            busy.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let h0 = client.status().await.unwrap().latest_height;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let h1 = client.status().await.unwrap().latest_height;
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (
        (h1 - h0) as f64 / elapsed,
        refused.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load measurement: run with --ignored --nocapture"]
async fn blocks_keep_coming_under_a_flood_of_costly_relay_transactions() {
    let spec = ChainSpec {
        genesis_time_ms: now_ms() - 60_000,
        ..ChainSpec::new("big", fixed_set(1024, 1))
    };
    let big = TestChain::new(spec, 18);
    let blocks: Vec<LightBlock> = (2..=17).map(|h| big.light_block(h)).collect();
    let at_cap = Tx::Relay(RelayTx::UpdateClient {
        chain: big.chain_id().clone(),
        blocks: vec![blocks[0].clone(), corrupted(blocks[1].clone())],
    });
    let over_cap = Tx::Relay(RelayTx::UpdateClient {
        chain: big.chain_id().clone(),
        blocks: blocks[..15]
            .iter()
            .cloned()
            .chain([corrupted(blocks[15].clone())])
            .collect(),
    });
    println!(
        "at the cap: {} signatures, {} bytes; over it: {} signatures, {} bytes",
        at_cap.cost().signatures,
        xrelay_light_client::Encode::encode(&at_cap).len(),
        over_cap.cost().signatures,
        xrelay_light_client::Encode::encode(&over_cap).len(),
    );
    // What one of each costs to verify (the client the node holds, in this thread).
    for (name, tx) in [("at the cap", &at_cap), ("over the cap", &over_cap)] {
        let Tx::Relay(RelayTx::UpdateClient { blocks, .. }) = tx else {
            unreachable!()
        };
        let mut client = ClientState::new(big.trusted_state(1), TrustOptions::default()).unwrap();
        let t = Instant::now();
        assert!(client.update(blocks, now_ms()).is_err());
        println!("verifying one update {name}: {:?}", t.elapsed());
    }

    let secs = 10;
    for (name, limits) in [
        ("default limits", Limits::default()),
        (
            "no check budget",
            Limits {
                max_check_relay_units: usize::MAX,
                ..Limits::default()
            },
        ),
    ] {
        let node = node(&big, limits).await;
        let url = format!("http://{}", node.rpc_addr);
        let (idle, ..) = measure(&url, secs, None).await;
        println!("{name}: idle: {idle:.2} blocks/s (block time {BLOCK_MS} ms)");
        for (what, tx) in [("at the cap", &at_cap), ("over the cap", &over_cap)] {
            let (rate, refused, busy, other) = measure(&url, secs, Some(tx.clone())).await;
            println!(
                "{name}: flood of updates {what} from {CLIENTS} clients: {rate:.2} blocks/s \
                 ({:.0} % of idle); answers: {refused} refused after or before checking, \
                 {busy} busy, {other} other",
                100.0 * rate / idle
            );
            if what == "at the cap" && name == "default limits" {
                assert!(rate > 0.5 * idle, "blocks starved: {rate:.2} vs {idle:.2}");
            }
        }
        node.stop().await;
    }
}
