//! # xrelay-config
//!
//! The relayer's configuration: one TOML file, every key overridable by an environment
//! variable. `XRELAY_` + the key path in capitals with `__` between the parts and array
//! indices as parts: `XRELAY_API__LISTEN=0.0.0.0:9464`,
//! `XRELAY_CHAINS__0__RPC='["http://10.0.0.5:26657"]'` (a value starting with `[` is read
//! as a TOML array). Every error names the file and the key path.
//!
//! A crate of its own (the `xrelay` crate re-exports it as `xrelay::config`) because the
//! file and the environment are outside input: the fuzz crate runs [`RelayerConfig::parse`],
//! the very function [`RelayerConfig::load`] uses, without building the relayer's RocksDB
//! and libp2p.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod evm;
mod mesh;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xrelay_light_client::ChainId;

pub use evm::{parse_address, EvmSection};
pub use mesh::MeshSection;

/// Top-level sections: `XRELAY_<SECTION>__…` variables override keys in them.
pub const SECTIONS: [&str; 5] = ["relayer", "api", "chains", "links", "mesh"];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// The relayer process.
    pub relayer: RelayerSection,
    /// The HTTP server (health, metrics, API).
    #[serde(default)]
    pub api: ApiSection,
    /// The chains.
    pub chains: Vec<ChainSection>,
    /// Which chains are linked (both directions of each pair are relayed).
    pub links: Vec<LinkSection>,
    /// The relayer mesh (several operators on the same lanes).
    #[serde(default)]
    pub mesh: MeshSection,
}

/// `[relayer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerSection {
    /// Where the relayer's RocksDB lives (message states, cursors, light clients).
    pub data_dir: PathBuf,
    /// Most messages in one receive, ack or timeout transaction.
    #[serde(default = "default_batch")]
    pub max_batch: usize,
}

fn default_batch() -> usize {
    500
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Listen address of `/healthz`, `/readyz`, `/metrics` and `/api/v1/…`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer token for the admin endpoints; without one they are disabled.
    #[serde(default)]
    pub admin_token: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: default_listen(),
            admin_token: None,
        }
    }
}

/// `[[chains]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    /// The chain id.
    pub id: String,
    /// The chain family: `devchain` or `evm`.
    pub kind: String,
    /// RPC endpoints, tried in order with failover.
    pub rpc: Vec<String>,
    /// The chain's block interval (sets polling and waiting).
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// Per RPC request.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Trust root of the relayer's light client: a height and its header hash, checked
    /// before anything is trusted. Without it, the relayer trusts the chain's latest header
    /// the first time it starts (and logs that it did); afterwards it continues from what
    /// it verified.
    #[serde(default)]
    pub trusted_height: Option<u64>,
    /// Hex header hash at `trusted_height` (for an EVM chain: its block hash).
    #[serde(default)]
    pub trusted_hash: Option<String>,
    /// How to reach and follow an EVM chain (`kind = "evm"` only).
    #[serde(default)]
    pub evm: Option<EvmSection>,
}

fn default_block_time() -> u64 {
    1_000
}

fn default_request_timeout() -> u64 {
    10_000
}

/// `[[links]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    /// The two chains.
    pub chains: [String; 2],
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {why}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The key path (`chains[1].rpc`), or `-` for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub why: String,
}

