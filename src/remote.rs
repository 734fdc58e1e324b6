//! Auditing a published copy of a log (C2SP tlog-tiles, as `ledger publish` writes it) from
//! nothing but the log's verifier key: the checkpoint's signature; every entry bundle's entries
//! through the same audit `verify` runs (chain links, seals, signatures, key roles, schemas and
//! rules), streamed bundle by bundle in bounded memory; the entries' leaf hashes against the hash
//! tiles, each level's tiles against the level below; the tree head of the entries against the
//! checkpoint's root; and, given an older checkpoint of the same log, that the published log
//! extends it.
//!
//! It reads a directory or an HTTP(S) server and never writes anywhere; it trusts nothing it
//! reads beyond what the key's signature and the hashes prove.

use crate::log::{LogError, LogFiles, LogResult, StoredBytes};
use crate::merkle::{node_hash, Hash};
use crate::note::checkpoint::{self, Checkpoint, CheckpointError};
use crate::note::vkey::VerifierKey;
use crate::publish::CHECKPOINT_FILE;
use crate::schema::Schemas;
use crate::tree::audit::{Audit, TreeCheck};
use crate::tree::tiles::{bundle_path, level_count, tile_path, TILE_WIDTH, TREE_DIR};
use crate::verify::{self, Problem, Report};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where a published log is read from.
pub enum Source {
    Dir(PathBuf),
    Url(String),
}

/// A tile or bundle is at most 256 entries of 65,535 bytes and their lengths; a checkpoint a
/// few hundred bytes. Nothing larger is read.
const MAX_FILE_BYTES: u64 = 256 * (65_535 + 2);

impl Source {
    /// Where `path` (relative to the log's prefix) is, for a person.
    pub fn name(&self, path: &str) -> String {
        match self {
            Source::Dir(dir) => dir.join(path).display().to_string(),
            Source::Url(url) => format!("{}/{path}", url.trim_end_matches('/')),
        }
    }

    /// The bytes of `path`.
    fn get(&self, path: &str) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match self {
            Source::Dir(dir) => {
                bytes = crate::regular::read(&dir.join(path), MAX_FILE_BYTES)
                    .map_err(io::Error::other)?;
            }
            Source::Url(_) => {
                let response = ureq::get(&self.name(path))
                    .call()
                    .map_err(io::Error::other)?;
                response
                    .into_reader()
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut bytes)?;
                if bytes.len() as u64 > MAX_FILE_BYTES {
                    return Err(io::Error::other(format!(
                        "it is longer than the {MAX_FILE_BYTES} bytes any file of a published log is"
                    )));
                }
            }
        }
        Ok(bytes)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot read {what}")]
    Read {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("the checkpoint {what} cannot be used")]
    Checkpoint {
        what: String,
        #[source]
        source: CheckpointError,
    },
    #[error(transparent)]
    Log(#[from] LogError),
}

impl RemoteError {
    /// Whether the copy was read and found wrong (exit 1) rather than unreadable (exit 2).
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            RemoteError::Checkpoint {
                source: CheckpointError::Signature(_) | CheckpointError::OriginMismatch { .. },
                ..
            }
        )
    }
}

/// What the audit found: the entries' report (with the tree's and the checkpoints' problems
/// counted in it) and the checkpoint it checked against.
pub struct Audited {
    pub report: Report,
    pub checkpoint: Checkpoint,
}

/// The heads of the complete subtrees of the leaves so far, largest first: RFC 6962's tree head
/// of any prefix of the log, in O(log n) hashes.
#[derive(Default)]
struct Frontier {
    /// (height, head) of each complete subtree, left to right.
    subtrees: Vec<(u32, Hash)>,
    leaves: u64,
}

