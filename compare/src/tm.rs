//! Real tendermint light blocks signed by N ed25519 validators, for
//! `tendermint-light-client-verifier`'s `ProdVerifier`.
//!
//! Why built by hand: `tendermint-testgen` would do it, but it is one more dependency tree
//! and hides what is signed. Here every step is visible: deterministic ed25519 keys
//! (`ed25519-consensus`, the implementation tendermint itself verifies with), a validator
//! set of equal powers, a height-1 header (the trusted one) and a height-2 header whose
//! `last_block_id` is the height-1 hash, and a commit for height 2 in which every
//! validator signs the canonical precommit sign-bytes (`Vote::into_signable_vec`: the
//! length-delimited protobuf `CanonicalVote` with the chain id) exactly as CometBFT
//! validators do.

use std::time::Duration;

use ed25519_consensus::SigningKey;
use sha2::{Digest, Sha256};
use tendermint::block::{self, parts, Commit, CommitSig, Header, Height, Round};
use tendermint::validator::{Info, Set};
use tendermint::vote::{Type, ValidatorIndex};
use tendermint::{account, chain, AppHash, Hash, PublicKey, Signature, Time, Vote};
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{
    TrustThreshold, TrustedBlockState, UntrustedBlockState,
};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

/// Power of every validator (the same as on our side: `fixed_set(n, 10)`).
pub const POWER: u32 = 10;
/// Height-1 time: 2025-01-01T00:00:00Z, as our testkit's genesis.
const GENESIS_SECS: i64 = 1_735_689_600;

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hash_of(label: &str, height: u64) -> Hash {
    Hash::Sha256(digest(&[label.as_bytes(), &height.to_be_bytes()]))
}

/// The deterministic key of validator `i`.
pub fn key(i: u32) -> SigningKey {
    SigningKey::from(digest(&[b"xrelay-compare/ed25519/", &i.to_be_bytes()]))
}

/// A trusted height-1 header and the height-2 light block to verify, with `n` validators.
pub struct TmCase {
    /// Validator count.
    pub n: usize,
    /// Signatures a verifier must check to see > 2/3 of equal powers: ⌊2n/3⌋ + 1.
    pub quorum: usize,
    /// The set of both heights (it does not change).
    pub validators: Set,
    /// The trusted header (height 1).
    pub trusted: Header,
    /// Height 2 signed by every validator.
    pub full: block::signed_header::SignedHeader,
    /// Height 2 signed by the first `quorum` validators in set order, the others absent.
    pub quorum_signed: block::signed_header::SignedHeader,
    /// Verifier options (the same numbers as our `TrustOptions::default()`).
    pub options: Options,
    /// The verifier's clock: one second after the height-2 header.
    pub now: Time,
    /// For the per-signature baseline: one validator's key, sign-bytes and signature.
    pub sample: (PublicKey, Vec<u8>, Signature),
}

