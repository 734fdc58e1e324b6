//! Storage behind a narrow trait: append a batch of entries with the derived state that goes with
//! them, atomically and durably; read entries by seq or in order; read derived state by key.
//! [`SledStore`] is the one engine: a sled database in `DIR/sled`, guarded by an exclusive lock
//! on `DIR/ledger.lock`.
//!
//! A store holds bytes. It never knows what an incident or a key is, and never judges an entry.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("there is no ledger at {dir}; create one with `ledger init`, or point --ledger (or LEDGER_DIR) at an existing one")]
    NoLedger { dir: PathBuf },
    #[error("{dir} already holds files; `ledger init` needs a new or empty directory")]
    NotEmpty { dir: PathBuf },
    #[error(
        "the ledger at {dir} is in use by another process; try again later or pass --wait SECONDS"
    )]
    InUse { dir: PathBuf },
    #[error("I/O error on the ledger at {dir}: {cause}")]
    Io { dir: PathBuf, cause: std::io::Error },
    #[error("the ledger's database at {dir} cannot be read: {reason}")]
    Database { dir: PathBuf, reason: String },
}

pub type StoreResult<T> = Result<T, StoreError>;
pub type EntryIter<'a> = Box<dyn Iterator<Item = StoreResult<(u64, StoredBytes)>> + 'a>;

/// An entry's bytes as the store holds them, shared rather than copied: a scan of a large log
/// copies only what its reader keeps.
#[derive(Clone)]
pub struct StoredBytes(sled::IVec);

impl std::ops::Deref for StoredBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A write of derived state: `None` removes the key.
pub type StateWrite = (Vec<u8>, Option<Vec<u8>>);

