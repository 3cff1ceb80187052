//! The relayer's persistent state in RocksDB: every message's status with its timeline, an
//! index by status and lane, the scan cursor per chain, and the relayer's light client per
//! chain. Each status transition (and the cursor move that caused it) is one `WriteBatch`,
//! so a relayer killed at any moment restarts from a consistent state without rescanning.
//!
//! Transitions are written to RocksDB's log without waiting for `fsync`, except the rare
//! ones marked durable (a chain found misbehaving). A killed process loses nothing (the
//! log is in the kernel's page cache); a machine that loses power may come back a few
//! transitions earlier, together with the cursors that produced them, and simply sees
//! those events again: the ledger only moves forward, and the chains refuse anything
//! done twice. Waiting for the disk on every transition cost more than everything else
//! the relayer does per message.
//!
//! The parts, each with its tests:
//! - `record`: what is stored per message ([`MessageRecord`], [`Status`], [`Step`]) and
//!   its strict binary layout (those bytes are the schema: changing them is a new version);
//! - `db`: [`RelayStore`] itself: the column families, keys, [`Transition`]s, the status
//!   index with its scan hints, lane counters, cursors and light clients;
//! - `safety`: the facts that must survive a crash before anything acts on them: chains
//!   frozen for misbehaviour, and the attestations the co-signer signed;
//! - `migrate`: the schema version, checked on every open, and the upgrade of older
//!   stores (1 → 3, 2 → 3) in place.

mod db;
mod migrate;
mod record;
mod safety;

// The public paths are those of the single file the store was before its split.
pub use db::{RelayStore, Transition};
pub use migrate::SCHEMA_VERSION;
pub use record::{MessageRecord, Status, Step};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Stored bytes do not decode (corruption, or a bug).
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// Why it failed.
        why: String,
    },
    /// The store was written by another schema version.
    #[error(
        "store schema version {found}, this relayer uses {expected}: migrate or use a new data_dir"
    )]
    Schema {
        /// What the store has.
        found: u32,
        /// What this build expects.
        expected: u32,
    },
}
