//! The incremental mode's caches: one file per view in the ledger's `cache/` directory, from which
//! a view resumes instead of folding the log from seq 0. A file holds the view's summary state
//! whole and its keyed records in pages chosen by a hash of the key, so that catching up after a
//! small append reads and rewrites only the pages that the new entries touch, whatever the log's
//! size.
//!
//! The file is a run of chunks, each page, summary or commit written once and never changed: a
//! catch-up appends its pages, its summary and a commit naming them; a fresh fold, or a file grown
//! to twice its live bytes, replaces the file whole. The last 32 bytes point at the latest commit.
//! Summaries are streamed to and from the file rather than held as bytes, so that saving or
//! loading a large view costs no copy of its state.
//!
//! A cache is never hashed, signed, verified or exported, and never trusted: the commit and every
//! page carry a checksum, and anything that does not check out reads as no cache at all, so that
//! the view is rebuilt from the log (docs/FORMAT.md §6). This module owns the cache files and
//! their layout; it never touches the log's own files.

use crate::merkle::Hash;
use bincode::Options;
use foldhash::fast::RandomState;
use foldhash::HashMap;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bumped whenever this file layout changes, so that old caches are rebuilt, not misread.
const LAYOUT: u32 = 3;
const MAGIC: &[u8; 8] = b"ldgcache";
/// Commit offset, commit length, commit check, magic.
const TRAILER_LEN: usize = 8 + 8 + 8 + 8;
/// The records per page a rewritten cache aims at: few enough that touching one record costs
/// little, many enough that the page table in every commit stays small (20 bytes a page).
const RECORDS_PER_PAGE: usize = 128;
/// Pages encoded on all cores before they are written, when a cache file is written whole.
const PAGES_ENCODED_AT_ONCE: usize = 1024;
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

    fn encoding_failed(&self) -> impl FnOnce(bincode::Error) -> CacheError + '_ {
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
        crate::inside::open(&self.path, File::options().read(true))
            .and_then(|file| file.read_exact_at(&mut bytes, at))
            .map_err(self.failed("read"))?;
        Ok(bytes)
    }

    /// Chunks to add at the end of the file (of length `file_len`), creating it if need be.
    fn appending(&self, file_len: u64) -> Result<Chunks<'_>, CacheError> {
        let out = crate::inside::create_dir(&self.dir)
            .and_then(|()| {
                crate::inside::open(&self.path, File::options().create(true).append(true))
            })
            .map_err(self.failed("write"))?;
        Ok(Chunks {
            file: self,
            out: BufWriter::new(out),
            at: file_len,
            fresh: None,
        })
    }

    /// Chunks for a new file that replaces this one whole when they are done: a reader sees the
    /// old file or the new one.
    fn replacing(&self) -> Result<Chunks<'_>, CacheError> {
        let fresh = self.path.with_extension("new");
        let out = crate::inside::create_dir(&self.dir)
            .and_then(|()| match std::fs::remove_file(&fresh) {
                // A link, or what a killed writer left, at the new file's name goes first.
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => crate::inside::open(&fresh, File::options().write(true).create_new(true)),
            })
            .map_err(self.failed("write"))?;
        Ok(Chunks {
            file: self,
            out: BufWriter::new(out),
            at: 0,
            fresh: Some(fresh),
        })
    }

    /// The summary a commit names, decoded as it is read; `None` when it is not there whole or
    /// does not check out, which is the same as no cache.
    pub(super) fn summary<S: DeserializeOwned>(&self, commit: &Commit) -> Option<S> {
        let Chunk {
            at,
            len,
            check: sum,
        } = commit.summary;
        if at.checked_add(len)? > commit.file_len {
            return None;
        }
        let mut file = crate::inside::open(&self.path, File::options().read(true)).ok()?;
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut read = Hashing::new(BufReader::new(file.take(len)));
        // The limit keeps a damaged length from being taken for an allocation's size.
        let summary = page_codec()
            .with_limit(len)
            .deserialize_from(&mut read)
            .ok();
        // The whole chunk must be read, and check out, before the summary is believed.
        let rest = std::io::copy(&mut read, &mut std::io::sink()).ok()?;
        let whole = read.hasher.finalize();
        (rest == 0 && whole.as_bytes()[..8] == sum).then_some(summary)?
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
fn page_of(key: &[u8], pages: usize) -> usize {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % pages as u64) as usize
}

