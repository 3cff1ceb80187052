//! The attestation board: where a relayer collects the attester signatures of a k-of-n
//! committee (docs/PROTOCOL.md §12) until a quorum signed one attestation.
//!
//! Signatures arrive from this relayer's own attester key ([`AttestationBoard::publish_own`])
//! and from its mesh peers (the mesh offers everything it receives on
//! `xrelay/mesh/attest/v1`, PROTOCOL.md §10). Each is checked on arrival (it must recover to
//! the attester it names) and kept per attestation digest. [`AttestationBoard::gather`]
//! waits until members of a given committee signed exactly the wanted attestation.
//!
//! Memory is bounded: at most [`MAX_ATTESTATIONS`] attestations (the least recently first
//! seen is forgotten first), at most [`MAX_ATTESTERS`] signatures each, and the newest
//! [`OWN_REPUBLISHED`] of this relayer's own signatures, which the mesh re-publishes so that
//! a peer that joins late still gets them.

pub mod payload;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use xrelay_light_client::evm::attest::{
    Attestation, Attested, AttesterSignature, Committee, MAX_ATTESTERS,
};
use xrelay_light_client::{Address, Hash32, Signature65};

/// Most attestations kept: a relayer attests a few blocks per lane at a time, so this holds
/// minutes of attestations of many chains while bounding what a flooding peer can cost.
pub const MAX_ATTESTATIONS: usize = 1_024;

/// How many of this relayer's own newest signatures the mesh re-publishes with each
/// heartbeat.
pub const OWN_REPUBLISHED: usize = 16;

/// Own signatures queued for the mesh before it takes them; a slower mesh loses the
/// oldest, which the periodic re-publication covers.
const OUTBOUND_CAPACITY: usize = 256;

/// One attestation and the valid signatures seen for it.
struct Entry {
    attestation: Attestation,
    signatures: BTreeMap<Address, Signature65>,
}

/// The board's state behind its lock.
struct Inner {
    /// Entries by attestation digest.
    entries: HashMap<Hash32, Entry>,
    /// Digests in the order first seen (oldest first), for eviction.
    order: VecDeque<Hash32>,
    /// This relayer's own newest signatures (oldest first).
    own: VecDeque<(Attestation, AttesterSignature)>,
}

/// Collects attester signatures per attestation; shared by the mesh (which offers what it
/// receives and publishes what this relayer signs) and the chains that need an
/// [`Attested`] for a block.
pub struct AttestationBoard {
    inner: Mutex<Inner>,
    max_attestations: usize,
    /// Bumped whenever a signature is stored, so waiters re-check without polling.
    stored: watch::Sender<u64>,
    /// This relayer's own signatures, for the mesh to publish.
    outbound: broadcast::Sender<(Attestation, AttesterSignature)>,
}

impl AttestationBoard {
    /// An empty board holding up to [`MAX_ATTESTATIONS`] attestations.
    pub fn new() -> Arc<AttestationBoard> {
        Self::with_capacity(MAX_ATTESTATIONS)
    }

