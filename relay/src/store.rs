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

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use serde::{Deserialize, Serialize};
use xrelay_light_client::encoding::{decode_seq, encode_seq, DecodeError, Reader, Writer};
use xrelay_light_client::evm::attest::Attestation;
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{
    Acknowledgement, ChainId, ClientState, Decode, Encode, Hash32, Height, Message, MessageId,
};

/// Bumped when the layout changes; a store of another version is refused, except
/// version 1 (JSON message records), which opening migrates in place, and version 2, whose
/// records are version-3 records without the content-proven flag (only the version key is
/// rewritten).
pub const SCHEMA_VERSION: u32 = 3;

const CF_META: &str = "meta";
const CF_MESSAGES: &str = "messages";
const CF_BY_STATUS: &str = "by_status";
const CF_IDS: &str = "ids";
const CF_CURSORS: &str = "cursors";
const CF_CLIENTS: &str = "clients";
const SCHEMA_KEY: &[u8] = b"schema_version";
const COUNT_PREFIX: &[u8] = b"count\0";
const FROZEN_PREFIX: &[u8] = b"frozen\0";
/// `attested\0{chain}\0{u64 height}` → the canonical `Attestation` this relayer signed at
/// that height (chain ids contain no NUL, so keys of two chains never meet).
const SIGNED_PREFIX: &[u8] = b"attested\0";
/// `attested_floor\0{chain}` → `u64`: heights up to this one are forgotten (pruned).
const SIGNED_FLOOR_PREFIX: &[u8] = b"attested_floor\0";

/// Where a message stands, as the relayer last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Committed on the source; to deliver.
    Pending,
    /// Received on the destination; its ack is to be relayed back.
    Delivered,
    /// Settled on the source by its ack. Final.
    Acknowledged,
    /// Refunded on the source by a timeout; the destination lane still has to move past it.
    TimedOut,
    /// Timed out and skipped by the destination lane. Final.
    Closed,
}

impl Status {
    /// All, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Delivered,
        Status::Acknowledged,
        Status::TimedOut,
        Status::Closed,
    ];

    /// Not settled yet: what a lane's backlog counts and its lag is measured on.
    pub const UNSETTLED: [Status; 3] = [Status::Pending, Status::Delivered, Status::TimedOut];

    /// Whether nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Acknowledged | Status::Closed)
    }

    fn tag(self) -> u8 {
        self as u8
    }

    /// Parses the API's name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.name() == s)
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Acknowledged => "acknowledged",
            Status::TimedOut => "timed_out",
            Status::Closed => "closed",
        }
    }
}

/// One step of a message's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The status reached.
    pub status: Status,
    /// When the relayer recorded it (ms since the epoch).
    pub at_ms: u64,
    /// The chain and height of the block where it happened.
    pub chain: ChainId,
    /// That block's height.
    pub height: Height,
}

/// A message with its status and timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message.
    pub message: Message,
    /// Its id.
    pub id: MessageId,
    /// Current status.
    pub status: Status,
    /// The destination app's ack, once known.
    pub ack: Option<xrelay_light_client::Acknowledgement>,
    /// The destination lane moved past the message without delivering it (it arrived past
    /// its timeout): only a timeout on the source is left to do.
    #[serde(default)]
    pub lane_skipped: bool,
    /// The message's content matched its commitment on the source at a height the
    /// relayer verified: until then it is only what a node said.
    #[serde(default)]
    pub content_proven: bool,
    /// Every transition, oldest first.
    pub timeline: Vec<Step>,
}

impl MessageRecord {
    /// A message first seen committed on its source at `height`.
    pub fn sent(message: Message, height: Height, at_ms: u64) -> Self {
        MessageRecord {
            id: message.id(),
            timeline: vec![Step {
                status: Status::Pending,
                at_ms,
                chain: message.source.clone(),
                height,
            }],
            message,
            status: Status::Pending,
            ack: None,
            lane_skipped: false,
            content_proven: false,
        }
    }

    /// Moves to `status` (recorded in the timeline).
    pub fn advance(&mut self, status: Status, chain: &ChainId, height: Height, at_ms: u64) {
        self.status = status;
        self.timeline.push(Step {
            status,
            at_ms,
            chain: chain.clone(),
            height,
        });
    }

    /// When it reached `status`, if it did.
    pub fn reached(&self, status: Status) -> Option<&Step> {
        self.timeline.iter().find(|s| s.status == status)
    }
}

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