/// Where a page or a summary lies in the file, and its check.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Chunk {
    at: u64,
    len: u64,
    check: Check,
}

/// The log position a cache covers: the view's version and the last entry folded in.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Cover {
    pub version: u32,
    pub seq: u64,
    pub hash: Hash,
}

/// What a cache covers, and where its summary state and its pages are.
#[derive(Serialize, Deserialize)]
pub(super) struct Commit {
    layout: u32,
    pub cover: Cover,
    summary: Chunk,
    records: u64,
    pages: Vec<Chunk>,
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
///
/// The records lie in one vector, found through a hash table of their places in it: a map of
/// keys and records kept each in a 40-byte slot of a table sized for every entry of the log
/// (10.7 MB at 133,335 entries, touched all over as the fold went), which made inserting into it
/// a sixth of `project regions`' time at 100,000 incidents; the table of places is a fifth of
/// that size, and the vector is filled from its start.
pub struct Records<R> {
    /// Each record with its key, in no order: a record taken out is replaced by the last one.
    records: Vec<(Key, R)>,
    /// Places in `records`, by the hash of the key. Randomly seeded, so that keys chosen to
    /// collide cannot slow a fold down.
    places: HashTable<usize>,
    hasher: RandomState,
    paged: Option<Paged>,
}

/// The longest key held inline in [`Key`]: room for the ids of the datasets imported so far
/// (ACLED's `MLI12345`, UCDP's numbers) and of every example, in a key no larger than a `String`.
const INLINE_KEY: usize = 22;

/// A record's key, held beside its record when it is short, so that a view of millions of
/// incidents makes no allocation for each (in `project regions` at 10,000,000 entries, the keys'
/// strings were a ninth of the peak memory, and a second cache miss on every lookup). Read as
/// bytes, never as text, so that a lookup costs no UTF-8 check; built only from `&str`.
enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Spilled(Box<str>),
}

impl Key {
    fn new(key: &str) -> Key {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE_KEY => {
                let mut bytes = [0; INLINE_KEY];
                bytes[..key.len()].copy_from_slice(key.as_bytes());
                Key::Inline { len, bytes }
            }
            _ => Key::Spilled(key.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Spilled(key) => key.as_bytes(),
        }
    }

    /// The key as the text it was made from (whole, so always UTF-8).
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Where the records of a resumed fold lie in its cache file.
struct Paged {
    file: CacheFile,
    pages: Vec<Chunk>,
    loaded: Vec<bool>,
    dirty: Vec<bool>,
    records: u64,
    /// The bytes of the live pages and of the latest summary.
    live: u64,
    file_len: u64,
}

impl<R> Default for Records<R> {
    fn default() -> Self {
        Records {
            records: Vec::new(),
            places: HashTable::new(),
            hasher: RandomState::default(),
            paged: None,
        }
    }
}

impl<R> Records<R> {
    /// Where the record of `key` lies in `records`.
    fn place(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        let records = &self.records;
        self.places
            .find(self.hasher.hash_one(key), |&place| {
                records[place].0.as_bytes() == key
            })
            .copied()
    }

