//! A relay over testkit chains: its store on a temporary directory (RocksDB, as in
//! production), its chains opened with their light clients, the core's scanner and lane
//! steps run one at a time by the test, and a restart from the same store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::Keypair;
use xrelay_adapters::ChainAdapter;
use xrelay_light_client::{ChainId, Height};

use super::chain::{user, ChainSpec, MemChain, TestkitError};
use crate::core::attestations::AttestationBoard;
use crate::core::chain::{ChainHandle, RelayError};
use crate::core::lane::{self, Pass};
use crate::core::ledger::Ledger;
use crate::core::{scan_once, Relay};
use crate::mesh::{Membership, Mesh};
use crate::metrics::Metrics;
use crate::store::{MessageRecord, RelayStore, Status};

/// Chains with the given ids, each hosting a client of every other (created by
/// governance), and a funded user (`user("alice")`) on each.
pub fn net(ids: &[&str]) -> Result<Vec<Arc<MemChain>>, TestkitError> {
    net_of(&ids.iter().map(|id| ChainSpec::new(id)).collect::<Vec<_>>())
}

/// [`net`] with chains set up as `specs` say.
pub fn net_of(specs: &[ChainSpec]) -> Result<Vec<Arc<MemChain>>, TestkitError> {
    let chains = specs
        .iter()
        .map(|s| {
            MemChain::new(
                s,
                vec![(user("alice").address(), "stake".into(), 1_000_000)],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    for a in &chains {
        for b in &chains {
            if a.id() != b.id() {
                a.create_client_of(b)?;
            }
        }
    }
    Ok(chains)
}

/// How the relay of a [`Harness`] is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most items per relay transaction.
    pub max_batch: usize,
    /// The mesh's item window (sequences per work item).
    pub window: u64,
    /// Other live mesh members besides this relayer (0: the mesh is off and this relayer
    /// owns everything).
    pub mesh_peers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_batch: 100,
            window: 1,
            mesh_peers: 0,
        }
    }
}

/// What one [`Harness::step`] did.
#[derive(Debug, Default)]
pub struct StepReport {
    /// Relay transactions submitted.
    pub submitted: usize,
    /// What failed (the step went on with the other chains and lanes).
    pub errors: Vec<RelayError>,
}

/// A relay core over testkit chains, driven step by step.
pub struct Harness {
    /// The chains, by id.
    pub chains: BTreeMap<ChainId, Arc<MemChain>>,
    /// The relay.
    pub relay: Arc<Relay>,
    /// The membership the relay's mesh view holds.
    pub membership: Membership,
    dir: Arc<tempfile::TempDir>,
    options: Options,
}

impl Harness {
    /// A relay over every directed lane between `chains`, its store new.
    pub async fn start(chains: &[Arc<MemChain>], options: Options) -> Result<Self, RelayError> {
        let dir = tempfile::tempdir()
            .map_err(|e| RelayError::Retry(format!("temporary directory: {e}")))?;
        Self::open(chains, options, Arc::new(dir)).await
    }

    /// [`Harness::start`] with default options.
    pub async fn over(chains: &[Arc<MemChain>]) -> Result<Self, RelayError> {
        Self::start(chains, Options::default()).await
    }

    async fn open(
        chains: &[Arc<MemChain>],
        options: Options,
        dir: Arc<tempfile::TempDir>,
    ) -> Result<Self, RelayError> {
        let store = Arc::new(RelayStore::open(&dir.path().join("db"))?);
        let metrics = Metrics::new();
        let ids: Vec<ChainId> = chains.iter().map(|c| c.id().clone()).collect();
        let mut handles = BTreeMap::new();
        for c in chains {
            let partners = ids.iter().filter(|i| *i != c.id()).cloned().collect();
            let adapter: Arc<dyn ChainAdapter> = c.clone();
            let handle = ChainHandle::open(
                adapter,
                Duration::from_millis(10),
                None,
                None,
                partners,
                store.clone(),
                metrics.clone(),
            )
            .await?;
            handles.insert(c.id().clone(), Arc::new(handle));
        }
        let lanes: Vec<(ChainId, ChainId)> = ids
            .iter()
            .flat_map(|a| {
                ids.iter()
                    .filter(move |b| *b != a)
                    .map(move |b| (a.clone(), b.clone()))
            })
            .collect();
        let ledger = Ledger::open(store, metrics.clone(), lanes.iter().cloned().collect())?;
        let mut mesh = Mesh::off(options.window, AttestationBoard::new());
        let me = mesh.view.borrow().me;
        let membership = if options.mesh_peers == 0 {
            Membership::solo(me)
        } else {
            let mut live: Vec<_> = (0..options.mesh_peers)
                .map(|_| Keypair::generate_ed25519().public().to_peer_id())
                .chain(std::iter::once(me))
                .collect();
            live.sort();
            Membership {
                me,
                allowed: live.clone(),
                live,
                enabled: true,
                unserved: BTreeMap::new(),
            }
        };
        let (_, view) = tokio::sync::watch::channel(membership.clone());
        mesh.view = view;
        let relay = Relay::assemble(ledger, metrics, handles, lanes, options.max_batch, mesh);
        Ok(Harness {
            chains: chains.iter().map(|c| (c.id().clone(), c.clone())).collect(),
            relay,
            membership,
            dir,
            options,
        })
    }

