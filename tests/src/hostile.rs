//! A hostile node: a JSON-RPC proxy on loopback in front of one node's HTTP endpoint (a
//! devchain node, or an EVM node: plain JSON-RPC 2.0 over HTTP POST, single calls and
//! batches) that forwards every call to the real node and lets a test rewrite the answers
//! with rules. What it serves is what a compromised or buggy endpoint could serve: events
//! that never happened, a head far in the future, a client frozen by evidence that does not
//! hold, blocks carrying headers the chain never committed.
//!
//! A rule applies to the answers of one method, once, `N` times or until cleared; a rule
//! may decline an answer (an event injection declines every `events` range that does not
//! cover its heights), which does not count. Error answers pass through untouched.
//!
//! It speaks HTTP only: a WebSocket upgrade (and anything but `POST`) is answered with
//! `400`, so a relayer pointed at it gives up its block stream at once and polls `status`.
//!
//! Like [`crate::proxy::Proxy`] it runs on its own thread and runtime (a test blocking its
//! own runtime must not stall the traffic it lies about) and stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::Tx;
use xrelay_devchain::Event;
use xrelay_light_client::{
    sha256, Acknowledgement, ChainId, Encode, Frozen, Hash32, Height, LightBlock, Message,
    Misbehaviour, Timeout,
};

/// How many times a rule rewrites an answer before it retires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// The next answer it applies to.
    Once,
    /// The next `n` answers it applies to.
    N(u64),
    /// Every answer it applies to, until [`HostileNode::remove`] or [`HostileNode::clear`].
    UntilCleared,
}

impl Times {
    fn left(self) -> Option<u64> {
        match self {
            Times::Once => Some(1),
            Times::N(n) => Some(n),
            Times::UntilCleared => None,
        }
    }
}

/// `f(request, answer)`: the answer to serve instead, or `None` to leave it (not counted).
type RewriteFn = dyn Fn(&Value, &Value) -> Option<Value> + Send + Sync;

/// A rewrite of the answers to one JSON-RPC method.
pub struct Rule {
    method: String,
    times: Times,
    rewrite: Box<RewriteFn>,
}

impl Rule {
    /// Rewrites every answer (`result`) to `method`: `f(request, answer)` is served instead.
    pub fn rewrite(
        method: &str,
        times: Times,
        f: impl Fn(&Value, Value) -> Value + Send + Sync + 'static,
    ) -> Rule {
        Rule::rewrite_when(method, times, move |req, answer| {
            Some(f(req, answer.clone()))
        })
    }

    /// Rewrites the answers to `method` for which `f(request, answer)` gives a replacement;
    /// the others pass unchanged and are not counted.
    pub fn rewrite_when(
        method: &str,
        times: Times,
        f: impl Fn(&Value, &Value) -> Option<Value> + Send + Sync + 'static,
    ) -> Rule {
        Rule {
            method: method.to_string(),
            times,
            rewrite: Box::new(f),
        }
    }
}

/// An installed rule, to count or remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

struct Installed {
    id: u64,
    method: String,
    /// Answers it may still rewrite; `None`: until cleared.
    left: Option<u64>,
    rewrite: Box<RewriteFn>,
}

#[derive(Default)]
struct Rules {
    next: u64,
    live: Vec<Installed>,
    /// Answers each rule rewrote, kept after it retired.
    applied: HashMap<u64, u64>,
}

/// What the hostile node counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HostileStats {
    /// JSON-RPC calls forwarded to the real node (each call of a batch counts).
    pub forwarded: u64,
    /// Answers (calls) rewritten by at least one rule.
    pub rewritten: u64,
    /// WebSocket upgrades and other non-`POST` requests refused with 400.
    pub refused: u64,
    /// Requests the real node did not answer (502 served).
    pub upstream_errors: u64,
}

/// One call as the hostile node saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    /// Its method.
    pub method: String,
    /// Its parameters.
    pub params: Value,
}

