//! `xrelay devnet up`: three chains as child processes, each with a client of every other,
//! the relayer config written, and every child stopped when the devnet is interrupted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xrelay_devchain::node::client::NodeClient;
use xrelay_light_client::ChainId;

fn alive(pid: u32) -> bool {
    // Signal 0 checks existence; a zombie still counts, so look at /proc too.
    kill(Pid::from_raw(pid as i32), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_chains_up_with_clients_and_a_relayer_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Command::new(env!("CARGO_BIN_EXE_xrelay"))
        .args([
            "devnet",
            "up",
            "--chains",
            "3",
            "--block-time-ms",
            "150",
            "--out",
        ])
        .arg(dir.path())
        .args(["--fault", "chain-3=withhold:100:1000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let ready = line.starts_with("ready");
        printed.push(line);
        if ready {
            break;
        }
    }
    assert!(
        printed.last().is_some_and(|l| l.starts_with("ready")),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("chain-3") && l.contains("FAULT withhold")),
        "{printed:?}"
    );

    let devnet: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("devnet.json")).unwrap()).unwrap();
    let chains = devnet["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 3);
    let mut pids = Vec::new();
    for c in chains {
        let id: ChainId = c["chain_id"].as_str().unwrap().parse().unwrap();
        let rpc = NodeClient::new(c["rpc"].as_str().unwrap(), Duration::from_secs(10)).unwrap();
        assert_eq!(rpc.status().await.unwrap().chain_id, id);
        for other in chains.iter().filter(|o| o["chain_id"] != c["chain_id"]) {
            let other: ChainId = other["chain_id"].as_str().unwrap().parse().unwrap();
            let client = rpc.client_state(&other).await.unwrap();
            assert!(
                client.is_some_and(|s| s.chain_id() == &other),
                "{id} has no client of {other}"
            );
        }
        pids.push(c["pid"].as_u64().unwrap() as u32);
    }
    let config: toml::Table = std::fs::read_to_string(dir.path().join("relayer.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let listed: Vec<&str> = config["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["chain-1", "chain-2", "chain-3"]);
    assert_eq!(
        config["links"].as_array().unwrap().len(),
        3,
        "every pair linked"
    );
    assert!(
        dir.path().join("chain-1/data").is_dir() && dir.path().join("chain-1/node.log").is_file()
    );

    // Interrupt: the devnet stops its children and exits cleanly.
    kill(Pid::from_raw(up.id() as i32), Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = up.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "devnet up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    for pid in pids {
        assert!(!alive(pid), "node {pid} outlived the devnet");
    }
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (args, why) in [
        (vec!["--chains", "1"], "at least 2"),
        (vec!["--fault", "chain-9=withhold"], "chain-9"),
        (vec!["--fault", "chain-1=sleepy"], "unknown fault"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xrelay"))
            .args(["devnet", "up", "--out"])
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(why),
            "{args:?}: {stderr}"
        );
    }
}
