//! The node's chain on real storage: genesis, mempool checks, signed blocks, proofs at any
//! committed height, validator rotation, and reopening after a stop with identical state.

use xrelay_devchain::module::query;
use xrelay_devchain::node::chain::{
    Chain, ChainConfig, ChainError, KeySource, Limits, SubmitError, ValidatorPlan,
};
use xrelay_devchain::node::store::Store;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::{Genesis, Module, ModuleError};
use xrelay_light_client::prover::StateTree;
use xrelay_light_client::{ChainId, ClientState, SigningKey, TrustOptions, TrustedState};

const T0: u64 = 1_735_689_600_000;

fn alice() -> SigningKey {
    SigningKey::from_seed("node-test", 1)
}

fn config(rotate_every: Option<u64>, signers: Option<usize>) -> ChainConfig {
    ChainConfig {
        chain_id: ChainId::new("alpha").unwrap(),
        validators: ValidatorPlan {
            keys: KeySource::Seed("alpha-validators".into()),
            count: 4,
            power: 10,
            rotate_every,
        },
        signers,
        genesis: Genesis {
            governance: SigningKey::from_seed("node-test", 0).address(),
            clients: vec![],
            balances: vec![(alice().address(), "xrd".into(), 1_000)],
        },
        limits: Limits {
            max_mempool_txs: 3,
            max_block_txs: 2,
            ..Limits::default()
        },
    }
}

fn pay(chain_id: &ChainId, nonce: u64, amount: u128) -> Tx {
    let to = SigningKey::from_seed("node-test", 2).address();
    Tx::Signed(Box::new(SignedAction::sign(
        chain_id,
        &alice(),
        nonce,
        Action::Pay {
            to,
            denom: "xrd".into(),
            amount,
        },
    )))
}

#[test]
fn blocks_are_signed_and_state_is_provable() {
    let mut chain = Chain::open(config(None, None), Store::memory(), Module::default()).unwrap();
    let id = chain.chain_id().clone();
    assert_eq!(chain.height(), 0);
    chain.submit(pay(&id, 0, 10), T0).unwrap();
    // The mempool refuses what would fail: a reused nonce, an overdraft.
    assert!(matches!(
        chain.submit(pay(&id, 0, 10), T0),
        Err(SubmitError::Refused(ModuleError::BadNonce {
            expected: 1,
            found: 0
        }))
    ));
    assert!(chain.submit(pay(&id, 1, 5_000), T0).is_err());
    assert_eq!(chain.mempool_len(), 1);
    let (block, results) = chain.produce(T0).unwrap();
    assert_eq!(block.height(), 1);
    assert_eq!(results.txs.len(), 1);
    assert!(results.txs[0].outcome.is_ok());
    assert_eq!(chain.results(1).unwrap().unwrap(), results);
    TrustedState::from_light_block(&block).unwrap();
    // The balance is provable against the header's state root.
    let key = xrelay_devchain::module::keys::balance("xrd", &alice().address());
    let (value, proof) = StateTree::new(chain.store()).prove(&key, 1).unwrap();
    proof
        .verify_membership(&block.header().state_root, &key, &value.unwrap())
        .unwrap();
    assert_eq!(
        query::balance(chain.store(), "xrd", &alice().address()).unwrap(),
        990
    );
}

#[test]
fn a_full_mempool_refuses_and_a_full_block_leaves_the_rest_queued() {
    let mut chain = Chain::open(config(None, None), Store::memory(), Module::default()).unwrap();
    let id = chain.chain_id().clone();
    for n in 0..3 {
        chain.submit(pay(&id, n, 1), T0).unwrap();
    }
    assert_eq!(
        chain.submit(pay(&id, 3, 1), T0),
        Err(SubmitError::MempoolFull(3))
    );
    let (_, first) = chain.produce(T0).unwrap();
    assert_eq!(first.txs.len(), 2, "a block takes at most max_block_txs");
    assert_eq!(
        chain.mempool_len(),
        1,
        "the rest stays queued, checked on the new state"
    );
    // The queued nonce 2 counts for the check: nonce 3 is next.
    chain.submit(pay(&id, 3, 1), T0).unwrap();
    let (_, second) = chain.produce(T0 + 1_000).unwrap();
    assert_eq!(second.txs.len(), 2);
    assert!(second.txs.iter().all(|t| t.outcome.is_ok()));
    assert_eq!(
        query::balance(chain.store(), "xrd", &alice().address()).unwrap(),
        996
    );
}

