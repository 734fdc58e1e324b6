//! The log-wide Merkle tree of RFC 6962 / RFC 9162 over every entry of the log (leaf hash =
//! SHA-256(0x00 || the entry's canonical bytes), node hash = SHA-256(0x01 || left || right)),
//! kept beside the log as C2SP tlog-tiles hash tiles ([`tiles`]) through the log's own storage
//! trait, so that an append costs O(log n) and the head and proofs at any size up to the log's
//! are a few tile reads ([`shape`]).
//!
//! The tree is derived from the log and can always be rebuilt from it, and the log's head is its
//! commit point too: an append makes the new tree hashes durable before it commits the log's
//! head, so the tree files always hold at least the hashes of the entries the head counts (what
//! lies past them is an interrupted append's, cut off by the next commit). A writer that finds
//! the files behind the log (no tree yet, an interrupted build) extends them from the log's
//! entries. A reader never writes: what its files lack it computes in memory. The tree never
//! judges an entry's contents and never decides what is committed: that is the log's.

pub mod audit;
pub mod proof;
pub mod shape;
pub mod tiles;

use crate::log::{Log, LogError, LogFiles};
use crate::merkle::{leaf_hash, node_hash, Hash};
use proof::Proof;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tiles::{level_count, level_file_name, HASH_LEN, TILE_HEIGHT, TILE_WIDTH};

/// Hashes a level gathers in memory before a writer writes them to its file.
const FLUSH_HASHES: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("I/O error on {file} (the log's tree)")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the tree file {file} ends before the {count} hashes the tree holds")]
    Short { file: String, count: u64 },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the log's size is {size}, so it has no tree of size {asked}")]
    SizeBeyondLog { asked: u64, size: u64 },
    #[error("seq {seq} is not in the tree of size {size}")]
    SeqBeyondSize { seq: u64, size: u64 },
    #[error("a consistency proof needs 0 < from <= to, not from {from} to {to}")]
    SizesOutOfOrder { from: u64, to: u64 },
}

/// The log's tree, as of the log's head.
pub struct Tree<F: LogFiles> {
    files: F,
    writable: bool,
    levels: Mutex<Levels>,
}

/// Where each level's hashes are: the first `written[l]` in level `l`'s file, the rest in
/// `mem[l]`; together `level_count(size, l)` of them.
struct Levels {
    /// Leaves, counting those an append in progress pushed.
    pushed: u64,
    /// The leaves queries see: those committed (with the log).
    size: u64,
    written: Vec<u64>,
    mem: Vec<Vec<Hash>>,
}

impl Levels {
    /// A tree of `size` leaves, all in the files.
    fn stored(size: u64) -> Levels {
        let written: Vec<u64> = (0..)
            .map(|level| level_count(size, level))
            .take_while(|&count| count > 0)
            .collect();
        Levels {
            pushed: size,
            size,
            mem: vec![Vec::new(); written.len()],
            written,
        }
    }

    fn count(&self, level: usize) -> u64 {
        self.written.get(level).copied().unwrap_or(0)
            + self.mem.get(level).map_or(0, |m| m.len() as u64)
    }

    /// Forgets what was pushed after the committed size.
    fn abandon(&mut self) {
        self.pushed = self.size;
        for (level, (written, mem)) in self.written.iter_mut().zip(&mut self.mem).enumerate() {
            let count = level_count(self.size, level as u64);
            if *written > count {
                *written = count;
                mem.clear();
            } else {
                mem.truncate(usize::try_from(count - *written).unwrap_or(usize::MAX));
            }
        }
    }
}

/// How many of a log's first `log_size` entries the tree files `files` hold the hashes of: as
/// many as every level's file has its hashes for. Hashes past the log's size are not counted.
pub(crate) fn stored_size<F: LogFiles>(files: &F, log_size: u64) -> std::io::Result<u64> {
    let mut size = log_size;
    for level in 0.. {
        if level_count(size, level) == 0 {
            break;
        }
        let have = files.segment_len(level)?.unwrap_or(0) / HASH_LEN;
        // The most leaves whose complete subtrees at this level are all there.
        let most = ((u128::from(have) + 1) << (level * u64::from(TILE_HEIGHT))) - 1;
        size = size.min(u64::try_from(most).unwrap_or(u64::MAX));
    }
    Ok(size)
}

