//! [`LogFiles`] for tests: [`MemFiles`] keeps the log in memory and knows which of its bytes are
//! durable, so that a test can "crash" it and open what a machine would find after a power cut;
//! [`FaultyFiles`] wraps it and fails (an I/O error, a full disk, a panic) at a chosen operation,
//! as redb's crash tests do.
//!
//! Nothing here is used by the `ledger` program itself.

use super::files::LogFiles;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Default)]
struct MemSegment {
    data: Vec<u8>,
    /// What a crash leaves: `None` until the segment's creation was synced.
    durable: Option<Vec<u8>>,
}

#[derive(Clone, Default)]
struct MemState {
    head: Option<Vec<u8>>,
    segments: BTreeMap<u64, MemSegment>,
}

/// The head file's bytes and each segment's, by number.
pub type Snapshot = (Option<Vec<u8>>, Vec<(u64, Vec<u8>)>);

/// A log's files in memory, and the stores beside it ([`LogFiles::beside`]) by name (the log's
/// own is ""). Clones share the same files.
#[derive(Clone, Default)]
pub struct MemFiles {
    stores: Arc<Mutex<BTreeMap<String, MemState>>>,
    store: String,
}

impl MemFiles {
    pub fn new() -> MemFiles {
        MemFiles::default()
    }

    /// Runs `f` on this store's files.
    fn state<T>(&self, f: impl FnOnce(&mut MemState) -> T) -> T {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        f(stores.entry(self.store.clone()).or_default())
    }

    /// Every store beside this one and this one, each changed by `f`, as a new set of files.
    fn copy(&self, f: impl Fn(&MemState) -> MemState) -> MemFiles {
        let stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        MemFiles {
            stores: Arc::new(Mutex::new(
                stores
                    .iter()
                    .map(|(name, s)| (name.clone(), f(s)))
                    .collect(),
            )),
            store: self.store.clone(),
        }
    }

    /// The files as a power cut would leave them: only what was made durable.
    pub fn after_crash(&self) -> MemFiles {
        self.copy(|state| MemState {
            head: state.head.clone(),
            segments: state
                .segments
                .iter()
                .filter_map(|(n, s)| {
                    let durable = s.durable.clone()?;
                    Some((
                        *n,
                        MemSegment {
                            data: durable.clone(),
                            durable: Some(durable),
                        },
                    ))
                })
                .collect(),
        })
    }

    /// The files as a crash that happened to keep every write would leave them.
    pub fn after_crash_keeping_writes(&self) -> MemFiles {
        self.copy(|state| {
            let mut state = state.clone();
            for segment in state.segments.values_mut() {
                segment.durable = Some(segment.data.clone());
            }
            state
        })
    }

    /// A copy of segment `segment`'s bytes (for tests that damage or compare files).
    pub fn segment(&self, segment: u64) -> Option<Vec<u8>> {
        self.state(|s| s.segments.get(&segment).map(|s| s.data.clone()))
    }

    /// Replaces segment `segment`'s bytes, durably, behind the log's back.
    pub fn set_segment(&self, segment: u64, bytes: Vec<u8>) {
        self.state(|s| {
            s.segments.insert(
                segment,
                MemSegment {
                    durable: Some(bytes.clone()),
                    data: bytes,
                },
            )
        });
    }

    /// Every segment and the head, for comparing two states of the files.
    pub fn snapshot(&self) -> Snapshot {
        self.state(|state| {
            let segments = state
                .segments
                .iter()
                .map(|(n, s)| (*n, s.data.clone()))
                .collect();
            (state.head.clone(), segments)
        })
    }
}

impl LogFiles for MemFiles {
    fn read_head(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(self.state(|s| s.head.clone()))
    }

    fn replace_head(&self, bytes: &[u8]) -> io::Result<()> {
        self.state(|s| s.head = Some(bytes.to_vec()));
        Ok(())
    }

    fn segment_len(&self, segment: u64) -> io::Result<Option<u64>> {
        Ok(self.state(|s| s.segments.get(&segment).map(|s| s.data.len() as u64)))
    }

    fn read_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.state(|state| {
            let Some(s) = state.segments.get(&segment) else {
                return Ok(0);
            };
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(s.data.len());
            let n = buf.len().min(s.data.len() - start);
            buf[..n].copy_from_slice(&s.data[start..start + n]);
            Ok(n)
        })
    }

    fn write_at(&self, segment: u64, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.state(|state| {
            let s = state.segments.entry(segment).or_default();
            if s.data.len() < start + bytes.len() {
                s.data.resize(start + bytes.len(), 0);
            }
            s.data[start..start + bytes.len()].copy_from_slice(bytes);
        });
        Ok(())
    }

    fn sync(&self, segment: u64) -> io::Result<()> {
        self.state(|state| {
            if let Some(s) = state.segments.get_mut(&segment) {
                s.durable = Some(s.data.clone());
            }
        });
        Ok(())
    }

    fn truncate(&self, segment: u64, len: u64) -> io::Result<()> {
        self.state(|state| {
            if let Some(s) = state.segments.get_mut(&segment) {
                s.data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                s.durable = Some(s.data.clone());
            }
        });
        Ok(())
    }

    fn remove(&self, segment: u64) -> io::Result<()> {
        self.state(|s| s.segments.remove(&segment));
        Ok(())
    }

    fn name(&self, segment: Option<u64>) -> String {
        let store = if self.store.is_empty() {
            "memory".to_string()
        } else {
            format!("memory {}", self.store)
        };
        match segment {
            Some(segment) => format!("{store} segment {segment}"),
            None => format!("{store} head"),
        }
    }

    fn beside(&self, name: &str, _file_name: fn(u64) -> String) -> io::Result<MemFiles> {
        Ok(MemFiles {
            stores: Arc::clone(&self.stores),
            store: name.to_string(),
        })
    }
}

