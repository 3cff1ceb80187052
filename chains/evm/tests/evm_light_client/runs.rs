//! Generated header runs and attestations, each sent to the contract and applied to the
//! Rust client with the same bytes (`client::update_both`): QBFT and IBFT 2.0 runs with a
//! validator added, one removed and a forged hand-over; Clique runs across checkpoints with
//! the turn and "signed recently" rules; attestations with unknown, duplicate and bad
//! signatures and below quorum; conflicts, replays, gaps and all-or-nothing batches.
//! Each case names the refusal it must produce, so a case that stops exercising its rule
//! fails too.

use alloy::primitives::U256;
use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature, Committee};
use xrelay_light_client::evm::client::{
    EvmClientState, EvmConsensusState, EvmUpdate, FinalityMode,
};
use xrelay_light_client::evm::header::EvmHeader;
use xrelay_light_client::evm::istanbul::{BftVariant, ValidatorVote};
use xrelay_light_client::evm::testkit::{
    bft_block_hash, bft_header, bft_reseal, clique_header, clique_reseal,
};
use xrelay_light_client::{Address, ChainId, Hash32, SigningKey};

use super::client::{self, update_both, LONG_PERIOD_MS};
use crate::common::Node;

/// Keys `seed/0..n`.
pub fn keys(seed: &str, n: u32) -> Vec<SigningKey> {
    (0..n).map(|i| SigningKey::from_seed(seed, i)).collect()
}

/// The addresses of `keys[i]` for each `i` of `which`.
pub fn pick(keys: &[SigningKey], which: &[usize]) -> Vec<Address> {
    which.iter().map(|&i| keys[i].address()).collect()
}

fn signers(keys: &[SigningKey], which: &[usize]) -> Vec<SigningKey> {
    which.iter().map(|&i| keys[i].clone()).collect()
}

/// The gateway the generated clients prove against.
pub fn gateway() -> Address {
    Address([0xaa; 20])
}

/// A BFT chain under construction: its genesis and the headers after it.
pub struct BftChain {
    /// QBFT or IBFT 2.0.
    pub variant: BftVariant,
    /// The validators' keys.
    pub keys: Vec<SigningKey>,
    /// Block 0 then each header added.
    pub headers: Vec<EvmHeader>,
}

impl BftChain {
    /// A chain whose genesis (at `time_s`) lists `keys[genesis_set]`.
    pub fn new(
        variant: BftVariant,
        keys: Vec<SigningKey>,
        genesis_set: &[usize],
        time_s: u64,
    ) -> Self {
        let genesis = bft_header(
            variant,
            0,
            Hash32::ZERO,
            time_s,
            &pick(&keys, genesis_set),
            None,
            &[],
        );
        BftChain {
            variant,
            keys,
            headers: vec![genesis],
        }
    }

    /// The block after the last one, listing `listed`, sealed by `sealers` (not added).
    pub fn next(
        &self,
        listed: &[usize],
        vote: Option<ValidatorVote>,
        sealers: &[usize],
    ) -> EvmHeader {
        let parent = self.headers.last().expect("genesis");
        bft_header(
            self.variant,
            parent.number + 1,
            bft_block_hash(self.variant, parent),
            parent.timestamp + 1,
            &pick(&self.keys, listed),
            vote,
            &signers(&self.keys, sealers),
        )
    }

    /// Adds `n` blocks listing `listed`, sealed by `sealers`; returns them.
    pub fn extend(&mut self, n: usize, listed: &[usize], sealers: &[usize]) -> Vec<EvmHeader> {
        let mut out = Vec::new();
        for _ in 0..n {
            let h = self.next(listed, None, sealers);
            self.headers.push(h.clone());
            out.push(h);
        }
        out
    }

    /// The client mode of the variant.
    pub fn mode(&self) -> FinalityMode {
        match self.variant {
            BftVariant::Qbft => FinalityMode::Qbft,
            BftVariant::Ibft2 => FinalityMode::Ibft2,
        }
    }

    /// A Rust client anchored at genesis.
    pub fn client(&self, chain: &str) -> EvmClientState {
        EvmClientState::from_header(
            ChainId::new(chain).expect("chain id"),
            self.mode(),
            &self.headers[0],
            gateway(),
        )
        .expect("anchor")
    }
}

/// Asserts a verdict's kind (its label up to the first parenthesis).
fn expect(label: String, kind: &str, what: &str) {
    assert_eq!(label.split('(').next(), Some(kind), "{what}: got {label}");
}

fn headers(list: &[EvmHeader]) -> Vec<EvmUpdate> {
    vec![EvmUpdate::Headers(list.to_vec())]
}

