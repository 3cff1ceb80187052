//! The swarm between real meshes on 127.0.0.1: members hear each other's heartbeats and
//! unserved lanes, drop a stopped member after the grace period, and exchange attester
//! signatures until both gather a quorum (what a member sends that does not verify is
//! dropped and counted).

use super::*;
use crate::mesh::membership::tests::lane;
use crate::mesh::{work_item, write_identity};

fn test_metrics() -> MeshMetrics {
    crate::metrics::Metrics::new().mesh
}

/// A mesh config on an ephemeral 127.0.0.1 port with a fresh identity in a temp dir.
fn local_config(name: &str, allowed: &[PeerId], peers: Vec<String>) -> (MeshSection, PeerId) {
    let dir = std::env::temp_dir().join(format!(
        "xrelay-mesh-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let path = dir.join("identity.key");
    let key = Keypair::generate_ed25519();
    write_identity(&path, &key).unwrap();
    let me = key.public().to_peer_id();
    let mut allowed: Vec<String> = allowed.iter().map(|p| p.to_string()).collect();
    allowed.push(me.to_string());
    let cfg = MeshSection {
        enabled: true,
        listen: "/ip4/127.0.0.1/tcp/0".into(),
        identity_key: Some(path),
        peers,
        allowed,
        heartbeat_ms: 100,
        grace_ms: 2_000,
        window: 500,
    };
    (cfg, me)
}

async fn first_address(mesh: &Mesh) -> Multiaddr {
    let mut listening = mesh.listening.clone();
    let addrs = tokio::time::timeout(
        Duration::from_secs(10),
        listening.wait_for(|l| !l.is_empty()),
    )
    .await
    .expect("the mesh listens")
    .expect("the mesh task runs");
    addrs[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meshes_exchange_attester_signatures_until_both_gather_a_quorum() {
    use xrelay_light_client::evm::attest::{Attestation, Committee};
    use xrelay_light_client::{ChainId, Hash32, SigningKey};

    // Both identities are known up front, so each allow-lists the other.
    let (mut cfg_a, a_id) = local_config("a", &[], vec![]);
    let (cfg_b_tmp, b_id) = local_config("b", &[a_id], vec![]);
    cfg_a.allowed.push(b_id.to_string());
    let metrics_a = test_metrics();
    let board_a = AttestationBoard::new();
    let mesh_a = Mesh::start(&cfg_a, metrics_a.clone(), board_a.clone())
        .await
        .unwrap();
    let addr_a = first_address(&mesh_a).await;
    let cfg_b = MeshSection {
        peers: vec![format!("{addr_a}/p2p/{a_id}")],
        ..cfg_b_tmp
    };

    let keys = [
        SigningKey::from_seed("mesh-attest", 0),
        SigningKey::from_seed("mesh-attest", 1),
    ];
    let committee = Committee::new(keys.iter().map(SigningKey::address).collect(), 2).unwrap();
    board_a.admit(ChainId::new("anvil").unwrap(), &committee);
    let attestation = Attestation {
        chain_id: ChainId::new("anvil").unwrap(),
        height: 12,
        block_hash: Hash32([0x12; 32]),
        state_root: Hash32([0x34; 32]),
        time_ms: 1_700_000_012_000,
    };
    // A publishes before B even exists: B, a late joiner, gets it from the re-publication.
    board_a
        .publish_own(attestation.clone(), attestation.sign(&keys[0]))
        .unwrap();

    let metrics_b = test_metrics();
    let board_b = AttestationBoard::new();
    board_b.admit(attestation.chain_id.clone(), &committee);
    let mesh_b = Mesh::start(&cfg_b, metrics_b.clone(), board_b.clone())
        .await
        .unwrap();
    // B signs once it sees A as a member, as a relayer would on its next block.
    let mut view_b = mesh_b.view.clone();
    tokio::time::timeout(
        Duration::from_secs(20),
        view_b.wait_for(|v| v.live.contains(&a_id)),
    )
    .await
    .expect("the meshes connect")
    .unwrap();
    board_b
        .publish_own(attestation.clone(), attestation.sign(&keys[1]))
        .unwrap();

    let wait = Duration::from_secs(20);
    let (got_a, got_b) = tokio::join!(
        board_a.gather(&attestation, &committee, wait),
        board_b.gather(&attestation, &committee, wait)
    );
    for (who, got) in [("A", got_a), ("B", got_b)] {
        let attested = got.unwrap_or_else(|| panic!("{who} gathers 2 of 2"));
        assert_eq!(attested.attestation, attestation);
        assert_eq!(committee.verify(&attested).unwrap().len(), 2, "{who}");
    }
    // The mesh task counts a signature right after the board stored it (and woke the
    // gatherer), so the counters may trail the gather by a moment.
    let counted = tokio::time::timeout(Duration::from_secs(5), async {
        while metrics_a.attestations_received.get() < 1 || metrics_b.attestations_received.get() < 1
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        counted.is_ok(),
        "both meshes count the signature they received"
    );
    assert_eq!(
        metrics_a
            .attestations_dropped
            .with_label_values(&["malformed"])
            .get(),
        0
    );

    // A member's malformed payload, forged signature, an outsider's signature or one
    // over a chain with no committee here is dropped and counted, never stored.
    let before = board_a.len();
    let mut forged = attestation.sign(&keys[0]);
    forged.attester = keys[1].address();
    let mut other = attestation.clone();
    other.height = 13;
    accept_attestation(&board_a, &metrics_a, b_id, &[1, 2, 3]);
    accept_attestation(&board_a, &metrics_a, b_id, &encode_payload(&other, &forged));
    let mut trailing = encode_payload(&other, &other.sign(&keys[1]));
    trailing.push(0);
    accept_attestation(&board_a, &metrics_a, b_id, &trailing);
    let outsider = SigningKey::from_seed("mesh-attest", 9);
    accept_attestation(
        &board_a,
        &metrics_a,
        b_id,
        &encode_payload(&other, &other.sign(&outsider)),
    );
    let mut elsewhere = other.clone();
    elsewhere.chain_id = ChainId::new("unknown").unwrap();
    accept_attestation(
        &board_a,
        &metrics_a,
        b_id,
        &encode_payload(&elsewhere, &elsewhere.sign(&keys[0])),
    );
    let dropped = |reason| {
        metrics_a
            .attestations_dropped
            .with_label_values(&[reason])
            .get()
    };
    assert_eq!(dropped("malformed"), 2);
    assert_eq!(dropped("bad_signature"), 1);
    assert_eq!(dropped("not_member"), 1);
    assert_eq!(dropped("unknown_chain"), 1);
    assert_eq!(board_a.len(), before);
    drop((mesh_a, mesh_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_hear_each_others_heartbeats_and_the_lanes_each_cannot_serve() {
    let (mut cfg_a, a_id) = local_config("hb-a", &[], vec![]);
    let (cfg_b_tmp, b_id) = local_config("hb-b", &[a_id], vec![]);
    cfg_a.allowed.push(b_id.to_string());
    let metrics_b = test_metrics();
    let mesh_a = Mesh::start(&cfg_a, test_metrics(), AttestationBoard::new())
        .await
        .unwrap();
    let addr_a = first_address(&mesh_a).await;
    let cfg_b = MeshSection {
        peers: vec![format!("{addr_a}/p2p/{a_id}")],
        ..cfg_b_tmp
    };
    let mesh_b = Mesh::start(&cfg_b, metrics_b.clone(), AttestationBoard::new())
        .await
        .unwrap();
    let wait =
        |mesh: &Mesh, what: &'static str, f: Box<dyn Fn(&Membership) -> bool + Send + Sync>| {
            let mut view = mesh.view.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(20), view.wait_for(|v| f(v)))
                    .await
                    .unwrap_or_else(|_| panic!("timed out: {what}"))
                    .unwrap();
            }
        };
    wait(
        &mesh_b,
        "B sees A",
        Box::new(move |v| v.live.contains(&a_id)),
    )
    .await;
    wait(
        &mesh_a,
        "A sees B",
        Box::new(move |v| v.live.contains(&b_id)),
    )
    .await;
    // A cannot serve x → y: B hears it with A's next heartbeat and owns A's items there.
    let (x, y) = (ChainId::new("x").unwrap(), ChainId::new("y").unwrap());
    assert!(mesh_a.set_lane_served(&x, &y, false));
    assert!(!mesh_a.set_lane_served(&x, &y, false), "no change");
    assert_eq!(mesh_a.unserved_lanes(), [lane("x", "y")]);
    wait(
        &mesh_b,
        "B hears A's unserved lane",
        Box::new(move |v| {
            v.unserved
                .get(&a_id)
                .is_some_and(|l| l.contains(&lane("x", "y")))
        }),
    )
    .await;
    let b_view = mesh_b.view.borrow().clone();
    assert!((0..200u64)
        .map(|w| work_item("deliver", "x", "y", w, 1))
        .all(|item| b_view.owns(&item)));
    assert!(mesh_a.set_lane_served(&x, &y, true));
    wait(
        &mesh_b,
        "B hears A serves again",
        Box::new(move |v| !v.unserved.contains_key(&a_id)),
    )
    .await;
    assert_eq!(
        metrics_b
            .heartbeats_refused
            .with_label_values(&["bad_signature"])
            .get()
            + metrics_b
                .heartbeats_refused
                .with_label_values(&["malformed"])
                .get(),
        0
    );
    // A stops: gone from B's view after the grace period.
    drop(mesh_a);
    wait(
        &mesh_b,
        "B drops A",
        Box::new(move |v| !v.live.contains(&a_id)),
    )
    .await;
    drop(mesh_b);
}
