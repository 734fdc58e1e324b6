//! `incidents`: every incident with its current values after all corrections, whether it is
//! active, withdrawn by its source or retracted, how often it was corrected, and who reported
//! and last changed it.

use super::names::{Dates, KeyNames};
use super::{Cell, Describe, Fact, Projection, Reread, Row, Rows, Window};
use crate::event::EventType;
use crate::payload::{field, FieldValue, IncidentField, Payload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU64;

pub struct Incidents;

/// Where each incident's statements are, not what they say: the rows read them again from the
/// log ([`Reread`]), so that the state takes about 100 bytes an incident, whatever its
/// reports' text (holding each incident's current fields took a kilobyte an incident: benches/
/// scale.sh's `project incidents --rebuild` at 1,000,000 entries peaked at 778 MB, now 135 MB).
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    dates: Dates,
    incidents: BTreeMap<Box<str>, Incident>,
}

#[derive(Serialize, Deserialize)]
struct Incident {
    /// Its current event date (in [`State::dates`]), by which the rows are ordered and windowed
    /// before any incident is read again.
    event_date: u32,
    reported_seq: u64,
    status: Status,
    /// Its corrections' seqs, in order: its fields are its report's with these applied.
    corrections: Box<[u64]>,
    /// The seq of its last withdrawal, reinstatement or retraction (never 0, the genesis).
    status_seq: Option<NonZeroU64>,
}

/// Whether an incident stands, as the `status` column says it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Status {
    Active,
    /// Its source no longer has it; a later release may reinstate it.
    Withdrawn,
    /// Taken back for good.
    Retracted,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Withdrawn => "withdrawn",
            Status::Retracted => "retracted",
        }
    }
}

impl Incident {
    fn last_seq(&self) -> u64 {
        let corrected = self
            .corrections
            .last()
            .copied()
            .unwrap_or(self.reported_seq);
        self.status_seq
            .map_or(corrected, NonZeroU64::get)
            .max(corrected)
    }

    /// The incident's row: its report and corrections read again and applied in order. `None`
    /// once a read fails (the failure is kept by `log`); `Some(None)` for a report that does
    /// not read as one (only in a damaged log, which views skip).
    fn row(&self, id: &str, names: &KeyNames, log: &Reread<'_>) -> Option<Option<Row>> {
        let report = log.fact(self.reported_seq)?;
        let corrections =
            (self.corrections.iter().map(|&seq| log.fact(seq))).collect::<Option<Vec<Fact>>>()?;
        let last_seq = self.last_seq();
        let last_stated = corrections.last().unwrap_or(&report);
        let status_change = if last_stated.seq == last_seq {
            None
        } else {
            Some(log.fact(last_seq)?)
        };
        let last_changed_by = names.author(status_change.as_ref().unwrap_or(last_stated));
        let Some(Payload::IncidentReported(reported)) = report.payload() else {
            return Some(None);
        };
        let mut current = reported.clone();
        for correction in &corrections {
            if let Some(Payload::IncidentCorrected(corrected)) = correction.payload() {
                current.correct(&corrected.changes);
            }
        }
        let mut row = Vec::with_capacity(COLUMN_NAMES.len());
        row.push(Cell::text(id));
        row.extend(SHOWN.iter().map(|&field| cell(current.get(field))));
        row.extend([
            Cell::text(self.status.name()),
            Cell::count(self.corrections.len()),
            Cell::seq(self.reported_seq),
            Cell::seq(last_seq),
            Cell::text(names.author(&report)),
            Cell::text(last_changed_by),
        ]);
        row.extend(SHOWN_LATER.iter().map(|&field| cell(current.get(field))));
        let dataset = current.source_dataset.as_ref();
        row.extend([
            Cell::optional_text(dataset.map(|d| &*d.name)),
            Cell::optional_text(dataset.map(|d| &*d.release)),
            Cell::optional_text(dataset.map(|d| &*d.id)),
        ]);
        row.extend(SHOWN_LAST.iter().map(|&field| cell(current.get(field))));
        Some(Some(row))
    }
}

fn cell(value: Option<FieldValue>) -> Cell {
    match value {
        None => Cell::Empty,
        Some(FieldValue::Text(text)) => Cell::text(text),
        Some(FieldValue::Integer(n)) => Cell::seq(n),
        Some(FieldValue::Number(x)) => Cell::Real(x),
        Some(other) => Cell::Text(other.to_json().to_string()),
    }
}

/// The incident's own fields that the view shows, in column order: all but its id and the
/// ledger's bookkeeping come from here.
const SHOWN: [IncidentField; 12] = [
    field::EVENT_DATE,
    field::EVENT_TYPE,
    field::SUB_EVENT_TYPE,
    field::ACTOR1,
    field::ACTOR2,
    field::COUNTRY,
    field::ADMIN1,
    field::ADMIN2,
    field::LOCATION,
    field::LATITUDE,
    field::LONGITUDE,
    field::FATALITIES,
];

/// What the ledger knows of each incident besides its fields, in column order.
const BOOKKEEPING: [&str; 6] = [
    "status",
    "revisions",
    "reported_seq",
    "last_seq",
    "reported_by",
    "last_changed_by",
];

