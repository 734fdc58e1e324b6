//! The full audit of a ledger from its log files alone: the files' framing up to the head, seq
//! continuity, every `prev` link and entry hash recomputed, the head's hash, every seal's
//! signature (`verify_strict`, on all cores), the author's enrolment, revocation and role at each
//! seq, each payload's schema and the rules; that every seal's statements appear whole (complete,
//! consecutive, in index order and once); and, when it is given the stored tree, that the tree
//! agrees with the entries.
//!
//! It streams the log in fixed-size chunks, so memory stays bounded by the chunk plus the rule
//! state (one small record per key and per incident). It must never take an index, cache,
//! projection or any other derived state as evidence.

use crate::entry::{entry_hash, EntryRef, ZERO_HASH};
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::log::{Head, LogError, LogResult, StoredBytes};
use crate::merkle::{self, Hash};
use crate::payload::{Payload, PayloadError};
use crate::rules::{AdmitError, Empty, RuleState, RuleViolation, StateChanges};
use crate::schema::{PayloadRefusal, SchemaError, Schemas};
use crate::statement::seal_message;
use crate::time::Timestamp;
use crate::tree::audit::TreeCheck;
use crate::DecodeError;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

/// Entries examined per parallel step: large enough to keep both cores busy, small enough that
/// memory does not grow with the log.
const CHUNK: usize = 4096;

/// What is wrong with one entry, seen on its own or against the rules. The cause is kept and
/// shown in the sentence, since a problem is reported as one line.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    #[error("the entry does not decode: {0}")]
    Undecodable(DecodeError),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("the payload is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0} payload breaks its schema: {1}")]
    Schema(EventType, SchemaError),
    #[error("{0}")]
    Payload(PayloadError),
    #[error("{0} breaks a rule: {1}")]
    Rule(EventType, RuleViolation),
}

/// One integrity problem, at the seq where it shows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub seq: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub origin: Option<String>,
    pub entries: u64,
    /// Distinct seals whose signature was checked (one per signed batch).
    pub signatures: u64,
    pub keys: usize,
    pub incidents: usize,
    pub problems: u64,
    pub last_seq: Option<u64>,
    #[serde(serialize_with = "hex_hash")]
    pub last_hash: Option<Hash>,
}

#[allow(clippy::ref_option)] // serde's `serialize_with` hands over `&Option<Hash>`
fn hex_hash<S: serde::Serializer>(hash: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
    match hash {
        Some(h) => s.serialize_str(&hex::encode(h)),
        None => s.serialize_none(),
    }
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problems == 0
    }
}

/// What can be checked of one entry without looking at any other, borrowing from its bytes.
struct Examined<'a> {
    stored_seq: u64,
    hash: Hash,
    entry: Result<EntryRef<'a>, DecodeError>,
    batch_root: Option<Hash>,
    payload: Result<Payload<'a>, EntryProblem>,
    /// The entry's RFC 6962 leaf hash, when the tree is checked.
    leaf: Option<Hash>,
}

/// Everything of [`Examined`] but the batch root, which [`seal_roots`] fills in per chunk.
fn examine<'a>(schemas: &Schemas, stored_seq: u64, bytes: &'a [u8], leaf: bool) -> Examined<'a> {
    let hash = entry_hash(bytes);
    let entry = EntryRef::decode(bytes);
    let payload = match &entry {
        Err(e) => Err(EntryProblem::Undecodable(e.clone())),
        Ok(entry) => check_payload(schemas, entry),
    };
    Examined {
        stored_seq,
        hash,
        entry,
        batch_root: None,
        payload,
        leaf: leaf.then(|| merkle::leaf_hash(bytes)),
    }
}

