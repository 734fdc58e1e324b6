//! Projections: the current views an analyst reads instead of the raw log. Each view is a pure
//! fold over entries in seq order, in a file of its own, registered by name in [`REGISTRY`].
//!
//! A view is a state, how one [`Fact`] changes it, and the rows it shows ([`Projection`]); a
//! view that must remember something of every incident but shows only a little of it takes the
//! keyed extension ([`KeyedProjection`]) instead, so that a catch-up reads only the records the
//! new entries touch. Around the views, one file per job: `fact` (an entry as views see it),
//! `table` (what they yield), `window` (event time), `as_of` (knowledge time), `engine` (the
//! one pass over the log that feeds every fold, resuming from and saving to `cache`).
//!
//! A projection reads entries and nothing else; it never writes to the log, and its cache is a
//! disposable convenience that is thrown away whenever it does not match the log exactly.

mod accord_status;
mod as_of;
mod authors;
pub mod cache;
mod custody;
mod engine;
mod evidence;
mod fact;
mod incident_history;
pub mod incidents;
mod mandate_timeline;
mod names;
mod regions;
mod reread;
mod table;
mod window;

use crate::ledger::LedgerError;
pub use as_of::{AsOf, AsOfError, NothingRecorded};
pub use cache::{CacheDir, CacheError, Records};
pub use engine::{project, Covered, Output, Projected, Refresh};
pub use fact::Fact;
pub use reread::Reread;
use serde::de::DeserializeOwned;
use serde::Serialize;
pub use table::{Cell, Row, RowSource, Rows, Table};
pub use window::Window;

/// What a view is called and shows: the part that both kinds of view declare.
pub trait Describe {
    const NAME: &'static str;
    const ABOUT: &'static str;
    /// Bump whenever the state or the fold changes meaning, so that cached states are rebuilt.
    const VERSION: u32;
    const COLUMNS: &'static [&'static str];
    /// What an event-time window filters on, or `None` when the view has no event time.
    const EVENT_TIME: Option<&'static str>;
}

/// A view: a state, how one fact changes it, and its rows. Implement this and [`Describe`] in a
/// file of its own and add the view to [`REGISTRY`].
///
/// The state is kept between runs in the view's cache (bincode, never hashed), so a catch-up
/// folds only the entries appended since.
pub trait Projection: Describe + 'static {
    type State: Default + Serialize + DeserializeOwned + Send + 'static;
    fn apply(state: &mut Self::State, fact: &Fact);
    /// The rows, made one at a time from the state as they are read; `log` gives the facts
    /// of a view that keeps where its facts are rather than their contents.
    fn rows<'a>(state: &'a Self::State, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a>;
}

/// The keyed extension, for a view that must remember something of every incident (or other
/// key) but shows only tallies of it: besides its state, read and written whole, it keeps
/// [`Records`] by key, which a catch-up reads and rewrites only where the new entries touch them.
///
/// The fold is in two steps: `digest` works out what a fact means to the view from the fact
/// alone (on all cores, ahead of the fold); `apply` then takes the digests in seq order, each
/// with its fact, and with the record that `key` names loaded. A digest may point into its
/// fact's payload ([`Fact::payload_bytes`]) rather than copy strings out of it.
pub trait KeyedProjection: Describe + 'static {
    type State: Default + Serialize + DeserializeOwned + Send + 'static;
    type Record: Serialize + DeserializeOwned + Send + Sync + 'static;
    type Digest: Send;
    fn digest(fact: &Fact) -> Self::Digest;
    /// The one record `apply` may read or write for this digest of `fact`.
    fn key<'a>(fact: &'a Fact, digest: &'a Self::Digest) -> Option<&'a str>;
    fn apply(
        state: &mut Self::State,
        records: &mut Records<Self::Record>,
        fact: &Fact,
        digest: Self::Digest,
    );
    /// The rows, made one at a time from the state as they are read.
    fn rows<'a>(state: &'a Self::State, window: &'a Window) -> Rows<'a>;
}

/// A registered view, of either kind, so that views can be chosen by name and folded together.
pub struct View {
    name: &'static str,
    about: &'static str,
    columns: &'static [&'static str],
    event_time: Option<&'static str>,
    start: fn() -> Box<dyn engine::Folding>,
}

impl View {
    const fn plain<P: Projection>() -> View {
        View {
            name: P::NAME,
            about: P::ABOUT,
            columns: P::COLUMNS,
            event_time: P::EVENT_TIME,
            start: engine::start::<engine::Plain<P>>,
        }
    }

    const fn keyed<K: KeyedProjection>() -> View {
        View {
            name: K::NAME,
            about: K::ABOUT,
            columns: K::COLUMNS,
            event_time: K::EVENT_TIME,
            start: engine::start::<engine::Keyed<K>>,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn about(&self) -> &'static str {
        self.about
    }

    pub fn columns(&self) -> &'static [&'static str] {
        self.columns
    }

    /// What an event-time window filters on, or `None` when the view has no event time.
    pub fn event_time(&self) -> Option<&'static str> {
        self.event_time
    }
}

/// Every projection, by name, in the order listings and exports use.
pub static REGISTRY: &[&View] = &[
    &View::plain::<incidents::Incidents>(),
    &View::plain::<incident_history::IncidentHistory>(),
    &View::keyed::<regions::Regions>(),
    &View::plain::<accord_status::AccordStatus>(),
    &View::plain::<mandate_timeline::MandateTimeline>(),
    &View::plain::<evidence::Evidence>(),
    &View::plain::<authors::Authors>(),
    &View::plain::<custody::Custody>(),
];

pub fn by_name(name: &str) -> Option<&'static View> {
    REGISTRY.iter().copied().find(|view| view.name() == name)
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    #[error("there is no projection named \"{name}\"")]
    Unknown { name: String },
    #[error("{name} has no event time, so an event-time range does not apply to it")]
    NoEventTime { name: &'static str },
    #[error(
        "the event-time range starts on {from}, after it ends on {to}, so no date falls in it"
    )]
    EmptyWindow {
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    },
    #[error("seq {seq} is past the ledger's last entry (seq {head}), so the ledger has no state as of it")]
    PastHead { seq: u64, head: u64 },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl ProjectionError {
    fn missing(seq: u64) -> ProjectionError {
        LedgerError::Damaged {
            seq,
            reason: "the entry is missing from the log".into(),
        }
        .into()
    }
}

impl From<LedgerError> for ProjectionError {
    fn from(e: LedgerError) -> Self {
        ProjectionError::Ledger(Box::new(e))
    }
}

impl From<crate::log::LogError> for ProjectionError {
    fn from(e: crate::log::LogError) -> Self {
        LedgerError::from(e).into()
    }
}
