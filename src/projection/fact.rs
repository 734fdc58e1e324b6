//! [`Fact`]: one entry as the views see it: who stated what, when, and where it sits in the log.
//! It reads the entry in place and hands its typed payload to views; it never judges the entry
//! (auditing the log is `verify`'s job).

use crate::codec::place_in;
use crate::entry::EntryRef;
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::log::StoredBytes;
use crate::payload::{self, Payload};
use crate::time::Timestamp;
use crate::verify::EntryProblem;
use serde_json::{Map, Value};
use std::ops::Range;
use std::sync::OnceLock;

/// A payload read as its type, `None` when it does not read as one.
type Parsed<'a> = Option<Payload<'a>>;

self_cell::self_cell!(
    /// A payload read as its type together with the entry it borrows its strings from, so that
    /// the typed payload can be kept with the fact (and parsed on the reading side, ahead of the
    /// fold) without copying a string out.
    struct Typed {
        owner: StoredBytes,
        #[covariant]
        dependent: Parsed,
    }
);

/// One entry as the projections see it. Projections trust the log they read, which `verify`
/// audits: a payload that does not read as its type (only a damaged log holds one) is no payload
/// to the views, which skip it.
pub struct Fact {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub author: PublicKey,
    pub event_type: EventType,
    /// The entry's bytes as read from the log, and where its payload is.
    entry_bytes: StoredBytes,
    payload_at: Range<usize>,
    /// The typed payload, parsed on first use: a fact no view reads is never parsed.
    typed: OnceLock<Typed>,
}

impl Fact {
    /// The fact of a stored entry, or why it cannot be one.
    pub(super) fn from_entry(bytes: StoredBytes) -> Result<Fact, EntryProblem> {
        let entry = EntryRef::decode(&bytes).map_err(EntryProblem::Undecodable)?;
        let event_type = EventType::parse(entry.statement.event_type)
            .ok_or_else(|| EntryProblem::UnknownType(entry.statement.event_type.to_string()))?;
        // The payload is a slice of the entry's bytes, so it always has a place there.
        let payload_at = place_in(&bytes, entry.statement.payload).unwrap_or_default();
        Ok(Fact {
            seq: entry.seq,
            recorded_at: entry.recorded_at,
            author: entry.statement.author,
            event_type,
            payload_at,
            typed: OnceLock::new(),
            entry_bytes: bytes,
        })
    }

    /// The payload's bytes as stated: every reading of the payload starts here, and the
    /// strings of a parsed payload borrow from them.
    pub(super) fn payload_bytes(&self) -> &[u8] {
        &self.entry_bytes[self.payload_at.clone()]
    }

    /// The payload, typed by the event's type; `None` when it does not read as that type.
    pub fn payload(&self) -> Option<&Payload<'_>> {
        self.typed
            .get_or_init(|| {
                let at = self.payload_at.clone();
                Typed::new(self.entry_bytes.clone(), |bytes| {
                    Payload::parse(self.event_type, &bytes[at]).ok()
                })
            })
            .borrow_dependent()
            .as_ref()
    }

    /// The payload when the fact is one of `event_types`: a view that reads only some kinds of
    /// event asks for those, and leaves the payloads of the others unparsed.
    pub fn payload_of(&self, event_types: &[EventType]) -> Option<&Payload<'_>> {
        if event_types.contains(&self.event_type) {
            self.payload()
        } else {
            None
        }
    }

    /// Calls `f` with the payload as [`Fact::payload`] gives it, but parsed for this call alone
    /// unless a view has kept it: for a reader that needs it once on the reading side, such as
    /// a keyed view's digest, keeping it would cost more (an allocation made on one core and
    /// freed on another) than the parse saves.
    pub fn with_payload<R>(&self, f: impl FnOnce(Option<&Payload<'_>>) -> R) -> R {
        if let Some(typed) = self.typed.get() {
            return f(typed.borrow_dependent().as_ref());
        }
        f(Payload::parse(self.event_type, self.payload_bytes())
            .ok()
            .as_ref())
    }

    /// What a tally of incidents reads of the payload ([`payload::Counts`]), read afresh: far
    /// cheaper than the whole payload, for a view that needs no more.
    pub fn counts(&self) -> Option<payload::Counts<'_>> {
        payload::Counts::parse(self.event_type, self.payload_bytes())
    }

    /// Whether [`Fact::payload`] has been read, so that the engine can parse the payloads of
    /// this event type ahead of the fold next time.
    pub(super) fn payload_was_read(&self) -> bool {
        self.typed.get().is_some()
    }

    /// The incident fields a report or correction sets, as its author wrote them (see
    /// [`payload::stated_fields`]), for a view that shows a statement as it was made.
    pub fn stated_fields(&self) -> Option<Map<String, Value>> {
        payload::stated_fields(self.event_type, self.payload_bytes())
    }

    /// The values a release stated that a correction records without applying (see
    /// [`payload::contested_fields`]).
    pub fn contested_fields(&self) -> Option<Map<String, Value>> {
        payload::contested_fields(self.event_type, self.payload_bytes())
    }
}