/// The batch root each entry's seal claims, as [`EntryRef::batch_root`] gives it. A whole batch
/// that lies in the chunk in order (seal indexes 0 to n - 1 under one author and signature) has
/// its tree built once, and an entry whose proof is its path in that tree has that tree's head,
/// which is what its proof recomputes to; any other entry's root is recomputed on its own.
fn seal_roots(examined: &mut [Examined]) {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < examined.len() {
        let len = whole_batch_at(&examined[start..]).unwrap_or(1);
        batches.push(start..start + len);
        start += len;
    }
    let roots: Vec<Vec<Option<Hash>>> = batches
        .par_iter()
        .map(|batch| {
            let items = &examined[batch.clone()];
            let alone = |item: &Examined| item.entry.as_ref().ok().and_then(EntryRef::batch_root);
            let entries: Vec<&EntryRef> =
                items.iter().filter_map(|i| i.entry.as_ref().ok()).collect();
            if items.len() == 1 || entries.len() != items.len() {
                return items.iter().map(alone).collect();
            }
            let leaves: Vec<Hash> = entries
                .iter()
                .map(|e| merkle::leaf_hash(e.statement_bytes))
                .collect();
            let (root, fits) = merkle::root_and_proof_checks(&leaves, |i| entries[i].seal_proof());
            items
                .iter()
                .zip(fits)
                .map(|(item, fits)| if fits { Some(root) } else { alone(item) })
                .collect()
        })
        .collect();
    for (batch, roots) in batches.into_iter().zip(roots) {
        for (item, root) in examined[batch].iter_mut().zip(roots) {
            item.batch_root = root;
        }
    }
}

/// The size of the whole batch that starts `items`, if all of it is there in seal order.
fn whole_batch_at(items: &[Examined]) -> Option<usize> {
    let first = items.first()?.entry.as_ref().ok()?;
    let size = usize::try_from(first.seal_batch_size()).ok()?;
    if first.seal_index() != 0 || size < 2 || items.len() < size {
        return None;
    }
    let same_seal = items[..size].iter().enumerate().all(|(index, item)| {
        item.entry.as_ref().is_ok_and(|e| {
            e.seal_index() == index as u64
                && e.seal_batch_size() == first.seal_batch_size()
                && e.statement.author == first.statement.author
                && e.seal_signature() == first.seal_signature()
        })
    });
    same_seal.then_some(size)
}

/// An entry's payload, parsed once, checked against its schema and typed.
fn check_payload<'a>(schemas: &Schemas, entry: &EntryRef<'a>) -> Result<Payload<'a>, EntryProblem> {
    let statement = &entry.statement;
    let event_type = EventType::parse(statement.event_type)
        .ok_or_else(|| EntryProblem::UnknownType(statement.event_type.to_string()))?;
    schemas
        .check(event_type, statement.schema_version, statement.payload)
        .map_err(|refusal| match refusal {
            PayloadRefusal::Json(e) => EntryProblem::Json(e),
            PayloadRefusal::Schema(e) => EntryProblem::Schema(event_type, e),
            PayloadRefusal::Payload(e) => EntryProblem::Payload(e),
        })
}

/// A seal as signed: the same batch signature appears on every entry of the batch, so it is
/// checked once.
type SealKey = (PublicKey, u64, Hash, [u8; 64]);

/// Audits the whole log: `entries` from seq 0 up to the log's durable `head`. A stretch of the
/// log's files that cannot be read is a problem naming its seqs, and the audit goes on after it.
/// Each problem goes to `on_problem` as it is found; when that answers `Break` (its reader has
/// gone away), the audit stops at the end of the chunk it is in and the report covers the log up
/// to there. Only an I/O error stops it otherwise.
pub fn verify(
    entries: impl Iterator<Item = LogResult<(u64, StoredBytes)>>,
    schemas: &Schemas,
    head: Option<Head>,
    tree: Option<&mut dyn TreeCheck>,
    on_problem: impl FnMut(&Problem) -> ControlFlow<()>,
) -> Result<Report, LogError> {
    audit(entries, schemas, head, tree, on_problem).map(|(report, _)| report)
}

