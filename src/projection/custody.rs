//! `custody`: each evidence file's chain of custody in order (Berkeley Protocol, para. 167):
//! its anchoring, then every transfer, copy, analysis and its disposal, with who did it, when,
//! where it went and who recorded it.

use super::names::KeyNames;
use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::event::EventType;
use crate::payload::Payload;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub struct Custody;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    /// The file name and incident each file was first anchored with, by SHA-256: a custody
    /// event names the file by its hash alone.
    anchored: HashMap<String, (String, String)>,
    links: Vec<Link>,
}

/// One event in a file's chain.
#[derive(Serialize, Deserialize)]
struct Link {
    sha256: String,
    incident_id: String,
    seq: u64,
    action: String,
    by: String,
    at: Option<String>,
    to: Option<String>,
    location: Option<String>,
    note: Option<String>,
    recorded_by: String,
    recorded_at: i64,
}

impl Describe for Custody {
    const NAME: &'static str = "custody";
    const ABOUT: &'static str = "each evidence file's chain of custody, from its anchoring on";
    const VERSION: u32 = 1;
    const COLUMNS: &'static [&'static str] = &[
        "sha256",
        "filename",
        "incident_id",
        "seq",
        "action",
        "by",
        "at",
        "to",
        "location",
        "note",
        "recorded_by",
        "recorded_at",
    ];
    const EVENT_TIME: Option<&'static str> = None;
}

impl Projection for Custody {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        let text = |value: &Option<std::borrow::Cow<'_, str>>| value.as_deref().map(String::from);
        let link = match fact.payload_of(&[EventType::EvidenceAnchored, EventType::EvidenceCustody])
        {
            Some(Payload::EvidenceAnchored(p)) => {
                (state.anchored)
                    .entry(p.sha256.to_string())
                    .or_insert_with(|| (p.filename.to_string(), p.incident_id.to_string()));
                // The anchoring opens the chain: the signer holds the file, captured then.
                Link {
                    sha256: p.sha256.to_string(),
                    incident_id: p.incident_id.to_string(),
                    seq: fact.seq,
                    action: "anchored".into(),
                    by: state.names.author(fact),
                    at: text(&p.captured_at),
                    to: None,
                    location: None,
                    note: text(&p.custody_note),
                    recorded_by: state.names.author(fact),
                    recorded_at: fact.recorded_at.0,
                }
            }
            Some(Payload::EvidenceCustody(p)) => Link {
                sha256: p.sha256.to_string(),
                incident_id: (state.anchored.get(&*p.sha256))
                    .map_or_else(String::new, |(_, incident)| incident.clone()),
                seq: fact.seq,
                action: p.action.name().into(),
                by: p.by.to_string(),
                at: Some(p.at.to_string()),
                to: text(&p.to),
                location: text(&p.location),
                note: text(&p.note),
                recorded_by: state.names.author(fact),
                recorded_at: fact.recorded_at.0,
            },
            _ => return,
        };
        state.links.push(link);
    }

    fn rows<'a>(state: &'a State, _: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        // Folded in seq order, so a stable sort by file keeps each chain in order.
        let mut links: Vec<&Link> = state.links.iter().collect();
        links.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Box::new(links.into_iter().map(|link| {
            let filename = state
                .anchored
                .get(&link.sha256)
                .map(|(name, _)| name.as_str());
            vec![
                Cell::text(link.sha256.as_str()),
                Cell::optional_text(filename),
                Cell::text(link.incident_id.as_str()),
                Cell::seq(link.seq),
                Cell::text(link.action.as_str()),
                Cell::text(link.by.as_str()),
                Cell::optional_text(link.at.as_deref()),
                Cell::optional_text(link.to.as_deref()),
                Cell::optional_text(link.location.as_deref()),
                Cell::optional_text(link.note.as_deref()),
                Cell::text(link.recorded_by.as_str()),
                Cell::text(Timestamp(link.recorded_at).to_rfc3339()),
            ]
        }))
    }
}
