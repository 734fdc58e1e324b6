//! The checkpoints this ledger signed (c2sp.org/tlog-checkpoint), kept beside the log through
//! the log's storage trait, each with the witnesses' cosignatures added to it since, and the
//! checks that tie a checkpoint to the log: signing one of the log's tree as it stands, refused
//! when the log does not extend the last one signed (it was cut back or rewritten since), and
//! whether the log extends a checkpoint given by anyone.
//!
//! The store is one file per checkpoint, named by its size, and a head file listing the sizes
//! stored, replaced atomically: a checkpoint is stored once its file is durable and the head
//! names it, so a crash between the two leaves it unlisted, and its file is written afresh by the
//! next store of that size. It never signs anything but a checkpoint of the log's own tree, and
//! never judges the entries (that is [`crate::verify`]'s).

use crate::keys::{PublicKey, SecretKey};
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::merkle::Hash;
use crate::note::checkpoint::{self, CheckpointError, Opened};
use crate::note::signed::{Note, NoteError};
use crate::note::vkey::{KeyType, VerifierKey, VkeyError};
use crate::Ledger;
use std::io;

/// The directory beside the log's that holds the checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// A checkpoint's file: its size, 20 decimal digits, so that a listing sorts by size.
fn file_name(size: u64) -> String {
    format!("{size:020}.checkpoint")
}

