//! The operator and dApp commands against a real devnet: `config validate`, `keys`,
//! `tx send|transfer`, `clear`, `query`, `health-check`, and the admin API's token.

use std::path::Path;
use std::process::{Command, Output};

use xrelay::devnet::{coin, user_key};
use xrelay_tests::*;

fn xrelay(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(xrelay_bin());
    cmd.args(args).env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("xrelay runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn post(addr: &str, path: &str, token: Option<&str>) -> u16 {
    http_request(addr, "POST", path, token, "").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_dapps_drive_the_relay_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::up(dir.path(), 2, 150, &[]);
    let config = net.relayer_config();
    let cfg = config.to_str().unwrap();
    let keys = dir.path().join("keys");
    let keys = keys.to_str().unwrap();

    let out = ok(&xrelay(&["config", "validate", "--config", cfg], &[]));
    assert!(out.contains("valid (2 chains, 1 links)"), "{out}");
    let bad = xrelay(
        &["config", "validate", "--config", cfg],
        &[("XRELAY_CHAINS__0__RPC", "[\"ftp://x\"]")],
    );
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("chains[0].rpc[0]")
    );
    assert!(ok(&xrelay(&["health-check", "--config", cfg], &[])).contains("healthy"));

    // A dApp key, imported from the environment and encrypted at rest.
    let secret = hex::encode(user_key(2).secret_bytes());
    let pass = [
        ("XRELAY_KEY_PASSPHRASE", "correct horse"),
        ("DAPP_SECRET", secret.as_str()),
    ];
    let out = ok(&xrelay(
        &[
            "keys",
            "add",
            "dapp",
            "--keystore",
            keys,
            "--import-hex-from-env",
            "DAPP_SECRET",
        ],
        &pass,
    ));
    assert!(out.contains(&hex::encode(user_key(2).address().0)), "{out}");
    assert!(!std::fs::read_to_string(Path::new(keys).join("dapp"))
        .unwrap()
        .contains(&secret));
    assert!(ok(&xrelay(&["keys", "list", "--keystore", keys], &[])).starts_with("dapp "));
    let wrong = xrelay(
        &[
            "tx",
            "send",
            "--config",
            cfg,
            "--from",
            "chain-1",
            "--to",
            "chain-2",
            "--payload",
            "x",
            "--key",
            "dapp",
            "--keystore",
            keys,
        ],
        &[("XRELAY_KEY_PASSPHRASE", "wrong")],
    );
    assert!(!wrong.status.success(), "a wrong passphrase must not sign");

    let ids = ok(&xrelay(
        &[
            "tx",
            "send",
            "--config",
            cfg,
            "--from",
            "chain-1",
            "--to",
            "chain-2",
            "--payload",
            "hello",
            "--count",
            "3",
            "--key",
            "dapp",
            "--keystore",
            keys,
        ],
        &pass,
    ));
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 3);
    let receiver = hex::encode(user_key(3).address().0);
    let transfer = ok(&xrelay(
        &[
            "tx",
            "transfer",
            "--config",
            cfg,
            "--from",
            "chain-2",
            "--to",
            "chain-1",
            "--amount",
            "42",
            "--receiver",
            &receiver,
            "--dev-account",
            "0",
        ],
        &[],
    ));
    assert_eq!(transfer.lines().count(), 1);

    // No relayer runs: `clear` relays everything pending and exits.
    let out = ok(&xrelay(&["clear", "--config", cfg], &[]));
    assert!(
        out.contains("chain-1 -> chain-2: pending 0  delivered (ack pending) 0"),
        "{out}"
    );
    let out = ok(&xrelay(
        &["query", "message", "--config", cfg, ids[0], "--json"],
        &[],
    ));
    let record: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(record["status"], "acknowledged");
    let out = ok(&xrelay(&["query", "message", "--config", cfg, ids[1]], &[]));
    assert!(
        out.contains("acknowledged") && out.contains("delivered") && out.contains("pending"),
        "{out}"
    );
    let v = voucher_balance(&net).await;
    assert_eq!(v, 42);
    let lanes = ok(&xrelay(&["query", "lanes", "--config", cfg, "--json"], &[]));
    assert!(lanes.contains("\"acknowledged\":3"), "{lanes}");
    assert!(ok(&xrelay(&["query", "pending", "--config", cfg], &[]))
        .starts_with("0 messages not settled"));

    // Admin endpoints: disabled without a token, 401 with a wrong one.
    let relayer = Relayer::start(&config, &[]);
    assert_eq!(
        post(
            &relayer.api,
            "/api/v1/admin/rescan/chain-1?from=1",
            Some("x")
        ),
        404
    );
    drop(relayer);
    let relayer = Relayer::start(&config, &[("XRELAY_API__ADMIN_TOKEN", "s3cret")]);
    assert_eq!(
        post(&relayer.api, "/api/v1/admin/rescan/chain-1?from=1", None),
        401
    );
    assert_eq!(
        post(
            &relayer.api,
            "/api/v1/admin/rescan/chain-1?from=1",
            Some("nope")
        ),
        401
    );
    assert_eq!(
        post(
            &relayer.api,
            "/api/v1/admin/rescan/chain-1?from=1",
            Some("s3cret")
        ),
        200
    );
    // Forward would skip events nobody read: refused.
    assert_eq!(
        post(
            &relayer.api,
            "/api/v1/admin/rescan/chain-1?from=100000000",
            Some("s3cret")
        ),
        400
    );
    // A rescan from genesis changes nothing: the events were seen.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(duplicates(&net).await, 0);
    assert!(ok(&xrelay(
        &["keys", "delete", "dapp", "--keystore", keys],
        &[]
    ))
    .contains("deleted"));
}

