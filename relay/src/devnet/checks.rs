//! Checks read from the chains themselves, shared by `xrelay demo` and the end-to-end
//! tests: deliveries or settlements that happened twice, and token supply across chains.

use std::collections::HashMap;

use xrelay_devchain::apps::transfer::voucher;
use xrelay_devchain::node::client::{ClientError, NodeClient};
use xrelay_devchain::Event;
use xrelay_light_client::ChainId;

use super::{coin, DEV_ACCOUNTS, DEV_BALANCE};

/// Deliveries (received or skipped) and settlements (acknowledged or timed out) that
/// happened more than once, counted from every chain's events since genesis.
pub async fn duplicate_deliveries(nodes: &[NodeClient]) -> Result<u64, ClientError> {
    let mut seen: HashMap<(&'static str, ChainId, ChainId, u64), u64> = HashMap::new();
    for node in nodes {
        let head = node.status().await?.latest_height;
        let mut h = 0;
        while h < head {
            let to = head.min(h + 1_000);
            for e in node.events(h + 1, to).await? {
                let (kind, m) = match e.event {
                    Event::MessageReceived { message, .. } | Event::MessageExpired { message } => {
                        ("arrived", message)
                    }
                    Event::MessageAcknowledged { message, .. }
                    | Event::MessageTimedOut { message } => ("settled", message),
                    _ => continue,
                };
                *seen
                    .entry((kind, m.source, m.destination, m.sequence))
                    .or_default() += 1;
            }
            h = to;
        }
    }
    Ok(seen.values().map(|n| n.saturating_sub(1)).sum())
}

/// For every devnet chain's coin: its supply on its own chain is what genesis minted, and
/// what it holds in escrow for each other chain equals the vouchers that chain minted.
pub async fn supply_conserved(nodes: &[NodeClient], ids: &[ChainId]) -> Result<bool, ClientError> {
    let amount =
        |v: &serde_json::Value, k: &str| v[k].as_str().and_then(|s| s.parse::<u128>().ok());
    for (i, native) in ids.iter().enumerate() {
        let denom = coin(native);
        let own: serde_json::Value = nodes[i]
            .call("supply", serde_json::json!({"denom": denom}))
            .await?;
        if amount(&own, "supply") != Some(DEV_BALANCE * DEV_ACCOUNTS as u128) {
            return Ok(false);
        }
        for (j, other) in ids.iter().enumerate().filter(|(j, _)| *j != i) {
            let escrow: serde_json::Value = nodes[i]
                .call(
                    "supply",
                    serde_json::json!({"denom": denom, "counterparty": other}),
                )
                .await?;
            let vouchers: serde_json::Value = nodes[j]
                .call(
                    "supply",
                    serde_json::json!({"denom": voucher(native, &denom)}),
                )
                .await?;
            if amount(&escrow, "escrow") != amount(&vouchers, "supply") {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
