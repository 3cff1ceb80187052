//! The database: [`RelayStore`] over RocksDB, its column families (`meta`, `messages`,
//! `by_status`, `ids`, `cursors`, `clients`) and their keys, [`Transition`]s (one atomic
//! `WriteBatch` each), the status index with its scan hints, lane counters, scan cursors
//! and the relayer's light clients. Separate from the record layout (`super::record`), the
//! schema upgrades (`super::migrate`) and the safety records (`super::safety`), which
//! add their own `impl RelayStore` blocks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use xrelay_light_client::evm::client::EvmClientState;
use xrelay_light_client::{ChainId, ClientState, Decode, Encode, Height, MessageId};

use super::record::{decode_record, MessageRecord, Status};
use super::StoreError;

pub(super) const CF_META: &str = "meta";
pub(super) const CF_MESSAGES: &str = "messages";
pub(super) const CF_BY_STATUS: &str = "by_status";
pub(super) const CF_IDS: &str = "ids";
pub(super) const CF_CURSORS: &str = "cursors";
pub(super) const CF_CLIENTS: &str = "clients";
const COUNT_PREFIX: &[u8] = b"count\0";

/// A set of changes applied together.
#[derive(Default)]
pub struct Transition {
    pub(super) batch: WriteBatch,
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
    pub(super) db: DB,
    hints: Mutex<HashMap<Vec<u8>, ScanHint>>,
}

pub(super) fn message_key(source: &ChainId, destination: &ChainId, sequence: u64) -> Vec<u8> {
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
        store.upgrade_on_open()?;
        Ok(store)
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
        store.check_schema_read_only()?;
        Ok(store)
    }

    /// A column family's handle.
    pub(super) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
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

fn evm_client_key(chain: &ChainId) -> String {
    format!("evm/{chain}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::tests::msg;

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
}