impl RelayerConfig {
    /// Reads `path`, applies `XRELAY_*` overrides from `env`, and validates.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let fail = |why: String| ConfigError {
            file: file.clone(),
            key: "-".into(),
            why,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        Self::parse(&file, &bytes, env)
    }

    /// [`Self::load`] on the contents of a file already read: `bytes` are the file's, `file`
    /// its name for errors. As with `config::File`, a UTF-8 byte-order mark is skipped and
    /// invalid UTF-8 becomes U+FFFD (which TOML then refuses where it matters).
    pub fn parse(
        file: &str,
        bytes: &[u8],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let fail = |key: &str, why: String| ConfigError {
            file: file.to_string(),
            key: key.to_string(),
            why,
        };
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let table = parse_toml(file, &String::from_utf8_lossy(text))
            .map_err(|e| fail("-", e.to_string()))?;
        // `config` reads a top-level key as a key *path* ("chains[3000000000]" resizes an
        // array to that index before anything is checked, aborting the process), so only
        // plain names get through; the sections are plain names anyway.
        if let Some(key) = table.keys().find(|k| !is_plain_name(k)) {
            return Err(fail(
                key,
                "not a section name (letters, digits, _ and - only)".into(),
            ));
        }
        let mut builder = config::Config::builder().add_source(Parsed(table));
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("XRELAY_") else {
                continue;
            };
            // Only the config's own sections: other XRELAY_ variables (XRELAY_KEYSTORE,
            // XRELAY_KEY_PASSPHRASE, XRELAY_LOG_FORMAT, …) belong to other parts.
            let section = rest
                .split("__")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !SECTIONS.contains(&section.as_str()) {
                continue;
            }
            let key = match env_key(rest) {
                Ok(Some(key)) => key,
                Ok(None) => continue,
                Err(why) => return Err(fail(&name, why)),
            };
            let value =
                env_value(&value).map_err(|why| fail(&key, format!("from {name}: {why}")))?;
            builder = builder
                .set_override(key.as_str(), value)
                .map_err(|e| fail(&key, format!("from {name}: {e}")))?;
        }
        let raw = builder.build().map_err(|e| fail("-", e.to_string()))?;
        let cfg: RelayerConfig = raw
            .try_deserialize()
            .map_err(|e| fail("-", e.to_string()))?;
        cfg.validate().map_err(|(key, why)| fail(&key, why))?;
        Ok(cfg)
    }

    /// Checks what types cannot: ids, endpoints, links.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let mut seen = std::collections::BTreeSet::new();
        if self.chains.is_empty() {
            return Err(("chains".into(), "no chains configured".into()));
        }
        for (i, c) in self.chains.iter().enumerate() {
            let at = |k: &str| format!("chains[{i}].{k}");
            ChainId::new(&c.id).map_err(|e| (at("id"), e.to_string()))?;
            if !seen.insert(c.id.clone()) {
                return Err((at("id"), format!("chain {} is configured twice", c.id)));
            }
            match (c.kind.as_str(), &c.evm) {
                ("devchain", None) => {}
                ("devchain", Some(_)) => {
                    return Err((
                        at("evm"),
                        "only chains of kind \"evm\" take [chains.evm]".into(),
                    ))
                }
                ("evm", None) => {
                    return Err((
                        at("evm"),
                        "a chain of kind \"evm\" needs [chains.evm]".into(),
                    ))
                }
                ("evm", Some(e)) => e
                    .validate()
                    .map_err(|(key, why)| (format!("chains[{i}].evm.{key}"), why))?,
                (other, _) => {
                    return Err((
                        at("kind"),
                        format!("unknown chain kind {other:?} (known: devchain, evm)"),
                    ))
                }
            }
            if c.rpc.is_empty() {
                return Err((at("rpc"), "list at least one endpoint".into()));
            }
            for (j, url) in c.rpc.iter().enumerate() {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err((
                        format!("chains[{i}].rpc[{j}]"),
                        format!("{url:?} is not an http(s) URL"),
                    ));
                }
            }
            if c.block_time_ms == 0 || c.request_timeout_ms == 0 {
                return Err((
                    at("block_time_ms"),
                    "block_time_ms and request_timeout_ms must be positive".into(),
                ));
            }
            match (&c.trusted_height, &c.trusted_hash) {
                (Some(_), Some(h)) if hex_hash(h).is_none() => {
                    return Err((at("trusted_hash"), "expected 32 bytes of hex".into()))
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err((
                        at("trusted_height"),
                        "give trusted_height and trusted_hash together".into(),
                    ))
                }
                _ => {}
            }
        }
        if self.links.is_empty() {
            return Err(("links".into(), "no links: nothing to relay".into()));
        }
        let mut pairs = std::collections::BTreeSet::new();
        for (i, l) in self.links.iter().enumerate() {
            let [a, b] = &l.chains;
            for (j, c) in [a, b].into_iter().enumerate() {
                if !seen.contains(c) {
                    return Err((
                        format!("links[{i}].chains[{j}]"),
                        format!("{c} is not a configured chain"),
                    ));
                }
            }
            if a == b {
                return Err((
                    format!("links[{i}].chains"),
                    "a chain cannot link to itself".into(),
                ));
            }
            let pair = if a < b {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            if !pairs.insert(pair) {
                return Err((
                    format!("links[{i}].chains"),
                    format!("{a} and {b} are linked twice"),
                ));
            }
        }
        if self.relayer.max_batch == 0 {
            return Err(("relayer.max_batch".into(), "must be at least 1".into()));
        }
        self.mesh.validate()?;
        Ok(())
    }

    /// The section of chain `id`.
    pub fn chain(&self, id: &str) -> Option<&ChainSection> {
        self.chains.iter().find(|c| c.id == id)
    }
}