/// QBFT and IBFT 2.0: runs, replays, every refusal of §12.5, a validator added and one
/// removed as Besu does it, a forged hand-over, an all-or-nothing batch. Returns the number
/// of bodies compared.
pub async fn bft_runs(node: &Node, variant: BftVariant) -> usize {
    let name = format!("{variant:?}").to_lowercase();
    let start_s = node.now_s().await - 100_000;
    let mut chain = BftChain::new(
        variant,
        keys(&format!("runs-{name}"), 9),
        &[0, 1, 2, 3],
        start_s,
    );
    let mut rust = chain.client(&format!("{name}-runs"));
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let mut n = 0;
    let mut check = |label: String, kind: &str, what: &str| {
        expect(label, kind, what);
        n += 1;
    };

    let run = chain.extend(4, &[0, 1, 2, 3], &[0, 1, 2]);
    check(
        update_both(&lc, &mut rust, &headers(&run[..3]), "1..=3").await,
        "ok",
        "1..=3",
    );
    check(
        update_both(&lc, &mut rust, &headers(&run[2..3]), "replay 3").await,
        "ok",
        "replay",
    );
    check(
        update_both(&lc, &mut rust, &headers(&run[1..4]), "2, 3 held, then 4").await,
        "ok",
        "skip held",
    );
    check(
        update_both(&lc, &mut rust, &[], "empty").await,
        "empty_update",
        "empty",
    );
    check(
        update_both(&lc, &mut rust, &headers(&[]), "no header").await,
        "header_count",
        "no header",
    );

    let v4 = [0, 1, 2, 3];
    let five = chain.next(&v4, None, &[0, 1, 2]);
    let mut gap = five.clone();
    gap.number += 1;
    bft_reseal(variant, &mut gap, &signers(&chain.keys, &[0, 1, 2]));
    check(
        update_both(&lc, &mut rust, &headers(&[gap]), "gap").await,
        "not_adjacent",
        "gap",
    );
    let mut orphan = five.clone();
    orphan.parent_hash = Hash32([7; 32]);
    bft_reseal(variant, &mut orphan, &signers(&chain.keys, &[0, 1, 2]));
    check(
        update_both(&lc, &mut rust, &headers(&[orphan]), "orphan").await,
        "parent_mismatch",
        "orphan",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &headers(&[chain.next(&v4, None, &[0, 1])]),
            "2 seals",
        )
        .await,
        "bft_quorum",
        "2 of 4",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &headers(&[chain.next(&v4, None, &[0, 1, 5])]),
            "outsider",
        )
        .await,
        "bft_unknown_signer",
        "outsider",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &headers(&[chain.next(&v4, None, &[0, 1, 1])]),
            "twice",
        )
        .await,
        "bft_duplicate_signer",
        "twice",
    );
    let mut late = five.clone();
    late.timestamp -= 10;
    bft_reseal(variant, &mut late, &signers(&chain.keys, &[0, 1, 2]));
    check(
        update_both(&lc, &mut rust, &headers(&[late]), "earlier").await,
        "time_decreased",
        "time",
    );
    let mut fork = chain.headers[4].clone();
    fork.state_root = Hash32([0xf0; 32]);
    bft_reseal(variant, &mut fork, &signers(&chain.keys, &[0, 1, 2]));
    check(
        update_both(&lc, &mut rust, &headers(&[fork]), "fork of 4").await,
        "conflicting_header",
        "fork",
    );
    let mut bad_mix = five.clone();
    bad_mix.mix_hash = Hash32::ZERO;
    check(
        update_both(&lc, &mut rust, &headers(&[bad_mix]), "mixHash").await,
        "bft_mix_hash",
        "mixHash",
    );
    // All or nothing: a good header then a bad one leave the client as it was.
    let good = chain.next(&v4, None, &[0, 1, 2]);
    let mut bad = chain.next(&v4, None, &[0, 1, 2]);
    bad.number += 2;
    bft_reseal(variant, &mut bad, &signers(&chain.keys, &[1, 2, 3]));
    let batch = vec![
        EvmUpdate::Headers(vec![good.clone()]),
        EvmUpdate::Headers(vec![bad]),
    ];
    check(
        update_both(&lc, &mut rust, &batch, "good then bad").await,
        "not_adjacent",
        "batch",
    );
    assert_eq!(rust.latest_height(), 4, "nothing of the batch is kept");

    // Key 4 is voted in (blocks 5–6 carry the vote), block 7 lists five and key 4 seals.
    let vote = Some(ValidatorVote {
        recipient: chain.keys[4].address(),
        authorize: true,
    });
    for _ in 0..2 {
        let h = chain.next(&v4, vote, &[0, 1, 2]);
        chain.headers.push(h);
    }
    let v5 = [0, 1, 2, 3, 4];
    let seven = chain.next(&v5, None, &[0, 1, 2, 4]);
    chain.headers.push(seven);
    let added = chain.headers[5..].to_vec();
    check(
        update_both(&lc, &mut rust, &headers(&added), "addition").await,
        "ok",
        "addition",
    );
    assert_eq!(rust.validators().len(), 5);
    // Key 3 is removed: block 8 lists four, a quorum of them seals.
    let after = [0, 1, 2, 4];
    let eight = chain.next(&after, None, &[0, 1, 4]);
    chain.headers.push(eight.clone());
    check(
        update_both(&lc, &mut rust, &headers(&[eight]), "removal").await,
        "ok",
        "removal",
    );
    assert_eq!(rust.validators().len(), 4);
    // Forged: a set of strangers (and key 3, no longer trusted) hands itself the chain.
    let forged = chain.next(&[3, 5, 6, 7], None, &[3, 5, 6, 7]);
    check(
        update_both(&lc, &mut rust, &headers(&[forged]), "forged").await,
        "bft_trusted",
        "forged",
    );
    n
}