/// [`verify`], also giving the rule state folded from the log: what derived state must hold when
/// the audit found no problem (a rebuild of derived state is exactly this fold).
pub(crate) fn audit(
    mut entries: impl Iterator<Item = LogResult<(u64, StoredBytes)>>,
    schemas: &Schemas,
    head: Option<Head>,
    mut tree: Option<&mut dyn TreeCheck>,
    mut on_problem: impl FnMut(&Problem) -> ControlFlow<()>,
) -> Result<(Report, StateChanges), LogError> {
    let mut report = Report::default();
    let stopped = std::cell::Cell::new(false);
    let mut problem = |report: &mut Report, seq: u64, reason: String| {
        report.problems += 1;
        if on_problem(&Problem { seq, reason }).is_break() {
            stopped.set(true);
        }
    };
    let mut rules = RuleState::new(&Empty);
    let mut expected_seq = 0u64;
    let mut prev_hash = ZERO_HASH;
    let mut prev_recorded_at = Timestamp(i64::MIN);
    // After a stretch that cannot be read, the next entry's `prev` cannot be checked.
    let mut prev_known = true;
    let mut unreadable_at_end = false;
    let mut seals = SealRule::default();
    let leaves = tree.is_some();
    // A pipeline of two stages: this thread reads chunk after chunk and runs the checks that go
    // in order (the chain, seqs, seals, rules, the tree), while a second thread examines the next
    // chunk on all cores (hashes, decoding, schemas, signatures). Done one after the other, the
    // in-order part left a core idle for a fifth of `verify`.
    std::thread::scope(|scope| {
        let (to_examine, chunks) = std::sync::mpsc::sync_channel::<Chunk>(1);
        let (examined_tx, examined_rx) = std::sync::mpsc::sync_channel::<ExaminedChunk>(1);
        scope.spawn(move || {
            for chunk in chunks {
                if examined_tx
                    .send(ExaminedChunk::examine(chunk, schemas, leaves))
                    .is_err()
                {
                    break;
                }
            }
        });
        // One chunk is examined while the one before it is checked; no more are read ahead, so
        // that two chunks are held at a time.
        let mut send_next = || -> Result<bool, LogError> {
            let chunk = read_chunk(&mut entries)?;
            if chunk.is_end() {
                return Ok(false);
            }
            if to_examine.send(chunk).is_err() {
                unreachable!("the examining thread ends only when it is told to");
            }
            Ok(true)
        };
        let mut in_flight = send_next()?;
        while in_flight {
            let Ok(examined) = examined_rx.recv() else {
                unreachable!("the examining thread answers every chunk it is sent");
            };
            in_flight = send_next()?;
            report.signatures += examined.signatures.len() as u64;
            examined.cell.with_dependent(|_, examined_entries| {
                for item in examined_entries {
                    let seq = item.stored_seq;
                    if seq != expected_seq {
                        let reason = if seq > expected_seq {
                            format!(
                                "entries {expected_seq} to {} are missing: the log jumps to seq {seq}",
                                seq - 1
                            )
                        } else {
                            format!("an entry is stored out of order at seq {seq}")
                        };
                        problem(&mut report, expected_seq, reason);
                    }
                    report.entries += 1;
                    if let (Some(tree), Some(leaf)) = (tree.as_deref_mut(), &item.leaf) {
                        tree.leaf(seq, leaf, &mut |seq, reason| {
                            problem(&mut report, seq, reason);
                        });
                    }
                    if let Some((at, reason)) = seals.next(seq, item.entry.as_ref().ok()) {
                        problem(&mut report, at, reason);
                    }
                    match &item.entry {
                        Err(e) => problem(
                            &mut report,
                            seq,
                            EntryProblem::Undecodable(e.clone()).to_string(),
                        ),
                        Ok(entry) => {
                            if entry.seq != seq {
                                problem(&mut report, seq, format!("the entry stored at seq {seq} says it is seq {}: entries were moved or swapped", entry.seq));
                            }
                            if prev_known && entry.prev != prev_hash {
                                let reason = if seq == 0 {
                                    "the first entry's prev is not all zero".to_string()
                                } else {
                                    format!("prev does not match the hash of the entry before it (seq {}): the chain is broken here", seq.saturating_sub(1))
                                };
                                problem(&mut report, seq, reason);
                            }
                            if entry.recorded_at < prev_recorded_at {
                                problem(
                                    &mut report,
                                    seq,
                                    format!(
                                        "recorded_at {} is earlier than the entry before it ({})",
                                        entry.recorded_at, prev_recorded_at
                                    ),
                                );
                            }
                            let author = entry.statement.author;
                            let signed = item.batch_root.map(|root| {
                                examined.signatures[&(
                                    author,
                                    entry.seal_batch_size(),
                                    root,
                                    entry.seal_signature(),
                                )]
                            });
                            match signed {
                                None => problem(&mut report, seq, "the seal's inclusion proof does not fit its index and batch size".into()),
                                Some(false) => problem(&mut report, seq, format!("the signature does not verify for author {author}: the statement or its seal was altered")),
                                Some(true) => {}
                            }
                            match &item.payload {
                                Err(reason) => problem(&mut report, seq, reason.to_string()),
                                Ok(payload) => {
                                    // A fold from seq 0 looks nothing up and holds no contradiction.
                                    if let Err(AdmitError::Violation(v)) =
                                        rules.admit(seq, entry.recorded_at, &author, payload)
                                    {
                                        let broken = EntryProblem::Rule(payload.event_type(), v);
                                        problem(&mut report, seq, broken.to_string());
                                    }
                                    if let (0, Payload::Genesis(genesis)) = (seq, payload) {
                                        report.origin = Some(genesis.origin.to_string());
                                    }
                                }
                            }
                            prev_recorded_at = prev_recorded_at.max(entry.recorded_at);
                        }
                    }
                    prev_hash = item.hash;
                    prev_known = true;
                    unreadable_at_end = false;
                    report.last_seq = Some(seq);
                    report.last_hash = Some(item.hash);
                    expected_seq = seq.saturating_add(1);
                }
            });
            if let Some((file, first, last, reason)) = examined.cell.borrow_owner().damaged.clone()
            {
                let lost = crate::log::seqs(first, last);
                problem(
                    &mut report,
                    first,
                    format!("{lost} cannot be read from {file}: {reason}"),
                );
                expected_seq = last.saturating_add(1);
                prev_known = false;
                seals.lost();
                unreadable_at_end = true;
            }
            if stopped.get() {
                return Ok(());
            }
        }
        Ok(())
    })?;
    if stopped.get() {
        return Ok((report, rules.changes));
    }

    // Where the missing statements would be: after the last entry.
    if let (Some(reason), Some(last)) = (seals.end(), report.last_seq) {
        problem(&mut report, last.saturating_add(1), reason);
    }
    if report.entries == 0 && report.problems == 0 {
        problem(
            &mut report,
            0,
            "the log is empty: there is no genesis entry".into(),
        );
    }
    if let (
        Some(Head {
            seq: head_seq,
            hash: head_hash,
            ..
        }),
        false,
    ) = (head, unreadable_at_end)
    {
        if report.last_seq != Some(head_seq) || report.last_hash != Some(head_hash) {
            let found = match (report.last_seq, report.last_hash) {
                (Some(seq), Some(hash)) => format!("seq {seq} with hash {}", hex::encode(hash)),
                _ => "no entries".to_string(),
            };
            problem(
                &mut report,
                head_seq,
                format!(
                    "the log's head says it ends at seq {head_seq} with hash {}, but it ends at {found}: entries at the end were removed or changed",
                    hex::encode(head_hash)
                ),
            );
        }
    }
    report.keys = rules.changes.keys.len();
    report.incidents = rules.changes.incidents.len();
    Ok((report, rules.changes))
}

