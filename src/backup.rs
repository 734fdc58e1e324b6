//! Backups: one portable file holding a ledger's canonical entries in the log files' own framing
//! and the head they end at (docs/FORMAT.md, "Backup files"), written from a reader and streamed
//! in bounded memory; and restore, which rebuilds a ledger from such a file. It also owns the
//! one way entries from elsewhere enter a new log ([`copy_audited`], shared with
//! [`crate::legacy`]'s upgrade): every entry is audited as `verify` does on its way into the
//! log, and the head is committed only when the audit found no problem.
//!
//! A backup is never trusted: a file cut short, altered, or taken from a tampered ledger is
//! refused with the seq at fault, and a refused restore leaves no ledger behind. It never
//! writes into the ledger it backs up, and never restores over an existing one.

use crate::ledger::{LedgerError, LOG_DIR};
use crate::lock::WriterLock;
use crate::log::{
    DirFiles, Durable, Head, Log, LogError, LogFiles, LogResult, StoredBytes, HEAD_LEN,
};
use crate::schema::Schemas;
use crate::verify::{self, Problem, Report};
use crate::Ledger;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The first bytes of every backup file.
pub const BACKUP_TAG: &[u8] = b"ledger/backup\0";
pub const BACKUP_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("I/O error on {path}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a ledger backup: {reason}")]
    NotABackup { path: String, reason: String },
    #[error("the backup {path} is refused at seq {seq}: {reason}; nothing was restored")]
    Refused {
        path: String,
        seq: u64,
        reason: String,
    },
    #[error("the ledger holds no entries to back up")]
    Empty,
    #[error("{path} is inside the ledger directory {dir}; a backup is written elsewhere")]
    IntoLedger { path: PathBuf, dir: PathBuf },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl BackupError {
    /// Whether this is a problem found in the entries (a cut, altered or tampered backup, or a
    /// damaged ledger to back up), rather than a file that is no backup, or an I/O error.
    pub fn is_problem(&self) -> bool {
        match self {
            BackupError::Refused { .. } => true,
            BackupError::Log(e) => e.damaged_seqs().is_some(),
            _ => false,
        }
    }
}

/// Writes a backup of `ledger` up to the head it saw when it was opened into `out`, and returns
/// that head. A stretch of the log that cannot be read fails the backup with the seqs it holds.
pub fn write<F: LogFiles>(
    ledger: &Ledger<F>,
    out: &mut dyn Write,
    name: &str,
) -> Result<Durable, BackupError> {
    let durable = ledger.log().durable().ok_or(BackupError::Empty)?;
    let io = |source| BackupError::Io {
        path: name.to_string(),
        source,
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(BACKUP_TAG).map_err(io)?;
    out.write_all(&[BACKUP_VERSION]).map_err(io)?;
    // Entries appended after the head read above are not in this backup.
    let upto_head = |item: &LogResult<(u64, StoredBytes)>| {
        item.as_ref()
            .map_or(true, |(seq, _)| *seq <= durable.head.seq)
    };
    for item in ledger.log().entries(0).take_while(upto_head) {
        let (_, bytes) = item?;
        let len = u16::try_from(bytes.len()).unwrap_or_else(|_| {
            unreachable!("the log's framing holds at most 65,535 bytes per entry")
        });
        out.write_all(&len.to_be_bytes()).map_err(io)?;
        out.write_all(&bytes).map_err(io)?;
    }
    out.write_all(&0u16.to_be_bytes()).map_err(io)?;
    out.write_all(&durable.encode()).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(durable)
}

/// [`write`] into the file `path`: written beside it under a temporary name and renamed into
/// place once whole and durable, so that a backup cut short never has the name of a whole one.
/// A path inside the ledger directory is refused.
pub fn write_file(ledger: &Ledger, path: &Path) -> Result<Durable, BackupError> {
    let name = path.display().to_string();
    let io = |source| BackupError::Io {
        path: name.clone(),
        source,
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it names a directory, not a file",
        ))
    })?;
    if let Some(dir) = ledger.dir() {
        let (parent, dir) = (
            parent.canonicalize().map_err(io)?,
            dir.canonicalize().map_err(io)?,
        );
        if parent.starts_with(&dir) {
            return Err(BackupError::IntoLedger {
                path: path.to_path_buf(),
                dir,
            });
        }
    }
    let mut temp_name = file_name.to_os_string();
    temp_name.push(".partial");
    let temp = parent.join(temp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temp).map_err(io)?;
        let durable = write(ledger, &mut file, &name)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, path).map_err(io)?;
        crate::log::files::sync_dir(parent).map_err(io)?;
        Ok(durable)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Reads a backup as the log's entries from seq 0, in order. At what is wrong with the file's