/// What [`FaultyFiles`] does at its chosen operation.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// That operation fails with this error; the ones after it work.
    Fail(io::ErrorKind),
    /// The disk is full from that operation on: every later write, sync or head replacement
    /// fails too (truncations and removals, which free space, work).
    DiskFull,
    /// That operation panics (as an allocation failure or a bug would).
    Panic,
}

/// [`MemFiles`] that fail at the `at`-th changing operation (0-based; writes, syncs, truncations,
/// removals and head replacements count).
#[derive(Clone)]
pub struct FaultyFiles {
    pub files: MemFiles,
    at: usize,
    fault: Fault,
    done: Arc<AtomicUsize>,
}

impl FaultyFiles {
    pub fn new(files: MemFiles, at: usize, fault: Fault) -> FaultyFiles {
        FaultyFiles {
            files,
            at,
            fault,
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many changing operations were attempted so far.
    pub fn operations(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    /// Counts a changing operation and fails it as the fault says; one that only `frees` space
    /// (a truncation, a removal) works on a full disk, as it does on a real one.
    fn change(&self, frees: bool) -> io::Result<()> {
        let n = self.done.fetch_add(1, Ordering::SeqCst);
        match self.fault {
            Fault::Fail(kind) if n == self.at => Err(io::Error::new(kind, "injected fault")),
            Fault::DiskFull if n >= self.at && !frees => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            )),
            Fault::Panic if n == self.at => panic!("injected panic at operation {n}"),
            _ => Ok(()),
        }
    }
}

impl LogFiles for FaultyFiles {
    fn read_head(&self) -> io::Result<Option<Vec<u8>>> {
        self.files.read_head()
    }
    fn replace_head(&self, bytes: &[u8]) -> io::Result<()> {
        self.change(false)?;
        self.files.replace_head(bytes)
    }
    fn segment_len(&self, segment: u64) -> io::Result<Option<u64>> {
        self.files.segment_len(segment)
    }
    fn read_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.files.read_at(segment, offset, buf)
    }
    fn write_at(&self, segment: u64, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.change(false)?;
        self.files.write_at(segment, offset, bytes)
    }
    fn sync(&self, segment: u64) -> io::Result<()> {
        self.change(false)?;
        self.files.sync(segment)
    }
    fn truncate(&self, segment: u64, len: u64) -> io::Result<()> {
        self.change(true)?;
        self.files.truncate(segment, len)
    }
    fn remove(&self, segment: u64) -> io::Result<()> {
        self.change(true)?;
        self.files.remove(segment)
    }
    fn name(&self, segment: Option<u64>) -> String {
        self.files.name(segment)
    }
    /// The store beside counts its operations with this one's: a fault lands wherever the
    /// `at`-th change falls, in the log or in its tree.
    fn beside(&self, name: &str, file_name: fn(u64) -> String) -> io::Result<FaultyFiles> {
        Ok(FaultyFiles {
            files: self.files.beside(name, file_name)?,
            at: self.at,
            fault: self.fault,
            done: Arc::clone(&self.done),
        })
    }
}

/// What one faulty attempt gave: its value or error, or the panic it unwound with.
pub type Attempt<T, E> = std::thread::Result<Result<T, E>>;

/// Runs `attempt` on copies of `files` that fail at each changing operation in turn, with each
/// kind of [`Fault`], until the operation to fail lies past all those a successful attempt makes;
/// `check` sees the fault, the copy as the attempt left it and what the attempt gave. Returns the
/// number of operations a successful attempt makes, if one succeeded.
pub fn at_every_fault<T, E>(
    files: &MemFiles,
    mut attempt: impl FnMut(&FaultyFiles) -> Result<T, E>,
    mut check: impl FnMut(usize, Fault, &MemFiles, &Attempt<T, E>),
) -> Option<usize> {
    let mut operations = None;
    for at in 0.. {
        if operations.is_some_and(|n| at > n) {
            break;
        }
        for fault in [
            Fault::Fail(io::ErrorKind::Other),
            Fault::DiskFull,
            Fault::Panic,
        ] {
            let copy = files.after_crash_keeping_writes();
            let faulty = FaultyFiles::new(copy.clone(), at, fault);
            let attempted =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| attempt(&faulty)));
            if let Ok(Ok(_)) = attempted {
                operations.get_or_insert(faulty.operations());
            }
            check(at, fault, &copy, &attempted);
        }
    }
    operations
}