impl Frontier {
    fn push(&mut self, leaf: Hash) {
        let mut node = (0, leaf);
        while let Some(&(height, left)) = self.subtrees.last() {
            if height != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.subtrees.push(node);
        self.leaves += 1;
    }

    /// The tree head of the leaves so far (the empty tree's with none).
    fn root(&self) -> Hash {
        let mut heads = self.subtrees.iter().rev().map(|&(_, head)| head);
        match heads.next() {
            None => crate::tree::shape::empty_root(),
            Some(last) => heads.fold(last, |right, left| node_hash(&left, &right)),
        }
    }
}

/// The tree check of the audit: the published tiles against the entries' leaves, and the
/// tree head of the entries at the sizes the checkpoints name.
struct Check<'a> {
    tiles: Audit<Tiles<'a>>,
    frontier: Frontier,
    /// (size, root, which): the heads the entries must have at those sizes.
    heads: Vec<(u64, Hash, &'static str)>,
}

impl TreeCheck for Check<'_> {
    fn leaf(&mut self, seq: u64, leaf: &Hash, problem: &mut dyn FnMut(u64, String)) {
        self.tiles.leaf(seq, leaf, problem);
        self.frontier.push(*leaf);
        let size = self.frontier.leaves;
        for &(at, root, which) in &self.heads {
            if at == size && self.frontier.root() != root {
                problem(
                    size - 1,
                    format!("the tree head of the first {size} entries is not the root of {which}: the entries published are not the log it signed"),
                );
            }
        }
    }
}

/// The published hash tiles, read as the tree's level files (level `L`'s file is its tiles end
/// to end), a tile at a time: the audit of the stored tree reads them as it reads a ledger's.
struct Tiles<'a> {
    source: &'a Source,
    size: u64,
    /// The tile last read: (level, tile number, bytes).
    last: Mutex<Option<(u64, u64, Vec<u8>)>>,
}

impl LogFiles for Tiles<'_> {
    fn read_head(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn replace_head(&self, _: &[u8]) -> io::Result<()> {
        Err(read_only())
    }
    fn segment_len(&self, level: u64) -> io::Result<Option<u64>> {
        Ok(Some(level_count(self.size, level) * 32))
    }
    fn read_at(&self, level: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let tile = offset / (TILE_WIDTH * 32);
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !matches!(&*last, Some((l, n, _)) if *l == level && *n == tile) {
            let path = tile_path(level, tile * TILE_WIDTH, self.size);
            *last = Some((level, tile, self.source.get(&path)?));
        }
        let bytes = last
            .as_ref()
            .map_or(&[][..], |(_, _, bytes)| bytes.as_slice());
        let at = usize::try_from(offset % (TILE_WIDTH * 32)).unwrap_or(usize::MAX);
        let available = bytes.get(at..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        Ok(n)
    }
    fn write_at(&self, _: u64, _: u64, _: &[u8]) -> io::Result<()> {
        Err(read_only())
    }
    fn sync(&self, _: u64) -> io::Result<()> {
        Err(read_only())
    }
    fn truncate(&self, _: u64, _: u64) -> io::Result<()> {
        Err(read_only())
    }
    fn remove(&self, _: u64) -> io::Result<()> {
        Err(read_only())
    }
    fn name(&self, level: Option<u64>) -> String {
        self.source.name(&format!(
            "tile/{}",
            level.map_or_else(String::new, |l| l.to_string())
        ))
    }
    fn beside(&self, name: &str, _: fn(u64) -> String) -> io::Result<Self> {
        // The audit of the tree asks for the tree beside the log: that is these tiles.
        if name != TREE_DIR {
            return Err(read_only());
        }
        Ok(Tiles {
            source: self.source,
            size: self.size,
            last: Mutex::new(None),
        })
    }
}

fn read_only() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "a published log is read only",
    )
}

/// The entries of the published bundles, in seq order; a bundle that cannot be read or does not
/// hold its entries whole is damage naming its seqs, and the audit goes on with the next.
fn entries(source: &Source, size: u64) -> impl Iterator<Item = LogResult<(u64, StoredBytes)>> + '_ {
    (0..size.div_ceil(TILE_WIDTH)).flat_map(move |n| {
        let first = n * TILE_WIDTH;
        let last = ((n + 1) * TILE_WIDTH).min(size) - 1;
        let path = bundle_path(n, size);
        let damaged = |reason: String| LogError::Damaged {
            file: source.name(&path),
            first,
            last,
            reason,
        };
        let read = match source.get(&path) {
            Ok(bytes) => split_bundle(&bytes, first, last).map_err(|why| damaged(why.into())),
            Err(e) => Err(damaged(format!(
                "the entry bundle {} cannot be read: {e}",
                source.name(&path)
            ))),
        };
        match read {
            Ok(entries) => entries.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        }
    })
}

