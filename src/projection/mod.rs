//! Projections: the current views an analyst reads instead of the raw log. Each view is a pure
//! fold over entries in seq order, in its own module, registered by name in [`REGISTRY`]; this
//! module owns the fold engine that feeds them: knowledge-time cut-offs (`--as-of`), event-time
//! windows (`--from`/`--to`), and the incremental mode that keeps each view's state beside the
//! log with the seq and entry hash it covers.
//!
//! A projection reads entries and nothing else; it never writes to the log, and its stored state
//! is a disposable cache that is thrown away whenever it does not match the log exactly.

mod accord_status;
mod authors;
mod cache;
mod evidence;
mod incident_history;
pub mod incidents;
mod mandate_timeline;
mod names;
mod regions;

use crate::entry::{entry_hash, EntryRef};
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::ledger::{Head, LedgerError};
use crate::merkle::Hash;
use crate::store::{Store, StoredBytes};
use crate::time::Timestamp;
use crate::Ledger;
pub use cache::Records;
use cache::{Commit, Cover, PageError};
use chrono::{DateTime, NaiveDate, NaiveTime};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::any::Any;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// One entry as the projections see it: who stated what, when, and where it sits in the log.
///
/// Projections trust the log they read (auditing it is `verify`'s job): a payload that is not
/// JSON reads as null.
pub struct Fact {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub author: PublicKey,
    pub event_type: EventType,
    /// The stored entry, shared with the store rather than copied, and where its payload is.
    entry_bytes: StoredBytes,
    payload_at: std::ops::Range<usize>,
    /// The payload as a JSON value, parsed on first use: a view that reads a few fields with
    /// [`Fact::parse`] never pays for building the whole value.
    payload: OnceLock<Value>,
}

impl Fact {
    fn from_entry(bytes: StoredBytes) -> Result<Fact, String> {
        let entry =
            EntryRef::decode(&bytes).map_err(|e| format!("its entry does not decode: {e}"))?;
        let event_type = EventType::parse(entry.statement.event_type)
            .ok_or_else(|| format!("unknown event type {}", entry.statement.event_type))?;
        let payload = entry.statement.payload;
        // The payload is a slice of the entry's bytes; keep its place instead of a copy.
        let start = payload.as_ptr() as usize - bytes.as_ptr() as usize;
        Ok(Fact {
            seq: entry.seq,
            recorded_at: entry.recorded_at,
            author: entry.statement.author,
            event_type,
            payload_at: start..start + payload.len(),
            payload: OnceLock::new(),
            entry_bytes: bytes,
        })
    }

    fn payload_bytes(&self) -> &[u8] {
        &self.entry_bytes[self.payload_at.clone()]
    }

    /// The whole payload.
    pub fn payload(&self) -> &Value {
        self.payload
            .get_or_init(|| serde_json::from_slice(self.payload_bytes()).unwrap_or(Value::Null))
    }

    /// The payload read into a type of the view's own, borrowing from it where it can.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Option<T> {
        serde_json::from_slice(self.payload_bytes()).ok()
    }

    /// A text field of the payload ("" when absent, which the schemas rule out for required ones).
    pub fn text(&self, field: &str) -> &str {
        self.payload()
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// One cell of a projection's output.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Real(f64),
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell::Text(value.into())
    }

    /// Text, or an empty cell for the empty string.
    pub fn non_empty(value: &str) -> Cell {
        if value.is_empty() {
            Cell::Empty
        } else {
            Cell::text(value)
        }
    }

    pub fn optional_text(value: Option<&str>) -> Cell {
        value.map_or(Cell::Empty, Cell::text)
    }

    pub fn count(value: usize) -> Cell {
        Cell::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    pub fn seq(value: u64) -> Cell {
        Cell::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    pub fn optional_seq(value: Option<u64>) -> Cell {
        value.map_or(Cell::Empty, Cell::seq)
    }
}

pub type Row = Vec<Cell>;

/// A projection's output: its columns (part of the contract) and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Row>,
}

