//! The façade every caller goes through: create and open a ledger, append a batch of events
//! (validate → check rules → sign → chain → commit, all or nothing, durable before it returns),
//! and read entries back.
//!
//! A ledger is opened either for writing ([`Ledger::open`]: the writer's lock, and the derived
//! state in [`crate::state`] caught up with the log) or for reading ([`Ledger::open_read`]: the
//! log's files only, no lock, nothing written). Appends stream: a batch of any size is read,
//! checked, sealed and written in chunks, and becomes visible at once at its commit. It never
//! prints or parses command-line arguments.

use crate::entry::{entry_hash, Entry, EntryRef, ZERO_HASH};
use crate::event::{EventType, Role};
use crate::input::{EventInput, InputError};
use crate::keys::{PublicKey, SecretKey};
use crate::lock::{LockError, WriterLock};
use crate::log::{DirFiles, Log, LogError, LogFiles};
use crate::merkle::Hash;
use crate::payload::{Genesis, KeyEnrolled, KeyRevoked, Payload, PayloadError};
use crate::rules::{
    AdmitError, EvidenceRecord, IncidentRecord, KeyRecord, RuleState, RuleViolation, StateLookup,
};
use crate::schema::{PayloadRefusal, SchemaError, Schemas};
use crate::state::{self, DamagedState, DbError, StateDb, StateError, StateReader};
use crate::statement::{seal_all, Statement, MAX_PAYLOAD_BYTES, MAX_SEAL_BATCH};
use crate::time::Timestamp;
use crate::tree::proof::Proof;
use crate::tree::{audit::Audit, Tree, TreeError};
use crate::verify::{self, EntryProblem, Problem, Report};
use crate::DecodeError;
use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

pub use crate::log::Head;

/// The log's directory inside a ledger directory.
pub const LOG_DIR: &str = "log";

/// Events checked, sealed and written per step of an append: a whole number of seal batches,
/// so that a batch's seals do not depend on how it was chunked.
const APPEND_CHUNK: usize = 8 * MAX_SEAL_BATCH;

/// Why one event of a batch was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("unknown event type {0:?}; the types are: {types}", types = EventType::ALL.map(super::event::EventType::name).join(", "))]
    UnknownType(String),
    #[error("data is {0} bytes, over the limit of {MAX_PAYLOAD_BYTES}; large material is anchored by its hash instead")]
    TooLarge(usize),
    #[error("data is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error("incident {id} is reported twice in this batch{}", line.map(|l| format!(" (first on line {l})")).unwrap_or_default())]
    DuplicateInBatch { id: String, line: Option<usize> },
}

/// A refused event, named by its input line and type.
#[derive(Debug)]
pub struct Rejection {
    pub line: Option<usize>,
    pub event_type: String,
    pub refusal: Refusal,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if matches!(self.refusal, Refusal::UnknownType(_)) {
            write!(f, "{}", self.refusal)
        } else {
            write!(f, "{}: {}", self.event_type, self.refusal)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The batch is committed and acknowledged; only what is derived from it lags.
    #[error("the batch is in the log, up to seq {seq}, but what is derived from the log (its tree, rule state, keys) could not be brought up to date; the next command that writes does that from the log")]
    Behind {
        seq: u64,
        #[source]
        source: Box<LedgerError>,
    },
    #[error("there is no ledger at {dir}")]
    NoLedger { dir: PathBuf },
    #[error("{dir} already holds files; a ledger is created in a new or empty directory")]
    NotEmpty { dir: PathBuf },
    #[error("the ledger at {dir} was made by an older release of ledger, which kept its entries in a sled database")]
    OldLayout { dir: PathBuf },
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}; nothing was written")]
    Rejected(Box<Rejection>),
    #[error("the ledger is damaged at seq {seq}: {reason}")]
    Damaged { seq: u64, reason: String },
    #[error("the ledger is damaged at seq {seq}: {problem}")]
    DamagedEntry {
        seq: u64,
        problem: Box<EntryProblem>,
    },
    #[error("the ledger's derived state is damaged")]
    DamagedState(#[source] DamagedState),
    #[error("the schemas built into this program do not load")]
    Schemas(#[source] SchemaError),
    #[error("no active key is named {0}")]
    NoSuchKey(String),
    #[error("nothing to append")]
    EmptyBatch,
    #[error("the ledger was opened for reading only")]
    ReadOnly,
}

impl LedgerError {
    /// The seq of the entry at which the log itself is damaged, if that is what this is.
    pub fn damaged_seq(&self) -> Option<u64> {
        match self {
            LedgerError::Damaged { seq, .. } | LedgerError::DamagedEntry { seq, .. } => Some(*seq),
            LedgerError::Log(e) => e.damaged_seqs().map(|(first, _)| first),
            _ => None,
        }
    }
}

impl From<StateError> for LedgerError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Db(e) => LedgerError::Db(e),
            StateError::Damaged(e) => LedgerError::DamagedState(e),
        }
    }
}

fn undecodable(seq: u64, e: DecodeError) -> LedgerError {
    LedgerError::DamagedEntry {
        seq,
        problem: Box::new(EntryProblem::Undecodable(e)),
    }
}

/// Where an appended event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: Hash,
}

/// What only a ledger opened for writing has.
struct Writer {
    state: Mutex<StateDb>,
    /// An append failed after its commit ([`LedgerError::Behind`]): derived state lags the log
    /// until the next append catches it up.
    behind: std::sync::atomic::AtomicBool,
    /// `None` for a ledger in memory.
    _lock: Option<WriterLock>,
}

