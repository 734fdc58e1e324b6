//! A witness's memory: for each log (by origin) the last checkpoint this witness cosigned, kept in
//! a state directory, and the rule that guards it (c2sp.org/tlog-witness). A checkpoint is
//! cosigned only if the log's key signed it and it extends what was cosigned before: the same
//! size needs the same root (else a fork), a smaller size is a rollback, a larger one needs a
//! consistency proof from the old size that verifies; and the new cosignature's time may not be
//! earlier than the last one's.
//!
//! Check and store are one step under an exclusive lock on `DIR/lock`: the new state is written
//! to a temporary file in the directory, synced, renamed over the old and the directory synced,
//! so that two cosigns cannot interleave (which could roll the state back) and a crash leaves the
//! old state or the new, never a mix. No path in the directory is followed if it is a symlink.
//! It never reads the clock (the caller gives the timestamp) and never fetches anything.

use crate::keys::SecretKey;
use crate::merkle::Hash;
use crate::note::checkpoint::{self, Checkpoint, CheckpointError};
use crate::note::cosignature::{self, CosignatureError};
use crate::note::signed::{Note, NoteError, SignatureLine};
use crate::note::vkey::{KeyType, VerifierKey};
use crate::tree::proof::{verify_consistency, Proof};
use base64::prelude::{Engine, BASE64_STANDARD};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The lock file's name in a state directory.
pub const LOCK_FILE: &str = "lock";
/// The root hash of the empty tree, SHA-256 of nothing (RFC 6962 section 2.1).
const EMPTY_ROOT: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("this checkpoint cannot be cosigned")]
    Checkpoint(#[source] CheckpointError),
    #[error("the witness cannot cosign")]
    Cosign(#[source] CosignatureError),
    #[error("the cosignature cannot be added to the checkpoint")]
    Note(#[source] NoteError),
    #[error("{path} is a symlink; a witness's state directory holds none")]
    Symlink { path: PathBuf },
    #[error("{path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("cannot read or write the witness state at {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the witness state at {dir} is in use by another process")]
    InUse { dir: PathBuf },
    #[error("the witness state file {path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("fork: this witness cosigned {origin} at size {size} with root {cosigned}, and this checkpoint has root {offered} at the same size")]
    Fork {
        origin: String,
        size: u64,
        cosigned: String,
        offered: String,
    },
    #[error("rollback: this witness cosigned {origin} at size {cosigned}, and this checkpoint is smaller, size {offered}")]
    Rollback {
        origin: String,
        cosigned: u64,
        offered: u64,
    },
    #[error("this witness cosigned {origin} at size {from}; a checkpoint at size {to} needs a consistency proof from {from}")]
    ProofNeeded { origin: String, from: u64, to: u64 },
    #[error("the consistency proof from size {from} to {to} of {origin} does not verify: the log does not extend what this witness cosigned")]
    Inconsistent { origin: String, from: u64, to: u64 },
    #[error("a checkpoint of size 0 must have the empty tree's root {EMPTY_ROOT}")]
    EmptyRoot,
    #[error("this witness's clock says {now}, before the time {last} of its last cosignature for {origin}")]
    ClockBehind { origin: String, last: u64, now: u64 },
}

impl WitnessError {
    /// Whether the refusal is a finding about the log (a bad signature, a fork, a rollback, an
    /// inconsistent proof) rather than bad input or I/O.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            WitnessError::Checkpoint(CheckpointError::Signature(_))
                | WitnessError::Fork { .. }
                | WitnessError::Rollback { .. }
                | WitnessError::Inconsistent { .. }
        )
    }
}

/// The witness: its key, under a key name, and its state directory.
pub struct Witness<'a> {
    pub name: &'a str,
    pub key: &'a SecretKey,
    pub state: &'a Path,
}

/// A cosignature made, with what it cosigned.
#[derive(Debug)]
pub struct Cosigned {
    pub line: SignatureLine,
    pub checkpoint: Checkpoint,
    /// The size this witness had cosigned before for the origin, if any.
    pub previous: Option<u64>,
}

