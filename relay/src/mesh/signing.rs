//! Heartbeats signed and checked: this relayer signs its own with its identity key, and a
//! member's is believed only if it verifies under the key its peer id carries and the
//! rules of [`super::heartbeat::Beats`] find it news (not a replay, not stale, not from
//! the future); refusals are counted and logged. The payload and those rules live in
//! `heartbeat`, which has no libp2p so the fuzz crate compiles it; this file holds the part
//! that needs the identity key types.

use std::time::Instant;

use libp2p::identity::{KeyType, Keypair, PublicKey};
use libp2p::PeerId;

use super::heartbeat::{self, Beats, Heartbeat, Refusal};
use crate::metrics::MeshMetrics;

/// The payload of heartbeat `hb` signed by this relayer's identity key (`None` if the key
/// cannot sign, which an ed25519 key always can).
pub(super) fn sign_heartbeat(key: &Keypair, me: &[u8], hb: &Heartbeat) -> Option<Vec<u8>> {
    let signature = key.sign(&heartbeat::signing_bytes(me, hb)).ok()?;
    let signature: [u8; heartbeat::SIGNATURE_LEN] = signature.try_into().ok()?;
    Some(heartbeat::encode_payload(hb, &signature))
}

/// The ed25519 key a peer id carries (an ed25519 peer id is the identity multihash of the
/// public key, so the key needs no lookup).
fn peer_public_key(peer: &PeerId) -> Option<PublicKey> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if hash.code() != 0 {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(hash.digest()).ok()?;
    (key.key_type() == KeyType::Ed25519).then_some(key)
}

/// Decodes heartbeat `data` from `source` and checks its signature under `source`'s key.
pub fn verify_heartbeat(source: &PeerId, data: &[u8]) -> Result<Heartbeat, Refusal> {
    let (hb, signature) = heartbeat::decode_payload(data).map_err(|_| Refusal::Malformed)?;
    let key = peer_public_key(source).ok_or(Refusal::BadSignature)?;
    if !key.verify(
        &heartbeat::signing_bytes(&source.to_bytes(), &hb),
        &signature,
    ) {
        return Err(Refusal::BadSignature);
    }
    Ok(hb)
}

/// Believes a member's heartbeat if it verifies and is news (PROTOCOL.md §10), counting
/// and logging what is refused.
pub(super) fn accept_heartbeat(
    beats: &mut Beats<PeerId>,
    metrics: &MeshMetrics,
    source: &PeerId,
    data: &[u8],
) {
    let verdict = verify_heartbeat(source, data)
        .and_then(|hb| beats.accept(source, &hb, crate::clock::now_ms(), Instant::now()));
    if let Err(refused) = verdict {
        metrics
            .heartbeats_refused
            .with_label_values(&[refused.label()])
            .inc();
        match refused {
            // Replays arrive in bursts when someone re-sends; one line each would flood.
            Refusal::Replay => {
                tracing::debug!(peer = %source, reason = refused.label(), "heartbeat refused: {refused}")
            }
            _ => {
                tracing::warn!(peer = %source, reason = refused.label(), "heartbeat from a member refused: it keeps nobody live ({refused})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::membership::tests::lane;

    #[test]
    fn a_heartbeat_verifies_only_under_its_authors_peer_id() {
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let (a_id, b_id) = (a.public().to_peer_id(), b.public().to_peer_id());
        let hb = Heartbeat::new(5, 1_000, [lane("x", "y")]);
        let payload = sign_heartbeat(&a, &a_id.to_bytes(), &hb).unwrap();
        assert_eq!(verify_heartbeat(&a_id, &payload), Ok(hb.clone()));
        // Someone else's heartbeat presented as B's, or A's signed as if by B.
        assert_eq!(
            verify_heartbeat(&b_id, &payload),
            Err(Refusal::BadSignature)
        );
        let as_b = sign_heartbeat(&a, &b_id.to_bytes(), &hb).unwrap();
        assert_eq!(verify_heartbeat(&b_id, &as_b), Err(Refusal::BadSignature));
        // Any change to the signed fields breaks the signature.
        let mut other = hb.clone();
        other.counter += 1;
        let mut forged = heartbeat::encode_payload(&other, &[0; 64]);
        let n = forged.len();
        forged[n - 64..].copy_from_slice(&payload[payload.len() - 64..]);
        assert_eq!(verify_heartbeat(&a_id, &forged), Err(Refusal::BadSignature));
        assert_eq!(
            verify_heartbeat(&a_id, &payload[1..]),
            Err(Refusal::Malformed)
        );
        // The v1 payload (a bare clock) is malformed.
        assert_eq!(
            verify_heartbeat(&a_id, &1_000u64.to_be_bytes()),
            Err(Refusal::Malformed)
        );
    }
}