pub struct Ledger<F: LogFiles = DirFiles> {
    log: Log<F>,
    /// Opened on first use for a reader (which may never need it); at once for a writer.
    tree: OnceLock<Tree<F>>,
    writer: Option<Writer>,
    /// The ledger directory, for a ledger on disk.
    dir: Option<PathBuf>,
    /// Compiled on first use: appending and auditing need them, reading and projecting do not,
    /// and compiling them is part of every short command's time.
    schemas: OnceLock<Schemas>,
}

/// Where a ledger directory stands before it is opened: a ledger of this layout, one whose
/// head file is gone (damage, not another layout), one of the old layout, or none.
/// What a ledger keeps in its directory: its log, lock, derived state and tree, and the
/// checkpoints it signed (`cache/` is the projections', which open their own files).
fn own_paths(dir: &Path) -> [PathBuf; 6] {
    [
        dir.join(LOG_DIR),
        dir.join(crate::lock::LOCK_FILE),
        dir.join(state::KEYS_FILE),
        dir.join(crate::tree::tiles::TREE_DIR),
        dir.join(crate::checkpoints::CHECKPOINTS_DIR),
        state::db::sled_dir(dir),
    ]
}

/// Refuses a ledger directory whose own files or directories are symbolic links, which would
/// make the ledger read or write elsewhere.
fn no_links(dir: &Path) -> Result<(), LedgerError> {
    for path in own_paths(dir) {
        crate::inside::not_a_link(&path).map_err(|source| LedgerError::Io { path, source })?;
    }
    Ok(())
}

fn check_layout(dir: &Path) -> Result<(), LedgerError> {
    no_links(dir)?;
    let log_dir = dir.join(LOG_DIR);
    let head = log_dir.join(crate::log::files::HEAD_FILE);
    if head.is_file() {
        Ok(())
    } else if log_dir.is_dir() {
        Err(LedgerError::Log(LogError::Head {
            file: head.display().to_string(),
            reason: "it is missing".into(),
        }))
    } else if crate::legacy::is_old_layout(dir) {
        Err(LedgerError::OldLayout {
            dir: dir.to_path_buf(),
        })
    } else {
        Err(LedgerError::NoLedger {
            dir: dir.to_path_buf(),
        })
    }
}

fn load_schemas() -> Result<Schemas, LedgerError> {
    Schemas::load().map_err(LedgerError::Schemas)
}

/// Whether `dir` holds only what an `init` killed before its genesis was committed leaves:
/// a ledger's own files and directories, and no entry in its log. Such a directory is taken
/// up by the next `init` (its writer cuts the log's unacknowledged tail); anything else in
/// it, or any committed entry, makes it no place for a new ledger.
fn unfinished(dir: &Path) -> Result<bool, LedgerError> {
    let io = |source| LedgerError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let ours = own_paths(dir);
    for entry in std::fs::read_dir(dir).map_err(io)? {
        if !ours.contains(&entry.map_err(io)?.path()) {
            return Ok(false);
        }
    }
    Ok(Log::open(DirFiles::reader(&dir.join(LOG_DIR)))?.size() == 0)
}

