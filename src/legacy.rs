//! Ledgers made by releases up to 115e6d3, which kept the canonical entries in their sled
//! database (`LEDGER/sled`: key `e` then the seq as a big-endian `u64` → the entry bytes, and
//! `shead` → the bincode of the head): reading that layout, and [`upgrade`], which moves such a
//! ledger to the log files.
//!
//! An upgrade audits the old entries as `verify` does on their way into the new log and refuses
//! a ledger with any problem; it removes the old database only once the new log verifies with
//! the old head's hash. A kill at any point leaves either the old ledger, which `upgrade` takes
//! up again, or the new one. It never writes to the old database.

use crate::backup::{copy_audited, Copied};
use crate::ledger::{LedgerError, LOG_DIR};
use crate::lock::{LockError, WriterLock};
use crate::log::files::{sync_dir, HEAD_FILE};
use crate::log::{DirFiles, Head, Log, LogError, LogResult, StoredBytes};
use crate::schema::Schemas;
use crate::state::db::{sled_dir, DbError};
use crate::verify::{self, Problem, Report};
use crate::Ledger;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an upgrade moves the old database before removing it, once the new log is in place.
const OLD_DB_ASIDE: &str = "sled.old";
/// Where an upgrade writes the new log before renaming it to `log`.
const NEW_LOG_DIR: &str = "log.upgrade";
/// The old entry keys' first byte.
const ENTRY_PREFIX: u8 = b'e';
/// The old head record's key.
const HEAD_KEY: &[u8] = b"shead";

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("there is no ledger at {dir}")]
    NoLedger { dir: PathBuf },
    #[error(
        "the old ledger at {dir} does not verify at seq {seq}: {reason}; it was left as it was"
    )]
    Problem {
        dir: PathBuf,
        seq: u64,
        reason: String,
    },
    #[error("the old database at {dir} cannot be opened (sled stopped on its files)")]
    Unopenable { dir: PathBuf },
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl UpgradeError {
    /// Whether the old ledger's entries showed a problem (rather than I/O or a missing ledger).
    pub fn is_problem(&self) -> bool {
        matches!(self, UpgradeError::Problem { .. })
    }
}

/// Whether `dir` holds a ledger in the old layout (possibly one an upgrade was interrupted on).
pub fn is_old_layout(dir: &Path) -> bool {
    !dir.join(LOG_DIR).join(HEAD_FILE).is_file()
        && [sled_dir(dir), dir.join(OLD_DB_ASIDE)]
            .iter()
            .any(|db| db.join("db").is_file())
}

/// What [`upgrade`] did.
#[derive(Debug)]
pub enum Upgraded {
    /// The ledger was already in the current layout (an interrupted upgrade's leftovers removed).
    AlreadyCurrent,
    /// The ledger was moved; the report is the audit of its entries.
    Moved(Report),
}

/// The old database, open for reading its entries.
struct OldDb {
    path: PathBuf,
    db: sled::Db,
}

impl OldDb {
    fn open(path: &Path) -> Result<OldDb, UpgradeError> {
        // It is read once from end to end: a small cache does, where sled's default is 1 GiB.
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(None);
        let db = crate::state::db::open_quietly(&config)
            .ok_or_else(|| UpgradeError::Unopenable {
                dir: path.to_path_buf(),
            })?
            .map_err(|source| DbError::Database {
                dir: path.to_path_buf(),
                source,
            })?;
        Ok(OldDb {
            path: path.to_path_buf(),
            db,
        })
    }

    /// The old head record, if there is one that decodes.
    fn head(&self) -> Result<Option<Head>, DbError> {
        let record = self.db.get(HEAD_KEY).map_err(|source| DbError::Database {
            dir: self.path.clone(),
            source,
        })?;
        Ok(record.and_then(|bytes| bincode::deserialize(&bytes).ok()))
    }

    /// The old entries in seq order. A record that cannot be read ends them with a damaged
    /// stretch at the seq where it shows.
    fn entries(&self) -> impl Iterator<Item = LogResult<(u64, StoredBytes)>> + '_ {
        let mut next = 0u64;
        let mut failed = false;
        self.db.scan_prefix([ENTRY_PREFIX]).map_while(move |item| {
            if failed {
                return None;
            }
            let damaged = |reason: String| LogError::Damaged {
                file: self.path.display().to_string(),
                first: next,
                last: next,
                reason,
            };
            let read = match item {
                Err(e) => Err(damaged(format!("the old database cannot be read: {e}"))),
                Ok((key, value)) => match <[u8; 8]>::try_from(&key[1..]) {
                    Ok(seq) => Ok((u64::from_be_bytes(seq), StoredBytes::from(value.to_vec()))),
                    Err(_) => Err(damaged(format!(
                        "the old database holds an entry key of {} bytes",
                        key.len()
                    ))),
                },
            };
            match &read {
                Ok((seq, _)) => next = seq + 1,
                Err(_) => failed = true,
            }
            Some(read)
        })
    }
}