impl Witness<'_> {
    /// Cosigns `checkpoint` (a signed note) for the log whose key is `log`, at `timestamp`
    /// (seconds), if it extends what this witness cosigned before for its origin; `proof` is the
    /// consistency proof from that size. Waits up to `wait` for another cosign to finish.
    pub fn cosign(
        &self,
        checkpoint: &[u8],
        log: &VerifierKey,
        proof: &[Hash],
        timestamp: u64,
        wait: Duration,
    ) -> Result<Cosigned, WitnessError> {
        let opened = checkpoint::open(checkpoint, log).map_err(WitnessError::Checkpoint)?;
        let offered = &opened.checkpoint;
        if offered.size == 0 && BASE64_STANDARD.encode(offered.root) != EMPTY_ROOT {
            return Err(WitnessError::EmptyRoot);
        }
        // Made before the lock is taken: nothing below can fail for the key's sake.
        let line = cosignature::cosign(&opened.note, self.name, self.key, timestamp)
            .map_err(WitnessError::Cosign)?;
        let _lock = self.lock(wait)?;
        let path = self.state_file(&offered.origin);
        let previous = read_state(&path, &offered.origin)?;
        if let Some((cosigned, note)) = &previous {
            check_extends(cosigned, offered, proof)?;
            // Times only move forward along a log, so that a later, larger checkpoint never seems
            // older (an earlier line of another key or name, or none, sets no bound).
            let own = VerifierKey::new(self.name, KeyType::Cosignature, self.key.public());
            if let Some(last) = own
                .ok()
                .and_then(|own| cosignature::verify(note, &own).ok())
            {
                if timestamp < last {
                    return Err(WitnessError::ClockBehind {
                        origin: offered.origin.clone(),
                        last,
                        now: timestamp,
                    });
                }
            }
        }
        // A checkpoint offered again may carry this witness's earlier cosignature: it is replaced.
        let mut note = opened.note;
        note.add(line.clone()).map_err(WitnessError::Note)?;
        self.store(&path, &note.to_string())?;
        Ok(Cosigned {
            line,
            checkpoint: opened.checkpoint,
            previous: previous.map(|(p, _)| p.size),
        })
    }

    /// The state file of a log: named by the SHA-256 of its origin, which may hold any
    /// character; the file's first line is the origin itself.
    fn state_file(&self, origin: &str) -> PathBuf {
        let digest = Sha256::digest(origin.as_bytes());
        self.state
            .join(format!("{}.checkpoint", hex::encode(digest)))
    }

    fn lock(&self, wait: Duration) -> Result<File, WitnessError> {
        let dir = self.state;
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(WitnessError::Symlink {
                    path: dir.to_path_buf(),
                })
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(WitnessError::NotADirectory {
                    path: dir.to_path_buf(),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(io(dir))?,
            Err(e) => return Err(io(dir)(e)),
        }
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(refuse_symlink(&path))?;
        let deadline = crate::lock::deadline_after(wait);
        if crate::lock::lock_before(&file, deadline).map_err(io(&path))? {
            Ok(file)
        } else {
            Err(WitnessError::InUse {
                dir: dir.to_path_buf(),
            })
        }
    }

    /// Replaces the state file by `text`: temporary file, fsync, rename, fsync of the directory.
    fn store(&self, path: &Path, text: &str) -> Result<(), WitnessError> {
        let temporary = path.with_extension("new");
        // A leftover from a crash (or anything planted there) goes; removing a symlink removes
        // the link, not what it names.
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&temporary)(e)),
            _ => {}
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temporary)
            .map_err(refuse_symlink(&temporary))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&temporary))?;
        std::fs::rename(&temporary, path).map_err(io(path))?;
        File::open(self.state)
            .and_then(|dir| dir.sync_all())
            .map_err(io(self.state))
    }
}

/// The checkpoint this witness last cosigned for `origin`, if any, and its note.
fn read_state(path: &Path, origin: &str) -> Result<Option<(Checkpoint, Note)>, WitnessError> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse_symlink(path)(e)),
    };
    let mut bytes = Vec::new();
    Read::by_ref(&mut file)
        .take(crate::note::signed::MAX_NOTE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    let damaged = |reason: String| WitnessError::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    let note = Note::parse(&bytes).map_err(|e| damaged(e.to_string()))?;
    let checkpoint = Checkpoint::parse_text(note.text()).map_err(|e| damaged(e.to_string()))?;
    if checkpoint.origin != origin {
        return Err(damaged(format!(
            "it holds a checkpoint of {:?}",
            checkpoint.origin
        )));
    }
    Ok(Some((checkpoint, note)))
}