/// A set of changes applied together.
#[derive(Default)]
pub struct Transition {
    batch: WriteBatch,
    /// Status-index keys this transition adds (they lower the scan hints on commit).
    index_puts: Vec<Vec<u8>>,
    /// Wait for the disk before returning from commit.
    durable: bool,
}

impl Transition {
    /// Makes the commit wait until the transition is on disk (for the rare facts worth an
    /// `fsync`, such as a chain found misbehaving).
    pub fn make_durable(&mut self) {
        self.durable = true;
    }
}

/// Where a scan of one status-index prefix may start: no live key of the prefix is
/// below `from`. Deleted index entries stay in RocksDB as tombstones until compaction;
/// without a hint every scan of a busy lane would step over all of them again.
#[derive(Debug, Clone)]
struct ScanHint {
    from: Vec<u8>,
    /// Bumped by every commit that adds a key under the prefix: a scan only raises `from`
    /// if no such commit happened while it ran.
    version: u64,
}

/// The relayer's store.
pub struct RelayStore {
    db: DB,
    hints: Mutex<HashMap<Vec<u8>, ScanHint>>,
}

fn message_key(source: &ChainId, destination: &ChainId, sequence: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(source.as_str().len() + destination.as_str().len() + 10);
    k.extend_from_slice(source.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(destination.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&sequence.to_be_bytes());
    k
}

fn lane_prefix(source: &ChainId, destination: &ChainId) -> Vec<u8> {
    let mut k = message_key(source, destination, 0);
    k.truncate(k.len() - 8);
    k
}

fn status_key(status: Status, source: &ChainId, destination: &ChainId, sequence: u64) -> Vec<u8> {
    let mut k = vec![status.tag()];
    k.extend(message_key(source, destination, sequence));
    k
}

impl RelayStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Bounded memory and restart work whatever the backlog: small memtables, and a
        // log that is flushed (not replayed at the next start) once it reaches 32 MiB.
        opts.set_max_total_wal_size(32 << 20);
        let cf_opts = || {
            let mut o = Options::default();
            o.set_write_buffer_size(8 << 20);
            o.set_max_write_buffer_number(2);
            o
        };
        let cfs = [
            CF_META,
            CF_MESSAGES,
            CF_BY_STATUS,
            CF_IDS,
            CF_CURSORS,
            CF_CLIENTS,
        ]
        .map(|name| ColumnFamilyDescriptor::new(name, cf_opts()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        let store = RelayStore {
            db,
            hints: Mutex::new(HashMap::new()),
        };
        match store.db.get_cf(store.cf(CF_META), SCHEMA_KEY)? {
            Some(v) => {
                let found = u32::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                    StoreError::Corrupt {
                        what: "schema version",
                        why: format!("{} bytes", v.len()),
                    }
                })?);
                if found == 1 {
                    store.migrate_json_records()?;
                } else if found == 2 {
                    store
                        .db
                        .put_cf(store.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes())?;
                    tracing::info!("store migrated from schema 2 to 3 (no record rewritten)");
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => store
                .db
                .put_cf(store.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes())?,
        }
        Ok(store)
    }

    /// Rewrites the JSON message records of a schema-1 store in the binary layout, in
    /// batches, then records the current schema (durably). Killed half-way, it starts again: a record
    /// already rewritten is recognised and left alone.
    fn migrate_json_records(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        let mut n = 0usize;
        for item in self
            .db
            .iterator_cf(self.cf(CF_MESSAGES), IteratorMode::Start)
        {
            let (k, v) = item?;
            if v.first() != Some(&b'{') {
                continue;
            }
            let record: MessageRecord =
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    what: "message record (schema 1)",
                    why: e.to_string(),
                })?;
            batch.put_cf(self.cf(CF_MESSAGES), &k, record.encode());
            n += 1;
            if n.is_multiple_of(10_000) {
                self.db.write(std::mem::take(&mut batch))?;
            }
        }
        batch.put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes());
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        tracing::info!(
            records = n,
            "store migrated from schema 1 to {SCHEMA_VERSION}"
        );
        Ok(())
    }

    /// Opens the store of a running (or stopped) relayer for reading only: a snapshot of
    /// its state at opening time, for the `query` commands.
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let names = [
            CF_META,
            CF_MESSAGES,
            CF_BY_STATUS,
            CF_IDS,
            CF_CURSORS,
            CF_CLIENTS,
        ];
        let db = DB::open_cf_for_read_only(&Options::default(), dir, names, false)?;
        let store = RelayStore {
            db,
            hints: Mutex::new(HashMap::new()),
        };
        if let Some(v) = store.db.get_cf(store.cf(CF_META), SCHEMA_KEY)? {
            let found = v.as_slice().try_into().map(u32::from_be_bytes).unwrap_or(0);
            if found != SCHEMA_VERSION {
                return Err(StoreError::Schema {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        Ok(store)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // The column families are created in `open`; a missing one is a programming error.
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    /// The record of a message.
    pub fn message(
        &self,
        source: &ChainId,
        destination: &ChainId,
        sequence: u64,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.db
            .get_cf(
                self.cf(CF_MESSAGES),
                message_key(source, destination, sequence),
            )?
            .map(|v| decode_record(&v))
            .transpose()
    }

    /// The record of a message by id.
    pub fn message_by_id(&self, id: &MessageId) -> Result<Option<MessageRecord>, StoreError> {
        match self.db.get_cf(self.cf(CF_IDS), id.0 .0)? {
            Some(key) => self
                .db
                .get_cf(self.cf(CF_MESSAGES), key)?
                .map(|v| decode_record(&v))
                .transpose(),
            None => Ok(None),
        }
    }

    /// Messages of lane `source`→`destination` with `status`, in sequence order, at most
    /// `limit`.
    pub fn by_status(
        &self,
        status: Status,
        source: &ChainId,
        destination: &ChainId,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut prefix = vec![status.tag()];
        prefix.extend(lane_prefix(source, destination));
        self.scan_index(&prefix, limit)
    }

    /// Messages with `status` on any lane, at most `limit`.
    pub fn all_by_status(
        &self,
        status: Status,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.scan_index(&[status.tag()], limit)
    }

    fn scan_index(&self, prefix: &[u8], limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        let (start, version) = {
            // The hint exists before the scan reads anything, so a commit racing with the
            // first scan of a prefix is seen through its version.
            let mut hints = self.hints.lock().unwrap_or_else(|e| e.into_inner());
            let h = hints.entry(prefix.to_vec()).or_insert_with(|| ScanHint {
                from: prefix.to_vec(),
                version: 0,
            });
            (h.from.clone(), h.version)
        };
        let mut out = Vec::new();
        let mut first = None;
        let iter = self.db.iterator_cf(
            self.cf(CF_BY_STATUS),
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            if first.is_none() {
                first = Some(k.to_vec());
            }
            let record = self
                .db
                .get_cf(self.cf(CF_MESSAGES), &k[1..])?
                .ok_or_else(|| StoreError::Corrupt {
                    what: "status index",
                    why: "points at no message".into(),
                })?;
            out.push(decode_record(&record)?);
        }
        // Nothing live below the first key found (or anywhere, when none was): later scans
        // start there, unless a commit added keys under the prefix meanwhile.
        let from = first.unwrap_or_else(|| {
            let mut end = prefix.to_vec();
            end.extend_from_slice(&[0xff; 8]);
            end
        });
        let mut hints = self.hints.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = hints.get_mut(prefix) {
            if h.version == version {
                h.from = from;
            }
        }
        Ok(out)
    }

    /// How many messages of the lane have `status` (walks the index; for metrics).
    pub fn count(
        &self,
        status: Status,
        source: &ChainId,
        destination: &ChainId,
    ) -> Result<u64, StoreError> {
        let mut prefix = vec![status.tag()];
        prefix.extend(lane_prefix(source, destination));
        let mut n = 0;
        for item in self.db.iterator_cf(
            self.cf(CF_BY_STATUS),
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Messages per lane and status, as kept by [`Self::put_count`] (read once at start,
    /// so a restart does not walk the history).
    pub fn counts(
        &self,
    ) -> Result<std::collections::BTreeMap<(ChainId, ChainId, Status), u64>, StoreError> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            IteratorMode::From(COUNT_PREFIX, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(COUNT_PREFIX) {
                break;
            }
            let corrupt = || StoreError::Corrupt {
                what: "lane counter",
                why: hex::encode(&k),
            };
            let rest = &k[COUNT_PREFIX.len()..];
            let (&tag, rest) = rest.split_first().ok_or_else(corrupt)?;
            let status = Status::ALL
                .into_iter()
                .find(|s| s.tag() == tag)
                .ok_or_else(corrupt)?;
            let mut parts = rest.split(|b| *b == 0);
            let src = parts
                .next()
                .and_then(|p| std::str::from_utf8(p).ok())
                .and_then(|p| p.parse().ok())
                .ok_or_else(corrupt)?;
            let dst = parts
                .next()
                .and_then(|p| std::str::from_utf8(p).ok())
                .and_then(|p| p.parse().ok())
                .ok_or_else(corrupt)?;
            let n = u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt())?);
            out.insert((src, dst, status), n);
        }
        Ok(out)
    }

    /// Sets the count of lane `source`→`destination` messages with `status`.
    pub fn put_count(
        &self,
        t: &mut Transition,
        source: &ChainId,
        destination: &ChainId,
        status: Status,
        n: u64,
    ) {
        let mut k = COUNT_PREFIX.to_vec();
        k.push(status.tag());
        k.extend(lane_prefix(source, destination));
        k.pop();
        t.batch.put_cf(self.cf(CF_META), k, n.to_be_bytes());
    }

    /// Chains this relayer found misbehaving, with the evidence hash (hex).
    pub fn frozen(&self) -> Result<Vec<(ChainId, String)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            IteratorMode::From(FROZEN_PREFIX, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(FROZEN_PREFIX) {
                break;
            }
            let chain = std::str::from_utf8(&k[FROZEN_PREFIX.len()..])
                .ok()
                .and_then(|c| c.parse().ok())
                .ok_or(StoreError::Corrupt {
                    what: "frozen chain",
                    why: hex::encode(&k),
                })?;
            out.push((chain, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(out)
    }

    /// Records that `chain` misbehaved (the relayer stops relaying it until an operator
    /// clears the flag).
    pub fn put_frozen(&self, t: &mut Transition, chain: &ChainId, evidence_hash: &str) {
        let mut k = FROZEN_PREFIX.to_vec();
        k.extend_from_slice(chain.as_str().as_bytes());
        t.batch
            .put_cf(self.cf(CF_META), k, evidence_hash.as_bytes());
        t.make_durable();
    }

    /// Lifts the misbehaviour flag of `chain` (the operator's decision, after the consortium
    /// dealt with the incident).
    pub fn clear_frozen(&self, t: &mut Transition, chain: &ChainId) {
        let mut k = FROZEN_PREFIX.to_vec();
        k.extend_from_slice(chain.as_str().as_bytes());
        t.batch.delete_cf(self.cf(CF_META), k);
        t.make_durable();
    }

    /// The attestation this relayer signed for `chain`'s block at `height`, if it signed one
    /// and has not forgotten it (see [`Self::signed_floor`]).
    pub fn signed_attestation(
        &self,
        chain: &ChainId,
        height: Height,
    ) -> Result<Option<Attestation>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), signed_key(chain, height))?
            .map(|v| {
                Attestation::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "signed attestation",
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    /// The height of `chain` up to which signed attestations were forgotten (0: none): the
    /// co-signer signs nothing at or below it, since it no longer knows what it signed there.
    pub fn signed_floor(&self, chain: &ChainId) -> Result<Height, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), signed_floor_key(chain))?
            .map(|v| {
                v.as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "signed attestation floor",
                        why: format!("{} bytes", v.len()),
                    })
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Records, on disk before returning, that this relayer signs `attestation`: from now on
    /// it signs no other block at that height of that chain, across restarts. Records more
    /// than `keep` heights below it are forgotten in the same batch (the floor rises), so the
    /// record stays bounded.
    pub fn remember_signed(&self, attestation: &Attestation, keep: u64) -> Result<(), StoreError> {
        let chain = &attestation.chain_id;
        let mut t = self.transition();
        // At least the height itself is kept: the floor stays below it.
        let floor = attestation.height.saturating_sub(keep.max(1));
        if floor > self.signed_floor(chain)? {
            t.batch.delete_range_cf(
                self.cf(CF_META),
                signed_key(chain, 0),
                signed_key(chain, floor + 1),
            );
            t.batch.put_cf(
                self.cf(CF_META),
                signed_floor_key(chain),
                floor.to_be_bytes(),
            );
        }
        t.batch.put_cf(
            self.cf(CF_META),
            signed_key(chain, attestation.height),
            attestation.encode(),
        );
        t.make_durable();
        self.commit(t)
    }

    /// Forgets the relayer's light client of `chain` (either family), so the next start
    /// creates it from the configured trust root.
    pub fn delete_client(&self, t: &mut Transition, chain: &ChainId) {
        t.batch.delete_cf(self.cf(CF_CLIENTS), chain.as_str());
        t.batch
            .delete_cf(self.cf(CF_CLIENTS), evm_client_key(chain));
        t.make_durable();
    }

    /// The height up to which `chain`'s events were scanned.
    pub fn cursor(&self, chain: &ChainId) -> Result<Option<Height>, StoreError> {
        self.db
            .get_cf(self.cf(CF_CURSORS), chain.as_str())?
            .map(|v| {
                v.as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "cursor",
                        why: format!("{} bytes", v.len()),
                    })
            })
            .transpose()
    }

    /// The relayer's light client of `chain`.
    pub fn client(&self, chain: &ChainId) -> Result<Option<ClientState>, StoreError> {
        self.db
            .get_cf(self.cf(CF_CLIENTS), chain.as_str())?
            .map(|v| {
                ClientState::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "client state",
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    /// The relayer's light client of the EVM chain `chain` (kept in the clients family under
    /// `evm/{chain}`: chain ids cannot contain `/`, so the keys never meet).
    pub fn evm_client(&self, chain: &ChainId) -> Result<Option<EvmClientState>, StoreError> {
        self.db
            .get_cf(self.cf(CF_CLIENTS), evm_client_key(chain))?
            .map(|v| {
                EvmClientState::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "EVM client state",
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    /// Applies `t` atomically (in the log; on disk before returning if it is durable).
    pub fn commit(&self, t: Transition) -> Result<(), StoreError> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(t.durable);
        self.db.write_opt(t.batch, &opts)?;
        if !t.index_puts.is_empty() {
            let mut hints = self.hints.lock().unwrap_or_else(|e| e.into_inner());
            for key in &t.index_puts {
                // A status key is tag, lane prefix, 8-byte sequence: both the whole-status
                // prefix and the lane prefix may have hints.
                for len in [1, key.len().saturating_sub(8)] {
                    if let Some(h) = hints.get_mut(&key[..len]) {
                        if key.as_slice() < h.from.as_slice() {
                            h.from = key.clone();
                        }
                        h.version += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// A new transition.
    pub fn transition(&self) -> Transition {
        Transition::default()
    }

    /// Records `record` (new, or moved from `previous` status).
    pub fn put_message(
        &self,
        t: &mut Transition,
        record: &MessageRecord,
        previous: Option<Status>,
    ) -> Result<(), StoreError> {
        let m = &record.message;
        let key = message_key(&m.source, &m.destination, m.sequence);
        if let Some(prev) = previous {
            t.batch.delete_cf(
                self.cf(CF_BY_STATUS),
                status_key(prev, &m.source, &m.destination, m.sequence),
            );
        } else {
            t.batch.put_cf(self.cf(CF_IDS), record.id.0 .0, &key);
        }
        let index_key = status_key(record.status, &m.source, &m.destination, m.sequence);
        t.batch.put_cf(self.cf(CF_BY_STATUS), &index_key, []);
        t.index_puts.push(index_key);
        t.batch.put_cf(self.cf(CF_MESSAGES), key, record.encode());
        Ok(())
    }

    /// Forgets `record` (a claim its proof contradicted): the record, its id and its index
    /// entry. Counters are the caller's.
    pub fn delete_message(&self, t: &mut Transition, record: &MessageRecord) {
        let m = &record.message;
        t.batch.delete_cf(
            self.cf(CF_BY_STATUS),
            status_key(record.status, &m.source, &m.destination, m.sequence),
        );
        t.batch.delete_cf(self.cf(CF_IDS), record.id.0 .0);
        t.batch.delete_cf(
            self.cf(CF_MESSAGES),
            message_key(&m.source, &m.destination, m.sequence),
        );
    }

    /// Moves `chain`'s scan cursor.
    pub fn put_cursor(&self, t: &mut Transition, chain: &ChainId, height: Height) {
        t.batch
            .put_cf(self.cf(CF_CURSORS), chain.as_str(), height.to_be_bytes());
    }

    /// Stores the light client of `chain`.
    pub fn put_client(&self, t: &mut Transition, chain: &ChainId, client: &ClientState) {
        t.batch
            .put_cf(self.cf(CF_CLIENTS), chain.as_str(), client.encode());
    }

    /// Stores the light client of the EVM chain `chain`.
    pub fn put_evm_client(&self, t: &mut Transition, chain: &ChainId, client: &EvmClientState) {
        t.batch
            .put_cf(self.cf(CF_CLIENTS), evm_client_key(chain), client.encode());
    }
}

fn signed_key(chain: &ChainId, height: Height) -> Vec<u8> {
    let mut k = SIGNED_PREFIX.to_vec();
    k.extend_from_slice(chain.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&height.to_be_bytes());
    k
}

fn signed_floor_key(chain: &ChainId) -> Vec<u8> {
    let mut k = SIGNED_FLOOR_PREFIX.to_vec();
    k.extend_from_slice(chain.as_str().as_bytes());
    k
}

fn evm_client_key(chain: &ChainId) -> String {
    format!("evm/{chain}")
}

fn decode_record(v: &[u8]) -> Result<MessageRecord, StoreError> {
    MessageRecord::decode(v).map_err(|e| StoreError::Corrupt {
        what: "message record",
        why: e.to_string(),
    })
}

/// Most steps a record's timeline can hold (a message has at most three transitions;
/// the bound only keeps a corrupt record from asking for a huge allocation).
const MAX_TIMELINE: usize = 16;

impl Status {
    fn from_tag(tag: u8) -> Result<Status, DecodeError> {
        Status::ALL
            .into_iter()
            .find(|s| s.tag() == tag)
            .ok_or_else(|| DecodeError::invalid("status", format!("tag {tag}")))
    }
}

impl Encode for Step {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.status.tag())
            .u64(self.at_ms)
            .put(&self.chain)
            .u64(self.height);
    }
}

impl Decode for Step {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Step {
            status: Status::from_tag(r.u8()?)?,
            at_ms: r.u64()?,
            chain: r.get()?,
            height: r.u64()?,
        })
    }
}

/// The stored layout of a record (schema 3), in the protocol's strict encoding: the
/// message, its id, the status tag, the ack (0 or 1, then the ack), a flags byte (bit 0:
/// the lane skipped it; bit 1: its content is proven; schema 2 had only bit 0) and the
/// timeline. About a tenth of the JSON's cost to read and write.
impl Encode for MessageRecord {
    fn encode_to(&self, w: &mut Writer) {
        w.put(&self.message)
            .fixed(&self.id.0 .0)
            .u8(self.status.tag());
        match &self.ack {
            Some(a) => w.u8(1).put(a),
            None => w.u8(0),
        };
        w.u8(u8::from(self.lane_skipped) | (u8::from(self.content_proven) << 1));
        encode_seq(w, &self.timeline);
    }
}

impl Decode for MessageRecord {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let message = r.get()?;
        let id = MessageId(Hash32(r.array()?));
        let status = Status::from_tag(r.u8()?)?;
        let ack = match r.u8()? {
            0 => None,
            1 => Some(r.get::<Acknowledgement>()?),
            t => return Err(DecodeError::invalid("ack flag", format!("{t}"))),
        };
        let flags = r.u8()?;
        if flags > 0b11 {
            return Err(DecodeError::invalid(
                "record flags",
                format!("{flags:#04x}"),
            ));
        }
        let (lane_skipped, content_proven) = (flags & 1 != 0, flags & 2 != 0);
        // A step is at least a tag, two u64s and a non-empty chain id.
        let timeline = decode_seq(r, "timeline", MAX_TIMELINE, 18)?;
        Ok(MessageRecord {
            message,
            id,
            status,
            ack,
            lane_skipped,
            content_proven,
            timeline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xrelay_light_client::Timeout;

    fn msg(src: &str, dst: &str, seq: u64) -> Message {
        Message {
            source: src.parse().unwrap(),
            destination: dst.parse().unwrap(),
            sequence: seq,
            sender: vec![1],
            receiver: "echo".into(),
            payload: vec![seq as u8],
            timeout: Timeout {
                height: 100,
                time_ms: 0,
            },
        }
    }

    #[test]
    fn transitions_move_the_index_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
        {
            let store = RelayStore::open(dir.path()).unwrap();
            let mut t = store.transition();
            for seq in [3, 1, 2] {
                store
                    .put_message(&mut t, &MessageRecord::sent(msg("a", "b", seq), 5, 0), None)
                    .unwrap();
            }
            store
                .put_message(&mut t, &MessageRecord::sent(msg("b", "a", 1), 6, 0), None)
                .unwrap();
            store.put_cursor(&mut t, &a, 5);
            store.commit(t).unwrap();
            let pending: Vec<u64> = store
                .by_status(Status::Pending, &a, &b, 10)
                .unwrap()
                .iter()
                .map(|r| r.message.sequence)
                .collect();
            assert_eq!(pending, [1, 2, 3], "lane order");
            let mut r = store.message(&a, &b, 2).unwrap().unwrap();
            r.advance(Status::Delivered, &b, 9, 1);
            let mut t = store.transition();
            store
                .put_message(&mut t, &r, Some(Status::Pending))
                .unwrap();
            store.commit(t).unwrap();
        }
        let store = RelayStore::open(dir.path()).unwrap();
        assert_eq!(store.cursor(&a).unwrap(), Some(5));
        assert_eq!(store.cursor(&b).unwrap(), None);
        assert_eq!(store.count(Status::Pending, &a, &b).unwrap(), 2);
        assert_eq!(store.count(Status::Delivered, &a, &b).unwrap(), 1);
        assert_eq!(store.count(Status::Pending, &b, &a).unwrap(), 1);
        let r = store
            .message_by_id(&msg("a", "b", 2).id())
            .unwrap()
            .unwrap();
        assert_eq!(r.status, Status::Delivered);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!(store.all_by_status(Status::Pending, 10).unwrap().len(), 3);
    }

    #[test]
    fn another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = RelayStore::open(dir.path()).unwrap();
            store
                .db
                .put_cf(store.cf(CF_META), SCHEMA_KEY, 99u32.to_be_bytes())
                .unwrap();
        }
        assert!(matches!(
            RelayStore::open(dir.path()),
            Err(StoreError::Schema { found: 99, .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// The scan hints never hide a live index entry: after any mix of new messages
        /// (in any sequence order), status moves and scans, every lane scan returns exactly
        /// what a full walk of the index finds.
        #[test]
        fn scan_hints_never_hide_live_entries(
            ops in proptest::collection::vec((0u8..3, 1u64..40, proptest::bool::ANY), 1..80)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = RelayStore::open(dir.path()).unwrap();
            let (a, b): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
            for (op, seq, other_lane) in ops {
                let (src, dst) = if other_lane { ("b", "a") } else { ("a", "b") };
                let (s, d): (ChainId, ChainId) = (src.parse().unwrap(), dst.parse().unwrap());
                match op {
                    0 => {
                        if store.message(&s, &d, seq).unwrap().is_none() {
                            let mut t = store.transition();
                            store
                                .put_message(&mut t, &MessageRecord::sent(msg(src, dst, seq), 1, 0), None)
                                .unwrap();
                            store.commit(t).unwrap();
                        }
                    }
                    1 => {
                        if let Some(mut r) = store.message(&s, &d, seq).unwrap() {
                            let next = match r.status {
                                Status::Pending => Status::Delivered,
                                Status::Delivered => Status::Acknowledged,
                                _ => continue,
                            };
                            let prev = r.status;
                            r.advance(next, &d, 2, 0);
                            let mut t = store.transition();
                            store.put_message(&mut t, &r, Some(prev)).unwrap();
                            store.commit(t).unwrap();
                        }
                    }
                    _ => {
                        for status in [Status::Pending, Status::Delivered] {
                            for (x, y) in [(&a, &b), (&b, &a)] {
                                let seen: Vec<u64> = store
                                    .by_status(status, x, y, 1000)
                                    .unwrap()
                                    .iter()
                                    .map(|r| r.message.sequence)
                                    .collect();
                                let fresh = RelayStore {
                                    db: DB::open_cf_for_read_only(
                                        &Options::default(),
                                        dir.path(),
                                        [CF_META, CF_MESSAGES, CF_BY_STATUS, CF_IDS, CF_CURSORS, CF_CLIENTS],
                                        false,
                                    )
                                    .unwrap(),
                                    hints: Mutex::new(HashMap::new()),
                                };
                                let all: Vec<u64> = fresh
                                    .by_status(status, x, y, 1000)
                                    .unwrap()
                                    .iter()
                                    .map(|r| r.message.sequence)
                                    .collect();
                                proptest::prop_assert_eq!(seen, all);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn schema_1_stores_are_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b): (ChainId, ChainId) = ("a".parse().unwrap(), "b".parse().unwrap());
        let mut delivered = MessageRecord::sent(msg("a", "b", 2), 5, 7);
        delivered.advance(Status::Delivered, &b, 9, 8);
        delivered.ack = Some(Acknowledgement::Success(vec![1, 2]));
        {
            let store = RelayStore::open(dir.path()).unwrap();
            let mut t = store.transition();
            store
                .put_message(&mut t, &MessageRecord::sent(msg("a", "b", 1), 5, 7), None)
                .unwrap();
            store.put_message(&mut t, &delivered, None).unwrap();
            store.commit(t).unwrap();
            // Rewrite them as a schema-1 relayer stored them.
            for seq in [1, 2] {
                let r = store.message(&a, &b, seq).unwrap().unwrap();
                store
                    .db
                    .put_cf(
                        store.cf(CF_MESSAGES),
                        message_key(&a, &b, seq),
                        serde_json::to_vec(&r).unwrap(),
                    )
                    .unwrap();
            }
            store
                .db
                .put_cf(store.cf(CF_META), SCHEMA_KEY, 1u32.to_be_bytes())
                .unwrap();
        }
        let store = RelayStore::open(dir.path()).unwrap();
        assert_eq!(store.message(&a, &b, 2).unwrap().unwrap(), delivered);
        assert_eq!(
            store.by_status(Status::Pending, &a, &b, 10).unwrap().len(),
            1
        );
        let v = store
            .db
            .get_cf(store.cf(CF_META), SCHEMA_KEY)
            .unwrap()
            .unwrap();
        assert_eq!(v.as_slice(), SCHEMA_VERSION.to_be_bytes());
    }

    proptest::proptest! {
        /// Records survive their stored layout unchanged, and any bytes at all decode to a
        /// record or a typed error, never a panic.
        #[test]
        fn records_round_trip_and_garbage_is_an_error(
            seq in 1u64..1_000_000,
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            steps in 0usize..4,
            ack in proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut m = msg("chain-1", "chain-2", seq);
            m.payload = payload;
            let mut r = MessageRecord::sent(m, seq, seq + 1);
            for i in 0..steps {
                let dst = r.message.destination.clone();
                r.advance(Status::ALL[i + 1], &dst, seq + i as u64, 9);
            }
            r.ack = ack.map(Acknowledgement::Success);
            proptest::prop_assert_eq!(MessageRecord::decode(&r.encode()).unwrap(), r.clone());
            let mut mutated = r.encode();
            mutated.extend_from_slice(&garbage);
            let _ = MessageRecord::decode(&mutated);
            let _ = MessageRecord::decode(&garbage);
            if !garbage.is_empty() {
                proptest::prop_assert!(MessageRecord::decode(&mutated).is_err());
            }
        }
    }

    #[test]
    fn signed_attestations_survive_reopening_and_old_ones_are_forgotten_below_a_floor() {
        use xrelay_light_client::evm::attest::Attestation;
        let dir = tempfile::tempdir().unwrap();
        let chain: ChainId = "anvil".parse().unwrap();
        let other: ChainId = "anvil-2".parse().unwrap();
        let at = |chain: &ChainId, height: u64| Attestation {
            chain_id: chain.clone(),
            height,
            block_hash: Hash32([height as u8; 32]),
            state_root: Hash32([1; 32]),
            time_ms: height * 1_000,
        };
        {
            let store = RelayStore::open(dir.path()).unwrap();
            assert_eq!(store.signed_attestation(&chain, 10).unwrap(), None);
            assert_eq!(store.signed_floor(&chain).unwrap(), 0);
            store.remember_signed(&at(&chain, 10), 100).unwrap();
            store.remember_signed(&at(&chain, 50), 100).unwrap();
            store.remember_signed(&at(&other, 10), 100).unwrap();
        }
        let store = RelayStore::open(dir.path()).unwrap();
        assert_eq!(
            store.signed_attestation(&chain, 10).unwrap(),
            Some(at(&chain, 10))
        );
        assert_eq!(
            store.signed_attestation(&chain, 50).unwrap(),
            Some(at(&chain, 50))
        );
        assert_eq!(store.signed_attestation(&chain, 11).unwrap(), None);
        // 100 heights above 10, the record of 10 goes and the floor says so; the other
        // chain's records are its own.
        store.remember_signed(&at(&chain, 111), 100).unwrap();
        assert_eq!(store.signed_floor(&chain).unwrap(), 11);
        assert_eq!(store.signed_attestation(&chain, 10).unwrap(), None);
        assert_eq!(
            store.signed_attestation(&chain, 50).unwrap(),
            Some(at(&chain, 50))
        );
        assert_eq!(
            store.signed_attestation(&other, 10).unwrap(),
            Some(at(&other, 10))
        );
        assert_eq!(store.signed_floor(&other).unwrap(), 0);
        // A lower height later does not lower the floor; the newest height is always kept.
        store.remember_signed(&at(&chain, 60), 100).unwrap();
        assert_eq!(store.signed_floor(&chain).unwrap(), 11);
        store.remember_signed(&at(&chain, u64::MAX), 0).unwrap();
        assert_eq!(
            store.signed_attestation(&chain, u64::MAX).unwrap(),
            Some(at(&chain, u64::MAX))
        );
        assert_eq!(store.signed_attestation(&chain, 111).unwrap(), None);
        // Old relayers' keys are untouched: the frozen list and counters read as before.
        assert!(store.frozen().unwrap().is_empty());
        assert!(store.counts().unwrap().is_empty());
    }
}
