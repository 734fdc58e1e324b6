//! `incident-history`: the audit trail of every incident, one row per report, correction and
//! retraction, with who stated it, when the ledger recorded it, and what it set.

use super::names::{EventDates, KeyNames};
use super::{Cell, Describe, Fact, Projection, Rows, Window};
use crate::payload::Payload;
use crate::time::Timestamp;
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
    /// Microseconds since the Unix epoch, written out only for the rows.
    recorded_at: i64,
    action: Action,
    author: String,
    /// The fields this revision set, as compact JSON (empty for a retraction); boxed, so that
    /// it takes exactly its length.
    changes: Box<str>,
    reason: String,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
enum Action {
    Reported,
    Corrected,
    Retracted,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Reported => "reported",
            Action::Corrected => "corrected",
            Action::Retracted => "retracted",
        }
    }
}

impl Describe for IncidentHistory {
    const NAME: &'static str = "incident-history";
    const ABOUT: &'static str = "every report, correction and retraction of every incident";
    // 2: the recording time and the action are kept as a number and a tag, not as text.
    const VERSION: u32 = 2;
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
        let (action, id, reason) = match fact.payload() {
            Some(Payload::IncidentReported(p)) => (Action::Reported, &p.incident_id, None),
            Some(Payload::IncidentCorrected(p)) => {
                (Action::Corrected, &p.incident_id, Some(&p.reason))
            }
            Some(Payload::IncidentRetracted(p)) => {
                (Action::Retracted, &p.incident_id, Some(&p.reason))
            }
            _ => return,
        };
        // What the revision set is shown as its author wrote it, in their order.
        let changes = fact.stated_fields();
        state.revisions.push(Revision {
            incident_id: id.to_string(),
            seq: fact.seq,
            recorded_at: fact.recorded_at.0,
            action,
            author: state.names.author(fact),
            changes: changes.map_or_else(Box::default, |c| {
                Value::Object(c).to_string().into_boxed_str()
            }),
            reason: reason.map_or_else(String::new, ToString::to_string),
        });
    }

    fn rows<'a>(state: &'a State, window: &'a Window) -> Rows<'a> {
        let mut listed: Vec<&Revision> = state
            .revisions
            .iter()
            .filter(|r| state.event_dates.in_window(window, &r.incident_id))
            .collect();
        listed.sort_by(|a, b| (&a.incident_id, a.seq).cmp(&(&b.incident_id, b.seq)));
        Box::new(listed.into_iter().map(|r| {
            vec![
                Cell::text(r.incident_id.as_str()),
                Cell::seq(r.seq),
                Cell::text(Timestamp(r.recorded_at).to_rfc3339()),
                Cell::text(r.action.as_str()),
                Cell::text(r.author.as_str()),
                Cell::non_empty(&r.changes),
                Cell::non_empty(r.reason.as_str()),
            ]
        }))
    }
}
