//! Publishing the log as C2SP tlog-tiles (c2sp.org/tlog-tiles) into a directory any static web
//! server, object store or USB stick can serve: `checkpoint` (the last checkpoint the ledger
//! keeps, with its cosignatures), the hash tiles `tile/<L>/<N>[.p/<W>]` (cut from the tree's
//! level files) and the entry bundles `tile/entries/<N>[.p/<W>]` (each entry as a big-endian
//! `u16` length and its canonical bytes, as the log's own segment files frame them).
//!
//! It writes incrementally: only the tiles and bundles that are new or grew since the
//! checkpoint the directory already holds (a full tile never changes; a partial one is written
//! beside the full one that later replaces it), each through a temporary name renamed into place,
//! all of them made durable before the checkpoint that names them is replaced last, so that a
//! reader always finds every file the checkpoint it reads needs. It reads the ledger and never
//! writes to it; it refuses a directory inside the ledger's, and one holding a checkpoint of
//! another log or of one this log does not extend.

use crate::checkpoints::{self, Checkpoints, CheckpointsError, Divergence};
use crate::export::{outside_ledger, ExportError};
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::note::checkpoint::{Checkpoint, CheckpointError};
use crate::note::signed::{Note, NoteError};
use crate::tree::tiles::{bundle_path, level_count, tile_path, TILE_WIDTH};
use crate::Ledger;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The checkpoint's file in a published directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the ledger keeps no checkpoint to publish")]
    NoCheckpoint,
    #[error(transparent)]
    Ledger(#[from] Box<LedgerError>),
    #[error(transparent)]
    Checkpoints(#[from] CheckpointsError),
    #[error(transparent)]
    Place(#[from] ExportError),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} holds a checkpoint that cannot be read", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: CheckpointError,
    },
    #[error("{} holds a checkpoint of the log {found:?}, not of this ledger's {ours:?}", path.display())]
    OtherLog {
        path: PathBuf,
        found: String,
        ours: String,
    },
    #[error("{} holds a checkpoint of {size} entries that this log does not extend: {why}", path.display())]
    Diverged {
        path: PathBuf,
        size: u64,
        why: Divergence,
    },
    #[error("{} holds a checkpoint of {published} entries, more than the {kept} of the last the ledger keeps", path.display())]
    Ahead {
        path: PathBuf,
        published: u64,
        kept: u64,
    },
}

impl From<LedgerError> for PublishError {
    fn from(e: LedgerError) -> Self {
        PublishError::Ledger(Box::new(e))
    }
}

/// What a publish wrote: the size published, the size the directory held before (0 for none),
/// and how many tiles and bundles were written.
#[derive(Debug, PartialEq, Eq)]
pub struct Published {
    pub size: u64,
    pub before: u64,
    pub tiles: usize,
    pub bundles: usize,
}

/// Publishes `ledger`'s log up to the last checkpoint it keeps into `dir`.
pub fn publish<F: LogFiles>(ledger: &Ledger<F>, dir: &Path) -> Result<Published, PublishError> {
    if let Some(ledger_dir) = ledger.dir() {
        outside_ledger(dir, ledger_dir)?;
    }
    let origin = ledger.origin()?.unwrap_or_default();
    let kept = Checkpoints::of(ledger)?
        .last()?
        .ok_or(PublishError::NoCheckpoint)?;
    let size = kept.size;
    let before = published_size(ledger, dir, &origin, size)?;
    let write_failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PublishError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_failed(dir))?;

    let mut tiles = 0;
    for level in (0..).take_while(|&level| level_count(size, level) > 0) {
        // The first tile the directory lacks whole: the partial one at the old size, if any.
        let first = level_count(before, level) / TILE_WIDTH;
        let last = level_count(size, level).div_ceil(TILE_WIDTH);
        for n in first..last {
            let hashes = ledger.tree_tile(level, n, size)?;
            let bytes: Vec<u8> = hashes.concat();
            write_file(&dir.join(tile_path(level, n * TILE_WIDTH, size)), &bytes)?;
            tiles += 1;
        }
    }

    let mut bundles = 0;
    let first_bundle = before / TILE_WIDTH;
    let mut bundle = Vec::new();
    let mut entries = ledger.log().entries(first_bundle * TILE_WIDTH);
    for n in first_bundle..size.div_ceil(TILE_WIDTH) {
        bundle.clear();
        let end = ((n + 1) * TILE_WIDTH).min(size);
        for _ in n * TILE_WIDTH..end {
            let Some(item) = entries.next() else { break };
            let (_, bytes) = item.map_err(LedgerError::from)?;
            // An entry is at most 65,535 bytes, so its length fits.
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            bundle.extend_from_slice(&len.to_be_bytes());
            bundle.extend_from_slice(&bytes);
        }
        write_file(&dir.join(bundle_path(n, size)), &bundle)?;
        bundles += 1;
    }

    // Everything the new checkpoint names is durable before it replaces the old one.
    let synced =
        std::fs::File::open(dir).and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from));
    synced.map_err(write_failed(dir))?;
    let checkpoint = dir.join(CHECKPOINT_FILE);
    write_file(&checkpoint, &kept.note)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_failed(dir))?;
    Ok(Published {
        size,
        before,
        tiles,
        bundles,
    })
}

/// The size of the checkpoint `dir` holds, checked to be of this log and extended by it.
fn published_size<F: LogFiles>(
    ledger: &Ledger<F>,
    dir: &Path,
    origin: &str,
    kept: u64,
) -> Result<u64, PublishError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => return Err(PublishError::Write { path, source }),
    };
    let unreadable = |source| PublishError::Unreadable {
        path: path.clone(),
        source,
    };
    let note = Note::parse(&bytes).map_err(|e: NoteError| unreadable(CheckpointError::Note(e)))?;
    let published = Checkpoint::parse_text(note.text()).map_err(unreadable)?;
    if published.origin != origin {
        return Err(PublishError::OtherLog {
            path,
            found: published.origin,
            ours: origin.to_string(),
        });
    }
    if let Some(why) = checkpoints::divergence(ledger, published.size, published.root)? {
        return Err(PublishError::Diverged {
            path,
            size: published.size,
            why,
        });
    }
    if published.size > kept {
        return Err(PublishError::Ahead {
            path,
            published: published.size,
            kept,
        });
    }
    Ok(published.size)
}

/// Writes `bytes` as `path`, through a temporary name beside it renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let failed = |source| PublishError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let temp = path.with_extension("publishing");
    let mut file = std::fs::File::create(&temp).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(failed)
}
