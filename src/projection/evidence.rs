//! `evidence`: every file anchored to an incident by its hashes, and who anchored it when.

use super::names::{EventDates, KeyNames};
use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::event::EventType;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};

pub struct Evidence;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    event_dates: EventDates,
    anchors: Vec<Anchor>,
}

#[derive(Serialize, Deserialize)]
struct Anchor {
    incident_id: String,
    filename: String,
    blake3: String,
    sha256: String,
    bytes: u64,
    media_type: String,
    anchored_seq: u64,
    anchored_by: String,
}

impl Describe for Evidence {
    const NAME: &'static str = "evidence";
    const ABOUT: &'static str = "every evidence file anchored to an incident, by its hashes";
    // 2: a size written as a whole decimal (10.0) is read, where 1 took it for 0.
    const VERSION: u32 = 2;
    const COLUMNS: &'static [&'static str] = &[
        "incident_id",
        "filename",
        "blake3",
        "sha256",
        "bytes",
        "media_type",
        "anchored_seq",
        "anchored_by",
    ];
    const EVENT_TIME: Option<&'static str> = Some("the incident's event_date");
}

impl Projection for Evidence {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        state.event_dates.observe(fact);
        if let Some(Payload::EvidenceAnchored(p)) = fact.payload_of(&[EventType::EvidenceAnchored])
        {
            state.anchors.push(Anchor {
                incident_id: p.incident_id.to_string(),
                filename: p.filename.to_string(),
                blake3: p.blake3.to_string(),
                sha256: p.sha256.to_string(),
                bytes: p.bytes,
                media_type: p.media_type.to_string(),
                anchored_seq: fact.seq,
                anchored_by: state.names.author(fact),
            });
        }
    }

    fn rows<'a>(state: &'a State, window: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        Box::new(
            state
                .anchors
                .iter()
                .filter(|a| state.event_dates.in_window(window, &a.incident_id))
                .map(|a| {
                    vec![
                        Cell::text(a.incident_id.as_str()),
                        Cell::text(a.filename.as_str()),
                        Cell::text(a.blake3.as_str()),
                        Cell::text(a.sha256.as_str()),
                        Cell::seq(a.bytes),
                        Cell::text(a.media_type.as_str()),
                        Cell::seq(a.anchored_seq),
                        Cell::text(a.anchored_by.as_str()),
                    ]
                }),
        )
    }
}
