//! `xrelay devnet load`: floods one devchain node with signed `Send` transactions over RPC
//! and measures how many per second its blocks include: the capacity figure of the node
//! (mempool checks, execution, state-tree commit, signing, RocksDB) on this machine.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::Serialize;
use serde_json::Value;
use xrelay_devchain::node::client::{ClientError, NodeClient};
use xrelay_devchain::node::rpc::codes;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{ChainId, SigningKey, Timeout};

/// Seed of the (unfunded) accounts that send the load: echo sends need no balance.
pub const LOAD_SEED: &str = "xrelay-devnet-load";

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The node's RPC URL.
    pub rpc: String,
    /// Where the messages go (the node must have a client of it).
    pub destination: ChainId,
    /// How many sends.
    pub txs: u64,
    /// How many accounts send in parallel (each in nonce order).
    pub accounts: u32,
    /// Payload size of each echo message.
    pub payload_bytes: usize,
}

/// What the node did with the load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Sends included successfully.
    pub included: u64,
    /// Sends that failed in their block (should be 0).
    pub failed: u64,
    /// Times the mempool said "full" and the sender retried.
    pub mempool_full_retries: u64,
    /// Blocks that carried the load.
    pub blocks: u64,
    /// Block time span from the block before the first send to the last block with one.
    pub span_ms: u64,
    /// `included / span`.
    pub sends_per_s: f64,
    /// Wall time from the first submission to the last inclusion.
    pub wall_ms: u64,
}

/// Runs the load and measures it from the committed blocks.
pub async fn run(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    if opts.accounts == 0 || opts.txs == 0 {
        bail!("--accounts and --txs must be at least 1");
    }
    let node = NodeClient::new(&opts.rpc, Duration::from_secs(30))?;
    let status = node.status().await.context("status")?;
    if node.client_state(&opts.destination).await?.is_none() {
        bail!(
            "{} has no client of {}: start a devnet with `xrelay devnet up`",
            status.chain_id,
            opts.destination
        );
    }
    // Sign everything first, so signing is not part of what is measured.
    let mut queues = Vec::new();
    for a in 0..opts.accounts {
        let key = SigningKey::from_seed(LOAD_SEED, a);
        let first = node.nonce(&key.address()).await?;
        let count = opts.txs / opts.accounts as u64
            + u64::from((a as u64) < opts.txs % opts.accounts as u64);
        let txs: Vec<Tx> = (0..count)
            .map(|n| {
                let action = Action::Send {
                    destination: opts.destination.clone(),
                    app: "echo".into(),
                    payload: vec![(n % 251) as u8; opts.payload_bytes],
                    timeout: Timeout {
                        height: u64::MAX / 2,
                        time_ms: 0,
                    },
                };
                Tx::Signed(Box::new(SignedAction::sign(
                    &status.chain_id,
                    &key,
                    first + n,
                    action,
                )))
            })
            .collect();
        queues.push((key, first + count, txs));
    }
    let start_height = node.status().await?.latest_height;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (_, _, txs) in &queues {
        let (node, txs) = (node.clone(), txs.clone());
        tasks.spawn(async move {
            let mut full = 0u64;
            for tx in &txs {
                loop {
                    match node.broadcast(tx).await {
                        Ok(_) => break,
                        Err(ClientError::Rpc { code, .. }) if code == codes::MEMPOOL_FULL => {
                            full += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => {
                            return Err(anyhow::Error::new(e).context(format!("send {}", tx.hash())))
                        }
                    }
                }
            }
            Ok(full)
        });
    }
    let mut mempool_full_retries = 0;
    while let Some(done) = tasks.join_next().await {
        mempool_full_retries += done.context("sender task")??;
    }
    // Wait until every account's last nonce is committed.
    let deadline = Instant::now() + Duration::from_secs(600);
    for (key, target, _) in &queues {
        while node.nonce(&key.address()).await? < *target {
            if Instant::now() > deadline {
                bail!("the node did not include the load within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let wall_ms = started.elapsed().as_millis() as u64;
    let end_height = node.status().await?.latest_height;

    let (mut included, mut failed, mut blocks) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (None, None);
    for h in start_height + 1..=end_height {
        let results: Value = node
            .call("block_results", serde_json::json!({ "height": h }))
            .await?;
        let sends: Vec<&Value> = results["txs"]
            .as_array()
            .map(|t| t.iter().filter(|t| t["kind"] == "send").collect())
            .unwrap_or_default();
        if sends.is_empty() {
            continue;
        }
        blocks += 1;
        first.get_or_insert(h);
        last = Some(h);
        for t in sends {
            if t["outcome"].get("Ok").is_some() {
                included += 1;
            } else {
                failed += 1;
            }
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        bail!("no block included the load");
    };
    let t0 = node.light_block(first - 1).await?.header().time_ms;
    let t1 = node.light_block(last).await?.header().time_ms;
    let span_ms = t1.saturating_sub(t0).max(1);
    Ok(LoadReport {
        included,
        failed,
        mempool_full_retries,
        blocks,
        span_ms,
        sends_per_s: included as f64 * 1000.0 / span_ms as f64,
        wall_ms,
    })
}
