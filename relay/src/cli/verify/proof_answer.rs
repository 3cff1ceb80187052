//! An `eth_getProof` answer read strictly from JSON: what the node claims (address, nonce,
//! balance, storage hash, code hash, slot values) next to the trie nodes that must prove
//! it. Nothing here is trusted; `evm_proof` checks every claim against the nodes.

use serde_json::Value;

/// Most storage entries read from one answer (a node answers for the slots it was asked
/// for; no gateway check needs more than a handful).
pub const MAX_STORAGE_ENTRIES: usize = 1024;

/// Most trie nodes read per list before the verifier's own bound (64) refuses the proof:
/// a hostile file cannot make the reader allocate without bound.
const MAX_NODES_READ: usize = 256;

/// Why a file is not an `eth_getProof` answer (the input is unusable; nothing was checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofAnswerError {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// A JSON-RPC response carrying an error instead of a result.
    #[error("the JSON-RPC response is an error: {0}")]
    RpcError(String),
    /// A field the answer must have is missing or null.
    #[error("{field}: missing")]
    Missing {
        /// Where, e.g. `storageProof[2].proof`.
        field: String,
    },
    /// A field is present but not what `eth_getProof` puts there.
    #[error("{field}: {why}")]
    Invalid {
        /// Where, e.g. `accountProof[1]`.
        field: String,
        /// The rule it breaks.
        why: String,
    },
}

/// One entry of `storageProof`: a slot, the value the node claims for it, and its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageAnswer {
    /// The slot (`key`), as 32 bytes.
    pub key: [u8; 32],
    /// The claimed value (`value`), 256-bit big-endian.
    pub value: [u8; 32],
    /// `proof`: RLP trie nodes, root first.
    pub proof: Vec<Vec<u8>>,
}

/// An `eth_getProof` result: the node's claims and the nodes that must prove them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofAnswer {
    /// `address`.
    pub address: [u8; 20],
    /// `nonce` as claimed.
    pub nonce: u64,
    /// `balance` as claimed, 256-bit big-endian.
    pub balance: [u8; 32],
    /// `storageHash` as claimed.
    pub storage_hash: [u8; 32],
    /// `codeHash` as claimed.
    pub code_hash: [u8; 32],
    /// `accountProof`: RLP trie nodes, root first.
    pub account_proof: Vec<Vec<u8>>,
    /// `storageProof`.
    pub storage: Vec<StorageAnswer>,
}

impl ProofAnswer {
    /// Parses the `result` of `eth_getProof`, or a whole JSON-RPC response holding one.
    pub fn parse(text: &str) -> Result<ProofAnswer, ProofAnswerError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| ProofAnswerError::Json(e.to_string()))?;
        let result = match v.get("jsonrpc") {
            Some(_) => {
                if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                    return Err(ProofAnswerError::RpcError(err.to_string()));
                }
                field(&v, "", "result")?
            }
            None => &v,
        };
        if !result.is_object() {
            return Err(invalid("result", "expected a JSON object"));
        }
        let storage = list(result, "", "storageProof", MAX_STORAGE_ENTRIES)?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = format!("storageProof[{i}]");
                Ok(StorageAnswer {
                    key: quantity(field(entry, &at, "key")?, &format!("{at}.key"), 32)?,
                    value: quantity(field(entry, &at, "value")?, &format!("{at}.value"), 32)?,
                    proof: nodes(entry, &at, "proof")?,
                })
            })
            .collect::<Result<Vec<_>, ProofAnswerError>>()?;
        let nonce = quantity(field(result, "", "nonce")?, "nonce", 8)?;
        Ok(ProofAnswer {
            address: fixed(field(result, "", "address")?, "address")?,
            nonce: u64::from_be_bytes(nonce[24..].try_into().expect("8 bytes")),
            balance: quantity(field(result, "", "balance")?, "balance", 32)?,
            storage_hash: fixed(field(result, "", "storageHash")?, "storageHash")?,
            code_hash: fixed(field(result, "", "codeHash")?, "codeHash")?,
            account_proof: nodes(result, "", "accountProof")?,
            storage,
        })
    }
}

fn invalid(field: &str, why: impl Into<String>) -> ProofAnswerError {
    ProofAnswerError::Invalid {
        field: field.to_string(),
        why: why.into(),
    }
}

fn name(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn field<'v>(v: &'v Value, at: &str, key: &str) -> Result<&'v Value, ProofAnswerError> {
    v.get(key)
        .filter(|x| !x.is_null())
        .ok_or_else(|| ProofAnswerError::Missing {
            field: name(at, key),
        })
}

fn list<'v>(
    v: &'v Value,
    at: &str,
    key: &str,
    max: usize,
) -> Result<&'v Vec<Value>, ProofAnswerError> {
    let items = field(v, at, key)?
        .as_array()
        .ok_or_else(|| invalid(&name(at, key), "expected an array"))?;
    if items.len() > max {
        return Err(invalid(
            &name(at, key),
            format!("{} entries, above the maximum {max}", items.len()),
        ));
    }
    Ok(items)
}

