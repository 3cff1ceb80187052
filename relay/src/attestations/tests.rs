//! The board's unit tests: refused signatures, admitted committees, bounded memory, own
//! signatures queued for the mesh, and the payload codec.

use super::payload::{decode_payload, encode_payload, MAX_PAYLOAD_LEN};
use super::*;
use std::sync::Arc;
use std::time::Duration;
use xrelay_light_client::encoding::Encode;
use xrelay_light_client::evm::attest::{Attestation, Committee, MAX_ATTESTERS};
use xrelay_light_client::Hash32;
use xrelay_light_client::{ChainId, SigningKey};

fn keys(n: u32) -> Vec<SigningKey> {
    (0..n).map(|i| SigningKey::from_seed("board", i)).collect()
}

fn committee(keys: &[SigningKey], quorum: usize) -> Committee {
    Committee::new(keys.iter().map(SigningKey::address).collect(), quorum).unwrap()
}

/// A board keeping the signatures of `c`'s members over the test chain.
fn board_of(c: &Committee) -> Arc<AttestationBoard> {
    let board = AttestationBoard::new();
    board.admit(ChainId::new("anvil").unwrap(), c);
    board
}

fn attestation(height: u64) -> Attestation {
    Attestation {
        chain_id: ChainId::new("anvil").unwrap(),
        height,
        block_hash: Hash32([height as u8; 32]),
        state_root: Hash32([0xab; 32]),
        time_ms: 1_700_000_000_000 + height,
    }
}

#[tokio::test]
async fn two_of_three_reach_the_quorum_and_the_committee_accepts_it() {
    let ks = keys(3);
    let c = committee(&ks, 2);
    let board = board_of(&c);
    let a = attestation(7);
    assert!(board.offer(a.clone(), a.sign(&ks[2])).is_ok());
    assert_eq!(board.attested(&a, &c), None, "one of two");
    // Duplicates are harmless and do not count twice.
    assert!(board.offer(a.clone(), a.sign(&ks[2])).is_ok());
    assert_eq!(board.attested(&a, &c), None);
    assert!(board.offer(a.clone(), a.sign(&ks[0])).is_ok());
    let attested = board
        .gather(&a, &c, Duration::from_millis(10))
        .await
        .expect("quorum");
    assert_eq!(attested.attestation, a);
    assert_eq!(attested.signatures.len(), 2);
    let mut signers = c.verify(&attested).unwrap();
    signers.sort();
    let mut expected = vec![ks[0].address(), ks[2].address()];
    expected.sort();
    assert_eq!(signers, expected);
}

#[tokio::test]
async fn gather_wakes_when_the_last_signature_arrives() {
    let ks = keys(3);
    let c = committee(&ks, 3);
    let board = board_of(&c);
    let a = attestation(9);
    board.offer(a.clone(), a.sign(&ks[0])).unwrap();
    let late = {
        let (board, a, k1, k2) = (board.clone(), a.clone(), ks[1].clone(), ks[2].clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            board.offer(a.clone(), a.sign(&k1)).unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            board.offer(a.clone(), a.sign(&k2)).unwrap();
        })
    };
    let started = std::time::Instant::now();
    let attested = board.gather(&a, &c, Duration::from_secs(10)).await;
    assert_eq!(attested.map(|x| x.signatures.len()), Some(3));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not timed out"
    );
    late.await.unwrap();
}

#[test]
fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let ks = keys(2);
    let board = board_of(&committee(&ks, 2));
    let a = attestation(1);
    // Signed by key 0 but naming key 1.
    let mut forged = a.sign(&ks[0]);
    forged.attester = ks[1].address();
    assert_eq!(board.offer(a.clone(), forged), Err(Refused::BadSignature));
    // Malformed bytes (r = 0).
    let mut zero = a.sign(&ks[0]);
    let mut raw = zero.signature.encode();
    raw[..32].fill(0);
    zero.signature = xrelay_light_client::Decode::decode(&raw).unwrap();
    assert_eq!(board.offer(a.clone(), zero), Err(Refused::BadSignature));
    assert!(board.is_empty());
    assert!(board.recent_own().is_empty());
    assert!(board.publish_own(a.clone(), forged).is_err());
    assert!(board.is_empty() && board.recent_own().is_empty());
}

