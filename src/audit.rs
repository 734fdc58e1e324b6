//! What an auditor checks holding nothing of the ledger but a verifier key: that an entry is in
//! the log a signed checkpoint commits to (its canonical bytes, its index and an inclusion
//! proof), that one checkpoint's log extends another's (a consistency proof), and that a receipt
//! (c2sp.org/tlog-proof: the entry, its path and a cosigned checkpoint in one file) holds, with
//! the witnesses' quorum when a policy is given; and the receipt a ledger makes for one entry.
//!
//! Each check says which rule failed; it never reads a ledger (only [`receipt`] does, to make
//! one) and never trusts what it is handed beyond what the signatures and hashes prove. An
//! entry's author is proved to have signed it, but not to have been enrolled: that takes the
//! log before it, which an auditor checks with `verify` or `audit remote`.

use crate::checkpoints::{Checkpoints, CheckpointsError};
use crate::entry::{Entry, EntryRef};
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::merkle::leaf_hash;
use crate::note::checkpoint::{self, Checkpoint, CheckpointError};
use crate::note::policy::{Cosigned, Policy, QuorumError};
use crate::note::receipt::{Receipt, ReceiptError};
use crate::note::signed::{Note, NoteError};
use crate::note::vkey::VerifierKey;
use crate::tree::proof::{verify_consistency, verify_inclusion, Proof, ProofError};
use crate::Ledger;

