//! How an entry is shown: one serializable view used for both JSON and text.

use crate::cli::output::count;
use ledger::entry::Entry;
use ledger::event::EventType;
use ledger::keys::PublicKey;
use ledger::merkle::Hash;
use ledger::payload::Payload;
use ledger::rules::KeyRecord;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, Write};

/// Enrolled keys by public key, to show authors by name.
pub type KeyNames = HashMap<PublicKey, String>;

pub fn key_names(keys: &[KeyRecord]) -> KeyNames {
    keys.iter()
        .map(|k| (PublicKey(k.public_key), k.name.clone()))
        .collect()
}

/// An entry as `log` and `show` print it.
#[derive(Serialize)]
pub struct EntryView<'a> {
    pub seq: u64,
    pub recorded_at: String,
    pub hash: String,
    pub prev: String,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub schema_version: u16,
    pub author: String,
    pub author_name: Option<&'a str>,
    pub claimed_at: String,
    pub seal: SealView,
    /// The payload; a stored payload that is not JSON (a damaged entry) is shown as text.
    pub data: Value,
    /// The canonical entry bytes (docs/FORMAT.md, "Entry"), from which everything above can be
    /// checked: `data` re-prints the payload, which loses how its author wrote numbers and
    /// escapes, while these bytes are the ones hashed and signed.
    pub entry_hex: String,
    /// What the event is about, in a few words (empty for a payload that does not read as its
    /// type, which only a damaged entry has).
    #[serde(skip)]
    pub about: String,
    /// With a witness policy (`show --policy`): when witnesses place the entry's recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witnessed: Option<WindowView>,
}

/// The witnessed times an entry was recorded between, RFC 3339 (none where no witnessed
/// checkpoint bounds it on that side).
#[derive(Serialize)]
pub struct WindowView {
    pub after: Option<String>,
    pub before: Option<String>,
}

#[derive(Serialize)]
pub struct SealView {
    pub index: u64,
    pub batch_size: u64,
    pub proof_hashes: usize,
    /// The seal's inclusion proof, nearest sibling first (docs/FORMAT.md, "Seal").
    pub proof: Vec<String>,
    pub signature: String,
}

impl<'a> EntryView<'a> {
    pub fn new(entry: &'a Entry, hash: &Hash, names: &'a KeyNames) -> EntryView<'a> {
        let statement = &entry.statement;
        EntryView {
            seq: entry.seq,
            recorded_at: entry.recorded_at.to_rfc3339(),
            hash: hex::encode(hash),
            prev: hex::encode(entry.prev),
            event_type: &statement.event_type,
            schema_version: statement.schema_version,
            author: statement.author.to_string(),
            author_name: names.get(&statement.author).map(String::as_str),
            claimed_at: statement.claimed_at.to_rfc3339(),
            seal: SealView {
                index: entry.seal.index,
                batch_size: entry.seal.batch_size,
                proof_hashes: entry.seal.proof.len(),
                proof: entry.seal.proof.iter().map(hex::encode).collect(),
                signature: hex::encode(entry.seal.signature),
            },
            data: serde_json::from_slice(&statement.payload).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&statement.payload).into_owned())
            }),
            // Decoding is one-to-one (FORMAT.md), so encoding again gives the stored bytes.
            entry_hex: hex::encode(entry.encode()),
            about: EventType::parse(&statement.event_type)
                .and_then(|t| Payload::parse(t, &statement.payload).ok())
                .map(|payload| payload.summary())
                .unwrap_or_default(),
            witnessed: None,
        }
    }

    /// The header of `log`'s text lines, in the columns [`EntryView::line`] uses, with a rule
    /// under it as tables have.
    pub fn line_header() -> String {
        let dashes = |width: usize| "-".repeat(width);
        format!(
            "{}\n{}",
            Self::columns("seq", "recorded_at", "type", "author", "about"),
            Self::columns(
                &dashes(6),
                &dashes(27),
                &dashes(22),
                &dashes(18),
                &dashes(5)
            )
        )
    }

    /// `log`'s text line: seq, time, type, author, and what the event is about. Columns are
    /// fixed so that lines can be printed as they are read; a longer author name pushes the
    /// rest of its line along.
    pub fn line(&self) -> String {
        let author = self.author_name.unwrap_or(&self.author);
        Self::columns(
            &self.seq.to_string(),
            &self.recorded_at,
            self.event_type,
            author,
            &self.about,
        )
    }

    fn columns(
        seq: &str,
        recorded_at: &str,
        event_type: &str,
        author: &str,
        about: &str,
    ) -> String {
        format!("{seq:>6}  {recorded_at:<27}  {event_type:<22}  {author:<18}  {about}")
    }

    /// `show`'s text: one field per line, then the payload as indented JSON.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let fields = [
            ("seq", self.seq.to_string()),
            ("recorded_at", self.recorded_at.clone()),
            ("hash", self.hash.clone()),
            ("prev", self.prev.clone()),
            ("type", self.event_type.to_string()),
            ("schema_version", self.schema_version.to_string()),
            ("author", self.author.clone()),
            ("author_name", self.author_name.unwrap_or("-").to_string()),
            ("claimed_at", self.claimed_at.clone()),
            (
                "seal",
                format!(
                    "statement {} of {} ({})",
                    self.seal.index,
                    self.seal.batch_size,
                    count(self.seal.proof_hashes as u64, "proof hash", "proof hashes")
                ),
            ),
            ("signature", self.seal.signature.clone()),
        ];
        for (name, value) in fields {
            writeln!(out, "{name:<15} {value}")?;
        }
        if let Some(window) = &self.witnessed {
            let side = |time: &Option<String>| time.clone().unwrap_or_else(|| "-".into());
            writeln!(
                out,
                "{:<15} after {}, before {}",
                "witnessed",
                side(&window.after),
                side(&window.before)
            )?;
        }
        writeln!(out, "data")?;
        serde_json::to_writer_pretty(&mut *out, &self.data)?;
        writeln!(out)
    }
}