/// An event-time window (`--from`, `--to`), both ends inclusive, on ISO 8601 dates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Window {
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether an event date (YYYY-MM-DD) falls in the window; a date that does not parse
    /// (the schemas rule that out) falls outside any bounded window.
    pub fn contains(&self, date: &str) -> bool {
        if self.is_open() {
            return true;
        }
        iso_date(date).is_some_and(|date| self.contains_date(date))
    }

    pub fn contains_date(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.to.is_none_or(|to| date <= to)
    }
}

/// An ISO 8601 calendar date (YYYY-MM-DD). The payloads' dates are all in this form, which is
/// read by hand: chrono's format parser costs more than the rest of a large fold's date work.
pub fn iso_date(text: &str) -> Option<NaiveDate> {
    let fast = match text.as_bytes() {
        [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] => {
            let digits = [*y0, *y1, *y2, *y3, *m0, *m1, *d0, *d1];
            digits.iter().all(u8::is_ascii_digit).then(|| {
                let number = |ds: &[u8]| ds.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
                (
                    number(&digits[..4]),
                    number(&digits[4..6]),
                    number(&digits[6..]),
                )
            })
        }
        _ => None,
    };
    match fast {
        Some((year, month, day)) => NaiveDate::from_ymd_opt(year as i32, month, day),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    }
}

/// A pure fold over entries that yields a table. Implement this in a module of its own and add
/// it to [`REGISTRY`].
///
/// A fold's state has two parts, both kept between runs by the incremental mode (bincode, never
/// hashed): the `State`, read and written whole, for what the rows are made of; and `Records`
/// by key (an incident id), read and written only where the new entries touch them, for what a
/// view must remember of every incident but does not show whole. A catch-up then costs what the
/// new entries touch, not the size of the log.
pub trait Projection: Sync + 'static {
    type State: Default + Serialize + DeserializeOwned + Send + 'static;
    /// `()` for a view that keeps no records.
    type Record: Serialize + DeserializeOwned + Send + Sync + 'static;
    const NAME: &'static str;
    const ABOUT: &'static str;
    /// Bump whenever `State` or `apply` changes meaning, so that stored states are rebuilt.
    const VERSION: u32;
    const COLUMNS: &'static [&'static str];
    /// What `--from`/`--to` filter on, or `None` when the view has no event time.
    const EVENT_TIME: Option<&'static str>;
    /// True for a view that reads most payloads whole ([`Fact::payload`]), so that they are
    /// parsed on all cores ahead of the fold; other views parse the few they read, or read
    /// fields through [`Fact::parse`] in their digest.
    const READS_MOST_PAYLOADS: bool = false;
    /// What `apply` needs from one fact that can be worked out from the fact alone, such as
    /// fields parsed from its payload: digests are made on all cores, ahead of the fold, which
    /// takes facts one by one in seq order. Most views need nothing ahead and use `()`.
    type Digest: Send + Default + 'static;
    fn digest(_fact: &Fact) -> Self::Digest {
        Self::Digest::default()
    }
    /// The one record `apply` may read or write for this digest, so that the engine can load it
    /// first.
    fn record_key(_digest: &Self::Digest) -> Option<&str> {
        None
    }
    fn apply(
        state: &mut Self::State,
        records: &mut Records<Self::Record>,
        fact: &Fact,
        digest: Self::Digest,
    );
    fn rows(state: &Self::State, window: &Window) -> Vec<Row>;
}

/// A registered projection, with its state type erased so that views can be chosen by name.
pub trait View: Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn version(&self) -> u32;
    fn columns(&self) -> &'static [&'static str];
    fn event_time(&self) -> Option<&'static str>;
    fn reads_most_payloads(&self) -> bool;
    /// The view's digests of a run of facts, in order.
    fn digest(&self, facts: &[Fact]) -> Digests;
    /// A fold in progress: from an empty state, or from a cache's commit if its summary decodes.
    fn start(&self, stored: Option<&Commit>) -> Option<BoxedFolding>;
}

/// A view's digests of a run of facts, their type erased.
pub type Digests = Box<dyn Any + Send>;

type BoxedFolding = Box<dyn Folding>;

