//! The store's safety records, both in the `meta` family and both written before the
//! relayer acts on them: the chains it found misbehaving (frozen until an operator clears
//! them), and the attestations its co-signer signed per chain and height (so it never signs
//! two blocks at one height, across restarts), with the floor below which they are
//! forgotten. Apart from the message database because they guard what the relayer signs
//! and relays rather than record what it saw.

use rocksdb::{Direction, IteratorMode};
use xrelay_light_client::evm::attest::Attestation;
use xrelay_light_client::{ChainId, Decode, Encode, Height};

use super::db::{RelayStore, Transition, CF_META};
use super::StoreError;

const FROZEN_PREFIX: &[u8] = b"frozen\0";
/// `attested\0{chain}\0{u64 height}` → the canonical `Attestation` this relayer signed at
/// that height (chain ids contain no NUL, so keys of two chains never meet).
const SIGNED_PREFIX: &[u8] = b"attested\0";
/// `attested_floor\0{chain}` → `u64`: heights up to this one are forgotten (pruned).
const SIGNED_FLOOR_PREFIX: &[u8] = b"attested_floor\0";

impl RelayStore {
    /// Chains this relayer found misbehaving, with the evidence hash (hex).
    pub fn frozen(&self) -> Result<Vec<(ChainId, String)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            IteratorMode::From(FROZEN_PREFIX, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(FROZEN_PREFIX) {
                break;
            }
            let chain = std::str::from_utf8(&k[FROZEN_PREFIX.len()..])
                .ok()
                .and_then(|c| c.parse().ok())
                .ok_or(StoreError::Corrupt {
                    what: "frozen chain",
                    why: hex::encode(&k),
                })?;
            out.push((chain, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(out)
    }

    /// Records that `chain` misbehaved (the relayer stops relaying it until an operator
    /// clears the flag).
    pub fn put_frozen(&self, t: &mut Transition, chain: &ChainId, evidence_hash: &str) {
        let mut k = FROZEN_PREFIX.to_vec();
        k.extend_from_slice(chain.as_str().as_bytes());
        t.batch
            .put_cf(self.cf(CF_META), k, evidence_hash.as_bytes());
        t.make_durable();
    }

    /// Lifts the misbehaviour flag of `chain` (the operator's decision, after the consortium
    /// dealt with the incident).
    pub fn clear_frozen(&self, t: &mut Transition, chain: &ChainId) {
        let mut k = FROZEN_PREFIX.to_vec();
        k.extend_from_slice(chain.as_str().as_bytes());
        t.batch.delete_cf(self.cf(CF_META), k);
        t.make_durable();
    }

    /// The attestation this relayer signed for `chain`'s block at `height`, if it signed one
    /// and has not forgotten it (see [`Self::signed_floor`]).
    pub fn signed_attestation(
        &self,
        chain: &ChainId,
        height: Height,
    ) -> Result<Option<Attestation>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), signed_key(chain, height))?
            .map(|v| {
                Attestation::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "signed attestation",
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    /// The height of `chain` up to which signed attestations were forgotten (0: none): the
    /// co-signer signs nothing at or below it, since it no longer knows what it signed there.
    pub fn signed_floor(&self, chain: &ChainId) -> Result<Height, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), signed_floor_key(chain))?
            .map(|v| {
                v.as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "signed attestation floor",
                        why: format!("{} bytes", v.len()),
                    })
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Records, on disk before returning, that this relayer signs `attestation`: from now on
    /// it signs no other block at that height of that chain, across restarts. Records more
    /// than `keep` heights below it are forgotten in the same batch (the floor rises), so the
    /// record stays bounded.
    pub fn remember_signed(&self, attestation: &Attestation, keep: u64) -> Result<(), StoreError> {
        let chain = &attestation.chain_id;
        let mut t = self.transition();
        // At least the height itself is kept: the floor stays below it.
        let floor = attestation.height.saturating_sub(keep.max(1));
        if floor > self.signed_floor(chain)? {
            t.batch.delete_range_cf(
                self.cf(CF_META),
                signed_key(chain, 0),
                signed_key(chain, floor + 1),
            );
            t.batch.put_cf(
                self.cf(CF_META),
                signed_floor_key(chain),
                floor.to_be_bytes(),
            );
        }
        t.batch.put_cf(
            self.cf(CF_META),
            signed_key(chain, attestation.height),
            attestation.encode(),
        );
        t.make_durable();
        self.commit(t)
    }
}

fn signed_key(chain: &ChainId, height: Height) -> Vec<u8> {
    let mut k = SIGNED_PREFIX.to_vec();
    k.extend_from_slice(chain.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&height.to_be_bytes());
    k
}

fn signed_floor_key(chain: &ChainId) -> Vec<u8> {
    let mut k = SIGNED_FLOOR_PREFIX.to_vec();
    k.extend_from_slice(chain.as_str().as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::Hash32;

    #[test]
    fn signed_attestations_survive_reopening_and_old_ones_are_forgotten_below_a_floor() {
        use xrelay_light_client::evm::attest::Attestation;
        let dir = tempfile::tempdir().unwrap();
        let chain: ChainId = "anvil".parse().unwrap();
        let other: ChainId = "anvil-2".parse().unwrap();
        let at = |chain: &ChainId, height: u64| Attestation {
            chain_id: chain.clone(),
            height,
            block_hash: Hash32([height as u8; 32]),
            state_root: Hash32([1; 32]),
            time_ms: height * 1_000,
        };
        {
            let store = RelayStore::open(dir.path()).unwrap();
            assert_eq!(store.signed_attestation(&chain, 10).unwrap(), None);
            assert_eq!(store.signed_floor(&chain).unwrap(), 0);
            store.remember_signed(&at(&chain, 10), 100).unwrap();
            store.remember_signed(&at(&chain, 50), 100).unwrap();
            store.remember_signed(&at(&other, 10), 100).unwrap();
        }
        let store = RelayStore::open(dir.path()).unwrap();
        assert_eq!(
            store.signed_attestation(&chain, 10).unwrap(),
            Some(at(&chain, 10))
        );
        assert_eq!(
            store.signed_attestation(&chain, 50).unwrap(),
            Some(at(&chain, 50))
        );
        assert_eq!(store.signed_attestation(&chain, 11).unwrap(), None);
        // 100 heights above 10, the record of 10 goes and the floor says so; the other
        // chain's records are its own.
        store.remember_signed(&at(&chain, 111), 100).unwrap();
        assert_eq!(store.signed_floor(&chain).unwrap(), 11);
        assert_eq!(store.signed_attestation(&chain, 10).unwrap(), None);
        assert_eq!(
            store.signed_attestation(&chain, 50).unwrap(),
            Some(at(&chain, 50))
        );
        assert_eq!(
            store.signed_attestation(&other, 10).unwrap(),
            Some(at(&other, 10))
        );
        assert_eq!(store.signed_floor(&other).unwrap(), 0);
        // A lower height later does not lower the floor; the newest height is always kept.
        store.remember_signed(&at(&chain, 60), 100).unwrap();
        assert_eq!(store.signed_floor(&chain).unwrap(), 11);
        store.remember_signed(&at(&chain, u64::MAX), 0).unwrap();
        assert_eq!(
            store.signed_attestation(&chain, u64::MAX).unwrap(),
            Some(at(&chain, u64::MAX))
        );
        assert_eq!(store.signed_attestation(&chain, 111).unwrap(), None);
        // Old relayers' keys are untouched: the frozen list and counters read as before.
        assert!(store.frozen().unwrap().is_empty());
        assert!(store.counts().unwrap().is_empty());
    }
}
