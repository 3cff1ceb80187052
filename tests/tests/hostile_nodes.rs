//! Hostile nodes end to end: a devnet of three chains, a relayer that reaches one chain
//! through a hostile node (`xrelay_tests::hostile`), a lie served by that endpoint, then
//! real messages. A node's answer is a claim: a lying endpoint may delay a lane by a
//! bounded time, never stall it, never freeze a chain, never make the relayer forget a
//! message. Every verdict is read from the chains themselves (`message_status`, events,
//! clients), plus the relayer's own counters of refused claims.
//!
//! Each test prints what it measured and every check with `ok` / `FAILED`, then fails
//! listing the checks that did not hold.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use xrelay_devchain::node::client::NodeClient;
use xrelay_devchain::tx::Tx;
use xrelay_light_client::{Acknowledgement, ChainId};
use xrelay_protocol::RelayTx;
use xrelay_tests::hostile::*;
use xrelay_tests::*;

const BLOCK_MS: u64 = 150;

/// How long real messages may take to arrive once a lie stopped (the goal is two block
/// intervals and one scan; this bound only avoids flakiness on busy machines).
const BOUND: Duration = Duration::from_secs(20);

/// How long the relayer has to read a lie at all (it reads every chain's events).
const LIE_READ: Duration = Duration::from_secs(30);

/// How long messages may take to settle (acknowledged on the source) after they arrived.
const SETTLE: Duration = Duration::from_secs(40);

/// Real messages sent after each lie.
const MESSAGES: usize = 10;

/// What a forged message carries.
const FORGED: &[u8] = b"forged by a hostile node";

