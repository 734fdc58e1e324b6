//! [`Fact`]: one entry as the views see it: who stated what, when, and where it sits in the log.
//! It reads the entry in place and hands its payload to views; it never judges the entry
//! (auditing the log is `verify`'s job).

use crate::entry::EntryRef;
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::store::StoredBytes;
use crate::time::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;

/// One entry as the projections see it. Projections trust the log they read: a payload that is
/// not JSON reads as null.
pub struct Fact {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub author: PublicKey,
    pub event_type: EventType,
    /// The stored entry, shared with the store rather than copied, and where its payload is.
    entry_bytes: StoredBytes,
    payload_at: std::ops::Range<usize>,
    /// The payload as a JSON value, parsed on first use: a view that reads a few fields with
    /// [`Fact::parse`] never pays for building the whole value.
    payload: OnceLock<Value>,
}

impl Fact {
    /// The fact of a stored entry, or why it cannot be one.
    pub(super) fn from_entry(bytes: StoredBytes) -> Result<Fact, String> {
        let entry =
            EntryRef::decode(&bytes).map_err(|e| format!("its entry does not decode: {e}"))?;
        let event_type = EventType::parse(entry.statement.event_type)
            .ok_or_else(|| format!("unknown event type {}", entry.statement.event_type))?;
        let payload = entry.statement.payload;
        // The payload is a slice of the entry's bytes; keep its place instead of a copy.
        let start = payload.as_ptr() as usize - bytes.as_ptr() as usize;
        Ok(Fact {
            seq: entry.seq,
            recorded_at: entry.recorded_at,
            author: entry.statement.author,
            event_type,
            payload_at: start..start + payload.len(),
            payload: OnceLock::new(),
            entry_bytes: bytes,
        })
    }

    /// The payload's bytes as stated: every reading of the payload below starts here.
    fn payload_bytes(&self) -> &[u8] {
        &self.entry_bytes[self.payload_at.clone()]
    }

    /// The whole payload.
    pub fn payload(&self) -> &Value {
        self.payload
            .get_or_init(|| serde_json::from_slice(self.payload_bytes()).unwrap_or(Value::Null))
    }

    /// Whether [`Fact::payload`] has been read, so that the engine can parse the payloads of
    /// this event type ahead of the fold next time.
    pub(super) fn payload_was_read(&self) -> bool {
        self.payload.get().is_some()
    }

    /// The payload read into a type of the view's own, borrowing from it where it can.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Option<T> {
        serde_json::from_slice(self.payload_bytes()).ok()
    }

    /// A text field of the payload ("" when absent, which the schemas rule out for required ones).
    pub fn text(&self, field: &str) -> &str {
        self.payload()
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}
