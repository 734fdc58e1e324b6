//! What `verify` checks beyond the entries when an auditor brings a checkpoint or a witness
//! policy: that the log extends the checkpoint (nothing cut from its end, nothing before it
//! rewritten), that the checkpoint meets the policy's witness quorum, and time that is not the
//! operator's: a checkpoint cosigned by the policy's witnesses existed by the time they state,
//! so every entry it holds was recorded by then, and an entry it does not hold was recorded no
//! earlier than it was cosigned, give or take the delay allowed between signing a checkpoint and
//! cosigning it. Each entry's `recorded_at` must lie in that window (docs/FORMAT.md, section 5).
//!
//! It reads the log and the checkpoints the ledger keeps; it never writes, and never takes a
//! checkpoint's word without the log's signature and the witnesses' cosignatures on it.

use crate::checkpoints::{self, Checkpoints, CheckpointsError, Divergence};
use crate::entry::EntryRef;
use crate::event::Role;
use crate::keys::PublicKey;
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::note::checkpoint::{self, CheckpointError, Opened};
use crate::note::policy::Policy;
use crate::note::vkey::VerifierKey;
use crate::time::Timestamp;
use crate::verify::Problem;
use crate::Ledger;
use std::time::Duration;

/// What the auditor brings to `verify`.
pub struct Holds<'a> {
    /// A signed checkpoint the log must extend.
    pub checkpoint: Option<&'a [u8]>,
    /// The log's verifier key; without it, the policy's key for the ledger's origin, else the
    /// keys of the ledger's admins.
    pub vkey: Option<VerifierKey>,
    /// The witnesses, and the quorum the checkpoint and the witnessed times must meet.
    pub policy: Option<&'a Policy>,
    /// How long after a checkpoint is signed its cosignatures may be made.
    pub witness_delay: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessedError {
    #[error(transparent)]
    Ledger(#[from] Box<LedgerError>),
    #[error(transparent)]
    Checkpoints(#[from] CheckpointsError),
    #[error("the checkpoint given cannot be used")]
    Checkpoint(#[source] CheckpointError),
    #[error("the ledger has no origin (no genesis entry), so no checkpoint can name it")]
    NoOrigin,
}

impl From<LedgerError> for WitnessedError {
    fn from(e: LedgerError) -> Self {
        WitnessedError::Ledger(Box::new(e))
    }
}

/// A checkpoint that met the policy's quorum: its size, and the earliest and the latest time
/// its quorum's witnesses state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witnessed {
    pub size: u64,
    pub earliest: Timestamp,
    pub latest: Timestamp,
}

/// The times an entry's `recorded_at` must lie between: after the earliest cosignature of the
/// last witnessed checkpoint that does not hold it, less the delay allowed; before the latest
/// cosignature of the first that does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub after: Option<Timestamp>,
    pub before: Option<Timestamp>,
}

/// The window of the entry at `seq`, given the witnessed checkpoints in order of size.
pub fn window(witnessed: &[Witnessed], seq: u64, delay: Duration) -> Window {
    let delay = i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
    let not_holding = witnessed.iter().filter(|w| w.size <= seq);
    let after =
        (not_holding.map(|w| w.earliest.0).max()).map(|t| Timestamp(t.saturating_sub(delay)));
    let holding = witnessed.iter().filter(|w| w.size > seq);
    let before = holding.map(|w| w.latest).min();
    Window { after, before }
}

/// The checkpoint's verifier key: the one given, the policy's for the origin, or (`None`) each
/// admin key of the ledger in turn.
fn candidate_keys<F: LogFiles>(
    ledger: &Ledger<F>,
    origin: &str,
    holds: &Holds,
) -> Result<Vec<VerifierKey>, WitnessedError> {
    if let Some(vkey) = &holds.vkey {
        return Ok(vec![vkey.clone()]);
    }
    if let Some(vkey) = holds.policy.and_then(|policy| policy.log_for(origin)) {
        return Ok(vec![vkey.clone()]);
    }
    let admins = ledger.keys()?.into_iter().filter(|k| k.role == Role::Admin);
    Ok(admins
        .filter_map(|k| checkpoints::verifier_key(origin, PublicKey(k.public_key)).ok())
        .collect())
}

fn open_with(bytes: &[u8], keys: &[VerifierKey]) -> Result<Opened, CheckpointError> {
    let mut last = CheckpointError::TooFewLines(0);
    for key in keys {
        match checkpoint::open(bytes, key) {
            Ok(opened) => return Ok(opened),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The witnessed checkpoints among `notes` (opened with `keys`): those that meet the policy's
/// quorum, in order of size.
fn witnessed(notes: &[Vec<u8>], keys: &[VerifierKey], policy: &Policy) -> Vec<Witnessed> {
    let mut witnessed: Vec<Witnessed> = notes
        .iter()
        .filter_map(|note| {
            let opened = open_with(note, keys).ok()?;
            let cosigned = policy.check_quorum(&opened.note).ok()?;
            let times = cosigned.iter().map(|c| c.timestamp);
            // A cosignature states whole seconds: what it holds existed by the end of that one.
            let latest = Timestamp::from_seconds(times.clone().max()?.saturating_add(1));
            Some(Witnessed {
                size: opened.checkpoint.size,
                earliest: Timestamp::from_seconds(times.min()?),
                latest: Timestamp(latest.0.saturating_sub(1)),
            })
        })
        .collect();
    witnessed.sort_by_key(|w| w.size);
    witnessed
}

/// The window of the entry at `seq`, from the checkpoints the ledger keeps (and the one `holds`
/// brings) that meet the policy's quorum.
pub fn window_of<F: LogFiles>(
    ledger: &Ledger<F>,
    holds: &Holds,
    seq: u64,
) -> Result<Window, WitnessedError> {
    let Some(policy) = holds.policy else {
        return Ok(Window::default());
    };
    let origin = ledger.origin()?.ok_or(WitnessedError::NoOrigin)?;
    let keys = candidate_keys(ledger, &origin, holds)?;
    let witnessed = witnessed_of(ledger, holds, &keys, policy)?;
    Ok(window(&witnessed, seq, holds.witness_delay))
}

/// The witnessed checkpoints among the one `holds` brings and those the ledger keeps.
fn witnessed_of<F: LogFiles>(
    ledger: &Ledger<F>,
    holds: &Holds,
    keys: &[VerifierKey],
    policy: &Policy,
) -> Result<Vec<Witnessed>, WitnessedError> {
    let mut notes: Vec<Vec<u8>> = holds.checkpoint.map(<[u8]>::to_vec).into_iter().collect();
    notes.extend(
        Checkpoints::of(ledger)?
            .all()?
            .into_iter()
            .map(|kept| kept.note),
    );
    Ok(witnessed(&notes, keys, policy))
}

/// The problems of `holds` with `ledger`'s log, each given to `problem`; returns how many.
pub fn check<F: LogFiles>(
    ledger: &Ledger<F>,
    holds: &Holds,
    problem: &mut dyn FnMut(Problem),
) -> Result<u64, WitnessedError> {
    let origin = ledger.origin()?.ok_or(WitnessedError::NoOrigin)?;
    let keys = candidate_keys(ledger, &origin, holds)?;
    let mut found = 0;
    let mut report = |seq: u64, reason: String| {
        found += 1;
        problem(Problem { seq, reason });
    };
    if let Some(given) = holds.checkpoint {
        let opened = open_with(given, &keys).map_err(WitnessedError::Checkpoint)?;
        let (size, root) = (opened.checkpoint.size, opened.checkpoint.root);
        if let Some(why) = checkpoints::divergence(ledger, size, root)? {
            // Where the log stops matching: its end when it is shorter, else the checkpoint's.
            let seq = match why {
                Divergence::Shorter { log_size, .. } => log_size,
                Divergence::OtherRoot { .. } => size.saturating_sub(1),
            };
            report(
                seq,
                format!("the log does not extend the checkpoint given: {why}"),
            );
        }
        if let Some(policy) = holds.policy {
            if let Err(e) = policy.check_quorum(&opened.note) {
                report(
                    size.saturating_sub(1),
                    format!("the checkpoint given does not meet the policy's witness quorum: {e}"),
                );
            }
        }
    }
    let Some(policy) = holds.policy else {
        return Ok(found);
    };
    let witnessed = witnessed_of(ledger, holds, &keys, policy)?;
    if witnessed.is_empty() {
        return Ok(found);
    }
    for item in ledger.log().entries(0) {
        let (seq, bytes) = item.map_err(LedgerError::from)?;
        // An entry that does not decode is verify's to report.
        let Ok(entry) = EntryRef::decode(&bytes) else {
            continue;
        };
        let Window { after, before } = window(&witnessed, seq, holds.witness_delay);
        let at = entry.recorded_at;
        if let Some(before) = before.filter(|&before| at > before) {
            report(seq, format!("recorded_at {at} is after {before}, when witnesses cosigned a checkpoint that holds this entry: it is forward-dated"));
        } else if let Some(after) = after.filter(|&after| at < after) {
            report(seq, format!("recorded_at {at} is before {after}, when witnesses had cosigned a checkpoint that does not hold this entry (less the {}-second delay allowed): it is back-dated", holds.witness_delay.as_secs()));
        }
    }
    Ok(found)
}
