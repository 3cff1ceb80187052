//! Two (or more) chains in one process, each a real state tree with signed headers, and a
//! relayer by hand: enough to exercise every rule of the module without processes.

#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;

use xrelay_devchain::module::query;
use xrelay_devchain::tx::{Action, SignedAction, Tx};
use xrelay_devchain::{
    Context, Event, Genesis, MemoryState, Module, ModuleError, Overlay, TxReport,
};
use xrelay_light_client::prover::{MemoryTreeStore, StateTree};
use xrelay_light_client::{
    paths, Address, ChainId, Commit, Encode, Hash32, Header, LightBlock, Message, SignedHeader,
    SigningKey, StateProof, Timeout, TrustOptions, TrustedState, ValidatorSet,
};
use xrelay_protocol::{InboundMessage, ProvenAck, ProvenMessage, RelayTx, SourceProof};

/// One clock for all chains, so headers are never "from the future" for each other.
#[derive(Clone, Default)]
pub struct Clock(Rc<Cell<u64>>);

impl Clock {
    pub fn tick(&self) -> u64 {
        let t = self.0.get() + 500;
        self.0.set(t);
        1_735_689_600_000 + t
    }
}

pub struct Chain {
    pub id: ChainId,
    pub module: Module,
    pub keys: Vec<SigningKey>,
    pub set: ValidatorSet,
    pub store: MemoryTreeStore,
    pub state: MemoryState,
    pub blocks: Vec<LightBlock>,
    pub events: Vec<Event>,
    pub clock: Clock,
    pub governance: SigningKey,
    pub nonces: std::collections::HashMap<Address, u64>,
}

pub fn user(name: &str) -> SigningKey {
    SigningKey::from_seed("devchain-test-user", name.bytes().map(u32::from).sum())
}

impl Chain {
    /// A chain with genesis balances and no clients yet (version 0), then block 1.
    pub fn new(
        id: &str,
        clock: &Clock,
        module: Module,
        balances: Vec<(Address, String, u128)>,
    ) -> Self {
        let keys: Vec<SigningKey> = (0..4).map(|i| SigningKey::from_seed(id, i)).collect();
        let set = ValidatorSet::from_keys(keys.iter().map(|k| (k, 10))).unwrap();
        let governance = SigningKey::from_seed("governance", 0);
        let mut chain = Chain {
            id: ChainId::new(id).unwrap(),
            module,
            keys,
            set,
            store: MemoryTreeStore::new(),
            state: MemoryState::default(),
            blocks: Vec::new(),
            events: Vec::new(),
            clock: clock.clone(),
            governance: governance.clone(),
            nonces: Default::default(),
        };
        let genesis = Genesis {
            governance: governance.address(),
            clients: vec![],
            balances,
        };
        let base = chain.state.clone();
        let mut overlay = Overlay::new(&base);
        chain.module.genesis(&mut overlay, &genesis).unwrap();
        let writes = overlay.into_writes();
        StateTree::new(&chain.store)
            .apply(0, writes.clone())
            .unwrap();
        chain.state.apply(writes);
        chain.block(vec![]);
        chain
    }

    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    pub fn tip(&self) -> &LightBlock {
        self.blocks.last().unwrap()
    }

    pub fn time(&self) -> u64 {
        self.tip().header().time_ms
    }