/// Why a check failed: the input is not what it should be read as ([`AuditError::is_problem`]
/// false: exit 2), or it reads and does not prove what it claims (a problem: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the checkpoint {which}cannot be used")]
    Checkpoint {
        which: &'static str,
        #[source]
        source: CheckpointError,
    },
    #[error("the two checkpoints are of different logs, {old:?} and {new:?}")]
    OtherLog { old: String, new: String },
    #[error("the entry's bytes do not decode as an entry")]
    Undecodable(#[source] crate::DecodeError),
    #[error("the entry says it is seq {seq}, not {index}")]
    OtherIndex { seq: u64, index: u64 },
    #[error(
        "the entry's seal does not verify: its author {author} did not sign these statement bytes"
    )]
    Seal { author: String },
    #[error("the inclusion proof does not show the entry at index {index} in the checkpoint's tree of {size} entries")]
    NotIncluded {
        index: u64,
        size: u64,
        #[source]
        source: ProofError,
    },
    #[error("the consistency proof does not show the tree of {new_size} entries extending the tree of {old_size}")]
    NotConsistent {
        old_size: u64,
        new_size: u64,
        #[source]
        source: ProofError,
    },
    #[error("the receipt cannot be read")]
    Receipt(#[source] ReceiptError),
    #[error("the checkpoint does not meet the policy's witness quorum")]
    Quorum(#[source] QuorumError),
    #[error(transparent)]
    Checkpoints(#[from] CheckpointsError),
    #[error(transparent)]
    Ledger(#[from] Box<LedgerError>),
    #[error("no checkpoint the ledger keeps covers seq {seq} (the last is of {last} entries); sign one with `ledger checkpoint` first")]
    NoCheckpoint { seq: u64, last: u64 },
}

impl From<LedgerError> for AuditError {
    fn from(e: LedgerError) -> Self {
        AuditError::Ledger(Box::new(e))
    }
}

impl AuditError {
    /// Whether the check found a problem (exit 1), rather than input it cannot read (exit 2).
    pub fn is_problem(&self) -> bool {
        match self {
            AuditError::Checkpoint { source, .. } => matches!(
                source,
                CheckpointError::Signature(_) | CheckpointError::OriginMismatch { .. }
            ),
            AuditError::OtherLog { .. }
            | AuditError::OtherIndex { .. }
            | AuditError::Seal { .. }
            | AuditError::NotIncluded { .. }
            | AuditError::NotConsistent { .. }
            | AuditError::Quorum(_) => true,
            _ => false,
        }
    }
}

/// What an inclusion check proved.
#[derive(Debug)]
pub struct Included {
    pub checkpoint: Checkpoint,
    pub entry: Entry,
}

fn open(bytes: &[u8], vkey: &VerifierKey, which: &'static str) -> Result<Note, AuditError> {
    let opened =
        checkpoint::open(bytes, vkey).map_err(|source| AuditError::Checkpoint { which, source })?;
    Ok(opened.note)
}

fn stated(note: &Note, which: &'static str) -> Result<Checkpoint, AuditError> {
    Checkpoint::parse_text(note.text()).map_err(|source| AuditError::Checkpoint { which, source })
}

/// Checks that `entry` (canonical bytes) is the entry at `index` of the log that the checkpoint
/// `checkpoint`, signed by `vkey`, commits to, by `proof`; and that its author sealed it.
pub fn inclusion(
    checkpoint: &[u8],
    vkey: &VerifierKey,
    entry: &[u8],
    index: u64,
    proof: &Proof,
) -> Result<Included, AuditError> {
    let note = open(checkpoint, vkey, "")?;
    let checkpoint = stated(&note, "")?;
    let decoded = EntryRef::decode(entry).map_err(AuditError::Undecodable)?;
    if decoded.seq != index {
        return Err(AuditError::OtherIndex {
            seq: decoded.seq,
            index,
        });
    }
    verify_inclusion(
        &leaf_hash(entry),
        index,
        checkpoint.size,
        proof,
        &checkpoint.root,
    )
    .map_err(|source| AuditError::NotIncluded {
        index,
        size: checkpoint.size,
        source,
    })?;
    let entry = decoded.to_owned();
    if !entry
        .seal
        .verifies(&entry.statement_bytes, &entry.statement.author)
    {
        return Err(AuditError::Seal {
            author: entry.statement.author.to_string(),
        });
    }
    Ok(Included { checkpoint, entry })
}

/// Checks that the log of checkpoint `new` extends that of checkpoint `old`, both signed by
/// `vkey`, by `proof`; returns the two sizes.
pub fn consistency(
    old: &[u8],
    new: &[u8],
    vkey: &VerifierKey,
    proof: &Proof,
) -> Result<(Checkpoint, Checkpoint), AuditError> {
    let old = stated(&open(old, vkey, "given as old ")?, "given as old ")?;
    let new = stated(&open(new, vkey, "given as new ")?, "given as new ")?;
    if old.origin != new.origin {
        return Err(AuditError::OtherLog {
            old: old.origin,
            new: new.origin,
        });
    }
    verify_consistency(old.size, new.size, proof, &old.root, &new.root).map_err(|source| {
        AuditError::NotConsistent {
            old_size: old.size,
            new_size: new.size,
            source,
        }
    })?;
    Ok((old, new))
}

/// What a receipt proved: its entry's inclusion, and the witnesses whose cosignatures met the
/// policy, if one was given.
#[derive(Debug)]
pub struct Proved {
    pub included: Included,
    pub witnesses: Vec<Cosigned>,
}

/// Checks a receipt: its checkpoint's signature by `vkey`, its entry's inclusion and seal, and
/// with `policy` the witnesses' quorum on the checkpoint.
pub fn receipt(
    receipt: &[u8],
    vkey: &VerifierKey,
    policy: Option<&Policy>,
) -> Result<Proved, AuditError> {
    let receipt = Receipt::parse(receipt).map_err(AuditError::Receipt)?;
    let proof = Proof(receipt.path.clone());
    let included = inclusion(
        receipt.checkpoint.as_bytes(),
        vkey,
        &receipt.entry,
        receipt.index,
        &proof,
    )?;
    let witnesses = match policy {
        None => Vec::new(),
        Some(policy) => {
            let note = open(receipt.checkpoint.as_bytes(), vkey, "")?;
            policy.check_quorum(&note).map_err(AuditError::Quorum)?
        }
    };
    Ok(Proved {
        included,
        witnesses,
    })
}

/// The receipt of the entry at `seq`: its bytes, and its inclusion path in the tree of the
/// first checkpoint the ledger keeps that covers it (the earliest, which has had the longest
/// to gather cosignatures), with that checkpoint as kept.
pub fn make_receipt<F: LogFiles>(ledger: &Ledger<F>, seq: u64) -> Result<Receipt, AuditError> {
    let store = Checkpoints::of(ledger)?;
    let kept = store.all()?;
    let last = kept.last().map_or(0, |stored| stored.size);
    let Some(covering) = kept.into_iter().find(|stored| stored.size > seq) else {
        return Err(AuditError::NoCheckpoint { seq, last });
    };
    let entry = ledger
        .entry_bytes(seq)?
        .ok_or(AuditError::NoCheckpoint { seq, last })?;
    let path = ledger.inclusion_proof(seq, covering.size)?;
    let size = covering.size;
    let checkpoint = String::from_utf8(covering.note).map_err(|_| CheckpointsError::Stored {
        size,
        source: CheckpointError::Note(NoteError::NotUtf8),
    })?;
    Ok(Receipt {
        entry,
        index: seq,
        path: path.0,
        checkpoint,
    })
}