/// A devnet with a relayer that reaches chain `liar` through a hostile node. Fields drop in
/// order: the relayer first, the temporary directory last.
struct Scene {
    relayer: Relayer,
    hostile: HostileNode,
    net: Devnet,
    ids: Vec<ChainId>,
    sender: Sender,
    /// Every real message sent, with its payload.
    sent: Vec<(Sent, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

impl Scene {
    fn up(liar: usize) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let net = Devnet::up(&dir.path().join("devnet"), 3, BLOCK_MS, &[]);
        let hostile = HostileNode::start(net.nodes[liar].url()).unwrap();
        // The relayer's config with the liar's endpoint replaced by the hostile node's.
        let text = std::fs::read_to_string(net.relayer_config()).unwrap();
        let real = format!("\"{}\"", net.nodes[liar].url());
        assert_eq!(text.matches(&real).count(), 1, "{real} in\n{text}");
        let config = dir.path().join("relayer-hostile.toml");
        std::fs::write(
            &config,
            text.replace(&real, &format!("\"{}\"", hostile.url())),
        )
        .unwrap();
        let relayer = Relayer::start(&config, &[]);
        eprintln!(
            "{} is served to the relayer by a hostile node at {}",
            net.ids[liar],
            hostile.url()
        );
        Scene {
            relayer,
            hostile,
            ids: net.ids.clone(),
            net,
            sender: Sender::default(),
            sent: Vec::new(),
            _dir: dir,
        }
    }

    fn node(&self, i: usize) -> &NodeClient {
        &self.net.nodes[i]
    }

    async fn head(&self, i: usize) -> u64 {
        self.node(i).status().await.unwrap().latest_height
    }

    /// Sends `n` echo messages `src → dst`, each committed before the next.
    async fn send(&mut self, src: usize, dst: usize, n: usize, tag: &str) -> Vec<Sent> {
        let mut out = Vec::new();
        for i in 0..n {
            let payload = format!("{tag} {i}").into_bytes();
            let node = &self.net.nodes[src];
            let m = self
                .sender
                .send(
                    node,
                    &self.ids[src],
                    &user((i % 4) as u32),
                    echo(&self.ids[dst], &payload),
                )
                .await;
            self.sent.push((m.clone(), payload));
            out.push(m);
        }
        out
    }

    /// The [`MESSAGES`] real messages sent after a lie, `src → dst`: the first one's commit
    /// time, and a watcher of its delivery (polled every 10 ms from its commit on, while
    /// the others are sent).
    async fn send_real(&mut self, src: usize, dst: usize) -> Real {
        let mut sent = self.send(src, dst, 1, "real first").await;
        let first_committed = Instant::now();
        let node = self.net.nodes[dst].clone();
        let first = sent[0].clone();
        let first_delivered = tokio::spawn(async move {
            let deadline = Instant::now() + BOUND * 3;
            while Instant::now() < deadline {
                if received(&node, &first).await {
                    return Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        });
        sent.extend(self.send(src, dst, MESSAGES - 1, "real").await);
        Real {
            sent,
            first_committed,
            first_delivered,
        }
    }

    /// A real message relayed end to end before any lie: the relayer is up and the lane
    /// works.
    async fn warm_up(&mut self, src: usize, dst: usize) -> Sent {
        let m = self.send(src, dst, 1, "warm-up").await.remove(0);
        let s = settle(&self.net, std::slice::from_ref(&m), Duration::from_secs(60)).await;
        assert_eq!(s[&m], "acknowledged", "warm-up message {m:?}");
        m
    }

    fn claims_refused(&self, chain: &ChainId, reason: Option<&str>) -> f64 {
        let chain = format!("chain=\"{chain}\"");
        let reason = reason.map(|r| format!("reason=\"{r}\""));
        let mut labels = vec![chain.as_str()];
        if let Some(r) = &reason {
            labels.push(r.as_str());
        }
        // `+ 0.0`: an empty sum is -0.
        self.relayer
            .metric_sum("xrelay_claims_refused_total", &labels)
            + 0.0
    }
}

/// Real messages sent after a lie.
struct Real {
    sent: Vec<Sent>,
    /// When the first one was committed on its source.
    first_committed: Instant,
    /// When the first one was seen received on its destination.
    first_delivered: tokio::task::JoinHandle<Option<Instant>>,
}

/// Whether the destination received `m` (its app ran).
async fn received(node: &NodeClient, m: &Sent) -> bool {
    let v: Value = node
        .call(
            "message_status",
            json!({"source": m.src, "destination": m.dst, "sequence": m.seq}),
        )
        .await
        .unwrap_or(Value::Null);
    v["received"] == true
}

/// When each message was first seen received on its destination (polled), up to
/// `deadline`.
async fn wait_received(net: &Devnet, sent: &[Sent], deadline: Instant) -> Vec<Option<Instant>> {
    let mut got = vec![None; sent.len()];
    loop {
        for (m, at) in sent.iter().zip(got.iter_mut()) {
            if at.is_none() && received(&net.nodes[net.index(&m.dst)], m).await {
                *at = Some(Instant::now());
            }
        }
        if got.iter().all(Option::is_some) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each message's status on its source once none is pending, or when `within` ran out.
async fn settle(net: &Devnet, sent: &[Sent], within: Duration) -> HashMap<Sent, String> {
    let deadline = Instant::now() + within;
    let mut out = HashMap::new();
    loop {
        for m in sent {
            let s = source_status(&net.nodes[net.index(&m.src)], m).await;
            out.insert(m.clone(), s);
        }
        if out.values().all(|s| s != "pending" && s != "unknown") || Instant::now() > deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The checks of one test: each printed, the failed ones listed at the end.
struct Verdict {
    name: &'static str,
    failed: Vec<String>,
}

impl Verdict {
    fn new(name: &'static str) -> Verdict {
        Verdict {
            name,
            failed: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        eprintln!(
            "[{}] {}: {what}",
            if ok { "ok" } else { "FAILED" },
            self.name
        );
        if !ok {
            self.failed.push(what);
        }
    }

    fn done(self) {
        assert!(
            self.failed.is_empty(),
            "{}: {} check(s) failed:\n  - {}",
            self.name,
            self.failed.len(),
            self.failed.join("\n  - ")
        );
    }
}

/// The real messages after a lie (and `also`, messages held up by it): all received within
/// [`BOUND`] of the last one's sending; the delay from the lie's end and from its commit to
/// the first real message's delivery printed.
async fn check_delivered_after(
    v: &mut Verdict,
    scene: &Scene,
    real: Real,
    also: &[Sent],
    lie_end: Instant,
) -> Vec<Sent> {
    let mut all = also.to_vec();
    all.extend(real.sent.iter().cloned());
    let got = wait_received(&scene.net, &all, Instant::now() + BOUND).await;
    let n = got.iter().filter(|g| g.is_some()).count();
    if got[also.len()].is_none() {
        real.first_delivered.abort();
    }
    match real.first_delivered.await.ok().flatten() {
        Some(t) => eprintln!(
            "{}: first real message delivered {} ms after the lie ended, {} ms after its send was committed (goal: 2 x {BLOCK_MS} ms block + one scan)",
            v.name,
            t.saturating_duration_since(lie_end).as_millis(),
            t.saturating_duration_since(real.first_committed).as_millis(),
        ),
        None => eprintln!("{}: the first real message was not delivered", v.name),
    }
    v.check(
        n == all.len(),
        format!(
            "{n} of {} messages received within {BOUND:?} after the lie",
            all.len()
        ),
    );
    all
}

/// Settled, no duplicates, supply conserved, no forged content received anywhere, no
/// chain frozen for the relayer or on any host.
async fn check_chains(v: &mut Verdict, scene: &Scene, expect_settled: &[Sent]) {
    let s = settle(&scene.net, expect_settled, SETTLE).await;
    let acked = s.values().filter(|s| *s == "acknowledged").count();
    v.check(
        acked == expect_settled.len(),
        format!(
            "{acked} of {} messages acknowledged on their source ({:?})",
            expect_settled.len(),
            {
                let mut other: Vec<_> = s
                    .iter()
                    .filter(|(_, st)| *st != "acknowledged")
                    .map(|(m, st)| format!("{}→{} #{}: {st}", m.src, m.dst, m.seq))
                    .collect();
                other.sort();
                other
            }
        ),
    );
    v.check(duplicates(&scene.net).await == 0, "no duplicate delivery");
    v.check(supply_conserved(&scene.net).await, "supply conserved");

    // Nothing forged received: every message a destination ran is one that was sent, with
    // its content.
    let sent: HashMap<(ChainId, ChainId, u64), &Vec<u8>> = scene
        .sent
        .iter()
        .map(|(m, p)| ((m.src.clone(), m.dst.clone(), m.seq), p))
        .collect();
    let mut forged = Vec::new();
    for (i, dst) in scene.ids.iter().enumerate() {
        for src in scene.ids.iter().filter(|s| *s != dst) {
            for m in received_from(&scene.net.nodes[i], src).await {
                let real = sent.get(&(m.source.clone(), m.destination.clone(), m.sequence));
                if real != Some(&&m.payload) || m.payload == FORGED {
                    forged.push(format!("{}→{} #{}", m.source, m.destination, m.sequence));
                }
            }
        }
    }
    v.check(
        forged.is_empty(),
        format!("nothing forged received ({forged:?})"),
    );

    // No chain frozen: not for the relayer, not on any host.
    let (_, ready) = scene.relayer.get("/readyz");
    let ready: Value = serde_json::from_str(&ready).unwrap_or(Value::Null);
    let frozen_for_relayer: Vec<String> = ready["chains"]
        .as_object()
        .map(|c| {
            c.iter()
                .filter(|(_, s)| s["frozen"] == true)
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default();
    v.check(
        ready["chains"].is_object() && frozen_for_relayer.is_empty(),
        format!("no chain frozen for the relayer (/readyz: {frozen_for_relayer:?})"),
    );
    let detected = scene
        .relayer
        .metric_sum("xrelay_misbehaviour_detected_total", &[])
        + 0.0;
    v.check(
        detected == 0.0,
        format!("xrelay_misbehaviour_detected_total = {detected}"),
    );
    let mut frozen_on_hosts = Vec::new();
    for (i, host) in scene.ids.iter().enumerate() {
        for of in scene.ids.iter().filter(|c| *c != host) {
            if let Ok(Some(state)) = scene.net.nodes[i].client_state(of).await {
                if state.frozen().is_some() {
                    frozen_on_hosts.push(format!("{host}'s client of {of}"));
                }
            }
        }
    }
    v.check(
        frozen_on_hosts.is_empty(),
        format!("no client frozen on any chain ({frozen_on_hosts:?})"),
    );
}

/// Holds a node still (SIGSTOP) until dropped (SIGCONT), even if the test fails between.
struct Paused(u32);

impl Paused {
    fn new(pid: u32) -> Paused {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0 as i32), Signal::SIGCONT);
    }
}

/// The control: the same scene with a hostile node that tells no lie. Everything arrives
/// within the bound and nothing is refused, so what fails in the other tests is the lie's
/// doing, not the proxy's (the relayer polls `status` through it, its WebSocket refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_a_hostile_node_that_tells_no_lie_changes_nothing() {
    let mut s = Scene::up(0);
    let mut v = Verdict::new("control: no lie");
    let a = s.ids[0].clone();
    let warm = s.warm_up(0, 1).await;
    let lie_end = Instant::now();
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &[], lie_end).await;
    all.push(warm);
    check_chains(&mut v, &s, &all).await;
    let stats = s.hostile.stats();
    v.check(
        stats.rewritten == 0 && stats.forwarded > 0 && stats.refused > 0,
        format!("the proxy forwarded and rewrote nothing; WebSocket refused ({stats:?})"),
    );
    let refused = s.claims_refused(&a, None);
    v.check(
        refused == 0.0,
        format!("xrelay_claims_refused_total{{chain=\"{a}\"}} = {refused}"),
    );
    v.done();
}

/// (a) chain-3's endpoint claims a send of lane chain-1 → chain-2 (the lane's next
/// sequence, another payload). An event is taken only from the chain whose role it
/// describes: refused for its role, and the lane never notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_claimed_by_a_foreign_chain_is_refused_for_its_role() {
    let mut s = Scene::up(2);
    let mut v = Verdict::new("foreign chain claims a send");
    let (a, b, c) = (s.ids[0].clone(), s.ids[1].clone(), s.ids[2].clone());
    let warm = s.warm_up(0, 1).await;
    let forged = fake_message(&a, &b, warm.seq + 1, FORGED);
    let at = s.head(2).await + 2;
    let lie = s.hostile.inject_events_once(vec![fake_sent(at, &forged)]);
    assert!(
        s.hostile.wait_applied(lie, 1, LIE_READ).await,
        "the relayer never read {c}'s events at {at}"
    );
    let lie_end = Instant::now();
    eprintln!(
        "{c} served a send of {a}→{b} #{} at its height {at}",
        forged.sequence
    );
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &[], lie_end).await;
    all.push(warm);
    check_chains(&mut v, &s, &all).await;
    let refused = s.claims_refused(&c, Some("role"));
    v.check(
        refused >= 1.0,
        format!("xrelay_claims_refused_total{{chain=\"{c}\",reason=\"role\"}} = {refused} (>= 1)"),
    );
    v.done();
}

/// (b) chain-1's own endpoint lies once: a send of lane chain-1 → chain-2 with the lane's
/// next sequence and another payload, then honest answers. The real message with that
/// sequence (and the nine after it) must still arrive, late by a bounded time at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_lying_once_about_a_send_delays_the_lane_by_a_bounded_time() {
    let mut s = Scene::up(0);
    let mut v = Verdict::new("source lies once about a send");
    let (a, b) = (s.ids[0].clone(), s.ids[1].clone());
    let warm = s.warm_up(0, 1).await;
    let forged = fake_message(&a, &b, warm.seq + 1, FORGED);
    let at = s.head(0).await + 2;
    let lie = s.hostile.inject_events_once(vec![fake_sent(at, &forged)]);
    assert!(
        s.hostile.wait_applied(lie, 1, LIE_READ).await,
        "the relayer never read {a}'s events at {at}"
    );
    let lie_end = Instant::now();
    eprintln!(
        "{a} served a send of {a}→{b} #{} at height {at}",
        forged.sequence
    );
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &[], lie_end).await;
    all.push(warm);
    check_chains(&mut v, &s, &all).await;
    let refused = s.claims_refused(&a, None);
    v.check(
        refused >= 1.0,
        format!("xrelay_claims_refused_total{{chain=\"{a}\"}} = {refused} (>= 1)"),
    );
    v.done();
}

/// (c) chain-1's endpoint claims that a real pending message (its destination held still)
/// was acknowledged and another timed out. The relayer must not forget either: once the
/// destination is back, both are delivered and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_settlements_of_pending_messages_do_not_make_the_relayer_forget_them() {
    let mut s = Scene::up(0);
    let mut v = Verdict::new("fake ack and timeout of pending messages");
    let (a, b) = (s.ids[0].clone(), s.ids[1].clone());
    let warm = s.warm_up(0, 1).await;
    // The scanner of chain-1 first reads past the warm-up (its client updates, which are
    // checked against chain-2's headers, would wait for the paused node).
    let scanned = s.head(0).await;
    assert!(
        s.hostile
            .wait_seen("events", LIE_READ, |p| p["to"].as_u64() >= Some(scanned))
            .await,
        "the relayer never scanned {a} up to {scanned}"
    );
    let paused = Paused::new(s.net.pids[1]);
    let pending = s.send(0, 1, 2, "pending").await;
    let mut messages = Vec::new();
    for m in &pending {
        let (_, message) = sent_message(s.node(0), &b, m.seq)
            .await
            .expect("the pending message is on its source");
        messages.push(message);
    }
    let at = s.head(0).await + 2;
    let lie = s.hostile.inject_events_once(vec![
        fake_acknowledged(
            at,
            &messages[0],
            &Acknowledgement::Success(messages[0].payload.clone()),
        ),
        fake_timed_out(at, &messages[1]),
    ]);
    assert!(
        s.hostile.wait_applied(lie, 1, LIE_READ).await,
        "the relayer never read {a}'s events at {at}"
    );
    eprintln!(
        "{a} served an ack of {a}→{b} #{} and a timeout of #{} at height {at}, {b} held still",
        messages[0].sequence, messages[1].sequence
    );
    // The relayer acts on what it read while the destination is still away.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(paused);
    let lie_end = Instant::now();
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &pending, lie_end).await;
    all.push(warm);
    check_chains(&mut v, &s, &all).await;
    let refused = s.claims_refused(&a, None);
    v.check(
        refused >= 1.0,
        format!("xrelay_claims_refused_total{{chain=\"{a}\"}} = {refused} (>= 1)"),
    );
    v.done();
}