/// The hex digits of a `0x`-prefixed JSON string.
fn digits<'v>(v: &'v Value, at: &str) -> Result<&'v str, ProofAnswerError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(at, "expected a 0x-prefixed hex string"))?;
    let d = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| invalid(at, format!("{s:?} lacks the 0x prefix")))?;
    if let Some(bad) = d.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(invalid(at, format!("{bad:?} is not a hex digit")));
    }
    Ok(d)
}

/// A byte string (`DATA`): an even number of hex digits.
fn data(v: &Value, at: &str) -> Result<Vec<u8>, ProofAnswerError> {
    let d = digits(v, at)?;
    hex::decode(d).map_err(|_| invalid(at, "an odd number of hex digits"))
}

/// Exactly `N` bytes.
fn fixed<const N: usize>(v: &Value, at: &str) -> Result<[u8; N], ProofAnswerError> {
    let bytes = data(v, at)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| invalid(at, format!("{len} bytes, expected {N}")))
}

/// An integer (`QUANTITY`, or a zero-padded word as some nodes give slot keys and values)
/// of at most `max` bytes, as a 256-bit big-endian word.
fn quantity(v: &Value, at: &str, max: usize) -> Result<[u8; 32], ProofAnswerError> {
    let d = digits(v, at)?;
    if d.is_empty() {
        return Err(invalid(at, "no hex digits"));
    }
    if d.len() > 64 {
        return Err(invalid(at, format!("{} hex digits, above 64", d.len())));
    }
    let padded = format!("{d:0>64}");
    let word: [u8; 32] = hex::decode(padded)
        .expect("64 hex digits")
        .try_into()
        .expect("32 bytes");
    if word[..32 - max].iter().any(|b| *b != 0) {
        return Err(invalid(at, format!("above the {max}-byte maximum")));
    }
    Ok(word)
}

fn nodes(v: &Value, at: &str, key: &str) -> Result<Vec<Vec<u8>>, ProofAnswerError> {
    let where_ = name(at, key);
    list(v, at, key, MAX_NODES_READ)?
        .iter()
        .enumerate()
        .map(|(i, n)| data(n, &format!("{where_}[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"address":"0x00000000000000000000000000000000000a11ce",
        "nonce":"0x1","balance":"0x0","storageHash":"0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421",
        "codeHash":"0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        "accountProof":["0x80"],"storageProof":[{"key":"0x1","value":"0x2a","proof":[]}]}"#;

    #[test]
    fn a_result_and_a_whole_response_read_the_same() {
        let alone = ProofAnswer::parse(MINIMAL).unwrap();
        let wrapped =
            ProofAnswer::parse(&format!(r#"{{"jsonrpc":"2.0","id":1,"result":{MINIMAL}}}"#))
                .unwrap();
        assert_eq!(alone, wrapped);
        assert_eq!(alone.nonce, 1);
        assert_eq!(alone.storage[0].key[31], 1);
        assert_eq!(alone.storage[0].value[31], 0x2a);
        assert_eq!(alone.account_proof, vec![vec![0x80]]);
    }

    #[test]
    fn malformed_answers_name_the_field_and_the_rule() {
        let cases: [(&str, &str, &str); 6] = [
            (
                "\"address\":\"0x00000000000000000000000000000000000a11ce\"",
                "\"address\":\"0x0a11ce\"",
                "address: 3 bytes, expected 20",
            ),
            ("\"nonce\":\"0x1\"", "\"nonce\":\"1\"", "nonce: \"1\" lacks"),
            (
                "\"nonce\":\"0x1\"",
                "\"nonce\":\"0x10000000000000000\"",
                "nonce: above the 8-byte maximum",
            ),
            (
                "\"accountProof\":[\"0x80\"]",
                "\"accountProof\":[\"0x8\"]",
                "accountProof[0]: an odd number",
            ),
            (
                "\"value\":\"0x2a\"",
                "\"value\":\"0x2g\"",
                "storageProof[0].value: 'g' is not a hex digit",
            ),
            ("\"balance\":\"0x0\",", "", "balance: missing"),
        ];
        for (from, to, want) in cases {
            let text = MINIMAL.replace(from, to);
            assert_ne!(text, MINIMAL, "case {want} changes nothing");
            let err = ProofAnswer::parse(&text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err} (wanted {want})");
        }
        assert!(matches!(
            ProofAnswer::parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000}}"),
            Err(ProofAnswerError::RpcError(_))
        ));
        assert!(matches!(
            ProofAnswer::parse("not json"),
            Err(ProofAnswerError::Json(_))
        ));
        assert!(matches!(
            ProofAnswer::parse("[1]"),
            Err(ProofAnswerError::Invalid { .. })
        ));
    }
}
