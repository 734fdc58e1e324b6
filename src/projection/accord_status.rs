//! `accord-status`: where each accord, and each of its provisions, stands: the status of its
//! latest change by effective date, how many changes it has seen, and the source.

use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::event::EventType;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub struct AccordStatus;

/// Every change is kept, so that an event-time window can pick the status as it stood then,
/// and a change recorded late (back-filled) still lands in its place by effective date.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    changes: Vec<Change>,
}

#[derive(Serialize, Deserialize)]
struct Change {
    accord: String,
    provision: String,
    status: String,
    effective_date: String,
    seq: u64,
    source: String,
}

impl Describe for AccordStatus {
    const NAME: &'static str = "accord-status";
    const ABOUT: &'static str = "the status of each accord and provision, from its latest change";
    const VERSION: u32 = 1;
    const COLUMNS: &'static [&'static str] = &[
        "accord",
        "provision",
        "status",
        "since",
        "changes",
        "last_seq",
        "source",
    ];
    const EVENT_TIME: Option<&'static str> = Some("effective_date");
}

impl Projection for AccordStatus {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        let Some(Payload::AccordStatusChanged(p)) =
            fact.payload_of(&[EventType::AccordStatusChanged])
        else {
            return;
        };
        state.changes.push(Change {
            accord: p.accord.to_string(),
            provision: p.provision.as_deref().unwrap_or_default().to_string(),
            status: p.status.to_string(),
            effective_date: p.effective_date.to_string(),
            seq: fact.seq,
            source: p.source.as_deref().unwrap_or_default().to_string(),
        });
    }

    fn rows<'a>(state: &'a State, window: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        // (accord, provision) -> (latest change, number of changes, last seq)
        let mut standing: BTreeMap<(&str, &str), (&Change, usize, u64)> = BTreeMap::new();
        for change in &state.changes {
            if !window.contains(&change.effective_date) {
                continue;
            }
            let key = (change.accord.as_str(), change.provision.as_str());
            let row = standing.entry(key).or_insert((change, 0, change.seq));
            let latest = (&row.0.effective_date, row.0.seq);
            if (&change.effective_date, change.seq) >= latest {
                row.0 = change;
            }
            row.1 += 1;
            row.2 = row.2.max(change.seq);
        }
        Box::new(
            standing
                .into_iter()
                .map(|((accord, provision), (latest, changes, last_seq))| {
                    vec![
                        Cell::text(accord),
                        Cell::non_empty(provision),
                        Cell::text(latest.status.as_str()),
                        Cell::text(latest.effective_date.as_str()),
                        Cell::count(changes),
                        Cell::seq(last_seq),
                        Cell::non_empty(latest.source.as_str()),
                    ]
                }),
        )
    }
}
