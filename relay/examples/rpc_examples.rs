//! Produces the examples of docs/DEVCHAIN_RPC.md from a running two-chain devnet, so the
//! document shows real exchanges:
//!
//! ```sh
//! xrelay devnet up --chains 2 --out /tmp/dn &
//! cargo run --release -p xrelay --example rpc_examples -- /tmp/dn/devnet.json > examples.json
//! ```
//!
//! Prints one JSON object: example name → markdown (request and answer, long hex shortened).

use std::time::Duration;

use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Map, Value};
use xrelay::devnet::user_key;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_light_client::{ChainId, Encode, Timeout};
use xrelay_protocol::TransferPacket;

/// Shortens long hex strings and long arrays so examples stay readable.
fn shorten(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > 40 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            Value::String(format!("{}…{}", &s[..16], &s[s.len() - 8..]))
        }
        Value::Array(a) if a.len() > 3 => {
            let mut out: Vec<Value> = a[..2].iter().map(shorten).collect();
            out.push(Value::String(format!("… {} more", a.len() - 2)));
            Value::Array(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(shorten).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shorten(v))).collect()),
        other => other.clone(),
    }
}

fn exchange(method: &str, params: &Value, answer: Result<Value, Value>) -> String {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": shorten(params)});
    let response = match answer {
        Ok(result) => json!({"jsonrpc": "2.0", "id": 1, "result": shorten(&result)}),
        Err(e) => e,
    };
    format!(
        "Request:\n\n```json\n{}\n```\n\nAnswer:\n\n```json\n{}\n```\n",
        serde_json::to_string(&request).unwrap_or_default(),
        serde_json::to_string_pretty(&response).unwrap_or_default()
    )
}

fn object(params: &Value) -> ObjectParams {
    let mut p = ObjectParams::new();
    if let Value::Object(map) = params {
        for (k, v) in map {
            let _ = p.insert(k, v.clone());
        }
    }
    p
}

fn error_json(e: jsonrpsee::core::client::Error) -> Value {
    match e {
        jsonrpsee::core::client::Error::Call(o) => {
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": o.code(), "message": o.message()}})
        }
        other => Value::String(other.to_string()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: rpc_examples DEVNET_JSON"))?;
    let devnet: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let rpc1 = devnet["chains"][0]["rpc"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rpc2 = devnet["chains"][1]["rpc"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ws1 = devnet["chains"][0]["ws"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let c1 = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(&rpc1)?;
    let c2 = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(&rpc2)?;
    let (a, b): (ChainId, ChainId) = ("chain-1".parse()?, "chain-2".parse()?);
    let mut out = Map::new();

    macro_rules! call {
        ($name:expr, $client:expr, $method:expr, $params:expr) => {{
            let params: Value = $params;
            let answer: Result<Value, _> = $client.request($method, object(&params)).await;
            let value = answer.as_ref().ok().cloned();
            out.insert(
                $name.to_string(),
                Value::String(exchange($method, &params, answer.map_err(error_json))),
            );
            value
        }};
    }

    call!("status", c1, "status", json!({}));
    let user = user_key(0);
    let nonce = call!("nonce", c1, "nonce", json!({"account": user.address()}))
        .and_then(|v| v["nonce"].as_u64())
        .unwrap_or(0);
    let payload = TransferPacket {
        denom: "chain-1-coin".into(),
        amount: 250,
        sender: user.address(),
        receiver: user_key(1).address(),
    }
    .encode();
    let tx = Tx::Signed(Box::new(SignedAction::sign(
        &a,
        &user,
        nonce,
        Action::Send {
            destination: b.clone(),
            app: "transfer".into(),
            payload,
            timeout: Timeout {
                height: 0,
                time_ms: 4_102_444_800_000,
            },
        },
    )));
    let hex_tx = hex::encode(tx.encode());
    let included = call!("submit_tx", c1, "submit_tx", json!({"tx": hex_tx}));
    let h = included
        .as_ref()
        .and_then(|v| v["height"].as_u64())
        .unwrap_or(1);
    call!("submit_refused", c1, "submit_tx", json!({"tx": hex_tx}));
    call!("header", c1, "header", json!({"height": h}));
    call!("validators", c1, "validators", json!({"height": h}));
    call!("events", c1, "events", json!({"from": h, "to": h}));
    call!("block_results", c1, "block_results", json!({"height": h}));
    call!("block_txs", c1, "block_txs", json!({"height": h}));
    call!(
        "proof",
        c1,
        "proof",
        json!({"key": "commitments/chain-2/1", "height": h})
    );
    call!(
        "proof_absent",
        c1,
        "proof",
        json!({"key": "commitments/chain-2/999", "height": h})
    );
    call!(
        "balance",
        c1,
        "balance",
        json!({"account": user.address(), "denom": "chain-1-coin"})
    );
    call!(
        "supply",
        c1,
        "supply",
        json!({"denom": "chain-1-coin", "counterparty": "chain-2"})
    );
    call!(
        "message_status_source",
        c1,
        "message_status",
        json!({"source": "chain-1", "destination": "chain-2", "sequence": 1})
    );
    call!(
        "message_status_destination",
        c2,
        "message_status",
        json!({"source": "chain-1", "destination": "chain-2", "sequence": 1})
    );
    call!("client", c1, "client", json!({"chain": "chain-2"}));
    call!("errors", c1, "header", json!({"height": 999_999_999}));

    let ws = WsClientBuilder::default().build(&ws1).await?;
    let mut sub = ws
        .subscribe::<Value, _>(
            "subscribe_blocks",
            jsonrpsee::rpc_params![],
            "unsubscribe_blocks",
        )
        .await?;
    let first = sub.next().await.transpose()?.unwrap_or(Value::Null);
    out.insert(
        "subscribe".into(),
        Value::String(format!(
            "Subscribe over WebSocket (`{ws1}`):\n\n```json\n{}\n```\n\nEach notification:\n\n```json\n{}\n```\n",
            json!({"jsonrpc": "2.0", "id": 1, "method": "subscribe_blocks", "params": []}),
            serde_json::to_string_pretty(
                &json!({"jsonrpc": "2.0", "method": "block", "params": {"subscription": "…", "result": shorten(&first)}})
            )?
        )),
    );
    println!("{}", Value::Object(out));
    Ok(())
}