impl Ledger<DirFiles> {
    /// Creates a ledger in a new or empty directory and writes its genesis entry (seq 0), signed
    /// by the admin key it names.
    pub fn create(
        dir: &Path,
        admin: &SecretKey,
        admin_name: &str,
        origin: &str,
    ) -> Result<(Self, Appended), LedgerError> {
        let schemas = load_schemas()?;
        let genesis = genesis_input(admin, admin_name, origin)?;
        // Check the genesis before creating anything, so that a refused one leaves no directory.
        Self::check(&schemas, &genesis).map_err(|refusal| Self::rejection(&genesis, refusal))?;
        let io = |source| LedgerError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let empty = !dir.exists() || std::fs::read_dir(dir).map_err(io)?.next().is_none();
        if !empty && !unfinished(dir)? {
            return Err(LedgerError::NotEmpty {
                dir: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let ledger = Self::open_writer(dir, Duration::ZERO, OnceLock::from(schemas))?;
        let genesis = ledger.append(admin, &[genesis])?;
        let genesis = genesis.into_iter().next().ok_or(LedgerError::EmptyBatch)?;
        Ok((ledger, genesis))
    }

    /// Opens a ledger for writing, waiting up to `wait` for another writer to finish, and
    /// brings its derived state up to the log's head.
    pub fn open(dir: &Path, wait: Duration) -> Result<Self, LedgerError> {
        check_layout(dir)?;
        Self::open_writer(dir, wait, OnceLock::new())
    }

    fn open_writer(
        dir: &Path,
        wait: Duration,
        schemas: OnceLock<Schemas>,
    ) -> Result<Self, LedgerError> {
        no_links(dir)?;
        let lock = WriterLock::take(dir, wait)?;
        let log_dir = dir.join(LOG_DIR);
        let files = DirFiles::writer(&log_dir).map_err(|source| LedgerError::Io {
            path: log_dir,
            source,
        })?;
        let (state, _) = StateDb::open(dir)?;
        let ledger = Ledger {
            log: Log::open(files)?,
            tree: OnceLock::new(),
            writer: Some(Writer {
                state: Mutex::new(state),
                behind: Default::default(),
                _lock: Some(lock),
            }),
            dir: Some(dir.to_path_buf()),
            schemas,
        };
        ledger.catch_up()?;
        ledger.tree()?;
        Ok(ledger)
    }

    /// Opens a ledger for reading: its log files only, read-only, with no lock. It sees the log
    /// up to the head committed when it opened, while a writer may go on appending.
    pub fn open_read(dir: &Path) -> Result<Self, LedgerError> {
        check_layout(dir)?;
        Ok(Ledger {
            log: Log::open(DirFiles::reader(&dir.join(LOG_DIR)))?,
            tree: OnceLock::new(),
            writer: None,
            dir: Some(dir.to_path_buf()),
            schemas: OnceLock::new(),
        })
    }
}

/// The genesis event of a new ledger.
fn genesis_input(
    admin: &SecretKey,
    admin_name: &str,
    origin: &str,
) -> Result<EventInput, LedgerError> {
    let admin_public_key = admin.public().to_string();
    event_input(&Payload::Genesis(Genesis {
        origin: origin.into(),
        admin_name: admin_name.into(),
        admin_public_key: admin_public_key.into(),
    }))
}

impl<F: LogFiles> Ledger<F> {
    /// A ledger on `files` (kept in memory, or failing on purpose, in tests), open for writing
    /// with its derived state rebuilt in a temporary database.
    pub fn with_files(files: F) -> Result<Self, LedgerError> {
        let ledger = Ledger {
            log: Log::open(files)?,
            tree: OnceLock::new(),
            writer: Some(Writer {
                state: Mutex::new(StateDb::temporary()?),
                behind: Default::default(),
                _lock: None,
            }),
            dir: None,
            schemas: OnceLock::new(),
        };
        ledger.catch_up()?;
        ledger.tree()?;
        Ok(ledger)
    }

    /// [`Ledger::with_files`] on empty files, with a genesis entry written.
    pub fn create_with(
        files: F,
        admin: &SecretKey,
        admin_name: &str,
        origin: &str,
    ) -> Result<(Self, Appended), LedgerError> {
        let ledger = Self::with_files(files)?;
        let genesis = ledger.append(admin, &[genesis_input(admin, admin_name, origin)?])?;
        let genesis = genesis.into_iter().next().ok_or(LedgerError::EmptyBatch)?;
        Ok((ledger, genesis))
    }

    pub fn log(&self) -> &Log<F> {
        &self.log
    }

    pub fn schemas(&self) -> Result<&Schemas, LedgerError> {
        if let Some(schemas) = self.schemas.get() {
            return Ok(schemas);
        }
        let loaded = load_schemas()?;
        Ok(self.schemas.get_or_init(|| loaded))
    }

    /// The ledger directory, for a ledger on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether this handle may append.
    pub fn is_writable(&self) -> bool {
        self.writer.is_some()
    }

    fn state(&self) -> Result<MutexGuard<'_, StateDb>, LedgerError> {
        let writer = self.writer.as_ref().ok_or(LedgerError::ReadOnly)?;
        Ok(writer.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn rejection(event: &EventInput, refusal: Refusal) -> LedgerError {
        LedgerError::Rejected(Box::new(Rejection {
            line: event.line,
            event_type: event.event_type.clone(),
            refusal,
        }))
    }

    fn check<'e>(schemas: &Schemas, event: &'e EventInput) -> Result<Payload<'e>, Refusal> {
        let event_type = EventType::parse(&event.event_type)
            .ok_or_else(|| Refusal::UnknownType(event.event_type.clone()))?;
        if event.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Refusal::TooLarge(event.payload.len()));
        }
        schemas
            .check(
                event_type,
                event_type.current_schema_version(),
                &event.payload,
            )
            .map_err(|refusal| match refusal {
                PayloadRefusal::Json(e) => Refusal::Json(e),
                PayloadRefusal::Schema(e) => Refusal::Schema(e),
                PayloadRefusal::Payload(e) => Refusal::Payload(e),
            })
    }

    /// The log's durable head: its last entry.
    pub fn head(&self) -> Option<Head> {
        self.log.head()
    }

    /// The log's tree, built or brought up to the log's head when first asked for.
    fn tree(&self) -> Result<&Tree<F>, LedgerError> {
        if let Some(tree) = self.tree.get() {
            return Ok(tree);
        }
        let opened = Tree::open(&self.log, self.is_writable())?;
        Ok(self.tree.get_or_init(|| opened))
    }

    /// The number of entries the log's Merkle tree covers: all of them.
    pub fn tree_size(&self) -> Result<u64, LedgerError> {
        Ok(self.tree()?.size())
    }

    /// The RFC 6962 tree head of the first `size` entries (`size` at most the log's size).
    pub fn tree_root(&self, size: u64) -> Result<Hash, LedgerError> {
        Ok(self.tree()?.root(size)?)
    }

    /// The hashes of C2SP tile `n` of level `level` in the tree of the first `size` entries.
    pub fn tree_tile(&self, level: u64, n: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        Ok(self.tree()?.tile(level, n, size)?)
    }