    /// Stops this relay and opens a new one over the same chains and the same store (a
    /// restarted process).
    pub async fn restart(self) -> Result<Self, RelayError> {
        let Harness {
            chains,
            relay,
            dir,
            options,
            ..
        } = self;
        if Arc::strong_count(&relay) != 1 {
            return Err(RelayError::Retry(
                "the relay is still in use; cannot restart".into(),
            ));
        }
        drop(relay);
        let chains: Vec<_> = chains.into_values().collect();
        Self::open(&chains, options, dir).await
    }

    /// The relay's handle of chain `id`.
    pub fn handle(&self, id: &ChainId) -> Arc<ChainHandle> {
        self.relay.chains[id].clone()
    }

    /// Scans `id` from its cursor to its served head.
    pub async fn scan_chain(&self, id: &ChainId) -> Result<(), RelayError> {
        let handle = self.handle(id);
        let head = *handle.adapter.heads().borrow();
        // Each call reads at most one range; a handful covers any test's chain.
        for _ in 0..64 {
            if !scan_once(&self.relay, &handle, head).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Scans every chain to its head.
    pub async fn scan(&self) -> Result<(), RelayError> {
        for id in self.chains.keys() {
            self.scan_chain(id).await?;
        }
        Ok(())
    }

    /// One pass over lane `src → dst`.
    pub async fn relay_lane(&self, src: &ChainId, dst: &ChainId) -> Result<Pass, RelayError> {
        lane::relay_once(&self.relay, &self.handle(src), &self.handle(dst)).await
    }

    /// Scans every chain, then passes over every lane once.
    pub async fn step(&self) -> StepReport {
        let mut report = StepReport::default();
        for id in self.chains.keys() {
            if let Err(e) = self.scan_chain(id).await {
                report.errors.push(e);
            }
        }
        for (src, dst) in self.relay.lanes.clone() {
            match self.relay_lane(&src, &dst).await {
                Ok(p) => report.submitted += p.submitted,
                Err(e) => report.errors.push(e),
            }
        }
        report
    }

    /// Steps until a step submits nothing (at most `max_steps`); returns every error seen
    /// and how many transactions were submitted.
    pub async fn settle(&self, max_steps: usize) -> StepReport {
        let mut total = StepReport::default();
        for _ in 0..max_steps {
            let step = self.step().await;
            total.submitted += step.submitted;
            let quiet = step.submitted == 0;
            total.errors.extend(step.errors);
            if quiet {
                break;
            }
        }
        total
    }

    /// The relayer's record of message `sequence` on lane `src → dst`.
    pub fn record(&self, src: &ChainId, dst: &ChainId, sequence: u64) -> Option<MessageRecord> {
        self.relay
            .ledger
            .store()
            .message(src, dst, sequence)
            .ok()
            .flatten()
    }

    /// The relayer's status of message `sequence` on lane `src → dst`.
    pub fn status(&self, src: &ChainId, dst: &ChainId, sequence: u64) -> Option<Status> {
        self.record(src, dst, sequence).map(|r| r.status)
    }

    /// The relayer's scan cursor of `id`.
    pub fn cursor(&self, id: &ChainId) -> Height {
        self.relay
            .ledger
            .store()
            .cursor(id)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// The options the relay was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }
}