/// (d) A host's endpoint (chain-2's) claims its client of chain-1 accepted a header chain-1
/// never committed (the event, and the update in the block's transactions) and that the
/// client is frozen by evidence that does not hold. No chain is frozen, messages flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_conflicting_update_and_a_fake_frozen_client_freeze_nothing() {
    let mut s = Scene::up(1);
    let mut v = Verdict::new("fake client update and frozen client");
    let (a, b) = (s.ids[0].clone(), s.ids[1].clone());
    let warm = vec![s.warm_up(0, 1).await, s.warm_up(1, 0).await];
    let h = s.head(0).await - 1;
    let own = s.node(0).light_block(h).await.unwrap();
    let trusted = s.node(0).light_block(h - 1).await.unwrap();
    let forged = forged_header(&own);
    let evidence = fake_evidence(&trusted, &own, &forged);
    let at = s.head(1).await + 2;
    let update = Tx::Relay(RelayTx::UpdateClient {
        chain: a.clone(),
        blocks: vec![forged.clone()],
    });
    let event = s.hostile.inject_events_once(vec![fake_client_updated(
        at,
        &a,
        &[(h, forged.header().hash())],
    )]);
    let in_block = s.hostile.add_to_block(at, &update);
    let a_name = a.to_string();
    let frozen = s.hostile.install(Rule::rewrite_when(
        "client",
        Times::UntilCleared,
        move |req, answer| {
            if req["params"]["chain"].as_str() != Some(a_name.as_str()) {
                return None;
            }
            frozen_client(answer, &evidence)
        },
    ));
    assert!(
        s.hostile.wait_applied(event, 1, LIE_READ).await,
        "the relayer never read {b}'s events at {at}"
    );
    // Let the relayer follow the lie as far as it wants (bounded): the block's updates, the
    // hosts' clients.
    let deadline = Instant::now() + Duration::from_secs(6);
    while (s.hostile.applied(in_block) == 0 || s.hostile.applied(frozen) == 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!(
        "{b} served: an update of its client of {a} to a forged header at {h} (event at {at}; served {} times in block_txs), its client of {a} frozen ({} answers)",
        s.hostile.applied(in_block),
        s.hostile.applied(frozen)
    );
    let unconfirmed = s.relayer.metric_sum(
        "xrelay_misbehaviour_unconfirmed_total",
        &[&format!("chain=\"{a}\"")],
    );
    v.check(
        unconfirmed >= 1.0,
        format!("the report was judged by the relayer's own client (xrelay_misbehaviour_unconfirmed_total{{chain=\"{a}\"}} = {unconfirmed})"),
    );
    s.hostile.clear();
    let lie_end = Instant::now();
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &[], lie_end).await;
    all.extend(warm);
    check_chains(&mut v, &s, &all).await;
    eprintln!(
        "{}: claims refused from {b}: {}",
        v.name,
        s.claims_refused(&b, None)
    );
    v.done();
}