    /// Produces the next block with `txs`; returns each transaction's result.
    pub fn block(&mut self, txs: Vec<Tx>) -> Vec<Result<TxReport, ModuleError>> {
        let height = self.height() + 1;
        let ctx = Context {
            chain_id: self.id.clone(),
            height,
            time_ms: self.clock.tick(),
        };
        let base = self.state.clone();
        let mut overlay = Overlay::new(&base);
        let results: Vec<_> = txs
            .iter()
            .map(|tx| self.module.execute(&mut overlay, &ctx, tx))
            .collect();
        for r in results.iter().flatten() {
            self.events.extend(r.events.iter().cloned());
        }
        let writes = overlay.into_writes();
        let root = StateTree::new(&self.store)
            .apply(height, writes.clone())
            .unwrap();
        self.state.apply(writes);
        let tx_bytes: Vec<u8> = txs.iter().flat_map(|t| t.encode()).collect();
        let header = Header {
            chain_id: self.id.clone(),
            height,
            time_ms: ctx.time_ms,
            parent_hash: self
                .blocks
                .last()
                .map_or(Hash32::ZERO, |b| b.header().hash()),
            state_root: root,
            tx_root: xrelay_light_client::sha256(&tx_bytes),
            validators_hash: self.set.hash(),
            next_validators_hash: self.set.hash(),
            proposer: self.keys[0].address(),
        };
        let commit = Commit::sign(&header, &self.keys);
        self.blocks.push(LightBlock {
            signed_header: SignedHeader { header, commit },
            validators: self.set.clone(),
            next_validators: self.set.clone(),
        });
        results
    }

    /// One transaction in its own block; panics if it fails.
    pub fn run(&mut self, tx: Tx) -> TxReport {
        self.block(vec![tx]).pop().unwrap().unwrap()
    }

    pub fn trusted(&self) -> TrustedState {
        TrustedState::from_light_block(self.tip()).unwrap()
    }

    pub fn signed(&mut self, key: &SigningKey, action: Action) -> Tx {
        let nonce = self.nonces.entry(key.address()).or_default();
        let tx = Tx::Signed(Box::new(SignedAction::sign(&self.id, key, *nonce, action)));
        *nonce += 1;
        tx
    }

    /// Governance creates a client of `other` here.
    pub fn create_client_of(&mut self, other: &Chain) {
        let gov = self.governance.clone();
        let tx = self.signed(
            &gov,
            Action::CreateClient {
                trusted: other.trusted(),
                options: TrustOptions::default(),
            },
        );
        self.run(tx);
    }

    pub fn prove(&self, key: &[u8], height: u64) -> StateProof {
        StateTree::new(&self.store).prove(key, height).unwrap().1
    }

    pub fn send(
        &mut self,
        key: &SigningKey,
        to: &ChainId,
        app: &str,
        payload: Vec<u8>,
        timeout: Timeout,
    ) -> Result<Message, ModuleError> {
        let tx = self.signed(
            key,
            Action::Send {
                destination: to.clone(),
                app: app.into(),
                payload,
                timeout,
            },
        );
        let report = self.block(vec![tx]).pop().unwrap()?;
        match &report.events[..] {
            [Event::MessageSent { message }] => Ok(message.clone()),
            other => panic!("unexpected events {other:?}"),
        }
    }

    pub fn sent_messages(&self, to: &ChainId) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::MessageSent { message } if message.destination == *to => {
                    Some(message.clone())
                }
                _ => None,
            })
            .collect()
    }

    pub fn balance(&self, denom: &str, who: &Address) -> u128 {
        query::balance(&self.state, denom, who).unwrap()
    }

    pub fn supply(&self, denom: &str) -> u128 {
        query::supply(&self.state, denom).unwrap()
    }

    pub fn escrow(&self, to: &ChainId, denom: &str) -> u128 {
        query::escrow(&self.state, to, denom).unwrap()
    }

    pub fn client_height(&self, of: &ChainId) -> u64 {
        query::client(&self.state, of)
            .unwrap()
            .unwrap()
            .latest_height()
    }
}

/// An UpdateClient for `dst`'s client of `src`, up to `src`'s tip (None if up to date).
pub fn update(src: &Chain, dst: &Chain) -> Option<Tx> {
    (dst.client_height(&src.id) < src.height()).then(|| {
        Tx::Relay(RelayTx::UpdateClient {
            chain: src.id.clone(),
            blocks: vec![src.tip().clone()],
        })
    })
}