    /// The inclusion proof of the entry at `seq` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Proof, LedgerError> {
        Ok(self.tree()?.inclusion(seq, size)?)
    }

    /// The consistency proof from the tree of the first `from` entries to that of the first `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Proof, LedgerError> {
        Ok(self.tree()?.consistency(from, to)?)
    }

    /// The hash of the entry at `seq`, if the log reaches it and it decodes.
    fn hash_at(&self, seq: u64) -> Result<Option<Hash>, LedgerError> {
        Ok(self.log.entry(seq)?.map(|bytes| entry_hash(&bytes)))
    }

    /// Brings derived state up to the log's head: nothing to do when it covers the head, a fold
    /// of the entries after what it covers when it is behind, a rebuild from seq 0 otherwise
    /// (no state yet, state from another log, damaged state).
    fn catch_up(&self) -> Result<(), LedgerError> {
        let head = self.log.head();
        let covered = StateReader(&*self.state()?).covered().ok().flatten();
        if covered == head {
            return Ok(());
        }
        if let (Some(covered), Some(head)) = (covered, head) {
            if covered.seq < head.seq
                && self.hash_at(covered.seq).ok().flatten() == Some(covered.hash)
                && self.fold_into_state(covered.seq + 1, head).is_ok()
            {
                return Ok(());
            }
        }
        self.reindex().map(|_| ())
    }

    /// Folds the entries from `from` to `head` into derived state. Any entry that does not fold
    /// is an error: the caller rebuilds, which reports what is wrong.
    fn fold_into_state(&self, from: u64, head: Head) -> Result<(), LedgerError> {
        let state = self.state()?;
        let reader = StateReader(&state);
        let mut rules = RuleState::new(&reader);
        for item in self.log.entries(from) {
            let (seq, bytes) = item?;
            let entry = EntryRef::decode(&bytes).map_err(|e| undecodable(seq, e))?;
            let event_type =
                EventType::parse(entry.statement.event_type).ok_or(LedgerError::Damaged {
                    seq,
                    reason: "unknown event type".into(),
                })?;
            let payload = Payload::parse(event_type, entry.statement.payload).map_err(|e| {
                LedgerError::DamagedEntry {
                    seq,
                    problem: Box::new(EntryProblem::Payload(e)),
                }
            })?;
            rules
                .admit(seq, entry.recorded_at, &entry.statement.author, &payload)
                .map_err(|e| match e {
                    AdmitError::Violation(v) => LedgerError::Damaged {
                        seq,
                        reason: v.to_string(),
                    },
                    AdmitError::Lookup(e) => e.into(),
                    AdmitError::Inconsistent(e) => LedgerError::DamagedState(e.into()),
                })?;
        }
        state.write(state::writes(&state, rules.changes), &head)?;
        drop(state);
        self.save_keys(&head)
    }

    /// Writes the readers' copy of the keys (a ledger on disk only).
    fn save_keys(&self, head: &Head) -> Result<(), LedgerError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let keys = StateReader(&*self.state()?).keys()?;
        state::save_keys(dir, head, &keys).map_err(|source| LedgerError::Io {
            path: dir.join(state::KEYS_FILE),
            source,
        })
    }

    /// Appends a batch of events stated by `key`: every event or none, durable before it returns.
    pub fn append(
        &self,
        key: &SecretKey,
        events: &[EventInput],
    ) -> Result<Vec<Appended>, LedgerError> {
        let mut appended = Vec::with_capacity(events.len());
        self.append_stream(key, events.iter().cloned().map(Ok), |a| {
            appended.push(a);
        })?;
        Ok(appended)
    }

    /// Appends a batch of any size as it is read: events are checked, sealed, chained and
    /// written in chunks, each entry passed to `landed` as it is written, and the whole batch is
    /// committed at once at the end (or, on any error, none of it is).
    pub fn append_stream(
        &self,
        key: &SecretKey,
        events: impl IntoIterator<Item = Result<EventInput, InputError>>,
        mut landed: impl FnMut(Appended),
    ) -> Result<(), LedgerError> {
        // Derived state left behind by an earlier append of this process that failed after its
        // commit catches up first: rules are checked against all of the log.
        let writer = self.writer.as_ref().ok_or(LedgerError::ReadOnly)?;
        if writer.behind.load(std::sync::atomic::Ordering::SeqCst) {
            self.catch_up()?;
            writer
                .behind
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        let state = self.state()?;
        let head = self.log.head();
        let first_seq = match head {
            None => 0,
            Some(head) => head.seq.checked_add(1).ok_or(LedgerError::Damaged {
                seq: head.seq,
                reason: "the last entry has the highest seq there can be".into(),
            })?,
        };
        let mut appender = self.log.appender()?;
        let tree = self.tree()?;
        // A tree left behind by an earlier append that failed after its commit catches up first.
        tree.catch_up(&self.log)?;
        let mut leaves = tree.appender();
        let author = key.public();
        let stored = StateReader(&state);
        let mut rules = RuleState::new(&stored);
        let claimed_at = Timestamp::now();
        // The ledger's clock never runs backwards, even if the machine's does.
        let recorded_at = Timestamp(claimed_at.0.max(head.map_or(i64::MIN, |h| h.recorded_at)));
        let mut prev = head.map_or(ZERO_HASH, |h| h.hash);
        // The input line of each event of the batch, to name the first of two duplicates.
        // (4 bytes each, 0 for none: a million-event batch keeps 4 MB of them.)
        let mut lines: Vec<u32> = Vec::new();
        let mut events = events.into_iter();
        loop {
            let chunk = events
                .by_ref()
                .take(APPEND_CHUNK)
                .collect::<Result<Vec<EventInput>, InputError>>()?;
            if chunk.is_empty() {
                break;
            }
            let chunk_first = appender.next_seq();
            let schemas = self.schemas()?;
            let mut checked: Vec<Result<Payload, Refusal>> = chunk
                .par_iter()
                .map(|event| Self::check(schemas, event))
                .collect();
            // A payload that keeps its schema but not its type is named only when no event of
            // the chunk breaks a schema, as when the whole chunk was validated before any was typed.
            let refused = checked
                .iter()
                .position(|r| matches!(r, Err(refusal) if !matches!(refusal, Refusal::Payload(_))))
                .or_else(|| checked.iter().position(Result::is_err));
            if let Some(i) = refused {
                if let Err(refusal) = checked.swap_remove(i) {
                    return Err(Self::rejection(&chunk[i], refusal));
                }
            }
            let typed: Vec<Payload> = checked.into_iter().flatten().collect();
            for (i, (payload, event)) in typed.iter().zip(&chunk).enumerate() {
                lines.push(event.line.and_then(|l| u32::try_from(l).ok()).unwrap_or(0));
                rules
                    .admit(chunk_first + i as u64, recorded_at, &author, payload)
                    .map_err(|e| match e {
                        AdmitError::Violation(RuleViolation::DuplicateIncident { id, seq })
                            if seq >= first_seq =>
                        {
                            let line = lines[usize::try_from(seq - first_seq).unwrap_or(0)];
                            let line = (line > 0).then_some(line as usize);
                            Self::rejection(event, Refusal::DuplicateInBatch { id, line })
                        }
                        AdmitError::Violation(v) => Self::rejection(event, Refusal::Rule(v)),
                        AdmitError::Lookup(e) => e.into(),
                        AdmitError::Inconsistent(e) => LedgerError::DamagedState(e.into()),
                    })?;
            }
            let event_types: Vec<EventType> = typed.iter().map(Payload::event_type).collect();
            drop(typed);
            // The payload bytes move into their statements: no copy of the batch.
            let statements: Vec<Statement> = chunk
                .into_iter()
                .zip(event_types)
                .map(|(event, event_type)| Statement {
                    event_type: event_type.name().to_string(),
                    schema_version: event_type.current_schema_version(),
                    author,
                    claimed_at,
                    payload: event.payload,
                })
                .collect();
            let encoded: Vec<Vec<u8>> = statements.par_iter().map(Statement::encode).collect();
            let seals = seal_all(key, &encoded);
            for (i, ((statement, statement_bytes), seal)) in
                statements.into_iter().zip(encoded).zip(seals).enumerate()
            {
                let seq = chunk_first + i as u64;
                let bytes =
                    Entry::new(seq, recorded_at, prev, statement, statement_bytes, seal).encode();
                prev = entry_hash(&bytes);
                appender.push(&bytes)?;
                leaves.push(crate::merkle::leaf_hash(&bytes))?;
                landed(Appended { seq, hash: prev });
            }
        }
        let count = appender.next_seq() - first_seq;
        if count == 0 {
            return Err(LedgerError::EmptyBatch);
        }
        let new_head = Head {
            seq: first_seq + count - 1,
            hash: prev,
            recorded_at: recorded_at.0,
        };
        // The tree's new hashes are durable before the log's head counts them.
        leaves.make_durable()?;
        appender.commit(new_head)?;
        drop(lines);
        // Acknowledged from here on. Derived state (the tree, then the rule state) follows; if
        // this process dies first, or it fails (a full disk), the next writer catches it up from
        // the log, and the error says that the batch is in.
        let derived = (|| -> Result<(), LedgerError> {
            leaves.commit()?;
            state.write(state::writes(&state, rules.changes), &new_head)?;
            Ok(())
        })();
        drop(state);
        // Kept current even when no key changed, so that readers never scan the log for keys.
        let derived = derived.and_then(|()| self.save_keys(&new_head));
        derived.map_err(|source| {
            writer
                .behind
                .store(true, std::sync::atomic::Ordering::SeqCst);
            LedgerError::Behind {
                seq: new_head.seq,
                source: Box::new(source),
            }
        })
    }

    /// Enrols a public key under a name and role (a `key.enrolled` statement by an admin).
    pub fn enroll_key(
        &self,
        admin: &SecretKey,
        public: &PublicKey,
        name: &str,
        role: Role,
    ) -> Result<Appended, LedgerError> {
        let public_key = public.to_string();
        let payload = Payload::KeyEnrolled(KeyEnrolled {
            name: name.into(),
            role,
            public_key: public_key.into(),
        });
        self.append_one(admin, &payload)
    }

    /// Revokes the active key with this name (a `key.revoked` statement by an admin).
    pub fn revoke_key(
        &self,
        admin: &SecretKey,
        name: &str,
        reason: &str,
    ) -> Result<Appended, LedgerError> {
        let public = StateReader(&*self.state()?)
            .active_key_named(name)?
            .ok_or_else(|| LedgerError::NoSuchKey(name.to_string()))?;
        let public_key = public.to_string();
        let payload = Payload::KeyRevoked(KeyRevoked {
            name: name.into(),
            public_key: public_key.into(),
            reason: reason.into(),
        });
        self.append_one(admin, &payload)
    }

    /// Appends one event the caller has built as a typed payload.
    pub fn append_one(&self, key: &SecretKey, payload: &Payload) -> Result<Appended, LedgerError> {
        let appended = self.append(key, &[event_input(payload)?])?;
        appended.into_iter().next().ok_or(LedgerError::EmptyBatch)
    }

    /// Every key ever enrolled, in order of enrolment. A writer reads its derived state; a reader
    /// the keys file the writer leaves, checked against the log and brought up to its head.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, LedgerError> {
        if self.writer.is_some() {
            return Ok(StateReader(&*self.state()?).keys()?);
        }
        let Some(head) = self.log.head() else {
            return Ok(Vec::new());
        };
        let saved = self.dir.as_deref().and_then(state::load_keys);
        let (from, keys) = match saved {
            Some((covered, keys))
                if covered == head
                    || (covered.seq < head.seq
                        && self.hash_at(covered.seq).ok().flatten() == Some(covered.hash)) =>
            {
                (covered.seq + 1, keys)
            }
            _ => (0, Vec::new()),
        };
        let known = KnownKeys(keys);
        let mut rules = RuleState::new(&known);
        let mut changed = Vec::new();
        for item in self.log.entries(from) {
            let (seq, bytes) = item?;
            let entry = EntryRef::decode(&bytes).map_err(|e| undecodable(seq, e))?;
            let Some(event_type) = EventType::parse(entry.statement.event_type).filter(|t| {
                matches!(
                    t,
                    EventType::LedgerGenesis | EventType::KeyEnrolled | EventType::KeyRevoked
                )
            }) else {
                continue;
            };
            if let Ok(payload) = Payload::parse(event_type, entry.statement.payload) {
                // What does not admit is verify's to report; the names shown are what admits.
                let _ = rules.admit(seq, entry.recorded_at, &entry.statement.author, &payload);
            }
        }
        changed.extend(rules.changes.keys);
        let mut keys = known.0;
        for (public, record) in changed {
            match keys.iter_mut().find(|k| k.public_key == public.0) {
                Some(found) => *found = record,
                None => keys.push(record),
            }
        }
        keys.sort_by_key(|k| k.enrolled_seq);
        Ok(keys)
    }

    /// The reason the `key.revoked` entry at `revoked_seq` states, read from the log, which is
    /// the one place it is kept (a key's record keeps only the seq).
    pub fn revocation_reason(&self, revoked_seq: u64) -> Result<String, LedgerError> {
        let (entry, _) = self.entry(revoked_seq)?.ok_or(LedgerError::Damaged {
            seq: revoked_seq,
            reason: "the entry that revoked a key is missing from the log".into(),
        })?;
        match Payload::parse(EventType::KeyRevoked, &entry.statement.payload) {
            Ok(Payload::KeyRevoked(revoked)) => Ok(revoked.reason.into_owned()),
            _ => Err(LedgerError::Damaged {
                seq: revoked_seq,
                reason: "the entry that revoked a key is not a key.revoked statement".into(),
            }),
        }
    }

    /// The decoded entry at `seq` and its hash.
    pub fn entry(&self, seq: u64) -> Result<Option<(Entry, Hash)>, LedgerError> {
        match self.log.entry(seq)? {
            None => Ok(None),
            Some(bytes) => decode_stored(seq, &bytes).map(Some),
        }
    }

    /// The canonical bytes of the entry at `seq`.
    pub fn entry_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.log.entry(seq)?.map(crate::log::StoredBytes::into_vec))
    }

    /// Decoded entries in seq order from `from`, each with its hash.
    pub fn entries(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(Entry, Hash), LedgerError>> + '_ {
        self.log.entries(from).map(|item| {
            let (seq, bytes) = item?;
            decode_stored(seq, &bytes)
        })
    }

    /// The ledger's origin, from its genesis entry.
    pub fn origin(&self) -> Result<Option<String>, LedgerError> {
        let Some((genesis, _)) = self.entry(0)? else {
            return Ok(None);
        };
        match Payload::parse(EventType::LedgerGenesis, &genesis.statement.payload) {
            Ok(Payload::Genesis(genesis)) => Ok(Some(genesis.origin.into_owned())),
            Ok(_) => Ok(None),
            Err(e) => Err(LedgerError::DamagedEntry {
                seq: 0,
                problem: Box::new(EntryProblem::Payload(e)),
            }),
        }
    }

    /// The full audit (see [`crate::verify`]); each problem is passed to `on_problem` as found,
    /// and the audit stops early when it answers `Break`.
    pub fn verify(
        &self,
        on_problem: impl FnMut(&Problem) -> std::ops::ControlFlow<()>,
    ) -> Result<Report, LedgerError> {
        let mut tree =
            Audit::open(self.log.files(), self.log.size()).map_err(|source| TreeError::Io {
                file: crate::tree::tiles::TREE_DIR.into(),
                source,
            })?;
        Ok(verify::verify(
            self.log.entries(0),
            self.schemas()?,
            self.log.head(),
            Some(&mut tree),
            on_problem,
        )?)
    }

    /// Rebuilds all derived state from the log: audits it from seq 0 as `verify` does and, if
    /// it finds no problem, replaces the stored state with the rule state the audit folded. A
    /// log with any problem is refused with the first one.
    pub fn reindex(&self) -> Result<Reindexed, LedgerError> {
        let mut state = self.state()?;
        let mut first_problem = None;
        let head = self.log.head();
        let (report, changes) = verify::audit(
            self.log.entries(0),
            self.schemas()?,
            head,
            None,
            |problem| {
                first_problem = Some(problem.clone());
                std::ops::ControlFlow::Break(())
            },
        )?;
        if let Some(Problem { seq, reason }) = first_problem {
            return Err(LedgerError::Damaged { seq, reason });
        }
        state.clear()?;
        self.tree()?.rebuild(&self.log)?;
        if let Some(head) = head {
            state.write(state::writes(&state, changes), &head)?;
            drop(state);
            self.save_keys(&head)?;
        }
        Ok(Reindexed {
            entries: report.entries,
            keys: report.keys,
            incidents: report.incidents,
        })
    }
}

