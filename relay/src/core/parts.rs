//! A [`Relay`] put together from parts a caller built: the wiring layer from `[[chains]]`
//! (`crate::wiring`), or the testkit from in-process chains and a store on a temporary
//! directory, so the relay core's steps also run without processes or sockets. The core
//! itself never builds a chain's adapter.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use xrelay_light_client::ChainId;

use super::chain::ChainHandle;
use super::ledger::Ledger;
use super::Relay;
use crate::mesh::Mesh;
use crate::metrics::Metrics;

impl Relay {
    /// A relay over `chains` (opened by the caller), serving the directed `lanes`, with
    /// the mesh `mesh` (off, or a fixed membership view).
    pub fn assemble(
        ledger: Ledger,
        metrics: Metrics,
        chains: BTreeMap<ChainId, Arc<ChainHandle>>,
        lanes: Vec<(ChainId, ChainId)>,
        max_batch: usize,
        mesh: Mesh,
    ) -> Arc<Relay> {
        let attestations = mesh.attestations.clone();
        Arc::new(Relay {
            ledger,
            metrics,
            chains,
            lanes,
            max_batch,
            mesh,
            attestations,
            status: Default::default(),
            taken_over: std::sync::Mutex::new(BTreeSet::new()),
        })
    }
}
