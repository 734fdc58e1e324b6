//! Storage behind a narrow trait: append a batch of entries with the derived state that goes with
//! them, atomically and durably; read entries by seq or in order; read derived state by key, or
//! replace it whole. [`SledStore`] is the one engine: a sled database in `DIR/sled`, guarded by
//! an exclusive lock on `DIR/ledger.lock`; this module also owns waiting for file locks
//! ([`lock_before`]).
//!
//! A store holds bytes (the layout of derived-state keys is [`crate::state`]'s). It never knows what an incident or a key is, and never judges an entry.

use crate::state;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("there is no ledger at {dir}")]
    NoLedger { dir: PathBuf },
    #[error("{dir} already holds files; a ledger is created in a new or empty directory")]
    NotEmpty { dir: PathBuf },
    #[error("the ledger at {dir} is in use by another process")]
    InUse { dir: PathBuf },
    #[error("I/O error on the ledger at {dir}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the ledger's database at {dir} cannot be read")]
    Database {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("the ledger's database at {dir} is corrupted: its files do not read back as written")]
    Corrupted { dir: PathBuf },
    #[error("the ledger's database at {dir} holds an entry under the malformed key {key}")]
    MalformedKey { dir: PathBuf, key: String },
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
    /// Replaces all derived state with `state` at once, durably; entries are left alone.
    fn replace_state(&self, state: &[StateWrite]) -> StoreResult<()>;
}

const ENTRY_PREFIX: u8 = b'e';
/// The sled tree where projection states were kept before they moved to cache files.
const OLD_PROJECTION_TREE: &str = "projections";

/// The sled key of the entry at `seq`: `e` and the seq as 8 big-endian bytes, so that key order
/// is seq order. Documented in docs/FORMAT.md for people who inspect a database by hand.
pub fn sled_entry_key(seq: u64) -> [u8; 9] {
    let mut key = [ENTRY_PREFIX; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
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

/// Takes an exclusive `flock` on `file`, polling until `deadline` while another holder has it.
/// Returns whether the lock was taken (it is held until the file is closed or unlocked).
pub fn lock_before(file: &File, deadline: Instant) -> std::io::Result<bool> {
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Waits until nobody holds the `flock` sled 0.34 takes on its `db` file, or until `deadline`.
/// Returns whether the lock is free; a database not yet created is free.
pub fn await_sled_lock(db_file: &Path, deadline: Instant) -> std::io::Result<bool> {
    let file = match std::fs::OpenOptions::new().write(true).open(db_file) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    if lock_before(&file, deadline)? {
        file.unlock()?;
        return Ok(true);
    }
    Ok(false)
}

/// sled's errors as ours: its I/O errors as I/O errors, and its corruption report (whose text is
/// debug output: "Read corrupted data at file offset None backtrace ()") as a sentence.
fn database_error(dir: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(source) => StoreError::Io {
            dir: dir.to_path_buf(),
            source,
        },
        sled::Error::Corruption { .. } => StoreError::Corrupted {
            dir: dir.to_path_buf(),
        },
        source => StoreError::Database {
            dir: dir.to_path_buf(),
            source,
        },
    }
}

impl SledStore {
    /// Creates a new, empty ledger directory and opens it.
    pub fn create(dir: &Path) -> StoreResult<SledStore> {
        let io = |source| StoreError::Io {
            dir: dir.to_path_buf(),
            source,
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
        let io = |source| StoreError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("ledger.lock"))
            .map_err(io)?;
        // A wait too long to add to the clock is as good as waiting for ever.
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u64::from(u32::MAX)));
        if !lock_before(&lock, deadline).map_err(io)? {
            return Err(StoreError::InUse {
                dir: dir.to_path_buf(),
            });
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
        let db = config.open().map_err(|e| database_error(dir, e))?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            db,
            _lock: lock,
        })
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            dir: self.dir.clone(),
            source,
        }
    }

    fn db_err(&self, e: sled::Error) -> StoreError {
        database_error(&self.dir, e)
    }

    /// sled's flush writes its log but does not fsync every file it depends on; sync them all,
    /// and the directories that name them, before an append is acknowledged.
    fn apply_durably(&self, batch: sled::Batch) -> StoreResult<()> {
        self.db.apply_batch(batch).map_err(|e| self.db_err(e))?;
        self.db.flush().map_err(|e| self.db_err(e))?;
        self.sync_files()
    }

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
            let seq = entry_seq(&key).ok_or_else(|| StoreError::MalformedKey {
                dir: self.dir.clone(),
                key: hex::encode(&key),
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
                let seq = entry_seq(&key).ok_or_else(|| StoreError::MalformedKey {
                    dir: self.dir.clone(),
                    key: hex::encode(&key),
                })?;
                Ok(Some((seq, value.to_vec())))
            }
        }
    }

    fn state(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get(state::sled_key(key))
            .map_err(|e| self.db_err(e))?
            .map(|v| v.to_vec()))
    }

    fn state_with_prefix(&self, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.db
            .scan_prefix(state::sled_key(prefix))
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
                Some(value) => batch.insert(state::sled_key(key), value.as_slice()),
                None => batch.remove(state::sled_key(key)),
            }
        }
        self.apply_durably(batch)
    }

    fn replace_state(&self, state: &[StateWrite]) -> StoreResult<()> {
        let mut batch = sled::Batch::default();
        for item in self.db.scan_prefix([state::SLED_PREFIX]) {
            let (key, _) = item.map_err(|e| self.db_err(e))?;
            batch.remove(key);
        }
        for (key, value) in state {
            if let Some(value) = value {
                batch.insert(state::sled_key(key), value.as_slice());
            }
        }
        self.apply_durably(batch)?;
        // Ledgers made before the projection cache files kept projection states in this tree;
        // nothing reads it, and a rebuild of derived state is the time to let it go.
        if self
            .db
            .tree_names()
            .iter()
            .any(|n| n == OLD_PROJECTION_TREE.as_bytes())
        {
            self.db
                .drop_tree(OLD_PROJECTION_TREE)
                .map_err(|e| self.db_err(e))?;
        }
        Ok(())
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

    #[test]
    fn replacing_the_state_keeps_entries_and_drops_the_old_projection_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::create(&tmp.path().join("ledger")).unwrap();
        store
            .commit(
                &[(0, b"entry".to_vec())],
                &[(b"old".to_vec(), Some(vec![1]))],
            )
            .unwrap();
        store.db.open_tree(OLD_PROJECTION_TREE).unwrap();

        store
            .replace_state(&[(b"new".to_vec(), Some(vec![2]))])
            .unwrap();

        assert_eq!(
            store.state_with_prefix(b"").unwrap(),
            [(b"new".to_vec(), vec![2])]
        );
        assert_eq!(store.entry(0).unwrap().as_deref(), Some(&b"entry"[..]));
        assert!(!store
            .db
            .tree_names()
            .iter()
            .any(|n| n == OLD_PROJECTION_TREE.as_bytes()));
    }
}
