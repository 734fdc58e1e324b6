//! The fold engine: one pass over the log that feeds the folds of every view asked for, in seq
//! order. The log is read in batches, each decoded and digested on all cores while the batch
//! before it is folded; a view resumes from its cache when that cache still matches the log,
//! and folds that reach the head are saved again. Output is the same whether a view resumed or
//! not.
//!
//! The engine reads the log and the caches; it never writes to the log, and never trusts a
//! cache: one that does not check out is thrown away and the view folded again from seq 0.

use super::cache::{CacheDir, CacheError, CacheFile, Commit, Cover, Records};
use super::{
    AsOf, Fact, KeyedProjection, Projection, ProjectionError, Reread, RowSource, Rows, Table, View,
    Window,
};
use crate::entry::entry_hash;
use crate::event::EventType;
use crate::ledger::LedgerError;
use crate::log::{Entries, LogFiles, StoredBytes};
use crate::merkle::Hash;
use crate::time::Timestamp;
use crate::Ledger;
use foldhash::HashMap;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Whether cached states may be used, or every view is folded from seq 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    Incremental,
    Rebuild,
}

/// What the tables were built from: the last entry folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Covered {
    pub seq: u64,
    pub hash: Hash,
    pub recorded_at: Timestamp,
}

pub struct Projected<'a> {
    /// `None` for a cut that keeps no entry.
    pub covered: Option<Covered>,
    /// The views asked for, folded, in the order asked.
    pub outputs: Vec<Output<'a>>,
    /// For each view, the seq its fold started from: 0 when it folded the log from the first
    /// entry, the entry after its cache's cover when it resumed from the cache.
    pub folded_from: Vec<u64>,
}

impl Projected<'_> {
    /// Every view's rows gathered into a table: for views small enough to hold whole. Each
    /// view's state is let go once its table is made.
    pub fn into_tables(self) -> Result<Vec<Table>, ProjectionError> {
        self.outputs.into_iter().map(Output::into_table).collect()
    }
}

/// One view folded: its state, from which its rows are made as they are read (with the log,
/// for views that re-read their facts), so that a large view is written out without its rows
/// held beside its state. Dropping it lets the state go.
pub struct Output<'a> {
    view: &'static View,
    window: Window,
    fold: Box<dyn Folding>,
    reread: Reread<'a>,
}

impl Output<'_> {
    pub fn name(&self) -> &'static str {
        self.view.name()
    }

    pub fn columns(&self) -> &'static [&'static str] {
        self.view.columns()
    }

    /// Runs `write` on the view's rows in the event-time window it was projected with (a
    /// source that makes them afresh each time it is called). When the log could not be read
    /// again while the rows were made, they were cut short: that failure is returned, and
    /// whatever `write` made of them is incomplete.
    pub fn with_rows<T>(
        &self,
        write: impl FnOnce(&RowSource<'_>) -> T,
    ) -> Result<T, ProjectionError> {
        let rows = || self.fold.rows(&self.window, &self.reread);
        let written = write(&rows);
        match self.reread.take_failure() {
            Some(failure) => Err(failure),
            None => Ok(written),
        }
    }

    pub fn into_table(self) -> Result<Table, ProjectionError> {
        Ok(Table {
            name: self.name(),
            columns: self.columns(),
            rows: self.with_rows(|rows| rows().collect())?,
        })
    }
}

