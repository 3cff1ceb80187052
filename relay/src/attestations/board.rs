//! The board's storage: admitted committees, signatures checked on arrival and kept per
//! attestation digest within bounds, this relayer's own signatures queued for the mesh, and
//! new attestations announced to the co-signer.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, watch};
use xrelay_light_client::evm::attest::{Attestation, AttesterSignature, Committee, MAX_ATTESTERS};
use xrelay_light_client::{Address, ChainId, Hash32, Signature65};

use super::{Refused, MAX_ATTESTATIONS, OUTBOUND_CAPACITY, OWN_REPUBLISHED, SEEN_CAPACITY};

/// One attestation and the valid signatures seen for it.
pub(super) struct Entry {
    pub(super) attestation: Attestation,
    pub(super) signatures: BTreeMap<Address, Signature65>,
}

/// The board's state behind its lock.
pub(super) struct Inner {
    /// Entries by attestation digest.
    pub(super) entries: HashMap<Hash32, Entry>,
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
    pub(super) max_attestations: usize,
    /// Bumped whenever a signature is stored, so waiters re-check without polling.
    pub(super) stored: watch::Sender<u64>,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
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
}
