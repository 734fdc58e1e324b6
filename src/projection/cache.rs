//! The incremental mode's caches: one file per view in the ledger's `cache/` directory, from which
//! a view resumes instead of folding the log from seq 0. A file holds the view's summary state
//! whole and its keyed records in pages chosen by a hash of the key, so that catching up after a
//! small append reads and rewrites only the pages that the new entries touch, whatever the log's
//! size.
//!
//! The file is a run of chunks, each page or commit written once and never changed: a catch-up
//! appends its pages and a commit naming every live page; a fresh fold, or a file grown to twice
//! its live bytes, replaces the file whole. The last 32 bytes point at the latest commit.
//!
//! A cache is never hashed, signed, verified or exported, and never trusted: the commit and every
//! page carry a checksum, and anything that does not check out reads as no cache at all, so that
//! the view is rebuilt from the log (docs/FORMAT.md §6). This module owns the cache files and
//! their layout; it never touches the log's own files.

use crate::merkle::Hash;
use bincode::Options;
use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Bumped whenever this file layout changes, so that old caches are rebuilt, not misread.
const LAYOUT: u32 = 2;
const MAGIC: &[u8; 8] = b"ldgcache";
/// Commit offset, commit length, commit check, magic.
const TRAILER_LEN: usize = 8 + 8 + 8 + 8;
/// The records per page a rewritten cache aims at: few enough that touching one record costs
/// little, many enough that the page table in every commit stays small (20 bytes a page).
const RECORDS_PER_PAGE: usize = 128;
/// Pages are redrawn once they hold this many times their aim on average.
const MAX_PAGE_GROWTH: usize = 4;
/// Dead bytes a file may carry beyond its live ones before it is rewritten, so that views
/// with a small summary and no records are not rewritten on every catch-up.
const SLACK: u64 = 64 * 1024;

/// A cache that cannot be used or kept. Damage is never more than a reason to fold again from
/// the log; the fold engine does that itself.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot {doing} the projection cache {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("the projection cache {} is damaged", path.display())]
    Damaged { path: PathBuf },
    #[error("cannot encode the projection cache {}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        cause: bincode::Error,
    },
}

impl CacheError {
    /// Whether the cache could not be written because its directory is read-only: the fold is
    /// sound, only not kept.
    pub(super) fn is_read_only(&self) -> bool {
        matches!(self, CacheError::Io { cause, .. }
            if matches!(cause.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem))
    }
}

/// A ledger's cache directory, `LEDGER/cache`, apart from the log's own files so that a cache
/// can never touch them. It is made when the first cache is written.
#[derive(Clone, Debug)]
pub struct CacheDir {
    path: PathBuf,
}

impl CacheDir {
    /// The cache directory of the ledger in `ledger_dir`.
    pub fn of(ledger_dir: &Path) -> CacheDir {
        CacheDir {
            path: ledger_dir.join("cache"),
        }
    }

    /// A view's cache file; view names are letters and dashes.
    pub(super) fn file(&self, view: &str) -> CacheFile {
        CacheFile {
            dir: self.path.clone(),
            path: self.path.join(view),
        }
    }
}

/// One view's cache file. Never fsynced: a lost or torn cache is found out by its reader and
/// rebuilt.
pub(super) struct CacheFile {
    dir: PathBuf,
    path: PathBuf,
}

impl CacheFile {
    fn failed(&self, doing: &'static str) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
        move |cause| CacheError::Io {
            doing,
            path: self.path.clone(),
            cause,
        }
    }

