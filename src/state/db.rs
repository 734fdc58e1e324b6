//! Where derived state lives: a sled 0.34 database in `LEDGER/sled`, opened only by the writer
//! (sled takes an exclusive lock on its files and has no read-only mode). It holds bytes under
//! keys, written in bounded batches; the layout of those keys is [`super`]'s.
//!
//! Everything in it can be rebuilt from the log, so a database that sled cannot open (damaged,
//! cut short, missing files) is set aside and started afresh rather than reported: the caller
//! then rebuilds it. It never holds the canonical entry bytes.

use crate::lock::{deadline_after, lock_before};
use crate::log::Head;
use crate::state::{covered_record, StateError, StateKey};
use rayon::iter::{ParallelBridge, ParallelIterator};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A stored key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// A write of derived state: `None` removes the key.
pub type StateWrite = (Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("I/O error on the ledger's derived state in {dir}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the ledger's derived state in {dir} cannot be read")]
    Database {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("the ledger's derived state in {dir} is in use by another process")]
    InUse { dir: PathBuf },
}

/// The sled database directory inside a ledger directory.
pub fn sled_dir(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("sled")
}

pub struct StateDb {
    /// `None` for a temporary database (tests).
    path: Option<PathBuf>,
    db: sled::Db,
}

/// Waits until nobody holds the `flock` sled 0.34 takes on its `db` file, or until `deadline`.
/// Returns whether the lock is free; a database not yet created is free.
fn await_sled_lock(db_file: &Path, deadline: Instant) -> std::io::Result<bool> {
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

/// Opens sled, turning the panics sled 0.34 raises on some damaged files (a missing or cut
/// `db`) into `None`, without printing them.
pub(crate) fn open_quietly(config: &sled::Config) -> Option<sled::Result<sled::Db>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
    std::panic::set_hook(hook);
    opened.ok()
}

impl StateDb {
    /// Opens (or creates) the derived state of the ledger at `ledger_dir`; the caller holds the
    /// writer's lock. Returns whether a database that could not be opened was started afresh.
    pub fn open(ledger_dir: &Path) -> Result<(StateDb, bool), DbError> {
        let path = sled_dir(ledger_dir);
        let io = |source| DbError::Io {
            dir: path.clone(),
            source,
        };
        // We hold the writer's lock, so whoever still holds sled's own lock is a handle of this
        // process being released (a reopen right after a drop): wait for it.
        if !await_sled_lock(&path.join("db"), deadline_after(Duration::from_secs(2))).map_err(io)? {
            return Err(DbError::InUse { dir: path });
        }
        match open_quietly(&config(&path)) {
            Some(Ok(db)) => {
                return Ok((
                    StateDb {
                        path: Some(path),
                        db,
                    },
                    false,
                ))
            }
            Some(Err(sled::Error::Io(source))) => return Err(io(source)),
            Some(Err(_)) | None => {}
        }
        remove_db_dir(&path).map_err(io)?;
        let db = config(&path).open().map_err(|source| DbError::Database {
            dir: path.clone(),
            source,
        })?;
        Ok((
            StateDb {
                path: Some(path),
                db,
            },
            true,
        ))
    }