/// framing (a cut anywhere, bytes after the end record) the entries end, and the problem is
/// kept for [`BackupReader::end_head`] to give instead of the end record.
pub struct BackupReader<R: Read> {
    input: R,
    name: String,
    next: u64,
    /// The end record, or what is wrong with the framing, once the entries have ended.
    end: Option<Result<Vec<u8>, Problem>>,
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl<R: Read> BackupReader<R> {
    /// Reads the backup's tag and version from `input` (named `name` in messages).
    pub fn new(mut input: R, name: &str) -> Result<Self, BackupError> {
        let mut header = vec![0; BACKUP_TAG.len() + 1];
        let read = read_full(&mut input, &mut header).map_err(|source| BackupError::Io {
            path: name.to_string(),
            source,
        })?;
        let not_a_backup = |reason: &str| BackupError::NotABackup {
            path: name.to_string(),
            reason: reason.to_string(),
        };
        if read < header.len() {
            return Err(not_a_backup(if BACKUP_TAG.starts_with(&header[..read]) {
                "it is cut short inside its header"
            } else {
                "it is too short to be one"
            }));
        }
        if !header.starts_with(BACKUP_TAG) {
            return Err(not_a_backup("it does not start with the backup tag"));
        }
        let version = header[BACKUP_TAG.len()];
        if version != BACKUP_VERSION {
            return Err(not_a_backup(&format!(
                "it has format version {version}, and this build reads version {BACKUP_VERSION}"
            )));
        }
        Ok(BackupReader {
            input,
            name: name.to_string(),
            next: 0,
            end: None,
        })
    }

    /// Ends the entries at a flaw in the framing, at the seq where it shows.
    fn damaged(&mut self, reason: String) -> Option<LogResult<(u64, StoredBytes)>> {
        self.end = Some(Err(Problem {
            seq: self.next,
            reason,
        }));
        None
    }

    fn failed(&mut self, source: io::Error) -> LogResult<(u64, StoredBytes)> {
        self.end = Some(Err(Problem {
            seq: self.next,
            reason: "the backup could not be read to its end".into(),
        }));
        Err(LogError::Io {
            file: self.name.clone(),
            source,
        })
    }

    /// The head the backup's end record names, once the entries have ended; or the flaw in
    /// the framing that ended them.
    fn end_head(&self) -> Result<Durable, Problem> {
        let at = |reason: String| Problem {
            seq: self.next,
            reason,
        };
        match &self.end {
            None => Err(at("the backup was not read to its end".into())),
            Some(Err(problem)) => Err(problem.clone()),
            Some(Ok(bytes)) => Durable::decode(bytes)
                .map_err(|reason| at(format!("the backup's end record is damaged: {reason}"))),
        }
    }
}

impl<R: Read> Iterator for BackupReader<R> {
    type Item = LogResult<(u64, StoredBytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.end.is_some() {
            return None;
        }
        let mut len = [0; 2];
        match read_full(&mut self.input, &mut len) {
            Err(e) => return Some(self.failed(e)),
            Ok(0) => {
                return self.damaged(
                    "the backup ends before this seq without its end record: it is cut short"
                        .into(),
                )
            }
            Ok(1) => {
                return self.damaged(
                    "the backup is cut short inside the length of the entry at this seq".into(),
                )
            }
            Ok(_) => {}
        }
        let len = usize::from(u16::from_be_bytes(len));
        if len == 0 {
            let mut end = vec![0; HEAD_LEN];
            let mut extra = [0; 1];
            let read = read_full(&mut self.input, &mut end)
                .and_then(|read| Ok((read, read_full(&mut self.input, &mut extra)?)));
            return match read {
                Err(e) => Some(self.failed(e)),
                Ok((read, _)) if read < HEAD_LEN => {
                    self.damaged("the backup is cut short inside its end record".into())
                }
                Ok((_, 1)) => self.damaged("bytes follow the backup's end record".into()),
                Ok(_) => {
                    self.end = Some(Ok(end));
                    None
                }
            };
        }
        let mut bytes = vec![0; len];
        match read_full(&mut self.input, &mut bytes) {
            Err(e) => Some(self.failed(e)),
            Ok(read) if read < len => self.damaged(format!(
                "the backup is cut short inside the entry at this seq: {read} of its {len} bytes are there"
            )),
            Ok(_) => {
                let seq = self.next;
                self.next += 1;
                Some(Ok((seq, StoredBytes::from(bytes))))
            }
        }
    }
}

/// How [`copy_audited`] ended, short of an I/O error.
pub(crate) enum Copied {
    /// The audit found nothing wrong and the head is committed.
    Committed(Report, Durable),
    /// The first problem found; nothing is committed.
    Refused(Problem),
}

/// Audits `entries` (a whole log from seq 0) exactly as `verify` does and pushes each into `log`
/// as it passes, then commits the head that `end` gives (`end` sees the entries' source after
/// the audit, and its report) only if the audit found no problem and the entries end there.
pub(crate) fn copy_audited<F: LogFiles, I: Iterator<Item = LogResult<(u64, StoredBytes)>>>(
    entries: &mut I,
    log: &Log<F>,
    schemas: &Schemas,
    end: impl FnOnce(&I, &Report) -> Result<Head, Problem>,
) -> Result<Copied, LogError> {
    let mut appender = log.appender()?;
    let mut pushed: LogResult<()> = Ok(());
    let mut too_long = None;
    let teed = entries.by_ref().map_while(|item| {
        if let Ok((seq, bytes)) = &item {
            if bytes.len() > usize::from(u16::MAX) {
                too_long = Some(Problem {
                    seq: *seq,
                    reason: format!(
                        "the entry is {} bytes, over the {} bytes the log files can frame",
                        bytes.len(),
                        u16::MAX
                    ),
                });
                return None;
            }
            if let Err(e) = appender.push(bytes) {
                pushed = Err(e);
                return None;
            }
        }
        Some(item)
    });
    let mut first = None;
    let (report, _) = verify::audit(teed, schemas, None, None, |problem| {
        first.get_or_insert_with(|| problem.clone());
        ControlFlow::Break(())
    })?;
    pushed?;
    // The first problem by seq: one the audit found, or one where the entries ended.
    let head = match (too_long.or(first), end(entries, &report)) {
        (Some(found), Err(ended)) if ended.seq <= found.seq => Err(ended),
        (Some(found), _) => Err(found),
        (None, ended) => ended,
    };
    let head = match head {
        Ok(head) => head,
        Err(problem) => return Ok(Copied::Refused(problem)),
    };
    if report.last_seq != Some(head.seq) || report.last_hash != Some(head.hash) {
        let found = match (report.last_seq, report.last_hash) {
            (Some(seq), Some(hash)) => format!("seq {seq} with hash {}", hex::encode(hash)),
            _ => "no entry".into(),
        };
        return Ok(Copied::Refused(Problem {
            seq: head.seq.min(report.last_seq.map_or(0, |seq| seq + 1)),
            reason: format!(
                "the head says the log ends at seq {} with hash {}, but its entries end at {found}: entries were removed, added or changed",
                head.seq,
                hex::encode(head.hash)
            ),
        }));
    }
    let durable = appender.commit(head)?;
    Ok(Copied::Committed(report, durable))
}

/// What a restore rebuilt.
#[derive(Debug)]
pub struct Restored {
    /// The audit of the restored entries.
    pub report: Report,
    pub head: Head,
}

/// Rebuilds a ledger in `dir` (new or empty) from the backup read from `input` (named `name` in
/// messages): every entry is audited on its way in, the head is committed only if the audit
/// found no problem and the backup's end record names the entries' end, and derived state is
/// then rebuilt. On any failure nothing is left in `dir`.
pub fn restore(input: impl Read, name: &str, dir: &Path) -> Result<Restored, BackupError> {
    let io = |source| BackupError::Io {
        path: dir.display().to_string(),
        source,
    };
    let existed = dir.exists();
    if existed && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(LedgerError::NotEmpty {
            dir: dir.to_path_buf(),
        }
        .into());
    }
    let mut reader = BackupReader::new(input, name)?;
    let schemas = Schemas::load().map_err(LedgerError::Schemas)?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let restored = (|| {
        let lock = WriterLock::take(dir, Duration::ZERO).map_err(LedgerError::from)?;
        let log_dir = dir.join(LOG_DIR);
        let files = DirFiles::writer(&log_dir).map_err(|source| BackupError::Io {
            path: log_dir.display().to_string(),
            source,
        })?;
        let log = Log::open(files)?;
        let mut end = None;
        let copied = copy_audited(&mut reader, &log, &schemas, |reader, _| {
            let durable = reader.end_head()?;
            end = Some(durable);
            Ok(durable.head)
        });
        let (report, durable) = match copied? {
            Copied::Committed(report, durable) => (report, durable),
            Copied::Refused(problem) => {
                return Err(BackupError::Refused {
                    path: name.to_string(),
                    seq: problem.seq,
                    reason: problem.reason,
                })
            }
        };
        if Some(durable) != end {
            return Err(BackupError::Refused {
                path: name.to_string(),
                seq: durable.head.seq,
                reason: "the backup's end record does not match the log its entries make".into(),
            });
        }
        drop(log);
        drop(lock);
        // Opening for writing finds no derived state and rebuilds it from the log.
        Ledger::open(dir, Duration::ZERO)?;
        Ok(Restored {
            report,
            head: durable.head,
        })
    })();
    if restored.is_err() {
        let _ = if existed {
            empty_dir(dir)
        } else {
            std::fs::remove_dir_all(dir)
        };
    }
    restored
}

/// Removes everything in `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> io::Result<()> {
    for item in std::fs::read_dir(dir)? {
        let path = item?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}