/// The head of a complete subtree given its leaves' (or lower nodes') hashes, a power of two of
/// them.
fn fold(mut hashes: Vec<Hash>) -> Hash {
    while hashes.len() > 1 {
        hashes = hashes
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    hashes.first().copied().unwrap_or_else(shape::empty_root)
}

impl<F: LogFiles> Tree<F> {
    /// The tree of `log`, brought up to the log's head: in its files for a writer, in memory as
    /// well for a reader (`writable` false), which writes nothing.
    pub fn open(log: &Log<F>, writable: bool) -> Result<Tree<F>, TreeError> {
        let files = log
            .files()
            .beside(tiles::TREE_DIR, level_file_name)
            .map_err(|source| TreeError::Io {
                file: tiles::TREE_DIR.into(),
                source,
            })?;
        let have = stored_size(&files, log.size()).map_err(|source| TreeError::Io {
            file: files.name(Some(0)),
            source,
        })?;
        let tree = Tree {
            files,
            writable,
            levels: Mutex::new(Levels::stored(have)),
        };
        tree.catch_up(log)?;
        Ok(tree)
    }

    fn lock(&self) -> MutexGuard<'_, Levels> {
        self.levels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Extends the tree with the log's entries it does not hold yet.
    pub fn catch_up(&self, log: &Log<F>) -> Result<(), TreeError> {
        let from = self.size();
        if from >= log.size() {
            return Ok(());
        }
        let mut appender = self.appender();
        for item in log.entries(from) {
            let (_, bytes) = item?;
            appender.push(leaf_hash(&bytes))?;
        }
        appender.commit()
    }

    /// Builds the tree anew from the log's entries, whatever its files held.
    pub fn rebuild(&self, log: &Log<F>) -> Result<(), TreeError> {
        *self.lock() = Levels::stored(0);
        self.catch_up(log)
    }

    /// The number of leaves the tree holds.
    pub fn size(&self) -> u64 {
        self.lock().size
    }

    /// Starts adding leaves; they are seen once [`TreeAppender::commit`] returns.
    pub fn appender(&self) -> TreeAppender<'_, F> {
        TreeAppender {
            tree: self,
            levels: self.lock(),
            touched: BTreeSet::new(),
            committed: false,
        }
    }

    fn io(&self, level: u64, source: std::io::Error) -> TreeError {
        TreeError::Io {
            file: self.files.name(Some(level)),
            source,
        }
    }

    /// Hashes `start..start + n` of level `level`.
    fn read(
        &self,
        levels: &Levels,
        level: usize,
        start: u64,
        n: u64,
    ) -> Result<Vec<Hash>, TreeError> {
        let short = || TreeError::Short {
            file: self.files.name(Some(level as u64)),
            count: start + n,
        };
        let written = levels.written.get(level).copied().unwrap_or(0);
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        if start < written {
            let end = (start + n).min(written);
            let mut bytes = vec![0u8; usize::try_from((end - start) * HASH_LEN).unwrap_or(0)];
            let mut filled = 0;
            while filled < bytes.len() {
                let read = self
                    .files
                    .read_at(
                        level as u64,
                        start * HASH_LEN + filled as u64,
                        &mut bytes[filled..],
                    )
                    .map_err(|e| self.io(level as u64, e))?;
                if read == 0 {
                    return Err(short());
                }
                filled += read;
            }
            out.extend(bytes.chunks_exact(32).map(|h| {
                let mut hash = [0; 32];
                hash.copy_from_slice(h);
                hash
            }));
        }
        let mem = levels.mem.get(level).map_or(&[][..], Vec::as_slice);
        for i in start.max(written)..start + n {
            let at = usize::try_from(i - written).unwrap_or(usize::MAX);
            out.push(*mem.get(at).ok_or_else(short)?);
        }
        Ok(out)
    }

    /// Runs `f` on the tree of the first `size` leaves, which the tree must hold.
    fn at_size<T>(
        &self,
        size: u64,
        f: impl FnOnce(&Subtrees<'_, F>) -> Result<T, TreeError>,
    ) -> Result<T, TreeError> {
        let levels = self.lock();
        if size > levels.size {
            return Err(TreeError::SizeBeyondLog {
                asked: size,
                size: levels.size,
            });
        }
        f(&Subtrees {
            tree: self,
            levels: &levels,
        })
    }

    /// The hashes of tile `n` of level `level` in the tree of `size` leaves (at most the tree's
    /// size): 256, or fewer for the level's last, partial tile.
    pub fn tile(&self, level: u64, n: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        let start = n * TILE_WIDTH;
        let count = level_count(size, level)
            .saturating_sub(start)
            .min(TILE_WIDTH);
        self.at_size(size, |s| {
            self.read(
                s.levels,
                usize::try_from(level).unwrap_or(usize::MAX),
                start,
                count,
            )
        })
    }

    /// The tree head at `size` (at most the tree's size).
    pub fn root(&self, size: u64) -> Result<Hash, TreeError> {
        self.at_size(size, |s| shape::root(size, s))
    }

    /// The inclusion proof of the entry at `seq` in the tree of `size` leaves.
    pub fn inclusion(&self, seq: u64, size: u64) -> Result<Proof, TreeError> {
        if seq >= size {
            return Err(TreeError::SeqBeyondSize { seq, size });
        }
        self.at_size(size, |s| shape::inclusion(seq, size, s).map(Proof))
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to`.
    pub fn consistency(&self, from: u64, to: u64) -> Result<Proof, TreeError> {
        if from == 0 || from > to {
            return Err(TreeError::SizesOutOfOrder { from, to });
        }
        self.at_size(to, |s| shape::consistency(from, to, s).map(Proof))
    }
}

/// Complete subtrees read from a tree's levels: a subtree of height `8 * l + r` is the fold of
/// `2^r` hashes of level `l`.
struct Subtrees<'a, F: LogFiles> {
    tree: &'a Tree<F>,
    levels: &'a Levels,
}

impl<F: LogFiles> shape::Subtrees for Subtrees<'_, F> {
    type Error = TreeError;
    fn subtree(&self, height: u32, index: u64) -> Result<Hash, TreeError> {
        let (level, rest) = (height / TILE_HEIGHT, height % TILE_HEIGHT);
        let hashes = self
            .tree
            .read(self.levels, level as usize, index << rest, 1 << rest)?;
        Ok(fold(hashes))
    }
}

/// Leaves being added to the tree; abandoned unless committed.
pub struct TreeAppender<'a, F: LogFiles> {
    tree: &'a Tree<F>,
    levels: MutexGuard<'a, Levels>,
    /// Levels whose files were written.
    touched: BTreeSet<u64>,
    committed: bool,
}

impl<F: LogFiles> TreeAppender<'_, F> {
    /// Adds the next leaf hash.
    pub fn push(&mut self, leaf: Hash) -> Result<(), TreeError> {
        self.levels.pushed += 1;
        self.push_at(0, leaf)
    }

    fn push_at(&mut self, level: usize, hash: Hash) -> Result<(), TreeError> {
        if self.levels.mem.len() <= level {
            self.levels.mem.push(Vec::new());
            self.levels.written.push(0);
        }
        self.levels.mem[level].push(hash);
        let count = self.levels.count(level);
        let width = tiles::TILE_WIDTH;
        if count.is_multiple_of(width) {
            let group = self.tree.read(&self.levels, level, count - width, width)?;
            self.push_at(level + 1, fold(group))?;
        }
        if self.tree.writable && self.levels.mem[level].len() >= FLUSH_HASHES {
            self.flush(level)?;
        }
        Ok(())
    }

    /// Writes level `level`'s hashes in memory to its file (not durably).
    fn flush(&mut self, level: usize) -> Result<(), TreeError> {
        if self.levels.mem[level].is_empty() {
            return Ok(());
        }
        let bytes = self.levels.mem[level].concat();
        let at = self.levels.written[level] * HASH_LEN;
        let file = level as u64;
        self.tree
            .files
            .write_at(file, at, &bytes)
            .map_err(|e| self.tree.io(file, e))?;
        self.levels.written[level] += self.levels.mem[level].len() as u64;
        self.levels.mem[level].clear();
        self.touched.insert(file);
        Ok(())
    }

    /// Writes the pushed leaves' hashes to the tree files durably (a writer's); an append does
    /// this before it commits the log's head, which then counts them.
    pub fn make_durable(&mut self) -> Result<(), TreeError> {
        if !self.tree.writable {
            return Ok(());
        }
        for level in 0..self.levels.mem.len() {
            self.flush(level)?;
        }
        for level in std::mem::take(&mut self.touched) {
            self.tree
                .files
                .sync(level)
                .map_err(|e| self.tree.io(level, e))?;
        }
        Ok(())
    }

    /// Makes the pushed leaves part of the tree: for a writer, its files hold exactly the tree's
    /// hashes, durably (anything an interrupted append left past them is cut off).
    pub fn commit(mut self) -> Result<(), TreeError> {
        if self.tree.writable {
            self.make_durable()?;
            self.cut_to(self.levels.pushed)?;
        }
        self.levels.size = self.levels.pushed;
        self.committed = true;
        Ok(())
    }

    /// Cuts every level's file to the hashes of a tree of `size` leaves.
    fn cut_to(&self, size: u64) -> Result<(), TreeError> {
        let files = &self.tree.files;
        for level in 0.. {
            let count = level_count(size, level);
            let len = files
                .segment_len(level)
                .map_err(|e| self.tree.io(level, e))?;
            match len {
                None if count == 0 => break,
                Some(len) if len > count * HASH_LEN && count == 0 => {
                    files.remove(level).map_err(|e| self.tree.io(level, e))?;
                }
                Some(len) if len > count * HASH_LEN => {
                    files
                        .truncate(level, count * HASH_LEN)
                        .map_err(|e| self.tree.io(level, e))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// An append whose log did not commit leaves the tree's files as they were: the hashes it wrote
/// are cut off now (and, should that fail, by the next commit).
impl<F: LogFiles> Drop for TreeAppender<'_, F> {
    fn drop(&mut self) {
        if !self.committed {
            self.levels.abandon();
            if self.tree.writable {
                let _ = self.cut_to(self.levels.size);
            }
        }
    }
}

#[cfg(test)]
mod tests;
