//! The incremental mode's cache: one file per view, kept by the store beside the log, from which
//! a view resumes instead of folding the log from seq 0. It holds the view's summary state whole
//! and its keyed records in pages chosen by a hash of the key, so that catching up after a small
//! append reads and rewrites only the pages that the new entries touch, whatever the log's size.
//!
//! The file is a run of chunks, each page or commit written once and never changed: a catch-up
//! appends its pages and a commit naming every live page; a fresh fold, or a file grown to twice
//! its live bytes, replaces the file whole. The last 40 bytes point at the latest commit.
//!
//! A cache is never hashed, signed, verified or exported, and never trusted: the commit and every
//! page carry a checksum, and anything that does not check out reads as no cache at all, so that
//! the view is rebuilt from the log (docs/FORMAT.md §6).

use crate::merkle::Hash;
use crate::store::{Store, StoreError};
use bincode::Options;
use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
pub struct Cover {
    pub version: u32,
    pub seq: u64,
    pub hash: Hash,
}

/// What a cache covers, its summary state, and where its pages are.
#[derive(Serialize, Deserialize)]
pub struct Commit {
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

/// A cache that does not check out; the view is rebuilt.
#[derive(Debug)]
pub enum PageError {
    Store(StoreError),
    Damaged,
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Store(e)
    }
}