#[test]
fn only_members_of_an_admitted_committee_are_kept() {
    let ks = keys(2);
    let board = AttestationBoard::new();
    let a = attestation(4);
    // No committee of the chain yet: even a member's valid signature is refused.
    assert_eq!(
        board.offer(a.clone(), a.sign(&ks[0])),
        Err(Refused::UnknownChain)
    );
    board.admit(a.chain_id.clone(), &committee(&ks, 2));
    let mut seen = board.subscribe_seen();
    // Outsiders with valid signatures cannot take room or announce attestations, so
    // they cannot crowd out the members.
    for i in 0..(MAX_ATTESTERS as u32 + 10) {
        let outsider = SigningKey::from_seed("outsider", i);
        assert_eq!(
            board.offer(a.clone(), a.sign(&outsider)),
            Err(Refused::NotMember)
        );
    }
    assert!(board.is_empty());
    assert!(seen.try_recv().is_err(), "nothing announced");
    // Another chain's attestation, signed by a member, is still refused.
    let mut elsewhere = a.clone();
    elsewhere.chain_id = ChainId::new("other").unwrap();
    assert_eq!(
        board.offer(elsewhere.clone(), elsewhere.sign(&ks[0])),
        Err(Refused::UnknownChain)
    );
    // Members are kept; the first signature of an attestation announces it, once.
    assert_eq!(board.offer(a.clone(), a.sign(&ks[1])), Ok(()));
    assert_eq!(seen.try_recv().unwrap(), a);
    assert!(board.signed_by(&a, &ks[1].address()));
    assert!(!board.signed_by(&a, &ks[0].address()));
    assert_eq!(board.offer(a.clone(), a.sign(&ks[0])), Ok(()));
    assert!(seen.try_recv().is_err(), "announced once");
    assert!(board.attested(&a, &committee(&ks, 2)).is_some());
    // A new committee of the chain replaces the old one.
    let newer = keys(3);
    board.admit(a.chain_id.clone(), &committee(&newer[2..], 1));
    assert_eq!(
        board.offer(a.clone(), a.sign(&ks[0])),
        Err(Refused::NotMember),
        "a former member, even with a signature stored before"
    );
    let b = attestation(5);
    assert_eq!(
        board.offer(b.clone(), b.sign(&ks[0])),
        Err(Refused::NotMember)
    );
    assert_eq!(board.offer(b.clone(), b.sign(&newer[2])), Ok(()));
}

#[tokio::test]
async fn a_signature_over_another_attestation_does_not_count() {
    let ks = keys(3);
    let c = committee(&ks, 2);
    let board = board_of(&c);
    let a = attestation(5);
    let mut other_root = a.clone();
    other_root.state_root = Hash32([0xcd; 32]);
    assert!(board.offer(a.clone(), a.sign(&ks[0])).is_ok());
    assert!(board
        .offer(other_root.clone(), other_root.sign(&ks[1]))
        .is_ok());
    // A signature over other_root presented as one over a: it does not recover to ks[1].
    assert!(board.offer(a.clone(), other_root.sign(&ks[1])).is_err());
    assert_eq!(board.gather(&a, &c, Duration::from_millis(20)).await, None);
    assert_eq!(
        board
            .gather(&other_root, &c, Duration::from_millis(20))
            .await,
        None
    );
    // A member of the admitted committee outside the one asked for does not count.
    let smaller = committee(&ks[..2], 2);
    assert!(board.offer(a.clone(), a.sign(&ks[2])).is_ok());
    assert_eq!(board.attested(&a, &smaller), None);
    assert!(board.attested(&a, &c).is_some());
}