    /// An empty database that lives as long as the handle (for ledgers kept in memory).
    pub fn temporary() -> Result<StateDb, DbError> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|source| DbError::Database {
                dir: PathBuf::from("(temporary)"),
                source,
            })?;
        Ok(StateDb { path: None, db })
    }

    fn err(&self, e: sled::Error) -> DbError {
        let dir = self.path.clone().unwrap_or_default();
        match e {
            sled::Error::Io(source) => DbError::Io { dir, source },
            source => DbError::Database { dir, source },
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self
            .db
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    /// Pairs whose key starts with `prefix`, in key order.
    pub fn with_prefix(&self, prefix: &[u8]) -> Result<Vec<Pair>, DbError> {
        self.db
            .scan_prefix(prefix)
            .map(|item| {
                let (key, value) = item.map_err(|e| self.err(e))?;
                Ok((key.to_vec(), value.to_vec()))
            })
            .collect()
    }

    /// The pair with the greatest key at or before `key`.
    pub fn at_or_before(&self, key: &[u8]) -> Result<Option<Pair>, DbError> {
        match self.db.range(..=key).next_back() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|e| self.err(e))?;
                Ok(Some((key.to_vec(), value.to_vec())))
            }
        }
    }

    /// The first key after `key`.
    pub fn key_after(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        use std::ops::Bound::{Excluded, Unbounded};
        match self.db.range::<&[u8], _>((Excluded(key), Unbounded)).next() {
            None => Ok(None),
            Some(item) => Ok(Some(item.map_err(|e| self.err(e))?.0.to_vec())),
        }
    }

    /// Writes `writes` (each key at most once) and then the record of what the state now
    /// covers. The covered record is removed before the first write and written after the last,
    /// so that an interrupted write leaves a state that says it covers nothing (and is rebuilt),
    /// never one that claims more than it holds; so does a write that fails part way, as when
    /// `writes` meets a damaged record. Keys are written one by one, not in a sled batch: a sled
    /// batch keeps every node it touches in memory until it is applied (once measured with a
    /// throwaway program: 2.5 GB for 750,000 incident records in batches of 8,192, 48 MB one at
    /// a time).
    pub fn write(
        &self,
        writes: impl IntoIterator<Item = Result<StateWrite, StateError>, IntoIter: Send>,
        covered: &Head,
    ) -> Result<(), StateError> {
        let covered_key = StateKey::Covered.bytes();
        self.db.remove(&covered_key).map_err(|e| self.err(e))?;
        // Each key is written once, so their order does not matter: sled takes them from all
        // cores at once.
        writes.into_iter().par_bridge().try_for_each(|write| {
            let (key, value) = write?;
            match value {
                Some(value) => self.db.insert(key, value),
                None => self.db.remove(key),
            }
            .map(|_| ())
            .map_err(|e| StateError::Db(self.err(e)))
        })?;
        self.db
            .insert(covered_key, covered_record(covered))
            .map_err(|e| self.err(e))?;
        // Derived state needs no fsync of its own: after a crash it is caught up from the log.
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Empties the database (before a rebuild): a new, empty one replaces it.
    pub fn clear(&mut self) -> Result<(), DbError> {
        let fresh = StateDb::temporary()?;
        let Some(path) = self.path.clone() else {
            *self = fresh;
            return Ok(());
        };
        // Close the files before removing them, and wait until sled has let go of them: sled
        // 0.34 may finish tearing a database down on a thread of its own, after the drop.
        self.db = fresh.db;
        let io = |source| DbError::Io {
            dir: path.clone(),
            source,
        };
        if !await_sled_lock(&path.join("db"), deadline_after(Duration::from_secs(10)))
            .map_err(io)?
        {
            return Err(DbError::InUse { dir: path });
        }
        remove_db_dir(&path).map_err(io)?;
        self.db = config(&path).open().map_err(|source| DbError::Database {
            dir: path.clone(),
            source,
        })?;
        Ok(())
    }
}

/// Removes the database directory at `path` so that a kill cannot leave it half removed: it is
/// renamed aside in one step, then removed: half of sled's files might be opened as a database
/// holding some older state. What a killed removal left aside goes the next time.
fn remove_db_dir(path: &Path) -> std::io::Result<()> {
    let aside = path.with_extension("removed");
    match std::fs::remove_dir_all(&aside) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    match std::fs::rename(path, &aside) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        renamed => renamed?,
    }
    std::fs::remove_dir_all(&aside)
}

fn config(path: &Path) -> sled::Config {
    // Every write flushes itself, so sled's background flusher is not needed; without it sled
    // releases its file lock as soon as the last handle drops (spacejam/sled#1289).
    sled::Config::new()
        .path(path)
        .cache_capacity(4 * 1024 * 1024)
        .flush_every_ms(None)
}
