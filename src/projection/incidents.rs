//! `incidents`: every incident with its current values after all corrections, whether it stands
//! or was retracted, how often it was corrected, and who reported and last changed it.

use super::names::KeyNames;
use super::{Cell, Describe, Fact, Projection, Rows, Window};
use crate::payload::{
    field, FieldValue, IncidentChanges, IncidentField, IncidentReported, Payload, INCIDENT_FIELDS,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub struct Incidents;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    pub incidents: BTreeMap<String, Incident>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Incident {
    /// The incident as a report would state it now, corrections applied: the compact JSON of an
    /// `incident.reported` payload. (State is bincode, which cannot hold a payload's borrowed and
    /// partly absent fields; one text per incident keeps large states cheap to load and store.)
    /// Boxed, so that it takes exactly its length: the text a serializer grows can take twice.
    current: Box<str>,
    pub retracted: bool,
    pub revisions: u64,
    pub reported_seq: u64,
    pub last_seq: u64,
    pub reported_by: String,
    pub last_changed_by: String,
}

impl Incident {
    /// The incident's current fields, typed; `None` only for a state damaged behind the
    /// ledger's back.
    fn current(&self) -> Option<IncidentReported<'_>> {
        IncidentReported::read(self.current.as_bytes())
    }

    /// The current value of the field named `name`, `None` when it is not set.
    pub fn field(&self, name: &str) -> Option<Value> {
        let field = *INCIDENT_FIELDS.iter().find(|field| field.name == name)?;
        self.current()?.get(field).map(FieldValue::to_json)
    }

    /// Applies a correction's changes, which the incident's current fields take in.
    fn correct(&mut self, changes: &IncidentChanges<'_>) {
        let corrected = self.current().and_then(|mut current| {
            current.correct(changes);
            serde_json::to_string(&current).ok()
        });
        if let Some(corrected) = corrected {
            self.current = corrected.into_boxed_str();
        }
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

/// The id, the shown fields, then the bookkeeping.
const COLUMN_NAMES: [&str; 1 + SHOWN.len() + BOOKKEEPING.len()] = {
    let mut names = ["incident_id"; 1 + SHOWN.len() + BOOKKEEPING.len()];
    let mut i = 0;
    while i < SHOWN.len() {
        names[1 + i] = SHOWN[i].name;
        i += 1;
    }
    let mut i = 0;
    while i < BOOKKEEPING.len() {
        names[1 + SHOWN.len() + i] = BOOKKEEPING[i];
        i += 1;
    }
    names
};

impl Describe for Incidents {
    const NAME: &'static str = "incidents";
    const ABOUT: &'static str = "every incident with its current values after corrections";
    // 3: an incident's current fields are a whole report's payload, typed, id included.
    const VERSION: u32 = 3;
    const COLUMNS: &'static [&'static str] = &COLUMN_NAMES;
    const EVENT_TIME: Option<&'static str> = Some(field::EVENT_DATE.name);
}

impl Projection for Incidents {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        match fact.payload() {
            Some(Payload::IncidentReported(p)) => {
                let Ok(current) = serde_json::to_string(p) else {
                    return;
                };
                let author = state.names.author(fact);
                let incident = Incident {
                    current: current.into_boxed_str(),
                    retracted: false,
                    revisions: 0,
                    reported_seq: fact.seq,
                    last_seq: fact.seq,
                    reported_by: author.clone(),
                    last_changed_by: author,
                };
                state.incidents.insert(p.incident_id.to_string(), incident);
            }
            Some(Payload::IncidentCorrected(p)) => {
                if let Some(incident) = state.incidents.get_mut(p.incident_id.as_ref()) {
                    incident.correct(&p.changes);
                    incident.revisions += 1;
                    incident.last_seq = fact.seq;
                    incident.last_changed_by = state.names.author(fact);
                }
            }
            Some(Payload::IncidentRetracted(p)) => {
                if let Some(incident) = state.incidents.get_mut(p.incident_id.as_ref()) {
                    incident.retracted = true;
                    incident.last_seq = fact.seq;
                    incident.last_changed_by = state.names.author(fact);
                }
            }
            _ => {}
        }
    }

    fn rows<'a>(state: &'a State, window: &'a Window) -> Rows<'a> {
        // Sorted by event date and id alone, each incident's fields read again for its row,
        // so that the typed fields of every incident are never held at once.
        let mut listed: Vec<(Cow<'_, str>, &String, &Incident)> =
            Vec::with_capacity(state.incidents.len());
        for (id, incident) in &state.incidents {
            if let Some(current) = incident.current() {
                if window.contains(&current.event_date) {
                    listed.push((current.event_date, id, incident));
                }
            }
        }
        listed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Box::new(listed.into_iter().filter_map(|(_, id, incident)| {
            let current = incident.current()?;
            let mut row = Vec::with_capacity(COLUMN_NAMES.len());
            row.push(Cell::text(id.as_str()));
            row.extend(SHOWN.iter().map(|&field| cell(current.get(field))));
            row.extend([
                Cell::text(if incident.retracted {
                    "retracted"
                } else {
                    "active"
                }),
                Cell::seq(incident.revisions),
                Cell::seq(incident.reported_seq),
                Cell::seq(incident.last_seq),
                Cell::text(incident.reported_by.as_str()),
                Cell::text(incident.last_changed_by.as_str()),
            ]);
            Some(row)
        }))
    }
}
