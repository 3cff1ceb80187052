//! Logs of a real relayer process: JSON lines with `--log-format json`, and the filter
//! changed at run time through the admin API (no restart), refused when it does not parse
//! or the bearer token is missing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xrelay_tests::*;

const TOKEN: &str = "log-test-token";

/// JSON log lines of `path` at `level`.
fn lines_at(path: &std::path::Path, level: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .filter(|v| v["level"] == level)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_and_the_log_filter_changes_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, 150, &[]);
    let log = dir.path().join("relayer.log");
    let mut child = Command::new(xrelay_bin())
        .args(["start", "--log-format", "json", "--config"])
        .arg(net.relayer_config())
        .env("RUST_LOG", "warn")
        .env("XRELAY_API__LISTEN", "127.0.0.1:0")
        .env("XRELAY_API__ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("xrelay start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _relayer = Proc { child };
    let api: serde_json::Value = serde_json::from_str(&line).unwrap();
    let api = api["api"].as_str().unwrap().to_string();

    let (code, body) = http_request(&api, "GET", "/api/v1/admin/log-level", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""filter":"warn""#), "{body}");
    // Without the token, or with a filter that does not parse: refused, nothing changes.
    let (code, _) = http_request(&api, "PUT", "/api/v1/admin/log-level", None, "debug");
    assert_eq!(code, 401);
    let (code, body) = http_request(
        &api,
        "PUT",
        "/api/v1/admin/log-level",
        Some(TOKEN),
        "xrelay=lots",
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("bad log filter"), "{body}");
    assert!(
        lines_at(&log, "DEBUG").is_empty(),
        "no debug lines under `warn`"
    );

    let (code, body) = http_request(
        &api,
        "PUT",
        "/api/v1/admin/log-level",
        Some(TOKEN),
        "warn,xrelay=debug",
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("xrelay=debug"), "{body}");
    // Messages make the relay core log at debug level; they must now appear, as JSON.
    let mut tx = Sender::default();
    let (a, b) = (net.ids[0].clone(), net.ids[1].clone());
    tx.send(&net.nodes[0], &a, &user(0), echo(&b, b"log me"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let debug = lines_at(&log, "DEBUG");
        if let Some(l) = debug.first() {
            assert!(
                l["target"].as_str().unwrap_or("").starts_with("xrelay"),
                "{l}"
            );
            assert!(l["timestamp"].is_string() && l["fields"].is_object(), "{l}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no debug line after the filter changed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Back to warn: the change log line itself was at info, so it is there only as JSON.
    let (code, _) = http_request(&api, "PUT", "/api/v1/admin/log-level", Some(TOKEN), "warn");
    assert_eq!(code, 200);
    let (_, body) = http_request(&api, "GET", "/api/v1/admin/log-level", Some(TOKEN), "");
    assert!(body.contains(r#""filter":"warn""#), "{body}");
}