/// (e) chain-1's endpoint reports a head of 10^12 for a while, then the truth. The scan
/// cursor must not run past the real head (no event skipped), and no message may be lost
/// or delayed beyond the bound once the lie stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_reported_head_neither_skips_events_nor_stalls_the_lane() {
    let mut s = Scene::up(0);
    let mut v = Verdict::new("huge reported head");
    let a = s.ids[0].clone();
    let warm = s.warm_up(0, 1).await;
    let huge = 1_000_000_000_000u64;
    let rules = s.hostile.fake_head(huge);
    assert!(
        s.hostile.wait_applied(rules[0], 3, LIE_READ).await,
        "the relayer never asked {a}'s status"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.hostile.clear();
    let lie_end = Instant::now();
    eprintln!(
        "{a} reported head {huge} in {} status answers",
        s.hostile.applied(rules[0])
    );
    let real = s.send_real(0, 1).await;
    let mut all = check_delivered_after(&mut v, &s, real, &[], lie_end).await;
    all.push(warm);
    check_chains(&mut v, &s, &all).await;
    // The cursor is the height before the highest `from` the relayer asked events of.
    let head = s.head(0).await;
    let cursor = s
        .hostile
        .seen("events")
        .iter()
        .filter_map(|c| c.params["from"].as_u64())
        .max()
        .unwrap_or(1)
        - 1;
    v.check(
        cursor <= head,
        format!("{a}'s scan cursor {cursor} never went past its real head {head}"),
    );
    let suspect = s.claims_refused(&a, Some("suspect_head"));
    v.check(
        suspect >= 1.0,
        format!(
            "xrelay_claims_refused_total{{chain=\"{a}\",reason=\"suspect_head\"}} = {suspect} (>= 1)"
        ),
    );
    v.done();
}