/// `Sync` so that readers can scan parts of the log in parallel.
pub trait Store: Sync {
    /// The stored bytes of the entry at `seq`.
    fn entry(&self, seq: u64) -> StoreResult<Option<Vec<u8>>>;
    /// Entries in ascending seq from `from`, each with the seq it is stored under.
    fn entries(&self, from: u64) -> EntryIter<'_>;
    /// The entry stored under the highest seq.
    fn last_entry(&self) -> StoreResult<Option<(u64, Vec<u8>)>>;
    fn state(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;
    /// Derived-state pairs whose key starts with `prefix`, in key order.
    fn state_with_prefix(&self, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Writes entries and state together: all or nothing, and durable before it returns.
    fn commit(&self, entries: &[(u64, Vec<u8>)], state: &[StateWrite]) -> StoreResult<()>;
}

const ENTRY_PREFIX: u8 = b'e';
const STATE_PREFIX: u8 = b's';

/// The sled key of the entry at `seq`: `e` and the seq as 8 big-endian bytes, so that key order
/// is seq order. Documented in docs/FORMAT.md for people who inspect a database by hand.
pub fn sled_entry_key(seq: u64) -> [u8; 9] {
    let mut key = [ENTRY_PREFIX; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn state_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(STATE_PREFIX);
    out.extend_from_slice(key);
    out
}

pub struct SledStore {
    dir: PathBuf,
    db: sled::Db,
    // Held for the store's lifetime: dropping it releases the lock.
    _lock: File,
}

/// The sled database directory inside a ledger directory.
pub fn sled_dir(dir: &Path) -> PathBuf {
    dir.join("sled")
}

/// Waits until nobody holds the `flock` sled 0.34 takes on its `db` file, or until `deadline`.
/// Returns whether the lock is free; a database not yet created is free.
fn await_sled_lock(db_file: &Path, deadline: Instant) -> std::io::Result<bool> {
    let file = match std::fs::OpenOptions::new().write(true).open(db_file) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    loop {
        match file.try_lock() {
            Ok(()) => return file.unlock().map(|()| true),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

impl SledStore {
    /// Creates a new, empty ledger directory and opens it.
    pub fn create(dir: &Path) -> StoreResult<SledStore> {
        let io = |cause| StoreError::Io {
            dir: dir.to_path_buf(),
            cause,
        };
        if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(StoreError::NotEmpty {
                dir: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        SledStore::open_inner(dir, Duration::ZERO)
    }

    /// Opens an existing ledger, waiting up to `wait` for another process to release it.
    pub fn open(dir: &Path, wait: Duration) -> StoreResult<SledStore> {
        if !sled_dir(dir).is_dir() {
            return Err(StoreError::NoLedger {
                dir: dir.to_path_buf(),
            });
        }
        SledStore::open_inner(dir, wait)
    }

    fn open_inner(dir: &Path, wait: Duration) -> StoreResult<SledStore> {
        let io = |cause| StoreError::Io {
            dir: dir.to_path_buf(),
            cause,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("ledger.lock"))
            .map_err(io)?;
        let deadline = Instant::now() + wait;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::InUse {
                        dir: dir.to_path_buf(),
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // Every commit flushes and fsyncs itself, so sled's background flusher is not needed; and
        // without it sled releases its own file lock as soon as the last handle drops (a flusher
        // thread can hold it a moment longer: spacejam/sled#1289).
        let config = sled::Config::new()
            .path(sled_dir(dir))
            .cache_capacity(256 * 1024 * 1024)
            .flush_every_ms(None);
        // We hold ledger.lock, so whoever still holds sled's own lock is a handle of this process
        // being released (a reopen right after a drop). sled reports that only as an error with
        // kind `Other`, so the lock is awaited here, before sled tries it.
        let sled_deadline = deadline.max(Instant::now() + Duration::from_secs(2));
        if !await_sled_lock(&sled_dir(dir).join("db"), sled_deadline).map_err(io)? {
            return Err(StoreError::InUse {
                dir: dir.to_path_buf(),
            });
        }
        let db = config.open().map_err(|e| StoreError::Database {
            dir: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            db,
            _lock: lock,
        })
    }

    fn io(&self, cause: std::io::Error) -> StoreError {
        StoreError::Io {
            dir: self.dir.clone(),
            cause,
        }
    }

    fn db_err(&self, e: sled::Error) -> StoreError {
        match e {
            sled::Error::Io(cause) => StoreError::Io {
                dir: self.dir.clone(),
                cause,
            },
            other => StoreError::Database {
                dir: self.dir.clone(),
                reason: other.to_string(),
            },
        }
    }

    /// sled's flush writes its log but does not fsync every file it depends on; sync them all,
    /// and the directories that name them, before an append is acknowledged.
    fn sync_files(&self) -> StoreResult<()> {
        fn sync_tree(path: &Path) -> std::io::Result<()> {
            for item in std::fs::read_dir(path)? {
                let item = item?;
                let synced = if item.file_type()?.is_dir() {
                    sync_tree(&item.path())
                } else {
                    File::open(item.path()).and_then(|f| f.sync_all())
                };
                match synced {
                    // sled removes old snapshot and segment files as it goes: a file listed a
                    // moment ago and gone now holds nothing that needs syncing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => other?,
                }
            }
            File::open(path)?.sync_all()
        }
        sync_tree(&sled_dir(&self.dir)).map_err(|e| self.io(e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(e))
    }
}

fn entry_seq(key: &[u8]) -> Option<u64> {
    match key {
        [ENTRY_PREFIX, seq @ ..] => Some(u64::from_be_bytes(seq.try_into().ok()?)),
        _ => None,
    }
}

impl Store for SledStore {
    fn entry(&self, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get(sled_entry_key(seq))
            .map_err(|e| self.db_err(e))?
            .map(|v| v.to_vec()))
    }

    fn entries(&self, from: u64) -> EntryIter<'_> {
        let iter = self
            .db
            .range(sled_entry_key(from)..=sled_entry_key(u64::MAX));
        Box::new(iter.map(move |item| {
            let (key, value) = item.map_err(|e| self.db_err(e))?;
            let seq = entry_seq(&key).ok_or_else(|| StoreError::Database {
                dir: self.dir.clone(),
                reason: format!(
                    "an entry is stored under a malformed key {}",
                    hex::encode(&key)
                ),
            })?;
            Ok((seq, StoredBytes(value)))
        }))
    }

    fn last_entry(&self) -> StoreResult<Option<(u64, Vec<u8>)>> {
        let last = self
            .db
            .range(sled_entry_key(0)..=sled_entry_key(u64::MAX))
            .next_back();
        match last {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|e| self.db_err(e))?;
                Ok(entry_seq(&key).map(|seq| (seq, value.to_vec())))
            }
        }
    }

    fn state(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get(state_key(key))
            .map_err(|e| self.db_err(e))?
            .map(|v| v.to_vec()))
    }

    fn state_with_prefix(&self, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.db
            .scan_prefix(state_key(prefix))
            .map(|item| {
                let (key, value) = item.map_err(|e| self.db_err(e))?;
                Ok((key[1..].to_vec(), value.to_vec()))
            })
            .collect()
    }

    fn commit(&self, entries: &[(u64, Vec<u8>)], state: &[StateWrite]) -> StoreResult<()> {
        let mut batch = sled::Batch::default();
        for (seq, bytes) in entries {
            batch.insert(&sled_entry_key(*seq), bytes.as_slice());
        }
        for (key, value) in state {
            match value {
                Some(value) => batch.insert(state_key(key), value.as_slice()),
                None => batch.remove(state_key(key)),
            }
        }
        self.db.apply_batch(batch).map_err(|e| self.db_err(e))?;
        self.db.flush().map_err(|e| self.db_err(e))?;
        self.sync_files()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reopen right after a drop can find sled's `flock` still held by the handle being
    /// released; the open must wait for it rather than fail.
    #[test]
    fn open_waits_for_a_sled_lock_that_is_being_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        drop(SledStore::create(&dir).unwrap());

        let lingering = File::options()
            .write(true)
            .open(sled_dir(&dir).join("db"))
            .unwrap();
        lingering.lock().unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(lingering);
        });

        let reopened = SledStore::open(&dir, Duration::ZERO);
        release.join().unwrap();
        assert!(
            reopened.is_ok(),
            "{:?}",
            reopened.err().map(|e| e.to_string())
        );
    }
}
