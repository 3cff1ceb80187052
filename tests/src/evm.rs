//! EVM helpers of the end-to-end tests: sending an echo message from a Gateway, and reading
//! what a Gateway received and settled from its own logs (the chain's word, not the
//! relayer's).

use std::future::Future;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use xrelay_evm::gateway::Gateway;
use xrelay_light_client::{ChainId, Decode, Message};

/// Sends an echo message (never timing out) from `gateway` to `destination` and waits for
/// its receipt.
pub async fn send_echo<P: Provider>(
    gateway: &Gateway::GatewayInstance<P>,
    destination: &ChainId,
    payload: String,
) {
    let receipt = gateway
        .sendMessage(
            Bytes::copy_from_slice(destination.as_str().as_bytes()),
            Bytes::copy_from_slice(b"echo"),
            0,
            u64::MAX / 2,
            Bytes::from(payload.into_bytes()),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "send to {destination} reverted");
}

/// The messages of the Gateway at `gateway`'s logs of event `E` (whose first field is the
/// encoded message), in log order.
async fn logged<E: SolEvent>(
    provider: &impl Provider,
    gateway: Address,
    message: impl Fn(E) -> Bytes,
) -> Vec<Message> {
    let filter = alloy::rpc::types::Filter::new()
        .address(gateway)
        .event_signature(E::SIGNATURE_HASH)
        .from_block(0);
    provider
        .get_logs(&filter)
        .await
        .unwrap()
        .iter()
        .map(|l| {
            let e = E::decode_log_data(&l.inner.data).unwrap();
            Message::decode(&message(e)).unwrap()
        })
        .collect()
}

/// Sequences of the messages the Gateway sent and saw acknowledged, sorted.
pub async fn acknowledged(provider: &impl Provider, gateway: Address) -> Vec<u64> {
    let mut out: Vec<u64> = logged(provider, gateway, |e: Gateway::Acknowledged| e.message)
        .await
        .iter()
        .map(|m| m.sequence)
        .collect();
    out.sort_unstable();
    out
}

/// Sequences of the messages from `source` the Gateway received, in delivery order.
pub async fn received_from(
    provider: &impl Provider,
    gateway: Address,
    source: &ChainId,
) -> Vec<u64> {
    logged(provider, gateway, |e: Gateway::Received| e.message)
        .await
        .iter()
        .filter(|m| m.source == *source)
        .map(|m| m.sequence)
        .collect()
}

/// Polls `done` every 250 ms until it holds; fails the test after `wait`.
pub async fn wait_for<F, Fut>(what: &str, wait: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + wait;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
