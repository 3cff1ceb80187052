//! Deliberate misbehaviour of a devchain node, enabled only by an explicit `--fault MODE`
//! flag, so tests can prove that relayers and on-chain clients refuse what a faulty or
//! malicious chain serves. The chain's own blocks and state stay honest; the faults change
//! what the node *serves* over RPC (or when it produces blocks), as a compromised node or
//! validator set would.

use std::str::FromStr;

use xrelay_light_client::evm::misbehaviour::EvmMisbehaviour;
use xrelay_light_client::hash::sha256_concat;
use xrelay_light_client::{
    ClientState, Commit, Decode, Encode, Hash32, Header, Height, LightBlock, Misbehaviour,
    MisbehaviourKind, SignedHeader, SigningKey,
};

use super::chain::ValidatorPlan;
use crate::module::{Event, TxReport};
use crate::tx::Tx;
use xrelay_protocol::RelayTx;

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
    /// A host's node lying about the clients it hosts (the chain's own blocks stay honest):
    /// every `ClientUpdated` event names another header than the update carried,
    /// `block_txs` serves the updates with that header (its state root altered, so its
    /// signatures no longer match), `client` reports every client frozen (with made-up
    /// evidence), and misbehaviour evidence submitted to it is answered as included and
    /// accepted without entering a block. None of it may stop a relayer from relaying the
    /// followed chain.
    LyingHost,
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
#[error("unknown fault {0:?}: expected conflicting-header[:EVERY], forged-proof, bad-signature, lying-host or withhold[:PAUSE_MS[:AFTER_BLOCKS]]")]
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
            ("lying-host", 0) => Fault::LyingHost,
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
            Fault::LyingHost => f.write_str("lying-host"),
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

impl Fault {
    /// Whether the node lies about the clients it hosts ([`Fault::LyingHost`]).
    pub fn lies_about_clients(&self) -> bool {
        matches!(self, Fault::LyingHost)
    }

    /// The transactions a lying host serves for a block: client updates carry altered
    /// headers (their commits unchanged, so they no longer verify).
    pub fn serve_txs(&self, txs: Vec<Tx>) -> Vec<Tx> {
        if !self.lies_about_clients() {
            return txs;
        }
        txs.into_iter()
            .map(|tx| match tx {
                Tx::Relay(RelayTx::UpdateClient { chain, blocks }) => {
                    Tx::Relay(RelayTx::UpdateClient {
                        chain,
                        blocks: blocks.into_iter().map(altered_block).collect(),
                    })
                }
                other => other,
            })
            .collect()
    }

    /// The event a lying host serves: a `ClientUpdated` names the altered headers that
    /// [`Self::serve_txs`] serves for the same block (`txs`, as stored).
    pub fn serve_event(&self, event: &mut Event, txs: &[Tx]) {
        let (true, Event::ClientUpdated { chain, headers }) =
            (self.lies_about_clients(), &mut *event)
        else {
            return;
        };
        for (height, hash) in headers.iter_mut() {
            let altered = txs.iter().find_map(|tx| match tx {
                Tx::Relay(RelayTx::UpdateClient { chain: c, blocks }) if c == chain => blocks
                    .iter()
                    .find(|b| b.height() == *height && b.header().hash() == *hash)
                    .map(|b| altered_header(b.header()).hash()),
                _ => None,
            });
            if let Some(altered) = altered {
                *hash = altered;
            }
        }
    }

    /// The client state a lying host serves: frozen, by evidence it made up.
    pub fn serve_client(&self, client: ClientState) -> ClientState {
        if !self.lies_about_clients() || client.frozen().is_some() {
            return client;
        }
        let trusted = client.latest_trusted();
        let set = trusted.next_validators.clone();
        let block = |state_root: Hash32| {
            let header = Header {
                chain_id: trusted.chain_id.clone(),
                height: trusted.height,
                time_ms: trusted.time_ms,
                parent_hash: Hash32::ZERO,
                state_root,
                tx_root: Hash32::ZERO,
                validators_hash: set.hash(),
                next_validators_hash: set.hash(),
                proposer: set
                    .validators()
                    .first()
                    .map(|v| v.address)
                    .unwrap_or_default(),
            };
            LightBlock {
                signed_header: SignedHeader {
                    commit: Commit {
                        height: header.height,
                        header_hash: header.hash(),
                        signatures: Vec::new(),
                    },
                    header,
                },
                validators: set.clone(),
                next_validators: set.clone(),
            }
        };
        let evidence = Misbehaviour {
            trusted_height: trusted.height,
            trusted_next_validators: set.clone(),
            first: block(Hash32::ZERO),
            second: block(sha256_concat(&[FORGED_TAG])),
        };
        // The canonical layout ends with the frozen tag: 0, or 1 and the evidence.
        let mut bytes = client.encode();
        bytes.pop();
        bytes.push(1);
        bytes.extend(evidence.encode());
        ClientState::decode(&bytes).unwrap_or(client)
    }

    /// What a lying host answers to misbehaviour evidence instead of checking it: included
    /// in its latest block at `height`, and the client frozen.
    pub fn fake_evidence_outcome(&self, tx: &Tx) -> Option<TxReport> {
        match (self.lies_about_clients(), tx) {
            (true, Tx::Relay(RelayTx::SubmitMisbehaviour { chain, evidence })) => Some(TxReport {
                events: vec![Event::ClientFrozen {
                    chain: chain.clone(),
                    kind: evidence
                        .kind()
                        .unwrap_or(MisbehaviourKind::ConflictingHeaders {
                            height: evidence.first.height(),
                        }),
                    evidence: evidence.hash(),
                }],
                already_done: 0,
            }),
            (true, Tx::Relay(RelayTx::SubmitEvmMisbehaviour { chain, evidence })) => {
                let height = match evidence.as_ref() {
                    EvmMisbehaviour::Headers { first, .. } => first.number,
                    EvmMisbehaviour::Attestations { first, .. } => first.attestation.height,
                    EvmMisbehaviour::Conflict(a) => a.attestation.height,
                };
                Some(TxReport {
                    events: vec![Event::ClientFrozen {
                        chain: chain.clone(),
                        kind: MisbehaviourKind::ConflictingHeaders { height },
                        evidence: evidence.hash(),
                    }],
                    already_done: 0,
                })
            }
            _ => None,
        }
    }
}

/// A header with another state root (what a lying host claims a client accepted).
fn altered_header(header: &Header) -> Header {
    let mut header = header.clone();
    header.state_root = sha256_concat(&[FORGED_TAG, &header.state_root.0]);
    header
}

fn altered_block(mut block: LightBlock) -> LightBlock {
    block.signed_header.header = altered_header(block.header());
    block
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
        assert_eq!("lying-host".parse(), Ok(Fault::LyingHost));
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
            "lying-host",
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
