//! `xrelay verify evm-proof`: an `eth_getProof` answer checked offline against a state root
//! with the light client's own Merkle-Patricia verifier (PROTOCOL.md §12.1), and optionally
//! a Gateway path by the provable-slot convention (§12.2, §12.5). Every value the node
//! claims in the JSON (`balance`, `nonce`, `storageHash`, `codeHash`, each slot's `value`)
//! must be what the trie nodes prove: a lying node can write anything in those fields.

use std::io::Read;

use alloy::primitives::U256;
use clap::Args;
use xrelay_light_client::evm::client::provable_slot;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::mpt::{
    keccak256, verify_account, verify_storage, Account, MptError, EMPTY_ROOT,
};
use xrelay_light_client::{ChainId, Hash32};

use super::proof_answer::ProofAnswer;

/// Largest proof file read (a real answer is a few KiB).
const MAX_INPUT: u64 = 16 << 20;

/// `xrelay verify evm-proof`.
#[derive(Debug, Args)]
pub struct EvmProofArgs {
    /// The `eth_getProof` answer: its JSON `result`, or the whole JSON-RPC response; `-`
    /// reads standard input.
    #[arg(long)]
    pub proof: String,
    /// The state root the proof must lead to (32 bytes hex), from a block you trust.
    #[arg(long, required_unless_present = "header", conflicts_with = "header")]
    pub state_root: Option<String>,
    /// A block header as hex RLP: its state root is used. The header itself is not checked
    /// here (run `xrelay verify evm-header` on it).
    #[arg(long)]
    pub header: Option<String>,
    /// The account the proof must be for (default: the answer's own `address`).
    #[arg(long)]
    pub address: Option<String>,
    /// A protocol path (PROTOCOL.md §6, e.g. `commitments/chain-2/7`) to check in the
    /// account's storage as a Gateway keeps it: the answer must prove the slot
    /// `keccak256(sha256(path) ‖ 0)`.
    #[arg(long, requires = "expectation")]
    pub path: Option<String>,
    /// With `--path`: the SHA-256 of the value the path must hold (32 bytes hex).
    #[arg(long, group = "expectation", requires = "path")]
    pub value_sha256: Option<String>,
    /// With `--path`: the path must be absent (its slot zero).
    #[arg(long, group = "expectation", requires = "path")]
    pub absent: bool,
}

/// Why an answer does not prove what it claims (or what the auditor asked): the verdict is
/// INVALID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The answer is about another account than `--address`.
    #[error("the proof is for account {found}, not {asked}")]
    OtherAccount {
        /// `--address`.
        asked: String,
        /// The answer's `address`.
        found: String,
    },
    /// The account proof does not verify against the state root.
    #[error("account proof: {0}")]
    AccountProof(MptError),
    /// A field of the answer differs from the proven account (or from an absent account's
    /// empty values).
    #[error("the answer claims {field} {claimed}, the proof shows {proven}")]
    AccountClaim {
        /// `nonce`, `balance`, `storageHash` or `codeHash`.
        field: &'static str,
        /// What the JSON says.
        claimed: String,
        /// What the trie proves.
        proven: String,
    },
    /// A storage proof does not verify against the proven storage root.
    #[error("slot {slot}: storage proof: {error}")]
    StorageProof {
        /// The slot.
        slot: String,
        /// Why.
        error: MptError,
    },
    /// A slot's `value` differs from what its proof proves.
    #[error("slot {slot}: the answer claims value {claimed}, the proof shows {proven}")]
    StorageClaim {
        /// The slot.
        slot: String,
        /// What the JSON says.
        claimed: String,
        /// What the trie proves.
        proven: String,
    },
    /// `--path` was given but the answer has no proof of its slot.
    #[error("path {path}: the answer has no proof of its slot {slot}")]
    PathNotInProof {
        /// The protocol path.
        path: String,
        /// `provable_slot(path)`.
        slot: String,
    },
    /// `--path` was given but the account does not exist: a Gateway path is proven only
    /// through an existing account (§12.5).
    #[error("path {path}: the account does not exist, so no path of it can be proven")]
    AccountAbsent {
        /// The protocol path.
        path: String,
    },
    /// The path's slot holds another value than asked.
    #[error("path {path}: expected {expected}, proven {found}")]
    PathValue {
        /// The protocol path.
        path: String,
        /// `sha256(value)`, or `absent`.
        expected: String,
        /// The proven slot value, or `absent`.
        found: String,
    },
}

