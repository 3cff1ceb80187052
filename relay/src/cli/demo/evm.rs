//! `xrelay demo --with-evm`: a devnet plus a real EVM node (anvil) with the Gateway
//! deployed, linked to the first devchain. Tokens go out to the EVM chain and come back as
//! vouchers going home, echo messages cross both ways, and the summary is checked against
//! both chains (supply on the devchain, escrow = vouchers on the EVM chain).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::Bytes;
use alloy::providers::Provider;
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::Action;
use xrelay_evm::gateway::{Gateway, TransferApp};
use xrelay_light_client::{ChainId, SigningKey, Timeout};

use super::send::{broadcast_all, transfer, Planned};
use super::summary::{tally, Summary};
use super::DemoArgs;
use crate::config::RelayerConfig;
use crate::core::clock::now_ms;
use crate::devnet::evm::{signing_provider, EvmDevnet};
use crate::devnet::up::{Devnet, UpOptions};
use crate::devnet::{coin, user_key, DEV_ACCOUNTS};
use crate::store::Status;

/// Runs the EVM demo in `dir`; returns its summary.
pub(super) async fn run(
    args: &DemoArgs,
    dir: &Path,
    say: &dyn Fn(String),
) -> anyhow::Result<Summary> {
    say(format!(
        "starting 2 devchains, an anvil node and a relayer in {}",
        dir.display()
    ));
    let devnet = Devnet::up(&UpOptions {
        chains: 2,
        out: dir.join("devnet"),
        block_time_ms: args.block_time_ms,
        validators: 4,
        faults: BTreeMap::new(),
        base_port: None,
        rotate_every: None,
        relayers: 0,
        evm: 0,
    })
    .await?;
    let result = async {
        let nodes = devnet.node_clients()?;
        let evm = EvmDevnet::up(dir, &devnet.relayer_config, &nodes[0], 1).await?;
        say(format!(
            "anvil on {} (chain {}): Gateway {}, light client {}",
            evm.anvil.url(),
            evm.chain,
            evm.deployment.gateway,
            evm.deployment.light_client
        ));
        drive(args, &devnet, &nodes, &evm, say).await
    }
    .await;
    devnet.stop().await;
    result
}

async fn drive(
    args: &DemoArgs,
    devnet: &Devnet,
    nodes: &[NodeClient],
    evm: &EvmDevnet,
    say: &dyn Fn(String),
) -> anyhow::Result<Summary> {
    let cfg = RelayerConfig::load(
        &devnet.relayer_config,
        [("XRELAY_API__LISTEN".to_string(), "127.0.0.1:0".to_string())],
    )?;
    let relayer = crate::runner::start(&cfg).await?;
    say(format!(
        "relayer api on http://{0} (status page: http://{0}/)",
        relayer.api_addr
    ));
    let ids = devnet.chain_ids()?;
    let home = ids[0].clone();
    let away = evm.chain.clone();
    let per_kind = (args.messages / 4).max(1);
    let far = Timeout {
        height: 0,
        time_ms: now_ms() + 3_600_000,
    };
    let evm_user = alloy::primitives::Address::from(evm.user.address().0);
    // Each transfer out is followed by a smaller one back, so some value stays away.
    let out = |i: u64| 2 + i % 10;
    let back = |i: u64| 1 + i % 5;

    // Out: the home coin to the EVM user, and echo messages.
    let mut plan = Vec::new();
    for i in 0..per_kind {
        let from = user_key((i % DEV_ACCOUNTS as u64) as u32);
        plan.push(Planned {
            chain: 0,
            action: transfer(&home, &away, &from, &evm.user, out(i), far),
            key: from,
        });
        plan.push(Planned {
            chain: 0,
            action: Action::Send {
                destination: away.clone(),
                app: "echo".into(),
                payload: format!("to evm {i}").into_bytes(),
                timeout: far,
            },
            key: SigningKey::from_seed("xrelay-demo-evm-echo", (i % 8) as u32),
        });
    }
    let started = Instant::now();
    broadcast_all(nodes, &ids, plan).await?;
    say(format!(
        "sent {} transfers and {} echo messages {home} → {away}",
        per_kind, per_kind
    ));
    wait_settled(&relayer, &home, &away, 2 * per_kind, 0, say).await?;

    // Back: the EVM user sends the vouchers home, and echo messages.
    let provider = signing_provider(&evm.anvil.url(), &evm.user)?;
    let app = TransferApp::new(evm.deployment.transfer, provider.clone());
    let gateway = Gateway::new(evm.deployment.gateway, provider.clone());
    let voucher = format!("v/{home}/{}", coin(&home));
    let mut pending = Vec::new();
    for i in 0..per_kind {
        let to = alloy::primitives::Address::from(
            user_key((i % DEV_ACCOUNTS as u64) as u32).address().0,
        );
        pending.push(
            app.send(
                Bytes::copy_from_slice(home.as_str().as_bytes()),
                Bytes::copy_from_slice(voucher.as_bytes()),
                back(i) as u128,
                to,
                0,
                far.time_ms,
            )
            .send()
            .await?,
        );
        pending.push(
            gateway
                .sendMessage(
                    Bytes::copy_from_slice(home.as_str().as_bytes()),
                    Bytes::copy_from_slice(b"echo"),
                    0,
                    far.time_ms,
                    Bytes::from(format!("to devchain {i}").into_bytes()),
                )
                .send()
                .await?,
        );
    }
    for p in pending {
        let receipt = p.get_receipt().await?;
        anyhow::ensure!(receipt.status(), "a send from {away} reverted");
    }
    say(format!(
        "sent {} vouchers home and {} echo messages {away} → {home}",
        per_kind, per_kind
    ));
    wait_settled(&relayer, &away, &home, 2 * per_kind, 0, say).await?;

    // Both chains agree: the home coin's supply is unchanged, its escrow for the EVM chain
    // equals the vouchers there, and the user holds what stayed away.
    let stays: u128 = (0..per_kind).map(|i| (out(i) - back(i)) as u128).sum();
    let supply: serde_json::Value = nodes[0]
        .call("supply", serde_json::json!({"denom": coin(&home)}))
        .await?;
    let escrow: serde_json::Value = nodes[0]
        .call(
            "supply",
            serde_json::json!({"denom": coin(&home), "counterparty": away.as_str()}),
        )
        .await?;
    let amount = |v: &serde_json::Value, k: &str| {
        v[k].as_str()
            .and_then(|s| s.parse::<u128>().ok())
            .unwrap_or(0)
    };
    let vouchers = app
        .supplyOf(Bytes::copy_from_slice(voucher.as_bytes()))
        .call()
        .await?;
    let held = app
        .balanceOf(Bytes::copy_from_slice(voucher.as_bytes()), evm_user)
        .call()
        .await?;
    let supply_conserved = amount(&supply, "supply")
        == crate::devnet::DEV_BALANCE * DEV_ACCOUNTS as u128
        && amount(&escrow, "escrow") == vouchers
        && vouchers == held
        && held == stays;
    say(format!(
        "{home}: supply {} ({} escrowed for {away}); {away}: {vouchers} vouchers",
        amount(&supply, "supply"),
        amount(&escrow, "escrow"),
    ));

    let mut sent = Vec::new();
    for s in 1..=2 * per_kind {
        sent.push((home.clone(), away.clone(), s));
        sent.push((away.clone(), home.clone(), s));
    }
    let duplicated = crate::devnet::checks::duplicate_deliveries(nodes).await?
        + evm_duplicates(&provider, evm.deployment.gateway).await?;
    let summary = tally(
        relayer.relay.ledger.store(),
        &sent,
        duplicated,
        supply_conserved,
    );
    relayer.stop().await;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "EVM demo done"
    );
    summary
}

