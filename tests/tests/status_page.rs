//! The relayer's status page in real headless Chromium: two meshed relayers on a devnet of
//! two chains relay echo messages both ways; then `tests/browser/status_page.cjs`
//! (playwright-core driving Debian's chromium) loads `/` of the first relayer, checks the
//! lanes, light clients, chains, mesh, recent messages, a message's timeline found by id,
//! live refresh, and that the page asks nothing of anyone but the relayer; it saves a
//! screenshot. `scripts/lib.sh` installs chromium and playwright-core.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use xrelay_tests::*;

const BLOCK_MS: u64 = 200;

/// Where `scripts/lib.sh` puts playwright-core.
fn node_modules() -> PathBuf {
    let tools = std::env::var_os("XRELAY_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/xrelay-tools")
        });
    tools.join("node_modules")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_lanes_clients_mesh_and_a_message_timeline_in_chromium() {
    let modules = node_modules();
    assert!(
        modules.join("playwright-core").exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "playwright-core ({}) or /usr/bin/chromium missing: run scripts/test, which installs them",
        modules.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, BLOCK_MS, &["--relayers", "2"]);
    let first = Relayer::start(&net.dir.join("relayer-1.toml"), &[]);
    let _second = Relayer::start(&net.dir.join("relayer-2.toml"), &[]);

    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    let mut tx = Sender::default();
    let mut sent = Vec::new();
    for i in 0..3u8 {
        sent.push(
            tx.send(&net.nodes[0], &a, &user(0), echo(&b, &[b'a', i]))
                .await,
        );
    }
    sent.push(
        tx.send(&net.nodes[1], &b, &user(1), echo(&a, b"back"))
            .await,
    );
    let settled = wait_settled(&net, &sent, Duration::from_secs(60)).await;
    assert!(
        settled.values().all(|s| s == "acknowledged"),
        "all acknowledged: {settled:?}"
    );

    // The id of a settled message, from the API, once the relayer has recorded its ack,
    // and the first status snapshot that includes it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let (_, body) = first.get("/api/v1/messages?status=acknowledged&limit=10");
        let records: serde_json::Value = serde_json::from_str(&body).unwrap();
        let hit = records.as_array().and_then(|r| {
            r.iter()
                .find(|m| m["message"]["source"] == a.as_str())
                .map(|m| m["id"].as_str().unwrap().to_string())
        });
        let (_, status) = first.get("/api/v1/status");
        let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
        let acked = status["lanes"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["src_chain"] == a.as_str()))
            .map_or(0, |l| l["messages"]["acknowledged"].as_u64().unwrap_or(0));
        if let (Some(id), true) = (hit, acked >= 3) {
            break id;
        }
        assert!(Instant::now() < deadline, "relayer never recorded the acks");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Kept after the test, in the target directory's scratch space.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/status_page.cjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}", first.api))
        .arg(&id)
        .arg(&shot)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser checks failed: {stderr}\n{stdout}"
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON report");
    println!("status page: {seen}\nscreenshot: {}", shot.display());
    assert_eq!(
        seen["timeline"],
        serde_json::json!(["pending", "delivered", "acknowledged"])
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