/// What the auditor expects beyond the proof being sound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The account the proof must be for.
    pub address: Option<[u8; 20]>,
    /// A protocol path and `sha256` of its value (`None`: absent).
    pub path: Option<(String, Option<[u8; 32]>)>,
}

/// What a slot's proof established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOutcome {
    /// Its value (zero: absent).
    Proven([u8; 32]),
    /// Its proof failed (the refusal says why).
    Refused,
    /// Not checked: there is no proven account to check it against.
    NotChecked,
}

/// The result of [`check`]: what was proven, and every refusal (valid iff none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The account, `None` if proven absent; `Err` if its proof failed.
    pub account: Result<Option<Account>, MptError>,
    /// One outcome per entry of the answer's `storageProof`, in order.
    pub slots: Vec<SlotOutcome>,
    /// The path's slot, when a path was asked for.
    pub path_slot: Option<[u8; 32]>,
    /// Why the answer is invalid; empty when it is valid.
    pub refusals: Vec<Refusal>,
}

impl Checked {
    /// Whether the answer proves everything it claims and everything asked.
    pub fn is_valid(&self) -> bool {
        self.refusals.is_empty()
    }
}

/// `0x`-prefixed hex.
fn hx(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn decimal(word: &[u8; 32]) -> String {
    U256::from_be_bytes(*word).to_string()
}

/// keccak-256 of empty code: the code hash of an account without code.
fn empty_code_hash() -> [u8; 32] {
    keccak256(&[])
}

/// Checks `answer` against `state_root`: the account proof, every claimed account field,
/// every storage proof and claimed value, then the expectation.
pub fn check(answer: &ProofAnswer, state_root: &[u8; 32], expect: &Expectation) -> Checked {
    let mut refusals = Vec::new();
    if let Some(asked) = expect.address.filter(|a| *a != answer.address) {
        refusals.push(Refusal::OtherAccount {
            asked: hx(&asked),
            found: hx(&answer.address),
        });
    }
    let account = verify_account(state_root, &answer.address, &answer.account_proof);
    let storage_root = match &account {
        Err(e) => {
            refusals.push(Refusal::AccountProof(e.clone()));
            None
        }
        Ok(proven) => {
            compare_account(answer, proven.as_ref(), &mut refusals);
            Some(proven.map_or(EMPTY_ROOT, |a| a.storage_root))
        }
    };
    let slots: Vec<SlotOutcome> = answer
        .storage
        .iter()
        .map(|entry| {
            let Some(root) = storage_root else {
                return SlotOutcome::NotChecked;
            };
            match verify_storage(&root, &entry.key, &entry.proof) {
                Ok(value) => {
                    if value != entry.value {
                        refusals.push(Refusal::StorageClaim {
                            slot: hx(&entry.key),
                            claimed: hx(&entry.value),
                            proven: hx(&value),
                        });
                    }
                    SlotOutcome::Proven(value)
                }
                Err(error) => {
                    refusals.push(Refusal::StorageProof {
                        slot: hx(&entry.key),
                        error,
                    });
                    SlotOutcome::Refused
                }
            }
        })
        .collect();
    let path_slot = expect.path.as_ref().map(|(path, expected)| {
        let slot = provable_slot(path.as_bytes());
        check_path(
            answer,
            &account,
            &slots,
            path,
            &slot,
            expected,
            &mut refusals,
        );
        slot
    });
    Checked {
        account,
        slots,
        path_slot,
        refusals,
    }
}

/// The claimed account fields against the proven account, or against the empty values
/// nodes give for an absent account (geth gives zero hashes, others the empty-trie root and
/// the empty-code hash: both are accepted, nothing else).
fn compare_account(answer: &ProofAnswer, proven: Option<&Account>, refusals: &mut Vec<Refusal>) {
    let mut claim = |field, claimed: String, proven: String, ok: bool| {
        if !ok {
            refusals.push(Refusal::AccountClaim {
                field,
                claimed,
                proven,
            });
        }
    };
    let (nonce, balance) = match proven {
        Some(a) => (a.nonce, a.balance),
        None => (0, [0u8; 32]),
    };
    claim(
        "nonce",
        answer.nonce.to_string(),
        nonce.to_string(),
        answer.nonce == nonce,
    );
    claim(
        "balance",
        decimal(&answer.balance),
        decimal(&balance),
        answer.balance == balance,
    );
    match proven {
        Some(a) => {
            claim(
                "storageHash",
                hx(&answer.storage_hash),
                hx(&a.storage_root),
                answer.storage_hash == a.storage_root,
            );
            claim(
                "codeHash",
                hx(&answer.code_hash),
                hx(&a.code_hash),
                answer.code_hash == a.code_hash,
            );
        }
        None => {
            let zero = [0u8; 32];
            claim(
                "storageHash",
                hx(&answer.storage_hash),
                "no account (empty storage)".into(),
                answer.storage_hash == zero || answer.storage_hash == EMPTY_ROOT,
            );
            claim(
                "codeHash",
                hx(&answer.code_hash),
                "no account (no code)".into(),
                answer.code_hash == zero || answer.code_hash == empty_code_hash(),
            );
        }
    }
}

/// §12.5: a path is proven through an existing account, by the storage proof of its slot.
fn check_path(
    answer: &ProofAnswer,
    account: &Result<Option<Account>, MptError>,
    slots: &[SlotOutcome],
    path: &str,
    slot: &[u8; 32],
    expected: &Option<[u8; 32]>,
    refusals: &mut Vec<Refusal>,
) {
    let Some(index) = answer.storage.iter().position(|e| e.key == *slot) else {
        refusals.push(Refusal::PathNotInProof {
            path: path.to_string(),
            slot: hx(slot),
        });
        return;
    };
    if matches!(account, Ok(None)) {
        refusals.push(Refusal::AccountAbsent {
            path: path.to_string(),
        });
        return;
    }
    // A failed account or storage proof is refused already.
    let SlotOutcome::Proven(found) = slots[index] else {
        return;
    };
    let want = expected.unwrap_or([0u8; 32]);
    if found != want {
        let show = |w: &[u8; 32]| {
            if *w == [0u8; 32] {
                "absent".to_string()
            } else {
                hx(w)
            }
        };
        refusals.push(Refusal::PathValue {
            path: path.to_string(),
            expected: show(&want),
            found: show(&found),
        });
    }
}

/// Checks that `path` has the shape of a protocol path (PROTOCOL.md §6): a known prefix,
/// a valid chain id, and for per-message paths a decimal sequence without leading zeros.
pub fn parse_path(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let with_sequence = ["commitments", "receipts", "acks", "outcomes"];
    let per_lane = ["next_send", "next_recv"];
    let chain_ok = |c: &str| c.parse::<ChainId>().map_err(|e| format!("{c:?}: {e}"));
    match parts.as_slice() {
        [kind, chain, seq] if with_sequence.contains(kind) => {
            chain_ok(chain)?;
            let canonical = !seq.is_empty()
                && seq.bytes().all(|b| b.is_ascii_digit())
                && (seq.len() == 1 || !seq.starts_with('0'))
                && seq.parse::<u64>().is_ok();
            if !canonical {
                return Err(format!(
                    "sequence {seq:?} is not a decimal u64 without leading zeros"
                ));
            }
            Ok(())
        }
        [kind, chain] if per_lane.contains(kind) => chain_ok(chain).map(|_| ()),
        _ => Err(format!(
            "{path:?} is not a protocol path: {}/{{chain}}/{{sequence}} or {}/{{chain}}",
            with_sequence.join("|"),
            per_lane.join("|")
        )),
    }
}

/// The lines `xrelay verify evm-proof` prints for a checked answer (verdict last).
pub fn report(answer: &ProofAnswer, checked: &Checked, path: Option<&str>) -> Vec<String> {
    let mut out = vec![format!("address:    {}", hx(&answer.address))];
    match &checked.account {
        Ok(Some(a)) => {
            out.push("account:    exists".into());
            out.push(format!("nonce:      {}", a.nonce));
            out.push(format!("balance:    {} wei", decimal(&a.balance)));
            out.push(format!(
                "storage:    {} (storage root)",
                hx(&a.storage_root)
            ));
            out.push(format!("code:       {} (code hash)", hx(&a.code_hash)));
        }
        Ok(None) => out.push("account:    absent (the proof shows no such account)".into()),
        Err(_) => out.push("account:    not proven".into()),
    }
    for (entry, outcome) in answer.storage.iter().zip(&checked.slots) {
        let what = match outcome {
            SlotOutcome::Proven(v) if *v == [0u8; 32] => "absent (zero)".to_string(),
            SlotOutcome::Proven(v) => format!("= {}", hx(v)),
            SlotOutcome::Refused => "proof refused".to_string(),
            SlotOutcome::NotChecked => "not checked (no proven account)".to_string(),
        };
        out.push(format!("slot:       {} {what}", hx(&entry.key)));
    }
    if let (Some(path), Some(slot)) = (path, checked.path_slot) {
        let holds = answer
            .storage
            .iter()
            .zip(&checked.slots)
            .find(|(e, _)| e.key == slot)
            .map(|(_, outcome)| match outcome {
                SlotOutcome::Proven(v) if *v == [0u8; 32] => "is absent".to_string(),
                SlotOutcome::Proven(v) => format!("holds sha256 {}", hx(v)),
                _ => "is not proven".to_string(),
            })
            .unwrap_or_else(|| "is not in the proof".to_string());
        out.push(format!("path:       {path} {holds} (slot {})", hx(&slot)));
    }
    for r in &checked.refusals {
        out.push(format!("refused:    {r}"));
    }
    out.push(match checked.refusals.first() {
        None => "verdict:    VALID".to_string(),
        Some(first) => format!("verdict:    INVALID: {first}"),
    });
    out
}

fn read_input(source: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    let read = if source == "-" {
        std::io::stdin().take(MAX_INPUT).read_to_string(&mut text)
    } else {
        std::fs::File::open(source).and_then(|f| f.take(MAX_INPUT).read_to_string(&mut text))
    };
    read.map_err(|e| anyhow::anyhow!("--proof {source}: {e}"))?;
    if text.len() as u64 >= MAX_INPUT {
        anyhow::bail!("--proof {source}: larger than {MAX_INPUT} bytes");
    }
    Ok(text)
}

fn hex32(flag: &str, s: &str) -> anyhow::Result<[u8; 32]> {
    Hash32::from_hex(s.trim())
        .map(|h| h.0)
        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// Runs `xrelay verify evm-proof`: exit 0 when valid, 1 with a `verdict: INVALID` line.
pub fn run(args: EvmProofArgs) -> anyhow::Result<()> {
    let answer = ProofAnswer::parse(&read_input(&args.proof)?)
        .map_err(|e| anyhow::anyhow!("--proof {}: {e}", args.proof))?;
    let state_root = match (&args.state_root, &args.header) {
        (Some(root), _) => {
            let root = hex32("--state-root", root)?;
            println!("state root: {} (given with --state-root)", hx(&root));
            root
        }
        (None, Some(header)) => {
            let header =
                EvmHeader::from_hex(header.trim()).map_err(|e| anyhow::anyhow!("--header: {e}"))?;
            println!(
                "state root: {} (of block {}, keccak-256 {}; the header itself is NOT \
                 verified here: run `xrelay verify evm-header` on it)",
                hx(&header.state_root.0),
                header.number,
                hx(&header.hash().0)
            );
            header.state_root.0
        }
        (None, None) => anyhow::bail!("give --state-root or --header"),
    };
    let address = match &args.address {
        Some(a) => Some(
            xrelay_light_client::Address::from_hex(a.trim())
                .map_err(|e| anyhow::anyhow!("--address: {e}"))?
                .0,
        ),
        None => None,
    };
    let path = match &args.path {
        Some(p) => {
            parse_path(p).map_err(|e| anyhow::anyhow!("--path: {e}"))?;
            let expected = match &args.value_sha256 {
                Some(v) => Some(hex32("--value-sha256", v)?),
                None => None,
            };
            if expected == Some([0u8; 32]) {
                anyhow::bail!("--value-sha256: zero reads as absent; use --absent");
            }
            Some((p.clone(), expected))
        }
        None => None,
    };
    let checked = check(&answer, &state_root, &Expectation { address, path });
    for line in report(&answer, &checked, args.path.as_deref()) {
        println!("{line}");
    }
    if !checked.is_valid() {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