    pub(super) fn encoding_failed(&self) -> impl FnOnce(bincode::Error) -> CacheError + '_ {
        |cause| CacheError::Encode {
            path: self.path.clone(),
            cause,
        }
    }

    fn damaged(&self) -> CacheError {
        CacheError::Damaged {
            path: self.path.clone(),
        }
    }

    /// The file's length, 0 when there is none.
    fn len(&self) -> Result<u64, CacheError> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
            Err(cause) => Err(self.failed("read")(cause)),
        }
    }

    fn read(&self, at: u64, len: usize) -> Result<Vec<u8>, CacheError> {
        use std::os::unix::fs::FileExt;
        let mut bytes = vec![0; len];
        File::open(&self.path)
            .and_then(|file| file.read_exact_at(&mut bytes, at))
            .map_err(self.failed("read"))?;
        Ok(bytes)
    }

    /// Adds bytes at the end of the file, creating it if need be.
    fn append(&self, bytes: &[u8]) -> Result<(), CacheError> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
            })
            .and_then(|mut file| file.write_all(bytes))
            .map_err(self.failed("write"))
    }

    /// Replaces the file's whole content at once: a reader sees the old file or the new one.
    fn replace(&self, bytes: &[u8]) -> Result<(), CacheError> {
        let fresh = self.path.with_extension("new");
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&fresh, bytes))
            .and_then(|()| std::fs::rename(&fresh, &self.path))
            .map_err(self.failed("write"))
    }

    /// The latest commit, or `None` when there is none or it does not check out.
    pub(super) fn load(&self) -> Result<Option<Commit>, CacheError> {
        let len = self.len()?;
        let Some(trailer_at) = len.checked_sub(TRAILER_LEN as u64) else {
            return Ok(None);
        };
        let trailer = self.read(trailer_at, TRAILER_LEN)?;
        let word = |i: usize| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&trailer[i * 8..i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        let (at, commit_len) = (word(0), word(1));
        let fits = at.checked_add(commit_len) == Some(trailer_at);
        let Ok(commit_len) = usize::try_from(commit_len) else {
            return Ok(None);
        };
        if &trailer[24..] != MAGIC || !fits {
            return Ok(None);
        }
        let bytes = self.read(at, commit_len)?;
        if check(&bytes)[..] != trailer[16..24] {
            return Ok(None);
        }
        let commit = bincode::deserialize::<Commit>(&bytes).ok();
        Ok(commit
            .filter(|commit| commit.layout == LAYOUT)
            .map(|commit| Commit {
                file_len: len,
                ..commit
            }))
    }
}

type Check = [u8; 8];

fn check(bytes: &[u8]) -> Check {
    let hash = blake3::hash(bytes);
    let mut out = [0; 8];
    out.copy_from_slice(&hash.as_bytes()[..8]);
    out
}

/// FNV-1a: a key's page must not change between builds, so it cannot be std's hasher.
fn page_of(key: &str, pages: usize) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % pages as u64) as usize
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct PageRef {
    at: u64,
    len: u32,
    check: Check,
}

/// The log position a cache covers: the view's version and the last entry folded in.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Cover {
    pub version: u32,
    pub seq: u64,
    pub hash: Hash,
}

/// What a cache covers, its summary state, and where its pages are.
#[derive(Serialize, Deserialize)]
pub(super) struct Commit {
    layout: u32,
    pub cover: Cover,
    pub summary: Vec<u8>,
    records: u64,
    pages: Vec<PageRef>,
    /// The bytes of the file still referenced (pages and this commit), to tell when a rewrite
    /// pays off.
    live: u64,
    /// The length of the file it was read from (0 in a commit being written).
    #[serde(skip)]
    file_len: u64,
}

/// A view's keyed records (see [`super::KeyedProjection`]). A fresh fold holds them all in
/// memory; a resumed one holds the pages it has loaded, and the fold engine loads a key's page
/// before the view touches it.
pub struct Records<R> {
    map: HashMap<String, R>,
    paged: Option<Paged>,
}

/// Where the records of a resumed fold lie in its cache file.
struct Paged {
    file: CacheFile,
    pages: Vec<PageRef>,
    loaded: Vec<bool>,
    dirty: Vec<bool>,
    records: u64,
    /// The bytes of the live pages.
    live: u64,
    file_len: u64,
}

impl<R> Default for Records<R> {
    fn default() -> Self {
        Records {
            map: HashMap::new(),
            paged: None,
        }
    }
}

impl<R> Records<R> {
    pub fn get(&self, key: &str) -> Option<&R> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut R> {
        self.touch(key);
        self.map.get_mut(key)
    }

    /// Sets a record, returning the one it replaces.
    pub fn insert(&mut self, key: String, record: R) -> Option<R> {
        self.touch(&key);
        let replaced = self.map.insert(key, record);
        if replaced.is_none() {
            if let Some(paged) = &mut self.paged {
                paged.records += 1;
            }
        }
        replaced
    }