/// The file's text parsed as `config::File` parses a file, with the same errors (naming
/// the file), but from text the caller read, so that one code path serves the relayer
/// (which reads the file) and the fuzzer (which has bytes).
fn parse_toml(
    uri: &str,
    text: &str,
) -> Result<config::Map<String, config::Value>, config::ConfigError> {
    let uri = uri.to_string();
    config::Format::parse(&config::FileFormat::Toml, Some(&uri), text).map_err(|cause| {
        config::ConfigError::FileParse {
            uri: Some(uri.clone()),
            cause,
        }
    })
}

/// The parsed file as a `config` source, so it is read (and its top-level keys checked)
/// once.
#[derive(Debug, Clone)]
struct Parsed(config::Map<String, config::Value>);

impl config::Source for Parsed {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}

/// A name `config` cannot read as a path: ASCII letters, digits, `_` and `-`.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The highest array index an override may name. `config` grows an array to the index
/// before anything is checked, so an unbounded index (`XRELAY_CHAINS__4000000000__ID`)
/// would abort the process on the allocation; no configuration has this many chains,
/// links, endpoints or peers.
pub const MAX_OVERRIDE_INDEX: usize = 1023;

/// A 32-byte hash from hex (`0x` optional).
pub fn hex_hash(s: &str) -> Option<[u8; 32]> {
    hex::decode(s.trim_start_matches("0x"))
        .ok()?
        .try_into()
        .ok()
}

/// `CHAINS__0__RPC` → `chains[0].rpc`; `None` for a name with an empty part (ignored, as
/// before), an error for parts that are not plain names (`config` would read `[`, `]` and
/// `.` in them as path syntax) and for indices above [`MAX_OVERRIDE_INDEX`].
fn env_key(rest: &str) -> Result<Option<String>, String> {
    let mut key = String::new();
    for part in rest.split("__") {
        if part.is_empty() {
            return Ok(None);
        }
        if part.chars().all(|c| c.is_ascii_digit()) {
            match part.parse::<usize>() {
                Ok(i) if i <= MAX_OVERRIDE_INDEX => key.push_str(&format!("[{i}]")),
                _ => {
                    return Err(format!(
                        "index {part} is above {MAX_OVERRIDE_INDEX}, the most an override may name"
                    ))
                }
            }
        } else if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "{part:?} is not a key (letters, digits and _ only)"
            ));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&part.to_ascii_lowercase());
        }
    }
    Ok(Some(key))
}

