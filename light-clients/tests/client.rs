//! The client object: updates (all-or-nothing, idempotent), bisection, proofs at verified
//! heights, misbehaviour (fork and time violation) freezing it, reset, export/import.

use std::collections::BTreeMap;

use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::testkit::{fixed_set, rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    ClientError, ClientState, ClientStatus, Decode, Encode, Hash32, Misbehaviour,
    MisbehaviourError, MisbehaviourKind, ProofClaim, TrustOptions, TrustedState, Verifier,
};

fn chain() -> TestChain {
    TestChain::new(ChainSpec::new("alpha", rotating_set(5, 20, 3)), 400)
}

fn now(chain: &TestChain, h: u64) -> u64 {
    chain.time_at(h) + 100
}

fn client(chain: &TestChain) -> ClientState {
    ClientState::new(chain.trusted_state(1), TrustOptions::default()).unwrap()
}

fn fork_evidence(chain: &TestChain, trusted_height: u64, height: u64) -> Misbehaviour {
    Misbehaviour {
        trusted_height,
        trusted_next_validators: chain.validators(trusted_height + 1).clone(),
        first: chain.light_block(height),
        second: chain.conflicting_light_block(height, |h| h.state_root = Hash32([0xee; 32])),
    }
}

#[test]
fn updates_are_all_or_nothing_and_idempotent() {
    let chain = chain();
    let mut c = client(&chain);
    let blocks: Vec<_> = (2..=5).map(|h| chain.light_block(h)).collect();
    assert_eq!(c.update(&blocks, now(&chain, 5)).unwrap(), 5);
    // The same blocks again: nothing to do, no error.
    assert_eq!(c.update(&blocks, now(&chain, 5)).unwrap(), 5);
    // A batch whose last block is bad changes nothing.
    let before = c.clone();
    let mut bad = chain.light_block(7);
    bad.signed_header.commit.signatures.clear();
    let err = c
        .update(&[chain.light_block(6), bad], now(&chain, 7))
        .unwrap_err();
    assert!(matches!(err, ClientError::Header { height: 7, .. }));
    assert_eq!(c, before);
    // A different header at a height the client already trusts is a conflict.
    let fork = chain.conflicting_light_block(4, |h| h.tx_root = Hash32([1; 32]));
    assert!(matches!(
        c.update(&[fork], now(&chain, 5)),
        Err(ClientError::ConflictingHeader { height: 4, .. })
    ));
}

#[test]
fn bisection_update_returns_the_headers_an_onchain_client_needs() {
    let chain = chain();
    let mut relayer = client(&chain);
    let mut source = &chain;
    let blocks = relayer
        .update_to(400, &mut source, now(&chain, 400))
        .unwrap();
    assert_eq!(relayer.latest_height(), 400);
    assert!(blocks.len() < 12, "{} headers", blocks.len());
    // An on-chain client of the same chain accepts exactly those headers.
    let mut onchain = client(&chain);
    assert_eq!(onchain.update(&blocks, now(&chain, 400)).unwrap(), 400);
    assert_eq!(onchain.consensus_state(400), relayer.consensus_state(400));
}

#[test]
fn proofs_are_checked_against_verified_heights_only() {
    let chain = chain();
    let mut c = client(&chain);
    // A real state tree whose root the chain's header at height 2 commits to.
    let store = MemoryTreeStore::new();
    let tree = StateTree::new(&store);
    let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..50u8)
        .map(|i| (format!("commitments/beta/{i}").into_bytes(), vec![i; 32]))
        .collect();
    let root = tree
        .apply(0, entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))))
        .unwrap();
    let spec = ChainSpec::new("gamma", fixed_set(4, 1));
    let gamma = TestChain::new(spec, 3);
    let mut trusted = gamma.trusted_state(1);
    trusted.state_root = root; // as if genesis committed this state
    let g = ClientState::new(trusted, TrustOptions::default()).unwrap();
    let key = b"commitments/beta/7";
    let (value, proof) = tree.prove(key, 0).unwrap();
    let value = value.unwrap();
    g.verify_membership(1, key, &value, &proof, now(&gamma, 1))
        .unwrap();
    assert!(matches!(
        g.verify_membership(1, key, b"forged", &proof, now(&gamma, 1)),
        Err(ClientError::Proof { height: 1, .. })
    ));
    assert_eq!(
        g.verify_membership(2, key, &value, &proof, now(&gamma, 1)),
        Err(ClientError::UnknownHeight(2))
    );
    let (_, absent) = tree.prove(b"receipts/beta/1", 0).unwrap();
    g.verify_non_membership(1, b"receipts/beta/1", &absent, now(&gamma, 1))
        .unwrap();
    let claims = [
        ProofClaim {
            key,
            value: Some(&value),
            proof: &proof,
        },
        ProofClaim {
            key: b"receipts/beta/1",
            value: None,
            proof: &absent,
        },
    ];
    g.verify_batch(1, &claims, now(&gamma, 1)).unwrap();
    // Expired clients verify nothing.
    let late = gamma.time_at(1) + TrustOptions::default().trusting_period_ms;
    assert_eq!(g.status(late), ClientStatus::Expired);
    assert!(matches!(
        g.verify_membership(1, key, &value, &proof, late),
        Err(ClientError::Expired { .. })
    ));
    // Unrelated: the alpha client has no root at height 1 of gamma's tree.
    c.update(&[chain.light_block(2)], now(&chain, 2)).unwrap();
    assert!(c
        .verify_membership(2, key, &value, &proof, now(&chain, 2))
        .is_err());
}

