//! The attestation board: where a relayer collects the attester signatures of a k-of-n
//! committee (docs/PROTOCOL.md §12) until a quorum signed one attestation.
//!
//! Signatures arrive from this relayer's own attester key ([`AttestationBoard::publish_own`])
//! and from its mesh peers (the mesh offers everything it receives on
//! `xrelay/mesh/attest/v1`, PROTOCOL.md §10). Each is checked on arrival: the attestation
//! must name a chain whose committee was admitted ([`AttestationBoard::admit`]), the
//! attester must be a member of it, and the signature must recover to that attester. Only
//! then is it kept, per attestation digest, so outsiders cannot fill the board.
//! [`AttestationBoard::gather`] waits until a quorum signed exactly the wanted attestation;
//! [`AttestationBoard::subscribe_seen`] tells the co-signer of attestations it has not seen
//! before, so that it can check them against its own node and sign them too.
//!
//! Memory is bounded: at most [`MAX_ATTESTATIONS`] attestations (the least recently first
//! seen is forgotten first), at most [`MAX_ATTESTERS`] signatures each, and the newest
//! [`OWN_REPUBLISHED`] of this relayer's own signatures, which the mesh re-publishes so that
//! a peer that joins late still gets them.

pub mod payload;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use xrelay_light_client::evm::attest::{
    Attestation, Attested, AttesterSignature, Committee, MAX_ATTESTERS,
};
use xrelay_light_client::{Address, ChainId, Hash32, Signature65};

/// Most attestations kept: a relayer attests a few blocks per lane at a time, so this holds
/// minutes of attestations of many chains while bounding what a flooding peer can cost.
pub const MAX_ATTESTATIONS: usize = 1_024;

/// How many of this relayer's own newest signatures the mesh re-publishes with each
/// heartbeat.
pub const OWN_REPUBLISHED: usize = 16;

/// Own signatures queued for the mesh before it takes them; a slower mesh loses the
/// oldest, which the periodic re-publication covers.
const OUTBOUND_CAPACITY: usize = 256;

/// New attestations announced to the co-signer before it takes them; a slower co-signer
/// loses the oldest (their owners re-publish, which announces nothing new, so it then
/// relies on the owner's retry).
const SEEN_CAPACITY: usize = 256;

/// Why the board refused a signature (nothing was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No committee of the attested chain was admitted: this relayer follows no such
    /// chain in attestation mode.
    #[error("no committee is known for the attested chain")]
    UnknownChain,
    /// The attester is not a member of the chain's committee.
    #[error("the attester is not in the chain's committee")]
    NotMember,
    /// The signature does not recover to the attester it names.
    #[error("the signature does not recover to the attester it names")]
    BadSignature,
    /// The attestation already has [`MAX_ATTESTERS`] other signers.
    #[error("the attestation already has the most signers kept")]
    Full,
}

impl Refused {
    /// The `reason` label of `xrelay_mesh_attestations_dropped_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refused::UnknownChain => "unknown_chain",
            Refused::NotMember => "not_member",
            Refused::BadSignature => "bad_signature",
            Refused::Full => "full",
        }
    }
}

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
    /// The committee members whose signatures are kept, per attested chain.
    members: HashMap<ChainId, BTreeSet<Address>>,
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
    /// Attestations stored for the first time, for the co-signer.
    seen: broadcast::Sender<Attestation>,
}

impl std::fmt::Debug for AttestationBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationBoard")
            .field("attestations", &self.len())
            .field("max_attestations", &self.max_attestations)
            .finish()
    }
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
        let (seen, _) = broadcast::channel(SEEN_CAPACITY);
        Arc::new(AttestationBoard {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                own: VecDeque::new(),
                members: HashMap::new(),
            }),
            max_attestations: max_attestations.max(1),
            stored,
            outbound,
            seen,
        })
    }

    /// Keeps signatures of `committee`'s members over attestations of `chain` from now on
    /// (replacing an earlier committee of the chain). Signatures for chains never admitted,
    /// or by anyone else, are refused.
    pub fn admit(&self, chain: ChainId, committee: &Committee) {
        let members = committee.attesters().iter().copied().collect();
        self.lock().members.insert(chain, members);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent at every await-free step, so a panic elsewhere while
        // holding the lock leaves nothing half-written worth refusing.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `signature` for `attestation` if the attester is a member of the admitted
    /// committee of the attested chain and the signature recovers to it over
    /// `attestation.digest()` (PROTOCOL.md §4 rules). Refused, storing nothing, otherwise.
    /// The same signature offered again is accepted without being checked again.
    pub fn offer(
        &self,
        attestation: Attestation,
        signature: AttesterSignature,
    ) -> Result<(), Refused> {
        let digest = attestation.digest();
        {
            let inner = self.lock();
            let members = inner
                .members
                .get(&attestation.chain_id)
                .ok_or(Refused::UnknownChain)?;
            if !members.contains(&signature.attester) {
                return Err(Refused::NotMember);
            }
            if let Some(entry) = inner.entries.get(&digest) {
                if entry.signatures.get(&signature.attester) == Some(&signature.signature) {
                    return Ok(());
                }
            }
        }
        // Recovery is the expensive part: done without holding the lock.
        match signature.signature.recover_address(&digest) {
            Ok(signer) if signer == signature.attester => {}
            _ => return Err(Refused::BadSignature),
        }
        let mut inner = self.lock();
        let mut first_seen = false;
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
                    attestation: attestation.clone(),
                    signatures: BTreeMap::new(),
                },
            );
            first_seen = true;
        }
        let Some(entry) = inner.entries.get_mut(&digest) else {
            return Err(Refused::Full);
        };
        if entry.signatures.len() >= MAX_ATTESTERS
            && !entry.signatures.contains_key(&signature.attester)
        {
            return Err(Refused::Full);
        }
        entry
            .signatures
            .insert(signature.attester, signature.signature);
        drop(inner);
        self.stored.send_modify(|n| *n = n.wrapping_add(1));
        if first_seen {
            // Nobody co-signing (no attester key here) is normal.
            let _ = self.seen.send(attestation);
        }
        Ok(())
    }

    /// Attestations as they are first stored (from peers or from this relayer), for the
    /// co-signer that checks and signs what its peers attested.
    pub fn subscribe_seen(&self) -> broadcast::Receiver<Attestation> {
        self.seen.subscribe()
    }

    /// Whether `attester` signed exactly `attestation` (as stored here).
    pub fn signed_by(&self, attestation: &Attestation, attester: &Address) -> bool {
        self.lock()
            .entries
            .get(&attestation.digest())
            .is_some_and(|e| e.attestation == *attestation && e.signatures.contains_key(attester))
    }

    /// Stores this relayer's own signature and hands it to the mesh (now, and again with
    /// each heartbeat while it is among the newest [`OWN_REPUBLISHED`]). Refused, publishing
    /// nothing, on the same grounds as [`Self::offer`].
    pub fn publish_own(
        &self,
        attestation: Attestation,
        signature: AttesterSignature,
    ) -> Result<(), Refused> {
        self.offer(attestation.clone(), signature)?;
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
        Ok(())
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
        long.chain_id =
            ChainId::new("x".repeat(xrelay_light_client::chain::MAX_CHAIN_ID_LEN)).unwrap();
        let longest = encode_payload(&long, &long.sign(&ks[0]));
        assert_eq!(longest.len(), MAX_PAYLOAD_LEN);
        assert!(decode_payload(&longest).is_ok());
    }
}
