//! What the ledger holds of one dataset's incidents, as an import's diff needs it, read from the
//! log in one pass: each incident's fields as the dataset's releases stated them (its report
//! with the imports' corrections) and as they stand now (every correction applied, as the
//! incidents view has them, an investigator's included) go to an unnamed scratch file, and
//! memory keeps only its id, where its two versions lie, and whether it stands: 48 bytes
//! and the id's, instead of the incidents view's state (about 900 bytes an incident, which made
//! a re-import of 1,000,000 rows take 935 MB).
//!
//! It reads the log and writes only the scratch file, which the system deletes when it is
//! closed, also when the process is killed; it never writes to the ledger.

use super::{ImportError, Layout};
use crate::entry::EntryRef;
use crate::event::EventType;
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::payload::{IncidentReported, Payload, INCIDENT_FIELDS};
use crate::verify::EntryProblem;
use crate::Ledger;
use serde_json::{Map, Value};
use std::fs::File;
use std::num::NonZeroU32;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// One incident of the dataset that the ledger holds: 48 bytes, and its id in the ids of all.
/// (The ids are kept together rather than one allocation each, which, made between the many
/// short-lived ones of reading the log, left the allocator's pages part-used.)
#[derive(Debug)]
pub(super) struct Held {
    /// Where its id lies in the ids of all.
    id_at: u64,
    id_len: u32,
    /// Where its fields as the releases stated them lie in the scratch file ...
    stated_offset: u64,
    stated_len: u32,
    /// ... and where its current fields do (the same place when only releases changed it).
    offset: u64,
    len: u32,
    /// The line of the first row of the file accepted for it, to name when another repeats it.
    pub first_line: Option<NonZeroU32>,
    pub standing: Standing,
    /// Whether a row of the file names it (also a row left out as malformed): if none does,
    /// it is missing from the release.
    pub named: bool,
}

impl Held {
    fn id<'a>(&self, ids: &'a str) -> &'a str {
        let start = usize::try_from(self.id_at).unwrap_or(usize::MAX);
        ids.get(start..start.saturating_add(self.id_len as usize))
            .unwrap_or("")
    }

    fn at(&self, version: Version) -> Stored {
        match version {
            Version::Stated => Stored {
                offset: self.stated_offset,
                len: self.stated_len,
            },
            Version::Current => Stored {
                offset: self.offset,
                len: self.len,
            },
        }
    }
}

/// Whether a held incident stands, as the log's withdrawals, reinstatements and retractions
/// leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standing {
    Active,
    /// A release no longer had it; a later one that has it reinstates it.
    Withdrawn,
    /// Taken back for good: a release that has it again leaves it out.
    Retracted,
}

/// An incident's fields by name, as JSON values.
pub(super) type Fields = Map<String, Value>;

/// Which of a held incident's fields: as the dataset's releases stated them, or as they stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Version {
    Stated,
    Current,
}

/// Where something lies in the scratch file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stored {
    offset: u64,
    len: u32,
}

/// The held incidents of a dataset in id order, with the scratch file their fields are in.
pub(super) struct Holdings {
    pub incidents: Vec<Held>,
    ids: String,
    scratch: Scratch,
}

impl Holdings {
    /// Lets go of the incidents once the diff has read the whole file: the append still has its
    /// commit and derived state to write, and need not do it beside them.
    pub fn clear(&mut self) {
        self.incidents = Vec::new();
        self.ids = String::new();
    }

    /// The incidents of layout `L`'s dataset that `ledger` holds, folded from its log. A
    /// correction whose reason is one an import of `L` gives was a release's; any other, an
    /// investigator's.
    pub fn read<L: Layout, F: LogFiles>(ledger: &Ledger<F>) -> Result<Holdings, ImportError> {
        let entries = ledger.head().map_or(0, |head| head.seq + 1);
        let mut fold = Fold::new(ledger.dir(), entries)?;
        let by_a_release = super::corrected_reason(L::NAME, "");
        incident_statements(ledger, L::PREFIX, |_, payload, bytes| match payload {
            Payload::IncidentReported(p) => fold.report(&p),
            Payload::IncidentCorrected(p) => {
                fold.correct(&p.incident_id, bytes, p.reason.starts_with(&by_a_release))
            }
            Payload::IncidentWithdrawn(p) => {
                fold.stand(&p.incident_id, Standing::Withdrawn);
                Ok(())
            }
            Payload::IncidentReinstated(p) => {
                fold.stand(&p.incident_id, Standing::Active);
                Ok(())
            }
            Payload::IncidentRetracted(p) => {
                fold.stand(&p.incident_id, Standing::Retracted);
                Ok(())
            }
            _ => Ok(()),
        })?;
        fold.finish()
    }

    /// The held incident with this id, if there is one.
    pub fn index(&self, incident_id: &str) -> Option<usize> {
        index(&self.incidents, &self.ids, incident_id)
    }