impl TmCase {
    /// Builds the case for `n` validators and checks that `ProdVerifier` accepts it.
    pub fn new(n: u32) -> Self {
        let chain_id = chain::Id::try_from("xrelay-compare").expect("chain id");
        let keys: Vec<SigningKey> = (0..n).map(key).collect();
        let infos: Vec<Info> = keys
            .iter()
            .map(|k| {
                Info::new(
                    PublicKey::from_ed25519_consensus(k.verification_key()),
                    POWER.into(),
                )
            })
            .collect();
        // `Set::new` sorts (power desc, then address); commits follow that order.
        let validators = Set::new(infos, None);
        let key_of = |address: account::Id| {
            keys.iter()
                .find(|k| {
                    account::Id::from(PublicKey::from_ed25519_consensus(k.verification_key()))
                        == address
                })
                .expect("key of validator")
        };
        let vals_hash = validators.hash();
        let header = |height: u64, last: Option<block::Id>| Header {
            version: tendermint::block::header::Version { block: 11, app: 1 },
            chain_id: chain_id.clone(),
            height: Height::try_from(height).expect("height"),
            time: Time::from_unix_timestamp(GENESIS_SECS + height as i64 - 1, 0).expect("time"),
            last_block_id: last,
            last_commit_hash: Some(hash_of("last_commit", height)),
            data_hash: Some(hash_of("data", height)),
            validators_hash: vals_hash,
            next_validators_hash: vals_hash,
            consensus_hash: hash_of("consensus", 0),
            app_hash: AppHash::try_from(hash_of("state", height).as_bytes().to_vec())
                .expect("app hash"),
            last_results_hash: Some(hash_of("results", height)),
            evidence_hash: Some(hash_of("evidence", height)),
            proposer_address: validators.validators()[height as usize % n as usize].address,
        };
        let block_id = |h: &Header| block::Id {
            hash: h.hash(),
            part_set_header: parts::Header::new(1, hash_of("parts", h.height.value()))
                .expect("part set header"),
        };
        let trusted = header(1, None);
        let untrusted = header(2, Some(block_id(&trusted)));
        let id = block_id(&untrusted);
        let quorum = (n as usize) * 2 / 3 + 1;

        let mut sample = None;
        let mut sign = |signers: usize| {
            let signatures = validators
                .validators()
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i >= signers {
                        return CommitSig::BlockIdFlagAbsent;
                    }
                    let vote = Vote {
                        vote_type: Type::Precommit,
                        height: untrusted.height,
                        round: Round::default(),
                        block_id: Some(id),
                        timestamp: Some(untrusted.time),
                        validator_address: v.address,
                        validator_index: ValidatorIndex::try_from(i as u32).expect("index"),
                        signature: None,
                        extension: Vec::new(),
                        extension_signature: None,
                    };
                    let sign_bytes = vote.into_signable_vec(chain_id.clone());
                    let signature = Signature::from(key_of(v.address).sign(&sign_bytes));
                    if sample.is_none() {
                        sample = Some((v.pub_key, sign_bytes, signature.clone()));
                    }
                    CommitSig::BlockIdFlagCommit {
                        validator_address: v.address,
                        timestamp: untrusted.time,
                        signature: Some(signature),
                    }
                })
                .collect();
            let commit = Commit {
                height: untrusted.height,
                round: Round::default(),
                block_id: id,
                signatures,
            };
            block::signed_header::SignedHeader::new(untrusted.clone(), commit)
                .expect("signed header")
        };
        let full = sign(n as usize);
        let quorum_signed = sign(quorum);
        let case = TmCase {
            n: n as usize,
            quorum,
            validators,
            now: untrusted
                .time
                .checked_add(Duration::from_secs(1))
                .expect("now"),
            trusted,
            full,
            quorum_signed,
            options: Options {
                trust_threshold: TrustThreshold::ONE_THIRD,
                trusting_period: Duration::from_secs(7 * 24 * 3600),
                clock_drift: Duration::from_secs(5),
            },
            sample: sample.expect("one signer at least"),
        };
        for signed in [&case.full, &case.quorum_signed] {
            let verdict = case.verify(&ProdVerifier::default(), signed);
            assert!(
                matches!(verdict, Verdict::Success),
                "n = {n}: ProdVerifier refused the block: {verdict:?}"
            );
        }
        case
    }

    /// `verify_update_header` of `signed` (height 2) from the trusted height 1: the adjacent
    /// path (validator-set and header hashes, commit structure, trusting period, clock
    /// drift, then signatures until > 2/3 of the power is seen).
    pub fn verify(
        &self,
        verifier: &ProdVerifier,
        signed: &block::signed_header::SignedHeader,
    ) -> Verdict {
        let untrusted = UntrustedBlockState {
            signed_header: signed,
            validators: &self.validators,
            next_validators: Some(&self.validators),
        };
        let trusted = TrustedBlockState {
            chain_id: &self.trusted.chain_id,
            header_time: self.trusted.time,
            height: self.trusted.height,
            next_validators: &self.validators,
            next_validators_hash: self.trusted.next_validators_hash,
        };
        verifier.verify_update_header(untrusted, trusted, &self.options, self.now)
    }
}

/// `signed` with one byte of the signature at commit position `index` flipped.
pub fn with_bad_signature(
    signed: &block::signed_header::SignedHeader,
    index: usize,
) -> block::signed_header::SignedHeader {
    let mut out = signed.clone();
    if let CommitSig::BlockIdFlagCommit {
        signature: Some(sig),
        ..
    } = &mut out.commit.signatures[index]
    {
        let mut bytes = sig.as_bytes().to_vec();
        bytes[0] ^= 1;
        *sig = Signature::try_from(bytes).expect("64 bytes");
    } else {
        panic!("no signature at {index}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        let case = TmCase::new(4);
        let v = ProdVerifier::default();
        assert!(matches!(case.verify(&v, &case.full), Verdict::Success));
        // A forged signature among the first quorum (in set order) is found.
        let bad = with_bad_signature(&case.full, 0);
        assert!(!matches!(case.verify(&v, &bad), Verdict::Success));
        // Too few signers.
        let mut thin = case.quorum_signed.clone();
        thin.commit.signatures[case.quorum - 1] = CommitSig::BlockIdFlagAbsent;
        assert!(!matches!(case.verify(&v, &thin), Verdict::Success));
    }

    /// `ProdVerifier` stops checking signatures once > 2/3 of the power is tallied (its
    /// documented behaviour), so a forged signature past the quorum goes unnoticed. Our
    /// verifier checks every signature; this is why the comparison is per signature
    /// *checked*, and why our full-commit figures check more signatures than its.
    #[test]
    fn stops_at_quorum() {
        let case = TmCase::new(4);
        let bad = with_bad_signature(&case.full, 3);
        assert!(matches!(
            case.verify(&ProdVerifier::default(), &bad),
            Verdict::Success
        ));
    }
}
