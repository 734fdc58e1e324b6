//! The narrow storage trait under the log ([`LogFiles`]): numbered segment files that grow at
//! their end, and one small head file replaced atomically; and [`DirFiles`], its implementation
//! on a directory of real files. The in-memory and fault-injecting implementations used by the
//! tests are in [`super::mem`].
//!
//! It moves bytes and makes them durable when told to. It never decides where an entry begins,
//! what the head says or when a batch is committed: that is [`super::Log`]'s.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The file operations the log needs, and no more. Segments are named by their number.
pub trait LogFiles: Send + Sync {
    /// The head file's bytes; `None` when there is none.
    fn read_head(&self) -> io::Result<Option<Vec<u8>>>;
    /// Replaces the head file with `bytes` in one atomic, durable step: after a crash the head
    /// is either the old bytes or the new ones, and once this returns it is the new ones.
    fn replace_head(&self, bytes: &[u8]) -> io::Result<()>;
    /// The length of segment `segment`; `None` when it does not exist.
    fn segment_len(&self, segment: u64) -> io::Result<Option<u64>>;
    /// Reads from segment `segment` at `offset` into `buf`; returns how many bytes were read
    /// (0 at the end of the file, or when the file does not exist).
    fn read_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes `bytes` at `offset` of segment `segment`, creating it if needed. Not durable until
    /// [`LogFiles::sync`].
    fn write_at(&self, segment: u64, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything written to segment `segment` durable, and its name too if this handle
    /// created it.
    fn sync(&self, segment: u64) -> io::Result<()>;
    /// Cuts segment `segment` to `len` bytes, durably.
    fn truncate(&self, segment: u64, len: u64) -> io::Result<()>;
    /// Removes segment `segment`, durably; a segment that does not exist is no error.
    fn remove(&self, segment: u64) -> io::Result<()>;
    /// How a person finds segment `segment` (a path), or the head file when `None`.
    fn name(&self, segment: Option<u64>) -> String;
    /// Another store of the same kind beside this one, named `name` (a sibling directory), whose
    /// numbered files are named by `file_name`: for files derived from the log (its tree), which
    /// then share the log's durability rules and, in tests, its crashes and faults. A reader's
    /// store is opened for reading only and creates nothing.
    fn beside(&self, name: &str, file_name: fn(u64) -> String) -> io::Result<Self>
    where
        Self: Sized;
}

/// The name of segment `segment`'s file in the log directory: its number, 10 decimal digits,
/// then `.seg`. A segment's number times [`super::SEGMENT_ENTRIES`] is its first seq.
pub fn segment_file_name(segment: u64) -> String {
    format!("{segment:010}.seg")
}

/// The head file's name in the log directory.
pub const HEAD_FILE: &str = "head";
const HEAD_TEMP_FILE: &str = "head.new";

/// The log's files in a directory (`LEDGER/log`). A reader opens files read-only and never
/// creates, changes or syncs anything; only a writer (who holds the ledger's lock) writes.
pub struct DirFiles {
    dir: PathBuf,
    writable: bool,
    file_name: fn(u64) -> String,
    open: Mutex<HashMap<u64, Segment>>,
}

struct Segment {
    file: File,
    /// Created by this handle: its directory entry must be synced with it.
    created: bool,
}

impl DirFiles {
    /// The log files in `dir`, for reading only.
    pub fn reader(dir: &Path) -> DirFiles {
        DirFiles {
            dir: dir.to_path_buf(),
            writable: false,
            file_name: segment_file_name,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The log files in `dir`, for the one writer; creates `dir` if needed.
    pub fn writer(dir: &Path) -> io::Result<DirFiles> {
        crate::inside::not_a_link(dir)?;
        if !dir.is_dir() {
            std::fs::create_dir_all(dir)?;
            sync_dir(dir.parent().unwrap_or(dir))?;
        }
        Ok(DirFiles {
            dir: dir.to_path_buf(),
            writable: true,
            file_name: segment_file_name,
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join((self.file_name)(segment))
    }

    fn segments(&self) -> MutexGuard<'_, HashMap<u64, Segment>> {
        // A panic while the map was held leaves it usable: it only caches open files.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on segment `segment`'s open file, opening it first (creating it when `create`);
    /// `None` when it does not exist and is not to be created.
    fn with_segment<T>(
        &self,
        segment: u64,
        create: bool,
        f: impl FnOnce(&mut Segment) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        let mut open = self.segments();
        if let Some(found) = open.get_mut(&segment) {
            return f(found).map(Some);
        }
        let path = self.path(segment);
        let opened = if self.writable {
            match crate::inside::open(&path, OpenOptions::new().read(true).write(true)) {
                Ok(file) => Ok(Segment {
                    file,
                    created: false,
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => crate::inside::open(
                    &path,
                    OpenOptions::new().read(true).write(true).create_new(true),
                )
                .map(|file| Segment {
                    file,
                    created: true,
                }),
                Err(e) => Err(e),
            }
        } else {
            crate::inside::open(&path, OpenOptions::new().read(true)).map(|file| Segment {
                file,
                created: false,
            })
        };
        match opened {
            Ok(segment_file) => {
                let entry = open.entry(segment).or_insert(segment_file);
                f(entry).map(Some)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn refuse_if_read_only(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the log was opened for reading only",
            ))
        }
    }
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl LogFiles for DirFiles {
    fn read_head(&self) -> io::Result<Option<Vec<u8>>> {
        let head = crate::inside::open(&self.dir.join(HEAD_FILE), OpenOptions::new().read(true))
            .and_then(|mut file| {
                let mut bytes = Vec::new();
                io::Read::read_to_end(&mut file, &mut bytes).map(|_| bytes)
            });
        match head {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn replace_head(&self, bytes: &[u8]) -> io::Result<()> {
        self.refuse_if_read_only()?;
        let temp = self.dir.join(HEAD_TEMP_FILE);
        crate::inside::replace(
            &self.dir.join(HEAD_FILE),
            &temp,
            bytes,
            crate::inside::Durability::Synced,
        )?;
        sync_dir(&self.dir)
    }

    fn segment_len(&self, segment: u64) -> io::Result<Option<u64>> {
        match std::fs::metadata(self.path(segment)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.with_segment(segment, false, |s| loop {
            match s.file.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        })?;
        Ok(read.unwrap_or(0))
    }

    fn write_at(&self, segment: u64, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.with_segment(segment, true, |s| s.file.write_all_at(bytes, offset))?;
        Ok(())
    }

    fn sync(&self, segment: u64) -> io::Result<()> {
        self.refuse_if_read_only()?;
        let created = self.with_segment(segment, false, |s| {
            s.file.sync_data()?;
            Ok(std::mem::replace(&mut s.created, false))
        })?;
        if created == Some(true) {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn truncate(&self, segment: u64, len: u64) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.with_segment(segment, false, |s| {
            s.file.set_len(len)?;
            s.file.sync_all()
        })?;
        Ok(())
    }

    fn remove(&self, segment: u64) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.segments().remove(&segment);
        match std::fs::remove_file(self.path(segment)) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn name(&self, segment: Option<u64>) -> String {
        match segment {
            Some(segment) => self.path(segment),
            None => self.dir.join(HEAD_FILE),
        }
        .display()
        .to_string()
    }

    fn beside(&self, name: &str, file_name: fn(u64) -> String) -> io::Result<DirFiles> {
        let dir = self.dir.parent().unwrap_or(&self.dir).join(name);
        let mut files = if self.writable {
            DirFiles::writer(&dir)?
        } else {
            DirFiles::reader(&dir)
        };
        files.file_name = file_name;
        Ok(files)
    }
}
