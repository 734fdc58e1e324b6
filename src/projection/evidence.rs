//! `evidence`: every file anchored to an incident by its hashes, who anchored it when, how it
//! was captured, and where its chain of custody stands (the chain itself is the `custody` view).

use super::names::{EventDates, KeyNames};
use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::event::EventType;
use crate::payload::{CustodyAction, Payload};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub struct Evidence;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    names: KeyNames,
    event_dates: EventDates,
    anchors: Vec<Anchor>,
    /// Each file's custody events so far, and the seq of its disposal, by SHA-256.
    custody: HashMap<String, (u64, Option<u64>)>,
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
    /// When the ledger recorded the anchoring, microseconds since the Unix epoch.
    anchored_at: i64,
    captured_at: Option<String>,
    custody_note: Option<String>,
    source_url: Option<String>,
    capture_method: Option<String>,
    capture_tool: Option<String>,
    /// The originals' SHA-256 hashes as a JSON array, empty when it is no conversion.
    derived_from: String,
}

impl Describe for Evidence {
    const NAME: &'static str = "evidence";
    const ABOUT: &'static str = "every evidence file anchored to an incident, by its hashes";
    // 3: what version 2 of evidence.anchored adds, and custody events, are kept; event dates
    // as numbers.
    const VERSION: u32 = 3;
    const COLUMNS: &'static [&'static str] = &[
        "incident_id",
        "filename",
        "blake3",
        "sha256",
        "bytes",
        "media_type",
        "anchored_seq",
        "anchored_by",
        "anchored_at",
        "captured_at",
        "custody_note",
        "source_url",
        "capture_method",
        "capture_tool",
        "derived_from",
        "custody_events",
        "disposed_seq",
    ];
    const EVENT_TIME: Option<&'static str> = Some("the incident's event_date");
}

impl Projection for Evidence {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        state.names.observe(fact);
        state.event_dates.observe(fact);
        let evidence = [EventType::EvidenceAnchored, EventType::EvidenceCustody];
        if let Some(Payload::EvidenceCustody(p)) = fact.payload_of(&evidence) {
            let (events, disposed) = state.custody.entry(p.sha256.to_string()).or_default();
            *events += 1;
            if p.action == CustodyAction::Disposed {
                *disposed = Some(fact.seq);
            }
        }
        if let Some(Payload::EvidenceAnchored(p)) = fact.payload_of(&evidence) {
            let text =
                |value: &Option<std::borrow::Cow<'_, str>>| value.as_deref().map(String::from);
            state.anchors.push(Anchor {
                incident_id: p.incident_id.to_string(),
                filename: p.filename.to_string(),
                blake3: p.blake3.to_string(),
                sha256: p.sha256.to_string(),
                bytes: p.bytes,
                media_type: p.media_type.to_string(),
                anchored_seq: fact.seq,
                anchored_by: state.names.author(fact),
                anchored_at: fact.recorded_at.0,
                captured_at: text(&p.captured_at),
                custody_note: text(&p.custody_note),
                source_url: text(&p.source_url),
                capture_method: text(&p.capture_method),
                capture_tool: text(&p.capture_tool),
                derived_from: p
                    .derived_from
                    .as_ref()
                    .map_or_else(String::new, |d| serde_json::json!(d).to_string()),
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
                    let (events, disposed) =
                        state.custody.get(&a.sha256).copied().unwrap_or_default();
                    vec![
                        Cell::text(a.incident_id.as_str()),
                        Cell::text(a.filename.as_str()),
                        Cell::text(a.blake3.as_str()),
                        Cell::text(a.sha256.as_str()),
                        Cell::seq(a.bytes),
                        Cell::text(a.media_type.as_str()),
                        Cell::seq(a.anchored_seq),
                        Cell::text(a.anchored_by.as_str()),
                        Cell::text(Timestamp(a.anchored_at).to_rfc3339()),
                        Cell::optional_text(a.captured_at.as_deref()),
                        Cell::optional_text(a.custody_note.as_deref()),
                        Cell::optional_text(a.source_url.as_deref()),
                        Cell::optional_text(a.capture_method.as_deref()),
                        Cell::optional_text(a.capture_tool.as_deref()),
                        Cell::non_empty(&a.derived_from),
                        Cell::seq(events),
                        Cell::optional_seq(disposed),
                    ]
                }),
        )
    }
}
