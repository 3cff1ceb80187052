//! Real `xrelay devnet node` processes on loopback for the end-to-end tests, with the
//! relayer's steps done by hand over RPC.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use xrelay::devnet::{governance_key, user_key};
use xrelay_devchain::node::client::{Included, NodeClient};
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::Event;
use xrelay_light_client::{
    paths, ChainId, Encode, Message, SigningKey, Timeout, TrustOptions, TrustedState,
};
use xrelay_protocol::{InboundMessage, RelayTx, SourceProof, TransferPacket};

/// A node process, killed when dropped.
pub struct Node {
    pub child: Child,
    pub rpc: NodeClient,
    pub chain: ChainId,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Block interval of test nodes.
pub const BLOCK_MS: &str = "150";
/// Longest wait for any condition.
pub const WAIT: Duration = Duration::from_secs(30);

/// Starts `xrelay devnet node` for `chain` with `extra` flags and waits for its address.
pub fn spawn(chain: &str, extra: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xrelay"))
        .args([
            "devnet",
            "node",
            "--chain-id",
            chain,
            "--rpc",
            "127.0.0.1:0",
            "--block-time-ms",
            BLOCK_MS,
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("xrelay binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("node prints its address");
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad first line {line:?}: {e}"));
    let addr = v["rpc"].as_str().expect("rpc address");
    let rpc = NodeClient::new(&format!("http://{addr}"), Duration::from_secs(20)).expect("client");
    Node {
        child,
        rpc,
        chain: ChainId::new(chain).unwrap(),
    }
}

impl Node {
    pub async fn height(&self) -> u64 {
        self.rpc.status().await.expect("status").latest_height
    }

    pub async fn wait_height(&self, h: u64) -> u64 {
        self.rpc.wait_height(h, WAIT).await.expect("chain advances")
    }

    /// Submits `tx` and waits for its block.
    pub async fn submit(&self, tx: &Tx) -> Included {
        self.rpc
            .submit(tx, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{} on {}: {e}", tx.kind(), self.chain))
    }

    /// Submits `tx`, which must succeed in its block; returns its events.
    pub async fn submit_ok(&self, tx: &Tx) -> Vec<Event> {
        let included = self.submit(tx).await;
        included
            .outcome
            .unwrap_or_else(|e| panic!("{} on {} failed: {e}", tx.kind(), self.chain))
            .events
    }

    /// Governance here creates a client of `of`, trusting its current canonical tip.
    pub async fn create_client_of(&self, of: &Node) {
        let h = of.wait_height(1).await;
        let block = of.rpc.canonical_light_block(h).await.unwrap();
        let trusted = TrustedState::from_light_block(&block).unwrap();
        let nonce = self.rpc.nonce(&governance_key().address()).await.unwrap();
        let tx = Tx::Signed(Box::new(SignedAction::sign(
            &self.chain,
            &governance_key(),
            nonce,
            Action::CreateClient {
                trusted,
                options: TrustOptions::default(),
            },
        )));
        self.submit_ok(&tx).await;
    }

    /// Updates this chain's client of `src` to `src`'s latest height; returns that height.
    pub async fn update_client_of(&self, src: &Node) -> u64 {
        let h = src.height().await;
        let block = src.rpc.light_block(h).await.unwrap();
        self.submit_ok(&Tx::Relay(RelayTx::UpdateClient {
            chain: src.chain.clone(),
            blocks: vec![block],
        }))
        .await;
        h
    }

    pub async fn balance(&self, denom: &str, who: &SigningKey) -> u128 {
        let v: serde_json::Value = self
            .rpc
            .call(
                "balance",
                serde_json::json!({"account": who.address(), "denom": denom}),
            )
            .await
            .unwrap();
        v["amount"].as_str().unwrap().parse().unwrap()
    }
}

/// The relayer's job for `src`→`dst`: update `dst`'s client of `src`, deliver `messages`
/// with proofs at that height.
pub async fn deliver(src: &Node, dst: &Node, messages: &[(Message, SourceProof)]) -> Vec<Event> {
    let h = dst.update_client_of(src).await;
    let mut items = Vec::new();
    for (m, shows) in messages {
        let key = match shows {
            SourceProof::Committed => paths::commitment(&dst.chain, m.sequence),
            SourceProof::TimedOut => format!("outcomes/{}/{}", dst.chain, m.sequence).into_bytes(),
        };
        let proof = src.rpc.proof(&key, h).await.unwrap().proof;
        items.push(InboundMessage {
            message: m.clone(),
            shows: *shows,
            proof,
        });
    }
    dst.submit_ok(&Tx::Relay(RelayTx::Recv {
        source: src.chain.clone(),
        proof_height: h,
        messages: items,
    }))
    .await
}

/// A signed transfer of `amount` of `denom` from `key` on `node` to `receiver` on `to`.
#[allow(clippy::too_many_arguments)]
pub fn transfer_tx(
    node: &Node,
    key: &SigningKey,
    nonce: u64,
    to: &ChainId,
    denom: &str,
    amount: u128,
    receiver: &SigningKey,
    timeout: Timeout,
) -> Tx {
    let payload = TransferPacket {
        denom: denom.into(),
        amount,
        sender: key.address(),
        receiver: receiver.address(),
    }
    .encode();
    Tx::Signed(Box::new(SignedAction::sign(
        &node.chain,
        key,
        nonce,
        Action::Send {
            destination: to.clone(),
            app: "transfer".into(),
            payload,
            timeout,
        },
    )))
}

/// A signed echo message from `key` on `node` to `to`.
pub fn echo_tx(node: &Node, key: &SigningKey, nonce: u64, to: &ChainId, payload: &[u8]) -> Tx {
    Tx::Signed(Box::new(SignedAction::sign(
        &node.chain,
        key,
        nonce,
        Action::Send {
            destination: to.clone(),
            app: "echo".into(),
            payload: payload.to_vec(),
            timeout: Timeout {
                height: 1_000_000,
                time_ms: 0,
            },
        },
    )))
}

/// The one message a send transaction committed.
pub fn sent(evs: &[Event]) -> Message {
    match evs {
        [Event::MessageSent { message }] => message.clone(),
        other => panic!("expected MessageSent, got {other:?}"),
    }
}

pub fn user(i: u32) -> SigningKey {
    user_key(i)
}
