//! The layering ARCHITECTURE.md states, checked on the source so that a change that breaks it
//! fails here rather than in review:
//! - the relay core (`relay/src/core`, outside its tests) names no chain family's adapter
//!   and no chain crate: adapters reach it as `dyn ChainAdapter` from `relay/src/wiring`;
//! - protocol types come from `xrelay-protocol`: the adapters, the EVM chain crate and the
//!   core never import them from a chain crate, and the adapters link no storage engine;
//! - the top-level modules of `relay/src` and of `chains/devchain/src` import each other
//!   without a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's code without its tests: test files (`tests.rs`, `*_tests.rs`, a folder named
/// `tests` or `*_tests`) are skipped whole, and a file's `#[cfg(test)]` module (kept at the end by
/// convention) is cut off, so real adapters may appear in tests that drive real nodes.
fn production_code(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs"
        || name.ends_with("_tests.rs")
        || path
            .components()
            .any(|c| c.as_os_str().to_str().is_some_and(|c| c.ends_with("tests")))
    {
        return None;
    }
    let text = fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    // Comments may name anything.
    Some(
        code.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `(file, needle)` for every needle found in the production code under `dir`.
fn mentions(dir: &Path, needles: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in rust_files(dir) {
        let Some(code) = production_code(&file) else {
            continue;
        };
        for n in needles {
            if code.contains(n) {
                found.push((file.display().to_string(), n.to_string()));
            }
        }
    }
    found
}

#[test]
fn the_relay_core_names_no_concrete_adapter_and_no_chain_crate() {
    let core = workspace().join("relay/src/core");
    let found = mentions(
        &core,
        &[
            "xrelay_devchain",
            "xrelay_evm",
            "DevchainAdapter",
            "EvmAdapter",
            "adapters::devchain",
            "adapters::evm",
        ],
    );
    assert!(
        found.is_empty(),
        "the core must reach chains through `dyn ChainAdapter` (wiring builds adapters): {found:#?}"
    );
}

/// What `xrelay-protocol` defines; a chain crate may still export its own `Tx` and actions.
const PROTOCOL_ITEMS: &[&str] = &[
    "RelayTx",
    "InboundMessage",
    "ProvenAck",
    "ProvenMessage",
    "SourceProof",
    "Outcome",
    "TransferPacket",
    "TxCost",
    "TooCostly",
    "light_block_runs",
    "evm_update_runs",
    "put_trusted",
    "tag",
    "MAX_BATCH",
    "MAX_UPDATE_BLOCKS",
    "MAX_EVM_UPDATES",
    "MAX_TX_SIGNATURES",
    "MAX_TX_HEADERS",
    "MAX_TX_PROOFS",
    "canonical_hex",
];

/// The items a path into the devchain crate names: `xrelay_devchain::a::b::{C, D}` gives
/// `[a, b, C, D]`.
fn devchain_items(code: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("xrelay_devchain::") {
        rest = &rest[i + "xrelay_devchain::".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || "_:{}, \n".contains(c)))
            .unwrap_or(rest.len());
        items.extend(
            rest[..end]
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        );
    }
    items
}

#[test]
fn protocol_types_are_never_imported_from_a_chain_crate() {
    let root = workspace();
    let mut found = Vec::new();
    for dir in ["adapters/src", "chains/evm/src", "relay/src"] {
        for file in rust_files(&root.join(dir)) {
            let Some(code) = production_code(&file) else {
                continue;
            };
            for item in devchain_items(&code) {
                if PROTOCOL_ITEMS.contains(&item.as_str()) {
                    found.push((file.display().to_string(), item));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "import these from xrelay_protocol: {found:#?}"
    );
}

#[test]
fn the_item_finder_reads_single_and_grouped_imports() {
    let code = "use xrelay_devchain::tx::{Action, Tx};\nuse xrelay_devchain::apps::transfer::voucher;\nfn f() { xrelay_devchain::tx::tag::RECV }";
    let items = devchain_items(code);
    for want in [
        "tx", "Action", "Tx", "apps", "transfer", "voucher", "tag", "RECV",
    ] {
        assert!(items.iter().any(|i| i == want), "{want} in {items:?}");
    }
    assert!(!items.iter().any(|i| i == "fn"), "{items:?}");
}

/// The dependency line naming `krate` in a manifest's `[dependencies]`, if any.
fn dependency_line(manifest: &Path, krate: &str) -> Option<String> {
    let text = fs::read_to_string(manifest).unwrap();
    let deps = text.split("[dependencies]").nth(1)?;
    let deps = deps.split("\n[").next()?;
    deps.lines()
        .find(|l| {
            l.trim_start().starts_with(&format!("{krate} "))
                || l.trim_start().starts_with(&format!("{krate}."))
        })
        .map(str::to_string)
}

#[test]
fn the_adapters_link_no_storage_engine_and_the_evm_crate_no_devchain() {
    let root = workspace();
    let adapters = root.join("adapters/Cargo.toml");
    let line =
        dependency_line(&adapters, "xrelay-devchain").expect("adapters use the devchain's client");
    assert!(
        line.contains("default-features = false")
            && line.contains("\"client\"")
            && !line.contains("\"node\""),
        "adapters take the devchain's RPC client only, never its node (RocksDB): {line}"
    );
    assert!(dependency_line(&adapters, "rocksdb").is_none());
    assert!(
        dependency_line(&root.join("chains/evm/Cargo.toml"), "xrelay-devchain").is_none(),
        "the EVM chain crate takes relay bodies from xrelay-protocol"
    );
}

/// Top-level modules of the crate under `src` that `code` refers to through `crate::`.
fn crate_refs(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&name) {
            refs.insert(name);
        }
    }
    refs
}

/// The import graph between the top-level modules of a crate's `src`, with a circle found
/// in it (as a path that comes back to its start), if any.
fn circle(src: &Path) -> Option<Vec<String>> {
    let top = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        Some(first.trim_end_matches(".rs").to_string())
    };
    let files = rust_files(src);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let (Some(m), Some(code)) = (top(f), production_code(f)) else {
            continue;
        };
        if !modules.contains(&m) {
            continue;
        }
        let refs = crate_refs(&code, &modules);
        graph
            .entry(m.clone())
            .or_default()
            .extend(refs.into_iter().filter(|r| *r != m));
    }
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, &graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_the_relayer_and_the_devchain_import_each_other_without_a_circle() {
    let root = workspace();
    for src in ["relay/src", "chains/devchain/src"] {
        if let Some(c) = circle(&root.join(src)) {
            panic!("{src}: import circle {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    fs::write(src.join("a.rs"), "use crate::b::B;\n").unwrap();
    fs::write(
        src.join("b.rs"),
        "use crate::c::C;\n// crate::a in a comment\n",
    )
    .unwrap();
    fs::write(
        src.join("c.rs"),
        "pub struct C;\n#[cfg(test)]\nmod t { use crate::a; }\n",
    )
    .unwrap();
    assert_eq!(circle(src), None, "comments and tests do not count");
    fs::write(src.join("c.rs"), "use crate::a::A;\n").unwrap();
    let c = circle(src).expect("a -> b -> c -> a");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
}