/// Builds `views` over the entries up to `as_of` (all of them when `None`), in one pass over the
/// log. With `caches`, each view resumes from its cache where `refresh` allows and the cache
/// still matches the log, and views that reach the head are saved there again.
pub fn project<'a, F: LogFiles>(
    ledger: &'a Ledger<F>,
    caches: Option<&CacheDir>,
    views: &[&'static View],
    as_of: Option<AsOf>,
    window: &Window,
    refresh: Refresh,
) -> Result<Projected<'a>, ProjectionError> {
    window.check()?;
    if !window.is_open() {
        if let Some(view) = views.iter().find(|v| v.event_time().is_none()) {
            return Err(ProjectionError::NoEventTime { name: view.name() });
        }
    }
    let mut folds: Vec<Box<dyn Folding>> = views.iter().map(|view| (view.start)()).collect();
    let mut folding: Vec<&mut (dyn Folding + 'static)> =
        folds.iter_mut().map(|fold| &mut **fold).collect();
    let (covered, folded_from) = fold(ledger, caches, &mut folding, as_of, refresh)?;
    drop(folding);
    let outputs = views
        .iter()
        .zip(folds)
        .map(|(&view, fold)| Output {
            view,
            window: window.clone(),
            fold,
            reread: Reread::of(ledger),
        })
        .collect();
    Ok(Projected {
        covered,
        outputs,
        folded_from,
    })
}

/// What the engine needs of a view's fold, whichever trait the view implements.
pub(super) trait Fold: 'static {
    type State: Default + Serialize + DeserializeOwned + Send + 'static;
    type Record: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What `apply` needs of a fact that can be worked out from the fact alone, on all cores
    /// while the batch before it is folded.
    type Digest: Send + 'static;
    const NAME: &'static str;
    const VERSION: u32;
    fn digest(fact: &Fact) -> Self::Digest;
    /// Makes room in a fold from seq 0 for what `entries` entries can add to its records.
    fn reserve(_records: &mut Records<Self::Record>, _entries: usize) {}
    /// Folds in one fact, with its digest.
    fn apply(
        state: &mut Self::State,
        records: &mut Records<Self::Record>,
        fact: &Fact,
        digest: Self::Digest,
    ) -> Result<(), CacheError>;
    fn rows<'a>(state: &'a Self::State, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a>;
}

/// A [`Projection`] as the engine folds it: nothing digested ahead, and a cache that holds the
/// state alone, with no records.
pub(super) struct Plain<P>(PhantomData<P>);

impl<P: Projection> Fold for Plain<P> {
    type State = P::State;
    type Record = ();
    type Digest = ();
    const NAME: &'static str = P::NAME;
    const VERSION: u32 = P::VERSION;

    fn digest(_: &Fact) {}

    fn apply(
        state: &mut P::State,
        _: &mut Records<()>,
        fact: &Fact,
        (): (),
    ) -> Result<(), CacheError> {
        P::apply(state, fact);
        Ok(())
    }

    fn rows<'a>(state: &'a P::State, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a> {
        P::rows(state, window, log)
    }
}

/// A [`KeyedProjection`] as the engine folds it: the record a digest names is loaded before the
/// digest is applied.
pub(super) struct Keyed<K>(PhantomData<K>);

impl<K: KeyedProjection> Fold for Keyed<K> {
    type State = K::State;
    type Record = K::Record;
    type Digest = K::Digest;
    const NAME: &'static str = K::NAME;
    const VERSION: u32 = K::VERSION;

    fn digest(fact: &Fact) -> K::Digest {
        K::digest(fact)
    }

    /// As many records as entries: the most a fold can add, and for the logs it matters for
    /// (most entries report or correct an incident) not far above what it does add. Room that
    /// is never filled is mostly never touched, so it takes address space, not memory.
    fn reserve(records: &mut Records<K::Record>, entries: usize) {
        records.reserve(entries);
    }

    fn apply(
        state: &mut K::State,
        records: &mut Records<K::Record>,
        fact: &Fact,
        digest: K::Digest,
    ) -> Result<(), CacheError> {
        // A fold from seq 0 has no pages to load, and need not read the key for them (reading
        // it from the payload checks it as UTF-8 again, in the fold, which no core shares).
        if records.is_paged() {
            if let Some(key) = K::key(fact, &digest) {
                records.prepare(key)?;
            }
        }
        K::apply(state, records, fact, digest);
        Ok(())
    }

    /// A keyed view's tallies are its rows: it reads no fact again.
    fn rows<'a>(state: &'a K::State, window: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        K::rows(state, window)
    }
}