#[tokio::test]
async fn gather_times_out_with_none() {
    let ks = keys(2);
    let c = committee(&ks, 2);
    let board = board_of(&c);
    let a = attestation(3);
    board.offer(a.clone(), a.sign(&ks[0])).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(board.gather(&a, &c, Duration::from_millis(100)).await, None);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn memory_is_bounded() {
    let ks = keys(1);
    let c = committee(&ks, 1);
    let board = AttestationBoard::with_capacity(8);
    board.admit(ChainId::new("anvil").unwrap(), &c);
    for h in 0..20 {
        let a = attestation(h);
        assert!(board.offer(a.clone(), a.sign(&ks[0])).is_ok());
        assert!(board.len() <= 8);
    }
    assert_eq!(board.len(), 8);
    // The oldest are forgotten, the newest kept.
    assert!(board.attested(&attestation(0), &c).is_none());
    assert!(board.attested(&attestation(19), &c).is_some());
    assert_eq!(AttestationBoard::new().max_attestations, MAX_ATTESTATIONS);

    // A committee is at most MAX_ATTESTERS, so signatures per attestation are too.
    let many: Vec<SigningKey> = (0..MAX_ATTESTERS as u32)
        .map(|i| SigningKey::from_seed("many", i))
        .collect();
    let board = board_of(&committee(&many, MAX_ATTESTERS));
    let a = attestation(1);
    for k in &many {
        assert!(board.offer(a.clone(), a.sign(k)).is_ok());
    }
    let one_more = a.sign(&SigningKey::from_seed("many", MAX_ATTESTERS as u32));
    assert_eq!(board.offer(a.clone(), one_more), Err(Refused::NotMember));
    // An existing signer offering again is still fine.
    assert!(board.offer(a.clone(), a.sign(&many[0])).is_ok());

    // Own signatures kept for re-publication stop at OWN_REPUBLISHED, newest kept.
    let board = board_of(&c);
    for h in 0..(OWN_REPUBLISHED as u64 + 5) {
        let a = attestation(h);
        assert!(board.publish_own(a.clone(), a.sign(&ks[0])).is_ok());
    }
    let own = board.recent_own();
    assert_eq!(own.len(), OWN_REPUBLISHED);
    assert_eq!(own.last().unwrap().0.height, OWN_REPUBLISHED as u64 + 4);
    assert_eq!(own.first().unwrap().0.height, 5);
}

#[test]
fn publish_own_stores_and_queues_for_the_mesh() {
    let ks = keys(1);
    let board = board_of(&committee(&ks, 1));
    let mut outbound = board.subscribe_outbound();
    let a = attestation(11);
    let s = a.sign(&ks[0]);
    assert!(board.publish_own(a.clone(), s).is_ok());
    assert_eq!(outbound.try_recv().unwrap(), (a.clone(), s));
    assert!(board.attested(&a, &committee(&ks, 1)).is_some());
    // Publishing the same again does not grow the re-publication list.
    assert!(board.publish_own(a.clone(), s).is_ok());
    assert_eq!(board.recent_own(), vec![(a, s)]);
}

#[test]
fn payload_round_trips_and_decodes_strictly() {
    let ks = keys(1);
    let a = attestation(42);
    let s = a.sign(&ks[0]);
    let bytes = encode_payload(&a, &s);
    assert_eq!(bytes, [a.encode(), s.encode()].concat());
    assert_eq!(decode_payload(&bytes).unwrap(), (a.clone(), s));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(decode_payload(&trailing).is_err());
    assert!(decode_payload(&bytes[..bytes.len() - 1]).is_err());
    assert!(decode_payload(&[]).is_err());
    assert!(decode_payload(&vec![0; MAX_PAYLOAD_LEN + 1]).is_err());
    // The longest chain id fits the bound exactly.
    let mut long = a.clone();
    long.chain_id = ChainId::new("x".repeat(xrelay_light_client::chain::MAX_CHAIN_ID_LEN)).unwrap();
    let longest = encode_payload(&long, &long.sign(&ks[0]));
    assert_eq!(longest.len(), MAX_PAYLOAD_LEN);
    assert!(decode_payload(&longest).is_ok());
}