/// A devnet chain linked with an anvil chain (attestation mode, a committee of one: the
/// relayer), the relayer reaching one of the two through a hostile node. Fields drop in
/// order: the relayer first, the temporary directory last.
struct EvmScene {
    relayer: Relayer,
    hostile: HostileNode,
    evm: xrelay::devnet::evm::EvmDevnet,
    net: Devnet,
    /// The devnet chain.
    home: ChainId,
    /// The anvil chain.
    away: ChainId,
    sender: Sender,
    /// Every message sent from `home`.
    sent: Vec<Sent>,
    /// How many messages were sent from anvil (sequences 1 to this).
    from_evm: u64,
    _dir: tempfile::TempDir,
}

/// Which endpoint of an [`EvmScene`] the hostile node stands in front of.
#[derive(Clone, Copy)]
enum EvmLiar {
    /// The anvil node.
    Anvil,
    /// The devnet chain (the host of the EVM client of anvil).
    Home,
}

impl EvmScene {
    async fn up(liar: EvmLiar) -> EvmScene {
        use xrelay::devnet::evm::{EvmDevnet, EVM_CHAIN};
        let dir = tempfile::tempdir().unwrap();
        let net = Devnet::up(&dir.path().join("devnet"), 2, 200, &[]);
        let evm = EvmDevnet::up(dir.path(), &net.relayer_config(), &net.nodes[0], 1)
            .await
            .expect("anvil with the contracts");
        let upstream = match liar {
            EvmLiar::Anvil => evm.anvil.url(),
            EvmLiar::Home => net.nodes[0].url().to_string(),
        };
        let hostile = HostileNode::start(&upstream).unwrap();
        let config = net.relayer_config();
        let text = std::fs::read_to_string(&config).unwrap();
        let real = format!("\"{upstream}\"");
        assert_eq!(text.matches(&real).count(), 1, "{real} in\n{text}");
        std::fs::write(
            &config,
            text.replace(&real, &format!("\"{}\"", hostile.url())),
        )
        .unwrap();
        let relayer = Relayer::start(&config, &[]);
        let mut scene = EvmScene {
            relayer,
            hostile,
            evm,
            home: net.ids[0].clone(),
            away: EVM_CHAIN.parse().unwrap(),
            net,
            sender: Sender::default(),
            sent: Vec::new(),
            from_evm: 0,
            _dir: dir,
        };
        scene.send_home(b"warm-up").await;
        let warm = scene.sent.clone();
        let settled = settle(&scene.net, &warm, Duration::from_secs(120)).await;
        assert_eq!(settled[&warm[0]], "acknowledged", "warm-up {settled:?}");
        scene
    }