/// A view's fold in progress, its types erased so that views of both kinds fold in one pass.
pub(super) trait Folding: Send {
    fn name(&self) -> &'static str;
    fn version(&self) -> u32;
    /// Back to the state before seq 0.
    fn restart(&mut self);
    /// Makes room for the records of `entries` entries, folded from seq 0.
    fn reserve(&mut self, entries: u64);
    /// Continues from a cache's commit; false, and nothing changed, when its summary does not
    /// decode.
    fn resume(&mut self, commit: &Commit, file: CacheFile) -> bool;
    /// What digests runs of facts for this fold on the reading side, ahead of
    /// [`Folding::apply`].
    fn digester(&self) -> Box<dyn Digesting>;
    /// Folds in a run of facts from seq `next` on.
    fn apply(&mut self, facts: &[Fact], next: u64) -> Result<(), CacheError>;
    fn save(&mut self, file: &CacheFile, cover: Cover) -> Result<(), CacheError>;
    fn rows<'a>(&'a self, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a>;
}

/// The reading side of a fold: digests each run of facts as it is read, for the fold to take up.
pub(super) trait Digesting: Send + Sync {
    fn digest(&self, facts: &[Fact]);
}

/// A fold of `F` from seq 0, as the registry starts one.
pub(super) fn start<F: Fold>() -> Box<dyn Folding> {
    Box::new(Folded::<F>::default())
}

/// Runs of facts digested ahead, by the seq of their first fact (the reading side digests them
/// in any order); shared by a fold and its digester, so that digests keep their type from one to
/// the other.
type Digested<D> = Arc<Mutex<HashMap<u64, Vec<D>>>>;

struct Folded<F: Fold> {
    state: F::State,
    records: Records<F::Record>,
    digested: Digested<F::Digest>,
}

impl<F: Fold> Default for Folded<F> {
    fn default() -> Self {
        Folded {
            state: F::State::default(),
            records: Records::default(),
            digested: Digested::default(),
        }
    }
}

struct Digester<F: Fold>(Digested<F::Digest>);

impl<F: Fold> Digesting for Digester<F> {
    fn digest(&self, facts: &[Fact]) {
        let Some(first) = facts.first().map(|fact| fact.seq) else {
            return;
        };
        let digests = facts.iter().map(F::digest).collect();
        locked(&self.0).insert(first, digests);
    }
}

/// A poisoned lock only means that a digester panicked; the map itself is whole.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<F: Fold> Folding for Folded<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn version(&self) -> u32 {
        F::VERSION
    }

    fn restart(&mut self) {
        *self = Folded::default();
    }

    fn reserve(&mut self, entries: u64) {
        F::reserve(
            &mut self.records,
            usize::try_from(entries).unwrap_or(usize::MAX),
        );
    }

    fn resume(&mut self, commit: &Commit, file: CacheFile) -> bool {
        let Some(state) = file.summary(commit) else {
            return false;
        };
        self.state = state;
        self.records = Records::resumed(commit, file);
        true
    }

    fn digester(&self) -> Box<dyn Digesting> {
        Box::new(Digester::<F>(Arc::clone(&self.digested)))
    }

    fn apply(&mut self, facts: &[Fact], next: u64) -> Result<(), CacheError> {
        let Some(first) = facts.first().map(|fact| fact.seq) else {
            return Ok(());
        };
        // The digests made as these facts were read; made here if the digester has not.
        let ahead = locked(&self.digested).remove(&first);
        let digests = match ahead {
            Some(digests) if digests.len() == facts.len() => digests,
            _ => facts.iter().map(F::digest).collect(),
        };
        for (fact, digest) in facts.iter().zip(digests) {
            if fact.seq >= next {
                F::apply(&mut self.state, &mut self.records, fact, digest)?;
            }
        }
        Ok(())
    }

    fn save(&mut self, file: &CacheFile, cover: Cover) -> Result<(), CacheError> {
        self.records.save(file, cover, &self.state)
    }

    fn rows<'a>(&'a self, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a> {
        F::rows(&self.state, window, log)
    }
}