/// A Clique chain's signers in ascending address order.
fn sorted(keys: &[SigningKey]) -> Vec<SigningKey> {
    let mut k = keys.to_vec();
    k.sort_by_key(SigningKey::address);
    k
}

/// Clique (epoch 4): in-turn runs across checkpoints, a checkpoint that changes the
/// signers, wrong turn, unauthorised sealer, "signed recently" within an update.
pub async fn clique_runs(node: &Node) -> usize {
    let epoch = 4;
    let start_s = node.now_s().await - 100_000;
    let all = sorted(&keys("runs-clique", 4));
    let first: Vec<SigningKey> = all[..3].to_vec();
    let set = |ks: &[SigningKey]| ks.iter().map(SigningKey::address).collect::<Vec<_>>();
    let genesis = clique_header(
        0,
        Hash32::ZERO,
        start_s,
        epoch,
        &set(&first),
        &set(&first),
        &first[0],
    );
    let chain = ChainId::new("clique-runs").expect("id");
    let mut rust =
        EvmClientState::from_header(chain, FinalityMode::Clique { epoch }, &genesis, gateway())
            .expect("anchor");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let mut n = 0;
    let mut check = |label: String, kind: &str, what: &str| {
        expect(label, kind, what);
        n += 1;
    };
    // Blocks 1..=7 sealed in turn; block 4 (a checkpoint) lists the same three.
    let mut blocks = vec![genesis];
    let in_turn = |number: u64, ks: &[SigningKey]| ks[(number % ks.len() as u64) as usize].clone();
    for number in 1..=7u64 {
        let parent = blocks.last().expect("parent");
        let h = clique_header(
            number,
            parent.hash(),
            parent.timestamp + 15,
            epoch,
            &set(&first),
            &set(&first),
            &in_turn(number, &first),
        );
        blocks.push(h);
    }
    check(
        update_both(&lc, &mut rust, &headers(&blocks[1..6]), "1..=5").await,
        "ok",
        "1..=5",
    );
    // 6 and 7 both sealed by 6's in-turn signer: 7 is too recent within one update.
    let mut seven = blocks[7].clone();
    seven.difficulty = U256::from(1);
    clique_reseal(&mut seven, &in_turn(6, &first));
    check(
        update_both(
            &lc,
            &mut rust,
            &headers(&[blocks[6].clone(), seven]),
            "recent",
        )
        .await,
        "clique_recently_signed",
        "recent",
    );
    let mut wrong_turn = blocks[6].clone();
    wrong_turn.difficulty = U256::from(1);
    clique_reseal(&mut wrong_turn, &in_turn(6, &first));
    check(
        update_both(&lc, &mut rust, &headers(&[wrong_turn]), "wrong turn").await,
        "clique_wrong_difficulty",
        "turn",
    );
    let mut outsider = blocks[6].clone();
    outsider.difficulty = U256::from(1);
    clique_reseal(&mut outsider, &all[3]);
    check(
        update_both(&lc, &mut rust, &headers(&[outsider]), "outsider").await,
        "clique_unauthorized",
        "outsider",
    );
    let mut vote_at_checkpoint = clique_header(
        8,
        blocks[7].hash(),
        blocks[7].timestamp + 15,
        epoch,
        &set(&first),
        &set(&first),
        &in_turn(8, &first),
    );
    vote_at_checkpoint.nonce = [0xff; 8];
    clique_reseal(&mut vote_at_checkpoint, &in_turn(8, &first));
    check(
        update_both(&lc, &mut rust, &headers(&blocks[6..8]), "6, 7").await,
        "ok",
        "6, 7",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &headers(&[vote_at_checkpoint]),
            "vote at checkpoint",
        )
        .await,
        "clique_checkpoint_vote",
        "vote",
    );
    // Checkpoint 8 hands over to {0, 1, 3}; block 9 sealed in turn among them.
    let next: Vec<SigningKey> = vec![all[0].clone(), all[1].clone(), all[3].clone()];
    let eight = clique_header(
        8,
        blocks[7].hash(),
        blocks[7].timestamp + 15,
        epoch,
        &set(&next),
        &set(&first),
        &in_turn(8, &first),
    );
    let nine = clique_header(
        9,
        eight.hash(),
        eight.timestamp + 15,
        epoch,
        &set(&next),
        &set(&next),
        &in_turn(9, &next),
    );
    check(
        update_both(&lc, &mut rust, &headers(&[eight, nine]), "hand-over").await,
        "ok",
        "checkpoint",
    );
    assert_eq!(rust.validators(), set(&next).as_slice());
    n
}

