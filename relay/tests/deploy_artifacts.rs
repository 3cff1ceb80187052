//! The deployment artifacts in `deploy/` checked against the tools that read them and the
//! code they describe: promtool (alert rules, their unit tests, the Prometheus config, the
//! dashboard's queries), docker-compose (the demo stack), the relayer's metric families
//! (alerts, PrometheusRule and dashboard may name no other), the PrometheusRule against
//! alerts.yml, and the relayer configs against `xrelay config validate`.
//!
//! promtool, docker-compose and PyYAML (YAML is read through it) come from Debian packages
//! that `scripts/lib.sh` installs (`scripts/test`, `.ci/run`); without them these tests fail
//! and say so.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("relay/ has a parent")
        .to_path_buf()
}

fn deploy(rel: &str) -> PathBuf {
    repo().join("deploy").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` on `PATH`, or a failure naming the Debian package that provides it.
fn tool(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH. It comes from the Debian package `{package}`, which \
                 scripts/lib.sh installs (run ./scripts/test, or: \
                 sudo apt-get install --no-install-recommends {package})"
            )
        })
}

/// Runs `cmd`; panics with its output unless it succeeds. Returns stdout.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A Python 3 that has PyYAML: Debian's (python3-yaml, also a dependency of docker-compose)
/// first, then whatever `python3` is on PATH.
fn python_with_yaml() -> PathBuf {
    let candidates = [PathBuf::from("/usr/bin/python3"), PathBuf::from("python3")];
    candidates
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import yaml"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "no python3 with PyYAML: these tests read YAML through it. scripts/lib.sh \
                 installs the Debian package python3-yaml (sudo apt-get install python3-yaml)"
            )
        })
}

/// Every document of a YAML file, as JSON values.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let json = run(
        Command::new(python_with_yaml()).args([
            "-c",
            "import json, sys, yaml\n\
             json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
            path.to_str().expect("UTF-8 path"),
        ]),
        &format!("parsing {} as YAML", path.display()),
    );
    serde_json::from_str(&json).expect("PyYAML's JSON")
}

fn yaml_document(path: &Path) -> Value {
    let mut docs = yaml_documents(path);
    assert_eq!(docs.len(), 1, "{}: one YAML document", path.display());
    docs.remove(0)
}

fn promtool() -> PathBuf {
    tool("promtool", "prometheus")
}

#[test]
fn alert_rules_their_unit_tests_and_the_prometheus_config_pass_promtool() {
    let promtool = promtool();
    // From another directory: rule_files are resolved relative to the files themselves.
    let cwd = std::env::temp_dir();
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
        ["check", "config", "prometheus.yml"],
    ] {
        let file = deploy("prometheus").join(args[2]);
        run(
            Command::new(&promtool)
                .current_dir(&cwd)
                .args(&args[..2])
                .arg(&file),
            &format!("promtool {} {} {}", args[0], args[1], file.display()),
        );
    }
}

/// The `xrelay_…` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("xrelay_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end.max(1)..];
    }
    names
}

#[test]
fn every_metric_the_alerts_and_dashboard_name_is_one_the_relayer_exports() {
    let metrics = xrelay::metrics::Metrics::new();
    let known: BTreeSet<&str> = metrics.names().iter().map(String::as_str).collect();
    let exists = |name: &str| {
        known.contains(name)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|family| known.contains(family))
            })
    };
    for (file, at_least) in [
        ("prometheus/alerts.yml", 8),
        ("k8s/prometheusrule.yaml", 8),
        ("grafana/dashboards/xrelay.json", 20),
    ] {
        let names = metric_names(&read(&deploy(file)));
        let unknown: Vec<&String> = names.iter().filter(|n| !exists(n)).collect();
        assert!(
            unknown.is_empty(),
            "deploy/{file} names metrics the relayer does not export: {unknown:?}\n\
             exported (xrelay::metrics::Metrics::names): {known:?}"
        );
        assert!(
            names.len() >= at_least,
            "deploy/{file}: only {names:?} found; is the scan broken?"
        );
    }
}

#[test]
fn the_prometheus_rule_carries_exactly_the_alert_rules() {
    let alerts = yaml_document(&deploy("prometheus/alerts.yml"));
    let rule = yaml_document(&deploy("k8s/prometheusrule.yaml"));
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert!(alerts["groups"].as_array().is_some_and(|g| !g.is_empty()));
    assert!(
        rule["spec"]["groups"] == alerts["groups"],
        "deploy/k8s/prometheusrule.yaml spec.groups differ from deploy/prometheus/alerts.yml \
         groups: copy alerts.yml's groups under spec"
    );
}

#[test]
fn the_compose_stack_is_valid() {
    let compose_file = deploy("compose/compose.yaml");
    run(
        Command::new(tool("docker-compose", "docker-compose"))
            .args(["-f"])
            .arg(&compose_file)
            .args(["config", "-q"]),
        "docker-compose config -q",
    );
    // Every bind-mounted file and folder exists (compose does not check at `config`).
    let compose = yaml_document(&compose_file);
    let dir = compose_file.parent().unwrap();
    let services = compose["services"].as_object().expect("services");
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().and_then(|v| v.split(':').next()).unwrap();
            if source.starts_with('.') {
                assert!(
                    dir.join(source).exists(),
                    "service {name} mounts {source}, which does not exist"
                );
            }
        }
    }
    for relayer in ["relayer-1", "relayer-2", "relayer-3"] {
        assert!(services.contains_key(relayer), "{relayer} in compose.yaml");
    }
}

#[test]
fn the_dashboard_is_valid_json_with_unique_panel_ids_and_valid_queries() {
    let path = deploy("grafana/dashboards/xrelay.json");
    let dashboard: Value = serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let mut panels = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        panels.push(p);
        // Collapsed rows hold their panels inside.
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    let mut ids = BTreeSet::new();
    for p in &panels {
        let id = p["id"].as_u64().expect("every panel has a numeric id");
        assert!(ids.insert(id), "panel id {id} is used twice");
    }
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(variables.contains(&"DS_PROMETHEUS"), "{variables:?}");

    // Every query parses as PromQL: as recording rules with Grafana's variables filled in.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut queries = 0;
    for p in &panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            assert_eq!(
                t["datasource"]["uid"], "${DS_PROMETHEUS}",
                "panel {} uses another datasource",
                p["title"]
            );
            let expr = t["expr"].as_str().expect("every target has an expr");
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*");
            queries += 1;
            rules.push_str(&format!(
                "      - record: dashboard:query{queries}\n        expr: {}\n",
                serde_json::to_string(&expr).unwrap()
            ));
        }
    }
    assert!(queries >= 20, "only {queries} queries");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard_queries.yml");
    std::fs::write(&file, rules).unwrap();
    run(
        Command::new(promtool()).args(["check", "rules"]).arg(&file),
        "promtool check rules on the dashboard's queries",
    );
}

/// `xrelay config validate` on `config` with `env` (and no inherited `XRELAY_…` variables).
fn validate_config(config: &Path, env: &[(&str, String)]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xrelay"));
    for (key, _) in std::env::vars() {
        if key.starts_with("XRELAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["config", "validate", "--config"])
        .arg(config)
        .envs(env.iter().map(|(k, v)| (*k, v)));
    run(
        &mut cmd,
        &format!("xrelay config validate {}", config.display()),
    );
}

#[test]
fn the_relayer_configs_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    // The compose relayers get mesh.allowed and mesh.peers from the mesh.env devnet-init
    // writes: the same variables, with fresh identities.
    let peers: Vec<String> = (0..3)
        .map(|i| {
            let key =
                xrelay::mesh::load_or_create_identity(&dir.path().join(format!("id{i}"))).unwrap();
            key.public().to_peer_id().to_string()
        })
        .collect();
    let allowed = serde_json::to_string(&peers).unwrap();
    for (i, _) in peers.iter().enumerate() {
        let others: Vec<String> = peers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, p)| format!("/ip4/172.29.64.1{}/tcp/9465/p2p/{p}", j + 1))
            .collect();
        validate_config(
            &deploy(&format!("compose/relayers/relayer-{}.toml", i + 1)),
            &[
                ("XRELAY_MESH__ALLOWED", allowed.clone()),
                (
                    "XRELAY_MESH__PEERS",
                    serde_json::to_string(&others).unwrap(),
                ),
            ],
        );
    }
    // The Kubernetes ConfigMap's relayer.toml as it is.
    let config_map = yaml_document(&deploy("k8s/configmap.yaml"));
    let toml = config_map["data"]["relayer.toml"]
        .as_str()
        .expect("data.relayer.toml");
    let file = dir.path().join("k8s-relayer.toml");
    std::fs::write(&file, toml).unwrap();
    validate_config(&file, &[]);
}