/// A value starting with `[` is a TOML array; anything else a string (numbers and bools
/// are converted by the type they land in).
fn env_value(v: &str) -> Result<config::Value, String> {
    if v.trim_start().starts_with('[') {
        let doc: toml::Table = format!("v = {v}")
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        let items = doc
            .get("v")
            .and_then(|v| v.as_array())
            .ok_or("not an array")?
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(config::Value::from(s.clone())),
                toml::Value::Integer(i) => Ok(config::Value::from(*i)),
                toml::Value::Boolean(b) => Ok(config::Value::from(*b)),
                other => Err(format!("unsupported array item {other}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(config::Value::from(items))
    } else {
        Ok(config::Value::from(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[relayer]
data_dir = "/tmp/r"

[api]
listen = "127.0.0.1:0"

[[chains]]
id = "a"
kind = "devchain"
rpc = ["http://127.0.0.1:1"]

[[chains]]
id = "b"
kind = "devchain"
rpc = ["http://127.0.0.1:2", "http://127.0.0.1:3"]
block_time_ms = 200

[[links]]
chains = ["a", "b"]
"#;

    const EVM: &str = r#"
[[chains]]
id = "e"
kind = "evm"
rpc = ["http://127.0.0.1:8545"]

[chains.evm]
chain_id = 31337
gateway = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
consensus = "attestation"
attesters = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]
account_key = "evm-account"
attester_key = "attester"

[[links]]
chains = ["a", "e"]
"#;

    #[test]
    fn evm_chains_need_their_section_and_link_to_any_chain() {
        let (_d, path) = write(&format!("{GOOD}{EVM}"));
        let cfg = RelayerConfig::load(&path, []).unwrap();
        let evm = cfg.chains[2].evm.as_ref().unwrap();
        assert_eq!((evm.chain_id, evm.quorum, evm.bump_percent), (31337, 1, 25));
        let cases = [
            (
                EVM.replace("consensus = \"attestation\"", "consensus = \"pow\""),
                "chains[2].evm.consensus",
            ),
            (
                EVM.replace("quorum", "x").replace(
                    "attesters = [\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"]",
                    "attesters = []",
                ),
                "chains[2].evm.attesters",
            ),
            (
                EVM.replace("attester_key = \"attester\"", ""),
                "chains[2].evm.attester_key",
            ),
            (
                EVM.replace("0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x12"),
                "chains[2].evm.gateway",
            ),
        ];
        for (extra, key) in cases {
            let (_d, path) = write(&format!("{GOOD}{extra}"));
            let err = RelayerConfig::load(&path, []).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
        // Two EVM chains link directly (each Gateway hosts an EVM client of the other).
        let two_evm = format!(
            "{GOOD}{EVM}{}",
            EVM.replace("id = \"e\"", "id = \"f\"")
                .replace("chains = [\"a\", \"e\"]", "chains = [\"e\", \"f\"]")
        );
        let (_d, path) = write(&two_evm);
        let cfg = RelayerConfig::load(&path, []).expect("an EVM ↔ EVM link is valid");
        assert!(cfg
            .links
            .iter()
            .any(|l| l.chains == ["e".to_string(), "f".to_string()]));
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relayer.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/relayer.example.toml");
        let cfg = RelayerConfig::load(&path, []).unwrap();
        assert_eq!(cfg.chains.len(), 2);
        assert!(!cfg.mesh.enabled);
        // Turning the mesh on without members is refused, naming the key.
        let err = RelayerConfig::load(&path, [("XRELAY_MESH__ENABLED".into(), "true".into())])
            .unwrap_err();
        assert_eq!(err.key, "mesh.allowed", "{err}");
    }

    #[test]
    fn reads_defaults_and_env_overrides() {
        let (_d, path) = write(GOOD);
        let env = [
            ("XRELAY_API__ADMIN_TOKEN".to_string(), "s3cret".to_string()),
            (
                "XRELAY_CHAINS__0__RPC".into(),
                r#"["http://10.0.0.5:26657", "http://10.0.0.6:26657"]"#.into(),
            ),
            ("XRELAY_CHAINS__1__BLOCK_TIME_MS".into(), "750".into()),
            ("XRELAY_RELAYER__MAX_BATCH".into(), "7".into()),
            ("OTHER_VAR".into(), "ignored".into()),
            ("XRELAY_KEY_PASSPHRASE".into(), "not a config key".into()),
        ];
        let cfg = RelayerConfig::load(&path, env).unwrap();
        assert_eq!(cfg.api.admin_token.as_deref(), Some("s3cret"));
        assert_eq!(
            cfg.chains[0].rpc,
            ["http://10.0.0.5:26657", "http://10.0.0.6:26657"]
        );
        assert_eq!(cfg.chains[1].block_time_ms, 750);
        assert_eq!(cfg.chains[0].block_time_ms, 1_000, "default");
        assert_eq!(cfg.relayer.max_batch, 7);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let cases: Vec<(String, &str)> = vec![
            (
                GOOD.replace("rpc = [\"http://127.0.0.1:1\"]", "rpc = []"),
                "chains[0].rpc",
            ),
            (
                GOOD.replace(
                    "kind = \"devchain\"\nrpc = [\"http://127.0.0.1:1\"]",
                    "kind = \"evm\"\nrpc = [\"http://127.0.0.1:1\"]",
                ),
                "chains[0].evm",
            ),
            (
                GOOD.replace(
                    "kind = \"devchain\"\nrpc = [\"http://127.0.0.1:1\"]",
                    "kind = \"cosmos\"\nrpc = [\"http://127.0.0.1:1\"]",
                ),
                "chains[0].kind",
            ),
            (
                GOOD.replace("chains = [\"a\", \"b\"]", "chains = [\"a\", \"zz\"]"),
                "links[0].chains[1]",
            ),
            (GOOD.replace("id = \"b\"", "id = \"a\""), "chains[1].id"),
            (
                GOOD.replace("http://127.0.0.1:3", "ftp://x"),
                "chains[1].rpc[1]",
            ),
            (
                GOOD.replace("block_time_ms = 200", "block_time_ms = \"soon\""),
                "block_time_ms",
            ),
            (
                GOOD.replace("[api]", "[api]\nlisten_typo = 1"),
                "listen_typo",
            ),
        ];
        for (text, key) in cases {
            let (_d, path) = write(&text);
            let err = RelayerConfig::load(&path, []).unwrap_err().to_string();
            assert!(
                err.contains("relayer.toml") && err.contains(key),
                "{key}: {err}"
            );
        }
        let (_d, path) = write(GOOD);
        let err = RelayerConfig::load(
            &path,
            [("XRELAY_CHAINS__0__RPC".into(), "[unclosed".into())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("XRELAY_CHAINS__0__RPC"), "{err}");
        let err = RelayerConfig::load(Path::new("/nonexistent/relayer.toml"), []).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/relayer.toml"),
            "{err}"
        );
    }

    #[test]
    fn parse_is_load_without_the_file() {
        let (_d, path) = write(GOOD);
        let loaded = RelayerConfig::load(&path, []).unwrap();
        assert_eq!(
            RelayerConfig::parse("relayer.toml", GOOD.as_bytes(), []).unwrap(),
            loaded
        );
        // A byte-order mark is skipped, as config::File does.
        let bom = [&b"\xef\xbb\xbf"[..], GOOD.as_bytes()].concat();
        assert_eq!(
            RelayerConfig::parse("relayer.toml", &bom, []).unwrap(),
            loaded
        );
        let err = RelayerConfig::parse("x.toml", b"[relayer\n", []).unwrap_err();
        assert_eq!((err.file.as_str(), err.key.as_str()), ("x.toml", "-"));
        let err = RelayerConfig::parse("x.toml", &[0xff, b'='], []).unwrap_err();
        assert_eq!(err.file, "x.toml", "{err}");
    }

    /// Found while writing the `parse_relayer_config` fuzz target (and reproduced with it):
    /// `config` grows an array to any index a key path names before anything is checked, so
    /// these aborted the process on a multi-gigabyte allocation. They are refused now,
    /// naming the variable or the key.
    #[test]
    fn huge_indices_and_path_syntax_are_refused() {
        let env = |name: &str| [(name.to_string(), "x".to_string())];
        for name in [
            "XRELAY_CHAINS__4000000000__ID",
            "XRELAY_CHAINS__9223372036854775807",
            "XRELAY_CHAINS__99999999999999999999999__RPC",
            "XRELAY_CHAINS__1024__ID",
        ] {
            let err = RelayerConfig::parse("r.toml", GOOD.as_bytes(), env(name)).unwrap_err();
            assert_eq!(err.key, name);
            assert!(err.why.contains("above 1023"), "{err}");
        }
        let name = "XRELAY_CHAINS__ID[4000000000]";
        let err = RelayerConfig::parse("r.toml", GOOD.as_bytes(), env(name)).unwrap_err();
        assert_eq!(err.key, name);
        assert!(err.why.contains("not a key"), "{err}");
        // The highest index allowed is only a missing chain, reported by deserialisation.
        let err = RelayerConfig::parse("r.toml", GOOD.as_bytes(), env("XRELAY_CHAINS__1023__ID"))
            .unwrap_err();
        assert_eq!(err.key, "-", "{err}");
        assert_eq!(
            env_key("CHAINS__1023__RPC"),
            Ok(Some("chains[1023].rpc".into()))
        );
        assert_eq!(env_key("CHAINS____RPC"), Ok(None));

        for key in [
            "\"chains[3000000000]\"",
            "\"links[-9223372036854775807]\"",
            "\"api.listen\"",
        ] {
            let text = format!("{key} = 1\n{GOOD}");
            let err = RelayerConfig::parse("r.toml", text.as_bytes(), []).unwrap_err();
            assert_eq!(format!("{:?}", err.key), key, "{err}");
            assert!(err.why.contains("not a section name"), "{err}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever an operator writes, loading answers with a config or an error that
        /// names the file; it never panics.
        #[test]
        fn any_file_is_loaded_or_refused_naming_the_file(text in "(\\PC|\n|\\[|\\]|=|\"){0,400}") {
            let (_d, path) = write(&text);
            if let Err(e) = RelayerConfig::load(&path, []) {
                proptest::prop_assert!(e.to_string().contains("relayer.toml"));
            }
        }

        /// Edits of a valid file (a byte replaced) are loaded or refused, never a panic.
        #[test]
        fn edited_files_never_panic(pos in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let mut bytes = GOOD.as_bytes().to_vec();
            let i = pos % bytes.len();
            bytes[i] = byte;
            let (_d, path) = write(&String::from_utf8_lossy(&bytes));
            let _ = RelayerConfig::load(&path, []);
        }

        /// Environment names map to key paths or are ignored; values never panic.
        #[test]
        fn env_overrides_never_panic(name in "XRELAY_[A-Z0-9_]{0,30}", value in "\\PC{0,40}") {
            let (_d, path) = write(GOOD);
            let _ = RelayerConfig::load(&path, [(name, value)]);
        }
    }
}