    /// The id of the `i`th incident.
    pub fn id(&self, i: usize) -> &str {
        self.incidents[i].id(&self.ids)
    }

    /// The fields of the `i`th incident that `keep` names as the releases stated them and as
    /// they stand, read once when they are the same (as they are unless someone other than a
    /// release corrected it).
    pub fn versions(
        &self,
        i: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(Fields, Fields), ImportError> {
        let held = &self.incidents[i];
        let stated = self.fields(i, Version::Stated, &keep)?;
        if held.at(Version::Stated) == held.at(Version::Current) {
            return Ok((stated.clone(), stated));
        }
        Ok((stated, self.fields(i, Version::Current, keep)?))
    }

    /// The fields of the `i`th incident that `keep` names, in `version`, as JSON values by name.
    pub fn fields(
        &self,
        i: usize,
        version: Version,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Map<String, Value>, ImportError> {
        let text = self.scratch.read(self.incidents[i].at(version))?;
        Ok(
            IncidentReported::read(&text).map_or_else(Map::new, |fields| {
                INCIDENT_FIELDS
                    .iter()
                    .filter(|f| keep(f.name))
                    .filter_map(|&f| Some((f.name.to_string(), fields.get(f)?.to_json())))
                    .collect()
            }),
        )
    }
}

/// Calls `each` with the seq, the typed payload and the payload's bytes of every report,
/// correction, withdrawal, reinstatement and retraction in `ledger`'s log of an incident whose id has `prefix` (`ucdp`
/// for `ucdp:<id>`), in seq order.
pub(super) fn incident_statements<F: LogFiles>(
    ledger: &Ledger<F>,
    prefix: &str,
    mut each: impl FnMut(u64, Payload<'_>, &[u8]) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let prefix = format!("{prefix}:");
    for item in ledger.log().entries(0) {
        let (seq, bytes) = item.map_err(|e| read_error(e.into()))?;
        let entry = EntryRef::decode(&bytes).map_err(|e| {
            read_error(LedgerError::DamagedEntry {
                seq,
                problem: Box::new(EntryProblem::Undecodable(e)),
            })
        })?;
        let statement = entry.statement;
        // Like the views, a payload that does not read as its type is skipped: only a
        // damaged log holds one, and verify is the one to say so.
        let payload = match EventType::parse(statement.event_type) {
            Some(
                event_type @ (EventType::IncidentReported
                | EventType::IncidentCorrected
                | EventType::IncidentWithdrawn
                | EventType::IncidentReinstated
                | EventType::IncidentRetracted),
            ) => Payload::parse(event_type, statement.payload).ok(),
            _ => None,
        };
        let incident_id = match &payload {
            Some(Payload::IncidentReported(p)) => &p.incident_id,
            Some(Payload::IncidentCorrected(p)) => &p.incident_id,
            Some(
                Payload::IncidentWithdrawn(p)
                | Payload::IncidentReinstated(p)
                | Payload::IncidentRetracted(p),
            ) => &p.incident_id,
            _ => continue,
        };
        if incident_id.starts_with(&prefix) {
            if let Some(payload) = payload {
                each(seq, payload, statement.payload)?;
            }
        }
    }
    Ok(())
}

/// Where the incident `incident_id` is in `incidents`, which are in id order.
fn index(incidents: &[Held], ids: &str, incident_id: &str) -> Option<usize> {
    incidents
        .binary_search_by(|held| held.id(ids).cmp(incident_id))
        .ok()
}

fn read_error(source: LedgerError) -> ImportError {
    ImportError::Ledger(Box::new(source))
}

/// The fold in progress. The log is read once, in seq order: reports are kept in that order,
/// corrections and changes of standing noted, and only then are the reports sorted by id and
/// the notes applied in seq order, so that no map by id is held beside them. That gives what a
/// fold in seq order gives, since the rules let an incident be reported once, and corrected,
/// withdrawn, reinstated or retracted only after that.
pub(super) struct Fold {
    incidents: Vec<Held>,
    ids: String,
    /// Each correction's incident, where its payload lies in the scratch file, and whether
    /// a release made it.
    corrections: Vec<(Box<str>, Stored, bool)>,
    /// Each withdrawal, reinstatement and retraction, as the standing it leaves.
    standings: Vec<(Box<str>, Standing)>,
    scratch: Scratch,
}

impl Fold {
    /// A fold of a log of `entries` entries (which bound the incidents: the pages of the list
    /// that are never written are never taken), whose scratch file is in `dir`: the ledger's
    /// directory, on the disk that holds the log (the system's temporary directory, taken for
    /// a ledger without one, may be memory).
    pub fn new(dir: Option<&Path>, entries: u64) -> Result<Fold, ImportError> {
        Ok(Fold {
            incidents: Vec::with_capacity(usize::try_from(entries).unwrap_or(0)),
            ids: String::new(),
            corrections: Vec::new(),
            standings: Vec::new(),
            scratch: Scratch::new(dir)?,
        })
    }

    /// A report, which states the incident whole.
    pub fn report(&mut self, report: &IncidentReported) -> Result<(), ImportError> {
        // Its own serialization, so it always succeeds.
        let text = serde_json::to_vec(report).unwrap_or_default();
        let at = self.scratch.write(&text)?;
        let id_at = self.ids.len() as u64;
        self.ids.push_str(&report.incident_id);
        self.incidents.push(Held {
            id_at,
            // An entry, and so an id, is at most 65,535 bytes.
            id_len: u32::try_from(report.incident_id.len()).unwrap_or(u32::MAX),
            stated_offset: at.offset,
            stated_len: at.len,
            offset: at.offset,
            len: at.len,
            first_line: None,
            standing: Standing::Active,
            named: false,
        });
        Ok(())
    }

    /// A correction, whose payload is `correction`, made by a release or not.
    pub fn correct(
        &mut self,
        incident_id: &str,
        correction: &[u8],
        by_a_release: bool,
    ) -> Result<(), ImportError> {
        let at = self.scratch.write(correction)?;
        self.corrections
            .push((incident_id.into(), at, by_a_release));
        Ok(())
    }

    /// A withdrawal, reinstatement or retraction, as the standing it leaves.
    pub fn stand(&mut self, incident_id: &str, standing: Standing) {
        self.standings.push((incident_id.into(), standing));
    }

    /// The held incidents in id order, corrected, and standing as the log leaves them.
    pub fn finish(self) -> Result<Holdings, ImportError> {
        let Fold {
            mut incidents,
            ids,
            corrections,
            standings,
            mut scratch,
        } = self;
        incidents.sort_unstable_by(|a, b| a.id(&ids).cmp(b.id(&ids)));
        for (id, at, by_a_release) in corrections {
            let Some(i) = index(&incidents, &ids, &id) else {
                continue;
            };
            let changes = scratch.read(at)?;
            let Ok(Payload::IncidentCorrected(correction)) =
                Payload::parse(EventType::IncidentCorrected, &changes)
            else {
                continue;
            };
            let versions: &[Version] = if by_a_release {
                &[Version::Current, Version::Stated]
            } else {
                &[Version::Current]
            };
            for &version in versions {
                let text = scratch.read(incidents[i].at(version))?;
                let Some(mut fields) = IncidentReported::read(&text) else {
                    continue;
                };
                fields.correct(&correction.changes);
                // What a release stated over an investigator's correction is what it stated.
                if let (Version::Stated, Some(contested)) = (version, &correction.contested) {
                    fields.correct(contested);
                }
                let at = scratch.write(&serde_json::to_vec(&fields).unwrap_or_default())?;
                let held = &mut incidents[i];
                match version {
                    Version::Current => (held.offset, held.len) = (at.offset, at.len),
                    Version::Stated => (held.stated_offset, held.stated_len) = (at.offset, at.len),
                }
            }
        }
        for (id, standing) in standings {
            if let Some(i) = index(&incidents, &ids, &id) {
                incidents[i].standing = standing;
            }
        }
        Ok(Holdings {
            incidents,
            ids,
            scratch,
        })
    }
}

/// The scratch file, written at its end through a buffer and read anywhere.
struct Scratch {
    file: File,
    /// Bytes written to the file; what follows is in `pending`.
    written: u64,
    pending: Vec<u8>,
}

/// How much is gathered before it is written: few writes, little memory.
const SCRATCH_BUFFER: usize = 1 << 20;

impl Scratch {
    fn new(dir: Option<&Path>) -> Result<Scratch, ImportError> {
        let file = match dir {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        }
        .map_err(ImportError::Scratch)?;
        Ok(Scratch {
            file,
            written: 0,
            pending: Vec::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<Stored, ImportError> {
        let at = Stored {
            offset: self.written + self.pending.len() as u64,
            // Entries are at most 65,535 bytes, and so are the payloads stored here.
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        };
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= SCRATCH_BUFFER {
            self.flush()?;
        }
        Ok(at)
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        self.file
            .write_all_at(&self.pending, self.written)
            .map_err(ImportError::Scratch)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    fn read(&self, at: Stored) -> Result<Vec<u8>, ImportError> {
        let mut bytes = vec![0; at.len as usize];
        match at.offset.checked_sub(self.written) {
            Some(start) => {
                let start = usize::try_from(start).unwrap_or(usize::MAX);
                let pending = self.pending.get(start..start + bytes.len());
                bytes.copy_from_slice(pending.ok_or_else(|| {
                    ImportError::Scratch(std::io::ErrorKind::UnexpectedEof.into())
                })?);
            }
            None => self
                .file
                .read_exact_at(&mut bytes, at.offset)
                .map_err(ImportError::Scratch)?,
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size design.md and this module give: a re-import holds one for each incident.
    #[test]
    fn a_held_incident_takes_48_bytes() {
        assert_eq!(std::mem::size_of::<Held>(), 48);
    }
}
