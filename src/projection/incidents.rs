//! `incidents`: every incident with its current values after all corrections, whether it stands
//! or was retracted, how often it was corrected, and who reported and last changed it.
//! Importers diff a dataset release against this view's state.

use super::names::KeyNames;
use super::{Cell, Describe, Fact, Projection, Row, Window};
use crate::event::EventType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Incidents;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    pub incidents: BTreeMap<String, Incident>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Incident {
    /// Current field values as one compact JSON object (state is bincode, which cannot hold a
    /// JSON value; one text per incident keeps large states cheap to load and store).
    /// `incident_id` is the map key, not a field.
    fields: String,
    pub retracted: bool,
    pub revisions: u64,
    pub reported_seq: u64,
    pub last_seq: u64,
    pub reported_by: String,
    pub last_changed_by: String,
}

impl Incident {
    /// Every set field, as the payload of an incident.reported would state it.
    pub fn fields(&self) -> Map<String, Value> {
        serde_json::from_str(&self.fields).unwrap_or_default()
    }

    /// The current value of a field, `None` when it is not set.
    pub fn field(&self, name: &str) -> Option<Value> {
        self.fields().remove(name)
    }

    /// Applies a report's payload or a correction's changes: null clears a field.
    fn set(&mut self, changes: &Map<String, Value>) {
        let mut fields = self.fields();
        for (name, value) in changes {
            if value.is_null() {
                fields.shift_remove(name);
            } else if name != "incident_id" {
                fields.insert(name.clone(), value.clone());
            }
        }
        self.fields = Value::Object(fields).to_string();
    }
}

fn cell(value: Option<&Value>) -> Cell {
    match value {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::String(text)) => Cell::text(text.as_str()),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(other) => Cell::Text(other.to_string()),
    }
}

/// The columns that show the incident's own fields: all but its id and the ledger's bookkeeping.
const FIELD_COLUMNS: std::ops::Range<usize> = 1..13;

impl Describe for Incidents {
    const NAME: &'static str = "incidents";
    const ABOUT: &'static str = "every incident with its current values after corrections";
    const VERSION: u32 = 2;
    const COLUMNS: &'static [&'static str] = &[
        "incident_id",
        "event_date",
        "event_type",
        "sub_event_type",
        "actor1",
        "actor2",
        "country",
        "admin1",
        "admin2",
        "location",
        "latitude",
        "longitude",
        "fatalities",
        "status",
        "revisions",
        "reported_seq",
        "last_seq",
        "reported_by",
        "last_changed_by",
    ];
    const EVENT_TIME: Option<&'static str> = Some("event_date");
}

impl Projection for Incidents {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        let id = fact.text("incident_id");
        match fact.event_type {
            EventType::IncidentReported => {
                let author = state.names.author(fact);
                let mut incident = Incident {
                    fields: String::new(),
                    retracted: false,
                    revisions: 0,
                    reported_seq: fact.seq,
                    last_seq: fact.seq,
                    reported_by: author.clone(),
                    last_changed_by: author,
                };
                if let Some(payload) = fact.payload().as_object() {
                    incident.set(payload);
                }
                state.incidents.insert(id.to_string(), incident);
            }
            EventType::IncidentCorrected | EventType::IncidentRetracted => {
                let author = state.names.author(fact);
                let Some(incident) = state.incidents.get_mut(id) else {
                    return;
                };
                if fact.event_type == EventType::IncidentRetracted {
                    incident.retracted = true;
                } else {
                    if let Some(changes) = fact.payload().get("changes").and_then(Value::as_object)
                    {
                        incident.set(changes);
                    }
                    incident.revisions += 1;
                }
                incident.last_seq = fact.seq;
                incident.last_changed_by = author;
            }
            _ => {}
        }
    }

    fn rows(state: &State, window: &Window) -> Vec<Row> {
        let mut listed: Vec<(String, &String, &Incident, Map<String, Value>)> = state
            .incidents
            .iter()
            .map(|(id, incident)| {
                let fields = incident.fields();
                let date = fields.get("event_date").and_then(Value::as_str);
                (date.unwrap_or_default().to_string(), id, incident, fields)
            })
            .filter(|(date, ..)| window.contains(date))
            .collect();
        listed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        listed
            .into_iter()
            .map(|(_, id, incident, fields)| {
                let mut row = vec![Cell::text(id.as_str())];
                row.extend(
                    Self::COLUMNS[FIELD_COLUMNS]
                        .iter()
                        .map(|name| cell(fields.get(*name))),
                );
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
                row
            })
            .collect()
    }
}