/// Delivers every message `src` sent to `dst` that `dst` has not processed, in one block.
pub fn relay_messages(src: &Chain, dst: &mut Chain) -> Vec<Result<TxReport, ModuleError>> {
    let (_, next_recv) = query::lane_counters(&dst.state, &src.id).unwrap();
    let h = src.height();
    let messages: Vec<InboundMessage> = src
        .sent_messages(&dst.id)
        .into_iter()
        .filter(|m| m.sequence >= next_recv)
        .map(|m| {
            let timed_out = query::sent_status(&src.state, &dst.id, m.sequence).unwrap()
                == query::SentStatus::Settled(xrelay_protocol::Outcome::TimedOut);
            let (shows, key) = if timed_out {
                (
                    SourceProof::TimedOut,
                    xrelay_light_client::paths::outcome(&dst.id, m.sequence),
                )
            } else {
                (
                    SourceProof::Committed,
                    paths::commitment(&dst.id, m.sequence),
                )
            };
            InboundMessage {
                proof: src.prove(&key, h),
                shows,
                message: m,
            }
        })
        .collect();
    if messages.is_empty() {
        return vec![];
    }
    let txs = update(src, dst)
        .into_iter()
        .chain([Tx::Relay(RelayTx::Recv {
            source: src.id.clone(),
            proof_height: h,
            messages,
        })])
        .collect();
    dst.block(txs)
}

/// Proves back to `src` the acks `dst` wrote for messages still pending on `src`.
pub fn relay_acks(src: &mut Chain, dst: &Chain) -> Vec<Result<TxReport, ModuleError>> {
    let h = dst.height();
    let acks: Vec<ProvenAck> = dst
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { message, ack } if message.source == src.id => {
                Some((message, ack))
            }
            _ => None,
        })
        .filter(|(m, _)| {
            query::sent_status(&src.state, &dst.id, m.sequence).unwrap()
                == query::SentStatus::Pending
        })
        .map(|(m, ack)| ProvenAck {
            proof: dst.prove(&paths::ack(&src.id, m.sequence), h),
            message: m.clone(),
            ack: ack.clone(),
        })
        .collect();
    if acks.is_empty() {
        return vec![];
    }
    let txs = update(dst, src)
        .into_iter()
        .chain([Tx::Relay(RelayTx::Ack {
            destination: dst.id.clone(),
            proof_height: h,
            acks,
        })])
        .collect();
    src.block(txs)
}

/// Proves to `src` that `dst` never received its messages that are past their timeout at
/// `dst`'s tip.
pub fn relay_timeouts(src: &mut Chain, dst: &Chain) -> Vec<Result<TxReport, ModuleError>> {
    let h = dst.height();
    let t = dst.time();
    let messages: Vec<ProvenMessage> = src
        .sent_messages(&dst.id)
        .into_iter()
        .filter(|m| {
            query::sent_status(&src.state, &dst.id, m.sequence).unwrap()
                == query::SentStatus::Pending
        })
        .filter(|m| {
            m.timeout.has_passed(h, t) && !query::received(&dst.state, &src.id, m.sequence).unwrap()
        })
        .map(|m| ProvenMessage {
            proof: dst.prove(&paths::receipt(&src.id, m.sequence), h),
            message: m,
        })
        .collect();
    if messages.is_empty() {
        return vec![];
    }
    let txs = update(dst, src)
        .into_iter()
        .chain([Tx::Relay(RelayTx::Timeout {
            destination: dst.id.clone(),
            proof_height: h,
            messages,
        })])
        .collect();
    src.block(txs)
}

/// Two chains that each trust the other.
pub fn pair(module_b: Module) -> (Chain, Chain, Clock) {
    let clock = Clock::default();
    let alice = user("alice");
    let mut a = Chain::new(
        "alpha",
        &clock,
        Module::default(),
        vec![(alice.address(), "xrd".into(), 1_000_000)],
    );
    let mut b = Chain::new(
        "beta",
        &clock,
        module_b,
        vec![(user("bob").address(), "brd".into(), 500)],
    );
    a.create_client_of(&b);
    b.create_client_of(&a);
    (a, b, clock)
}

pub fn far() -> Timeout {
    Timeout {
        height: 1_000_000,
        time_ms: 0,
    }
}
