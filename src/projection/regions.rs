//! `regions`: incidents and fatalities by region (admin1), main actor and month of the event,
//! counting standing incidents only, with their corrected values.

use super::{Cell, Fact, Projection, Row, Window};
use crate::event::EventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

pub struct Regions;

/// Per incident, only what the grouping needs: the rows are grouped at output time, so that a
/// correction moving an incident between groups and an event-time window both come for free.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    incidents: HashMap<String, Counted>,
}

#[derive(Serialize, Deserialize)]
struct Counted {
    admin1: Option<String>,
    actor1: String,
    event_date: String,
    fatalities: u64,
    retracted: bool,
}

impl Counted {
    fn set(&mut self, fields: &serde_json::Map<String, Value>) {
        for (name, value) in fields {
            match name.as_str() {
                "admin1" => self.admin1 = value.as_str().map(str::to_string),
                "actor1" => self.actor1 = value.as_str().unwrap_or_default().to_string(),
                "event_date" => self.event_date = value.as_str().unwrap_or_default().to_string(),
                "fatalities" => self.fatalities = value.as_u64().unwrap_or(0),
                _ => {}
            }
        }
    }
}

impl Projection for Regions {
    type State = State;
    const NAME: &'static str = "regions";
    const ABOUT: &'static str = "standing incidents and fatalities by region, actor and month";
    const VERSION: u32 = 1;
    const COLUMNS: &'static [&'static str] =
        &["admin1", "actor1", "month", "incidents", "fatalities"];
    const EVENT_TIME: Option<&'static str> = Some("event_date");

    fn apply(state: &mut State, fact: &Fact) {
        let id = fact.text("incident_id");
        match fact.event_type {
            EventType::IncidentReported => {
                let mut counted = Counted {
                    admin1: None,
                    actor1: String::new(),
                    event_date: String::new(),
                    fatalities: 0,
                    retracted: false,
                };
                if let Some(fields) = fact.payload.as_object() {
                    counted.set(fields);
                }
                state.incidents.insert(id.to_string(), counted);
            }
            EventType::IncidentCorrected => {
                let changes = fact.payload.get("changes").and_then(Value::as_object);
                if let (Some(counted), Some(changes)) = (state.incidents.get_mut(id), changes) {
                    counted.set(changes);
                }
            }
            EventType::IncidentRetracted => {
                if let Some(counted) = state.incidents.get_mut(id) {
                    counted.retracted = true;
                }
            }
            _ => {}
        }
    }

    fn rows(state: &State, window: &Window) -> Vec<Row> {
        let mut groups: BTreeMap<(&str, &str, &str), (usize, u64)> = BTreeMap::new();
        for counted in state.incidents.values() {
            if counted.retracted || !window.contains(&counted.event_date) {
                continue;
            }
            let month = counted.event_date.get(..7).unwrap_or(&counted.event_date);
            let key = (
                counted.admin1.as_deref().unwrap_or(""),
                counted.actor1.as_str(),
                month,
            );
            let group = groups.entry(key).or_default();
            group.0 += 1;
            group.1 += counted.fatalities;
        }
        groups
            .into_iter()
            .map(|((admin1, actor1, month), (incidents, fatalities))| {
                vec![
                    Cell::non_empty(admin1),
                    Cell::text(actor1),
                    Cell::text(month),
                    Cell::count(incidents),
                    Cell::seq(fatalities),
                ]
            })
            .collect()
    }
}
