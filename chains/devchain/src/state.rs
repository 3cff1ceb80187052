//! Key-value state as the message module sees it: reads from a committed version plus the
//! writes of the block and of the transaction in progress. A transaction that fails leaves
//! no write behind (its overlay is dropped), so bad input changes nothing.

use std::collections::BTreeMap;

/// Pending writes by key: `Some(value)` sets, `None` deletes.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A storage failure below the module (disk, corruption). Not a rule violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state storage: {0}")]
pub struct StorageError(pub String);

/// Read access to committed state.
pub trait StateRead {
    /// The value at `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
}

/// An in-memory committed state, for tests and genesis building.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl StateRead for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.get(key).cloned())
    }
}

impl MemoryState {
    /// Applies committed writes (`None` deletes).
    pub fn apply(&mut self, writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) {
        for (k, v) in writes {
            match v {
                Some(v) => self.0.insert(k, v),
                None => self.0.remove(&k),
            };
        }
    }
}

/// Pending writes over a base state. Reads see the writes first.
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    writes: Writes,
}

impl<'a> Overlay<'a> {
    /// No pending writes yet.
    pub fn new(base: &'a dyn StateRead) -> Self {
        Overlay {
            base,
            writes: BTreeMap::new(),
        }
    }

    /// An overlay that starts with `writes` already pending (a mempool's check state).
    pub fn with_writes(base: &'a dyn StateRead, writes: Writes) -> Self {
        Overlay { base, writes }
    }

    /// The value at `key`, pending writes first.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    /// Whether `key` has a value.
    pub fn has(&self, key: &[u8]) -> Result<bool, StorageError> {
        self.get(key).map(|v| v.is_some())
    }

    /// Sets `key`.
    pub fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// The pending writes, in key order (what a block commits to the state tree).
    pub fn into_writes(self) -> Writes {
        self.writes
    }

    /// Reads a big-endian `u64` (absent = 0).
    pub fn get_u64(&self, key: &[u8]) -> Result<u64, StorageError> {
        self.get_uint::<8>(key).map(u64::from_be_bytes)
    }

    /// Reads a big-endian `u128` (absent = 0).
    pub fn get_u128(&self, key: &[u8]) -> Result<u128, StorageError> {
        self.get_uint::<16>(key).map(u128::from_be_bytes)
    }

    fn get_uint<const N: usize>(&self, key: &[u8]) -> Result<[u8; N], StorageError> {
        match self.get(key)? {
            None => Ok([0; N]),
            Some(v) => v.try_into().map_err(|v: Vec<u8>| {
                StorageError(format!(
                    "value at {} has {} bytes, expected {N}",
                    String::from_utf8_lossy(key),
                    v.len()
                ))
            }),
        }
    }

    /// Writes a `u64` big-endian.
    pub fn set_u64(&mut self, key: Vec<u8>, v: u64) {
        self.set(key, v.to_be_bytes().to_vec());
    }

    /// Writes a `u128` big-endian; zero deletes the key (absent reads as zero).
    pub fn set_u128(&mut self, key: Vec<u8>, v: u128) {
        if v == 0 {
            self.delete(key);
        } else {
            self.set(key, v.to_be_bytes().to_vec());
        }
    }
}

/// Runs `f` on a child overlay of `parent`; keeps its writes only if it succeeds.
pub fn atomically<T, E>(
    parent: &mut Overlay<'_>,
    f: impl FnOnce(&mut Overlay<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let view = OverlayView(parent);
    let mut child = Overlay::new(&view);
    let out = f(&mut child)?;
    let writes = child.into_writes();
    parent.writes.extend(writes);
    Ok(out)
}

struct OverlayView<'a, 'b>(&'a Overlay<'b>);

impl StateRead for OverlayView<'_, '_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key)
    }
}