/// A fold in progress.
pub trait Folding: Send {
    /// Folds in the facts from seq `next` on, with the view's digests of them, loading from
    /// the cache the records they touch.
    fn apply(
        &mut self,
        facts: &[Fact],
        digests: Digests,
        next: u64,
        store: &dyn Store,
    ) -> Result<(), PageError>;
    /// Writes the fold to its cache as covering `cover`.
    fn save(&mut self, store: &dyn Store, cover: Cover) -> Result<(), PageError>;
    fn rows(&self, window: &Window) -> Vec<Row>;
    fn into_state(self: Box<Self>) -> Box<dyn Any>;
}

struct Registered<P>(PhantomData<P>);

struct Folded<P: Projection> {
    state: P::State,
    records: Records<P::Record>,
}

impl<P: Projection> View for Registered<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn about(&self) -> &'static str {
        P::ABOUT
    }
    fn version(&self) -> u32 {
        P::VERSION
    }
    fn columns(&self) -> &'static [&'static str] {
        P::COLUMNS
    }
    fn event_time(&self) -> Option<&'static str> {
        P::EVENT_TIME
    }
    fn reads_most_payloads(&self) -> bool {
        P::READS_MOST_PAYLOADS
    }
    fn digest(&self, facts: &[Fact]) -> Digests {
        Box::new(facts.iter().map(P::digest).collect::<Vec<P::Digest>>())
    }
    fn start(&self, stored: Option<&Commit>) -> Option<BoxedFolding> {
        let folded = match stored {
            None => Folded::<P> {
                state: P::State::default(),
                records: Records::default(),
            },
            Some(commit) => Folded::<P> {
                state: bincode::deserialize(&commit.summary).ok()?,
                records: Records::resumed(commit),
            },
        };
        Some(Box::new(folded))
    }
}

impl<P: Projection> Folding for Folded<P> {
    fn apply(
        &mut self,
        facts: &[Fact],
        digests: Digests,
        next: u64,
        store: &dyn Store,
    ) -> Result<(), PageError> {
        let digests = digests
            .downcast::<Vec<P::Digest>>()
            .expect("a view is fed its own digests");
        for (fact, digest) in facts.iter().zip(*digests) {
            if fact.seq < next {
                continue;
            }
            if let Some(key) = P::record_key(&digest) {
                self.records.prepare(key, store, P::NAME)?;
            }
            P::apply(&mut self.state, &mut self.records, fact, digest);
        }
        Ok(())
    }
    fn save(&mut self, store: &dyn Store, cover: Cover) -> Result<(), PageError> {
        let summary = bincode::serialize(&self.state).expect("projection state serializes");
        self.records.save(store, P::NAME, cover, summary)
    }
    fn rows(&self, window: &Window) -> Vec<Row> {
        P::rows(&self.state, window)
    }
    fn into_state(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.state)
    }
}

/// Every projection, by name, in the order `project --list` and `export` use.
pub static REGISTRY: &[&dyn View] = &[
    &Registered::<incidents::Incidents>(PhantomData),
    &Registered::<incident_history::IncidentHistory>(PhantomData),
    &Registered::<regions::Regions>(PhantomData),
    &Registered::<accord_status::AccordStatus>(PhantomData),
    &Registered::<mandate_timeline::MandateTimeline>(PhantomData),
    &Registered::<evidence::Evidence>(PhantomData),
    &Registered::<authors::Authors>(PhantomData),
];

pub fn by_name(name: &str) -> Option<&'static dyn View> {
    REGISTRY.iter().copied().find(|view| view.name() == name)
}

/// Knowledge time: only entries recorded up to this seq, or up to this ledger time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Seq(u64),
    /// The last instant included.
    Time(Timestamp),
}

impl std::str::FromStr for AsOf {
    type Err = String;

