//! What the relayer's own EVM light client confirms of a conflict a host reported, against
//! a node that serves signed chains (QBFT, Clique) or attested blocks, honestly or not:
//! only blocks the relayer's client verifies itself count. The evidence built from the two
//! blocks is what hosts' clients accept (`freeze_on_misbehaviour`), and the relay's
//! misbehaviour check sends it to every devchain hosting a client of the chain.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use async_trait::async_trait;
use tokio::sync::watch;
use xrelay_adapters::{
    AdapterError, ChainAdapter, ChainEvent, ChainFamily, ChainStatus, Confirmed, HostedClient,
    Proven, Submission,
};
use xrelay_light_client::evm::attest::{Attestation, Attested, Committee};
use xrelay_light_client::evm::client::{
    EvmClientState, EvmConsensusState, EvmUpdate, FinalityMode,
};
use xrelay_light_client::evm::clique::{CliqueHeader, EMPTY_OMMERS_HASH};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{BftExtraData, BftHeader, BftVariant, ISTANBUL_MIX_HASH};
use xrelay_light_client::evm::misbehaviour::{EvmMisbehaviour, EvmMisbehaviourError};
use xrelay_light_client::{Address, ChainId, Hash32, Height, LightBlock, SigningKey};

use super::{ChainHandle, Confirmation, EvmConflict};
use crate::core::attestations::AttestationBoard;
use crate::core::followed::EvmFollow;
use crate::metrics::Metrics;
use crate::store::RelayStore;

/// An EVM node serving the chain's `headers` and, as a host, the `host_updates` a block of
/// its carried (whatever the test wants it to claim).
struct Node {
    id: ChainId,
    headers: BTreeMap<Height, EvmHeader>,
    host_updates: Vec<EvmUpdate>,
    heads: watch::Sender<Height>,
}

fn missing(id: &ChainId, what: &str) -> AdapterError {
    AdapterError::NotFound {
        chain: id.to_string(),
        what: what.to_string(),
    }
}

#[async_trait]
impl ChainAdapter for Node {
    fn chain_id(&self) -> &ChainId {
        &self.id
    }
    fn family(&self) -> ChainFamily {
        ChainFamily::Evm
    }
    async fn status(&self) -> Result<ChainStatus, AdapterError> {
        let (height, h) = self
            .headers
            .last_key_value()
            .ok_or_else(|| missing(&self.id, "no blocks"))?;
        Ok(ChainStatus {
            height: *height,
            time_ms: h.timestamp * 1000,
        })
    }
    async fn light_block(&self, _: Height) -> Result<LightBlock, AdapterError> {
        Err(missing(&self.id, "light block"))
    }
    async fn evm_header(&self, height: Height) -> Result<EvmHeader, AdapterError> {
        self.headers
            .get(&height)
            .cloned()
            .ok_or_else(|| missing(&self.id, "header"))
    }
    async fn events(&self, _: Height, _: Height) -> Result<Vec<ChainEvent>, AdapterError> {
        Ok(Vec::new())
    }
    fn heads(&self) -> watch::Receiver<Height> {
        self.heads.subscribe()
    }
    async fn prove(&self, _: &[u8], _: Height) -> Result<Proven, AdapterError> {
        Err(missing(&self.id, "proof"))
    }
    async fn client_state(&self, _: &ChainId) -> Result<Option<HostedClient>, AdapterError> {
        Ok(None)
    }
    async fn submitted_headers(
        &self,
        _: Height,
        _: &ChainId,
    ) -> Result<Vec<LightBlock>, AdapterError> {
        Ok(Vec::new())
    }
    async fn submitted_evm_updates(
        &self,
        _: Height,
        _: &ChainId,
    ) -> Result<Vec<EvmUpdate>, AdapterError> {
        Ok(self.host_updates.clone())
    }
    async fn submit(&self, _: Submission) -> Result<Confirmed, AdapterError> {
        Err(missing(&self.id, "submit"))
    }
}

fn keys(seed: &str, n: u32) -> Vec<SigningKey> {
    (0..n).map(|i| SigningKey::from_seed(seed, i)).collect()
}

fn addresses(keys: &[SigningKey]) -> Vec<Address> {
    keys.iter().map(SigningKey::address).collect()
}