/// A stretch of the log that could not be read: its file, its first and last seq, and why.
type Damaged = (String, u64, u64, String);

/// Entries read in order, up to [`CHUNK`], and the damaged stretch that ended them, if one did.
struct Chunk {
    entries: Vec<(u64, StoredBytes)>,
    damaged: Option<Damaged>,
}

impl Chunk {
    fn is_end(&self) -> bool {
        self.entries.is_empty() && self.damaged.is_none()
    }
}

/// Reads the next chunk; an error other than damage stops the audit.
fn read_chunk(
    entries: &mut impl Iterator<Item = LogResult<(u64, StoredBytes)>>,
) -> Result<Chunk, LogError> {
    let mut chunk = Chunk {
        entries: Vec::with_capacity(CHUNK),
        damaged: None,
    };
    for item in entries.by_ref() {
        match item {
            Ok(entry) => chunk.entries.push(entry),
            Err(LogError::Damaged {
                file,
                first,
                last,
                reason,
            }) => {
                chunk.damaged = Some((file, first, last, reason));
                break;
            }
            Err(other) => return Err(other),
        }
        if chunk.entries.len() == CHUNK {
            break;
        }
    }
    Ok(chunk)
}

type ExaminedEntries<'a> = Vec<Examined<'a>>;

self_cell::self_cell!(
    /// A chunk with what examining its entries found, which borrows from their bytes.
    struct ExaminedCell {
        owner: Chunk,
        #[covariant]
        dependent: ExaminedEntries,
    }
);