    /// A seq (digits), an RFC 3339 date (the whole UTC day is included), or an RFC 3339
    /// date-time.
    fn from_str(text: &str) -> Result<AsOf, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(AsOf::Seq)
                .map_err(|_| format!("seq {text} is too large"));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let last_micro = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).expect("valid");
            let end = date.and_time(last_micro).and_utc().timestamp_micros();
            return Ok(AsOf::Time(Timestamp(end)));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| AsOf::Time(Timestamp(t.timestamp_micros())))
            .map_err(|_| {
                format!("{text:?} is neither a seq (a number), a date (YYYY-MM-DD) nor an RFC 3339 date-time (e.g. 2023-06-01T12:00:00Z)")
            })
    }
}

/// Whether stored states may be used, or every view is folded from seq 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    Incremental,
    Rebuild,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    #[error("there is no projection named {name:?}; `ledger project --list` names them all")]
    Unknown { name: String },
    #[error("{name} has no event time, so --from and --to do not apply to it")]
    NoEventTime { name: &'static str },
    /// Never leaves this module: a fold that meets a damaged cache is done again from seq 0.
    #[error("a projection cache is damaged")]
    CacheDamaged,
}

impl From<PageError> for ProjectionError {
    fn from(e: PageError) -> Self {
        match e {
            PageError::Store(e) => e.into(),
            PageError::Damaged => ProjectionError::CacheDamaged,
        }
    }
}

impl From<LedgerError> for ProjectionError {
    fn from(e: LedgerError) -> Self {
        ProjectionError::Ledger(Box::new(e))
    }
}

impl From<crate::store::StoreError> for ProjectionError {
    fn from(e: crate::store::StoreError) -> Self {
        LedgerError::from(e).into()
    }
}

/// What the tables were built from: the last entry folded in (None for an empty cut-off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Covered {
    pub seq: u64,
    pub hash: Hash,
    pub recorded_at: Timestamp,
}

pub struct Projected {
    pub covered: Option<Covered>,
    pub tables: Vec<Table>,
}

/// Entries read, decoded and digested in parallel per window, then folded in order: small
/// enough that a window is still in cache when it is folded, and that memory stays bounded.
const FOLD_WINDOW: u64 = 4 * 1024;