/// Calls remembered for [`HostileNode::seen`]; older ones are forgotten.
const SEEN_KEPT: usize = 20_000;

struct Shared {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Rules>,
    stats: Mutex<HostileStats>,
    seen: Mutex<VecDeque<Seen>>,
}

/// A running hostile node; it stops when dropped.
pub struct HostileNode {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The state stays usable if a handler panicked while holding a lock.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostileNode {
    /// Listens on `127.0.0.1:0` and forwards every call to `upstream`
    /// (`http://host:port` of the real node).
    pub fn start(upstream: &str) -> std::io::Result<HostileNode> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let client = reqwest::Client::builder()
            .no_proxy()
            // `submit_tx` may wait 30 s for its block.
            .timeout(Duration::from_secs(65))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            rules: Mutex::new(Rules::default()),
            stats: Mutex::new(HostileStats::default()),
            seen: Mutex::new(VecDeque::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let app = axum::Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("hostile-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                });
                // Dropping the runtime drops every connection still open.
            })?;
        Ok(HostileNode {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` of the hostile node.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Installs `rule` after the ones already there (rules apply in that order).
    pub fn install(&self, rule: Rule) -> RuleId {
        let mut rules = lock(&self.shared.rules);
        rules.next += 1;
        let id = rules.next;
        rules.applied.insert(id, 0);
        rules.live.push(Installed {
            id,
            method: rule.method,
            left: rule.times.left(),
            rewrite: rule.rewrite,
        });
        RuleId(id)
    }

    /// Rewrites the next answer to `method` with `f(request, answer)`.
    pub fn rewrite_once(
        &self,
        method: &str,
        f: impl Fn(&Value, Value) -> Value + Send + Sync + 'static,
    ) -> RuleId {
        self.install(Rule::rewrite(method, Times::Once, f))
    }

    /// Rewrites the next `n` answers to `method`.
    pub fn rewrite_times(
        &self,
        method: &str,
        n: u64,
        f: impl Fn(&Value, Value) -> Value + Send + Sync + 'static,
    ) -> RuleId {
        self.install(Rule::rewrite(method, Times::N(n), f))
    }

    /// Rewrites every answer to `method` until cleared.
    pub fn rewrite_always(
        &self,
        method: &str,
        f: impl Fn(&Value, Value) -> Value + Send + Sync + 'static,
    ) -> RuleId {
        self.install(Rule::rewrite(method, Times::UntilCleared, f))
    }

    /// Appends `extra` (events in the devchain's `events` format, see [`event_at`]) to the
    /// next answer to `events` whose range covers the height of any of them (those it
    /// covers), in height order.
    pub fn inject_events_once(&self, extra: Vec<Value>) -> RuleId {
        self.inject_events(extra, Times::Once)
    }

    /// [`Self::inject_events_once`], `times` times.
    pub fn inject_events(&self, extra: Vec<Value>, times: Times) -> RuleId {
        self.install(Rule::rewrite_when("events", times, move |req, answer| {
            let (from, to) = range_params(req)?;
            let covered: Vec<Value> = extra
                .iter()
                .filter(|e| e["height"].as_u64().is_some_and(|h| from <= h && h <= to))
                .cloned()
                .collect();
            if covered.is_empty() {
                return None;
            }
            let mut all = answer.as_array()?.clone();
            all.extend(covered);
            // Stable: the real events of a height stay ahead of the injected ones.
            all.sort_by_key(|e| e["height"].as_u64().unwrap_or(0));
            Some(Value::Array(all))
        }))
    }

    /// Reports `height` as the chain's head until cleared: `status.latest_height` (devchain)
    /// and `eth_blockNumber` (EVM).
    pub fn fake_head(&self, height: Height) -> Vec<RuleId> {
        vec![
            self.rewrite_always("status", move |_, mut answer| {
                answer["latest_height"] = json!(height);
                answer
            }),
            self.rewrite_always("eth_blockNumber", move |_, _| json!(format!("{height:#x}"))),
        ]
    }

    /// `block_txs` at `height` also lists `tx` (until cleared): a block that carries a
    /// transaction it never included.
    pub fn add_to_block(&self, height: Height, tx: &Tx) -> RuleId {
        let item = block_tx(tx);
        self.install(Rule::rewrite_when(
            "block_txs",
            Times::UntilCleared,
            move |req, answer| {
                if req["params"]["height"].as_u64() != Some(height) {
                    return None;
                }
                let mut answer = answer.clone();
                answer["txs"].as_array_mut()?.push(item.clone());
                Some(answer)
            },
        ))
    }

    /// Retires a rule.
    pub fn remove(&self, id: RuleId) {
        lock(&self.shared.rules).live.retain(|r| r.id != id.0);
    }

    /// Retires every rule: honest from now on.
    pub fn clear(&self) {
        lock(&self.shared.rules).live.clear();
    }

    /// How many answers `id` rewrote.
    pub fn applied(&self, id: RuleId) -> u64 {
        lock(&self.shared.rules)
            .applied
            .get(&id.0)
            .copied()
            .unwrap_or(0)
    }

    /// Whether `id` may still rewrite answers.
    pub fn is_live(&self, id: RuleId) -> bool {
        lock(&self.shared.rules).live.iter().any(|r| r.id == id.0)
    }

    /// Answers rewritten so far, by every rule.
    pub fn rewritten(&self) -> u64 {
        lock(&self.shared.stats).rewritten
    }

    /// What happened so far.
    pub fn stats(&self) -> HostileStats {
        *lock(&self.shared.stats)
    }

    /// The calls of `method` seen so far (the latest 20,000 calls of any method are kept).
    pub fn seen(&self, method: &str) -> Vec<Seen> {
        lock(&self.shared.seen)
            .iter()
            .filter(|s| s.method == method)
            .cloned()
            .collect()
    }

    /// Waits (bounded by `within`) until a call of `method` whose parameters satisfy `pred`
    /// arrives (or arrived); whether one did. E.g. the relayer's scanner reached a height:
    /// `wait_seen("events", d, |p| p["to"].as_u64() >= Some(h))`.
    pub async fn wait_seen(
        &self,
        method: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if lock(&self.shared.seen)
                .iter()
                .any(|s| s.method == method && pred(&s.params))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded by `within`) until `id` has rewritten `n` answers; whether it did.
    pub async fn wait_applied(&self, id: RuleId, n: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.applied(id) >= n {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for HostileNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `from` and `to` of an `events` call (named, or positional `[from, to]`).
fn range_params(req: &Value) -> Option<(Height, Height)> {
    let p = &req["params"];
    match p {
        Value::Array(a) => Some((a.first()?.as_u64()?, a.get(1)?.as_u64()?)),
        _ => Some((p["from"].as_u64()?, p["to"].as_u64()?)),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST || headers.contains_key(header::UPGRADE) {
        lock(&shared.stats).refused += 1;
        return (
            StatusCode::BAD_REQUEST,
            "JSON-RPC over HTTP POST only: no WebSocket here\n",
        )
            .into_response();
    }
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(r) = &request {
        remember(&shared, r);
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = shared
        .client
        .post(format!("{}{path}", shared.upstream))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let answered = match sent {
        Ok(r) => {
            let status = r.status();
            r.bytes().await.map(|b| (status, b))
        }
        Err(e) => Err(e),
    };
    let (status, bytes) = match answered {
        Ok(a) => a,
        Err(_) => {
            lock(&shared.stats).upstream_errors += 1;
            return StatusCode::BAD_GATEWAY.into_response();
        }
    };
    let out = match &request {
        Some(req) if status == StatusCode::OK => {
            rewrite_body(&shared, req, &bytes).map_or(bytes, Bytes::from)
        }
        _ => bytes,
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(out))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn remember(shared: &Shared, request: &Value) {
    let calls: Vec<&Value> = match request {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    lock(&shared.stats).forwarded += calls.len() as u64;
    let mut seen = lock(&shared.seen);
    for c in calls {
        if seen.len() == SEEN_KEPT {
            seen.pop_front();
        }
        seen.push_back(Seen {
            at: Instant::now(),
            method: c["method"].as_str().unwrap_or_default().to_string(),
            params: c["params"].clone(),
        });
    }
}

/// The answer with the rules applied, or `None` if no rule changed it.
fn rewrite_body(shared: &Shared, request: &Value, body: &[u8]) -> Option<Vec<u8>> {
    let mut answer: Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    match (request, &mut answer) {
        (Value::Array(calls), Value::Array(answers)) => {
            for a in answers.iter_mut() {
                let call = calls.iter().find(|c| c.get("id") == a.get("id"));
                if let Some(call) = call {
                    changed |= apply_rules(shared, call, a);
                }
            }
        }
        (Value::Object(_), Value::Object(_)) => changed = apply_rules(shared, request, &mut answer),
        _ => {}
    }
    if !changed {
        return None;
    }
    serde_json::to_vec(&answer).ok()
}

/// Applies the live rules of the call's method to one response; whether any did.
fn apply_rules(shared: &Shared, call: &Value, response: &mut Value) -> bool {
    let Some(method) = call["method"].as_str() else {
        return false;
    };
    let Some(result) = response.get_mut("result") else {
        return false;
    };
    let mut rules = lock(&shared.rules);
    let Rules { live, applied, .. } = &mut *rules;
    let mut changed = false;
    for rule in live.iter_mut().filter(|r| r.method == method) {
        if rule.left == Some(0) {
            continue;
        }
        if let Some(new) = (rule.rewrite)(call, result) {
            *result = new;
            changed = true;
            *applied.entry(rule.id).or_default() += 1;
            if let Some(left) = &mut rule.left {
                *left -= 1;
            }
        }
    }
    live.retain(|r| r.left != Some(0));
    drop(rules);
    if changed {
        lock(&shared.stats).rewritten += 1;
    }
    changed
}

// ---- Realistic lies: exactly the node's JSON, built from the node's own types. ----

/// An echo message of lane `source → destination` at `sequence` that nobody sent.
pub fn fake_message(
    source: &ChainId,
    destination: &ChainId,
    sequence: u64,
    payload: &[u8],
) -> Message {
    Message {
        source: source.clone(),
        destination: destination.clone(),
        sequence,
        sender: vec![0xee; 20],
        receiver: "echo".into(),
        payload: payload.to_vec(),
        timeout: Timeout {
            height: 0,
            time_ms: u64::MAX / 2,
        },
    }
}

/// One item of an `events` answer: `{"height", "tx_hash", "event"}` (the hash made up).
pub fn event_at(height: Height, event: &Event) -> Value {
    let event = serde_json::to_value(event).unwrap_or(Value::Null);
    let tx_hash = sha256(format!("hostile {height} {event}").as_bytes());
    json!({"height": height, "tx_hash": tx_hash, "event": event})
}

/// A `message_sent` event at `height`.
pub fn fake_sent(height: Height, message: &Message) -> Value {
    event_at(
        height,
        &Event::MessageSent {
            message: message.clone(),
        },
    )
}

/// A `message_acknowledged` event at `height`.
pub fn fake_acknowledged(height: Height, message: &Message, ack: &Acknowledgement) -> Value {
    event_at(
        height,
        &Event::MessageAcknowledged {
            message: message.clone(),
            ack: ack.clone(),
        },
    )
}

/// A `message_timed_out` event at `height`.
pub fn fake_timed_out(height: Height, message: &Message) -> Value {
    event_at(
        height,
        &Event::MessageTimedOut {
            message: message.clone(),
        },
    )
}

/// A `message_received` event at `height` (a destination claiming a delivery).
pub fn fake_received(height: Height, message: &Message, ack: &Acknowledgement) -> Value {
    event_at(
        height,
        &Event::MessageReceived {
            message: message.clone(),
            ack: ack.clone(),
        },
    )
}

/// A `client_updated` event at `height`: the host's client of `of` accepted `headers`.
pub fn fake_client_updated(height: Height, of: &ChainId, headers: &[(Height, Hash32)]) -> Value {
    event_at(
        height,
        &Event::ClientUpdated {
            chain: of.clone(),
            headers: headers.to_vec(),
        },
    )
}

/// `real` with another state root: a header the chain never committed, carrying the real
/// commit's signatures over a hash they do not sign.
pub fn forged_header(real: &LightBlock) -> LightBlock {
    let mut forged = real.clone();
    forged.signed_header.header.state_root.0[0] ^= 0xff;
    forged.signed_header.commit.header_hash = forged.header().hash();
    forged
}

/// "Evidence" that `forged` and `real` conflict, from the trusted block below them; it does
/// not verify (the forged header's signatures are wrong).
pub fn fake_evidence(trusted: &LightBlock, real: &LightBlock, forged: &LightBlock) -> Misbehaviour {
    Misbehaviour {
        trusted_height: trusted.height(),
        trusted_next_validators: trusted.next_validators.clone(),
        first: forged.clone(),
        second: real.clone(),
    }
}

/// A `client` answer turned into a frozen client (by `evidence`): `frozen: true` and the
/// state's `frozen` set, self-consistent so it decodes like a real one.
pub fn frozen_client(answer: &Value, evidence: &Misbehaviour) -> Option<Value> {
    let frozen = Frozen {
        kind: evidence.kind().ok()?,
        evidence: evidence.clone(),
        evidence_hash: evidence.hash(),
    };
    let mut answer = answer.clone();
    answer.get("state")?;
    answer["frozen"] = json!(true);
    answer["state"]["frozen"] = serde_json::to_value(frozen).ok()?;
    Some(answer)
}

/// An `evm_client` answer turned into a frozen client: `frozen: true` and the state's
/// frozen flag (its last byte, PROTOCOL.md §12) set, so it decodes like a real one.
pub fn frozen_evm_client(answer: &Value) -> Option<Value> {
    let mut state = hex::decode(answer.get("state")?.as_str()?).ok()?;
    *state.last_mut()? = 1;
    let mut answer = answer.clone();
    answer["frozen"] = json!(true);
    answer["state"] = json!(hex::encode(state));
    Some(answer)
}

/// One item of a `block_txs` answer: `tx` in its canonical encoding.
pub fn block_tx(tx: &Tx) -> Value {
    let bytes = tx.encode();
    json!({"hash": sha256(&bytes), "kind": tx.kind(), "tx": hex::encode(bytes)})
}

// ---- Reading the truth from the chains themselves. ----

/// Every event of the chain behind `node`, from height 1 to its head, with heights.
pub async fn all_events(node: &NodeClient) -> Vec<(Height, Event)> {
    let Ok(head) = node.status().await.map(|s| s.latest_height) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut h = 0;
    while h < head {
        let to = head.min(h + 1_000);
        match node.events(h + 1, to).await {
            Ok(events) => out.extend(events.into_iter().map(|e| (e.height, e.event))),
            Err(_) => return out,
        }
        h = to;
    }
    out
}

/// The message of lane `source → destination` at `sequence` as its source committed it,
/// with the height of its `message_sent` event.
pub async fn sent_message(
    source_node: &NodeClient,
    destination: &ChainId,
    sequence: u64,
) -> Option<(Height, Message)> {
    all_events(source_node)
        .await
        .into_iter()
        .find_map(|(h, e)| match e {
            Event::MessageSent { message }
                if message.destination == *destination && message.sequence == sequence =>
            {
                Some((h, message))
            }
            _ => None,
        })
}

/// The messages from `source` the chain behind `destination_node` received (its apps ran).
pub async fn received_from(destination_node: &NodeClient, source: &ChainId) -> Vec<Message> {
    all_events(destination_node)
        .await
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::MessageReceived { message, .. } if message.source == *source => Some(message),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use xrelay_devchain::node::run::{start, NodeOptions, RunningNode};
    use xrelay_devchain::rpc_answers;
    use xrelay_light_client::{ClientState, TrustOptions, TrustedState};
    use xrelay_protocol::RelayTx;

    async fn node() -> RunningNode {
        let chain = xrelay::devnet::devnet_chain(
            "chain-h",
            &xrelay::devnet::ValidatorOptions {
                count: 4,
                key_file: None,
                seed: None,
                rotate_every: None,
                signers: None,
            },
        )
        .unwrap();
        start(NodeOptions {
            chain,
            data_dir: None,
            rpc: "127.0.0.1:0".parse().unwrap(),
            block_time_ms: 50,
            fault: None,
        })
        .await
        .unwrap()
    }

    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn client(url: &str) -> NodeClient {
        NodeClient::new(url, Duration::from_secs(10)).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rewrite_applies_once_then_the_node_is_honest() {
        let real = node().await;
        let hostile = HostileNode::start(&format!("http://{}", real.rpc_addr)).unwrap();
        let c = client(&hostile.url());
        let id = hostile.rewrite_once("status", |_, mut a| {
            a["latest_height"] = json!(1_000_000_000_000u64);
            a
        });
        assert_eq!(c.status().await.unwrap().latest_height, 1_000_000_000_000);
        assert!(c.status().await.unwrap().latest_height < 1_000);
        assert_eq!(hostile.applied(id), 1);
        assert!(!hostile.is_live(id));
        let s = hostile.stats();
        assert_eq!((s.forwarded, s.rewritten), (2, 1), "{s:?}");

        // N times, then honest; until cleared, then honest.
        let id = hostile.rewrite_times("status", 2, |_, mut a| {
            a["latest_height"] = json!(7);
            a
        });
        for _ in 0..2 {
            assert_eq!(c.status().await.unwrap().latest_height, 7);
        }
        assert_ne!(c.status().await.unwrap().latest_height, 7);
        assert_eq!(hostile.applied(id), 2);
        let ids = hostile.fake_head(1 << 40);
        for _ in 0..3 {
            assert_eq!(c.status().await.unwrap().latest_height, 1 << 40);
        }
        hostile.clear();
        assert!(c.status().await.unwrap().latest_height < 1_000);
        assert_eq!(hostile.applied(ids[0]), 3);
        assert_eq!(hostile.seen("status").len(), 9);
        drop(hostile);
        real.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_are_injected_only_into_a_range_that_covers_them() {
        let real = node().await;
        let hostile = HostileNode::start(&format!("http://{}", real.rpc_addr)).unwrap();
        let c = client(&hostile.url());
        c.wait_height(8, Duration::from_secs(30)).await.unwrap();
        let (a, b): (ChainId, ChainId) = ("chain-h".parse().unwrap(), "chain-x".parse().unwrap());
        let forged = fake_message(&a, &b, 1, b"never sent");
        let ack = Acknowledgement::Success(b"never".to_vec());
        let id = hostile.inject_events_once(vec![
            fake_sent(3, &forged),
            fake_acknowledged(4, &forged, &ack),
        ]);
        // Not covered: untouched, not counted.
        assert!(c.events(5, 8).await.unwrap().is_empty());
        assert_eq!(hostile.applied(id), 0);
        // Covered: the node's own decoder takes the lie as a real answer.
        let lied = c.events(1, 3).await.unwrap();
        assert_eq!(lied.len(), 1);
        assert_eq!(lied[0].height, 3);
        assert!(matches!(&lied[0].event, Event::MessageSent { message } if *message == forged));
        assert_eq!(hostile.applied(id), 1);
        // Once: honest again, even for the height not served yet.
        assert!(c.events(1, 8).await.unwrap().is_empty());
        // Every kind of fake event decodes as the node's own.
        let all = vec![
            fake_received(2, &forged, &ack),
            fake_timed_out(2, &forged),
            fake_client_updated(2, &b, &[(5, Hash32([9; 32]))]),
        ];
        let n = all.len();
        let id = hostile.inject_events(all, Times::UntilCleared);
        assert_eq!(c.events(1, 2).await.unwrap().len(), n);
        assert_eq!(c.events(2, 2).await.unwrap().len(), n);
        hostile.remove(id);
        assert!(c.events(1, 2).await.unwrap().is_empty());
        drop(hostile);
        real.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_rewritten_per_call_and_websocket_is_refused_at_once() {
        let real = node().await;
        let hostile = HostileNode::start(&format!("http://{}", real.rpc_addr)).unwrap();
        let id = hostile.rewrite_once("status", |_, mut a| {
            a["latest_height"] = json!(424242);
            a
        });
        let batch = json!([
            {"jsonrpc": "2.0", "id": 1, "method": "status", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "nonce", "params": {"account": "00".repeat(20)}},
            {"jsonrpc": "2.0", "id": 3, "method": "status", "params": {}},
        ]);
        let answer = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(hostile.url())
            .header("content-type", "application/json")
            .body(batch.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let answers = answer.as_array().expect("a batch answer");
        let by_id = |i: u64| answers.iter().find(|a| a["id"] == i).unwrap().clone();
        let heights = [by_id(1), by_id(3)].map(|a| a["result"]["latest_height"].as_u64().unwrap());
        assert_eq!(
            heights.iter().filter(|h| **h == 424242).count(),
            1,
            "{answer}"
        );
        assert_eq!(by_id(2)["result"]["nonce"], 0);
        assert_eq!(hostile.applied(id), 1);

        // A WebSocket handshake gets a 400 straight away.
        let started = Instant::now();
        let mut s = std::net::TcpStream::connect(hostile.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            hostile.addr()
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(hostile.stats().refused, 1);
        drop(hostile);
        real.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fake_frozen_client_and_a_forged_update_decode_like_real_answers() {
        let real = node().await;
        let c = client(&format!("http://{}", real.rpc_addr));
        c.wait_height(4, Duration::from_secs(30)).await.unwrap();
        let trusted = c.light_block(2).await.unwrap();
        let own = c.light_block(3).await.unwrap();
        let forged = forged_header(&own);
        assert_ne!(forged.header().hash(), own.header().hash());
        assert_eq!(forged.height(), own.height());
        // The forged block travels in a block's transactions like a real update.
        let chain: ChainId = "chain-h".parse().unwrap();
        let item = block_tx(&Tx::Relay(RelayTx::UpdateClient {
            chain: chain.clone(),
            blocks: vec![forged.clone()],
        }));
        let txs = rpc_answers::block_txs(&json!({"height": 9, "txs": [item]})).unwrap();
        assert!(
            matches!(&txs[..], [Tx::Relay(RelayTx::UpdateClient { blocks, .. })] if blocks[0] == forged),
            "{txs:?}"
        );
        // A host's client of the chain, frozen by evidence that does not hold.
        let state = ClientState::new(
            TrustedState::from_light_block(&own).unwrap(),
            TrustOptions::default(),
        )
        .unwrap();
        let answer = json!({"chain": chain, "frozen": false, "latest_height": 3, "state": state});
        let evidence = fake_evidence(&trusted, &own, &forged);
        let lie = frozen_client(&answer, &evidence).unwrap();
        let decoded = rpc_answers::client_state(&lie).unwrap();
        assert_eq!(
            decoded.frozen().map(|f| f.evidence_hash),
            Some(evidence.hash())
        );
        assert_eq!(lie["frozen"], true);
        // The "evidence" does not verify from the trusted block.
        let mut honest = ClientState::new(
            TrustedState::from_light_block(&trusted).unwrap(),
            TrustOptions::default(),
        )
        .unwrap();
        assert!(honest.submit_misbehaviour(&evidence, now_ms()).is_err());
        real.stop().await;
    }
}
