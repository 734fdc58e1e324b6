//! Where derived state lives: a sled 0.34 database in `LEDGER/sled`, opened only by the writer
//! (sled takes an exclusive lock on its files and has no read-only mode). It holds bytes under
//! keys, written in bounded batches; the layout of those keys is [`super`]'s.
//!
//! Everything in it can be rebuilt from the log, so a database that sled cannot open (damaged,
//! cut short, missing files) is set aside and started afresh rather than reported: the caller
//! then rebuilds it. It never holds the canonical entry bytes.

use crate::lock::{deadline_after, lock_before};
use crate::log::Head;
use crate::state::{encode, StateKey};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A stored key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// A write of derived state: `None` removes the key.
pub type StateWrite = (Vec<u8>, Option<Vec<u8>>);

/// Keys written per sled batch: sled keeps every node a batch touches in memory until the batch
/// is applied, so a large change is written in steps of this size.
const BATCH_KEYS: usize = 8192;

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
        std::fs::remove_dir_all(&path).map_err(io)?;
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

    /// Writes `writes` and then the record of what the state now covers. A large write goes in
    /// bounded batches; the covered record is removed before the first and written with the
    /// last, so that a crash in between leaves a state that says it covers nothing (and is
    /// rebuilt), never one that claims more than it holds.
    pub fn write(&self, writes: &[StateWrite], covered: &Head) -> Result<(), DbError> {
        let covered_key = StateKey::Covered.bytes();
        let mut chunks = writes.chunks(BATCH_KEYS).peekable();
        if writes.len() > BATCH_KEYS {
            self.db.remove(&covered_key).map_err(|e| self.err(e))?;
        }
        loop {
            let mut batch = sled::Batch::default();
            let chunk = chunks.next().unwrap_or_default();
            for (key, value) in chunk {
                match value {
                    Some(value) => batch.insert(key.as_slice(), value.as_slice()),
                    None => batch.remove(key.as_slice()),
                }
            }
            let last = chunks.peek().is_none();
            if last {
                batch.insert(covered_key.as_slice(), encode(covered));
            }
            self.db.apply_batch(batch).map_err(|e| self.err(e))?;
            if last {
                break;
            }
        }
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
        // Close the files before removing them.
        self.db = fresh.db;
        std::fs::remove_dir_all(&path).map_err(|source| DbError::Io {
            dir: path.clone(),
            source,
        })?;
        self.db = config(&path).open().map_err(|source| DbError::Database {
            dir: path.clone(),
            source,
        })?;
        Ok(())
    }
}

fn config(path: &Path) -> sled::Config {
    // Every write flushes itself, so sled's background flusher is not needed; without it sled
    // releases its file lock as soon as the last handle drops (spacejam/sled#1289).
    sled::Config::new()
        .path(path)
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(None)
}