/// Builds `views` over the entries up to `as_of` (all of them when `None`), in one pass over the
/// log. Incrementally, each view starts from its stored state when that state's version matches
/// and its covered entry is still in the log with the same hash; states that reach the head are
/// stored again. Output is the same either way.
pub fn project<S: Store>(
    ledger: &Ledger<S>,
    views: &[&'static dyn View],
    as_of: Option<AsOf>,
    window: &Window,
    refresh: Refresh,
) -> Result<Projected, ProjectionError> {
    if !window.is_open() {
        if let Some(view) = views.iter().find(|v| v.event_time().is_none()) {
            return Err(ProjectionError::NoEventTime { name: view.name() });
        }
    }
    let (covered, folds) = fold_views(ledger, views, as_of, refresh)?;
    let tables = views
        .iter()
        .zip(&folds)
        .map(|(view, folding)| Table {
            name: view.name(),
            columns: view.columns(),
            rows: folding.rows(window),
        })
        .collect();
    Ok(Projected { covered, tables })
}

/// The current state of one projection (incrementally, like [`project`]), for code that needs
/// more than its rows, such as an importer diffing a release against the incidents.
pub fn current_state<P: Projection, S: Store>(
    ledger: &Ledger<S>,
) -> Result<P::State, ProjectionError> {
    let view = by_name(P::NAME).expect("every projection is registered");
    let (_, mut folds) = fold_views(ledger, &[view], None, Refresh::Incremental)?;
    let state = folds.pop().expect("one fold per view").into_state();
    Ok(*state
        .downcast::<P::State>()
        .expect("a registered view folds its own state type"))
}

fn fold_views<S: Store>(
    ledger: &Ledger<S>,
    views: &[&'static dyn View],
    as_of: Option<AsOf>,
    refresh: Refresh,
) -> Result<(Option<Covered>, Vec<BoxedFolding>), ProjectionError> {
    match fold_views_once(ledger, views, as_of, refresh) {
        Err(ProjectionError::CacheDamaged) => {
            fold_views_once(ledger, views, as_of, Refresh::Rebuild)
        }
        folded => folded,
    }
}

fn fold_views_once<S: Store>(
    ledger: &Ledger<S>,
    views: &[&'static dyn View],
    as_of: Option<AsOf>,
    refresh: Refresh,
) -> Result<(Option<Covered>, Vec<BoxedFolding>), ProjectionError> {
    let head = ledger.head()?;
    let target = match (head, as_of) {
        (None, _) => None,
        (Some(head), None) => Some(head.seq),
        (Some(head), Some(AsOf::Seq(seq))) => Some(seq.min(head.seq)),
        (Some(head), Some(AsOf::Time(time))) => last_recorded_by(ledger, head, time)?,
    };
    let covered = match target {
        None => None,
        Some(seq) => {
            let (entry, hash) = ledger.entry(seq)?.ok_or_else(|| missing(seq))?;
            Some(Covered {
                seq,
                hash,
                recorded_at: entry.recorded_at,
            })
        }
    };

    let mut folds = Vec::with_capacity(views.len());
    for view in views {
        let resumed = match (refresh, covered) {
            (Refresh::Incremental, Some(covered)) => resume(ledger, *view, covered.seq)?,
            _ => None,
        };
        let (next_seq, folding) = match resumed {
            Some(resumed) => resumed,
            None => (0, view.start(None).expect("an empty state always starts")),
        };
        folds.push((next_seq, folding));
    }

    if let Some(covered) = covered {
        let resumed_at: Vec<u64> = folds.iter().map(|(next, _)| *next).collect();
        let from = resumed_at.iter().copied().min().unwrap_or(0);
        fold_range(ledger, from, covered.seq, views, &mut folds)?;
        if head.is_some_and(|h| h.seq == covered.seq) {
            let advanced = views.iter().zip(&mut folds).zip(resumed_at);
            for ((view, (_, folding)), resumed_at) in advanced {
                if resumed_at > covered.seq {
                    continue;
                }
                let cover = Cover {
                    version: view.version(),
                    seq: covered.seq,
                    hash: covered.hash,
                };
                match folding.save(ledger.store(), cover) {
                    // The fold is sound; only the cache it resumed from is not. The next run
                    // finds that out again and rebuilds.
                    Err(PageError::Damaged) => {}
                    saved => saved?,
                }
            }
        }
    }
    Ok((covered, folds.into_iter().map(|(_, f)| f).collect()))
}

fn missing(seq: u64) -> ProjectionError {
    LedgerError::Damaged {
        seq,
        reason: "the entry is missing from the log".into(),
    }
    .into()
}

/// A view's stored state, if it can continue towards `target`: same version, covering no more
/// than `target`, and covering an entry that is still in the log with the same hash.
fn resume<S: Store>(
    ledger: &Ledger<S>,
    view: &dyn View,
    target: u64,
) -> Result<Option<(u64, BoxedFolding)>, ProjectionError> {
    let Some(commit) = cache::load(ledger.store(), view.name())? else {
        return Ok(None);
    };
    let cover = commit.cover;
    if cover.version != view.version() || cover.seq > target {
        return Ok(None);
    }
    let still_in_log = ledger
        .store()
        .entry(cover.seq)?
        .is_some_and(|bytes| entry_hash(&bytes) == cover.hash);
    if !still_in_log {
        return Ok(None);
    }
    Ok(view
        .start(Some(&commit))
        .map(|folding| (cover.seq + 1, folding)))
}

/// A run of facts, with each view's digests of them, in view order.
type Run = (Vec<Fact>, Vec<Digests>);
type ReadWindow = Vec<Result<Run, ProjectionError>>;

/// Feeds entries `from..=to` to every fold whose next seq they reach. The log is read in
/// windows; each window is read, decoded and digested on all cores while the window before it
/// is folded in seq order.
fn fold_range<S: Store>(
    ledger: &Ledger<S>,
    from: u64,
    to: u64,
    views: &[&'static dyn View],
    folds: &mut [(u64, BoxedFolding)],
) -> Result<(), ProjectionError> {
    // Parse payloads on all cores when any view reads them whole, rather than one by one in
    // the fold.
    let parse_payloads = views.iter().any(|v| v.reads_most_payloads());
    // Several segments a core, so that the core that finishes folding a window can take up
    // the reading of the next one in small pieces.
    let segments = 8 * rayon::current_num_threads() as u64;
    let read_window = |start: u64| -> (u64, ReadWindow) {
        let end = to.min(start.saturating_add(FOLD_WINDOW - 1));
        let step = (end - start + 1).div_ceil(segments);
        let read = (0..segments)
            .into_par_iter()
            .map(|i| start + i * step)
            .filter(|&first| first <= end)
            .map(|first| {
                let last = end.min(first + step - 1);
                read_facts(ledger, first, last, views, parse_payloads)
            })
            .collect();
        (end, read)
    };
    let fold_window = |read: ReadWindow, folds: &mut [(u64, BoxedFolding)]| {
        for run in read {
            let (facts, digests) = run?;
            let Some(last) = facts.last().map(|fact| fact.seq) else {
                continue;
            };
            for ((next, folding), digests) in folds.iter_mut().zip(digests) {
                folding.apply(&facts, digests, *next, ledger.store())?;
                *next = (*next).max(last + 1);
            }
        }
        Ok::<(), ProjectionError>(())
    };
    let mut pending = (from <= to).then(|| read_window(from));
    while let Some((end, read)) = pending.take() {
        let (folded, next) = rayon::join(
            || fold_window(read, folds),
            || (end < to).then(|| read_window(end + 1)),
        );
        folded?;
        pending = next;
    }
    Ok(())
}

/// Entries `from..=to` as facts, with every view's digests of them; a seq missing from the log
/// is an error.
fn read_facts<S: Store>(
    ledger: &Ledger<S>,
    from: u64,
    to: u64,
    views: &[&'static dyn View],
    parse_payloads: bool,
) -> Result<Run, ProjectionError> {
    let mut facts = Vec::with_capacity((to - from + 1) as usize);
    let mut expected = from;
    for item in ledger.store().entries(from) {
        let (seq, bytes) = item?;
        if seq > to {
            break;
        }
        if seq != expected {
            return Err(missing(expected));
        }
        let damaged = |reason: String| LedgerError::Damaged { seq, reason };
        let fact = Fact::from_entry(bytes).map_err(damaged)?;
        if parse_payloads {
            fact.payload();
        }
        facts.push(fact);
        expected = seq + 1;
    }
    if expected <= to {
        return Err(missing(expected));
    }
    let digests = views.iter().map(|view| view.digest(&facts)).collect();
    Ok((facts, digests))
}

/// The last seq recorded at or before `time` (recorded_at never decreases along the log).
fn last_recorded_by<S: Store>(
    ledger: &Ledger<S>,
    head: Head,
    time: Timestamp,
) -> Result<Option<u64>, ProjectionError> {
    let recorded_at = |seq: u64| -> Result<Timestamp, ProjectionError> {
        let (entry, _) = ledger.entry(seq)?.ok_or_else(|| missing(seq))?;
        Ok(entry.recorded_at)
    };
    if recorded_at(0)? > time {
        return Ok(None);
    }
    // Invariant: recorded_at(low) <= time; everything after high is later than time.
    let (mut low, mut high) = (0, head.seq);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if recorded_at(mid)? <= time {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(Some(low))
}

#[cfg(test)]
mod tests {
    use super::iso_date;
    use chrono::NaiveDate;

    #[test]
    fn iso_date_reads_exactly_what_chrono_reads() {
        let mut texts: Vec<String> = [
            "2023-02-29",
            "2024-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-00",
            "2023-1-05",
            "2023-01-5",
            "+2023-01-05",
            "2023-01-05T00:00",
            "2023/01/05",
            "20230105",
            "",
            "0000-01-01",
            "9999-12-31",
            " 2023-01-05",
            "2023-01-0x",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let mut day = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        while day.to_string() < "2030-01-01".to_string() {
            texts.push(day.to_string());
            day = day.succ_opt().unwrap();
        }
        for text in texts {
            let chrono = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            assert_eq!(iso_date(&text), chrono, "{text:?}");
        }
    }
}
