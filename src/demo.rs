//! The demo: a small Mali ledger built from the example events in examples/mali/ (embedded in
//! the binary, so the demo runs from any directory), with fresh demo keys, then verified.
//!
//! It only drives the public façade, exactly as a user's commands would; it prints nothing.

use crate::event::Role;
use crate::evidence::{self, Provenance};
use crate::input::parse_events;
use crate::keys::SecretKey;
use crate::ledger::{Ledger, LedgerError};
use crate::verify::{Problem, Report};
use std::path::{Path, PathBuf};

/// The example batches, appended in this order by the investigator.
pub const EXAMPLE_BATCHES: [(&str, &str); 4] = [
    (
        "01-mandate.ndjson",
        include_str!("../examples/mali/01-mandate.ndjson"),
    ),
    (
        "02-accord.ndjson",
        include_str!("../examples/mali/02-accord.ndjson"),
    ),
    (
        "03-incidents.ndjson",
        include_str!("../examples/mali/03-incidents.ndjson"),
    ),
    (
        "04-corrections.ndjson",
        include_str!("../examples/mali/04-corrections.ndjson"),
    ),
];
const EVIDENCE_NAME: &str = "panel-report-note.txt";
const EVIDENCE_TEXT: &str = include_str!("../examples/mali/evidence/panel-report-note.txt");
const EVIDENCE_INCIDENT: &str = "mali-panel-2023-003";
pub const DEMO_ORIGIN: &str = "ledger.example.org/mali-panel";
/// A file that marks a directory as the demo's own, so that a rerun may replace it.
const MARKER: &str = ".ledger-demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{dir} exists and was not made by the demo, so the demo leaves it alone")]
    Occupied { dir: PathBuf },
    #[error("cannot prepare the demo directory {dir}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("the built-in example file {file} does not read")]
    Example {
        file: &'static str,
        source: crate::input::InputError,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

pub struct DemoSummary {
    pub dir: PathBuf,
    pub ledger_dir: PathBuf,
    pub keys: Vec<(String, Role, PathBuf)>,
    pub batches: Vec<(&'static str, usize)>,
    pub report: Report,
    pub problems: Vec<Problem>,
}

/// What the demo's marker says: that the demo made this directory, named by its full path, so
/// that a marker copied elsewhere (into a real ledger, say) never makes that place the demo's.
fn marker_text(dir: &Path) -> String {
    format!(
        "made by the ledger demo in {}; running the demo again replaces this directory\n",
        dir.display()
    )
}

/// What the demo makes in its directory, and nothing else.
const DEMO_ENTRIES: [&str; 5] = [MARKER, "keys", "evidence", "ledger", "export"];

/// Whether `dir` is a demo's, to be replaced: its marker names it, it holds only what the demo
/// makes, and its ledger, if any, is the demo's.
fn the_demos(dir: &Path) -> std::io::Result<bool> {
    let canonical = std::fs::canonicalize(dir)?;
    let marked =
        std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|text| text == marker_text(&canonical));
    if !marked {
        return Ok(false);
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if !DEMO_ENTRIES.iter().any(|ours| name == *ours) {
            return Ok(false);
        }
    }
    let ledger = dir.join("ledger");
    Ok(!ledger.exists()
        || Ledger::open_read(&ledger)
            .ok()
            .and_then(|ledger| ledger.origin().ok().flatten())
            .is_some_and(|origin| origin == DEMO_ORIGIN))
}

fn prepare(dir: &Path) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io)?.next().is_none();
        if !empty && !the_demos(dir).map_err(io)? {
            return Err(DemoError::Occupied {
                dir: dir.to_path_buf(),
            });
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir.join("keys")).map_err(io)?;
    std::fs::create_dir_all(dir.join("evidence")).map_err(io)?;
    let canonical = std::fs::canonicalize(dir).map_err(io)?;
    std::fs::write(dir.join(MARKER), marker_text(&canonical)).map_err(io)
}

/// Builds the demo ledger in `dir` (replacing an earlier demo there) and verifies it.
pub fn build(dir: &Path) -> Result<(Ledger, DemoSummary), DemoError> {
    prepare(dir)?;
    let mut keys = Vec::new();
    let mut new_key = |name: &str, role: Role| -> Result<SecretKey, DemoError> {
        let key = SecretKey::generate(Some(name.to_string()))?;
        let path = dir.join("keys").join(format!("{name}.key"));
        key.save_new(&path)?;
        keys.push((name.to_string(), role, path));
        Ok(key)
    };
    let admin = new_key("panel-admin", Role::Admin)?;
    let investigator = new_key("panel-investigator", Role::Investigator)?;
    let auditor = new_key("partner-auditor", Role::Auditor)?;

    let ledger_dir = dir.join("ledger");
    let (ledger, _) = Ledger::create(&ledger_dir, &admin, "panel-admin", DEMO_ORIGIN)?;
    ledger.enroll_key(
        &admin,
        &investigator.public(),
        "panel-investigator",
        Role::Investigator,
    )?;
    ledger.enroll_key(&admin, &auditor.public(), "partner-auditor", Role::Auditor)?;

    let mut batches = Vec::new();
    for (file, text) in EXAMPLE_BATCHES {
        let events =
            parse_events(text.as_bytes()).map_err(|source| DemoError::Example { file, source })?;
        ledger.append(&investigator, &events)?;
        batches.push((file, events.len()));
    }

    let evidence_path = dir.join("evidence").join(EVIDENCE_NAME);
    let io = |source| DemoError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::write(&evidence_path, EVIDENCE_TEXT).map_err(io)?;
    let provenance = Provenance {
        custody_note: Some("analyst's note kept by the panel secretariat; demo copy".into()),
        ..Provenance::default()
    };
    let payload = evidence::anchor_payload(EVIDENCE_INCIDENT, &evidence_path, provenance)
        .map_err(|e| io(std::io::Error::other(e)))?;
    ledger.append_one(&investigator, &payload)?;
    batches.push(("evidence/panel-report-note.txt", 1));

    let mut problems = Vec::new();
    let report = ledger.verify(|p| {
        problems.push(p.clone());
        std::ops::ControlFlow::Continue(())
    })?;
    Ok((
        ledger,
        DemoSummary {
            dir: dir.to_path_buf(),
            ledger_dir,
            keys,
            batches,
            report,
            problems,
        },
    ))
}
