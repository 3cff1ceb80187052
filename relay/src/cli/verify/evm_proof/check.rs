//! The checks of `xrelay verify evm-proof`: an `eth_getProof` answer against a state root
//! (PROTOCOL.md §12.1), every claimed field against what the trie proves, a Gateway path by
//! its provable slot (§12.2, §12.5), and the shape of protocol paths (§6).

use alloy::primitives::U256;
use xrelay_light_client::evm::client::provable_slot;
use xrelay_light_client::evm::mpt::{
    keccak256, verify_account, verify_storage, Account, MptError, EMPTY_ROOT,
};
use xrelay_light_client::ChainId;

use crate::cli::verify::proof_answer::ProofAnswer;

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
pub(super) fn hx(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub(super) fn decimal(word: &[u8; 32]) -> String {
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

/// Why `--path` is not a protocol path (PROTOCOL.md §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    /// Neither `{kind}/{chain}/{sequence}` nor `{kind}/{chain}` with a known kind.
    #[error("{0:?} is not a protocol path: commitments|receipts|acks|outcomes/{{chain}}/{{sequence}} or next_send|next_recv/{{chain}}")]
    Shape(String),
    /// The chain id part is not a chain id.
    #[error("chain id {chain:?}: {why}")]
    ChainId {
        /// The part.
        chain: String,
        /// Why.
        why: String,
    },
    /// The sequence is not a decimal `u64` without leading zeros.
    #[error("sequence {0:?} is not a decimal u64 without leading zeros")]
    Sequence(String),
}

/// Checks that `path` has the shape of a protocol path (PROTOCOL.md §6): a known prefix,
/// a valid chain id, and for per-message paths a decimal sequence without leading zeros.
pub fn parse_path(path: &str) -> Result<(), BadPath> {
    let parts: Vec<&str> = path.split('/').collect();
    let chain_ok = |c: &str| {
        c.parse::<ChainId>()
            .map(|_| ())
            .map_err(|e| BadPath::ChainId {
                chain: c.to_string(),
                why: e.to_string(),
            })
    };
    match parts.as_slice() {
        [kind, chain, seq] if ["commitments", "receipts", "acks", "outcomes"].contains(kind) => {
            chain_ok(chain)?;
            let canonical = !seq.is_empty()
                && seq.bytes().all(|b| b.is_ascii_digit())
                && (seq.len() == 1 || !seq.starts_with('0'))
                && seq.parse::<u64>().is_ok();
            if canonical {
                Ok(())
            } else {
                Err(BadPath::Sequence(seq.to_string()))
            }
        }
        [kind, chain] if ["next_send", "next_recv"].contains(kind) => chain_ok(chain),
        _ => Err(BadPath::Shape(path.to_string())),
    }
}