/// Waits until lane `src → dst` has `acked` messages acknowledged and `closed` timed out
/// and refunded, in `relayer`'s records (or a budget runs out).
pub(super) async fn wait_settled(
    relayer: &crate::runner::RunningRelayer,
    src: &ChainId,
    dst: &ChainId,
    acked: u64,
    closed: u64,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120 + (acked + closed) / 5);
    loop {
        let counts = relayer.relay.ledger.counts().await;
        let count = |s: Status| {
            counts
                .get(&(src.clone(), dst.clone(), s))
                .copied()
                .unwrap_or(0)
        };
        let (a, c) = (count(Status::Acknowledged), count(Status::Closed));
        if a >= acked && c >= closed {
            let refunded = if c > 0 {
                format!(", {c} timed out and refunded")
            } else {
                String::new()
            };
            say(format!("{src} → {dst}: {a} acknowledged{refunded}"));
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{src} → {dst}: {a} of {acked} acknowledged and {c} of {closed} timed out in time"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Messages the Gateway at `gateway` received more than once (from its `Received` /
/// `Expired` logs).
pub(super) async fn evm_duplicates(
    provider: &impl Provider,
    gateway: alloy::primitives::Address,
) -> anyhow::Result<u64> {
    use alloy::sol_types::SolEvent;
    use xrelay_light_client::{Decode, Message};
    let filter = alloy::rpc::types::Filter::new()
        .address(gateway)
        .event_signature(vec![
            Gateway::Received::SIGNATURE_HASH,
            Gateway::Expired::SIGNATURE_HASH,
        ])
        .from_block(0);
    let mut seen: HashMap<(ChainId, u64), u64> = HashMap::new();
    for log in provider.get_logs(&filter).await? {
        let bytes = match log.topic0() {
            Some(t) if *t == Gateway::Received::SIGNATURE_HASH => {
                Gateway::Received::decode_log_data(&log.inner.data)?.message
            }
            _ => Gateway::Expired::decode_log_data(&log.inner.data)?.message,
        };
        let m = Message::decode(&bytes).map_err(|e| anyhow::anyhow!("Gateway log: {e}"))?;
        *seen.entry((m.source, m.sequence)).or_default() += 1;
    }
    Ok(seen.values().map(|n| n.saturating_sub(1)).sum())
}