/// The fields shown after the bookkeeping, added when every recorded field was made to reach
/// the view (column order is a contract: columns are only ever added at the end). A list (the
/// sources) is a JSON array, so that no separator can be mistaken for part of a source.
const SHOWN_LATER: [IncidentField; 4] = [
    field::ASSOC_ACTOR_1,
    field::ADMIN3,
    field::SOURCES,
    field::NOTES,
];

/// Where an imported incident comes from (its `source_dataset`), one column a part.
const SOURCE: [&str; 3] = ["source_dataset", "source_release", "source_id"];

/// The fields shown after the source, added with the datasets' date ranges, precision codes,
/// fatality ranges and row timestamps (incident schemas version 2).
const SHOWN_LAST: [IncidentField; 6] = [
    field::EVENT_DATE_END,
    field::DATE_PRECISION,
    field::GEO_PRECISION,
    field::FATALITIES_LOW,
    field::FATALITIES_HIGH,
    field::SOURCE_TIMESTAMP,
];

const COLUMN_COUNT: usize =
    1 + SHOWN.len() + BOOKKEEPING.len() + SHOWN_LATER.len() + SOURCE.len() + SHOWN_LAST.len();

const fn names<const N: usize>(fields: [IncidentField; N]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = fields[i].name;
        i += 1;
    }
    names
}

const SHOWN_NAMES: [&str; SHOWN.len()] = names(SHOWN);
const SHOWN_LATER_NAMES: [&str; SHOWN_LATER.len()] = names(SHOWN_LATER);
const SHOWN_LAST_NAMES: [&str; SHOWN_LAST.len()] = names(SHOWN_LAST);

/// The id, the shown fields, the bookkeeping, then the fields shown later, the source and the
/// fields shown last.
const COLUMN_NAMES: [&str; COLUMN_COUNT] = {
    let parts: [&[&str]; 6] = [
        &["incident_id"],
        &SHOWN_NAMES,
        &BOOKKEEPING,
        &SHOWN_LATER_NAMES,
        &SOURCE,
        &SHOWN_LAST_NAMES,
    ];
    let mut names = [""; COLUMN_COUNT];
    let (mut at, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            names[at] = parts[part][i];
            at += 1;
            i += 1;
        }
        part += 1;
    }
    names
};

impl Describe for Incidents {
    const NAME: &'static str = "incidents";
    const ABOUT: &'static str = "every incident with its current values after corrections";
    // 4: an incident is where its statements are, not their contents.
    // 5: an incident may be withdrawn and reinstated.
    const VERSION: u32 = 5;
    const COLUMNS: &'static [&'static str] = &COLUMN_NAMES;
    const EVENT_TIME: Option<&'static str> = Some(field::EVENT_DATE.name);
}

impl Projection for Incidents {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        match fact.payload() {
            Some(Payload::IncidentReported(p)) => {
                let incident = Incident {
                    event_date: state.dates.number(&p.event_date),
                    reported_seq: fact.seq,
                    status: Status::Active,
                    corrections: Box::default(),
                    status_seq: None,
                };
                state
                    .incidents
                    .insert(p.incident_id.as_ref().into(), incident);
            }
            Some(Payload::IncidentCorrected(p)) => {
                if let Some(incident) = state.incidents.get_mut(p.incident_id.as_ref()) {
                    if let Some(date) = &p.changes.event_date {
                        incident.event_date = state.dates.number(date);
                    }
                    // Boxed rather than a vector, whose spare room and capacity most incidents
                    // (corrected once or never) would carry for nothing.
                    let mut corrections = std::mem::take(&mut incident.corrections).into_vec();
                    corrections.push(fact.seq);
                    incident.corrections = corrections.into_boxed_slice();
                }
            }
            Some(
                Payload::IncidentWithdrawn(p)
                | Payload::IncidentReinstated(p)
                | Payload::IncidentRetracted(p),
            ) => {
                let status = match fact.event_type {
                    EventType::IncidentWithdrawn => Status::Withdrawn,
                    EventType::IncidentReinstated => Status::Active,
                    _ => Status::Retracted,
                };
                if let Some(incident) = state.incidents.get_mut(p.incident_id.as_ref()) {
                    incident.status = status;
                    incident.status_seq = NonZeroU64::new(fact.seq);
                }
            }
            _ => {}
        }
    }

    fn rows<'a>(state: &'a State, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a> {
        // Ordered by event date and id from the state alone; each incident is read again only
        // as its row is made, so that no two incidents' statements are held at once.
        let date = |incident: &Incident| state.dates.text(incident.event_date);
        let mut listed: Vec<(&Box<str>, &Incident)> = state
            .incidents
            .iter()
            .filter(|(_, incident)| window.contains(date(incident)))
            .collect();
        listed.sort_unstable_by(|a, b| (date(a.1), a.0).cmp(&(date(b.1), b.0)));
        Box::new(
            listed
                .into_iter()
                .map_while(|(id, incident)| incident.row(id, &state.names, log))
                .flatten(),
        )
    }
}