    fn touch(&mut self, key: &str) {
        if let Some(paged) = &mut self.paged {
            if !paged.pages.is_empty() {
                let page = page_of(key, paged.pages.len());
                debug_assert!(paged.loaded[page], "a record's page is prepared before use");
                paged.dirty[page] = true;
            }
        }
    }
}

impl<R: Serialize + DeserializeOwned + Sync> Records<R> {
    /// The records of a commit read from `file`, none of them loaded yet.
    pub(super) fn resumed(commit: &Commit, file: CacheFile) -> Records<R> {
        let pages = commit.pages.len();
        Records {
            map: HashMap::new(),
            paged: Some(Paged {
                file,
                pages: commit.pages.clone(),
                loaded: vec![false; pages],
                dirty: vec![false; pages],
                records: commit.records,
                file_len: commit.file_len,
                live: commit.live
                    - bincode::serialized_size(commit)
                        .unwrap_or(0)
                        .min(commit.live),
            }),
        }
    }

    /// Loads the page that holds `key`, if it is not in memory yet.
    pub(super) fn prepare(&mut self, key: &str) -> Result<(), CacheError> {
        let Some(paged) = &self.paged else {
            return Ok(());
        };
        if paged.pages.is_empty() {
            return Ok(());
        }
        self.load_page(page_of(key, paged.pages.len()))
    }

    fn load_page(&mut self, page: usize) -> Result<(), CacheError> {
        let Some(paged) = &mut self.paged else {
            return Ok(());
        };
        if paged.loaded[page] {
            return Ok(());
        }
        let PageRef {
            at,
            len,
            check: sum,
        } = paged.pages[page];
        // A page said to lie past the file's end is damage, not a length to allocate.
        if at.saturating_add(u64::from(len)) > paged.file_len {
            return Err(paged.file.damaged());
        }
        let bytes = paged.file.read(at, len as usize)?;
        if check(&bytes) != sum {
            return Err(paged.file.damaged());
        }
        let records: Vec<(String, R)> = page_codec()
            .deserialize(&bytes)
            .map_err(|_| paged.file.damaged())?;
        paged.loaded[page] = true;
        // A record inserted before its page was loaded would be the engine's bug (see
        // `prepare`); the page's older copy must not overwrite it.
        for (key, record) in records {
            self.map.entry(key).or_insert(record);
        }
        Ok(())
    }

    /// Every record, loading the pages not yet in memory.
    fn load_all(&mut self) -> Result<(), CacheError> {
        let pages = self.paged.as_ref().map_or(0, |p| p.pages.len());
        for page in 0..pages {
            self.load_page(page)?;
        }
        Ok(())
    }

    /// Writes a commit covering `cover` with this summary to `file`: only the pages that
    /// changed, or the whole file when the records are all in memory, the pages have outgrown
    /// their aim, or the file has grown to twice its live bytes.
    pub(super) fn save(
        &mut self,
        file: &CacheFile,
        cover: Cover,
        summary: Vec<u8>,
    ) -> Result<(), CacheError> {
        let file_len = file.len()?;
        let appendable = self.paged.as_ref().filter(|paged| {
            let pages = paged.pages.len().max(1) as u64;
            let live = paged.live + summary.len() as u64;
            paged.records <= pages * (RECORDS_PER_PAGE * MAX_PAGE_GROWTH) as u64
                && file_len <= 2 * live + SLACK
                && !(paged.pages.is_empty() && paged.records > 0)
        });
        let Some(paged) = appendable else {
            self.load_all()?;
            let bytes = self.whole_file(file, cover, summary)?;
            return file.replace(&bytes);
        };
        let mut changed: HashMap<usize, Vec<(&String, &R)>> = paged
            .dirty
            .iter()
            .enumerate()
            .filter(|(_, dirty)| **dirty)
            .map(|(page, _)| (page, Vec::new()))
            .collect();
        for (key, record) in &self.map {
            if let Some(page) = changed.get_mut(&page_of(key, paged.pages.len())) {
                page.push((key, record));
            }
        }
        let mut chunk = Vec::new();
        let mut pages = paged.pages.clone();
        let mut live = paged.live;
        for (page, records) in changed {
            let bytes = encode_page(file, &records)?;
            live = live.saturating_sub(u64::from(pages[page].len)) + bytes.len() as u64;
            pages[page] = page_ref(file, file_len + chunk.len() as u64, &bytes)?;
            chunk.extend_from_slice(&bytes);
        }
        let commit = Commit {
            layout: LAYOUT,
            cover,
            summary,
            records: paged.records,
            pages,
            live,
            file_len: 0,
        };
        append_commit(file, &mut chunk, file_len, commit)?;
        file.append(&chunk)
    }

