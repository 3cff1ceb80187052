//! Logs of a real relayer process: JSON lines with `--log-format json`, and the filter
//! changed at run time through the admin API (no restart), refused when it does not parse
//! or the bearer token is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xrelay_tests::*;

const TOKEN: &str = "log-test-token";

/// An HTTP/1.0 request with a text body: (status, body).
fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

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

    let (code, body) = request(&api, "GET", "/api/v1/admin/log-level", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""filter":"warn""#), "{body}");
    // Without the token, or with a filter that does not parse: refused, nothing changes.
    let (code, _) = request(&api, "PUT", "/api/v1/admin/log-level", None, "debug");
    assert_eq!(code, 401);
    let (code, body) = request(
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

    let (code, body) = request(
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
    let (code, _) = request(&api, "PUT", "/api/v1/admin/log-level", Some(TOKEN), "warn");
    assert_eq!(code, 200);
    let (_, body) = request(&api, "GET", "/api/v1/admin/log-level", Some(TOKEN), "");
    assert!(body.contains(r#""filter":"warn""#), "{body}");
}