/// Folds `folds` up to `as_of`; a cache found damaged on the way is given up and every view
/// folded again from seq 0.
fn fold<F: LogFiles>(
    ledger: &Ledger<F>,
    caches: Option<&CacheDir>,
    folds: &mut [&mut (dyn Folding + 'static)],
    as_of: Option<AsOf>,
    refresh: Refresh,
) -> Result<(Option<Covered>, Vec<u64>), ProjectionError> {
    match fold_once(ledger, caches, folds, as_of, refresh) {
        Err(ProjectionError::Cache(CacheError::Damaged { .. }))
            if refresh == Refresh::Incremental =>
        {
            fold_once(ledger, caches, folds, as_of, Refresh::Rebuild)
        }
        folded => folded,
    }
}

fn fold_once<F: LogFiles>(
    ledger: &Ledger<F>,
    caches: Option<&CacheDir>,
    folds: &mut [&mut (dyn Folding + 'static)],
    as_of: Option<AsOf>,
    refresh: Refresh,
) -> Result<(Option<Covered>, Vec<u64>), ProjectionError> {
    let head = ledger.head();
    let target = match (&head, as_of) {
        (None, _) => None,
        (Some(head), None) => Some(head.seq),
        (Some(head), Some(as_of)) => as_of.last_seq(ledger, head)?,
    };
    // A retry after a damaged cache starts afresh too.
    for fold in folds.iter_mut() {
        fold.restart();
    }
    let Some(target) = target else {
        return Ok((None, vec![0; folds.len()]));
    };
    // At the head (the usual case) the head file already says what the entry's hash and time
    // are; an earlier cut reads its entry.
    let covered = match head {
        Some(head) if head.seq == target => Covered {
            seq: target,
            hash: head.hash,
            recorded_at: crate::time::Timestamp(head.recorded_at),
        },
        _ => {
            let (entry, hash) = ledger
                .entry(target)?
                .ok_or_else(|| ProjectionError::missing(target))?;
            Covered {
                seq: target,
                hash,
                recorded_at: entry.recorded_at,
            }
        }
    };

    // The seq each fold continues from.
    let mut next = Vec::with_capacity(folds.len());
    for fold in folds.iter_mut() {
        let resumed = match (refresh, caches) {
            (Refresh::Incremental, Some(caches)) => resume(ledger, caches, &mut **fold, target)?,
            _ => None,
        };
        if resumed.is_none() {
            fold.reserve(target + 1);
        }
        next.push(resumed.unwrap_or(0));
    }
    let resumed_at = next.clone();
    let from = next.iter().copied().min().unwrap_or(0);
    fold_batches(ledger, from, target, folds, &mut next)?;

    let at_head = head.is_some_and(|head| head.seq == target);
    if let Some(caches) = caches.filter(|_| at_head) {
        for (fold, &resumed_at) in folds.iter_mut().zip(&resumed_at) {
            // A fold that resumed past the target was already saved at it.
            if resumed_at > target {
                continue;
            }
            let cover = Cover {
                version: fold.version(),
                seq: target,
                hash: covered.hash,
            };
            match fold.save(&caches.file(fold.name()), cover) {
                // The fold is sound; only the cache it resumed from is not, and the next run
                // finds that out again and rebuilds; or the cache cannot be kept at all.
                Err(e) if matches!(e, CacheError::Damaged { .. }) || e.is_read_only() => {}
                saved => saved?,
            }
        }
    }
    Ok((Some(covered), resumed_at))
}

/// Resumes `fold` from its cache if that can continue towards `target`: same version, covering
/// no more than `target`, and covering an entry that is still in the log with the same hash.
/// Returns the seq the fold continues from.
fn resume<F: LogFiles>(
    ledger: &Ledger<F>,
    caches: &CacheDir,
    fold: &mut dyn Folding,
    target: u64,
) -> Result<Option<u64>, ProjectionError> {
    let file = caches.file(fold.name());
    let Some(commit) = file.load()? else {
        return Ok(None);
    };
    let cover = commit.cover;
    if cover.version != fold.version() || cover.seq > target {
        return Ok(None);
    }
    let still_in_log = ledger
        .log()
        .entry(cover.seq)?
        .is_some_and(|bytes| entry_hash(&bytes) == cover.hash);
    if !still_in_log || !fold.resume(&commit, file) {
        return Ok(None);
    }
    Ok(Some(cover.seq + 1))
}

/// Entries read and decoded on all cores per batch, then folded in order: small enough that a
/// batch is still in the processor's cache when it is folded, and that memory stays bounded.
const BATCH: u64 = 1024;

/// The event types whose payloads a fold has read ([`Fact::payload`]): they are parsed on
/// all cores as later batches are read, rather than one by one in the fold. Learnt as the folds
/// go, so that a view need not say what it reads.
#[derive(Clone, Default)]
struct PayloadsRead(Vec<EventType>);

impl PayloadsRead {
    fn learn(&mut self, facts: &[Fact]) {
        for fact in facts {
            if fact.payload_was_read() && !self.0.contains(&fact.event_type) {
                self.0.push(fact.event_type);
            }
        }
    }

    fn wanted(&self, fact: &Fact) -> bool {
        self.0.contains(&fact.event_type)
    }
}

/// Feeds entries `from..=to` to every fold whose next seq they reach, moving `next` on. Each
/// batch is read and digested on all cores while the batch before it is folded.
fn fold_batches<F: LogFiles>(
    ledger: &Ledger<F>,
    from: u64,
    to: u64,
    folds: &mut [&mut (dyn Folding + 'static)],
    next: &mut [u64],
) -> Result<(), ProjectionError> {
    // Several segments a core, so that the core that finishes folding a batch can take up the
    // parsing of the next one in small pieces.
    let segments = 8 * rayon::current_num_threads();
    let digesters: Vec<Box<dyn Digesting>> = folds.iter().map(|fold| fold.digester()).collect();
    // The log is read once, in order (reading is a copy; parsing is the work); a batch's entries
    // are parsed and digested in segments, one task each, and folded as they are.
    let mut entries = ledger.log().entries(from);
    let mut read_batch = |start: u64, payloads_read: &PayloadsRead| {
        let end = to.min(start.saturating_add(BATCH - 1));
        let read = read_entries(&mut entries, start, end).and_then(|raw| {
            let step = raw.len().div_ceil(segments).max(1);
            let mut pieces = Vec::with_capacity(segments);
            let mut raw = raw.into_iter();
            loop {
                let piece: Vec<(u64, StoredBytes)> = raw.by_ref().take(step).collect();
                if piece.is_empty() {
                    break;
                }
                pieces.push(piece);
            }
            pieces
                .into_par_iter()
                .map(|piece| {
                    let facts = to_facts(piece, payloads_read)?;
                    for digester in &digesters {
                        digester.digest(&facts);
                    }
                    Ok(facts)
                })
                .collect::<Result<Vec<Vec<Fact>>, ProjectionError>>()
        });
        (end, read)
    };
    let mut payloads_read = PayloadsRead::default();
    let mut pending = (from <= to).then(|| read_batch(from, &payloads_read));
    while let Some((end, read)) = pending.take() {
        let segments = read?;
        let wanted = payloads_read.clone();
        let (folded, read_next) = rayon::join(
            || fold_batch(&segments, folds, next),
            || (end < to).then(|| read_batch(end + 1, &wanted)),
        );
        folded?;
        for facts in &segments {
            payloads_read.learn(facts);
        }
        pending = read_next;
    }
    Ok(())
}

/// Feeds the segments of one batch, in order, to every fold whose next seq they reach.
fn fold_batch(
    segments: &[Vec<Fact>],
    folds: &mut [&mut (dyn Folding + 'static)],
    next: &mut [u64],
) -> Result<(), CacheError> {
    for facts in segments {
        let Some(last) = facts.last().map(|fact| fact.seq) else {
            continue;
        };
        for (fold, next) in folds.iter_mut().zip(next.iter_mut()) {
            fold.apply(facts, *next)?;
            *next = (*next).max(last + 1);
        }
    }
    Ok(())
}

/// The next entries of `entries`, which must be seqs `from..=to`; a seq missing from the log is
/// an error.
fn read_entries<F: LogFiles>(
    entries: &mut Entries<'_, F>,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, StoredBytes)>, ProjectionError> {
    let mut read = Vec::with_capacity(usize::try_from(to - from + 1).unwrap_or(0));
    for expected in from..=to {
        match entries.next() {
            None => return Err(ProjectionError::missing(expected)),
            Some(item) => {
                let (seq, bytes) = item?;
                if seq != expected {
                    return Err(ProjectionError::missing(expected));
                }
                read.push((seq, bytes));
            }
        }
    }
    Ok(read)
}

/// Entries as facts, with the payloads `payloads_read` wants parsed.
fn to_facts(
    entries: Vec<(u64, StoredBytes)>,
    payloads_read: &PayloadsRead,
) -> Result<Vec<Fact>, ProjectionError> {
    // Sized up front: collecting through a Result cannot know the length, and regrowing a
    // vector of facts showed up in a projection's profile.
    let mut facts = Vec::with_capacity(entries.len());
    for (seq, bytes) in entries {
        let fact = Fact::from_entry(bytes).map_err(|problem| LedgerError::DamagedEntry {
            seq,
            problem: Box::new(problem),
        })?;
        if payloads_read.wanted(&fact) {
            fact.payload();
        }
        facts.push(fact);
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Role;
    use crate::input::parse_events;
    use crate::keys::SecretKey;
    use crate::projection::{Cell, REGISTRY};

    /// A ledger in `dir` with three incident reports, the second one corrected.
    fn small_ledger(dir: &std::path::Path) -> Ledger {
        let admin = SecretKey::from_seed([1; 32], None);
        let investigator = SecretKey::from_seed([2; 32], None);
        let (ledger, _) = Ledger::create(dir, &admin, "admin", "test").unwrap();
        ledger
            .enroll_key(&admin, &investigator.public(), "inv", Role::Investigator)
            .unwrap();
        let report = |id: &str, region: &str| {
            format!(
                r#"{{"type":"incident.reported","data":{{"incident_id":"{id}","event_date":"2023-05-01","event_type":"Battles","actor1":"JNIM","admin1":"{region}","fatalities":2}}}}"#
            )
        };
        let correction = r#"{"type":"incident.corrected","data":{"incident_id":"b","changes":{"admin1":"Gao"},"reason":"misread"}}"#;
        let input = [
            report("a", "Kidal"),
            report("b", "Kidal"),
            report("c", "Mopti"),
        ]
        .join("\n")
            + "\n"
            + correction;
        let events = parse_events(input.as_bytes()).unwrap();
        ledger.append(&investigator, &events).unwrap();
        ledger
    }

    fn tables(ledger: &Ledger, caches: Option<&CacheDir>) -> Vec<Table> {
        project(
            ledger,
            caches,
            REGISTRY,
            None,
            &Window::default(),
            Refresh::Incremental,
        )
        .unwrap()
        .into_tables()
        .unwrap()
    }

    #[test]
    fn without_a_cache_dir_every_view_folds_from_seq_0_and_nothing_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let ledger = small_ledger(&dir);

        let uncached = tables(&ledger, None);
        assert!(!dir.join("cache").exists(), "no cache dir was given");

        let caches = CacheDir::of(&dir);
        let saved = tables(&ledger, Some(&caches));
        assert!(dir.join("cache").join("regions").is_file());
        let resumed = tables(&ledger, Some(&caches));
        assert_eq!(uncached, saved);
        assert_eq!(uncached, resumed);

        let regions = uncached.iter().find(|t| t.name == "regions").unwrap();
        let places: Vec<&Cell> = regions.rows.iter().map(|row| &row[0]).collect();
        assert_eq!(
            places,
            [
                &Cell::text("Gao"),
                &Cell::text("Kidal"),
                &Cell::text("Mopti")
            ]
        );
    }

    /// Output alone cannot tell a resumed fold from a rebuilt one (they must be equal), so this
    /// checks where each fold started: from its cache when the cache still matches the log,
    /// from seq 0 when asked to rebuild or when its cache is damaged.
    #[test]
    fn a_view_resumes_from_its_cache_only_while_the_cache_matches_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let ledger = small_ledger(&dir);
        let caches = CacheDir::of(&dir);
        let started = |refresh| {
            project(
                &ledger,
                Some(&caches),
                REGISTRY,
                None,
                &Window::default(),
                refresh,
            )
            .unwrap()
            .folded_from
        };
        let views = REGISTRY.len();
        assert_eq!(
            started(Refresh::Incremental),
            vec![0; views],
            "no cache yet"
        );
        let head = ledger.head().unwrap().seq;
        assert_eq!(started(Refresh::Incremental), vec![head + 1; views]);

        let investigator = SecretKey::from_seed([2; 32], None);
        let more = r#"{"type":"incident.reported","data":{"incident_id":"d","event_date":"2023-05-02","event_type":"Battles","actor1":"JNIM","fatalities":1}}"#;
        ledger
            .append(&investigator, &parse_events(more.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(
            started(Refresh::Incremental),
            vec![head + 1; views],
            "a catch-up"
        );
        assert_eq!(started(Refresh::Rebuild), vec![0; views]);

        let regions = dir.join("cache").join("regions");
        let mut bytes = std::fs::read(&regions).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&regions, bytes).unwrap();
        // The rebuild above saved every view at the new head; only the damaged one starts over.
        let expected: Vec<u64> = REGISTRY
            .iter()
            .map(|view| {
                if view.name() == "regions" {
                    0
                } else {
                    head + 2
                }
            })
            .collect();
        assert_eq!(started(Refresh::Incremental), expected, "a damaged cache");
    }

    #[test]
    fn incidents_read_again_show_their_corrections_whether_resumed_or_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let ledger = small_ledger(&dir);
        let caches = CacheDir::of(&dir);
        for caches in [None, Some(&caches), Some(&caches)] {
            let tables = tables(&ledger, caches);
            let incidents = tables.iter().find(|t| t.name == "incidents").unwrap();
            let cell = |row: &Vec<Cell>, name: &str| {
                row[incidents.columns.iter().position(|c| *c == name).unwrap()].clone()
            };
            let b = (incidents.rows.iter())
                .find(|row| row[0] == Cell::text("b"))
                .unwrap();
            assert_eq!(cell(b, "revisions"), Cell::Int(1));
            assert_eq!(cell(b, "last_seq"), Cell::Int(5));
            assert_eq!(cell(b, "admin1"), Cell::text("Gao"));
        }
    }

    #[test]
    fn rows_cut_short_by_a_log_changed_since_the_fold_are_an_error_not_a_view() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let ledger = small_ledger(&dir);
        let incidents = [crate::projection::by_name("incidents").unwrap()];
        let window = Window::default();
        let projected =
            project(&ledger, None, &incidents, None, &window, Refresh::Rebuild).unwrap();
        let output = &projected.outputs[0];
        assert_eq!(output.with_rows(|rows| rows().count()).unwrap(), 3);
        let segment = dir
            .join("log")
            .join(crate::log::files::segment_file_name(0));
        let len = std::fs::metadata(&segment).unwrap().len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap();
        file.set_len(len - 1).unwrap();
        let projected = project(&ledger, None, &incidents, None, &window, Refresh::Rebuild);
        assert!(projected.is_err(), "a fold over the cut file fails");
        // Rows made after the fold read again from a file cut in between.
        match output.with_rows(|rows| rows().count()) {
            Err(ProjectionError::Ledger(e)) => assert!(e.to_string().contains("seq"), "{e}"),
            other => panic!("expected the cut named, got {:?}", other.map(|_| ())),
        }
    }
}