    /// An empty board holding up to `max_attestations` attestations (at least one).
    pub fn with_capacity(max_attestations: usize) -> Arc<AttestationBoard> {
        let (stored, _) = watch::channel(0);
        let (outbound, _) = broadcast::channel(OUTBOUND_CAPACITY);
        Arc::new(AttestationBoard {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                own: VecDeque::new(),
            }),
            max_attestations: max_attestations.max(1),
            stored,
            outbound,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent at every await-free step, so a panic elsewhere while
        // holding the lock leaves nothing half-written worth refusing.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `signature` for `attestation` if it recovers to `signature.attester` over
    /// `attestation.digest()` (PROTOCOL.md §4 rules). Returns false, storing nothing, when it
    /// does not verify or the attestation already has [`MAX_ATTESTERS`] other signers. The
    /// same signature offered again is accepted without being checked again.
    pub fn offer(&self, attestation: Attestation, signature: AttesterSignature) -> bool {
        let digest = attestation.digest();
        {
            let inner = self.lock();
            if let Some(entry) = inner.entries.get(&digest) {
                if entry.signatures.get(&signature.attester) == Some(&signature.signature) {
                    return true;
                }
                if entry.signatures.len() >= MAX_ATTESTERS
                    && !entry.signatures.contains_key(&signature.attester)
                {
                    return false;
                }
            }
        }
        // Recovery is the expensive part: done without holding the lock.
        match signature.signature.recover_address(&digest) {
            Ok(signer) if signer == signature.attester => {}
            _ => return false,
        }
        let mut inner = self.lock();
        if !inner.entries.contains_key(&digest) {
            while inner.order.len() >= self.max_attestations {
                if let Some(old) = inner.order.pop_front() {
                    inner.entries.remove(&old);
                }
            }
            inner.order.push_back(digest);
            inner.entries.insert(
                digest,
                Entry {
                    attestation,
                    signatures: BTreeMap::new(),
                },
            );
        }
        let Some(entry) = inner.entries.get_mut(&digest) else {
            return false;
        };
        if entry.signatures.len() >= MAX_ATTESTERS
            && !entry.signatures.contains_key(&signature.attester)
        {
            return false;
        }
        entry
            .signatures
            .insert(signature.attester, signature.signature);
        drop(inner);
        self.stored.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// Stores this relayer's own signature and hands it to the mesh (now, and again with
    /// each heartbeat while it is among the newest [`OWN_REPUBLISHED`]). Returns false,
    /// publishing nothing, when the signature does not verify.
    pub fn publish_own(&self, attestation: Attestation, signature: AttesterSignature) -> bool {
        if !self.offer(attestation.clone(), signature) {
            return false;
        }
        {
            let mut inner = self.lock();
            inner
                .own
                .retain(|(a, s)| !(a == &attestation && s.attester == signature.attester));
            if inner.own.len() >= OWN_REPUBLISHED {
                inner.own.pop_front();
            }
            inner.own.push_back((attestation.clone(), signature));
        }
        // No subscriber (mesh off) is normal: the signature is stored all the same.
        let _ = self.outbound.send((attestation, signature));
        true
    }

    /// Own signatures as they are published, for the mesh to gossip. A receiver that falls
    /// more than a few hundred behind skips the oldest (they are re-published anyway).
    pub fn subscribe_outbound(&self) -> broadcast::Receiver<(Attestation, AttesterSignature)> {
        self.outbound.subscribe()
    }

    /// This relayer's newest own signatures (at most [`OWN_REPUBLISHED`], oldest first),
    /// which the mesh re-publishes for peers that joined after they were first sent.
    pub fn recent_own(&self) -> Vec<(Attestation, AttesterSignature)> {
        self.lock().own.iter().cloned().collect()
    }

    /// How many attestations the board holds now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the board holds no attestation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The signatures of `committee` members stored for exactly `attestation`, as an
    /// [`Attested`] the committee accepts, if a quorum of them signed.
    pub fn attested(&self, attestation: &Attestation, committee: &Committee) -> Option<Attested> {
        let digest = attestation.digest();
        let mut attested = Attested {
            attestation: attestation.clone(),
            signatures: Vec::with_capacity(committee.quorum()),
        };
        {
            let inner = self.lock();
            let entry = inner.entries.get(&digest)?;
            if entry.attestation != *attestation {
                return None;
            }
            // Members ascending, so two relayers with the same signatures build the same
            // Attested.
            for member in committee.attesters() {
                if attested.signatures.len() == committee.quorum() {
                    break;
                }
                if let Some(signature) = entry.signatures.get(member) {
                    attested.add(AttesterSignature {
                        attester: *member,
                        signature: *signature,
                    });
                }
            }
        }
        if attested.signatures.len() < committee.quorum() {
            return None;
        }
        match committee.verify(&attested) {
            Ok(_) => Some(attested),
            Err(e) => {
                // Every stored signature was checked on arrival; this would be a bug.
                tracing::error!(error = %e, height = attestation.height, "stored attester signatures do not verify");
                None
            }
        }
    }

    /// Waits at most `wait` until a quorum of `committee` signed exactly `attestation`;
    /// returns the [`Attested`] as soon as it is complete, None when the time runs out.
    pub async fn gather(
        &self,
        attestation: &Attestation,
        committee: &Committee,
        wait: Duration,
    ) -> Option<Attested> {
        // Subscribed before the first look: a signature stored after it wakes the loop.
        let mut stored = self.stored.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(attested) = self.attested(attestation, committee) {
                return Some(attested);
            }
            match tokio::time::timeout_at(deadline, stored.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives as long as the board, which outlives this borrow.
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::payload::{decode_payload, encode_payload, MAX_PAYLOAD_LEN};
    use super::*;
    use xrelay_light_client::encoding::Encode;
    use xrelay_light_client::{ChainId, SigningKey};

    fn keys(n: u32) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_seed("board", i)).collect()
    }

    fn committee(keys: &[SigningKey], quorum: usize) -> Committee {
        Committee::new(keys.iter().map(SigningKey::address).collect(), quorum).unwrap()
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
        let board = AttestationBoard::new();
        let a = attestation(7);
        assert!(board.offer(a.clone(), a.sign(&ks[2])));
        assert_eq!(board.attested(&a, &c), None, "one of two");
        // Duplicates are harmless and do not count twice.
        assert!(board.offer(a.clone(), a.sign(&ks[2])));
        assert_eq!(board.attested(&a, &c), None);
        assert!(board.offer(a.clone(), a.sign(&ks[0])));
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
        let board = AttestationBoard::new();
        let a = attestation(9);
        board.offer(a.clone(), a.sign(&ks[0]));
        let late = {
            let (board, a, k1, k2) = (board.clone(), a.clone(), ks[1].clone(), ks[2].clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                board.offer(a.clone(), a.sign(&k1));
                tokio::time::sleep(Duration::from_millis(30)).await;
                board.offer(a.clone(), a.sign(&k2));
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
        let board = AttestationBoard::new();
        let a = attestation(1);
        // Signed by key 0 but naming key 1.
        let mut forged = a.sign(&ks[0]);
        forged.attester = ks[1].address();
        assert!(!board.offer(a.clone(), forged));
        // Malformed bytes (r = 0).
        let mut zero = a.sign(&ks[0]);
        let mut raw = zero.signature.encode();
        raw[..32].fill(0);
        zero.signature = xrelay_light_client::Decode::decode(&raw).unwrap();
        assert!(!board.offer(a.clone(), zero));
        assert!(board.is_empty());
        assert!(board.recent_own().is_empty());
        assert!(!board.publish_own(a.clone(), forged));
        assert!(board.is_empty() && board.recent_own().is_empty());
    }

    #[tokio::test]
    async fn a_signature_over_another_attestation_does_not_count() {
        let ks = keys(3);
        let c = committee(&ks, 2);
        let board = AttestationBoard::new();
        let a = attestation(5);
        let mut other_root = a.clone();
        other_root.state_root = Hash32([0xcd; 32]);
        assert!(board.offer(a.clone(), a.sign(&ks[0])));
        assert!(board.offer(other_root.clone(), other_root.sign(&ks[1])));
        // A signature over other_root presented as one over a: it does not recover to ks[1].
        assert!(!board.offer(a.clone(), other_root.sign(&ks[1])));
        assert_eq!(board.gather(&a, &c, Duration::from_millis(20)).await, None);
        assert_eq!(
            board
                .gather(&other_root, &c, Duration::from_millis(20))
                .await,
            None
        );
        // Non-members do not count either.
        let outsider = SigningKey::from_seed("outsider", 0);
        assert!(board.offer(a.clone(), a.sign(&outsider)));
        assert_eq!(board.attested(&a, &c), None);
        assert!(board.offer(a.clone(), a.sign(&ks[2])));
        let attested = board.attested(&a, &c).unwrap();
        assert!(attested
            .signatures
            .iter()
            .all(|s| s.attester != outsider.address()));
    }

    #[tokio::test]
    async fn gather_times_out_with_none() {
        let ks = keys(2);
        let c = committee(&ks, 2);
        let board = AttestationBoard::new();
        let a = attestation(3);
        board.offer(a.clone(), a.sign(&ks[0]));
        let started = std::time::Instant::now();
        assert_eq!(board.gather(&a, &c, Duration::from_millis(100)).await, None);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[test]
    fn memory_is_bounded() {
        let ks = keys(1);
        let board = AttestationBoard::with_capacity(8);
        for h in 0..20 {
            let a = attestation(h);
            assert!(board.offer(a.clone(), a.sign(&ks[0])));
            assert!(board.len() <= 8);
        }
        assert_eq!(board.len(), 8);
        let c = committee(&ks, 1);
        // The oldest are forgotten, the newest kept.
        assert!(board.attested(&attestation(0), &c).is_none());
        assert!(board.attested(&attestation(19), &c).is_some());
        assert_eq!(AttestationBoard::new().max_attestations, MAX_ATTESTATIONS);

        // Signatures per attestation stop at MAX_ATTESTERS distinct signers.
        let board = AttestationBoard::new();
        let a = attestation(1);
        for i in 0..MAX_ATTESTERS as u32 {
            assert!(board.offer(a.clone(), a.sign(&SigningKey::from_seed("many", i))));
        }
        let one_more = a.sign(&SigningKey::from_seed("many", MAX_ATTESTERS as u32));
        assert!(!board.offer(a.clone(), one_more));
        // An existing signer offering again is still fine.
        assert!(board.offer(a.clone(), a.sign(&SigningKey::from_seed("many", 0))));

        // Own signatures kept for re-publication stop at OWN_REPUBLISHED, newest kept.
        let board = AttestationBoard::new();
        for h in 0..(OWN_REPUBLISHED as u64 + 5) {
            let a = attestation(h);
            assert!(board.publish_own(a.clone(), a.sign(&ks[0])));
        }
        let own = board.recent_own();
        assert_eq!(own.len(), OWN_REPUBLISHED);
        assert_eq!(own.last().unwrap().0.height, OWN_REPUBLISHED as u64 + 4);
        assert_eq!(own.first().unwrap().0.height, 5);
    }

    #[test]
    fn publish_own_stores_and_queues_for_the_mesh() {
        let ks = keys(1);
        let board = AttestationBoard::new();
        let mut outbound = board.subscribe_outbound();
        let a = attestation(11);
        let s = a.sign(&ks[0]);
        assert!(board.publish_own(a.clone(), s));
        assert_eq!(outbound.try_recv().unwrap(), (a.clone(), s));
        assert!(board.attested(&a, &committee(&ks, 1)).is_some());
        // Publishing the same again does not grow the re-publication list.
        assert!(board.publish_own(a.clone(), s));
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
        long.chain_id =
            ChainId::new("x".repeat(xrelay_light_client::chain::MAX_CHAIN_ID_LEN)).unwrap();
        let longest = encode_payload(&long, &long.sign(&ks[0]));
        assert_eq!(longest.len(), MAX_PAYLOAD_LEN);
        assert!(decode_payload(&longest).is_ok());
    }
}