/// The latest commit of a view's cache, or `None` when there is none or it does not check out.
pub fn load(store: &dyn Store, name: &str) -> Result<Option<Commit>, StoreError> {
    let len = store.cache_len(name)?;
    if len < TRAILER_LEN as u64 {
        return Ok(None);
    }
    let trailer = store.cache_read(name, len - TRAILER_LEN as u64, TRAILER_LEN)?;
    let word = |i: usize| u64::from_le_bytes(trailer[i * 8..i * 8 + 8].try_into().expect("8"));
    let (at, commit_len) = (word(0), word(1));
    let fits = at.checked_add(commit_len) == Some(len - TRAILER_LEN as u64);
    if &trailer[24..] != MAGIC || !fits {
        return Ok(None);
    }
    let bytes = store.cache_read(name, at, commit_len as usize)?;
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

/// A view's keyed records. A fresh fold holds them all in memory; a resumed one holds the pages
/// it has loaded, and [`Records::prepare`] must load a key's page before the fold touches it.
pub struct Records<R> {
    map: HashMap<String, R>,
    paged: Option<Paged>,
}

struct Paged {
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

impl<R: Serialize + DeserializeOwned + Sync> Records<R> {
    /// The records of a commit, none of them loaded yet.
    pub fn resumed(commit: &Commit) -> Records<R> {
        let pages = commit.pages.len();
        Records {
            map: HashMap::new(),
            paged: Some(Paged {
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

    /// Loads the page that holds `key`, if it is not in memory yet.
    pub fn prepare(&mut self, key: &str, store: &dyn Store, name: &str) -> Result<(), PageError> {
        let Some(paged) = &self.paged else {
            return Ok(());
        };
        if paged.pages.is_empty() {
            return Ok(());
        }
        self.load_page(page_of(key, paged.pages.len()), store, name)
    }

    fn load_page(&mut self, page: usize, store: &dyn Store, name: &str) -> Result<(), PageError> {
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
            return Err(PageError::Damaged);
        }
        let bytes = store.cache_read(name, at, len as usize)?;
        if check(&bytes) != sum {
            return Err(PageError::Damaged);
        }
        let records: Vec<(String, R)> = page_codec()
            .deserialize(&bytes)
            .map_err(|_| PageError::Damaged)?;
        paged.loaded[page] = true;
        // A record inserted before its page was loaded would be a view's bug (see `prepare`);
        // the page's older copy must not overwrite it.
        for (key, record) in records {
            self.map.entry(key).or_insert(record);
        }
        Ok(())
    }

    /// Every record, loading the pages not yet in memory.
    pub fn load_all(&mut self, store: &dyn Store, name: &str) -> Result<(), PageError> {
        let pages = self.paged.as_ref().map_or(0, |p| p.pages.len());
        for page in 0..pages {
            self.load_page(page, store, name)?;
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &R)> {
        self.map.iter()
    }

    /// Writes a commit covering `cover` with this summary: only the pages that changed, or the
    /// whole file when the records are all in memory, the pages have outgrown their aim, or the
    /// file has grown to twice its live bytes.
    pub fn save(
        &mut self,
        store: &dyn Store,
        name: &str,
        cover: Cover,
        summary: Vec<u8>,
    ) -> Result<(), PageError> {
        let file_len = store.cache_len(name)?;
        let rewrite = match &self.paged {
            None => true,
            Some(paged) => {
                let pages = paged.pages.len().max(1) as u64;
                let live = paged.live + summary.len() as u64;
                paged.records > pages * (RECORDS_PER_PAGE * MAX_PAGE_GROWTH) as u64
                    || file_len > 2 * live + SLACK
                    || (paged.pages.is_empty() && paged.records > 0)
            }
        };
        if rewrite {
            self.load_all(store, name)?;
            let bytes = self.whole_file(cover, summary);
            store.cache_replace(name, &bytes)?;
            return Ok(());
        }
        let paged = self.paged.as_ref().expect("a resumed cache is paged");
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
            let bytes = page_codec().serialize(&records).expect("records serialize");
            live = live.saturating_sub(u64::from(pages[page].len)) + bytes.len() as u64;
            pages[page] = page_ref(file_len + chunk.len() as u64, &bytes);
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
        append_commit(&mut chunk, file_len, commit);
        store.cache_append(name, &chunk)?;
        Ok(())
    }

    fn whole_file(&self, cover: Cover, summary: Vec<u8>) -> Vec<u8> {
        let pages = self.map.len().div_ceil(RECORDS_PER_PAGE);
        let mut by_page: Vec<Vec<(&String, &R)>> = (0..pages).map(|_| Vec::new()).collect();
        for (key, record) in &self.map {
            by_page[page_of(key, pages)].push((key, record));
        }
        let encoded: Vec<(Vec<u8>, Check)> = by_page
            .par_iter()
            .map(|records| {
                let bytes = page_codec().serialize(records).expect("records serialize");
                let sum = check(&bytes);
                (bytes, sum)
            })
            .collect();
        let mut file = Vec::with_capacity(encoded.iter().map(|(b, _)| b.len()).sum());
        let refs = encoded
            .iter()
            .map(|(bytes, sum)| {
                let page = PageRef {
                    at: file.len() as u64,
                    len: page_len(bytes),
                    check: *sum,
                };
                file.extend_from_slice(bytes);
                page
            })
            .collect();
        let commit = Commit {
            layout: LAYOUT,
            cover,
            summary,
            records: self.map.len() as u64,
            pages: refs,
            live: file.len() as u64,
            file_len: 0,
        };
        append_commit(&mut file, 0, commit);
        file
    }
}

/// Pages are most of a cache's bytes, and their numbers are mostly small: varint integers.
fn page_codec() -> impl bincode::Options {
    bincode::DefaultOptions::new()
}

fn page_ref(at: u64, bytes: &[u8]) -> PageRef {
    PageRef {
        at,
        len: page_len(bytes),
        check: check(bytes),
    }
}

fn page_len(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("a page is far below 4 GiB")
}

/// Adds the commit and the trailer that points at it to `chunk`, which will start at byte
/// `chunk_at` of the file.
fn append_commit(chunk: &mut Vec<u8>, chunk_at: u64, mut commit: Commit) {
    let at = chunk_at + chunk.len() as u64;
    // The commit counts itself as live; bincode writes u64s at a fixed width, so adding its
    // own size does not change that size.
    commit.live += bincode::serialized_size(&commit).expect("commit sizes");
    let bytes = bincode::serialize(&commit).expect("commit serializes");
    chunk.extend_from_slice(&bytes);
    chunk.extend_from_slice(&at.to_le_bytes());
    chunk.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    chunk.extend_from_slice(&check(&bytes));
    chunk.extend_from_slice(MAGIC);
}