/// A chunk examined: each entry on its own, and each distinct seal's signature checked.
struct ExaminedChunk {
    cell: ExaminedCell,
    signatures: HashMap<SealKey, bool>,
}

impl ExaminedChunk {
    fn examine(chunk: Chunk, schemas: &Schemas, leaves: bool) -> ExaminedChunk {
        let cell = ExaminedCell::new(chunk, |chunk| {
            let mut examined: Vec<Examined> = chunk
                .entries
                .par_iter()
                .map(|(seq, bytes)| examine(schemas, *seq, bytes, leaves))
                .collect();
            seal_roots(&mut examined);
            examined
        });
        let signatures = check_signatures(cell.borrow_dependent());
        ExaminedChunk { cell, signatures }
    }
}

/// The seal rule (docs/FORMAT.md, "Verifying a ledger"): the statements of a seal of n appear as
/// n consecutive entries with seal indexes 0 to n - 1 in order, and a seal of more than one
/// statement appears once in the log. Each entry's proof and signature are checked on their own
/// elsewhere; this is what makes a batch checkable as a whole, so that a statement cut out of
/// it (and the chain re-linked) does not pass.
#[derive(Default)]
struct SealRule {
    /// The seal being read: its author, size and signature, the seq it began at and the index
    /// expected next.
    open: Option<OpenSeal>,
    /// The signatures of the seals of more than one statement seen so far (their first 16
    /// bytes, enough to tell a repeat from chance).
    seen: HashSet<[u8; 16]>,
    /// After an entry that could not be read or decoded, the seal around it cannot be judged:
    /// entries are passed over until one begins a seal.
    resync: bool,
}

struct OpenSeal {
    key: (PublicKey, u64, [u8; 64]),
    began: u64,
    next: u64,
}