    pub fn get(&self, key: &str) -> Option<&R> {
        self.place(key).map(|place| &self.records[place].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut R> {
        self.touch(key);
        self.place(key).map(|place| &mut self.records[place].1)
    }

    /// Makes room for `records` records in a fold from seq 0, so that a large fold's map is
    /// allocated once instead of regrown: each regrowth moved every record and, until it was
    /// done, held the map twice (a third of `project regions`' time at 1,000,000 entries went
    /// to it and to the kernel clearing the pages it took).
    pub(super) fn reserve(&mut self, records: usize) {
        if self.paged.is_none() {
            self.records.reserve(records);
            let Self {
                records: kept,
                places,
                hasher,
                ..
            } = self;
            places.reserve(records, |&place| hasher.hash_one(kept[place].0.as_bytes()));
        }
    }

    /// Sets a record, returning the one it replaces.
    pub fn insert(&mut self, key: &str, record: R) -> Option<R> {
        self.touch(key);
        match self.find_or_add(key, record) {
            Some((place, record)) => Some(std::mem::replace(&mut self.records[place].1, record)),
            None => {
                if let Some(paged) = &mut self.paged {
                    paged.records += 1;
                }
                None
            }
        }
    }

    /// Adds `record` as the record of `key` if it has none; if it has one, gives `record`
    /// back with the place of the one it has. One probe of the table for both.
    fn find_or_add(&mut self, key: &str, record: R) -> Option<(usize, R)> {
        let bytes = key.as_bytes();
        let Self {
            records,
            places,
            hasher,
            ..
        } = self;
        let entry = places.entry(
            hasher.hash_one(bytes),
            |&place| records[place].0.as_bytes() == bytes,
            |&place| hasher.hash_one(records[place].0.as_bytes()),
        );
        match entry {
            Entry::Occupied(found) => Some((*found.get(), record)),
            Entry::Vacant(vacant) => {
                vacant.insert(records.len());
                records.push((Key::new(key), record));
                None
            }
        }
    }

    /// Takes a record out, returning it.
    pub fn remove(&mut self, key: &str) -> Option<R> {
        self.touch(key);
        let bytes = key.as_bytes();
        let records = &self.records;
        let found = self
            .places
            .find_entry(self.hasher.hash_one(bytes), |&place| {
                records[place].0.as_bytes() == bytes
            })
            .ok()?;
        let (place, _) = found.remove();
        let last = self.records.len() - 1;
        if place != last {
            // The last record moves into the place let go; its entry in the table follows it.
            let hash = self.hasher.hash_one(self.records[last].0.as_bytes());
            if let Some(moved) = self.places.find_mut(hash, |&at| at == last) {
                *moved = place;
            }
        }
        let (_, removed) = self.records.swap_remove(place);
        if let Some(paged) = &mut self.paged {
            paged.records = paged.records.saturating_sub(1);
        }
        Some(removed)
    }

    fn touch(&mut self, key: &str) {
        if let Some(paged) = &mut self.paged {
            if !paged.pages.is_empty() {
                let page = page_of(key.as_bytes(), paged.pages.len());
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
            paged: Some(Paged {
                file,
                pages: commit.pages.clone(),
                loaded: vec![false; pages],
                dirty: vec![false; pages],
                records: commit.records,
                file_len: commit.file_len,
                live: commit
                    .live
                    .saturating_sub(bincode::serialized_size(commit).unwrap_or(0)),
            }),
            ..Records::default()
        }
    }

    /// Whether the records lie in a cache's pages, which [`Records::prepare`] loads: only in a
    /// fold resumed from a cache.
    pub(super) fn is_paged(&self) -> bool {
        self.paged
            .as_ref()
            .is_some_and(|paged| !paged.pages.is_empty())
    }

    /// Loads the page that holds `key`, if it is not in memory yet.
    pub(super) fn prepare(&mut self, key: &str) -> Result<(), CacheError> {
        let Some(paged) = &self.paged else {
            return Ok(());
        };
        if paged.pages.is_empty() {
            return Ok(());
        }
        self.load_page(page_of(key.as_bytes(), paged.pages.len()))
    }

    fn load_page(&mut self, page: usize) -> Result<(), CacheError> {
        let Some(paged) = &mut self.paged else {
            return Ok(());
        };
        if paged.loaded[page] {
            return Ok(());
        }
        let Chunk {
            at,
            len,
            check: sum,
        } = paged.pages[page];
        // A page said to lie past the file's end is damage, not a length to allocate.
        let len = usize::try_from(len).map_err(|_| paged.file.damaged())?;
        if at.saturating_add(len as u64) > paged.file_len {
            return Err(paged.file.damaged());
        }
        let bytes = paged.file.read(at, len)?;
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
            self.find_or_add(&key, record);
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
    /// their aim, or the file has grown to twice its live bytes (the last summary's size
    /// standing for the new one's).
    pub(super) fn save<S: Serialize>(
        &mut self,
        file: &CacheFile,
        cover: Cover,
        summary: &S,
    ) -> Result<(), CacheError> {
        let file_len = file.len()?;
        let appendable = self.paged.as_ref().filter(|paged| {
            let pages = paged.pages.len().max(1) as u64;
            paged.records <= pages * (RECORDS_PER_PAGE * MAX_PAGE_GROWTH) as u64
                && file_len <= 2 * paged.live + SLACK
                && !(paged.pages.is_empty() && paged.records > 0)
        });
        let Some(paged) = appendable else {
            self.load_all()?;
            return self.whole_file(file, cover, summary);
        };
        let mut changed: HashMap<usize, Vec<(&str, &R)>> = paged
            .dirty
            .iter()
            .enumerate()
            .filter(|(_, dirty)| **dirty)
            .map(|(page, _)| (page, Vec::new()))
            .collect();
        for (key, record) in &self.records {
            if let Some(page) = changed.get_mut(&page_of(key.as_bytes(), paged.pages.len())) {
                page.push((key.as_str(), record));
            }
        }
        let mut chunks = file.appending(file_len)?;
        let mut pages = paged.pages.clone();
        let mut live = paged.live;
        for (page, records) in changed {
            let bytes = encode_page(file, &records)?;
            live = live.saturating_sub(pages[page].len);
            pages[page] = chunks.put(&bytes)?;
            live += pages[page].len;
        }
        chunks.commit(cover, summary, paged.records, pages, live)
    }

    fn whole_file<S: Serialize>(
        &self,
        file: &CacheFile,
        cover: Cover,
        summary: &S,
    ) -> Result<(), CacheError> {
        let pages = self.records.len().div_ceil(RECORDS_PER_PAGE);
        // The records in page order, by a counting sort into one list: a list per page made
        // thousands of small vectors that regrew, and every page encoded before the first was
        // written held a second copy of the records at 1,000,000 incidents.
        let mut starts = vec![0; pages + 1];
        for (key, _) in &self.records {
            starts[page_of(key.as_bytes(), pages) + 1] += 1;
        }
        for page in 0..pages {
            starts[page + 1] += starts[page];
        }
        let mut placed = starts.clone();
        let mut by_page: Vec<Option<(&Key, &R)>> = vec![None; self.records.len()];
        for (key, record) in &self.records {
            let at = &mut placed[page_of(key.as_bytes(), pages)];
            by_page[*at] = Some((key, record));
            *at += 1;
        }
        let mut chunks = file.replacing()?;
        let mut refs = Vec::with_capacity(pages);
        let mut live = 0;
        let all: Vec<usize> = (0..pages).collect();
        for group in all.chunks(PAGES_ENCODED_AT_ONCE) {
            let encoded = group
                .par_iter()
                .map(|&page| {
                    let records: Vec<(&str, &R)> = by_page[starts[page]..starts[page + 1]]
                        .iter()
                        .flatten()
                        .map(|(key, record)| (key.as_str(), *record))
                        .collect();
                    encode_page(file, &records)
                })
                .collect::<Result<Vec<Vec<u8>>, CacheError>>()?;
            for page in &encoded {
                let chunk = chunks.put(page)?;
                live += chunk.len;
                refs.push(chunk);
            }
        }
        chunks.commit(cover, summary, self.records.len() as u64, refs, live)
    }
}

/// Chunks being written to the end of a cache file (or to the new file that replaces it),
/// each known by where it starts.
struct Chunks<'a> {
    file: &'a CacheFile,
    out: BufWriter<File>,
    /// Where the next chunk starts.
    at: u64,
    /// The new file, for a file being replaced whole.
    fresh: Option<PathBuf>,
}

impl Chunks<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<Chunk, CacheError> {
        self.out
            .write_all(bytes)
            .map_err(self.file.failed("write"))?;
        let chunk = Chunk {
            at: self.at,
            len: bytes.len() as u64,
            check: check(bytes),
        };
        self.at += chunk.len;
        Ok(chunk)
    }

    /// Encodes `summary` straight into the file, as [`CacheFile::summary`] reads it.
    fn summary<S: Serialize>(&mut self, summary: &S) -> Result<Chunk, CacheError> {
        let mut out = Hashing::new(&mut self.out);
        page_codec()
            .serialize_into(&mut out, summary)
            .map_err(|e| match *e {
                // A failed write is the file's, as for a page, so that a read-only or full
                // disk is told as such.
                bincode::ErrorKind::Io(cause) => self.file.failed("write")(cause),
                other => self.file.encoding_failed()(Box::new(other)),
            })?;
        let hash = out.hasher.finalize();
        let len = out.hasher.count();
        let mut sum = [0; 8];
        sum.copy_from_slice(&hash.as_bytes()[..8]);
        let chunk = Chunk {
            at: self.at,
            len,
            check: sum,
        };
        self.at += len;
        Ok(chunk)
    }

    /// Writes the summary, then the commit naming it and `pages`, and the trailer that points
    /// at the commit; `live` counts the bytes of the live pages.
    fn commit<S: Serialize>(
        mut self,
        cover: Cover,
        summary: &S,
        records: u64,
        pages: Vec<Chunk>,
        live: u64,
    ) -> Result<(), CacheError> {
        let summary = self.summary(summary)?;
        let mut commit = Commit {
            layout: LAYOUT,
            cover,
            summary,
            records,
            pages,
            live: live + summary.len,
            file_len: 0,
        };
        let file = self.file;
        // The commit counts itself as live; bincode writes u64s at a fixed width, so adding its
        // own size does not change that size.
        commit.live += bincode::serialized_size(&commit).map_err(file.encoding_failed())?;
        let bytes = bincode::serialize(&commit).map_err(file.encoding_failed())?;
        let mut trailer = Vec::with_capacity(TRAILER_LEN);
        trailer.extend_from_slice(&self.at.to_le_bytes());
        trailer.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&check(&bytes));
        trailer.extend_from_slice(MAGIC);
        self.out
            .write_all(&bytes)
            .and_then(|()| self.out.write_all(&trailer))
            .and_then(|()| self.out.flush())
            .map_err(file.failed("write"))?;
        if let Some(fresh) = self.fresh.take() {
            std::fs::rename(&fresh, &file.path).map_err(|cause| {
                let _ = std::fs::remove_file(&fresh);
                file.failed("write")(cause)
            })?;
        }
        Ok(())
    }
}

impl Drop for Chunks<'_> {
    /// A new file that was never finished (a full disk, a failed write) goes, so that nothing is
    /// left behind; an unfinished append leaves a file whose last commit no longer checks out,
    /// which reads as no cache.
    fn drop(&mut self) {
        if let Some(fresh) = self.fresh.take() {
            let _ = std::fs::remove_file(fresh);
        }
    }
}

/// Reads or writes through to `inner`, hashing the bytes on the way (BLAKE3), so that a file is
/// checked or summed as it is streamed; exports sum their CSV files with it too.
pub(crate) struct Hashing<T> {
    pub inner: T,
    pub hasher: blake3::Hasher,
}

impl<T> Hashing<T> {
    pub fn new(inner: T) -> Hashing<T> {
        Hashing {
            inner,
            hasher: blake3::Hasher::new(),
        }
    }
}

impl<T: Write> Write for Hashing<T> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Hashing<T> {
    fn read(&mut self, bytes: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(bytes)?;
        self.hasher.update(&bytes[..read]);
        Ok(read)
    }
}

/// Pages are most of a cache's bytes, and their numbers are mostly small: varint integers.
fn page_codec() -> impl bincode::Options {
    bincode::DefaultOptions::new()
}

fn encode_page<R: Serialize>(
    file: &CacheFile,
    records: &[(&str, &R)],
) -> Result<Vec<u8>, CacheError> {
    page_codec()
        .serialize(records)
        .map_err(file.encoding_failed())
}

#[cfg(test)]
mod tests {
    use super::{CacheError, Records};
    use std::collections::BTreeMap;
    use std::io::{Error, ErrorKind};

    /// Records behave as a map from key to record through inserts, replacements and removals
    /// (of the last record and of others, which moves the last into the place let go), with
    /// keys held inline and spilled.
    #[test]
    fn records_behave_as_a_map() {
        let mut records = Records::default();
        let mut model = BTreeMap::new();
        let long = "an id longer than a key holds inline";
        let steps: [(&str, Option<u32>); 12] = [
            ("a", Some(1)),
            ("b", Some(2)),
            (long, Some(3)),
            ("c", Some(4)),
            ("a", None),
            ("b", Some(5)),
            ("c", None),
            ("", Some(6)),
            (long, None),
            ("a", Some(7)),
            ("é", Some(8)),
            ("b", None),
        ];
        for (key, step) in steps {
            match step {
                Some(record) => {
                    assert_eq!(records.insert(key, record), model.insert(key, record));
                }
                None => assert_eq!(records.remove(key), model.remove(key)),
            }
            for key in ["a", "b", "c", "", "é", long] {
                assert_eq!(records.get(key), model.get(key), "{key}");
            }
        }
        *records.get_mut("a").unwrap() = 9;
        assert_eq!(records.get("a"), Some(&9));
        assert_eq!(records.remove("nothing"), None);
    }

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
