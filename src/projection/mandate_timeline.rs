//! `mandate-timeline`: every change to a mission's mandate in order of adoption, with the
//! ceilings and end date in force after it (a value a resolution does not restate carries
//! forward) and how many days that configuration lasted.

use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::date::iso_date;
use crate::event::EventType;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};

pub struct MandateTimeline;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    changes: Vec<Change>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Change {
    mission: String,
    resolution: String,
    action: String,
    adopted_date: String,
    mandate_until: Option<String>,
    troop_ceiling: Option<u64>,
    police_ceiling: Option<u64>,
    seq: u64,
}

/// Actions after which the mandate no longer runs, so no later end date is carried into them.
const ENDING_ACTIONS: &[&str] = &["terminated", "withdrawal_completed"];

fn days_between(from: &str, to: &str) -> Option<i64> {
    Some((iso_date(to)? - iso_date(from)?).num_days())
}

impl Describe for MandateTimeline {
    const NAME: &'static str = "mandate-timeline";
    const ABOUT: &'static str =
        "each mandate change in order of adoption, ceilings carried forward";
    // 2: a ceiling written as a whole decimal (1440.0) is read, where 1 took it for none.
    const VERSION: u32 = 2;
    const COLUMNS: &'static [&'static str] = &[
        "mission",
        "resolution",
        "action",
        "adopted_date",
        "mandate_until",
        "troop_ceiling",
        "police_ceiling",
        "days_in_force",
    ];
    const EVENT_TIME: Option<&'static str> = Some("adopted_date");
}

impl Projection for MandateTimeline {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        let Some(Payload::MandateChanged(p)) = fact.payload_of(&[EventType::MandateChanged]) else {
            return;
        };
        state.changes.push(Change {
            mission: p.mission.to_string(),
            resolution: p.resolution.to_string(),
            action: p.action.to_string(),
            adopted_date: p.adopted_date.to_string(),
            mandate_until: p.mandate_until.as_deref().map(str::to_string),
            troop_ceiling: p.troop_ceiling,
            police_ceiling: p.police_ceiling,
            seq: fact.seq,
        });
    }

    fn rows<'a>(state: &'a State, window: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        let mut ordered: Vec<&Change> = state.changes.iter().collect();
        ordered.sort_by(|a, b| {
            (&a.mission, &a.adopted_date, a.seq).cmp(&(&b.mission, &b.adopted_date, b.seq))
        });
        // Carry values forward within each mission, and measure each change against the next.
        let mut timeline: Vec<(Change, Option<i64>)> = Vec::with_capacity(ordered.len());
        for (i, change) in ordered.iter().enumerate() {
            let mut current = (*change).clone();
            if let Some((before, _)) = timeline
                .last()
                .filter(|(b, _)| b.mission == current.mission)
            {
                current.troop_ceiling = current.troop_ceiling.or(before.troop_ceiling);
                current.police_ceiling = current.police_ceiling.or(before.police_ceiling);
                if !ENDING_ACTIONS.contains(&current.action.as_str()) {
                    current.mandate_until = current.mandate_until.or(before.mandate_until.clone());
                }
            }
            let next = ordered.get(i + 1).filter(|n| n.mission == current.mission);
            let days = match next {
                Some(next) => days_between(&current.adopted_date, &next.adopted_date),
                None => current
                    .mandate_until
                    .as_deref()
                    .filter(|_| !ENDING_ACTIONS.contains(&current.action.as_str()))
                    .and_then(|until| days_between(&current.adopted_date, until)),
            };
            timeline.push((current, days));
        }
        timeline.sort_by(|(a, _), (b, _)| {
            (&a.adopted_date, &a.mission, a.seq).cmp(&(&b.adopted_date, &b.mission, b.seq))
        });
        Box::new(
            timeline
                .into_iter()
                .filter(|(change, _)| window.contains(&change.adopted_date))
                .map(|(change, days)| {
                    vec![
                        Cell::text(change.mission),
                        Cell::text(change.resolution),
                        Cell::text(change.action),
                        Cell::text(change.adopted_date),
                        Cell::optional_text(change.mandate_until.as_deref()),
                        Cell::optional_seq(change.troop_ceiling),
                        Cell::optional_seq(change.police_ceiling),
                        days.map_or(Cell::Empty, Cell::Int),
                    ]
                }),
        )
    }
}
