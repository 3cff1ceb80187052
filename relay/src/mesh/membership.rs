//! Who is live and who owns which work item, as this relayer sees it: [`Membership`] and
//! rendezvous hashing over [`work_item`]s (a window of a lane's sequences), including
//! takeovers from silent members and skipping members on the lanes they report unserved.
//! Pure logic over peer ids (libp2p's `PeerId` type only, no networking), so every rule of
//! the split is tested without a swarm.

use std::collections::{BTreeMap, BTreeSet};

use libp2p::PeerId;
use sha2::{Digest, Sha256};
use xrelay_light_client::ChainId;

use super::heartbeat::Lane;

/// Who is in the mesh right now, as this relayer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// This relayer.
    pub me: PeerId,
    /// Live members (this relayer included when it is allowed), sorted.
    pub live: Vec<PeerId>,
    /// Every allowed peer (live or not).
    pub allowed: Vec<PeerId>,
    /// Whether the mesh is on (off: this relayer owns everything).
    pub enabled: bool,
    /// Lanes live members (this relayer included) cannot serve now; members without any
    /// are not listed. Others are skipped for those lanes' items; this relayer's own entry
    /// is informational (it keeps its items, to find out when it can serve again).
    pub unserved: BTreeMap<PeerId, BTreeSet<Lane>>,
}

fn score(peer: &PeerId, item: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(peer.to_bytes());
    h.update(item);
    h.finalize().into()
}

fn highest<'a>(peers: impl Iterator<Item = &'a PeerId>, item: &[u8]) -> Option<&'a PeerId> {
    peers.max_by_key(|p| score(p, item))
}

/// The lane a work item (`{kind}/{src}/{dst}/{window}`) belongs to; chain ids contain no
/// `/`, so the split is unambiguous.
fn lane_of(item: &[u8]) -> Option<Lane> {
    let text = std::str::from_utf8(item).ok()?;
    let mut parts = text.split('/');
    let (_kind, src, dst, _window) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Lane {
        source: ChainId::new(src).ok()?,
        destination: ChainId::new(dst).ok()?,
    })
}

impl Membership {
    /// A relayer alone (mesh off).
    pub fn solo(me: PeerId) -> Self {
        Membership {
            live: vec![me],
            allowed: vec![me],
            me,
            enabled: false,
            unserved: BTreeMap::new(),
        }
    }

    /// The member that does `item`: the live member with the highest score among those
    /// that serve its lane. This relayer counts as serving every lane (it keeps trying its
    /// own items, and does those of a lane no other member serves); when it is not live
    /// itself (not allowed) and nobody serves the lane, all live members count.
    pub fn owner(&self, item: &[u8]) -> Option<&PeerId> {
        let others_unserved = self
            .unserved
            .iter()
            .any(|(p, l)| *p != self.me && !l.is_empty());
        let lane = if others_unserved { lane_of(item) } else { None };
        let serves = |p: &&PeerId| {
            **p == self.me
                || lane.as_ref().is_none_or(|lane| {
                    self.unserved
                        .get(*p)
                        .is_none_or(|lanes| !lanes.contains(lane))
                })
        };
        highest(self.live.iter().filter(serves), item).or_else(|| highest(self.live.iter(), item))
    }

    /// Whether this relayer should do `item` now.
    pub fn owns(&self, item: &[u8]) -> bool {
        !self.enabled || self.owner(item) == Some(&self.me)
    }

    /// Whether this relayer does `item` only because its first owner is not live or does
    /// not serve the item's lane.
    pub fn is_takeover(&self, item: &[u8]) -> bool {
        self.enabled && self.owns(item) && highest(self.allowed.iter(), item) != Some(&self.me)
    }
}

