//! Deliberate misbehaviour of a devchain node, enabled only by an explicit `--fault MODE`
//! flag, so tests can prove that relayers and on-chain clients refuse what a faulty or
//! malicious chain serves. The chain's own blocks and state stay honest; the faults change
//! what the node *serves* over RPC (or when it produces blocks), as a compromised node or
//! validator set would.

use std::str::FromStr;

use xrelay_light_client::hash::sha256_concat;
use xrelay_light_client::{Commit, Height, LightBlock, SignedHeader, SigningKey};

use super::chain::ValidatorPlan;

/// What a faulty node does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// At every height that is a multiple of `every`, the validators also sign a second,
    /// different header (another state root): `header` with `"forged": true` serves it, as
    /// colluding validators would hand it to a victim (an attacker then feeds it to another
    /// chain's client). The chain itself continues on the canonical header, which `header`
    /// serves by default.
    ConflictingHeader {
        /// Period in heights (default 5).
        every: u64,
    },
    /// `proof` serves membership claims that are false: for a `commitments/…` key that
    /// holds nothing, a made-up value with the real (non-membership) proof; for one that
    /// holds a commitment, an altered value. `events` serves sent messages with altered
    /// payloads. No proof served this way verifies against the header's state root.
    ForgedProof,
    /// `header` serves commits in which one byte of every signature is corrupted.
    BadSignature,
    /// After every `after_blocks` blocks, produce nothing for `pause_ms`.
    Withhold {
        /// Pause length in milliseconds (default 5000).
        pause_ms: u64,
        /// Blocks between pauses (default 10).
        after_blocks: u64,
    },
}

/// The flag's value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?}: expected conflicting-header[:EVERY], forged-proof, bad-signature or withhold[:PAUSE_MS[:AFTER_BLOCKS]]")]
pub struct FaultParseError(String);

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FaultParseError(s.to_string());
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or_default();
        let nums: Vec<u64> = parts
            .map(|p| p.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let num = |i: usize, default: u64| nums.get(i).copied().unwrap_or(default);
        let fault = match (name, nums.len()) {
            ("conflicting-header", 0..=1) => Fault::ConflictingHeader { every: num(0, 5) },
            ("forged-proof", 0) => Fault::ForgedProof,
            ("bad-signature", 0) => Fault::BadSignature,
            ("withhold", 0..=2) => Fault::Withhold {
                pause_ms: num(0, 5_000),
                after_blocks: num(1, 10),
            },
            _ => return Err(bad()),
        };
        match fault {
            Fault::ConflictingHeader { every: 0 }
            | Fault::Withhold {
                after_blocks: 0, ..
            } => Err(bad()),
            f => Ok(f),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::ConflictingHeader { every } => write!(f, "conflicting-header:{every}"),
            Fault::ForgedProof => f.write_str("forged-proof"),
            Fault::BadSignature => f.write_str("bad-signature"),
            Fault::Withhold {
                pause_ms,
                after_blocks,
            } => write!(f, "withhold:{pause_ms}:{after_blocks}"),
        }
    }
}

/// Domain tag mixed into a forged state root or value, so forgeries are deterministic.
const FORGED_TAG: &[u8] = b"xrelay.devchain.forged";

impl Fault {
    /// The light block a faulty node serves for `block` (unchanged when the fault does not
    /// touch headers or this height). `canonical` asks for the honest block whatever the
    /// fault; `forged` asks a conflicting-header node for its second header.
    pub fn serve_block(
        &self,
        block: LightBlock,
        plan: &ValidatorPlan,
        canonical: bool,
        forged: bool,
    ) -> LightBlock {
        match self {
            Fault::ConflictingHeader { every }
                if forged && !canonical && block.height().is_multiple_of(*every) =>
            {
                let keys = plan.keys(block.height());
                conflicting(block, &keys)
            }
            Fault::BadSignature if !canonical => corrupt_signatures(block),
            _ => block,
        }
    }

    /// The value a faulty node claims for `key` (the honest one is `value`).
    pub fn serve_value(&self, key: &[u8], value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        match self {
            Fault::ForgedProof if key.starts_with(b"commitments/") => Some(match value {
                Some(mut v) => {
                    if let Some(b) = v.last_mut() {
                        *b ^= 0x01;
                    }
                    v
                }
                None => sha256_concat(&[FORGED_TAG, key]).0.to_vec(),
            }),
            _ => value,
        }
    }

    /// Whether sent-message events are served with altered payloads.
    pub fn alters_payloads(&self) -> bool {
        matches!(self, Fault::ForgedProof)
    }

    /// How long to withhold the block after `height` was produced, if at all.
    pub fn pause_after(&self, height: Height) -> Option<u64> {
        match self {
            Fault::Withhold {
                pause_ms,
                after_blocks,
            } if height > 0 && height.is_multiple_of(*after_blocks) => Some(*pause_ms),
            _ => None,
        }
    }
}

/// The same height signed a second time by the same validators, with another state root.
fn conflicting(block: LightBlock, keys: &[SigningKey]) -> LightBlock {
    let mut header = block.signed_header.header.clone();
    header.state_root = sha256_concat(&[FORGED_TAG, &header.state_root.0]);
    let commit = Commit::sign(&header, keys);
    LightBlock {
        signed_header: SignedHeader { header, commit },
        ..block
    }
}

fn corrupt_signatures(mut block: LightBlock) -> LightBlock {
    for sig in &mut block.signed_header.commit.signatures {
        sig.signature.0[10] ^= 0x5a;
    }
    block
}

/// Alters a payload so its commitment no longer matches (a flipped byte, or one byte when
/// empty).
pub fn alter_payload(payload: &mut Vec<u8>) {
    match payload.first_mut() {
        Some(b) => *b ^= 0xff,
        None => payload.push(0xff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mode_and_refuses_the_rest() {
        assert_eq!(
            "conflicting-header".parse(),
            Ok(Fault::ConflictingHeader { every: 5 })
        );
        assert_eq!(
            "conflicting-header:3".parse(),
            Ok(Fault::ConflictingHeader { every: 3 })
        );
        assert_eq!("forged-proof".parse(), Ok(Fault::ForgedProof));
        assert_eq!("bad-signature".parse(), Ok(Fault::BadSignature));
        assert_eq!(
            "withhold:200:4".parse(),
            Ok(Fault::Withhold {
                pause_ms: 200,
                after_blocks: 4
            })
        );
        for bad in [
            "",
            "withhold:x",
            "forged-proof:1",
            "conflicting-header:0",
            "withhold:1:0",
            "nap",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
        for f in [
            "conflicting-header:5",
            "forged-proof",
            "bad-signature",
            "withhold:5000:10",
        ] {
            assert_eq!(f.parse::<Fault>().unwrap().to_string(), f);
        }
    }

    #[test]
    fn forged_values_differ_from_honest_ones() {
        let f = Fault::ForgedProof;
        assert_eq!(f.serve_value(b"balances/x", None), None);
        assert!(f.serve_value(b"commitments/b/1", None).is_some());
        assert_ne!(
            f.serve_value(b"commitments/b/1", Some(vec![1, 2])),
            Some(vec![1, 2])
        );
    }
}