#[test]
fn a_fork_freezes_the_client_until_reset() {
    let chain = chain();
    let mut c = client(&chain);
    c.update(&[chain.light_block(30)], now(&chain, 30)).unwrap();
    let evidence = fork_evidence(&chain, 1, 30);
    assert_eq!(
        c.submit_misbehaviour(&evidence, now(&chain, 31)).unwrap(),
        MisbehaviourKind::ConflictingHeaders { height: 30 }
    );
    assert_eq!(c.status(now(&chain, 31)), ClientStatus::Frozen);
    let frozen = c.frozen().unwrap();
    assert_eq!(frozen.evidence_hash, evidence.hash());

    // A frozen client verifies nothing: updates, proofs, batches.
    let err = c
        .update(&[chain.light_block(31)], now(&chain, 31))
        .unwrap_err();
    assert!(matches!(err, ClientError::Frozen { .. }));
    let proof = xrelay_light_client::StateProof {
        leaf: None,
        siblings: vec![],
    };
    assert!(matches!(
        c.verify_non_membership(30, b"k", &proof, now(&chain, 31)),
        Err(ClientError::Frozen { .. })
    ));
    assert!(matches!(
        c.verify_batch(30, &[], now(&chain, 31)),
        Err(ClientError::Frozen { .. })
    ));
    let mut source = &chain;
    assert!(matches!(
        c.update_to(40, &mut source, now(&chain, 40)),
        Err(ClientError::Frozen { .. })
    ));

    // The owner resets it to a state it trusts; it works again.
    c.reset(chain.trusted_state(35), TrustOptions::default())
        .unwrap();
    assert_eq!(c.status(now(&chain, 36)), ClientStatus::Active);
    c.update(&[chain.light_block(36)], now(&chain, 36)).unwrap();
    let other = TestChain::new(ChainSpec::new("beta", fixed_set(4, 1)), 2);
    assert!(c
        .reset(other.trusted_state(1), TrustOptions::default())
        .is_err());
}

#[test]
fn evidence_is_reverifiable_by_anyone_and_tamper_proof() {
    let chain = chain();
    let evidence = fork_evidence(&chain, 1, 30);
    // Shipped as bytes, decoded elsewhere, checked from an independent trusted state.
    let shipped = Misbehaviour::decode(&evidence.encode()).unwrap();
    let verifier = Verifier::new(TrustOptions::default());
    let kind = shipped
        .verify(&chain.trusted_state(1), &verifier, now(&chain, 31))
        .unwrap();
    assert_eq!(kind, MisbehaviourKind::ConflictingHeaders { height: 30 });

    // The same header twice is no evidence.
    let mut same = evidence.clone();
    same.second = same.first.clone();
    assert_eq!(same.kind(), Err(MisbehaviourError::NoConflict));
    // A conflicting header without a valid commit is no evidence.
    let mut unsigned = evidence.clone();
    unsigned.second.signed_header.commit.signatures.truncate(1);
    assert!(matches!(
        unsigned.verify(&chain.trusted_state(1), &verifier, now(&chain, 31)),
        Err(MisbehaviourError::InvalidHeader { height: 30, .. })
    ));
    // Evidence from a set other than the trusted one is refused.
    let mut wrong_set = evidence.clone();
    wrong_set.trusted_next_validators = chain.validators(300).clone();
    assert!(matches!(
        wrong_set.verify(&chain.trusted_state(1), &verifier, now(&chain, 31)),
        Err(MisbehaviourError::TrustedSetMismatch { .. })
    ));
    // A client refuses evidence that does not hold, and stays active.
    let mut c = client(&chain);
    assert!(c.submit_misbehaviour(&unsigned, now(&chain, 31)).is_err());
    assert!(c.frozen().is_none());
    // Any bit flip in the evidence bytes makes it undecodable or invalid, or (if it lands in
    // the conflicting header's tweaked field) still a valid fork of the same validators.
    let bytes = evidence.encode();
    let mut refused = 0;
    for bit in (0..bytes.len() * 8).step_by(97) {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        match Misbehaviour::decode(&b) {
            Err(_) => refused += 1,
            Ok(m) => {
                if m.verify(&chain.trusted_state(1), &verifier, now(&chain, 31))
                    .is_err()
                {
                    refused += 1
                }
            }
        }
    }
    assert!(refused > 0);
}