/// The work item of a lane window: `{kind}/{src}/{dst}/{sequence / window}`.
pub fn work_item(kind: &str, src: &str, dst: &str, sequence: u64, window: u64) -> Vec<u8> {
    format!("{kind}/{src}/{dst}/{}", sequence / window.max(1)).into_bytes()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n)
            .map(|_| Keypair::generate_ed25519().public().to_peer_id())
            .collect()
    }

    /// The lane `a` → `b` (the mesh's tests share it).
    pub(in crate::mesh) fn lane(a: &str, b: &str) -> Lane {
        Lane {
            source: ChainId::new(a).unwrap(),
            destination: ChainId::new(b).unwrap(),
        }
    }

    #[test]
    fn a_member_that_cannot_serve_a_lane_is_skipped_for_it_and_keeps_its_other_lanes() {
        let all = peers(3);
        let view = |me: PeerId, unserved: &BTreeMap<PeerId, BTreeSet<Lane>>| Membership {
            me,
            live: all.clone(),
            allowed: all.clone(),
            enabled: true,
            unserved: unserved.clone(),
        };
        let items = |src: &str, dst: &str| -> Vec<Vec<u8>> {
            (0..600u64)
                .flat_map(|w| {
                    ["deliver", "timeout", "ack"].map(|k| work_item(k, src, dst, w * 10, 10))
                })
                .collect()
        };
        let (ab, ba) = (items("a", "b"), items("b", "a"));
        // Member 0 cannot serve a → b.
        let stuck: BTreeMap<PeerId, BTreeSet<Lane>> = [(all[0], [lane("a", "b")].into())].into();
        let healthy = BTreeMap::new();
        let mut took_over = 0;
        for item in &ab {
            let first = (0..3).find(|i| view(all[*i], &healthy).owns(item)).unwrap();
            // The others agree on one owner among themselves, never member 0.
            let owners: Vec<usize> = (1..3)
                .filter(|i| view(all[*i], &stuck).owns(item))
                .collect();
            assert_eq!(owners.len(), 1);
            if first == 0 {
                took_over += 1;
                assert!(view(all[owners[0]], &stuck).is_takeover(item));
            } else {
                assert_eq!(owners[0], first, "a serving member keeps its items");
            }
            // Member 0 keeps trying its own items (that is how it finds out it can serve
            // again): duplicates while stuck, never a gap.
            assert_eq!(view(all[0], &stuck).owns(item), first == 0);
        }
        assert!(took_over > 300, "member 0 had about a third: {took_over}");
        // On its other lane nothing moves.
        for item in &ba {
            for p in &all {
                assert_eq!(view(*p, &stuck).owns(item), view(*p, &healthy).owns(item));
            }
        }
        // Every member stuck on the lane: each tries all of it (nothing waits on another).
        let everyone: BTreeMap<PeerId, BTreeSet<Lane>> =
            all.iter().map(|p| (*p, [lane("a", "b")].into())).collect();
        for item in &ab {
            assert!((0..3).all(|i| view(all[i], &everyone).owns(item)));
        }
    }

    #[test]
    fn rendezvous_gives_each_item_one_owner_and_moves_only_the_dead_members_items() {
        let all = peers(3);
        let views: Vec<Membership> = all
            .iter()
            .map(|me| Membership {
                me: *me,
                live: all.clone(),
                allowed: all.clone(),
                enabled: true,
                unserved: BTreeMap::new(),
            })
            .collect();
        let items: Vec<Vec<u8>> = (0..3_000u64)
            .map(|s| work_item("deliver", "a", "b", s * 100, 100))
            .collect();
        let mut share = vec![0usize; 3];
        for item in &items {
            let owners: Vec<usize> = (0..3).filter(|i| views[*i].owns(item)).collect();
            assert_eq!(owners.len(), 1, "exactly one owner");
            share[owners[0]] += 1;
        }
        assert!(share.iter().all(|s| *s > 800), "roughly even: {share:?}");
        // Member 2 goes silent: its items move to 0 and 1; nobody else's move.
        let survivors: Vec<PeerId> = all[..2].to_vec();
        let after: Vec<Membership> = (0..2)
            .map(|i| Membership {
                me: all[i],
                live: survivors.clone(),
                allowed: all.clone(),
                enabled: true,
                unserved: BTreeMap::new(),
            })
            .collect();
        for item in &items {
            let before_owner = (0..3).find(|i| views[*i].owns(item)).unwrap();
            let now_owner = (0..2).find(|i| after[*i].owns(item)).unwrap();
            if before_owner < 2 {
                assert_eq!(before_owner, now_owner, "a live member keeps its items");
                assert!(!after[now_owner].is_takeover(item));
            } else {
                assert!(after[now_owner].is_takeover(item));
            }
        }
        // A relayer not on the allow-list owns nothing.
        let outsider = Membership {
            me: peers(1)[0],
            live: all.clone(),
            allowed: all.clone(),
            enabled: true,
            unserved: BTreeMap::new(),
        };
        assert!(items.iter().all(|i| !outsider.owns(i)));
        // Mesh off: everything is ours.
        assert!(Membership::solo(all[0]).owns(&items[0]));
    }
}