async fn voucher_balance(net: &Devnet) -> u128 {
    let v = xrelay_devchain::apps::transfer::voucher(&net.ids[1], &coin(&net.ids[1]));
    balance(&net.nodes[0], &v, &user_key(3)).await
}

/// `xrelay bench` end to end with two meshed relayers: the last line of stdout is one JSON
/// object with every key the interface promises, nothing lost or duplicated, and the
/// relayer figures read from real processes (non-zero CPU, verification and memory).
#[test]
fn bench_reports_its_figures_as_one_json_line() {
    let out = xrelay(
        &[
            "bench",
            "--messages",
            "300",
            "--rate",
            "300",
            "--relayers",
            "2",
            "--json",
        ],
        &[],
    );
    let stdout = ok(&out);
    let last = stdout.lines().last().expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    for key in [
        "messages",
        "throughput_msgs_per_s",
        "latency_ms_p50",
        "latency_ms_p90",
        "latency_ms_p99",
        "relayer_cpu_us_per_msg",
        "relayer_peak_rss_mb",
        "lost",
        "duplicated",
    ] {
        assert!(v.get(key).is_some_and(|x| x.is_number()), "{key} in {last}");
    }
    assert_eq!(v["messages"], 300);
    assert_eq!(v["relayers"], 2);
    assert_eq!(v["lost"], 0);
    assert_eq!(v["duplicated"], 0);
    assert_eq!(v["acknowledged"], 300);
    assert!(v["relayer_cpu_us_per_msg"].as_f64().unwrap() > 0.0);
    assert!(v["relayer_verify_us_per_msg"].as_f64().unwrap() > 0.0);
    assert!(v["relayer_peak_rss_mb"].as_f64().unwrap() > 1.0);
    let (p50, p99) = (
        v["latency_ms_p50"].as_u64().unwrap(),
        v["latency_ms_p99"].as_u64().unwrap(),
    );
    assert!(p50 > 0 && p50 <= p99, "{last}");
}

/// `xrelay verify evm-header` on a real QBFT block (Besu) from the light client's test data:
/// valid with its signers printed; any altered byte of a seal makes it invalid (exit 1).
#[test]
fn verify_evm_header_checks_real_qbft_seals_and_refuses_altered_ones() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../light-clients/tests/data/evm/qbft_besu_block_7528.hex");
    let hex = std::fs::read_to_string(data).unwrap();
    let hex = hex.trim();
    let out = xrelay(
        &[
            "verify",
            "evm-header",
            "--consensus",
            "qbft",
            "--header",
            hex,
        ],
        &[],
    );
    let text = ok(&out);
    assert!(text.contains("verdict:    VALID"), "{text}");
    assert_eq!(text.matches("signer:").count(), 3, "{text}");
    // Alter a byte of the state root (after the 3-byte list prefix, parent hash, ommers
    // hash and beneficiary): the seals no longer recover to the validators.
    let mut altered: Vec<u8> = hex.bytes().collect();
    let at = 2 * (3 + 33 + 33 + 21 + 1) + 8;
    altered[at] = if altered[at] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    let out = xrelay(
        &[
            "verify",
            "evm-header",
            "--consensus",
            "qbft",
            "--header",
            &altered,
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));
    let out = xrelay(
        &[
            "verify",
            "evm-header",
            "--consensus",
            "pow",
            "--header",
            hex,
        ],
        &[],
    );
    assert!(!out.status.success());
}