/// Moves the ledger at `dir` from the old layout to the log files, waiting up to `wait` for its
/// lock: the old entries are audited on their way into a new log written beside them, that log
/// is verified to end at the old head's hash, the old database is moved aside, the new log put
/// in place, the old database removed and the derived state rebuilt.
pub fn upgrade(dir: &Path, wait: Duration) -> Result<Upgraded, UpgradeError> {
    if !dir.is_dir() {
        return Err(UpgradeError::NoLedger {
            dir: dir.to_path_buf(),
        });
    }
    let lock = WriterLock::take(dir, wait)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UpgradeError::Io { path, source }
    };
    let aside = dir.join(OLD_DB_ASIDE);
    let current = sled_dir(dir);
    if dir.join(LOG_DIR).join(HEAD_FILE).is_file() {
        // A kill after the new log was put in place can leave the old database aside.
        if aside.exists() {
            std::fs::remove_dir_all(&aside).map_err(io(&aside))?;
            sync_dir(dir).map_err(io(dir))?;
        }
        return Ok(Upgraded::AlreadyCurrent);
    }
    let old_path = [&current, &aside]
        .into_iter()
        .find(|db| db.join("db").is_file())
        .ok_or_else(|| UpgradeError::NoLedger {
            dir: dir.to_path_buf(),
        })?
        .clone();
    let new_log = dir.join(NEW_LOG_DIR);
    if new_log.exists() {
        // What an interrupted upgrade wrote: it is written again from the old entries.
        std::fs::remove_dir_all(&new_log).map_err(io(&new_log))?;
    }
    let schemas = Schemas::load().map_err(LedgerError::Schemas)?;
    let refused = |problem: Problem| UpgradeError::Problem {
        dir: dir.to_path_buf(),
        seq: problem.seq,
        reason: problem.reason,
    };
    let written = (|| {
        let old = OldDb::open(&old_path)?;
        let old_head = old.head()?;
        let files = DirFiles::writer(&new_log).map_err(io(&new_log))?;
        let log = Log::open(files)?;
        let copied = copy_audited(&mut old.entries(), &log, &schemas, |_, report| {
            old_head.ok_or_else(|| Problem {
                seq: report.last_seq.unwrap_or(0),
                reason: "the old database has no head record that can be read".into(),
            })
        })?;
        let report = match copied {
            Copied::Committed(report, _) => report,
            Copied::Refused(problem) => return Err(refused(problem)),
        };
        drop(log);
        // The new log as any reader will see it: it must verify and end at the old head.
        let log = Log::open(DirFiles::reader(&new_log))?;
        let mut first = None;
        let check = verify::verify(log.entries(0), &schemas, log.head(), None, |problem| {
            first.get_or_insert_with(|| problem.clone());
            ControlFlow::Break(())
        })?;
        if let Some(problem) = first {
            return Err(refused(problem));
        }
        if check.last_hash != report.last_hash {
            return Err(refused(Problem {
                seq: report.last_seq.unwrap_or(0),
                reason: "the new log does not end with the old head's hash".into(),
            }));
        }
        Ok(report)
    })();
    let report = match written {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&new_log);
            return Err(e);
        }
    };
    // From here each step leaves either the old ledger (its database in `sled` or aside, which
    // `is_old_layout` and a new upgrade find) or the new one (`log/head` in place).
    if old_path == current {
        std::fs::rename(&current, &aside).map_err(io(&current))?;
        sync_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&new_log, dir.join(LOG_DIR)).map_err(io(&new_log))?;
    sync_dir(dir).map_err(io(dir))?;
    std::fs::remove_dir_all(&aside).map_err(io(&aside))?;
    sync_dir(dir).map_err(io(dir))?;
    drop(lock);
    // Opening for writing finds no derived state and rebuilds it from the new log.
    Ledger::open(dir, wait)?;
    Ok(Upgraded::Moved(report))
}
