//! `[mesh]`: the relayer mesh's settings. Multiaddrs and peer ids are checked with the types
//! libp2p itself uses (`multiaddr::Multiaddr`, `multiaddr::PeerId`, which libp2p
//! re-exports), so an address this crate accepts is one the mesh can dial.

use std::path::PathBuf;

use multiaddr::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

/// `[mesh]` of the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSection {
    /// Whether this relayer meshes (false: it does all the work itself).
    #[serde(default)]
    pub enabled: bool,
    /// Listen multiaddr.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The relayer's identity key (libp2p protobuf encoding), created if missing.
    #[serde(default)]
    pub identity_key: Option<PathBuf>,
    /// Peers to dial (multiaddrs ending in `/p2p/<peer id>`).
    #[serde(default)]
    pub peers: Vec<String>,
    /// The consortium's relayers (peer ids), this one included.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Heartbeat interval.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// A member silent this long is taken over.
    #[serde(default = "default_grace")]
    pub grace_ms: u64,
    /// Sequences per work item; every relayer of a mesh must use the same value.
    #[serde(default = "default_window")]
    pub window: u64,
}

fn default_listen() -> String {
    "/ip4/0.0.0.0/tcp/9465".into()
}
fn default_heartbeat() -> u64 {
    500
}
fn default_grace() -> u64 {
    3_000
}
fn default_window() -> u64 {
    500
}

impl Default for MeshSection {
    fn default() -> Self {
        MeshSection {
            enabled: false,
            listen: default_listen(),
            identity_key: None,
            peers: Vec::new(),
            allowed: Vec::new(),
            heartbeat_ms: default_heartbeat(),
            grace_ms: default_grace(),
            window: default_window(),
        }
    }
}

impl MeshSection {
    /// Checks the parts types cannot: multiaddrs, peer ids, periods.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.enabled {
            return Ok(());
        }
        self.listen
            .parse::<Multiaddr>()
            .map_err(|e| ("mesh.listen".into(), e.to_string()))?;
        for (i, p) in self.peers.iter().enumerate() {
            let addr: Multiaddr = p
                .parse()
                .map_err(|e| (format!("mesh.peers[{i}]"), format!("{e}")))?;
            if !addr
                .iter()
                .any(|c| matches!(c, multiaddr::Protocol::P2p(_)))
            {
                return Err((
                    format!("mesh.peers[{i}]"),
                    "must end in /p2p/<peer id>".into(),
                ));
            }
        }
        for (i, p) in self.allowed.iter().enumerate() {
            p.parse::<PeerId>()
                .map_err(|e| (format!("mesh.allowed[{i}]"), e.to_string()))?;
        }
        if self.allowed.is_empty() {
            return Err((
                "mesh.allowed".into(),
                "list the consortium's relayers (peer ids)".into(),
            ));
        }
        if self.identity_key.is_none() {
            return Err((
                "mesh.identity_key".into(),
                "a meshed relayer needs a stable identity key file".into(),
            ));
        }
        if self.heartbeat_ms == 0 || self.grace_ms <= self.heartbeat_ms || self.window == 0 {
            return Err((
                "mesh.grace_ms".into(),
                "need heartbeat_ms > 0, grace_ms > heartbeat_ms, window > 0".into(),
            ));
        }
        Ok(())
    }
}