/// A checkpoint note is a few hundred bytes; one this long is not one this ledger wrote.
const MAX_CHECKPOINT_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointsError {
    #[error("cannot read or write the checkpoint file {file}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("the checkpoint store's head file {file} is damaged: its length is not a whole number of sizes")]
    DamagedHead { file: String },
    #[error(transparent)]
    Ledger(#[from] Box<LedgerError>),
    #[error("the checkpoint stored for size {size} does not read as one this ledger signed")]
    Stored {
        size: u64,
        #[source]
        source: CheckpointError,
    },
    #[error("the key {key} is not an active admin key of this ledger; a checkpoint is signed with the operator's, an admin key")]
    NotAnAdmin { key: PublicKey },
    #[error("the ledger has no origin (no genesis entry), so its checkpoints have no name")]
    NoOrigin,
    #[error(transparent)]
    Vkey(#[from] VkeyError),
    #[error(transparent)]
    Sign(#[from] CheckpointError),
    #[error("the log no longer extends the last checkpoint this ledger signed, of {size} entries: {why}; no checkpoint was signed")]
    Diverged { size: u64, why: Divergence },
    #[error("this ledger signed no checkpoint of {size} entries with that text and signature; only cosignatures of its own checkpoints are added")]
    NotOurs { size: u64 },
    #[error("the cosigned checkpoint is not a well-formed signed note")]
    Note(#[source] NoteError),
    #[error("the cosigned checkpoint's text is not a checkpoint")]
    NotACheckpoint(#[source] CheckpointError),
}

impl From<LedgerError> for CheckpointsError {
    fn from(e: LedgerError) -> Self {
        CheckpointsError::Ledger(Box::new(e))
    }
}

/// How a log fails to extend a checkpoint: it is shorter, or its first `size` entries hash to
/// another root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    #[error("the log has {log_size} entries, fewer than the checkpoint's {size}: entries were cut from its end")]
    Shorter { size: u64, log_size: u64 },
    #[error("the tree of the log's first {size} entries has the root {}, not the checkpoint's {}: entries before it were changed, removed or reordered", hex::encode(.log_root), hex::encode(.root))]
    OtherRoot {
        size: u64,
        root: Hash,
        log_root: Hash,
    },
}

/// Whether `ledger`'s log extends the checkpoint of `size` entries with tree head `root`.
pub fn divergence<F: LogFiles>(
    ledger: &Ledger<F>,
    size: u64,
    root: Hash,
) -> Result<Option<Divergence>, CheckpointsError> {
    let log_size = ledger.head().map_or(0, |head| head.seq + 1);
    if size > log_size {
        return Ok(Some(Divergence::Shorter { size, log_size }));
    }
    let log_root = ledger.tree_root(size)?;
    Ok((log_root != root).then_some(Divergence::OtherRoot {
        size,
        root,
        log_root,
    }))
}

/// The verifier key of a checkpoint signed by `key` for a log named `origin`.
pub fn verifier_key(origin: &str, key: PublicKey) -> Result<VerifierKey, VkeyError> {
    VerifierKey::new(origin, KeyType::Ed25519, key)
}

/// The checkpoints of `ledger`, in its directory beside the log.
pub struct Checkpoints<F: LogFiles> {
    files: F,
}

/// A checkpoint as stored: its size and its note, with the cosignatures added to it.
pub struct Stored {
    pub size: u64,
    pub note: Vec<u8>,
}

impl<F: LogFiles> Checkpoints<F> {
    /// The store of `ledger`; for a reader, opened for reading only.
    pub fn of(ledger: &Ledger<F>) -> Result<Checkpoints<F>, CheckpointsError> {
        let files = ledger
            .log()
            .files()
            .beside(CHECKPOINTS_DIR, file_name)
            .map_err(|source| CheckpointsError::Io {
                file: CHECKPOINTS_DIR.into(),
                source,
            })?;
        Ok(Checkpoints { files })
    }

    fn io(&self, size: Option<u64>) -> impl Fn(io::Error) -> CheckpointsError + '_ {
        move |source| CheckpointsError::Io {
            file: self.files.name(size),
            source,
        }
    }

    /// The sizes of the checkpoints stored, in the order they were first stored.
    pub fn sizes(&self) -> Result<Vec<u64>, CheckpointsError> {
        let Some(head) = self.files.read_head().map_err(self.io(None))? else {
            return Ok(Vec::new());
        };
        if head.len() % 8 != 0 {
            return Err(CheckpointsError::DamagedHead {
                file: self.files.name(None),
            });
        }
        Ok(head
            .chunks_exact(8)
            .map(|size| u64::from_be_bytes(size.try_into().unwrap_or_default()))
            .collect())
    }

    /// The checkpoint stored for `size`, if one is.
    pub fn get(&self, size: u64) -> Result<Option<Stored>, CheckpointsError> {
        if !self.sizes()?.contains(&size) {
            return Ok(None);
        }
        let len = (self.files.segment_len(size))
            .map_err(self.io(Some(size)))?
            .unwrap_or(0)
            .min(MAX_CHECKPOINT_BYTES);
        let mut note = vec![0; usize::try_from(len).unwrap_or(0)];
        let read = (self.files.read_at(size, 0, &mut note)).map_err(self.io(Some(size)))?;
        note.truncate(read);
        Ok(Some(Stored { size, note }))
    }

    /// Every checkpoint stored, by size.
    pub fn all(&self) -> Result<Vec<Stored>, CheckpointsError> {
        let mut sizes = self.sizes()?;
        sizes.sort_unstable();
        let mut all = Vec::with_capacity(sizes.len());
        for size in sizes {
            all.extend(self.get(size)?);
        }
        Ok(all)
    }

    /// The checkpoint stored with the greatest size.
    pub fn last(&self) -> Result<Option<Stored>, CheckpointsError> {
        match self.sizes()?.into_iter().max() {
            Some(size) => self.get(size),
            None => Ok(None),
        }
    }

    /// Stores `note` as the checkpoint of `size` entries, replacing what was stored for it. A
    /// new checkpoint's file that could not be written whole and listed goes again, so that a
    /// full disk leaves nothing behind.
    fn store(&self, size: u64, note: &[u8]) -> Result<(), CheckpointsError> {
        let io = self.io(Some(size));
        let mut sizes = self.sizes()?;
        let known = sizes.contains(&size);
        let stored = (|| {
            self.files.truncate(size, 0).map_err(&io)?;
            self.files.write_at(size, 0, note).map_err(&io)?;
            self.files.sync(size).map_err(&io)?;
            if !known {
                sizes.push(size);
                let head: Vec<u8> = sizes.iter().flat_map(|s| s.to_be_bytes()).collect();
                self.files.replace_head(&head).map_err(self.io(None))?;
            }
            Ok(())
        })();
        if stored.is_err() && !known {
            let _ = self.files.remove(size);
        }
        stored
    }
}

/// A checkpoint `sign` returns: its note, and whether it was signed now or the last one
/// already covered the log as it stands.
pub struct Signed {
    pub size: u64,
    pub note: Vec<u8>,
    pub new: bool,
}

/// Signs a checkpoint of `ledger`'s log as it stands with the operator's `key` (an active admin
/// key; the key's name in the note is the ledger's origin) and stores it. Refused when the log
/// does not extend the last checkpoint signed; when it is that checkpoint's size, that one is
/// returned as it is.
pub fn sign<F: LogFiles>(ledger: &Ledger<F>, key: &SecretKey) -> Result<Signed, CheckpointsError> {
    let origin = ledger.origin()?.ok_or(CheckpointsError::NoOrigin)?;
    let operator = key.public();
    let admin = ledger.keys()?.into_iter().any(|k| {
        k.public_key == operator.0 && k.revoked_seq.is_none() && k.role == crate::event::Role::Admin
    });
    if !admin {
        return Err(CheckpointsError::NotAnAdmin { key: operator });
    }
    let store = Checkpoints::of(ledger)?;
    let size = ledger.head().map_or(0, |head| head.seq + 1);
    if let Some(last) = store.last()? {
        let opened = open_stored(&last, &origin, ledger)?;
        if let Some(why) = divergence(ledger, opened.checkpoint.size, opened.checkpoint.root)? {
            return Err(CheckpointsError::Diverged {
                size: last.size,
                why,
            });
        }
        if last.size == size {
            return Ok(Signed {
                size,
                note: last.note,
                new: false,
            });
        }
    }
    let root = ledger.tree_root(size)?;
    let note = checkpoint::sign(&origin, size, root, key)?
        .to_string()
        .into_bytes();
    store.store(size, &note)?;
    Ok(Signed {
        size,
        note,
        new: true,
    })
}

/// Opens a stored checkpoint with whichever admin key of the ledger signed it.
fn open_stored<F: LogFiles>(
    stored: &Stored,
    origin: &str,
    ledger: &Ledger<F>,
) -> Result<Opened, CheckpointsError> {
    let mut last_error = CheckpointError::TooFewLines(0);
    for key in ledger.keys()? {
        if key.role != crate::event::Role::Admin {
            continue;
        }
        let vkey = verifier_key(origin, PublicKey(key.public_key))?;
        match checkpoint::open(&stored.note, &vkey) {
            Ok(opened) => return Ok(opened),
            Err(e) => last_error = e,
        }
    }
    Err(CheckpointsError::Stored {
        size: stored.size,
        source: last_error,
    })
}

/// Adds the cosignatures of `cosigned` (a checkpoint this ledger signed, with witnesses' lines
/// after the operator's) to the stored copy; returns its size and how many lines were new.
pub fn add_cosignatures<F: LogFiles>(
    ledger: &Ledger<F>,
    cosigned: &[u8],
) -> Result<(u64, usize), CheckpointsError> {
    let given = Note::parse(cosigned).map_err(CheckpointsError::Note)?;
    let stated = checkpoint::Checkpoint::parse_text(given.text())
        .map_err(CheckpointsError::NotACheckpoint)?;
    let store = Checkpoints::of(ledger)?;
    let not_ours = CheckpointsError::NotOurs { size: stated.size };
    let Some(stored) = store.get(stated.size)? else {
        return Err(not_ours);
    };
    let mut ours = Note::parse(&stored.note).map_err(CheckpointsError::Note)?;
    // The same text, and the operator's signature among the given lines: the witnesses
    // cosigned what this ledger signed.
    let operator = ours.signatures().first().cloned();
    if ours.text() != given.text() || operator.is_none_or(|op| !given.signatures().contains(&op)) {
        return Err(not_ours);
    }
    let mut added = 0;
    for line in given.signatures() {
        if !ours.signatures().contains(line) {
            ours.add(line.clone()).map_err(CheckpointsError::Note)?;
            added += 1;
        }
    }
    if added > 0 {
        store.store(stated.size, ours.to_string().as_bytes())?;
    }
    Ok((stated.size, added))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::tests::{in_memory, reports};
    use crate::log::mem::{at_every_fault, MemFiles};

    /// The checkpoints `files` keep, by size, and whether a file lies there that none lists.
    fn kept_by(files: &MemFiles) -> (Vec<(u64, Vec<u8>)>, bool) {
        let ledger = Ledger::with_files(files.clone()).unwrap();
        let store = Checkpoints::of(&ledger).unwrap();
        let all = store.all().unwrap();
        let sizes = store.sizes().unwrap();
        let stray = (0..=ledger.tree_size().unwrap())
            .any(|size| !sizes.contains(&size) && store.files.segment_len(size).unwrap().is_some());
        (all.into_iter().map(|s| (s.size, s.note)).collect(), stray)
    }

    /// Signing a checkpoint meets a failed write or sync, a full disk or a panic at each of its
    /// file operations: the checkpoints kept afterwards (and after a power cut) are the old ones,
    /// or the old ones and the new one whole, and no unlisted file is left behind.
    #[test]
    fn a_fault_at_any_write_or_sync_of_a_checkpoint_keeps_the_old_ones_or_the_new_one_whole() {
        let (ledger, files, admin, investigator) = in_memory();
        let first = sign(&ledger, &admin).unwrap();
        ledger.append(&investigator, &reports(0..5)).unwrap();
        drop(ledger);
        let old = vec![(first.size, first.note)];
        let operations = at_every_fault(
            &files,
            |faulty| {
                let ledger = Ledger::with_files(faulty.clone()).map_err(CheckpointsError::from)?;
                sign(&ledger, &admin)
            },
            |at, fault, copy, signed| {
                for (files, when) in [
                    (copy.clone(), "as left"),
                    (copy.after_crash(), "after a power cut"),
                ] {
                    let (kept, stray) = kept_by(&files);
                    // A panic, like a kill, may leave the new file unlisted: it is never read,
                    // and the next checkpoint of that size replaces it.
                    let unwound = signed.is_err() || when == "after a power cut";
                    assert!(
                        !stray || unwound,
                        "at {at}, {fault:?}, {when}: a file no checkpoint lists"
                    );
                    match signed {
                        Ok(Ok(new)) => {
                            let mut expected = old.clone();
                            expected.push((new.size, new.note.clone()));
                            assert_eq!(kept, expected, "at {at}, {fault:?}, {when}");
                        }
                        _ => assert!(
                            kept == old || (kept.len() == 2 && kept[0] == old[0]),
                            "at {at}, {fault:?}, {when}: {} kept",
                            kept.len()
                        ),
                    }
                    // Whatever was left, the next checkpoint is signed and kept whole.
                    let ledger = Ledger::with_files(files.clone()).unwrap();
                    let again = sign(&ledger, &admin).unwrap();
                    drop(ledger);
                    let (after, stray) = kept_by(&files);
                    assert!(
                        !stray,
                        "at {at}, {fault:?}, {when}: a stray file after signing again"
                    );
                    assert_eq!(
                        after.last(),
                        Some(&(again.size, again.note)),
                        "at {at}, {fault:?}"
                    );
                }
            },
        );
        assert!(operations.is_some_and(|n| n >= 3), "{operations:?}");
    }
}