    async fn send_home(&mut self, payload: &[u8]) {
        let m = self
            .sender
            .send(
                &self.net.nodes[0],
                &self.home,
                &user(0),
                echo(&self.away, payload),
            )
            .await;
        self.sent.push(m);
    }

    /// An echo message from anvil to `home`, sent by the dApp user through the Gateway.
    async fn send_from_evm(&mut self, payload: &[u8]) {
        use alloy::primitives::Bytes;
        use xrelay::devnet::evm::signing_provider;
        use xrelay_evm::gateway::Gateway;
        let provider = signing_provider(&self.evm.anvil.url(), &self.evm.user).unwrap();
        let receipt = Gateway::new(self.evm.deployment.gateway, provider)
            .sendMessage(
                Bytes::copy_from_slice(self.home.as_str().as_bytes()),
                Bytes::copy_from_slice(b"echo"),
                0,
                u64::MAX / 2,
                Bytes::copy_from_slice(payload),
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        self.from_evm += 1;
    }

    /// [`MESSAGES`] / 2 echo messages each way.
    async fn send_both_ways(&mut self) {
        for i in 0..MESSAGES / 2 {
            self.send_home(format!("real {i}").as_bytes()).await;
            self.send_from_evm(format!("from evm {i}").as_bytes()).await;
        }
    }

    /// What must hold on the chains once a lie stopped: every message from `home`
    /// acknowledged, every message from anvil received, no duplicate, no chain frozen for
    /// the relayer and no misbehaviour counted.
    async fn check_both_ways(&self, v: &mut Verdict) {
        let (home, away) = (&self.home, &self.away);
        let settled = settle(&self.net, &self.sent, Duration::from_secs(120)).await;
        let acked = settled.values().filter(|s| *s == "acknowledged").count();
        v.check(
            acked == self.sent.len(),
            format!(
                "{acked} of {} messages {home}→{away} acknowledged",
                self.sent.len()
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut from_evm = Vec::new();
        while Instant::now() < deadline {
            from_evm = received_from(&self.net.nodes[0], away)
                .await
                .iter()
                .map(|m| m.sequence)
                .collect();
            if from_evm.len() as u64 >= self.from_evm {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        from_evm.sort_unstable();
        let expected: Vec<u64> = (1..=self.from_evm).collect();
        v.check(
            from_evm == expected,
            format!("{away}→{home} received: {from_evm:?} (expected {expected:?})"),
        );
        v.check(duplicates(&self.net).await == 0, "no duplicate delivery");
        let (_, ready) = self.relayer.get("/readyz");
        v.check(
            !ready.contains("\"frozen\":true"),
            format!("no chain frozen for the relayer ({ready})"),
        );
        let detected = self
            .relayer
            .metric_sum("xrelay_misbehaviour_detected_total", &[])
            + 0.0;
        v.check(
            detected == 0.0,
            format!("xrelay_misbehaviour_detected_total = {detected}"),
        );
    }
}

/// The EVM variant of (e): the EVM node's endpoint reports a head of 10^12
/// (`eth_blockNumber`) for a while, then the truth. No log may be skipped and neither lane
/// may stall: messages both ways after the lie arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_a_huge_reported_head_neither_skips_logs_nor_stalls_the_lanes() {
    let mut v = Verdict::new("EVM: huge reported head");
    let mut s = EvmScene::up(EvmLiar::Anvil).await;
    let away = s.away.clone();
    let huge = 1_000_000_000_000u64;
    let rules = s.hostile.fake_head(huge);
    assert!(
        s.hostile.wait_applied(rules[1], 3, LIE_READ).await,
        "the relayer never asked {away}'s block number"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.hostile.clear();
    eprintln!(
        "{away} reported head {huge} in {} eth_blockNumber answers",
        s.hostile.applied(rules[1])
    );
    s.send_both_ways().await;
    s.check_both_ways(&mut v).await;
    // The log cursor: the highest `fromBlock` the relayer asked logs of.
    let head = {
        use alloy::providers::Provider;
        xrelay::devnet::evm::signing_provider(&s.evm.anvil.url(), &s.evm.user)
            .unwrap()
            .get_block_number()
            .await
            .unwrap()
    };
    let asked = s
        .hostile
        .seen("eth_getLogs")
        .iter()
        .filter_map(|c| c.params[0]["fromBlock"].as_str())
        .filter_map(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        .max()
        .unwrap_or(1);
    v.check(
        asked.saturating_sub(1) <= head,
        format!(
            "{away}'s log cursor {} never went past its real head {head}",
            asked.saturating_sub(1)
        ),
    );
    let suspect = s.relayer.metric_sum(
        "xrelay_claims_refused_total",
        &[&format!("chain=\"{away}\""), "reason=\"suspect_head\""],
    );
    v.check(
        suspect >= 1.0,
        format!(
            "xrelay_claims_refused_total{{chain=\"{away}\",reason=\"suspect_head\"}} = {suspect} (>= 1)"
        ),
    );
    v.done();
}

/// The EVM variant of (d): the devnet chain's endpoint, host of the client of the anvil
/// chain, reports that its client accepted an anvil block anvil never produced (a
/// `client_updated` event, the update in its block attested by a key outside the
/// committee) and serves that client frozen. The relayer's own client does not verify the
/// attestation, so it counts the report as unconfirmed and freezes nothing; once the lie
/// stops, messages flow both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_a_fake_conflicting_update_and_a_fake_frozen_client_freeze_nothing() {
    use xrelay_light_client::evm::attest::{Attestation, Attested};
    use xrelay_light_client::evm::client::EvmUpdate;
    use xrelay_light_client::{Hash32, SigningKey};

    let mut v = Verdict::new("EVM: fake client update and frozen client");
    let mut s = EvmScene::up(EvmLiar::Home).await;
    let (home, away) = (s.home.clone(), s.away.clone());
    let verified =
        s.relayer
            .metric(&format!("xrelay_light_client_height{{chain=\"{away}\"}}")) as u64;
    assert!(verified >= 1, "the relayer verified no block of {away}");
    let forged = Attested::sign(
        Attestation {
            chain_id: away.clone(),
            height: verified,
            block_hash: Hash32([0x5a; 32]),
            state_root: Hash32([0xa5; 32]),
            time_ms: 1,
        },
        &[SigningKey::from_seed("hostile attester", 0)],
    );
    let at = s.net.nodes[0].status().await.unwrap().latest_height + 2;
    let update = Tx::Relay(RelayTx::UpdateEvmClient {
        chain: away.clone(),
        updates: vec![EvmUpdate::Attested(forged.clone())],
    });
    let event = s.hostile.inject_events_once(vec![fake_client_updated(
        at,
        &away,
        &[(verified, forged.attestation.block_hash)],
    )]);
    let in_block = s.hostile.add_to_block(at, &update);
    let frozen = s.hostile.install(Rule::rewrite_when(
        "evm_client",
        Times::UntilCleared,
        |_, answer| frozen_evm_client(answer),
    ));
    assert!(
        s.hostile.wait_applied(event, 1, LIE_READ).await,
        "the relayer never read {home}'s events at {at}"
    );
    // A message from anvil makes the relayer read its host's client of anvil: frozen, while
    // the lie lasts.
    s.send_from_evm(b"during the lie").await;
    let unconfirmed = format!(
        "xrelay_misbehaviour_unconfirmed_total{{chain=\"{away}\",reason=\"not_verified\"}}"
    );
    let deadline = Instant::now() + LIE_READ;
    while s.relayer.metric(&unconfirmed) < 1.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    v.check(
        s.relayer.metric(&unconfirmed) >= 1.0,
        format!("the report was judged by the relayer's own client ({unconfirmed} >= 1)"),
    );
    v.check(
        s.hostile.wait_applied(frozen, 1, LIE_READ).await,
        format!("the relayer read {home}'s client of {away}, served frozen"),
    );
    eprintln!(
        "{home} served: an update of its client of {away} to a forged block at {verified} (event at {at}; in block_txs {} times), its client of {away} frozen ({} answers)",
        s.hostile.applied(in_block),
        s.hostile.applied(frozen)
    );
    s.hostile.clear();
    s.send_both_ways().await;
    s.check_both_ways(&mut v).await;
    let state = s.net.nodes[0].evm_client_state(&away).await.unwrap();
    v.check(
        state.is_some_and(|c| !c.is_frozen()),
        format!("{home}'s client of {away} is not frozen"),
    );
    v.done();
}
