//! `xrelay verify evm-proof`: an `eth_getProof` answer checked offline against a state root
//! with the light client's own Merkle-Patricia verifier (PROTOCOL.md §12.1), and optionally
//! a Gateway path by the provable-slot convention (§12.2, §12.5). Every value the node
//! claims in the JSON (`balance`, `nonce`, `storageHash`, `codeHash`, each slot's `value`)
//! must be what the trie nodes prove: a lying node can write anything in those fields.

use std::io::Read;

use clap::Args;
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::Hash32;

mod check;

pub use check::{check, parse_path, BadPath, Checked, Expectation, Refusal, SlotOutcome};
use check::{decimal, hx};

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
