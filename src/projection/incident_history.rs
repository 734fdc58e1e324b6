//! `incident-history`: the audit trail of every incident, one row per report, correction and
//! retraction, with who stated it, when the ledger recorded it, and what it set.

use super::names::{EventDates, KeyNames};
use super::{Cell, Describe, Fact, Projection, Row, Window};
use crate::event::EventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct IncidentHistory;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    event_dates: EventDates,
    revisions: Vec<Revision>,
}

#[derive(Serialize, Deserialize)]
struct Revision {
    incident_id: String,
    seq: u64,
    recorded_at: String,
    action: String,
    author: String,
    /// The fields this revision set, as compact JSON (empty for a retraction).
    changes: String,
    reason: String,
}

impl Describe for IncidentHistory {
    const NAME: &'static str = "incident-history";
    const ABOUT: &'static str = "every report, correction and retraction of every incident";
    const VERSION: u32 = 1;
    const COLUMNS: &'static [&'static str] = &[
        "incident_id",
        "seq",
        "recorded_at",
        "action",
        "author",
        "changes",
        "reason",
    ];
    const EVENT_TIME: Option<&'static str> = Some("the incident's event_date");
}

impl Projection for IncidentHistory {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        state.event_dates.observe(fact);
        let id = fact.text("incident_id");
        let (action, changes) = match fact.event_type {
            EventType::IncidentReported => {
                let mut fields = fact.payload().as_object().cloned().unwrap_or_default();
                // shift_remove keeps the order in which the author wrote the fields.
                fields.shift_remove("incident_id");
                ("reported", Some(fields))
            }
            EventType::IncidentCorrected => {
                let changes = fact.payload().get("changes").and_then(Value::as_object);
                ("corrected", changes.cloned())
            }
            EventType::IncidentRetracted => ("retracted", None),
            _ => return,
        };
        state.revisions.push(Revision {
            incident_id: id.to_string(),
            seq: fact.seq,
            recorded_at: fact.recorded_at.to_rfc3339(),
            action: action.to_string(),
            author: state.names.author(fact),
            changes: changes.map_or_else(String::new, |c| Value::Object(c).to_string()),
            reason: fact.text("reason").to_string(),
        });
    }

    fn rows(state: &State, window: &Window) -> Vec<Row> {
        let mut listed: Vec<&Revision> = state
            .revisions
            .iter()
            .filter(|r| state.event_dates.in_window(window, &r.incident_id))
            .collect();
        listed.sort_by(|a, b| (&a.incident_id, a.seq).cmp(&(&b.incident_id, b.seq)));
        listed
            .into_iter()
            .map(|r| {
                vec![
                    Cell::text(r.incident_id.as_str()),
                    Cell::seq(r.seq),
                    Cell::text(r.recorded_at.as_str()),
                    Cell::text(r.action.as_str()),
                    Cell::text(r.author.as_str()),
                    Cell::non_empty(r.changes.as_str()),
                    Cell::non_empty(r.reason.as_str()),
                ]
            })
            .collect()
    }
}
