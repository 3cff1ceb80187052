//! The relayer mesh with real processes: three relayers of one consortium share the
//! lanes, each message is submitted about once, a dead member's share is taken over (also
//! while a hostile member replays its old heartbeats), an outsider gets no work, and a
//! partition costs duplicates, never messages.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use xrelay::mesh::{Membership, PeerId};
use xrelay_devchain::tx::Tx;
use xrelay_light_client::SigningKey;
use xrelay_protocol::{RelayTx, SourceProof};
use xrelay_tests::*;

const BLOCK_MS: u64 = 150;

/// Relayer `i`'s config written by `devnet up --relayers K`.
fn config(net: &Devnet, i: u32) -> std::path::PathBuf {
    net.dir.join(format!("relayer-{i}.toml"))
}

/// Waits until every relayer sees `n` live members.
async fn wait_mesh(relayers: &[&Relayer], n: usize) {
    let deadline = Instant::now() + WAIT;
    for r in relayers {
        loop {
            let (_, body) = r.get("/api/v1/mesh");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["live"].as_array().map(|l| l.len()) == Some(n) {
                break;
            }
            assert!(Instant::now() < deadline, "mesh did not form: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Broadcasts `n` echo messages from chain 0 to chain 1, from 16 accounts.
async fn flood(net: &Devnet, n: u32) {
    let mut tx = Sender::default();
    let (a, b) = (&net.ids[0], &net.ids[1]);
    for i in 0..n {
        let key = SigningKey::from_seed("mesh-test", i % 16);
        tx.broadcast(&net.nodes[0], a, &key, echo(b, &i.to_be_bytes()))
            .await;
    }
}

/// Messages received on chain 1 from chain 0, and receive items submitted for them
/// (counted from the chain's blocks).
async fn received_and_submitted(net: &Devnet) -> (u64, u64) {
    let (a, node) = (&net.ids[0], &net.nodes[1]);
    let head = node.status().await.unwrap().latest_height;
    let (mut received, mut submitted) = (HashSet::new(), 0u64);
    for h in 1..=head {
        for t in node.block_txs(h).await.unwrap() {
            if let Tx::Relay(RelayTx::Recv {
                source, messages, ..
            }) = t
            {
                if source == *a {
                    submitted += messages
                        .iter()
                        .filter(|m| m.shows == SourceProof::Committed)
                        .count() as u64;
                }
            }
        }
    }
    let mut h = 0;
    while h < head {
        let to = head.min(h + 1_000);
        for e in node.events(h + 1, to).await.unwrap() {
            if let xrelay_devchain::Event::MessageReceived { message, .. } = e.event {
                if message.source == *a {
                    received.insert(message.sequence);
                }
            }
        }
        h = to;
    }
    (received.len() as u64, submitted)
}

async fn wait_received(net: &Devnet, n: u64, wait: Duration) -> Duration {
    let start = Instant::now();
    let (a, b) = (&net.ids[0], &net.ids[1]);
    loop {
        // The lane's next expected sequence on b says how many arrived, in one call.
        let v: serde_json::Value = net.nodes[1]
            .call(
                "message_status",
                serde_json::json!({"source": a, "destination": b, "sequence": n}),
            )
            .await
            .unwrap();
        if v["received"] == true {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < wait,
            "message {n} not received within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_meshed_relayers_submit_each_message_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "3"]);
    let relayers: Vec<Relayer> = (1..=3)
        .map(|i| Relayer::start(&config(&net, i), &[]))
        .collect();
    wait_mesh(&relayers.iter().collect::<Vec<_>>(), 3).await;
    flood(&net, 2_000).await;
    wait_received(&net, 2_000, Duration::from_secs(120)).await;
    let (received, submitted) = received_and_submitted(&net).await;
    eprintln!("mesh on: 3 relayers, 2000 messages: received {received}, receive items submitted {submitted} ({:.3} per message)", submitted as f64 / 2000.0);
    assert_eq!(received, 2_000, "every message delivered");
    assert_eq!(duplicates(&net).await, 0, "none delivered twice");
    assert!(
        submitted as f64 <= 1.05 * 2_000.0,
        "{submitted} receive submissions for 2000 messages"
    );
    let mesh_peers: f64 = relayers.iter().map(|r| r.metric("xrelay_mesh_peers")).sum();
    assert_eq!(mesh_peers, 6.0, "each sees the two others");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_unmeshed_relayers_race_and_still_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "3"]);
    // The same three relayers with mesh.enabled = false: each does all the work.
    let relayers: Vec<Relayer> = (1..=3)
        .map(|i| Relayer::start(&config(&net, i), &[("XRELAY_MESH__ENABLED", "false")]))
        .collect();
    flood(&net, 2_000).await;
    wait_received(&net, 2_000, Duration::from_secs(120)).await;
    let (received, submitted) = received_and_submitted(&net).await;
    eprintln!("mesh off: 3 relayers, 2000 messages: received {received}, receive items submitted {submitted} ({:.3} per message)", submitted as f64 / 2000.0);
    assert_eq!(received, 2_000);
    assert_eq!(
        duplicates(&net).await,
        0,
        "the chain delivers once whatever the relayers do"
    );
    drop(relayers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_members_share_is_taken_over_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "3"]);
    let mut relayers: Vec<Option<Relayer>> = (1..=3)
        .map(|i| Some(Relayer::start(&config(&net, i), &[])))
        .collect();
    wait_mesh(&relayers.iter().flatten().collect::<Vec<_>>(), 3).await;
    // Kill the member that owns the lane's first window before the burst: its share must
    // be taken over.
    let devnet: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net.dir.join("devnet.json")).unwrap()).unwrap();
    let peers: Vec<PeerId> = devnet["relayers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["peer_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let first =
        xrelay::mesh::work_item("deliver", net.ids[0].as_str(), net.ids[1].as_str(), 1, 500);
    let owner = (0..3)
        .find(|&k| {
            Membership {
                me: peers[k],
                live: peers.clone(),
                allowed: peers.clone(),
                enabled: true,
                unserved: Default::default(),
            }
            .owns(&first)
        })
        .unwrap();
    relayers[owner].take().unwrap().proc.kill_nine();
    let killed = Instant::now();
    flood(&net, 1_500).await;
    let flooded = killed.elapsed();
    let grace = Duration::from_millis(3_000);
    // Its share (and everything else) must be delivered within grace + 5 s of the kill,
    // counted from when the messages exist.
    let waited = wait_received(&net, 1_500, grace + Duration::from_secs(5)).await;
    eprintln!("kill -9 of one member: all 1500 delivered {:?} after the kill ({flooded:?} of sending, then {waited:?}); grace {grace:?}", killed.elapsed());
    let takeovers: f64 = relayers
        .iter()
        .flatten()
        .map(|r| r.metric("xrelay_mesh_takeovers_total"))
        .sum();
    assert!(takeovers >= 1.0, "no takeover counted");
    let (received, _) = received_and_submitted(&net).await;
    assert_eq!(received, 1_500);
    assert_eq!(duplicates(&net).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_heartbeats_of_a_stopped_member_do_not_keep_its_windows_from_being_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "3"]);
    let devnet: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net.dir.join("devnet.json")).unwrap()).unwrap();
    let members = devnet["relayers"].as_array().unwrap();
    let peers: Vec<PeerId> = members
        .iter()
        .map(|r| r["peer_id"].as_str().unwrap().parse().unwrap())
        .collect();
    // Relayer 3's identity and mesh port belong to a hostile member: allowed, silent, and
    // keeping every heartbeat it is sent.
    let hostile = xrelay_tests::mesh_replay::HeartbeatReplayer::start(
        &net.dir.join("relayer-3").join("identity.key"),
        format!("/ip4/127.0.0.1/tcp/{}", members[2]["mesh_port"])
            .parse()
            .unwrap(),
    );
    assert_eq!(hostile.peer_id, peers[2]);
    // The victim is whichever of relayers 1 and 2 owns the lane's first window when both
    // are live: while it looks live to the other, that one stops there.
    let first =
        xrelay::mesh::work_item("deliver", net.ids[0].as_str(), net.ids[1].as_str(), 1, 500);
    let pair = vec![peers[0], peers[1]];
    let victim = (0..2)
        .find(|&k| {
            Membership {
                me: peers[k],
                live: pair.clone(),
                allowed: peers.clone(),
                enabled: true,
                unserved: Default::default(),
            }
            .owns(&first)
        })
        .unwrap();
    let survivor = 1 - victim;
    // The victim runs for a while (the hostile member keeps 30 of its heartbeats, 15 s of
    // them), then is killed.
    let running = Relayer::start(&config(&net, victim as u32 + 1), &[]);
    hostile
        .wait_kept(peers[victim], 30, Duration::from_secs(60))
        .await;
    running.proc.kill_nine();
    // The survivor starts and the hostile member sends it the victim's heartbeats, one a
    // second: each would make the victim look live for the grace period (3 s), so for 30 s.
    let other = Relayer::start(&config(&net, survivor as u32 + 1), &[]);
    hostile
        .replay(peers[victim], peers[survivor], Duration::from_secs(1))
        .await;
    let deadline = Instant::now() + WAIT;
    while hostile.released() < 2 {
        assert!(
            Instant::now() < deadline,
            "the hostile member never replayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replaying = Instant::now();
    flood(&net, 1_000).await;
    // All delivered while the replay goes on: the survivor did the victim's windows.
    let waited = wait_received(&net, 1_000, Duration::from_secs(10)).await;
    let released = hostile.released();
    eprintln!("replayed heartbeats of a killed member: {released} sent again; all 1000 delivered {:?} after the replay began ({waited:?} after the sends)", replaying.elapsed());
    assert!(
        released < 30,
        "the replay ended before the messages were delivered: it proved nothing"
    );
    let refused = other.metric_sum(
        "xrelay_mesh_heartbeats_refused_total",
        &["reason=\"stale\""],
    );
    assert!(
        refused >= 2.0,
        "replayed heartbeats were not refused as stale: {refused}"
    );
    let (_, body) = other.get("/api/v1/mesh");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !v["live"]
            .as_array()
            .unwrap()
            .contains(&serde_json::Value::from(peers[victim].to_string())),
        "the killed member counts as live: {body}"
    );
    assert!(other.metric("xrelay_mesh_takeovers_total") >= 1.0);
    let (received, _) = received_and_submitted(&net).await;
    assert_eq!(received, 1_000);
    assert_eq!(duplicates(&net).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayer_not_on_the_allow_list_gets_no_work() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "2"]);
    // The intruder copies relayer-1's config with its own identity and data directory.
    let text = std::fs::read_to_string(config(&net, 1)).unwrap();
    let intruder_dir = dir.path().join("intruder");
    let text = text
        .replace(
            &dir.path()
                .join("relayer-1")
                .join("identity.key")
                .display()
                .to_string(),
            &intruder_dir.join("identity.key").display().to_string(),
        )
        .replace(
            &format!("\"{}\"", dir.path().join("relayer-1").display()),
            &format!("\"{}\"", intruder_dir.display()),
        );
    let listen = text
        .lines()
        .find(|l| l.trim_start().starts_with("listen = \"/ip4"))
        .unwrap()
        .to_string();
    let text = text.replace(&listen, "listen = \"/ip4/127.0.0.1/tcp/0\"");
    let intruder_cfg = dir.path().join("intruder.toml");
    std::fs::write(&intruder_cfg, text).unwrap();
    let r1 = Relayer::start(&config(&net, 1), &[]);
    let r2 = Relayer::start(&config(&net, 2), &[]);
    let intruder = Relayer::start(&intruder_cfg, &[]);
    wait_mesh(&[&r1, &r2], 2).await;
    flood(&net, 300).await;
    wait_received(&net, 300, Duration::from_secs(60)).await;
    let deadline = Instant::now() + WAIT;
    while r1.metric("xrelay_mesh_rejected_peers_total")
        + r2.metric("xrelay_mesh_rejected_peers_total")
        < 1.0
    {
        assert!(Instant::now() < deadline, "the intruder was never refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        intruder.metric_sum("xrelay_submissions_total", &[]),
        0.0,
        "the intruder submitted something"
    );
    let (_, body) = intruder.get("/api/v1/mesh");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !v["live"].as_array().unwrap().contains(&v["peer_id"]),
        "the intruder counts itself a member: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_costs_duplicates_never_messages() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "3"]);
    let token = [("XRELAY_API__ADMIN_TOKEN", "drill")];
    let relayers: Vec<Relayer> = (1..=3)
        .map(|i| Relayer::start(&config(&net, i), &token))
        .collect();
    wait_mesh(&relayers.iter().collect::<Vec<_>>(), 3).await;
    // Relayer 1 loses the others (it still reaches the chains) for eight seconds.
    let mut s = std::net::TcpStream::connect(&relayers[0].api).unwrap();
    use std::io::{Read, Write};
    write!(s, "POST /api/v1/admin/mesh/isolate?ms=8000 HTTP/1.0\r\nAuthorization: Bearer drill\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"),
        "{resp}"
    );
    flood(&net, 1_000).await;
    wait_received(&net, 1_000, Duration::from_secs(120)).await;
    let (received, submitted) = received_and_submitted(&net).await;
    eprintln!("partition: received {received}, receive items submitted {submitted}");
    assert_eq!(received, 1_000, "nothing lost");
    assert_eq!(duplicates(&net).await, 0, "nothing delivered twice");
}