/// Key records known before a fold (a reader's saved copy); no incidents.
struct KnownKeys(Vec<KeyRecord>);

impl StateLookup for KnownKeys {
    type Error = std::convert::Infallible;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, Self::Error> {
        Ok(self.0.iter().find(|k| k.public_key == key.0).cloned())
    }
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, Self::Error> {
        Ok(self
            .0
            .iter()
            .find(|k| k.name == name && k.revoked_seq.is_none())
            .map(|k| PublicKey(k.public_key)))
    }
    fn incident(&self, _: &str) -> Result<Option<IncidentRecord>, Self::Error> {
        Ok(None)
    }
    fn evidence(&self, _: &[u8; 32]) -> Result<Option<EvidenceRecord>, Self::Error> {
        Ok(None)
    }
    fn keys(&self) -> Result<Vec<KeyRecord>, Self::Error> {
        Ok(self.0.clone())
    }
}

/// The input of an event built as a typed payload.
fn event_input(payload: &Payload) -> Result<EventInput, LedgerError> {
    let event_type = payload.event_type().name().to_string();
    match payload.to_bytes() {
        Ok(payload) => Ok(EventInput {
            line: None,
            event_type,
            payload,
        }),
        Err(e) => Err(LedgerError::Rejected(Box::new(Rejection {
            line: None,
            event_type,
            refusal: Refusal::Json(e),
        }))),
    }
}