fn base_header(number: u64, parent_hash: Hash32, state: u8) -> EvmHeader {
    EvmHeader {
        parent_hash,
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: Address::default(),
        state_root: Hash32([state; 32]),
        transactions_root: Hash32([0x56; 32]),
        receipts_root: Hash32([0x56; 32]),
        logs_bloom: Box::new([0; 256]),
        difficulty: U256::from(1),
        number,
        gas_limit: 30_000_000,
        gas_used: 0,
        timestamp: 1_700_000_000 + number,
        extra_data: Vec::new(),
        mix_hash: Hash32::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: None,
        withdrawals_root: None,
        blob_gas: None,
        requests_hash: None,
    }
}

/// A QBFT header listing `validators`, sealed by `sealers`.
fn qbft(
    number: u64,
    parent: Hash32,
    state: u8,
    validators: &[Address],
    sealers: &[SigningKey],
) -> EvmHeader {
    let mut listed = validators.to_vec();
    listed.sort();
    let mut extra = BftExtraData {
        variant: BftVariant::Qbft,
        vanity: [0; 32],
        validators: listed,
        vote: None,
        round: 0,
        seals: vec![],
    };
    let mut h = base_header(number, parent, state);
    h.mix_hash = ISTANBUL_MIX_HASH;
    h.extra_data = extra.encode();
    if number > 0 {
        let digest = BftHeader::parse(BftVariant::Qbft, &h)
            .unwrap()
            .seal_digest();
        extra.seals = sealers
            .iter()
            .map(|k| {
                let mut seal = k.sign_digest(&digest).0;
                seal[64] -= 27;
                seal
            })
            .collect();
        h.extra_data = extra.encode();
    }
    h
}

fn qbft_hash(h: &EvmHeader) -> Hash32 {
    BftHeader::parse(BftVariant::Qbft, h).unwrap().block_hash()
}

/// A Clique header sealed by `sealer`, of 3 signers `set` (in turn by number), listing
/// them at a checkpoint (every `EPOCH` blocks).
fn clique(
    number: u64,
    parent: Hash32,
    state: u8,
    set: &[Address],
    sealer: &SigningKey,
) -> EvmHeader {
    const EPOCH: u64 = 100;
    let mut sorted = set.to_vec();
    sorted.sort();
    let mut extra = vec![0u8; 32];
    if number.is_multiple_of(EPOCH) {
        for s in &sorted {
            extra.extend_from_slice(&s.0);
        }
    }
    extra.extend_from_slice(&[0u8; 65]);
    let in_turn = sorted
        .iter()
        .position(|a| *a == sealer.address())
        .is_some_and(|p| number % sorted.len() as u64 == p as u64);
    let mut h = base_header(number, parent, state);
    h.difficulty = U256::from(if in_turn { 2u8 } else { 1 });
    h.extra_data = extra;
    if number > 0 {
        let digest = CliqueHeader::parse(&h, EPOCH).unwrap().seal_hash();
        let mut seal = sealer.sign_digest(&digest).0;
        seal[64] -= 27;
        let len = h.extra_data.len();
        h.extra_data[len - 65..].copy_from_slice(&seal);
    }
    h
}

/// The relayer's handle of the chain `headers` (anchored at `anchor`), whose host claims
/// `host_updates`.
async fn handle(
    dir: &tempfile::TempDir,
    mode: FinalityMode,
    headers: BTreeMap<Height, EvmHeader>,
    anchor: (Height, Hash32),
    host_updates: Vec<EvmUpdate>,
) -> ChainHandle {
    let id = ChainId::new("evm-1").unwrap();
    let (heads, _) = watch::channel(*headers.keys().last().unwrap());
    let node = Node {
        id,
        headers,
        host_updates,
        heads,
    };
    let store = Arc::new(RelayStore::open(dir.path()).unwrap());
    handle_in(store, node, mode, anchor).await
}

/// [`handle`] over `node`, its client kept in `store`.
async fn handle_in(
    store: Arc<RelayStore>,
    node: Node,
    mode: FinalityMode,
    anchor: (Height, Hash32),
) -> ChainHandle {
    ChainHandle::open(
        Arc::new(node),
        Duration::from_millis(100),
        Some((anchor.0, anchor.1 .0)),
        Some(EvmFollow {
            mode,
            gateway: Address([0xaa; 20]),
            attester: None,
            board: AttestationBoard::new(),
        }),
        Vec::new(),
        store,
        Metrics::new(),
    )
    .await
    .unwrap()
}

fn reason(c: EvmConflict) -> &'static str {
    match c.confirmation {
        Confirmation::Confirmed => "confirmed",
        Confirmation::Unconfirmed { reason, .. } => reason,
    }
}

