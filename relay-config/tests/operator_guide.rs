//! `docs/OPERATOR.md` cannot drift from the configuration structs.
//!
//! The guide documents every configuration key in tables with the header row
//! `| key | type | default | meaning |`; the first cell of each row is the key's full path
//! in backticks, `[]` marking an array of sections: `relayer.data_dir`, `chains[].rpc`,
//! `chains[].evm.chain_id`, `links[].chains`, `mesh.allowed`. This test
//!
//! 1. collects those paths from the guide;
//! 2. collects every path the configuration accepts by *tracing* `RelayerConfig`'s own
//!    `Deserialize` impl with a recording deserializer: derived impls hand the exact list
//!    of field names (renames applied) to `deserialize_struct`, so a field added to any
//!    struct is seen without anyone listing it here. A construct the tracer cannot follow
//!    (a map, `flatten`, an untagged or data-carrying enum) fails the test loudly instead of
//!    hiding keys;
//! 3. asserts the two sets are equal, printing the missing and the extra ones;
//! 4. checks the `default` column: `required` keys must be present in a minimal config and
//!    their removal must make it fail to load; a backticked TOML value must be what the
//!    loaded config holds when the key is left out; `unset` means absent (`None`);
//! 5. loads every ```toml block of the guide that starts with the line `# relayer.toml`
//!    with the real parser ([`RelayerConfig::parse`], what `xrelay start` runs);
//! 6. checks that every `XRELAY_…` variable the guide names is a documented key (for the
//!    configuration's sections) or a variable the code reads (the others).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::value::{Error as DeError, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use xrelay_config::{RelayerConfig, SECTIONS};

const GUIDE: &str = "docs/OPERATOR.md";
const KEY_TABLE_HEADER: &str = "| key | type | default | meaning |";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guide() -> String {
    std::fs::read_to_string(repo().join(GUIDE)).unwrap_or_else(|e| panic!("{GUIDE}: {e}"))
}

// ---------------------------------------------------------------- the guide's tables

/// One row of a key table.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    key: String,
    default: String,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// `chains[].evm.chain_id`: section names and keys, `[]` after an array of sections.
fn is_key_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let name = part.strip_suffix("[]").unwrap_or(part);
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// The rows of every key table, in order. Malformed rows are errors, not skipped.
fn documented_rows(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t == KEY_TABLE_HEADER {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !t.starts_with('|') {
            in_table = false;
            continue;
        }
        let c = cells(t);
        if c.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
            continue; // the separator row
        }
        if c.len() != 4 {
            errors.push(format!(
                "{GUIDE}:{n}: a key row needs 4 cells, has {}",
                c.len()
            ));
            continue;
        }
        let key = c[0]
            .strip_prefix('`')
            .and_then(|k| k.strip_suffix('`'))
            .filter(|k| is_key_path(k));
        match key {
            Some(k) => rows.push(Row {
                line: n,
                key: k.to_string(),
                default: c[2].clone(),
            }),
            None => errors.push(format!(
                "{GUIDE}:{n}: the first cell must be one key path in backticks, got {:?}",
                c[0]
            )),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    rows
}

// ---------------------------------------------------------------- the structs, traced

/// What tracing found: leaf keys (values) and sections (structs), as key paths.
#[derive(Debug, Default)]
struct Traced {
    keys: BTreeSet<String>,
    sections: BTreeSet<String>,
}

/// A deserializer that hands every visitor a plausible value and records, for every
/// struct, the fields it asks for. `path` is the key path of the value being produced;
/// `element` says it is an element of the array at `path` (a leaf element makes `path` a
/// key, a struct element makes `path[]` a section).
struct Tracer<'a> {
    path: String,
    element: bool,
    found: &'a RefCell<Traced>,
}

/// A string every string-like config type accepts: `String`, `PathBuf`, and the
/// human-readable form of `SocketAddr`.
const SAMPLE_STR: &str = "127.0.0.1:1";

impl<'a> Tracer<'a> {
    fn child(&self, field: &str) -> Tracer<'a> {
        let base = if self.element {
            format!("{}[]", self.path)
        } else {
            self.path.clone()
        };
        Tracer {
            path: if base.is_empty() {
                field.to_string()
            } else {
                format!("{base}.{field}")
            },
            element: false,
            found: self.found,
        }
    }

    fn element(&self) -> Tracer<'a> {
        Tracer {
            path: self.path.clone(),
            element: true,
            found: self.found,
        }
    }

    fn leaf(&self) {
        self.found.borrow_mut().keys.insert(self.path.clone());
    }

    fn unsupported(&self, what: &str) -> DeError {
        de::Error::custom(format!(
            "{}: the tracer cannot follow {what}; extend tests/operator_guide.rs",
            if self.path.is_empty() {
                "(root)"
            } else {
                &self.path
            }
        ))
    }
}

