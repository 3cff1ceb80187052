//! The store's schema version and the upgrade of older stores, run on every open: a store
//! of schema 1 (JSON message records) is rewritten in the binary layout in place, one of
//! schema 2 (records without the content-proven flag, which decode as schema 3) only gets
//! the new version, any other version is refused; a read-only open refuses all but the
//! current one. Apart from the database so the history of layouts stays in one place.

use rocksdb::{IteratorMode, WriteBatch};
use xrelay_light_client::Encode;

use super::db::{RelayStore, CF_MESSAGES, CF_META};
use super::record::MessageRecord;
use super::StoreError;

/// Bumped when the layout changes; a store of another version is refused, except
/// version 1 (JSON message records), which opening migrates in place, and version 2, whose
/// records are version-3 records without the content-proven flag (only the version key is
/// rewritten).
pub const SCHEMA_VERSION: u32 = 3;

/// The `meta` key of the schema version (a big-endian `u32`).
pub(super) const SCHEMA_KEY: &[u8] = b"schema_version";

impl RelayStore {
    /// Checks the schema version of a store just opened for writing: records it in a new
    /// store, upgrades a schema-1 or schema-2 store, refuses any other version.
    pub(super) fn upgrade_on_open(&self) -> Result<(), StoreError> {
        match self.db.get_cf(self.cf(CF_META), SCHEMA_KEY)? {
            Some(v) => {
                let found = u32::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                    StoreError::Corrupt {
                        what: "schema version",
                        why: format!("{} bytes", v.len()),
                    }
                })?);
                if found == 1 {
                    self.migrate_json_records()?;
                } else if found == 2 {
                    self.db
                        .put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes())?;
                    tracing::info!("store migrated from schema 2 to 3 (no record rewritten)");
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => self
                .db
                .put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes())?,
        }
        Ok(())
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

    /// Checks the schema version of a store opened for reading only (which cannot be
    /// upgraded): anything but the current version is refused.
    pub(super) fn check_schema_read_only(&self) -> Result<(), StoreError> {
        if let Some(v) = self.db.get_cf(self.cf(CF_META), SCHEMA_KEY)? {
            let found = v.as_slice().try_into().map(u32::from_be_bytes).unwrap_or(0);
            if found != SCHEMA_VERSION {
                return Err(StoreError::Schema {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::message_key;
    use crate::store::record::tests::msg;
    use crate::store::Status;
    use xrelay_light_client::{Acknowledgement, ChainId};

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
}