    fn whole_file(
        &self,
        file: &CacheFile,
        cover: Cover,
        summary: Vec<u8>,
    ) -> Result<Vec<u8>, CacheError> {
        let pages = self.map.len().div_ceil(RECORDS_PER_PAGE);
        let mut by_page: Vec<Vec<(&String, &R)>> = (0..pages).map(|_| Vec::new()).collect();
        for (key, record) in &self.map {
            by_page[page_of(key, pages)].push((key, record));
        }
        let encoded = by_page
            .par_iter()
            .map(|records| encode_page(file, records))
            .collect::<Result<Vec<Vec<u8>>, CacheError>>()?;
        let mut bytes = Vec::with_capacity(encoded.iter().map(Vec::len).sum());
        let mut refs = Vec::with_capacity(encoded.len());
        for page in &encoded {
            refs.push(page_ref(file, bytes.len() as u64, page)?);
            bytes.extend_from_slice(page);
        }
        let commit = Commit {
            layout: LAYOUT,
            cover,
            summary,
            records: self.map.len() as u64,
            pages: refs,
            live: bytes.len() as u64,
            file_len: 0,
        };
        append_commit(file, &mut bytes, 0, commit)?;
        Ok(bytes)
    }
}

/// Pages are most of a cache's bytes, and their numbers are mostly small: varint integers.
fn page_codec() -> impl bincode::Options {
    bincode::DefaultOptions::new()
}

fn encode_page<R: Serialize>(
    file: &CacheFile,
    records: &[(&String, &R)],
) -> Result<Vec<u8>, CacheError> {
    page_codec()
        .serialize(records)
        .map_err(file.encoding_failed())
}

fn page_ref(file: &CacheFile, at: u64, bytes: &[u8]) -> Result<PageRef, CacheError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| file.encoding_failed()(Box::new(bincode::ErrorKind::SizeLimit)))?;
    Ok(PageRef {
        at,
        len,
        check: check(bytes),
    })
}

/// Adds the commit and the trailer that points at it to `chunk`, which will start at byte
/// `chunk_at` of the file.
fn append_commit(
    file: &CacheFile,
    chunk: &mut Vec<u8>,
    chunk_at: u64,
    mut commit: Commit,
) -> Result<(), CacheError> {
    let at = chunk_at + chunk.len() as u64;
    // The commit counts itself as live; bincode writes u64s at a fixed width, so adding its
    // own size does not change that size.
    commit.live += bincode::serialized_size(&commit).map_err(file.encoding_failed())?;
    let bytes = bincode::serialize(&commit).map_err(file.encoding_failed())?;
    chunk.extend_from_slice(&bytes);
    chunk.extend_from_slice(&at.to_le_bytes());
    chunk.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    chunk.extend_from_slice(&check(&bytes));
    chunk.extend_from_slice(MAGIC);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::CacheError;
    use std::io::{Error, ErrorKind};

    fn io(kind: ErrorKind) -> CacheError {
        CacheError::Io {
            doing: "write",
            path: "cache/regions".into(),
            cause: Error::from(kind),
        }
    }

    /// A cache the ledger's directory does not let us write is skipped; any other failure to
    /// write one is still reported.
    #[test]
    fn only_a_read_only_directory_counts_as_read_only() {
        assert!(io(ErrorKind::PermissionDenied).is_read_only());
        assert!(io(ErrorKind::ReadOnlyFilesystem).is_read_only());
        assert!(!io(ErrorKind::StorageFull).is_read_only());
        assert!(!io(ErrorKind::NotFound).is_read_only());
    }
}