/// A host's client of `chain` (anchored at its block 0 in `mode`) after the updates
/// `chain[1..=5]` and `at6` (the block 6 it accepted): what the evidence is checked by.
fn host_client(
    mode: FinalityMode,
    chain: &BTreeMap<Height, EvmHeader>,
    at6: &EvmHeader,
) -> EvmClientState {
    let mut client = EvmClientState::from_header(
        ChainId::new("evm-1").unwrap(),
        mode,
        &chain[&0],
        Address([0xaa; 20]),
    )
    .unwrap();
    let mut run: Vec<EvmHeader> = (1..=5).map(|n| chain[&n].clone()).collect();
    run.push(at6.clone());
    client.update(&EvmUpdate::Headers(run)).unwrap();
    client
}

/// A QBFT chain of 4 validators, blocks 0..=10 sealed by the first three.
fn qbft_chain(validators: &[SigningKey]) -> BTreeMap<Height, EvmHeader> {
    let set = addresses(validators);
    let mut out = BTreeMap::new();
    let mut parent = Hash32::ZERO;
    for n in 0..=10 {
        let h = qbft(n, parent, n as u8, &set, &validators[..3]);
        parent = qbft_hash(&h);
        out.insert(n, h);
    }
    out
}

#[tokio::test]
async fn qbft_conflicts_count_only_when_the_relayers_client_verifies_the_seals() {
    let validators = keys("qbft-conflict", 4);
    let set = addresses(&validators);
    let chain = qbft_chain(&validators);
    let anchor = (0, qbft_hash(&chain[&0]));
    let parent5 = qbft_hash(&chain[&5]);
    let own6 = qbft_hash(&chain[&6]);
    let outsiders = keys("qbft-outsiders", 4);
    // Each forged block 6, what the relayer's client says of it, and what a host's client
    // (which trusts the chain's set) says of the evidence the relayer builds from it.
    let cases = [
        // A quorum of the validators sealed a second block 6: equivocation, verified.
        (
            qbft(6, parent5, 0xee, &set, &validators[1..]),
            "confirmed",
            Ok(6),
        ),
        // Two seals of four: not final, so no proof of anything.
        (
            qbft(6, parent5, 0xee, &set, &validators[..2]),
            "not_verified",
            Err("bad_seal"),
        ),
        // Sealed by keys outside the set the relayer trusts, listing themselves.
        (
            qbft(6, parent5, 0xee, &addresses(&outsiders), &outsiders[..3]),
            "not_verified",
            Err("bad_seal"),
        ),
        // A parent the chain never had: the relayer's client (an update's rules) refuses
        // it, but a quorum of the set sealed two blocks 6, which is evidence (§12.7).
        (
            qbft(6, Hash32([9; 32]), 0xee, &set, &validators[..3]),
            "not_verified",
            Ok(6),
        ),
    ];
    let host = host_client(FinalityMode::Qbft, &chain, &chain[&6]);
    for (forged, expected, verdict) in cases {
        let dir = tempfile::tempdir().unwrap();
        let accepted = qbft_hash(&forged);
        let h = handle(
            &dir,
            FinalityMode::Qbft,
            chain.clone(),
            anchor,
            vec![EvmUpdate::Headers(vec![forged.clone()])],
        )
        .await;
        let got = h
            .confirms_evm_conflict(6, accepted, &h_updates(&h).await)
            .await
            .unwrap();
        // The evidence is the accepted header and the chain's own.
        let evidence = got.evidence.clone().expect("evidence built");
        assert_eq!(
            evidence,
            EvmMisbehaviour::Headers {
                first: Box::new(forged.clone()),
                second: Box::new(chain[&6].clone()),
            }
        );
        assert_eq!(
            host.clone()
                .freeze_on_misbehaviour(&evidence)
                .map_err(|e| e.reason()),
            verdict,
            "{expected}"
        );
        assert_eq!(reason(got), expected);
    }
    // The host that accepted the forged block freezes on the same evidence.
    let forged = qbft(6, parent5, 0xee, &set, &validators[1..]);
    let mut lying = host_client(FinalityMode::Qbft, &chain, &forged);
    let evidence = EvmMisbehaviour::Headers {
        first: Box::new(forged),
        second: Box::new(chain[&6].clone()),
    };
    assert_eq!(lying.freeze_on_misbehaviour(&evidence), Ok(6));
    assert!(lying.is_frozen());

    // The host's block carries no such header (the event alone is a node's word).
    let dir = tempfile::tempdir().unwrap();
    let h = handle(&dir, FinalityMode::Qbft, chain.clone(), anchor, Vec::new()).await;
    let got = h
        .confirms_evm_conflict(6, Hash32([7; 32]), &[])
        .await
        .unwrap();
    assert_eq!(got.evidence, None);
    assert_eq!(reason(got), "not_found");

    // The "conflict" is the chain's own block 6 (the chain's node lied about its hash).
    let honest = chain[&6].clone();
    let dir = tempfile::tempdir().unwrap();
    let updates = vec![EvmUpdate::Headers(vec![honest])];
    let h = handle(
        &dir,
        FinalityMode::Qbft,
        chain.clone(),
        anchor,
        updates.clone(),
    )
    .await;
    let got = h.confirms_evm_conflict(6, own6, &updates).await.unwrap();
    assert_eq!(got.evidence, None);
    assert_eq!(reason(got), "no_conflict");

    // Anchored at 6 itself, the relayer has no block below the conflict to check it from.
    let forged = qbft(6, parent5, 0xee, &set, &validators[1..]);
    let accepted = qbft_hash(&forged);
    let dir = tempfile::tempdir().unwrap();
    let updates = vec![EvmUpdate::Headers(vec![forged])];
    let h = handle(
        &dir,
        FinalityMode::Qbft,
        chain.clone(),
        (6, own6),
        updates.clone(),
    )
    .await;
    let got = h
        .confirms_evm_conflict(6, accepted, &updates)
        .await
        .unwrap();
    // Evidence is built all the same: each host checks it from its own trusted set.
    assert!(got.evidence.is_some());
    assert_eq!(reason(got), "no_trusted_header");
}

