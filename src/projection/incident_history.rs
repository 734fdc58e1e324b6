//! `incident-history`: the audit trail of every incident, one row per report, correction,
//! withdrawal, reinstatement and retraction, with who stated it, when the ledger recorded it, and what it set.

use super::names::KeyNames;
use super::{Cell, Describe, Fact, Projection, Reread, Row, Rows, Window};
use crate::payload::{IncidentChanges, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub struct IncidentHistory;

/// Which statements are about which incident, not what they say: the rows read them again
/// from the log ([`Reread`]), so that the state takes some 40 bytes a statement, whatever its
/// text (holding every revision's fields, it took 645 MB at 1,000,000 entries with 360-byte
/// notes, measured by hand; benches/scale.sh's export, which folds it, peaked at 791 MB then).
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    revisions: Vec<Revision>,
}

#[derive(Serialize, Deserialize)]
struct Revision {
    incident_id: Box<str>,
    seq: u64,
}

/// What a statement did to its incident, with the reason it gave, if it is one of an incident's.
fn revision(fact: &Fact) -> Option<(&str, &'static str, Option<&str>)> {
    match fact.payload()? {
        Payload::IncidentReported(p) => Some((&p.incident_id, "reported", None)),
        // A correction that changes nothing records what a release states over corrections
        // that stand.
        Payload::IncidentCorrected(p) if p.changes == IncidentChanges::default() => {
            Some((&p.incident_id, "contested", Some(&p.reason)))
        }
        Payload::IncidentCorrected(p) => Some((&p.incident_id, "corrected", Some(&p.reason))),
        Payload::IncidentWithdrawn(p) => Some((&p.incident_id, "withdrawn", Some(&p.reason))),
        Payload::IncidentReinstated(p) => Some((&p.incident_id, "reinstated", Some(&p.reason))),
        Payload::IncidentRetracted(p) => Some((&p.incident_id, "retracted", Some(&p.reason))),
        _ => None,
    }
}

/// The incident's event date as the last of `statements` that states one leaves it.
fn event_date(statements: &[Fact]) -> &str {
    let stated = statements
        .iter()
        .rev()
        .find_map(|fact| match fact.payload()? {
            Payload::IncidentReported(p) => Some(&*p.event_date),
            Payload::IncidentCorrected(p) => p.changes.event_date.as_deref(),
            _ => None,
        });
    stated.unwrap_or_default()
}

/// One statement's row.
fn row(fact: &Fact, names: &KeyNames) -> Option<Row> {
    let (id, action, reason) = revision(fact)?;
    // What the revision set is shown as its author wrote it, in their order.
    let json = |fields: Option<Map<String, Value>>| {
        fields.map_or_else(String::new, |fields| Value::Object(fields).to_string())
    };
    let changes = json(fact.stated_fields().filter(|fields| !fields.is_empty()));
    let contested = json(fact.contested_fields());
    Some(vec![
        Cell::text(id),
        Cell::seq(fact.seq),
        Cell::text(fact.recorded_at.to_rfc3339()),
        Cell::text(action),
        Cell::text(names.author(fact)),
        Cell::non_empty(&changes),
        Cell::non_empty(reason.unwrap_or_default()),
        Cell::non_empty(&contested),
    ])
}

impl Describe for IncidentHistory {
    const NAME: &'static str = "incident-history";
    const ABOUT: &'static str = "every report, correction and change of status of every incident";
    // 3: a revision is where its statement is, not its contents.
    // 4: the `contested` column.
    const VERSION: u32 = 4;
    const COLUMNS: &'static [&'static str] = &[
        "incident_id",
        "seq",
        "recorded_at",
        "action",
        "author",
        "changes",
        "reason",
        "contested",
    ];
    const EVENT_TIME: Option<&'static str> = Some("the incident's event_date");
}

impl Projection for IncidentHistory {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        if let Some((id, _, _)) = revision(fact) {
            state.revisions.push(Revision {
                incident_id: id.into(),
                seq: fact.seq,
            });
        }
    }

    fn rows<'a>(state: &'a State, window: &'a Window, log: &'a Reread<'_>) -> Rows<'a> {
        // Folded in seq order, so a stable sort by id keeps each incident's revisions in seq
        // order. An incident's statements are read again together, as its rows are made: its
        // last event date says whether the window keeps them.
        let mut listed: Vec<&Revision> = state.revisions.iter().collect();
        listed.sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
        let mut next = 0;
        let incidents = std::iter::from_fn(move || {
            let first = listed.get(next)?;
            let same = listed[next..]
                .iter()
                .take_while(|r| r.incident_id == first.incident_id);
            let seqs: Vec<u64> = same.map(|r| r.seq).collect();
            next += seqs.len();
            Some(seqs)
        });
        Box::new(
            incidents
                .map_while(|seqs| {
                    (seqs.iter().map(|&seq| log.fact(seq))).collect::<Option<Vec<Fact>>>()
                })
                .filter(|statements| window.contains(event_date(statements)))
                .flat_map(|statements| {
                    (statements.iter())
                        .filter_map(|fact| row(fact, &state.names))
                        .collect::<Vec<Row>>()
                }),
        )
    }
}