impl SealRule {
    /// Takes the entry at `seq` (`None` if it does not decode); gives the problem it shows.
    fn next(&mut self, seq: u64, entry: Option<&EntryRef>) -> Option<(u64, String)> {
        let Some(entry) = entry else {
            self.lost();
            return None;
        };
        let key = (
            entry.statement.author,
            entry.seal_batch_size(),
            entry.seal_signature(),
        );
        let (size, index) = (entry.seal_batch_size(), entry.seal_index());
        if self.resync && index != 0 {
            return None;
        }
        self.resync = false;
        let mut found = None;
        match self.open.take() {
            Some(open) if open.key == key => {
                if index != open.next {
                    found = Some(format!(
                        "this is statement {index} of the sealed batch of {size} that begins at seq {}, but statement {} should come here: statements of the batch are missing, repeated or out of order",
                        open.began, open.next
                    ));
                }
                self.open = Some(OpenSeal {
                    next: index + 1,
                    ..open
                });
            }
            other => {
                if let Some(open) = other {
                    found = Some(format!(
                        "the sealed batch of {} that begins at seq {} stops after statement {}, before this entry: the rest of the batch is missing",
                        open.key.1,
                        open.began,
                        open.next - 1
                    ));
                } else if index != 0 {
                    found = Some(format!(
                        "this is statement {index} of a sealed batch of {size}, but the batch's statements before it are not before it: they are missing or out of order"
                    ));
                }
                if size > 1 && index == 0 {
                    let mut prefix = [0; 16];
                    prefix.copy_from_slice(&key.2[..16]);
                    if !self.seen.insert(prefix) && found.is_none() {
                        found = Some("this sealed batch already appears earlier in the log: its statements were repeated".into());
                    }
                }
                self.open = Some(OpenSeal {
                    key,
                    began: seq,
                    next: index + 1,
                });
            }
        }
        if self.open.as_ref().is_some_and(|open| open.next >= size) {
            self.open = None;
        }
        found.map(|reason| (seq, reason))
    }

    /// A stretch of the log could not be read: the seal around it cannot be judged.
    fn lost(&mut self) {
        self.open = None;
        self.resync = true;
    }

    /// The problem of a seal left open at the end of the log.
    fn end(&mut self) -> Option<String> {
        self.open.take().map(|open| {
            format!(
                "the sealed batch of {} that begins at seq {} ends with the log after statement {}: its statements from this seq on are missing",
                open.key.1,
                open.began,
                open.next - 1
            )
        })
    }
}

/// Verifies every distinct seal of a chunk on all cores.
fn check_signatures(examined: &[Examined]) -> HashMap<SealKey, bool> {
    let mut distinct: Vec<SealKey> = Vec::new();
    for item in examined {
        if let (Ok(entry), Some(root)) = (&item.entry, item.batch_root) {
            let key = (
                entry.statement.author,
                entry.seal_batch_size(),
                root,
                entry.seal_signature(),
            );
            if distinct.last() != Some(&key) {
                distinct.push(key);
            }
        }
    }
    distinct.sort_unstable();
    distinct.dedup();
    distinct
        .into_par_iter()
        .map(|key| {
            let (author, batch_size, root, signature) = key;
            let ok = author.verify(&seal_message(batch_size, &root), &signature);
            (key, ok)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;

    /// `ledger verify | head -1` on a large damaged log: once the reader has gone, the audit
    /// stops after the chunk it is in instead of reading the rest of the log for nobody.
    #[test]
    fn the_audit_stops_when_its_reader_goes_away() {
        let (ledger, files, _, investigator) = crate::ledger::tests::in_memory();
        let events = crate::ledger::tests::reports(0..2 * CHUNK);
        ledger.append(&investigator, &events).unwrap();
        // A changed byte in the genesis: its signature no longer verifies.
        crate::ledger::tests::flip_byte_of_entry(&files, 0, 1);

        let mut seen = 0;
        let stopped = ledger
            .verify(|_| {
                seen += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(stopped.entries, CHUNK as u64, "one chunk, then it stops");
        assert!(seen >= 1);
        let whole = ledger.verify(|_| ControlFlow::Continue(())).unwrap();
        assert_eq!(whole.entries, 2 * CHUNK as u64 + 2);
        assert!(!whole.intact());
    }
}