#[test]
fn time_violations_are_misbehaviour() {
    let chain = chain();
    // Height 20 claims a time after height 21's: both validly signed.
    let late20 = chain.conflicting_light_block(20, |h| h.time_ms = chain.time_at(21) + 1);
    let evidence = Misbehaviour {
        trusted_height: 1,
        trusted_next_validators: chain.validators(2).clone(),
        first: late20,
        second: chain.light_block(21),
    };
    let mut c = client(&chain);
    let kind = c.submit_misbehaviour(&evidence, now(&chain, 22)).unwrap();
    assert!(matches!(
        kind,
        MisbehaviourKind::TimeViolation {
            lower: 20,
            higher: 21,
            ..
        }
    ));
    assert!(c.frozen().is_some());
    // Consistent times are not misbehaviour.
    let fine = Misbehaviour {
        first: chain.light_block(20),
        ..evidence
    };
    assert_eq!(fine.kind(), Err(MisbehaviourError::NoConflict));
}

#[test]
fn clients_export_and_import_with_checks() {
    let chain = chain();
    let mut c = client(&chain);
    c.update(
        &[chain.light_block(2), chain.light_block(3)],
        now(&chain, 3),
    )
    .unwrap();
    c.submit_misbehaviour(&fork_evidence(&chain, 1, 3), now(&chain, 3))
        .unwrap();
    let json = serde_json::to_string(&c).unwrap();
    let back: ClientState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    // The canonical bytes (what a chain stores in its state tree) round-trip too, and are
    // strict: no trailing byte, no truncation.
    let bytes = c.encode();
    assert_eq!(ClientState::decode(&bytes).unwrap(), c);
    assert!(ClientState::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
    assert!(ClientState::decode(&bytes[..bytes.len() - 1]).is_err());
    let active = client(&chain);
    assert_eq!(ClientState::decode(&active.encode()).unwrap(), active);
    // An export whose latest height has no consensus state is refused on import.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["latest_height"] = serde_json::json!(99);
    assert!(serde_json::from_value::<ClientState>(v).is_err());
    // Invalid options are refused.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["options"]["trust_threshold"]["numerator"] = serde_json::json!(0);
    assert!(serde_json::from_value::<ClientState>(v).is_err());
}

#[test]
fn trusted_state_setup_checks_the_block() {
    let chain = chain();
    let mut b = chain.light_block(5);
    assert!(TrustedState::from_light_block(&b).is_ok());
    b.signed_header.commit.signatures.truncate(2);
    assert!(TrustedState::from_light_block(&b).is_err());
    let bad = TrustOptions {
        trusting_period_ms: 0,
        ..TrustOptions::default()
    };
    assert!(ClientState::new(chain.trusted_state(1), bad).is_err());
}

#[test]
fn prune_keeps_the_latest_state() {
    let chain = chain();
    let mut c = client(&chain);
    c.update(
        &[chain.light_block(2), chain.light_block(3)],
        now(&chain, 3),
    )
    .unwrap();
    let period = TrustOptions::default().trusting_period_ms;
    assert_eq!(c.prune(now(&chain, 3)), 0);
    assert_eq!(c.prune(chain.time_at(3) + period), 2);
    assert_eq!(c.heights().collect::<Vec<_>>(), vec![3]);
}

#[test]
fn prune_to_keeps_the_newest_states_and_trimmed_copies_verify_the_same() {
    let chain = chain();
    let mut c = client(&chain);
    let blocks: Vec<_> = (2..=6).map(|h| chain.light_block(h)).collect();
    c.update(&blocks, now(&chain, 6)).unwrap();
    assert_eq!(c.prune_to(now(&chain, 6), 3), 3);
    assert_eq!(c.heights().collect::<Vec<_>>(), vec![4, 5, 6]);
    // Keeping zero still keeps the latest.
    let mut one = c.clone();
    one.prune_to(now(&chain, 6), 0);
    assert_eq!(one.heights().collect::<Vec<_>>(), vec![6]);
    // A trimmed copy keeps the latest and the asked height, and goes on updating exactly
    // like the whole client.
    let mut trimmed = c.trimmed_for(4);
    assert_eq!(trimmed.heights().collect::<Vec<_>>(), vec![4, 6]);
    assert_eq!(
        trimmed.trimmed_for(9).heights().collect::<Vec<_>>(),
        vec![6]
    );
    let next = [chain.light_block(7)];
    assert_eq!(
        trimmed.update(&next, now(&chain, 7)).unwrap(),
        c.update(&next, now(&chain, 7)).unwrap()
    );
    assert_eq!(trimmed.consensus_state(7), c.consensus_state(7));
}