macro_rules! leaf {
    ($($method:ident => $visit:ident($value:expr)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.leaf();
            visitor.$visit($value)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = DeError;

    leaf! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i64(1),
        deserialize_i16 => visit_i64(1),
        deserialize_i32 => visit_i64(1),
        deserialize_i64 => visit_i64(1),
        deserialize_u8 => visit_u64(1),
        deserialize_u16 => visit_u64(1),
        deserialize_u32 => visit_u64(1),
        deserialize_u64 => visit_u64(1),
        deserialize_f32 => visit_f64(1.0),
        deserialize_f64 => visit_f64(1.0),
        deserialize_char => visit_char('a'),
        deserialize_str => visit_str(SAMPLE_STR),
        deserialize_string => visit_str(SAMPLE_STR),
        deserialize_bytes => visit_bytes(&[]),
        deserialize_byte_buf => visit_bytes(&[]),
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.leaf();
        visitor.visit_unit()
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(self.unsupported("a self-describing value (deserialize_any: untagged enum?)"))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(self.unsupported("a map (a HashMap field, or #[serde(flatten)])"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.leaf();
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(Elements {
            of: self.element(),
            left: 1,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_seq(Elements {
            of: self.element(),
            left: len,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if !self.path.is_empty() {
            let section = if self.element {
                format!("{}[]", self.path)
            } else {
                self.path.clone()
            };
            self.found.borrow_mut().sections.insert(section);
        }
        visitor.visit_map(Fields {
            of: self,
            fields,
            next: 0,
        })
    }

    /// Unit variants only (a string in TOML): the first variant stands for all.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let first = variants
            .first()
            .ok_or_else(|| self.unsupported("an enum without variants"))?;
        self.leaf();
        let access: StrDeserializer<'_, DeError> = first.into_deserializer();
        visitor
            .visit_enum(access)
            .map_err(|e| self.unsupported(&format!("an enum with data ({e})")))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(self.unsupported("an identifier outside a struct"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// A struct's fields, each once, in declaration order.
struct Fields<'a> {
    of: Tracer<'a>,
    fields: &'static [&'static str],
    next: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.fields.get(self.next) {
            Some(name) => {
                let key: StrDeserializer<'_, DeError> = name.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let name = self.fields[self.next];
        self.next += 1;
        seed.deserialize(self.of.child(name))
    }
}

/// `left` elements of an array (one for a `Vec`, the length for a fixed array).
struct Elements<'a> {
    of: Tracer<'a>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.of.element()).map(Some)
    }
}

fn traced() -> Traced {
    let found = RefCell::new(Traced::default());
    let root = Tracer {
        path: String::new(),
        element: false,
        found: &found,
    };
    RelayerConfig::deserialize(root).unwrap_or_else(|e| panic!("tracing RelayerConfig: {e}"));
    found.into_inner()
}

#[test]
fn the_tracer_sees_nested_sections_arrays_and_options() {
    let t = traced();
    for key in [
        "relayer.data_dir",
        "api.listen",
        "chains[].rpc",
        "chains[].trusted_hash",
        "chains[].evm.chain_id",
        "chains[].evm.attesters",
        "links[].chains",
        "mesh.identity_key",
    ] {
        assert!(t.keys.contains(key), "{key} not traced: {:?}", t.keys);
    }
    let sections: Vec<&str> = t.sections.iter().map(String::as_str).collect();
    assert_eq!(
        sections,
        [
            "api",
            "chains[]",
            "chains[].evm",
            "links[]",
            "mesh",
            "relayer"
        ]
    );
    // Every top-level section `XRELAY_<SECTION>__…` overrides is one the structs have.
    let tops: BTreeSet<&str> = t
        .sections
        .iter()
        .map(|s| s.split(['.', '[']).next().unwrap_or_default())
        .collect();
    assert_eq!(tops, SECTIONS.into_iter().collect::<BTreeSet<_>>());
}

// ---------------------------------------------------------------- keys and defaults

#[test]
fn every_config_key_is_documented_and_nothing_else() {
    let rows = documented_rows(&guide());
    let mut seen = BTreeMap::new();
    for r in &rows {
        if let Some(first) = seen.insert(r.key.clone(), r.line) {
            panic!(
                "{GUIDE}:{}: {} is documented twice (first at line {first})",
                r.line, r.key
            );
        }
    }
    let documented: BTreeSet<String> = seen.into_keys().collect();
    let accepted = traced().keys;
    let missing: Vec<&String> = accepted.difference(&documented).collect();
    let extra: Vec<&String> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{GUIDE} key tables (rows under `{KEY_TABLE_HEADER}`) differ from the config structs\n  \
         accepted but not documented: {missing:?}\n  documented but not accepted: {extra:?}"
    );
}

/// The smallest valid config: every required key, nothing with a default. Chain 0 is a
/// devchain, chain 1 an EVM chain (for `chains[].evm.*`).
const MINIMAL: &str = r#"
[relayer]
data_dir = "/var/lib/xrelay"

[[chains]]
id = "chain-a"
kind = "devchain"
rpc = ["http://127.0.0.1:26657"]

[[chains]]
id = "evm-a"
kind = "evm"
rpc = ["http://127.0.0.1:8545"]

[chains.evm]
chain_id = 1337
gateway = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
consensus = "qbft"
account_key = "relayer-evm"

[[links]]
chains = ["chain-a", "evm-a"]
"#;

/// The item a key path names in `root` (`chains[]` is chain 1 for `chains[].evm.*` keys,
/// chain 0 otherwise; `links[]` is link 0), and the table holding it.
fn locate<'t>(root: &'t mut toml::Table, key: &str) -> (&'t mut toml::Table, String) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        table = match part.strip_suffix("[]") {
            Some(array) => {
                let index = usize::from(array == "chains" && key.starts_with("chains[].evm."));
                let items = table
                    .get_mut(array)
                    .and_then(toml::Value::as_array_mut)
                    .unwrap_or_else(|| panic!("{key}: no array {array}"));
                items[index]
                    .as_table_mut()
                    .unwrap_or_else(|| panic!("{key}: {array}[{index}] is no table"))
            }
            None => table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .unwrap_or_else(|| panic!("{key}: {part} is no table")),
        };
    }
    (table, parts[parts.len() - 1].to_string())
}

fn load(text: &str) -> Result<RelayerConfig, xrelay_config::ConfigError> {
    RelayerConfig::parse("minimal.toml", text.as_bytes(), [])
}

#[test]
fn documented_defaults_are_the_real_defaults() {
    let minimal: toml::Table = MINIMAL.parse().expect("MINIMAL is TOML");
    let loaded = load(MINIMAL).unwrap_or_else(|e| panic!("MINIMAL does not load: {e}"));
    // What the loaded config holds, defaults filled in, as TOML.
    let mut effective: toml::Table =
        toml::Table::try_from(&loaded).expect("the config serialises to TOML");
    let mut errors = Vec::new();
    for row in documented_rows(&guide()) {
        let at = format!("{GUIDE}:{}: {}", row.line, row.key);
        let mut probe = minimal.clone();
        let (table, name) = locate(&mut probe, &row.key);
        let present = table.contains_key(&name);
        let default = row.default.as_str();
        if default == "required" {
            if !present {
                errors.push(format!("{at}: documented as required but MINIMAL lacks it"));
                continue;
            }
            table.remove(&name);
            let text = toml::to_string(&probe).expect("TOML");
            if load(&text).is_ok() {
                errors.push(format!(
                    "{at}: documented as required, yet a config without it loads"
                ));
            }
        } else if present {
            errors.push(format!(
                "{at}: has a default ({default}) but MINIMAL sets it; drop it from MINIMAL"
            ));
        } else if let Some(literal) = default.strip_prefix('`').and_then(|d| d.strip_suffix('`')) {
            let expected = format!("v = {literal}")
                .parse::<toml::Table>()
                .map(|mut t| t.remove("v"))
                .unwrap_or_else(|e| panic!("{at}: default {default} is not a TOML value: {e}"));
            let (table, name) = locate(&mut effective, &row.key);
            let actual = table.get(&name).cloned();
            if actual != expected {
                errors.push(format!(
                    "{at}: documented default {literal}, the config holds {}",
                    actual.map_or("nothing".into(), |v| v.to_string())
                ));
            }
        } else if default == "unset" || default.starts_with("unset ") {
            let (table, name) = locate(&mut effective, &row.key);
            if let Some(v) = table.get(&name) {
                errors.push(format!("{at}: documented unset, the config holds {v}"));
            }
        } else {
            errors.push(format!(
                "{at}: the default cell must be `required`, a backticked TOML value or \
                 `unset …`, got {default:?}"
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

// ---------------------------------------------------------------- examples

/// The ```toml blocks starting with `# relayer.toml`, with the line of their first line.
fn config_examples(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if line.trim() != "```toml" {
            continue;
        }
        let mut block = Vec::new();
        let mut first = 0;
        for (i, l) in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            if block.is_empty() {
                first = i + 1;
            }
            block.push(l);
        }
        if block.first().map(|l| l.trim()) == Some("# relayer.toml") {
            out.push((first, block.join("\n")));
        }
    }
    out
}

#[test]
fn every_full_config_example_loads() {
    let examples = config_examples(&guide());
    assert!(
        examples.len() >= 2,
        "{GUIDE}: expected full examples (```toml blocks starting with `# relayer.toml`)"
    );
    for (line, text) in examples {
        let name = format!("{GUIDE}:{line}");
        if let Err(e) = RelayerConfig::parse(&name, text.as_bytes(), []) {
            panic!("{name}: the example does not load: {e}");
        }
    }
}

// ---------------------------------------------------------------- environment variables

/// `XRELAY_CHAINS__0__EVM__CHAIN_ID` → `chains[].evm.chain_id`; `None` for a variable of
/// no config section.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("XRELAY_")?;
    let mut parts = rest.split("__");
    let section = parts.next()?.to_ascii_lowercase();
    if !SECTIONS.contains(&section.as_str()) {
        return None;
    }
    let mut key = section;
    for part in parts {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str("[]");
        } else {
            key.push('.');
            key.push_str(&part.to_ascii_lowercase());
        }
    }
    Some(key)
}

fn xrelay_vars(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("XRELAY_") {
        let start = i + at;
        let mut end = start + "XRELAY_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let name = text[start..end].trim_end_matches('_');
        // A name cut short by a placeholder (`XRELAY_<SECTION>__…`) is not a variable.
        let placeholder = text[end..].starts_with(['<', '…']);
        if name.len() > "XRELAY".len() && !placeholder {
            out.insert(name.to_string());
        }
        i = end;
    }
    out
}

/// Every `"XRELAY_…"` name in the Rust sources of the crates an operator runs.
fn vars_in_code() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.extend(xrelay_vars(&text));
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for dir in [
        "relay/src",
        "relay-config/src",
        "adapters/src",
        "chains/evm/src",
    ] {
        walk(&repo().join(dir), &mut out);
    }
    out
}

#[test]
fn every_environment_variable_in_the_guide_exists() {
    let text = guide();
    let t = traced();
    let in_code = vars_in_code();
    let mut errors = Vec::new();
    let vars = xrelay_vars(&text);
    assert!(!vars.is_empty(), "{GUIDE} names no XRELAY_ variable");
    for var in vars {
        match env_key(&var) {
            Some(key) if t.keys.contains(&key) || t.sections.contains(&key) => {}
            Some(key) => errors.push(format!("{var}: {key} is no config key")),
            None if in_code.contains(&var) => {}
            None => errors.push(format!("{var}: neither a config key nor read by the code")),
        }
    }
    assert!(errors.is_empty(), "{GUIDE}:\n{}", errors.join("\n"));
}

#[test]
fn the_parsers_of_this_test_do_what_they_say() {
    let doc = format!(
        "intro\n\n{KEY_TABLE_HEADER}\n| --- | --- | --- | --- |\n| `mesh.window` | integer | `500` | x |\n\
         | `chains[].evm.quorum` | integer | `1` | y |\n\nafter\n\n| key | other |\n| `no.key` | z |\n"
    );
    let rows = documented_rows(&doc);
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["mesh.window", "chains[].evm.quorum"]);
    assert_eq!(rows[0].default, "`500`");
    assert_eq!(
        env_key("XRELAY_CHAINS__0__EVM__CHAIN_ID").as_deref(),
        Some("chains[].evm.chain_id")
    );
    assert_eq!(env_key("XRELAY_KEY_PASSPHRASE"), None);
    assert_eq!(
        xrelay_vars("`XRELAY_API__LISTEN=1` and XRELAY_<SECTION>__… and XRELAY_KEYSTORE."),
        ["XRELAY_API__LISTEN", "XRELAY_KEYSTORE"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let ex = config_examples("```toml\n# relayer.toml\n[relayer]\n```\n```toml\n[x]\n```\n");
    assert_eq!(ex, vec![(2, "# relayer.toml\n[relayer]".to_string())]);
}
