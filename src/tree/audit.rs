//! The check of the stored tree against the entries, for `verify`: every hash the tree's files
//! hold up to the log's size is recomputed from the entries' leaf hashes, in one pass as the
//! entries stream by, in memory bounded by one group of hashes and one tile per level.
//!
//! It reads the tree's files as they are and never repairs them (a writer rebuilds the tree);
//! it takes nothing from them as evidence about the log, whose entries it is handed.

use super::tiles::{self, level_count, level_file_name, tile_path, HASH_LEN, TILE_WIDTH};
use super::{fold, stored_size};
use crate::log::{seqs, LogFiles};
use crate::merkle::Hash;

/// A check of leaf hashes, in seq order, against something that holds them.
pub trait TreeCheck {
    /// Takes the leaf hash of the entry at `seq`, and tells `problem` the seq and reason of
    /// anything that disagrees with it.
    fn leaf(&mut self, seq: u64, leaf: &Hash, problem: &mut dyn FnMut(u64, String));
}

/// The stored tree, checked as the log's leaf hashes arrive.
pub struct Audit<F: LogFiles> {
    files: F,
    /// The leaves checked: the tree's own size, or the log's if that is smaller.
    size: u64,
    levels: Vec<Level>,
    /// The seq of the next leaf; once a leaf is missing (a stretch of the log cannot be read),
    /// nothing above it can be recomputed, and once a hash disagrees, what comes after says
    /// nothing new: either way the check stops.
    next: Option<u64>,
}

#[derive(Default)]
struct Level {
    /// Hashes of this level recomputed so far, and the last group of them not yet folded.
    done: u64,
    group: Vec<Hash>,
    /// The stored tile last read, and its number.
    tile: Vec<u8>,
    tile_number: Option<u64>,
    /// The file ends early: reported once, not checked further.
    short: bool,
}

impl<F: LogFiles> Audit<F> {
    /// The tree beside the log of `files`, whose head is `log_size` entries.
    pub fn open(files: &F, log_size: u64) -> std::io::Result<Audit<F>> {
        let files = files.beside(tiles::TREE_DIR, level_file_name)?;
        // Files that hold fewer hashes than the log has entries are no damage: a tree never
        // built (a ledger no writer of this version opened), a build that was stopped, or
        // entries appended by an earlier release. The next writer completes them; what they
        // hold is checked.
        let size = stored_size(&files, log_size)?;
        Ok(Audit {
            files,
            size,
            levels: Vec::new(),
            next: Some(0),
        })
    }

    /// Compares hash `index` of level `level` with the one stored, if the tree holds it.
    fn compare(
        &mut self,
        level: usize,
        index: u64,
        hash: &Hash,
        problem: &mut dyn FnMut(u64, String),
    ) {
        let l = level as u64;
        if index >= level_count(self.size, l) || self.levels[level].short {
            return;
        }
        let first = index << (l * u64::from(tiles::TILE_HEIGHT));
        let tile = index / TILE_WIDTH;
        // Named only when something is wrong: every hash of the log passes through here.
        let size = self.size;
        let place = || tile_path(l, index, size);
        let file = || self.files.name(Some(l));
        let state = &mut self.levels[level];
        if state.tile_number != Some(tile) {
            let width = (level_count(self.size, l) - tile * TILE_WIDTH).min(TILE_WIDTH);
            state.tile.resize((width * HASH_LEN) as usize, 0);
            let mut filled = 0;
            while filled < state.tile.len() {
                match self.files.read_at(
                    l,
                    tile * TILE_WIDTH * HASH_LEN + filled as u64,
                    &mut state.tile[filled..],
                ) {
                    Ok(0) => break,
                    Ok(read) => filled += read,
                    Err(e) => {
                        state.short = true;
                        problem(
                            first,
                            format!("the tree file {} cannot be read: {e}", file()),
                        );
                        return;
                    }
                }
            }
            if filled < state.tile.len() {
                state.short = true;
                let at = tile * TILE_WIDTH * HASH_LEN + filled as u64;
                problem(first, format!("the tree file {} ends at byte {at}, before tile {} ends: the tree's files were cut", file(), place()));
                return;
            }
            state.tile_number = Some(tile);
        }
        let at = ((index % TILE_WIDTH) * HASH_LEN) as usize;
        if state.tile[at..at + HASH_LEN as usize] != hash[..] {
            // What lies above and after a wrong hash disagrees too: the first one is the news.
            let last = (first + (1 << (l * u64::from(tiles::TILE_HEIGHT))) - 1).min(size - 1);
            problem(
                first,
                format!(
                    "the tree's hash of {} (level {level} hash {index}, in tile {}, byte {} of {}) does not match the entries: the entries or the tree's files were changed after the tree was written; the tree is not checked further",
                    seqs(first, last),
                    place(),
                    index * HASH_LEN,
                    file()
                ),
            );
            self.next = None;
        }
    }

    /// Takes the next recomputed hash of level `level`.
    fn push(&mut self, level: usize, hash: Hash, problem: &mut dyn FnMut(u64, String)) {
        if self.next.is_none() {
            return;
        }
        if self.levels.len() <= level {
            self.levels.push(Level::default());
        }
        let index = self.levels[level].done;
        self.compare(level, index, &hash, problem);
        let state = &mut self.levels[level];
        state.done += 1;
        state.group.push(hash);
        if state.group.len() as u64 == TILE_WIDTH {
            let group = std::mem::take(&mut state.group);
            self.push(level + 1, fold(group), problem);
        }
    }
}

impl<F: LogFiles> TreeCheck for Audit<F> {
    fn leaf(&mut self, seq: u64, leaf: &Hash, problem: &mut dyn FnMut(u64, String)) {
        if self.next != Some(seq) {
            self.next = None;
            return;
        }
        self.next = Some(seq + 1);
        self.push(0, *leaf, problem);
    }
}