/// The entries `first..=last` of a bundle: each a big-endian `u16` length and that many bytes.
fn split_bundle(
    bytes: &[u8],
    first: u64,
    last: u64,
) -> Result<Vec<(u64, StoredBytes)>, &'static str> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    for seq in first..=last {
        let (len, after) = rest
            .split_first_chunk::<2>()
            .ok_or("the bundle ends early")?;
        let len = usize::from(u16::from_be_bytes(*len));
        if after.len() < len {
            return Err("the bundle ends inside an entry");
        }
        entries.push((seq, StoredBytes::from(after[..len].to_vec())));
        rest = &after[len..];
    }
    if rest.is_empty() {
        Ok(entries)
    } else {
        Err("the bundle holds more than its entries")
    }
}

/// Audits the log published at `source` against its verifier key; with `since`, an older
/// checkpoint of the same log that the published one must extend. Each problem goes to
/// `on_problem` as it is found.
pub fn audit(
    source: &Source,
    vkey: &VerifierKey,
    since: Option<&[u8]>,
    on_problem: &mut dyn FnMut(&Problem),
) -> Result<Audited, RemoteError> {
    let read = |what: &str| {
        source.get(what).map_err(|e| RemoteError::Read {
            what: source.name(what),
            source: e,
        })
    };
    let opened =
        checkpoint::open(&read(CHECKPOINT_FILE)?, vkey).map_err(|e| RemoteError::Checkpoint {
            what: source.name(CHECKPOINT_FILE),
            source: e,
        })?;
    let checkpoint = opened.checkpoint;
    let size = checkpoint.size;
    let mut heads = vec![(size, checkpoint.root, "the published checkpoint")];
    let mut extra = 0;
    if let Some(old) = since {
        let old = checkpoint::open(old, vkey).map_err(|e| RemoteError::Checkpoint {
            what: "given with --since".into(),
            source: e,
        })?;
        if old.checkpoint.size > size {
            extra += 1;
            on_problem(&Problem {
                seq: size,
                reason: format!(
                    "the published checkpoint is of {size} entries, fewer than the {} of the one given with --since: the log was cut back or rolled back",
                    old.checkpoint.size
                ),
            });
        } else {
            heads.push((
                old.checkpoint.size,
                old.checkpoint.root,
                "the checkpoint given with --since",
            ));
        }
    }
    let tiles = Tiles {
        source,
        size,
        last: Mutex::new(None),
    };
    let mut check = Check {
        tiles: Audit::open(&tiles, size).map_err(|e| RemoteError::Read {
            what: source.name("tile"),
            source: e,
        })?,
        frontier: Frontier::default(),
        heads,
    };
    let schemas = Schemas::load().map_err(|e| RemoteError::Read {
        what: "the ledger's schemas".into(),
        source: io::Error::other(e),
    })?;
    let mut report = verify::verify(
        entries(source, size),
        &schemas,
        None,
        Some(&mut check),
        |problem| {
            on_problem(problem);
            ControlFlow::Continue(())
        },
    )?;
    if report.entries < size {
        extra += 1;
        on_problem(&Problem {
            seq: report.entries,
            reason: format!(
                "the checkpoint names {size} entries but only {} could be read and checked",
                report.entries
            ),
        });
    }
    report.problems += extra;
    Ok(Audited { report, checkpoint })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    /// The frontier's head of every prefix is the tree's (RFC 6962), as the tree computes it.
    #[test]
    fn the_frontier_gives_the_tree_head_of_every_prefix() {
        let leaves: Vec<Hash> = (0u8..70).map(|i| leaf_hash(&[i])).collect();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), crate::tree::shape::empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            let (root, _) = crate::merkle::root_and_proofs(&leaves[..=i]);
            assert_eq!(frontier.root(), root, "size {}", i + 1);
        }
    }
}