/// Attestations (committee of 3, quorum 2): accepted with gaps, replayed, and every
/// committee refusal; mode mismatches both ways.
pub async fn attestation_runs(node: &Node) -> usize {
    let committee = keys("runs-attest", 4);
    let members: Vec<Address> = committee[..3].iter().map(SigningKey::address).collect();
    let chain = ChainId::new("anvil-runs").expect("id");
    let now_ms = node.now_s().await * 1000;
    let base_ms = now_ms - 100_000_000;
    let mut rust = EvmClientState::new(
        chain.clone(),
        FinalityMode::Attestation(Committee::new(members, 2).expect("committee")),
        vec![],
        gateway(),
        100,
        EvmConsensusState {
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            time_ms: base_ms,
        },
    )
    .expect("client");
    let lc = client::deploy(&node.provider).await;
    client::create(&lc, &rust, LONG_PERIOD_MS, false).await;
    let mut n = 0;
    let mut check = |label: String, kind: &str, what: &str| {
        expect(label, kind, what);
        n += 1;
    };
    let at = |height: u64, root: u8, time_ms: u64| Attestation {
        chain_id: chain.clone(),
        height,
        block_hash: Hash32([height as u8; 32]),
        state_root: Hash32([root; 32]),
        time_ms,
    };
    let one = |a: Attested| vec![EvmUpdate::Attested(a)];
    let good = Attested::sign(at(105, 5, base_ms + 5_000), &committee[..2]);
    check(
        update_both(&lc, &mut rust, &one(good.clone()), "105").await,
        "ok",
        "105",
    );
    check(
        update_both(&lc, &mut rust, &one(good.clone()), "105 again").await,
        "ok",
        "replay",
    );
    let a110 = at(110, 10, base_ms + 10_000);
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(
                a110.clone(),
                &[committee[0].clone(), committee[3].clone()],
            )),
            "outsider",
        )
        .await,
        "unknown_attester",
        "outsider",
    );
    let s0 = a110.sign(&committee[0]);
    let twice = Attested {
        attestation: a110.clone(),
        signatures: vec![s0, s0],
    };
    check(
        update_both(&lc, &mut rust, &one(twice), "twice").await,
        "duplicate_attester",
        "twice",
    );
    // A signature by member 0 under member 1's name.
    let mut other = Attested::sign(a110.clone(), &committee[..2]);
    let named = other
        .signatures
        .iter()
        .position(|s| s.attester != committee[0].address())
        .expect("member 1 signed");
    other.signatures[named] = AttesterSignature {
        attester: other.signatures[named].attester,
        signature: s0.signature,
    };
    check(
        update_both(&lc, &mut rust, &one(other), "other signer").await,
        "bad_attester_signature",
        "other signer",
    );
    let mut bad_v = Attested::sign(a110.clone(), &committee[..2]);
    bad_v.signatures[0].signature.0[64] = 29;
    check(
        update_both(&lc, &mut rust, &one(bad_v), "v 29").await,
        "bad_attester_signature",
        "v",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(a110.clone(), &committee[..1])),
            "one",
        )
        .await,
        "below_quorum",
        "quorum",
    );
    let mut elsewhere = a110.clone();
    elsewhere.chain_id = ChainId::new("elsewhere").expect("id");
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(elsewhere, &committee[..2])),
            "elsewhere",
        )
        .await,
        "wrong_chain",
        "chain",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(at(105, 6, base_ms + 5_000), &committee[..2])),
            "fork",
        )
        .await,
        "conflicting_header",
        "fork",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(at(103, 3, base_ms + 3_000), &committee[..2])),
            "older",
        )
        .await,
        "not_newer",
        "older",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(
                at(110, 10, base_ms + 1_000),
                &committee[..2],
            )),
            "earlier",
        )
        .await,
        "time_decreased",
        "time",
    );
    check(
        update_both(
            &lc,
            &mut rust,
            &one(Attested::sign(a110, &committee[1..3])),
            "110",
        )
        .await,
        "ok",
        "110",
    );
    check(
        update_both(&lc, &mut rust, &headers(&[]), "headers").await,
        "mode_mismatch",
        "mode",
    );
    n
}