/// Whether `offered` extends `cosigned`, with `proof` from `cosigned.size` when it is larger.
fn check_extends(
    cosigned: &Checkpoint,
    offered: &Checkpoint,
    proof: &[Hash],
) -> Result<(), WitnessError> {
    let origin = || offered.origin.clone();
    if offered.size < cosigned.size {
        return Err(WitnessError::Rollback {
            origin: origin(),
            cosigned: cosigned.size,
            offered: offered.size,
        });
    }
    if offered.size == cosigned.size {
        return if offered.root == cosigned.root {
            Ok(())
        } else {
            Err(WitnessError::Fork {
                origin: origin(),
                size: offered.size,
                cosigned: BASE64_STANDARD.encode(cosigned.root),
                offered: BASE64_STANDARD.encode(offered.root),
            })
        };
    }
    // The empty tree is a prefix of every tree.
    if cosigned.size == 0 {
        return Ok(());
    }
    if proof.is_empty() {
        return Err(WitnessError::ProofNeeded {
            origin: origin(),
            from: cosigned.size,
            to: offered.size,
        });
    }
    verify_consistency(
        cosigned.size,
        offered.size,
        &Proof(proof.to_vec()),
        &cosigned.root,
        &offered.root,
    )
    .map_err(|_| WitnessError::Inconsistent {
        origin: origin(),
        from: cosigned.size,
        to: offered.size,
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> WitnessError + '_ {
    move |source| WitnessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `O_NOFOLLOW` fails with `ELOOP` on a symlink: that is a refusal, not an I/O error.
fn refuse_symlink(path: &Path) -> impl Fn(std::io::Error) -> WitnessError + '_ {
    move |source| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            WitnessError::Symlink {
                path: path.to_path_buf(),
            }
        } else {
            io(path)(source)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "log.example/a";
    const NAME: &str = "witness.example/w1";

    struct Setup {
        operator: SecretKey,
        log: VerifierKey,
        witness: SecretKey,
        dir: tempfile::TempDir,
    }

    impl Setup {
        fn new() -> Setup {
            let operator = SecretKey::from_seed([1; 32], None);
            let log = VerifierKey::new(ORIGIN, KeyType::Ed25519, operator.public()).unwrap();
            Setup {
                operator,
                log,
                witness: SecretKey::from_seed([4; 32], None),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn state(&self) -> PathBuf {
            self.dir.path().join("state")
        }

        fn cosign(&self, size: u64, root: Hash, proof: &[Hash]) -> Result<Cosigned, WitnessError> {
            let note = checkpoint::sign(ORIGIN, size, root, &self.operator).unwrap();
            let state = self.state();
            let witness = Witness {
                name: NAME,
                key: &self.witness,
                state: &state,
            };
            witness.cosign(
                note.to_string().as_bytes(),
                &self.log,
                proof,
                1_700_000_000 + size,
                Duration::ZERO,
            )
        }
    }

    #[test]
    fn the_first_checkpoint_is_cosigned_and_remembered() {
        let setup = Setup::new();
        let cosigned = setup.cosign(5, [5; 32], &[]).unwrap();
        assert_eq!((cosigned.checkpoint.size, cosigned.previous), (5, None));
        let witness = VerifierKey::new(NAME, KeyType::Cosignature, setup.witness.public()).unwrap();
        let stored = std::fs::read_dir(setup.state())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "checkpoint"))
            .unwrap();
        let note = Note::parse(&std::fs::read(stored).unwrap()).unwrap();
        assert_eq!(cosignature::verify(&note, &witness), Ok(1_700_000_005));
        // The same checkpoint again is cosigned again.
        assert_eq!(setup.cosign(5, [5; 32], &[]).unwrap().previous, Some(5));
    }

    #[test]
    fn a_fork_a_rollback_and_a_missing_or_wrong_proof_are_refused_and_change_nothing() {
        let setup = Setup::new();
        setup.cosign(5, [5; 32], &[]).unwrap();
        let refused = [
            setup.cosign(5, [6; 32], &[]).unwrap_err(),
            setup.cosign(4, [4; 32], &[]).unwrap_err(),
            setup.cosign(6, [6; 32], &[]).unwrap_err(),
            setup.cosign(6, [6; 32], &[[1; 32], [2; 32]]).unwrap_err(),
        ];
        assert!(matches!(refused[0], WitnessError::Fork { size: 5, .. }));
        assert!(matches!(
            refused[1],
            WitnessError::Rollback {
                cosigned: 5,
                offered: 4,
                ..
            }
        ));
        assert!(matches!(
            refused[2],
            WitnessError::ProofNeeded { from: 5, to: 6, .. }
        ));
        assert!(matches!(
            refused[3],
            WitnessError::Inconsistent { from: 5, to: 6, .. }
        ));
        assert_eq!(
            refused
                .iter()
                .map(WitnessError::is_problem)
                .collect::<Vec<_>>(),
            [true, true, false, true]
        );
        // The state still holds size 5 and its root.
        assert_eq!(setup.cosign(5, [5; 32], &[]).unwrap().previous, Some(5));
    }

    #[test]
    fn a_clock_set_back_is_refused() {
        let setup = Setup::new();
        setup.cosign(5, [5; 32], &[]).unwrap();
        let note = checkpoint::sign(ORIGIN, 5, [5; 32], &setup.operator).unwrap();
        let state = setup.state();
        let witness = Witness {
            name: NAME,
            key: &setup.witness,
            state: &state,
        };
        let cosign = |timestamp| {
            witness.cosign(
                note.to_string().as_bytes(),
                &setup.log,
                &[],
                timestamp,
                Duration::ZERO,
            )
        };
        assert!(matches!(
            cosign(1_700_000_004),
            Err(WitnessError::ClockBehind {
                last: 1_700_000_005,
                now: 1_700_000_004,
                ..
            })
        ));
        cosign(1_700_000_005).unwrap();
    }

    #[test]
    fn a_checkpoint_not_signed_by_the_log_is_refused() {
        let setup = Setup::new();
        let stranger = SecretKey::from_seed([9; 32], None);
        let note = checkpoint::sign(ORIGIN, 5, [5; 32], &stranger).unwrap();
        let state = setup.state();
        let witness = Witness {
            name: NAME,
            key: &setup.witness,
            state: &state,
        };
        let refused = witness
            .cosign(
                note.to_string().as_bytes(),
                &setup.log,
                &[],
                1,
                Duration::ZERO,
            )
            .unwrap_err();
        assert!(refused.is_problem(), "{refused}");
        assert!(!state.exists(), "nothing was written");
    }

    #[test]
    fn an_empty_tree_needs_the_empty_root() {
        let setup = Setup::new();
        assert!(matches!(
            setup.cosign(0, [0; 32], &[]),
            Err(WitnessError::EmptyRoot)
        ));
        let empty: Hash = Sha256::digest(b"").into();
        setup.cosign(0, empty, &[]).unwrap();
        // Anything extends the empty tree, with no proof.
        setup.cosign(3, [3; 32], &[]).unwrap();
    }

    #[test]
    fn symlinks_in_the_state_directory_are_refused() {
        let setup = Setup::new();
        setup.cosign(5, [5; 32], &[]).unwrap();
        let state = setup.state();
        let stored = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "checkpoint"))
            .unwrap();
        // A state file replaced by a link to an older checkpoint would hide the fork.
        let elsewhere = setup.dir.path().join("elsewhere");
        std::fs::rename(&stored, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &stored).unwrap();
        assert!(matches!(
            setup.cosign(5, [5; 32], &[]),
            Err(WitnessError::Symlink { path }) if path == stored
        ));
        std::fs::remove_file(&stored).unwrap();
        std::fs::rename(&elsewhere, &stored).unwrap();
        std::fs::remove_file(state.join(LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, state.join(LOCK_FILE)).unwrap();
        assert!(matches!(
            setup.cosign(5, [5; 32], &[]),
            Err(WitnessError::Symlink { .. })
        ));
        // The directory itself.
        let linked = setup.dir.path().join("linked");
        std::os::unix::fs::symlink(&state, &linked).unwrap();
        let note = checkpoint::sign(ORIGIN, 5, [5; 32], &setup.operator).unwrap();
        let witness = Witness {
            name: NAME,
            key: &setup.witness,
            state: &linked,
        };
        assert!(matches!(
            witness.cosign(
                note.to_string().as_bytes(),
                &setup.log,
                &[],
                1,
                Duration::ZERO
            ),
            Err(WitnessError::Symlink { .. })
        ));
    }

    #[test]
    fn a_second_cosign_waits_for_the_lock() {
        let setup = Setup::new();
        setup.cosign(5, [5; 32], &[]).unwrap();
        let held = File::open(setup.state().join(LOCK_FILE)).unwrap();
        held.lock().unwrap();
        assert!(matches!(
            setup.cosign(5, [5; 32], &[]),
            Err(WitnessError::InUse { .. })
        ));
        held.unlock().unwrap();
        setup.cosign(5, [5; 32], &[]).unwrap();
    }
}