/// What [`Ledger::reindex`] rebuilt its state from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reindexed {
    pub entries: u64,
    pub keys: usize,
    pub incidents: usize,
}

fn decode_stored(seq: u64, bytes: &[u8]) -> Result<(Entry, Hash), LedgerError> {
    let entry = Entry::decode(bytes).map_err(|e| undecodable(seq, e))?;
    Ok((entry, entry_hash(bytes)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::input::parse_events;
    use crate::log::mem::{at_every_fault, MemFiles};
    use crate::state::StateKey;
    use serde_json::json;

    fn admin_key() -> SecretKey {
        SecretKey::from_seed([1; 32], None)
    }

    fn investigator_key() -> SecretKey {
        SecretKey::from_seed([2; 32], None)
    }

    fn enrol_investigator<F: LogFiles>(ledger: &Ledger<F>) {
        ledger
            .enroll_key(
                &admin_key(),
                &investigator_key().public(),
                "inv",
                Role::Investigator,
            )
            .unwrap();
    }

    /// A new ledger in `dir/ledger` with its admin and an investigator enrolled as `inv`.
    pub(crate) fn with_investigator(dir: &Path) -> (Ledger, SecretKey, SecretKey) {
        let (ledger, _) =
            Ledger::create(&dir.join("ledger"), &admin_key(), "admin", "test").unwrap();
        enrol_investigator(&ledger);
        (ledger, admin_key(), investigator_key())
    }

    /// [`with_investigator`] kept in memory, with its files.
    pub(crate) fn in_memory() -> (Ledger<MemFiles>, MemFiles, SecretKey, SecretKey) {
        let files = MemFiles::new();
        let (ledger, _) =
            Ledger::create_with(files.clone(), &admin_key(), "admin", "test").unwrap();
        enrol_investigator(&ledger);
        (ledger, files, admin_key(), investigator_key())
    }

    /// Flips the byte `from_end` bytes before the end of the entry at `seq` (in segment 0),
    /// behind the log's back.
    pub(crate) fn flip_byte_of_entry(files: &MemFiles, seq: u64, from_end: usize) {
        let mut bytes = files.segment(0).unwrap();
        let mut at = 0;
        for _ in 0..seq {
            at += 2 + usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        }
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        bytes[at + 2 + len - from_end] ^= 1;
        files.set_segment(0, bytes);
    }

    /// Batches of distinct `incident.reported` events, `x-0`, `x-1`, ….
    pub(crate) fn reports(ids: std::ops::Range<usize>) -> Vec<EventInput> {
        let text: String = ids
            .map(|i| {
                format!(
                    "{{\"type\":\"incident.reported\",\"data\":{{\"incident_id\":\"x-{i}\",\
                     \"event_date\":\"2023-01-05\",\"event_type\":\"Battles\",\"actor1\":\"A\",\
                     \"fatalities\":1}}}}\n"
                )
            })
            .collect();
        parse_events(text.as_bytes()).unwrap()
    }

    /// [`with_investigator`], and one incident reported.
    fn ledger_with_incident(dir: &Path) -> (Ledger, SecretKey, SecretKey) {
        let (ledger, admin, investigator) = with_investigator(dir);
        let report = json!({"incident_id": "x-1", "event_date": "2023-01-05",
                            "event_type": "Battles", "actor1": "A", "fatalities": 1});
        ledger
            .append_one(
                &investigator,
                &Payload::from_value(EventType::IncidentReported, &report).unwrap(),
            )
            .unwrap();
        (ledger, admin, investigator)
    }

    fn all_state<F: LogFiles>(ledger: &Ledger<F>) -> Vec<(Vec<u8>, Vec<u8>)> {
        ledger.state().unwrap().with_prefix(b"").unwrap()
    }

    fn damage_state<F: LogFiles>(ledger: &Ledger<F>, writes: &[state::StateWrite]) {
        let head = ledger.head().unwrap();
        ledger
            .state()
            .unwrap()
            .write(writes.iter().cloned().map(Ok).collect::<Vec<_>>(), &head)
            .unwrap();
    }

    #[test]
    fn a_name_whose_key_record_is_lost_is_damaged_state_and_reindex_repairs_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, admin, investigator) = ledger_with_incident(tmp.path());
        let key = investigator.public();
        damage_state(&ledger, &[(StateKey::Key(&key).bytes(), None)]);

        let err = ledger.revoke_key(&admin, "inv", "left").unwrap_err();
        assert!(matches!(err, LedgerError::DamagedState(_)), "{err}");

        let reindexed = ledger.reindex().unwrap();
        assert_eq!(
            (reindexed.entries, reindexed.keys, reindexed.incidents),
            (3, 2, 1)
        );
        ledger.revoke_key(&admin, "inv", "left").unwrap();
    }

    #[test]
    fn reindex_rebuilds_exactly_what_appends_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, _, investigator) = ledger_with_incident(tmp.path());
        let before = all_state(&ledger);
        // The page that holds x-1 (the first page's bound is "") and a page nobody wrote.
        let garbage = (StateKey::IncidentPage("").bytes(), Some(b"\xff".to_vec()));
        let stray = (
            StateKey::IncidentPage("never-reported").bytes(),
            Some(vec![0]),
        );
        damage_state(&ledger, &[garbage, stray]);
        assert_ne!(all_state(&ledger), before);
        let err = ledger.append(&investigator, &reports(1..2)).unwrap_err();
        assert!(matches!(err, LedgerError::DamagedState(_)), "{err}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert!(cause.is_some_and(|c| c.contains("incident page")), "{err}");

        ledger.reindex().unwrap();
        assert_eq!(all_state(&ledger), before);
    }

    #[test]
    fn derived_state_behind_the_log_is_caught_up_and_state_of_another_log_rebuilt_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, _, investigator) = ledger_with_incident(tmp.path());
        let dir = tmp.path().join("ledger");
        let before = all_state(&ledger);
        let behind = ledger.log.entries(2).next().unwrap().unwrap();
        let behind = Head {
            seq: 2,
            hash: entry_hash(&behind.1),
            recorded_at: 0,
        };
        // As if the process died between the commit of seq 3 and its state write.
        ledger
            .state()
            .unwrap()
            .write([Ok((StateKey::IncidentPage("").bytes(), None))], &behind)
            .unwrap();
        drop(ledger);
        let ledger = Ledger::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(all_state(&ledger), before, "caught up from seq 3");

        let elsewhere = Head {
            hash: [7; 32],
            ..behind
        };
        ledger.state().unwrap().write([], &elsewhere).unwrap();
        drop(ledger);
        let ledger = Ledger::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(all_state(&ledger), before, "rebuilt");
        ledger.append(&investigator, &reports(2..3)).unwrap();
    }

    #[test]
    fn derived_state_of_the_earlier_layout_is_rebuilt_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, ..) = ledger_with_incident(tmp.path());
        let dir = tmp.path().join("ledger");
        let before = all_state(&ledger);
        let head = ledger.head().unwrap();
        drop(ledger);
        // Layout 1: `covered` was the bare head, and each incident had a key of its own.
        let db = sled::Config::new()
            .path(crate::state::db::sled_dir(&dir))
            .open()
            .unwrap();
        db.insert(StateKey::Covered.bytes(), state::encode(&head))
            .unwrap();
        db.insert(b"ix-1", state::encode(&(0u8, 3u64))).unwrap();
        db.flush().unwrap();
        drop(db);
        let ledger = Ledger::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(all_state(&ledger), before);
    }

    #[test]
    fn a_refused_batch_leaves_every_file_byte_as_it_was() {
        let (ledger, files, _, investigator) = in_memory();
        ledger.append(&investigator, &reports(0..300)).unwrap();
        let before = files.snapshot();
        // The last event repeats the first: refused after most of the batch was written.
        let mut batch = reports(300..5000);
        batch.extend(reports(300..301));
        let err = ledger.append(&investigator, &batch).unwrap_err();
        assert!(matches!(err, LedgerError::Rejected(_)), "{err}");
        assert_eq!(files.snapshot(), before);
    }

    /// The log after a crash at any point of an append is the log before it or after it.
    fn assert_whole_or_nothing(files: &MemFiles, before: Head, batch: usize) {
        let reopened = Ledger::with_files(files.clone()).unwrap();
        let head = reopened.head().unwrap();
        assert!(
            head == before || head.seq == before.seq + batch as u64,
            "head {head:?} is neither the old one nor the whole batch"
        );
        assert_tree_matches_log(&reopened);
        let report = reopened
            .verify(|_| std::ops::ControlFlow::Continue(()))
            .unwrap();
        assert!(report.intact(), "{report:?}");
        reopened
            .append(&investigator_key(), &reports(90_000..90_001))
            .unwrap();
    }

    /// The ledger's tree covers its log and has the head RFC 6962 gives its entries, at every size.
    fn assert_tree_matches_log(ledger: &Ledger<MemFiles>) {
        let leaves: Vec<Hash> = ledger
            .log()
            .entries(0)
            .map(|item| crate::merkle::leaf_hash(&item.unwrap().1))
            .collect();
        let size = leaves.len() as u64;
        assert_eq!(ledger.tree_size().unwrap(), size);
        for n in [1, size / 2, size - 1, size] {
            let expected = crate::merkle::root_and_proofs(&leaves[..n as usize]).0;
            assert_eq!(ledger.tree_root(n).unwrap(), expected, "size {n}");
        }
    }

    #[test]
    fn a_fault_at_any_write_or_sync_of_an_append_leaves_all_of_it_or_none() {
        let (ledger, files, _, investigator) = in_memory();
        ledger.append(&investigator, &reports(0..10)).unwrap();
        let before = ledger.head().unwrap();
        drop(ledger);
        let batch = 3000;
        let operations = at_every_fault(
            &files,
            |faulty| {
                let ledger = Ledger::with_files(faulty.clone())?;
                ledger.append(&investigator, &reports(100..100 + batch))
            },
            |at, fault, copy, appended| {
                // What failed is not in the log; what succeeded, or failed only after its
                // commit, is, whole.
                let head = Ledger::with_files(copy.clone()).unwrap().head().unwrap();
                match appended {
                    Ok(Ok(_) | Err(LedgerError::Behind { .. })) => {
                        assert_eq!(head.seq, before.seq + batch as u64, "at {at}, {fault:?}");
                    }
                    Ok(Err(_)) => assert_eq!(head, before, "at {at}, {fault:?}"),
                    Err(_) => {}
                }
                assert_whole_or_nothing(&copy.after_crash(), before, batch);
                assert_whole_or_nothing(&copy.after_crash_keeping_writes(), before, batch);
            },
        );
        assert!(operations.is_some_and(|n| n >= 3), "{operations:?}");
    }

    #[test]
    fn a_flipped_byte_in_the_last_batch_is_reported_not_dropped() {
        let (ledger, files, _, investigator) = in_memory();
        ledger.append(&investigator, &reports(0..20)).unwrap();
        flip_byte_of_entry(&files, 21, 70);
        let reopened = Ledger::<MemFiles>::with_files(files.clone());
        let err = reopened.err().expect("a writer refuses a damaged log");
        assert_eq!(err.damaged_seq(), Some(21), "{err}");
        let mut problems = Vec::new();
        let report = ledger
            .verify(|p| {
                problems.push(p.seq);
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(report.entries, 22);
        assert!(problems.contains(&21), "{problems:?}");
    }
}