#[test]
fn a_restarted_node_resumes_with_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut roots = Vec::new();
    {
        let mut chain = Chain::open(
            config(None, None),
            Store::open(dir.path()).unwrap(),
            Module::default(),
        )
        .unwrap();
        let id = chain.chain_id().clone();
        for h in 0..20u64 {
            chain.submit(pay(&id, h, 1), T0 + h * 1000).unwrap();
            let (block, _) = chain.produce(T0 + h * 1000).unwrap();
            roots.push(block.header().state_root);
        }
    }
    let mut chain = Chain::open(
        config(None, None),
        Store::open(dir.path()).unwrap(),
        Module::default(),
    )
    .unwrap();
    assert_eq!(chain.height(), 20);
    for (i, root) in roots.iter().enumerate() {
        let h = i as u64 + 1;
        assert_eq!(
            chain.store().block(h).unwrap().unwrap().header().state_root,
            *root
        );
        assert_eq!(StateTree::new(chain.store()).root(h).unwrap(), *root);
    }
    assert_eq!(
        query::balance(chain.store(), "xrd", &alice().address()).unwrap(),
        980
    );
    // It goes on from where it was: next nonce 20, next height 21, parent linked.
    let id = chain.chain_id().clone();
    chain.submit(pay(&id, 20, 1), T0 + 30_000).unwrap();
    let (block, _) = chain.produce(T0 + 30_000).unwrap();
    assert_eq!(block.height(), 21);
    assert_eq!(
        block.header().parent_hash,
        chain.store().block(20).unwrap().unwrap().header().hash()
    );
    // Another chain's config on this data is refused.
    drop(chain);
    let mut other = config(None, None);
    other.chain_id = ChainId::new("beta").unwrap();
    assert!(matches!(
        Chain::open(other, Store::open(dir.path()).unwrap(), Module::default()),
        Err(ChainError::WrongChain { .. })
    ));
}

#[test]
fn light_clients_follow_rotation_and_refuse_thin_commits() {
    let mut chain = Chain::open(config(Some(3), None), Store::memory(), Module::default()).unwrap();
    let blocks: Vec<_> = (0..30u64)
        .map(|i| chain.produce(T0 + i * 1000).unwrap().0)
        .collect();
    assert_ne!(blocks[0].validators, blocks[29].validators);
    let mut client = ClientState::new(
        TrustedState::from_light_block(&blocks[0]).unwrap(),
        TrustOptions::default(),
    )
    .unwrap();
    client.update(&blocks[1..], T0 + 31_000).unwrap();
    assert_eq!(client.latest_height(), 30);

    // Two of four signing is below the quorum: the blocks exist, no client accepts them.
    let mut thin = Chain::open(config(None, Some(2)), Store::memory(), Module::default()).unwrap();
    let (block, _) = thin.produce(T0).unwrap();
    assert!(TrustedState::from_light_block(&block).is_err());
}

#[test]
fn validator_keys_come_from_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    let secrets: Vec<String> = (0..5)
        .map(|i| hex::encode(SigningKey::from_seed("file-keys", i).secret_bytes()))
        .collect();
    std::fs::write(
        &path,
        format!(
            "# validators\n\n0x{}\n{}\n",
            secrets[0],
            secrets[1..].join("\n")
        ),
    )
    .unwrap();
    let source = KeySource::from_key_file(&path).unwrap();
    let mut cfg = config(Some(2), None);
    cfg.validators.keys = source;
    let mut chain = Chain::open(cfg, Store::memory(), Module::default()).unwrap();
    let first = chain.produce(T0).unwrap().0;
    let expected: Vec<_> = (0..4)
        .map(|i| SigningKey::from_seed("file-keys", i).address())
        .collect();
    let mut signers: Vec<_> = first
        .signed_header
        .commit
        .signatures
        .iter()
        .map(|s| s.validator)
        .collect();
    signers.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(signers, want, "the file's first four keys sign height 1");
    // Rotation slides over the file (wrapping around) and light clients follow it.
    let blocks: Vec<_> = (1..12u64)
        .map(|i| chain.produce(T0 + i * 1000).unwrap().0)
        .collect();
    let mut client = ClientState::new(
        TrustedState::from_light_block(&first).unwrap(),
        TrustOptions::default(),
    )
    .unwrap();
    client.update(&blocks, T0 + 13_000).unwrap();

    for (text, why) in [
        ("zz\n", "Invalid"),
        ("abcd\n", "32 bytes"),
        ("# only a comment\n", "no keys"),
        (&"00".repeat(32), ""),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = KeySource::from_key_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("keys.txt") && err.contains(why),
            "{text:?}: {err}"
        );
    }
    assert!(KeySource::from_key_file(&dir.path().join("missing")).is_err());
}