/// The updates the test's host serves (what `misbehaviour::check` passes on).
async fn h_updates(h: &ChainHandle) -> Vec<EvmUpdate> {
    h.adapter
        .submitted_evm_updates(0, &h.id)
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn clique_conflicts_need_a_seal_of_an_authorised_signer() {
    let signers = keys("clique-conflict", 3);
    let set = addresses(&signers);
    let mut chain = BTreeMap::new();
    let mut parent = Hash32::ZERO;
    for n in 0..=8u64 {
        let h = clique(n, parent, n as u8, &set, &signers[(n % 3) as usize]);
        parent = h.hash();
        chain.insert(n, h);
    }
    let anchor = (0, chain[&0].hash());
    let parent5 = chain[&5].hash();
    let outsider = SigningKey::from_seed("clique-outsider", 0);
    let host = host_client(FinalityMode::Clique { epoch: 100 }, &chain, &chain[&6]);
    for (forged, expected, verdict) in [
        // The in-turn signer of block 6 sealed a second one: a fork it signed twice, which
        // is evidence for every host (§12.7).
        (
            clique(6, parent5, 0xee, &set, &signers[0]),
            "confirmed",
            Ok(6),
        ),
        // Another authorised signer sealed a second block 6 (out of turn): a fork the
        // relayer's client verifies, but two blocks of two signers are no evidence in
        // Clique, whose forks are settled by difficulty.
        (
            clique(6, parent5, 0xee, &set, &signers[1]),
            "confirmed",
            Err("sealers_differ"),
        ),
        (
            clique(6, parent5, 0xee, &set, &outsider),
            "not_verified",
            Err("bad_seal"),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let accepted = forged.hash();
        let updates = vec![EvmUpdate::Headers(vec![forged])];
        let h = handle(
            &dir,
            FinalityMode::Clique { epoch: 100 },
            chain.clone(),
            anchor,
            updates.clone(),
        )
        .await;
        let got = h
            .confirms_evm_conflict(6, accepted, &updates)
            .await
            .unwrap();
        let evidence = got.evidence.clone().expect("evidence built");
        assert_eq!(
            host.clone()
                .freeze_on_misbehaviour(&evidence)
                .map_err(|e| e.reason()),
            verdict,
            "{expected}"
        );
        assert_eq!(reason(got), expected);
    }
}

#[tokio::test]
async fn attested_conflicts_need_the_relayers_committee() {
    let attesters = keys("attest-conflict", 3);
    let committee = Committee::new(addresses(&attesters), 2).unwrap();
    let mut chain = BTreeMap::new();
    let mut parent = Hash32::ZERO;
    for n in 0..=6u64 {
        let h = base_header(n, parent, n as u8);
        parent = h.hash();
        chain.insert(n, h);
    }
    let id = ChainId::new("evm-1").unwrap();
    let other = Attestation {
        chain_id: id,
        height: 6,
        block_hash: Hash32([0xee; 32]),
        state_root: Hash32([0xee; 32]),
        time_ms: chain[&6].timestamp * 1000,
    };
    let strangers = keys("attest-strangers", 3);
    let own = Attestation {
        chain_id: other.chain_id.clone(),
        height: 6,
        block_hash: chain[&6].hash(),
        state_root: chain[&6].state_root,
        time_ms: chain[&6].timestamp * 1000,
    };
    // A host's client in the attestation mode holding `held` at height 6.
    let host = |held: &Attestation| {
        EvmClientState::new(
            held.chain_id.clone(),
            FinalityMode::Attestation(committee.clone()),
            vec![],
            Address([0xaa; 20]),
            6,
            EvmConsensusState {
                block_hash: held.block_hash,
                state_root: held.state_root,
                time_ms: held.time_ms,
            },
        )
        .unwrap()
    };
    for (signed, expected, verdict) in [
        (
            Attested::sign(other.clone(), &attesters[1..]),
            "confirmed",
            Ok(6),
        ),
        (
            Attested::sign(other.clone(), &attesters[..1]),
            "not_verified",
            Err("bad_attestation"),
        ),
        (
            Attested::sign(other.clone(), &strangers),
            "not_verified",
            Err("bad_attestation"),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let updates = vec![EvmUpdate::Attested(signed.clone())];
        // The relayer's client holds the chain's own block 6 (its anchor).
        let h = handle(
            &dir,
            FinalityMode::Attestation(committee.clone()),
            chain.clone(),
            (6, chain[&6].hash()),
            updates.clone(),
        )
        .await;
        let got = h
            .confirms_evm_conflict(6, other.block_hash, &updates)
            .await
            .unwrap();
        // The relayer keeps no attestation of its own block 6 (its anchor): the accepted
        // attestation alone, which a host holding the chain's own block 6 checks.
        let evidence = got.evidence.clone().expect("evidence built");
        assert_eq!(evidence, EvmMisbehaviour::Conflict(signed));
        assert_eq!(
            host(&own)
                .freeze_on_misbehaviour(&evidence)
                .map_err(|e| e.reason()),
            verdict,
            "{expected}"
        );
        assert_eq!(reason(got), expected);
    }

    // With its own attestation of block 6 kept, the relayer sends both attestations,
    // which freeze even the host that accepted the other block.
    let forged = Attested::sign(other.clone(), &attesters[1..]);
    let dir = tempfile::tempdir().unwrap();
    let updates = vec![EvmUpdate::Attested(forged.clone())];
    let h = handle(
        &dir,
        FinalityMode::Attestation(committee.clone()),
        chain.clone(),
        (6, chain[&6].hash()),
        updates.clone(),
    )
    .await;
    let mine = Attested::sign(own.clone(), &attesters[..2]);
    h.attested.lock().await.insert(6, mine.clone());
    let got = h
        .confirms_evm_conflict(6, other.block_hash, &updates)
        .await
        .unwrap();
    let evidence = got.evidence.clone().expect("evidence built");
    assert_eq!(
        evidence,
        EvmMisbehaviour::Attestations {
            first: forged.clone(),
            second: mine
        }
    );
    let mut lying = host(&other);
    assert_eq!(
        lying
            .clone()
            .freeze_on_misbehaviour(&EvmMisbehaviour::Conflict(forged)),
        Err(EvmMisbehaviourError::NoConflict(6)),
        "the accepted attestation alone does not convict the host that holds it"
    );
    assert_eq!(lying.freeze_on_misbehaviour(&evidence), Ok(6));
    assert_eq!(reason(got), "confirmed");
}

/// Testkit devchain `host` with an EVM client of the QBFT chain `chain` (anchored at its
/// block 0), brought to `chain[1..=5]` and `at6`; returns the height of the block that
/// carried block 6.
fn hosting(
    host: &crate::testkit::MemChain,
    chain: &BTreeMap<Height, EvmHeader>,
    at6: &EvmHeader,
) -> Height {
    use xrelay_devchain::tx::{Action, Tx};
    use xrelay_protocol::RelayTx;
    let client = EvmClientState::from_header(
        ChainId::new("evm-1").unwrap(),
        FinalityMode::Qbft,
        &chain[&0],
        Address([0xaa; 20]),
    )
    .unwrap();
    let create = host
        .signed(
            &crate::testkit::governance(),
            Action::CreateEvmClient(Box::new(client)),
        )
        .unwrap();
    host.execute(create).unwrap();
    let mut run: Vec<EvmHeader> = (1..=5).map(|n| chain[&n].clone()).collect();
    run.push(at6.clone());
    let (at, _) = host
        .execute(Tx::Relay(RelayTx::UpdateEvmClient {
            chain: ChainId::new("evm-1").unwrap(),
            updates: vec![EvmUpdate::Headers(run)],
        }))
        .unwrap();
    at
}

async fn hosted_frozen(host: &crate::testkit::MemChain, of: &ChainId) -> bool {
    match host.client_state(of).await.unwrap() {
        Some(HostedClient::Evm(c)) => c.is_frozen(),
        other => panic!("no EVM client of {of}: {other:?}"),
    }
}

#[tokio::test]
async fn a_confirmed_qbft_fork_freezes_the_clients_of_every_devchain_host() {
    use crate::core::ledger::Ledger;
    use crate::core::{misbehaviour, Relay};
    use crate::mesh::Mesh;
    use crate::testkit::net;

    let validators = keys("qbft-hosts", 4);
    let set = addresses(&validators);
    let chain = qbft_chain(&validators);
    let parent5 = qbft_hash(&chain[&5]);
    let forged = qbft(6, parent5, 0xee, &set, &validators[1..]);
    let id = ChainId::new("evm-1").unwrap();

    // Host `b` accepted a second block 6 sealed by a quorum; host `c` the chain's own.
    let hosts = net(&["b", "c"]).unwrap();
    let (b, c) = (hosts[0].clone(), hosts[1].clone());
    let at = hosting(&b, &chain, &forged);
    hosting(&c, &chain, &chain[&6]);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RelayStore::open(dir.path()).unwrap());
    let metrics = Metrics::new();
    let (heads, _) = watch::channel(10);
    let node = Node {
        id: id.clone(),
        headers: chain.clone(),
        host_updates: Vec::new(),
        heads,
    };
    let evm = handle_in(
        store.clone(),
        node,
        FinalityMode::Qbft,
        (0, qbft_hash(&chain[&0])),
    )
    .await;
    let mut chains = BTreeMap::new();
    chains.insert(id.clone(), Arc::new(evm));
    for host in [&b, &c] {
        let adapter: Arc<dyn ChainAdapter> = host.clone();
        let handle = ChainHandle::open(
            adapter,
            Duration::from_millis(10),
            None,
            None,
            Vec::new(),
            store.clone(),
            metrics.clone(),
        )
        .await
        .unwrap();
        chains.insert(host.id().clone(), Arc::new(handle));
    }
    let ledger = Ledger::open(store, metrics.clone(), Default::default()).unwrap();
    let relay = Relay::assemble(
        ledger,
        metrics,
        chains,
        Vec::new(),
        100,
        Mesh::off(1, AttestationBoard::new()),
    );
    assert!(!hosted_frozen(&b, &id).await && !hosted_frozen(&c, &id).await);

    // What `b`'s `ClientUpdated` event names: the forged block 6.
    let host = relay.chains[b.id()].clone();
    misbehaviour::check(&relay, &host, at, &id, &[(6, qbft_hash(&forged))]).await;

    // The relayer's own client verified both blocks: it stops relaying the chain, and the
    // evidence froze the EVM client of both hosts (each checked it itself).
    assert!(relay.chains[&id].is_frozen());
    assert!(
        hosted_frozen(&b, &id).await,
        "the host that accepted the fork"
    );
    assert!(hosted_frozen(&c, &id).await, "the honest host");
    let evidence = EvmMisbehaviour::Headers {
        first: Box::new(forged),
        second: Box::new(chain[&6].clone()),
    };
    for host in [&b, &c] {
        let frozen: Vec<_> = host
            .events_of(1, host.height())
            .into_iter()
            .filter_map(|(_, e)| match e {
                xrelay_devchain::Event::ClientFrozen {
                    chain, evidence, ..
                } if chain == id => Some(evidence),
                _ => None,
            })
            .collect();
        assert_eq!(frozen, vec![evidence.hash()], "{}", host.id());
    }
}
