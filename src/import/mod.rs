//! Importing a dataset release (UCDP GED, ACLED) from its CSV file: every row is read as the
//! incident it describes and diffed against the incidents the ledger holds, and the difference
//! is appended as one batch through [`Ledger::append_stream`] as the rows are read, so that an
//! import is all or nothing, passes the same schemas, rules and signatures as any other
//! statement, and never holds the file's rows or events in memory. Each layout maps rows in a
//! module of its own ([`ucdp`], [`acled`]); reading and the diff live here and are shared.
//!
//! The diff, per incident of the file (`ucdp:<id>`, `acled:<event_id_cnty>`): a new one is
//! reported; one that stands, whose row differs from what the dataset's earlier releases stated
//! of it, gets one `incident.corrected` naming only the changed fields (a field corrected in the
//! ledger by anyone but a release keeps its correction, and the import lists it as a conflict
//! when the release changes it too) (null for a field the layout maps but the row no longer has; fields the layout
//! never sets, such as notes added by hand to an ACLED event, are left alone); an identical one
//! appends nothing. A row whose incident the ledger holds as retracted stays out, since a
//! retraction is final: it is listed with the skipped rows. An active incident of the same
//! dataset that the file does not have is withdrawn when the file covers it ([`Scope`]): a whole
//! release covers the whole dataset; an extract only the countries and the event dates it covers
//! (by default those of its rows), so that importing one month or one country never withdraws
//! the rest. A withdrawn incident whose row a later file has again is reinstated (and corrected
//! as any other row). An import that would withdraw more than a tenth of what the ledger holds
//! of the dataset stops, unless its options say that is meant (a dry run says it would stop).
//!
//! It never writes except through that one append (a dry run makes none: it works out the same
//! changes and lists the first of each kind), and never touches a terminal: progress goes to a
//! callback.

pub mod acled;
mod held;
pub mod ucdp;

use crate::date;
use crate::event::EventType;
use crate::input::{EventInput, InputError};
use crate::keys::SecretKey;
use crate::ledger::{Appended, LedgerError};
use crate::lines::{RecordTooLong, Tracked};
use crate::log::LogFiles;
use crate::payload::{field, IncidentField, Payload, INCIDENT_FIELDS};
use crate::rules::{self, RuleViolation};
use crate::schema::{SchemaError, Schemas};
use crate::statement::MAX_PAYLOAD_BYTES;
use crate::time::Timestamp;
use crate::Ledger;
use chrono::NaiveDate;
use csv::{ByteRecord, StringRecord};
use held::{Holdings, Standing, Version};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    Ucdp,
    Acled,
}

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The release label; `None` takes the file's name without its extension.
    pub release: Option<String>,
    /// Leave malformed rows out (and list them) instead of refusing the whole file.
    pub skip_invalid: bool,
    /// What the file covers; `None` takes the dataset's usual one ([`Dataset::scope`]).
    pub scope: Option<Scope>,
    /// With [`Scope::Extract`], the countries the file covers, instead of those of its rows.
    pub countries: Vec<String>,
    /// With [`Scope::Extract`], the first and last event dates the file covers, instead of its
    /// rows' earliest and latest.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Withdraw however much of the dataset the file no longer has, even more than a tenth.
    pub allow_large_removal: bool,
}

/// What a release file covers, and so which incidents of its dataset that it does not name are
/// withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole dataset, as a full release is: every incident it no longer has goes.
    Release,
    /// A filtered download (one country, one month): only the incidents inside what it covers
    /// (countries and event dates) go.
    Extract,
}

impl Dataset {
    /// The dataset's name, as `source_dataset.name` and reasons say it.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Ucdp => ucdp::Ucdp::NAME,
            Dataset::Acled => acled::Acled::NAME,
        }
    }

    /// The prefix of its incident ids (`ucdp` for `ucdp:<id>`).
    pub fn prefix(self) -> &'static str {
        match self {
            Dataset::Ucdp => ucdp::Ucdp::PREFIX,
            Dataset::Acled => acled::Acled::PREFIX,
        }
    }

    /// The dataset whose incident ids have `prefix`.
    pub fn of_prefix(prefix: &str) -> Option<Dataset> {
        [Dataset::Ucdp, Dataset::Acled]
            .into_iter()
            .find(|dataset| dataset.prefix() == prefix)
    }

    /// What a file of this dataset usually is: UCDP GED is published as whole releases, ACLED
    /// is downloaded as filtered extracts.
    pub fn scope(self) -> Scope {
        match self {
            Dataset::Ucdp => Scope::Release,
            Dataset::Acled => Scope::Extract,
        }
    }
}

/// An import withdraws at most this share of what the ledger holds of the dataset unless told
/// it is meant (a tenth), and always allows this many.
const LARGE_REMOVAL_SHARE: usize = 10;
const LARGE_REMOVAL_FEWEST: usize = 10;

/// How an import ends: its changes appended, signed with a key, or only worked out.
#[derive(Clone, Copy)]
pub enum Mode<'k> {
    Append(&'k SecretKey),
    DryRun,
}

/// How many changes of each kind a dry run lists.
pub const PLANNED_OF_EACH_KIND: usize = 5;

/// One change an import would make: the event's type, its incident, and for a correction the
/// fields it sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedChange {
    pub event_type: String,
    pub incident_id: String,
    pub fields: Vec<String>,
}

impl PlannedChange {
    fn of(event: &EventInput) -> PlannedChange {
        let payload: Value = serde_json::from_slice(&event.payload).unwrap_or_default();
        let fields = (payload.get("changes").and_then(Value::as_object))
            .map(|changes| changes.keys().cloned().collect())
            .unwrap_or_default();
        PlannedChange {
            event_type: event.event_type.clone(),
            incident_id: (payload.get("incident_id").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string(),
            fields,
        }
    }
}

/// One row left out: its line in the file (1-based, the header is line 1, lines end at LF, CRLF
/// or CR as [`crate::lines`] counts them; a row whose quoted fields span lines is named by the
/// line it starts on), the column at fault, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// What an import did. `rows` counts the data rows read; `reported`, `corrected`, `withdrawn`,
/// `reinstated` and `unchanged` count incidents (rows that repeat an event, as older ACLED files do once per
/// actor, fold into its first row). `skipped` lists, in file order, the malformed rows left out
/// (only with `skip_invalid`) and the rows whose incident the ledger holds as retracted.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub release: String,
    pub rows: usize,
    pub reported: usize,
    pub corrected: usize,
    pub withdrawn: usize,
    pub reinstated: usize,
    pub unchanged: usize,
    pub skipped: Vec<RowProblem>,
    /// In a dry run, the withdrawals for which an import would stop (without
    /// `allow_large_removal`).
    pub large_removal: Option<LargeRemoval>,
    /// The fields corrected in the ledger that the release changes too, left as corrected.
    pub conflicts: Vec<Conflict>,
    /// Where the appended events landed; `None` when the ledger already held the release, and
    /// in a dry run.
    pub appended: Option<Landed>,
    /// In a dry run, the first [`PLANNED_OF_EACH_KIND`] changes of each kind, in file order.
    pub planned: Vec<PlannedChange>,
    /// The batch is in the log, but what is derived from it could not be brought up to date
    /// ([`LedgerError::Behind`]).
    pub behind: Option<std::sync::Arc<LedgerError>>,
}

/// More withdrawals than an import makes unless told they are meant: `removing` of the
/// `standing` (active) incidents the ledger holds of `dataset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LargeRemoval {
    pub dataset: &'static str,
    pub removing: usize,
    pub standing: usize,
}

impl fmt::Display for LargeRemoval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "would withdraw {} of the {} active incidents of {} in the ledger, more than a tenth",
            self.removing, self.standing, self.dataset
        )
    }
}

/// A field corrected in the ledger that a release changes too: the correction stands, and the
/// import says so. Only such fields are listed, so the list is as long as the investigators'
/// disagreements with the dataset, not as the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub incident_id: String,
    pub field: &'static str,
    /// The line of the file's row for the incident.
    pub line: u64,
    /// The value in the ledger, which stands (null when the correction cleared the field).
    pub kept: Value,
    /// The release's value (null when the release has none).
    pub release: Value,
}

/// Where the events of an import landed, one after another: how many there are, the seq of the
/// first and the last one (whose hash is the ledger's new head).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Landed {
    pub entries: usize,
    pub first_seq: u64,
    pub last: Appended,
}

impl Landed {
    /// Takes in the next event that landed.
    fn add(landed: &mut Option<Landed>, appended: Appended) {
        match landed {
            Some(landed) => {
                landed.entries += 1;
                landed.last = appended;
            }
            None => {
                *landed = Some(Landed {
                    entries: 1,
                    first_seq: appended.seq,
                    last: appended,
                });
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Unusable {
        path: PathBuf,
        #[source]
        source: crate::regular::OpenError,
    },
    #[error("{}, line 1: {problem}", path.display())]
    Header { path: PathBuf, problem: String },
    #[error("{}, line {line}: the row runs past {} MiB without ending; a quote left open makes the rest of the file one field", path.display(), MAX_ROW_BYTES >> 20)]
    RowTooLong { path: PathBuf, line: u64 },
    #[error("{}, {problem}; nothing of this import was written", path.display())]
    Malformed { path: PathBuf, problem: RowProblem },
    #[error("the release label {} {problem}: a label has 1 to {RELEASE_MAX_CHARS} characters", quoted(.label))]
    Release {
        label: String,
        problem: &'static str,
    },
    #[error("the changes {} makes could not be appended", path.display())]
    Append {
        path: PathBuf,
        #[source]
        source: Box<LedgerError>,
    },
    #[error("the incidents the ledger holds could not be read")]
    Ledger(#[source] Box<LedgerError>),
    #[error("the import's scratch file cannot be written or read")]
    Scratch(#[source] std::io::Error),
    #[error("{} {removal}; nothing was written", path.display())]
    LargeRemoval {
        path: PathBuf,
        removal: LargeRemoval,
    },
}

/// source_dataset.release allows this many characters.
const RELEASE_MAX_CHARS: usize = 200;

/// The longest row read. A real row is a few kilobytes (UCDP's longest, with its source
/// articles, under 20); one longer is a quote left open, and reading on would hold the rest of
/// the file in memory as one field.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// The longest cell: no cell longer than an entry's whole data could ever be signed.
pub const MAX_CELL_BYTES: usize = MAX_PAYLOAD_BYTES;

/// Imports one release file of `dataset`: appends what it changes as one batch signed with the
/// key of `mode`, or in a dry run works out the same changes and appends nothing.
/// `on_progress(bytes_read, total_bytes)` is called as rows are read.
pub fn import<F: LogFiles>(
    ledger: &Ledger<F>,
    mode: Mode<'_>,
    dataset: Dataset,
    path: &Path,
    options: &ImportOptions,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport, ImportError> {
    let scope = options.scope.unwrap_or(dataset.scope());
    match dataset {
        Dataset::Ucdp => {
            import_layout::<ucdp::Ucdp, F>(ledger, mode, path, options, scope, on_progress)
        }
        Dataset::Acled => {
            import_layout::<acled::Acled, F>(ledger, mode, path, options, scope, on_progress)
        }
    }
}

/// Reads the changes of a dry run to their end, keeping the first of each kind.
fn plan(changes: &mut dyn Iterator<Item = Result<EventInput, InputError>>) -> Vec<PlannedChange> {
    let mut planned: Vec<PlannedChange> = Vec::new();
    // A failed row ends the changes; the diff keeps the failure for `finish`.
    for event in changes.map_while(Result::ok) {
        let of_kind = planned.iter().filter(|p| p.event_type == event.event_type);
        if of_kind.count() < PLANNED_OF_EACH_KIND {
            planned.push(PlannedChange::of(&event));
        }
    }
    planned
}

fn import_layout<L: Layout, F: LogFiles>(
    ledger: &Ledger<F>,
    mode: Mode<'_>,
    path: &Path,
    options: &ImportOptions,
    scope: Scope,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport, ImportError> {
    let label = release_label(path, options.release.as_deref())?;
    let (file, total) = crate::regular::open(path).map_err(|source| ImportError::Unusable {
        path: path.to_path_buf(),
        source,
    })?;
    let context = Context {
        path,
        schemas: ledger.schemas().map_err(|source| ImportError::Append {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?,
        label: &label,
        options,
        scope,
        started: Timestamp::now(),
    };
    let reader = open::<L, _>(&context, file)?;
    let held = Holdings::read::<L, F>(ledger)?;
    let mut diff = Diff::new(&context, reader, held, total, on_progress);
    diff.dry_run = matches!(mode, Mode::DryRun);

    // The events go to the log as the rows are read, all in one batch: a malformed row stops
    // the iterator with an error, which refuses the whole batch.
    let mut appended = None;
    let mut planned = Vec::new();
    let result = match mode {
        Mode::Append(key) => {
            ledger.append_stream(key, &mut diff, |a| Landed::add(&mut appended, a))
        }
        Mode::DryRun => {
            planned = plan(&mut diff);
            Ok(())
        }
    };
    // A failure of the reading is why the append stopped, so it is the one to report.
    let tally = diff.finish()?;
    let mut behind = None;
    match result {
        // A release the ledger already holds is an empty batch, which appends nothing.
        Ok(()) | Err(LedgerError::EmptyBatch) => {}
        Err(lagging @ LedgerError::Behind { .. }) => behind = Some(std::sync::Arc::new(lagging)),
        Err(source) => {
            return Err(ImportError::Append {
                path: path.to_path_buf(),
                source: Box::new(source),
            })
        }
    }
    Ok(ImportReport {
        behind,
        release: label,
        rows: tally.rows,
        reported: tally.reported,
        corrected: tally.corrected,
        withdrawn: tally.withdrawn,
        reinstated: tally.reinstated,
        unchanged: tally.unchanged,
        skipped: tally.skipped,
        large_removal: tally.large_removal,
        conflicts: tally.conflicts,
        appended,
        planned,
    })
}

fn release_label(path: &Path, given: Option<&str>) -> Result<String, ImportError> {
    let label = match given {
        Some(label) => label.trim(),
        None => path.file_stem().and_then(|s| s.to_str()).unwrap_or(""),
    };
    let problem = if label.is_empty() {
        Some("is empty")
    } else if label.chars().count() > RELEASE_MAX_CHARS {
        Some("is too long")
    } else if label.contains(crate::payload::acts_on_display) {
        Some("holds a control character or bidi override")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ImportError::Release {
            label: label.to_string(),
            problem,
        }),
        None => Ok(label.to_string()),
    }
}

/// What differs between dataset layouts: which columns they read and how a row becomes the
/// fields of an incident. Everything else about an import is shared.
trait Layout: Sized {
    /// The dataset's name, as source_dataset.name and in the reasons of corrections.
    const NAME: &'static str;
    /// The prefix of its incident ids: `ucdp` gives `ucdp:<id>`.
    const PREFIX: &'static str;
    /// The incident fields its rows never set: a re-import leaves them alone (they may have
    /// been added by hand), and clears any other a row no longer has.
    const UNMAPPED: &'static [IncidentField];
    /// Whether an event may take several rows (older ACLED files repeat it once per actor);
    /// if not, a repeated id is a malformed row.
    const REPEATS: bool;

    /// Finds the columns by name; `Err` names the first one missing.
    fn locate(header: &Header) -> Result<Self, &'static str>;
    fn id(&self) -> Column;
    fn country(&self) -> Column;
    /// The row's fields except incident_id and source_dataset, each with its column.
    fn fields(&self, row: &Row) -> Result<Fields, RowProblem>;
    /// The fields this file cannot state, lacking the optional columns they come from: a
    /// re-import leaves them alone, as it does [`Layout::UNMAPPED`], since a file without a
    /// column says nothing of its values.
    fn lacking(&self) -> Vec<IncidentField>;
}

/// The fields of `optional` whose column the file lacks, for [`Layout::lacking`].
fn lacking(optional: &[(Option<Column>, IncidentField)]) -> Vec<IncidentField> {
    (optional.iter())
        .filter(|(column, _)| column.is_none())
        .map(|&(_, field)| field)
        .collect()
}

/// A located column: its index in the rows and its name as the layout knows it.
#[derive(Clone, Copy, Debug)]
struct Column {
    name: &'static str,
    index: usize,
}

/// The header line's column names.
struct Header {
    names: Vec<String>,
}

impl Header {
    /// Column names match whatever their case or surrounding spaces, as exports differ in both.
    fn column(&self, name: &'static str) -> Result<Column, &'static str> {
        self.names
            .iter()
            .position(|n| n.trim().eq_ignore_ascii_case(name))
            .map(|index| Column { name, index })
            .ok_or(name)
    }

    /// A column that some files of a layout have and others lack.
    fn optional(&self, name: &'static str) -> Option<Column> {
        self.column(name).ok()
    }
}

/// One data row, with the line it starts on.
struct Row<'r> {
    line: u64,
    record: &'r StringRecord,
}

/// What a cell of deaths holds.
const DEATHS: &str = "a whole number of deaths (0 or more)";
/// What a cell of a dataset's precision code holds (its range is the schema's to check).
const PRECISION: &str = "a precision code (a whole number)";

/// Longest quotation of a cell in a message; a long value would bury the message itself.
const QUOTE_MAX_CHARS: usize = 60;

fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
    }
}

impl Row<'_> {
    fn problem(&self, column: Column, message: String) -> RowProblem {
        RowProblem {
            line: self.line,
            column: Some(column.name.to_string()),
            message,
        }
    }

    /// The cell's text without surrounding spaces.
    fn raw(&self, column: Column) -> &str {
        self.record.get(column.index).unwrap_or("").trim()
    }

    /// A text cell; an empty one is absent, as the schemas want at least one character.
    fn text(&self, column: Column) -> Option<String> {
        Some(self.raw(column))
            .filter(|text| !text.is_empty())
            .map(str::to_string)
    }

    fn required(&self, column: Column, field: &str) -> Result<String, RowProblem> {
        self.text(column).ok_or_else(|| {
            self.problem(
                column,
                format!("the cell is empty, but every incident needs its {field}"),
            )
        })
    }

    /// A date in one of the forms [`date::dataset_date`] reads, as YYYY-MM-DD.
    fn date(&self, column: Column) -> Result<String, RowProblem> {
        let raw = self.raw(column);
        match date::dataset_date(raw) {
            Some(date) => Ok(date::iso_text(date)),
            None => Err(self.problem(
                column,
                format!(
                    "{} is not a date; write it as YYYY-MM-DD or as \"31 December 2020\"",
                    quoted(raw)
                ),
            )),
        }
    }

    /// A whole number of 0 or more; `what` says what it should be, for the message.
    fn whole_number(&self, column: Column, what: &str) -> Result<u64, RowProblem> {
        let raw = self.raw(column);
        raw.parse()
            .map_err(|_| self.problem(column, format!("{} is not {what}", quoted(raw))))
    }

    /// [`Row::whole_number`] of a cell that may be empty, `None` when it is.
    fn some_whole_number(&self, column: Column, what: &str) -> Result<Option<u64>, RowProblem> {
        if self.raw(column).is_empty() {
            return Ok(None);
        }
        self.whole_number(column, what).map(Some)
    }

    fn deaths(&self, column: Column) -> Result<u64, RowProblem> {
        self.whole_number(column, DEATHS)
    }

    /// Decimal degrees; an empty cell is absent. The range is the schema's to check.
    fn coordinate(&self, column: Column) -> Result<Option<f64>, RowProblem> {
        let raw = self.raw(column);
        if raw.is_empty() {
            return Ok(None);
        }
        match raw.parse::<f64>() {
            Ok(degrees) if degrees.is_finite() => Ok(Some(degrees)),
            _ => Err(self.problem(
                column,
                format!("{} is not a number of decimal degrees", quoted(raw)),
            )),
        }
    }
}

/// One field of a row's incident, with the column it came from.
struct Field {
    field: IncidentField,
    column: Column,
    value: Value,
}

/// A row's fields in payload order; absent values are left out, never null.
#[derive(Default)]
struct Fields(Vec<Field>);

impl Fields {
    fn set(&mut self, field: IncidentField, column: Column, value: impl Into<Value>) {
        self.0.push(Field {
            field,
            column,
            value: value.into(),
        });
    }

    fn set_some<V: Into<Value>>(&mut self, field: IncidentField, column: Column, value: Option<V>) {
        if let Some(value) = value {
            self.set(field, column, value);
        }
    }

    /// A whole number's cell (`what` it should hold, for the message), when the file has the
    /// column and the cell is not empty.
    fn set_whole_number(
        &mut self,
        row: &Row,
        field: IncidentField,
        column: Option<Column>,
        what: &str,
    ) -> Result<(), RowProblem> {
        if let Some(column) = column {
            self.set_some(field, column, row.some_whole_number(column, what)?);
        }
        Ok(())
    }

    /// A text cell's value, when the cell is not empty.
    fn set_text(&mut self, row: &Row, field: IncidentField, column: Column) {
        self.set_some(field, column, row.text(column));
    }

    /// Latitude and longitude in decimal degrees, each when given.
    fn set_coordinates(
        &mut self,
        row: &Row,
        latitude: Column,
        longitude: Column,
    ) -> Result<(), RowProblem> {
        self.set_some(field::LATITUDE, latitude, row.coordinate(latitude)?);
        self.set_some(field::LONGITUDE, longitude, row.coordinate(longitude)?);
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Field> {
        self.0.iter().find(|set| set.field.name == name)
    }

    fn column_of(&self, name: &str) -> Option<Column> {
        self.get(name).map(|set| set.column)
    }
}

/// What reading needs besides the bytes.
struct Context<'a> {
    path: &'a Path,
    schemas: &'a Schemas,
    label: &'a str,
    options: &'a ImportOptions,
    /// What the file covers, the options' or the dataset's.
    scope: Scope,
    /// When the import started: its entries are recorded no earlier.
    started: Timestamp,
}

/// A release file with its header read and its columns located, positioned at its first row.
struct Opened<L, R> {
    reader: csv::Reader<Tracked<R>>,
    header: Header,
    layout: L,
}

fn open<L: Layout, R: Read>(context: &Context, input: R) -> Result<Opened<L, R>, ImportError> {
    let path = context.path;
    let header_problem = |problem: String| ImportError::Header {
        path: path.to_path_buf(),
        problem,
    };
    // Flexible, so that a row with the wrong number of fields is this module's to report.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(Tracked::new(input, MAX_ROW_BYTES));
    let header = reader
        .byte_headers()
        .map_err(|e| unreadable(path, e))?
        .clone();
    let end = reader.position().byte();
    reader.get_mut().record_line(end);
    if header.is_empty() || header.iter().all(<[u8]>::is_empty) {
        return Err(header_problem(format!(
            "the file is empty; {} files start with a header line naming their columns",
            L::NAME
        )));
    }
    let header = StringRecord::from_byte_record(header).map_err(|_| {
        header_problem("the header is not valid UTF-8; save the file as UTF-8".into())
    })?;
    let header = Header {
        names: header.iter().map(str::to_string).collect(),
    };
    let layout = L::locate(&header).map_err(|column| {
        header_problem(format!(
            "the header has no column {column}, which every {name} file has, so the file is not from {name}",
            name = L::NAME
        ))
    })?;
    Ok(Opened {
        reader,
        header,
        layout,
    })
}

fn unreadable(path: &Path, e: csv::Error) -> ImportError {
    if let csv::ErrorKind::Io(io) = e.kind() {
        if let Some(too_long) = RecordTooLong::of(io) {
            return ImportError::RowTooLong {
                path: path.to_path_buf(),
                line: too_long.line,
            };
        }
    }
    ImportError::Unreadable {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// How the incidents of an import fared, and the rows it left out, in file order.
#[derive(Debug, Default)]
struct Tally {
    rows: usize,
    reported: usize,
    corrected: usize,
    withdrawn: usize,
    reinstated: usize,
    unchanged: usize,
    skipped: Vec<RowProblem>,
    conflicts: Vec<Conflict>,
    large_removal: Option<LargeRemoval>,
}

/// What a row does to the incident it names.
enum Decision {
    Report(EventInput),
    /// A correction, and the fields corrected in the ledger that it leaves as they are.
    Correct(EventInput, Vec<Conflict>),
    /// Nothing changes; the fields corrected in the ledger that the release changes too, and
    /// the correction that records the release's values for them.
    Unchanged(Option<EventInput>, Vec<Conflict>),
    /// The incident was withdrawn and the file has it again: its reinstatement, then what the
    /// row does to it as to any held incident.
    Reinstate(EventInput, Box<Decision>),
    /// The ledger holds the incident as retracted, so the row is left out.
    LeftOut(RowProblem),
}

impl Tally {
    /// Counts a row's decision; the events to append, at most two.
    fn count(&mut self, decision: Decision) -> [Option<EventInput>; 2] {
        match decision {
            Decision::Reinstate(reinstatement, then) => {
                self.reinstated += 1;
                [Some(reinstatement), self.count_one(*then)]
            }
            decision => [self.count_one(decision), None],
        }
    }

    fn count_one(&mut self, decision: Decision) -> Option<EventInput> {
        match decision {
            Decision::Reinstate(..) => None,
            Decision::Report(event) => {
                self.reported += 1;
                Some(event)
            }
            Decision::Correct(event, conflicts) => {
                self.corrected += 1;
                self.conflicts.extend(conflicts);
                Some(event)
            }
            Decision::Unchanged(recorded, conflicts) => {
                self.unchanged += 1;
                self.conflicts.extend(conflicts);
                recorded
            }
            Decision::LeftOut(problem) => {
                self.skipped.push(problem);
                None
            }
        }
    }
}

/// The import of one release file as the events it appends, read row by row: reports and
/// corrections (each after its incident's reinstatement, if it was withdrawn) in file order,
/// then withdrawals in incident id order. It holds what the ledger
/// has of the dataset ([`Holdings`]), the countries of the file, and 16 bytes per id of the
/// file that the ledger does not hold (for naming a repeated id), never the rows. The first malformed row (or a file that cannot
/// be read) ends it with an error, which is kept for [`Diff::finish`]; the error the iterator
/// gives only stops the batch.
struct Diff<'a, L, R> {
    context: &'a Context<'a>,
    opened: Opened<L, R>,
    record: ByteRecord,
    total_bytes: u64,
    on_progress: &'a mut dyn FnMut(u64, u64),
    held: Holdings,
    /// The line of the first accepted row of each incident id the ledger does not hold (a held
    /// one keeps its own), by [`id_key`]: 16 bytes a row (as u32, as the append keeps lines; a
    /// file of more lines is some 100 GB).
    seen: HashMap<IdKey, u32>,
    countries: HashSet<String>,
    /// The earliest and latest event dates of the file's rows.
    dates: Option<(NaiveDate, NaiveDate)>,
    /// [`Layout::lacking`] of the file.
    lacking: Vec<IncidentField>,
    tally: Tally,
    failure: Option<ImportError>,
    /// Once the file is read: the held incidents still to withdraw, in id order.
    removals: Option<std::vec::IntoIter<usize>>,
    /// The second event of a row that makes two (a reinstatement's correction).
    pending: Option<EventInput>,
    /// Whether this is a dry run, in which a large removal is reported rather than refused.
    dry_run: bool,
}

/// An incident id as 96 bits of its hash, which tell the ids of a file apart as surely as the
/// ids themselves (two of ten million ids collide with a chance of 1 in 10^15).
type IdKey = [u8; 12];

fn id_key(incident_id: &str) -> IdKey {
    let mut key = [0; 12];
    key.copy_from_slice(&blake3::hash(incident_id.as_bytes()).as_bytes()[..12]);
    key
}

impl<'a, L: Layout, R: Read> Diff<'a, L, R> {
    fn new(
        context: &'a Context<'a>,
        opened: Opened<L, R>,
        held: Holdings,
        total_bytes: u64,
        on_progress: &'a mut dyn FnMut(u64, u64),
    ) -> Self {
        Diff {
            context,
            lacking: opened.layout.lacking(),
            opened,
            record: ByteRecord::new(),
            total_bytes,
            on_progress,
            held,
            seen: HashMap::default(),
            countries: HashSet::new(),
            dates: None,
            tally: Tally::default(),
            failure: None,
            removals: None,
            pending: None,
            dry_run: false,
        }
    }

    /// The active held incidents of the dataset that the file does not name but covers, which
    /// it withdraws: refused when they are more than a tenth of those active, unless that is
    /// allowed (a dry run notes it and goes on, to list them).
    fn removals(&mut self) -> Result<Vec<usize>, ImportError> {
        let options = self.context.options;
        let countries: HashSet<String> = if options.countries.is_empty() {
            self.countries.clone()
        } else {
            options.countries.iter().cloned().collect()
        };
        let from = options.from.or(self.dates.map(|(first, _)| first));
        let to = options.to.or(self.dates.map(|(_, last)| last));
        let covers = |i: usize| -> Result<bool, ImportError> {
            if self.context.scope == Scope::Release {
                return Ok(true);
            }
            let (country, event_date) = (field::COUNTRY.name, field::EVENT_DATE.name);
            let wanted = |name: &str| name == country || name == event_date;
            let fields = self.held.fields(i, Version::Current, wanted)?;
            let in_countries = (fields.get(country).and_then(Value::as_str))
                .is_some_and(|country| countries.contains(country));
            let dated = (fields.get(event_date).and_then(Value::as_str)).and_then(date::iso_date);
            let in_dates = match (dated, from, to) {
                (Some(date), Some(from), Some(to)) => from <= date && date <= to,
                _ => false,
            };
            Ok(in_countries && in_dates)
        };
        let mut removals = Vec::new();
        let mut standing = 0;
        for (i, held) in self.held.incidents.iter().enumerate() {
            if held.standing != Standing::Active {
                continue;
            }
            standing += 1;
            if !held.named && covers(i)? {
                removals.push(i);
            }
        }
        let large = removals.len() > LARGE_REMOVAL_FEWEST
            && removals.len() * LARGE_REMOVAL_SHARE > standing;
        if large && !options.allow_large_removal {
            let removal = LargeRemoval {
                dataset: L::NAME,
                removing: removals.len(),
                standing,
            };
            if !self.dry_run {
                return Err(ImportError::LargeRemoval {
                    path: self.context.path.to_path_buf(),
                    removal,
                });
            }
            self.tally.large_removal = Some(removal);
        }
        Ok(removals)
    }

    /// What the import did, or why it stopped.
    fn finish(self) -> Result<Tally, ImportError> {
        match self.failure {
            Some(failure) => Err(failure),
            None => Ok(self.tally),
        }
    }

    /// Keeps `failure` for [`Diff::finish`] and stops: the error returned refuses the batch.
    fn fail(&mut self, failure: ImportError) -> InputError {
        let line = match &failure {
            ImportError::Malformed { problem, .. } => problem.line,
            _ => 0,
        };
        let stop = InputError::Shape {
            line: usize::try_from(line).unwrap_or(usize::MAX),
            message: failure.to_string(),
        };
        self.failure = Some(failure);
        self.removals = Some(Vec::new().into_iter());
        stop
    }

    /// Reads one row: the events it makes, if any, or what is wrong with it.
    fn row(&mut self, line: u64) -> Result<[Option<EventInput>; 2], RowError> {
        let Opened { header, layout, .. } = &self.opened;
        let record = &self.record;
        let whole_row = |message: String| RowProblem {
            line,
            column: None,
            message,
        };
        if record.len() != header.names.len() {
            return Err(whole_row(format!(
                "the row has {} fields, but the header names {} columns; a value holding a comma, quote or line break must be in double quotes",
                record.len(),
                header.names.len()
            ))
            .into());
        }
        if let Some(column) = record.iter().position(|cell| cell.len() > MAX_CELL_BYTES) {
            return Err(RowProblem {
                line,
                column: header.names.get(column).cloned(),
                message: format!(
                    "the cell holds {} bytes, and a cell holds at most {MAX_CELL_BYTES} (the most an entry's data can)",
                    record[column].len()
                ),
            }
            .into());
        }
        let record = StringRecord::from_byte_record(record.clone()).map_err(|e| {
            let column = e.utf8_error().field();
            RowProblem {
                line,
                column: header.names.get(column).cloned(),
                message: "is not valid UTF-8; save the file as UTF-8".into(),
            }
        })?;
        let row = Row {
            line,
            record: &record,
        };

        let source_id = row.required(layout.id(), "id")?;
        let incident_id = format!("{}:{source_id}", L::PREFIX);
        let held = self.held.index(&incident_id);
        if let Some(i) = held {
            self.held.incidents[i].named = true;
        }
        if let Some(country) = row.text(layout.country()) {
            self.countries.insert(country);
        }

        let fields = layout.fields(&row)?;
        let dated = (fields.0.iter())
            .find(|set| set.field.name == field::EVENT_DATE.name)
            .and_then(|set| date::iso_date(set.value.as_str()?));
        if let Some(date) = dated {
            self.dates = Some(match self.dates {
                None => (date, date),
                Some((first, last)) => (first.min(date), last.max(date)),
            });
        }
        let mut report = Map::new();
        report.insert("incident_id".into(), Value::String(incident_id.clone()));
        for set in &fields.0 {
            report.insert(set.field.name.into(), set.value.clone());
        }
        report.insert(
            field::SOURCE_DATASET.name.into(),
            json!({"name": L::NAME, "release": self.context.label, "id": source_id}),
        );
        let report = Value::Object(report);
        let version = EventType::IncidentReported.current_schema_version();
        if let Err(e) = self
            .context
            .schemas
            .validate(EventType::IncidentReported, version, &report)
        {
            return Err(schema_problem(&row, layout.id(), &fields, e).into());
        }
        if let Some(problem) = dated_in_the_future(&row, &fields, &incident_id, self.context) {
            return Err(problem.into());
        }

        let key = held.is_none().then(|| id_key(&incident_id));
        let first = match (held, &key) {
            (Some(i), _) => self.held.incidents[i].first_line.map(NonZeroU32::get),
            (None, Some(key)) => self.seen.get(key).copied(),
            (None, None) => None,
        };
        if let Some(first) = first {
            if L::REPEATS {
                // The first row of an event stands; later ones only name its other actors.
                return Ok([None, None]);
            }
            return Err(row
                .problem(
                    layout.id(),
                    format!(
                        "{} is also the id of the row on line {first}; each {} event has one row",
                        quoted(&source_id),
                        L::NAME
                    ),
                )
                .into());
        }
        let first = u32::try_from(line).unwrap_or(u32::MAX);
        let prior = match (held, key) {
            (Some(i), _) => {
                let incident = &mut self.held.incidents[i];
                incident.first_line = NonZeroU32::new(first);
                let standing = incident.standing;
                if standing == Standing::Retracted {
                    Prior::Retracted
                } else {
                    // A field the file cannot state is left out of what it is compared with,
                    // so that its absence from the report is no change.
                    let lacking = &self.lacking;
                    let compared = |name: &str| {
                        compared::<L>().any(|c| c == name)
                            && !lacking.iter().any(|f| f.name == name)
                    };
                    let (stated, current) =
                        (self.held.versions(i, compared)).map_err(RowError::Failed)?;
                    Prior::Held {
                        stated,
                        current,
                        withdrawn: standing == Standing::Withdrawn,
                    }
                }
            }
            (None, key) => {
                self.seen.extend(key.map(|key| (key, first)));
                Prior::New
            }
        };
        let decision = decide::<L>(prior, &incident_id, &report, line, self.context.label);
        Ok(self.tally.count(decision))
    }
}

/// Why a row was not read: what is wrong with it, or a failure that stops the import whatever
/// the options say.
enum RowError {
    Problem(RowProblem),
    Failed(ImportError),
}

impl From<RowProblem> for RowError {
    fn from(problem: RowProblem) -> Self {
        RowError::Problem(problem)
    }
}

/// What the ledger holds of the incident a row names.
enum Prior {
    New,
    Retracted,
    /// It is active or withdrawn, with these of its fields as the dataset's releases stated
    /// them and as they stand now.
    Held {
        stated: Map<String, Value>,
        current: Map<String, Value>,
        withdrawn: bool,
    },
}

impl<L: Layout, R: Read> Iterator for Diff<'_, L, R> {
    type Item = Result<EventInput, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(event) = self.pending.take() {
            return Some(Ok(event));
        }
        while self.removals.is_none() {
            let path = self.context.path;
            match self.opened.reader.read_byte_record(&mut self.record) {
                Err(e) => return Some(Err(self.fail(unreadable(path, e)))),
                Ok(false) => match self.removals() {
                    Ok(removals) => self.removals = Some(removals.into_iter()),
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
                Ok(true) => {
                    self.tally.rows += 1;
                    (self.on_progress)(self.opened.reader.position().byte(), self.total_bytes);
                    let end = self.opened.reader.position().byte();
                    let line = self.opened.reader.get_mut().record_line(end);
                    match self.row(line) {
                        Ok([Some(event), then]) => {
                            self.pending = then;
                            return Some(Ok(event));
                        }
                        Ok([None, _]) => {}
                        Err(RowError::Problem(problem)) if self.context.options.skip_invalid => {
                            self.tally.skipped.push(problem);
                        }
                        Err(RowError::Problem(problem)) => {
                            let path = path.to_path_buf();
                            return Some(Err(self.fail(ImportError::Malformed { path, problem })));
                        }
                        Err(RowError::Failed(failure)) => return Some(Err(self.fail(failure))),
                    }
                }
            }
        }
        if let Some(i) = self.removals.as_mut().and_then(Iterator::next) {
            self.tally.withdrawn += 1;
            let withdrawal = standing_event::<L>(
                EventType::IncidentWithdrawn,
                self.held.id(i),
                self.context.label,
            );
            return Some(Ok(withdrawal));
        }
        // The file is read and every withdrawal given: what the diff kept of the file and the
        // ledger (some 50 MB at 1,000,000 rows) is not needed for the append's commit and its
        // derived state.
        self.seen = HashMap::default();
        self.held.clear();
        None
    }
}

/// What a row of the release does to the incident it names, given what the ledger holds of it
/// (`prior`): a new incident is reported, a changed one corrected, a withdrawn one reinstated
/// (and corrected if it changed), one retracted in the ledger stays out.
fn decide<L: Layout>(
    prior: Prior,
    incident_id: &str,
    report: &Value,
    line: u64,
    label: &str,
) -> Decision {
    let held = match prior {
        Prior::New => {
            return Decision::Report(event(EventType::IncidentReported, Some(line), report))
        }
        Prior::Retracted => {
            return Decision::LeftOut(RowProblem {
                line,
                column: None,
                message: format!(
                    "incident {incident_id} was retracted earlier, and a retraction is final, so this row is left out; report it under a new id if it should stand again"
                ),
            })
        }
        Prior::Held {
            stated,
            current,
            withdrawn,
        } => (stated, current, withdrawn),
    };
    let (stated, current, withdrawn) = held;
    let decision = compare::<L>(&stated, &current, incident_id, report, line, label);
    if withdrawn {
        let reinstatement = standing_event::<L>(EventType::IncidentReinstated, incident_id, label);
        return Decision::Reinstate(reinstatement, Box::new(decision));
    }
    decision
}

/// What a row does to a held incident's fields, given them as the dataset's releases `stated`
/// them and as they stand (`current`): a correction of what the release changed, or nothing,
/// and the fields it leaves as corrected in the ledger.
fn compare<L: Layout>(
    stated: &Map<String, Value>,
    current: &Map<String, Value>,
    incident_id: &str,
    report: &Value,
    line: u64,
    label: &str,
) -> Decision {
    // A release is compared with what the releases before it stated, so that a field someone
    // corrected in the ledger is not taken back by a release that still says what it said.
    let mut changes = Map::new();
    let mut contested = Map::new();
    let mut conflicts = Vec::new();
    for name in compared::<L>() {
        let (was, is, new) = (stated.get(name), current.get(name), report.get(name));
        if same(was, new) || same(is, new) {
            continue;
        }
        if same(is, was) {
            changes.insert(name.to_string(), new.cloned().unwrap_or(Value::Null));
        } else {
            // Corrected in the ledger, and changed by the release too: the correction stands,
            // and the release's value is recorded beside it.
            contested.insert(name.to_string(), new.cloned().unwrap_or(Value::Null));
            conflicts.push(Conflict {
                incident_id: incident_id.to_string(),
                field: name,
                line,
                kept: is.cloned().unwrap_or(Value::Null),
                release: new.cloned().unwrap_or(Value::Null),
            });
        }
    }
    if changes.is_empty() && contested.is_empty() {
        return Decision::Unchanged(None, conflicts);
    }
    let changed = !changes.is_empty();
    let mut corrected = Map::new();
    corrected.insert("incident_id".into(), json!(incident_id));
    corrected.insert("changes".into(), Value::Object(changes));
    if !contested.is_empty() {
        corrected.insert("contested".into(), Value::Object(contested));
    }
    corrected.insert("reason".into(), json!(corrected_reason(L::NAME, label)));
    let event = event(
        EventType::IncidentCorrected,
        Some(line),
        &Value::Object(corrected),
    );
    if changed {
        Decision::Correct(event, conflicts)
    } else {
        Decision::Unchanged(Some(event), conflicts)
    }
}

/// Why an import corrects an incident: the reason that also tells which release did it.
fn corrected_reason(dataset: &str, label: &str) -> String {
    format!("changed in {dataset} release {label}")
}

/// Why an import withdraws an incident.
fn withdrawn_reason(dataset: &str, label: &str) -> String {
    format!("no longer in {dataset} release {label}")
}

/// Why an import reinstates an incident.
fn reinstated_reason(dataset: &str, label: &str) -> String {
    format!("again in {dataset} release {label}")
}

/// The seq of the last entry that an import of release `label` of `dataset` appended: where the
/// ledger stood once that release was imported. `None` when no entry comes from it (it was
/// never imported, or its import changed nothing). An entry comes from it when it reports an
/// incident with that `source_dataset` release, or corrects, withdraws or reinstates one with
/// the reason an import of it gives.
pub fn release_last_seq<F: LogFiles>(
    ledger: &Ledger<F>,
    dataset: Dataset,
    label: &str,
) -> Result<Option<u64>, ImportError> {
    let (corrected, withdrawn, reinstated) = (
        corrected_reason(dataset.name(), label),
        withdrawn_reason(dataset.name(), label),
        reinstated_reason(dataset.name(), label),
    );
    let mut last = None;
    held::incident_statements(ledger, dataset.prefix(), |seq, payload, _| {
        let from_release = match payload {
            Payload::IncidentReported(p) => (p.source_dataset.as_ref())
                .is_some_and(|source| source.name == dataset.name() && source.release == label),
            Payload::IncidentCorrected(p) => p.reason == corrected,
            Payload::IncidentWithdrawn(p) => p.reason == withdrawn,
            Payload::IncidentReinstated(p) => p.reason == reinstated,
            _ => false,
        };
        if from_release {
            last = Some(seq);
        }
        Ok(())
    })?;
    Ok(last)
}

/// The withdrawal (of an incident the release no longer has) or reinstatement (of one it has
/// again) that release `label` makes.
fn standing_event<L: Layout>(event_type: EventType, incident_id: &str, label: &str) -> EventInput {
    let reason = match event_type {
        EventType::IncidentReinstated => reinstated_reason(L::NAME, label),
        _ => withdrawn_reason(L::NAME, label),
    };
    let payload = json!({"incident_id": incident_id, "reason": reason});
    event(event_type, None, &payload)
}

/// A row dated after the day its import is recorded, which the rules refuse at append: named
/// here, as a row with its column, so that `skip_invalid` can leave it out. The entries are
/// recorded no earlier than the import started, so a row that passes here passes there.
fn dated_in_the_future(
    row: &Row,
    fields: &Fields,
    incident_id: &str,
    context: &Context,
) -> Option<RowProblem> {
    let dated = fields.get(field::EVENT_DATE.name)?;
    let date = dated.value.as_str()?;
    match rules::not_in_the_future(incident_id, date, context.started) {
        Ok(()) => None,
        Err(RuleViolation::FutureEvent { recorded_on, .. }) => Some(row.problem(
            dated.column,
            format!(
                "{} is after {recorded_on}, the day this import is recorded (the latest date anywhere on Earth); an event cannot be dated in the future",
                quoted(date)
            ),
        )),
        Err(other) => Some(row.problem(dated.column, other.to_string())),
    }
}

/// A schema violation of a row's report, named by the column the field came from
/// (`data.location` → where_description); incident_id and source_dataset come from the id.
fn schema_problem(row: &Row, id: Column, fields: &Fields, error: SchemaError) -> RowProblem {
    match error {
        SchemaError::Violation(violation) => {
            let field = violation.field.strip_prefix("data.").unwrap_or("");
            let name = field.split('.').next().unwrap_or("");
            let column = match name {
                "incident_id" | "source_dataset" => Some(id),
                _ => fields.column_of(name),
            };
            match column {
                Some(column) => row.problem(column, format!("{field}: {}", violation.message)),
                None => RowProblem {
                    line: row.line,
                    column: None,
                    message: format!("{field}: {}", violation.message),
                },
            }
        }
        other => RowProblem {
            line: row.line,
            column: None,
            message: other.to_string(),
        },
    }
}

fn event(event_type: EventType, line: Option<u64>, payload: &Value) -> EventInput {
    EventInput {
        line: line.and_then(|l| usize::try_from(l).ok()),
        event_type: event_type.name().to_string(),
        payload: payload.to_string().into_bytes(),
    }
}

/// The incident fields a re-import compares: those the layout maps, except source_dataset,
/// which names the release, so differs on every import without the incident changing. Fields
/// the layout never sets may have been added by hand and are left alone.
fn compared<L: Layout>() -> impl Iterator<Item = &'static str> {
    INCIDENT_FIELDS
        .iter()
        .filter(|f| **f != field::SOURCE_DATASET && !L::UNMAPPED.contains(f))
        .map(|f| f.name)
}

/// The compared fields whose value in the report `new` differs from `held`, with their new
/// values (null for one `new` no longer has).
/// Equal values, numbers by value: 26 stated by hand is the 26.0 a file gives.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;
    use crate::projection::{Cell, Refresh};
    use std::collections::BTreeMap;

    /// The events an import of `bytes` as a file `release.csv` of layout `L`, release `label`,
    /// appends to a ledger holding `held`, and how it fared.
    fn diff_bytes<L: Layout>(
        bytes: &[u8],
        skip_invalid: bool,
        label: &str,
        held: Holdings,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Vec<EventInput>, Tally), ImportError> {
        let options = ImportOptions {
            skip_invalid,
            ..ImportOptions::default()
        };
        diff_with::<L>(bytes, &options, label, held, on_progress)
    }

    /// As [`diff_bytes`], with `options` (a whole release unless they say otherwise).
    fn diff_with<L: Layout>(
        bytes: &[u8],
        options: &ImportOptions,
        label: &str,
        held: Holdings,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Vec<EventInput>, Tally), ImportError> {
        let schemas = Schemas::load().unwrap();
        let context = Context {
            path: Path::new("release.csv"),
            schemas: &schemas,
            label,
            options,
            scope: options.scope.unwrap_or(Scope::Release),
            started: Timestamp::now(),
        };
        let opened = open::<L, _>(&context, bytes)?;
        let mut diff = Diff::new(&context, opened, held, bytes.len() as u64, on_progress);
        let events = diff.by_ref().map_while(Result::ok).collect();
        Ok((events, diff.finish()?))
    }

    fn diff_text<L: Layout>(
        text: &str,
        label: &str,
        held: Holdings,
    ) -> Result<(Vec<EventInput>, Tally), ImportError> {
        diff_bytes::<L>(text.as_bytes(), false, label, held, &mut |_, _| {})
    }

    /// Reads `text` as a file of layout `L` (release "r1") into an empty ledger.
    pub(super) fn read_text<L: Layout>(
        text: &str,
        skip_invalid: bool,
    ) -> Result<(Vec<EventInput>, Tally), ImportError> {
        diff_bytes::<L>(
            text.as_bytes(),
            skip_invalid,
            "r1",
            nothing_held(),
            &mut |_, _| {},
        )
    }

    /// The incident.reported of each accepted row of `text`, in file order.
    pub(super) fn reports_of<L: Layout>(text: &str) -> Result<Vec<Value>, ImportError> {
        let (events, _) = read_text::<L>(text, false)?;
        Ok(events
            .iter()
            .map(|e| serde_json::from_slice(&e.payload).unwrap())
            .collect())
    }

    /// The incident.reported of the only accepted row of `text`.
    pub(super) fn report_of<L: Layout>(text: &str) -> Result<Value, ImportError> {
        let mut reports = reports_of::<L>(text)?;
        assert_eq!(reports.len(), 1, "one incident expected");
        Ok(reports.remove(0))
    }

    /// The problem of a file whose one data row is malformed.
    pub(super) fn problem_of<L: Layout>(text: &str) -> RowProblem {
        match read_text::<L>(text, false) {
            Err(ImportError::Malformed { problem, .. }) => problem,
            Err(other) => panic!("expected a malformed row, got {other}"),
            Ok(_) => panic!("expected a malformed row, the file was accepted"),
        }
    }

    const UCDP_HEADER: &str = "id,date_start,date_end,type_of_violence,side_a,side_b,adm_1,adm_2,where_description,country,latitude,longitude,best\n";

    fn ucdp_file(rows: &[&str]) -> String {
        let mut text = UCDP_HEADER.to_string();
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    /// The fields of each incident `text` reports, by id, as a ledger that imported it holds.
    fn fields_from(text: &str) -> BTreeMap<String, Map<String, Value>> {
        reports_of::<ucdp::Ucdp>(text)
            .unwrap()
            .into_iter()
            .map(|report| {
                let mut fields = report.as_object().unwrap().clone();
                let id = fields.remove("incident_id").unwrap();
                (id.as_str().unwrap().to_string(), fields)
            })
            .collect()
    }

    /// What an import holds of these incidents, those in `standings` standing so.
    fn held_of(
        incidents: &BTreeMap<String, Map<String, Value>>,
        standings: &[(&str, Standing)],
    ) -> Holdings {
        held_after(incidents, &[], standings)
    }

    /// What an import holds of these incidents after `corrections` (incident, changes, whether
    /// a release made it), in order.
    fn held_corrected(
        incidents: &BTreeMap<String, Map<String, Value>>,
        corrections: &[(&str, Value, bool)],
    ) -> Holdings {
        held_after(incidents, corrections, &[])
    }

    /// What an import holds of these incidents after `corrections`, those in `standings`
    /// standing so.
    fn held_after(
        incidents: &BTreeMap<String, Map<String, Value>>,
        corrections: &[(&str, Value, bool)],
        standings: &[(&str, Standing)],
    ) -> Holdings {
        let mut fold = held::Fold::new(None, 0).unwrap();
        for (id, fields) in incidents {
            let mut report = fields.clone();
            report.insert("incident_id".into(), json!(id));
            let report = Value::Object(report);
            let Ok(Payload::IncidentReported(report)) =
                Payload::from_value(EventType::IncidentReported, &report)
            else {
                panic!("not a report: {report}");
            };
            fold.report(&report).unwrap();
            for &(_, standing) in standings.iter().filter(|(held, _)| held == id) {
                fold.stand(id, standing);
            }
        }
        for (id, changes, by_a_release) in corrections {
            let correction = json!({"incident_id": id, "changes": changes, "reason": "r"});
            let bytes = serde_json::to_vec(&correction).unwrap();
            fold.correct(id, &bytes, *by_a_release).unwrap();
        }
        fold.finish().unwrap()
    }

    #[test]
    fn a_correction_made_in_the_ledger_stands_against_a_release_and_is_listed_when_they_differ() {
        let incidents = fields_from(&ucdp_file(&[ROW_2]));
        // An investigator set fatalities to 9 and cleared admin2; a release once set actor2.
        let corrections = [
            ("ucdp:2", json!({"fatalities": 9, "admin2": null}), false),
            ("ucdp:2", json!({"actor2": "Civilians (Mali)"}), true),
        ];
        let held = || held_corrected(&incidents, &corrections);

        // The release as it was: nothing to undo.
        let (events, tally) = diff_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2]), "r3", held()).unwrap();
        let corrected: Vec<Value> = payloads(&events).into_iter().map(|(_, p)| p).collect();
        // Against what the releases stated, only actor2 (a release's own change) is restated.
        assert_eq!(corrected.len(), 1, "{corrected:?}");
        assert_eq!(corrected[0]["changes"], json!({"actor2": "Civilians"}));
        assert!(tally.conflicts.is_empty());

        // A release with a new count and location: the location is corrected, the count,
        // corrected by hand, stands and is listed.
        let revised = ROW_2.replace(",7", ",8").replace("Obo town", "Obo");
        let (events, tally) =
            diff_text::<ucdp::Ucdp>(&ucdp_file(&[&revised]), "r3", held()).unwrap();
        let changes: Vec<Value> = payloads(&events)
            .into_iter()
            .map(|(_, p)| p["changes"].clone())
            .collect();
        assert_eq!(changes, [json!({"actor2": "Civilians", "location": "Obo"})]);
        assert_eq!(
            tally.conflicts,
            [Conflict {
                incident_id: "ucdp:2".into(),
                field: "fatalities",
                line: 2,
                kept: json!(9),
                release: json!(8),
            }]
        );
    }

    /// What an import holds of a ledger without incidents.
    fn nothing_held() -> Holdings {
        held_of(&BTreeMap::new(), &[])
    }

    fn payloads(events: &[EventInput]) -> Vec<(String, Value)> {
        events
            .iter()
            .map(|e| {
                (
                    e.event_type.clone(),
                    serde_json::from_slice(&e.payload).unwrap(),
                )
            })
            .collect()
    }

    const ROW_1: &str = "1,2009-02-20,2009-02-20,1,Government of Uganda,LRA,,,remote southeast,Central African Republic,5.399784,26.486881,3";
    const ROW_2: &str = "2,2010-03-01,2010-03-01,3,LRA,Civilians,Haut-Mbomou,Obo,Obo town,Central African Republic,5.4,26.5,7";
    const ROW_3: &str =
        "3,2011-01-01,2011-01-01,2,FPRC,UPC,,,Bria,Central African Republic,6.5,22,2";

    #[test]
    fn a_new_release_reports_every_row_in_file_order() {
        let (events, tally) = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2, ROW_1]), false).unwrap();
        let ids: Vec<_> = payloads(&events)
            .into_iter()
            .map(|(t, p)| format!("{t} {}", p["incident_id"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ids,
            ["incident.reported ucdp:2", "incident.reported ucdp:1"]
        );
        assert_eq!(events[0].line, Some(2));
        assert_eq!((tally.rows, tally.reported, tally.unchanged), (2, 2, 0));
    }

    #[test]
    fn a_changed_row_is_one_correction_naming_exactly_the_changed_fields() {
        let held = held_of(&fields_from(&ucdp_file(&[ROW_2])), &[]);
        let changed = ROW_2.replace(",Haut-Mbomou,", ",,").replace(",7", ",9");
        let (events, tally) =
            diff_text::<ucdp::Ucdp>(&ucdp_file(&[&changed]), "24.1", held).unwrap();
        assert_eq!(
            payloads(&events),
            [(
                "incident.corrected".to_string(),
                json!({
                    "incident_id": "ucdp:2",
                    "changes": {"admin1": null, "fatalities": 9},
                    "reason": "changed in UCDP GED release 24.1"
                })
            )]
        );
        assert_eq!(events[0].line, Some(2));
        assert_eq!(tally.corrected, 1);
    }

    #[test]
    fn fields_the_layout_never_sets_are_left_alone() {
        let mut incidents = fields_from(&ucdp_file(&[ROW_1]));
        incidents
            .get_mut("ucdp:1")
            .unwrap()
            .insert("sources".into(), json!(["a panel report"]));
        let held = held_of(&incidents, &[]);
        let (events, tally) = diff_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), "r2", held).unwrap();
        assert!(events.is_empty(), "{:?}", payloads(&events));
        assert_eq!(tally.unchanged, 1);
    }

    /// A file without an optional column says nothing of its field; one with the column and
    /// an empty cell says the value is gone.
    #[test]
    fn fields_of_columns_the_file_lacks_are_left_alone() {
        let mut incidents = fields_from(&ucdp_file(&[ROW_1]));
        let held = incidents.get_mut("ucdp:1").unwrap();
        held.insert("date_precision".into(), json!(2));
        held.insert("fatalities_low".into(), json!(1));
        let (events, tally) =
            diff_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), "r2", held_of(&incidents, &[])).unwrap();
        assert!(events.is_empty(), "{:?}", payloads(&events));
        assert_eq!(tally.unchanged, 1);

        let with_low = format!("{},low\n{ROW_1},\n", UCDP_HEADER.trim_end());
        let (events, _) =
            diff_text::<ucdp::Ucdp>(&with_low, "r3", held_of(&incidents, &[])).unwrap();
        let changes: Vec<Value> = payloads(&events)
            .into_iter()
            .map(|(_, p)| p["changes"].clone())
            .collect();
        assert_eq!(changes, [json!({"fatalities_low": null})]);
    }

    #[test]
    fn a_whole_number_stated_by_hand_equals_the_same_number_read_as_a_decimal() {
        let mut incidents = fields_from(&ucdp_file(&[ROW_3]));
        incidents
            .get_mut("ucdp:3")
            .unwrap()
            .insert("longitude".into(), json!(22));
        let held = held_of(&incidents, &[]);
        let (events, _) = diff_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_3]), "r2", held).unwrap();
        assert!(events.is_empty(), "{:?}", payloads(&events));
    }

    /// What the diff of `text` withdraws of `held`, by id, with `options`.
    fn withdrawn(
        text: &str,
        held: Holdings,
        options: &ImportOptions,
    ) -> Result<Vec<String>, ImportError> {
        let (events, _) =
            diff_with::<ucdp::Ucdp>(text.as_bytes(), options, "24.1", held, &mut |_, _| {})?;
        Ok((payloads(&events).into_iter())
            .filter(|(event_type, _)| event_type == "incident.withdrawn")
            .map(|(_, data)| data["incident_id"].as_str().unwrap().to_string())
            .collect())
    }

    /// ROW_1 to ROW_3 held, and `ucdp:0`, in Mali on ROW_1's date.
    fn held_in_two_countries() -> Holdings {
        let mut incidents = fields_from(&ucdp_file(&[ROW_1, ROW_2, ROW_3]));
        let mut elsewhere = incidents["ucdp:1"].clone();
        elsewhere.insert("country".into(), json!("Mali"));
        incidents.insert("ucdp:0".into(), elsewhere);
        held_of(&incidents, &[])
    }

    #[test]
    fn a_whole_release_withdraws_every_incident_it_no_longer_has_in_id_order() {
        let release = ImportOptions::default();
        let (events, tally) = diff_with::<ucdp::Ucdp>(
            ucdp_file(&[ROW_2]).as_bytes(),
            &release,
            "24.1",
            held_in_two_countries(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(
            payloads(&events)[0],
            (
                "incident.withdrawn".to_string(),
                json!({"incident_id": "ucdp:0", "reason": "no longer in UCDP GED release 24.1"})
            )
        );
        let held = held_in_two_countries();
        let ids = withdrawn(&ucdp_file(&[ROW_2]), held, &release).unwrap();
        assert_eq!(ids, ["ucdp:0", "ucdp:1", "ucdp:3"]);
        assert_eq!((tally.withdrawn, tally.unchanged), (3, 1));
    }

    #[test]
    fn an_extract_withdraws_only_inside_its_countries_and_event_dates() {
        let extract = |countries: &[&str], from: Option<&str>, to: Option<&str>| ImportOptions {
            scope: Some(Scope::Extract),
            countries: countries.iter().map(ToString::to_string).collect(),
            from: from.and_then(date::iso_date),
            to: to.and_then(date::iso_date),
            ..ImportOptions::default()
        };
        // The file's rows: the Central African Republic, 2009-02-20 to 2011-01-01.
        let file = ucdp_file(&[ROW_1, ROW_3]);
        let held = held_in_two_countries;
        assert_eq!(
            withdrawn(&file, held(), &extract(&[], None, None)).unwrap(),
            ["ucdp:2"]
        );
        let before_2010 = extract(&[], None, Some("2009-12-31"));
        assert!(withdrawn(&file, held(), &before_2010).unwrap().is_empty());
        let mali = extract(&["Mali"], None, None);
        assert_eq!(withdrawn(&file, held(), &mali).unwrap(), ["ucdp:0"]);
        // One month's extract never withdraws another month's incidents.
        let one_day = ucdp_file(&[ROW_1]);
        assert!(withdrawn(&one_day, held(), &extract(&[], None, None))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn withdrawing_more_than_a_tenth_of_the_dataset_is_refused_unless_allowed() {
        let rows: Vec<String> = (1..=30)
            .map(|id| ROW_1.replacen("1,", &format!("{id},"), 1))
            .collect();
        let all: Vec<&str> = rows.iter().map(String::as_str).collect();
        let held = || held_of(&fields_from(&ucdp_file(&all)), &[]);
        let file = ucdp_file(&all[..1]);
        match withdrawn(&file, held(), &ImportOptions::default()) {
            Err(ImportError::LargeRemoval { removal, .. }) => {
                assert_eq!((removal.removing, removal.standing), (29, 30));
            }
            other => panic!("expected the removal refused, got {other:?}"),
        }
        let allowed = ImportOptions {
            allow_large_removal: true,
            ..ImportOptions::default()
        };
        assert_eq!(withdrawn(&file, held(), &allowed).unwrap().len(), 29);
        // A tenth or fewer goes through.
        let most = ucdp_file(&all[..27]);
        assert_eq!(
            withdrawn(&most, held(), &ImportOptions::default())
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn a_retracted_incident_that_reappears_is_left_out_and_listed() {
        let held = held_of(
            &fields_from(&ucdp_file(&[ROW_1])),
            &[("ucdp:1", Standing::Retracted)],
        );
        let (events, tally) = diff_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), "r2", held).unwrap();
        assert!(events.is_empty(), "{:?}", payloads(&events));
        assert_eq!(tally.skipped.len(), 1);
        assert_eq!(tally.skipped[0].line, 2);
        assert!(tally.skipped[0].message.contains("retracted"));
    }

    #[test]
    fn a_row_left_out_as_malformed_is_not_withdrawn() {
        let held = held_of(&fields_from(&ucdp_file(&[ROW_1, ROW_2])), &[]);
        let bad = ROW_2.replace(",7", ",seven");
        let (events, tally) = diff_bytes::<ucdp::Ucdp>(
            ucdp_file(&[ROW_1, &bad]).as_bytes(),
            true,
            "r2",
            held,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(tally.skipped.len(), 1);
        assert!(events.is_empty(), "{:?}", payloads(&events));
    }

    #[test]
    fn a_row_left_out_as_malformed_leaves_a_later_row_of_its_id_to_be_diffed() {
        let held = held_of(&fields_from(&ucdp_file(&[ROW_2])), &[]);
        let bad = ROW_2.replace(",7", ",seven");
        let changed = ROW_2.replace(",7", ",8");
        let (events, tally) = diff_bytes::<ucdp::Ucdp>(
            ucdp_file(&[&bad, &changed]).as_bytes(),
            true,
            "r2",
            held,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(
            payloads(&events),
            [(
                "incident.corrected".to_string(),
                json!({
                    "incident_id": "ucdp:2",
                    "changes": {"fatalities": 8},
                    "reason": "changed in UCDP GED release r2"
                })
            )]
        );
        assert_eq!((tally.skipped.len(), tally.corrected), (1, 1));
    }

    #[test]
    fn a_malformed_row_names_its_line_and_column_and_stops_the_import() {
        let bad = ROW_2.replace(",7", ",abc");
        let err = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1, &bad]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "release.csv, line 3, column best: \"abc\" is not a whole number of deaths (0 or more); nothing of this import was written"
        );
    }

    #[test]
    fn a_row_spanning_lines_is_named_by_its_first_line_and_the_next_row_by_its_own() {
        let spanning = ROW_1.replace("remote southeast", "\"remote\nsoutheast\"");
        let bad = ROW_3.replace("2011-01-01,2011", "2011-13-01,2011");
        let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[&spanning, &bad]));
        assert_eq!(problem.line, 4);
        assert_eq!(problem.column.as_deref(), Some("date_start"));
        let (events, _) = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2, &spanning]), false).unwrap();
        assert_eq!(events[1].line, Some(3));
        assert_eq!(payloads(&events)[1].1["location"], "remote\nsoutheast");
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_malformed() {
        let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[&format!("{ROW_1},extra")]));
        assert_eq!((problem.line, problem.column), (2, None));
        assert!(problem.message.contains("14 fields"), "{}", problem.message);
    }

    #[test]
    fn a_value_too_long_for_the_schema_is_malformed_and_names_its_column() {
        let long = "x".repeat(201);
        let row = ROW_1.replace("remote southeast", &long);
        let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[&row]));
        assert_eq!(problem.column.as_deref(), Some("where_description"));
        assert!(problem.message.contains("location"), "{}", problem.message);
    }

    #[test]
    fn a_repeated_ucdp_id_is_malformed() {
        let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[ROW_1, ROW_1]));
        assert_eq!((problem.line, problem.column.as_deref()), (3, Some("id")));
        assert!(problem.message.contains("line 2"), "{}", problem.message);
    }

    #[test]
    fn a_missing_column_and_an_empty_file_are_header_errors() {
        let text = ucdp_file(&[ROW_1]).replacen("best", "best_estimate", 1);
        let err = read_text::<ucdp::Ucdp>(&text, false).unwrap_err();
        assert!(err.to_string().contains("no column best"), "{err}");
        let err = read_text::<ucdp::Ucdp>("", false).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_a_malformed_row_naming_the_column() {
        let mut bytes = ucdp_file(&[ROW_1]).into_bytes();
        let at = bytes.windows(3).position(|w| w == b"LRA").unwrap();
        bytes[at] = 0xff;
        let Err(ImportError::Malformed { problem, .. }) =
            diff_bytes::<ucdp::Ucdp>(&bytes, false, "r1", nothing_held(), &mut |_, _| {})
        else {
            panic!("expected a malformed row");
        };
        assert_eq!(problem.column.as_deref(), Some("side_b"));
    }

    /// The forms themselves are [`date::dataset_date`]'s to test; here, that a row's date is
    /// written in ISO form and a bad one names its column.
    #[test]
    fn a_rows_date_is_written_as_iso_and_a_bad_one_names_its_column() {
        let row = ROW_1.replacen("2009-02-20", "31 December 2020", 1);
        let report = report_of::<ucdp::Ucdp>(&ucdp_file(&[&row])).unwrap();
        assert_eq!(report["event_date"], "2020-12-31");
        let row = ROW_1.replacen("2009-02-20", "2020-02-30", 1);
        let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[&row]));
        assert_eq!(problem.column.as_deref(), Some("date_start"));
    }

    #[test]
    fn deaths_and_coordinates_must_be_numbers() {
        for (from, to, column) in [
            (",3", ",-3", "best"),
            (",3", ",2.5", "best"),
            (",3", ",", "best"),
            ("5.399784", "north", "latitude"),
            ("26.486881", "NaN", "longitude"),
            ("5.399784", "95", "latitude"),
        ] {
            let row = ROW_1.replace(from, to);
            let problem = problem_of::<ucdp::Ucdp>(&ucdp_file(&[&row]));
            assert_eq!(problem.column.as_deref(), Some(column), "{to}: {problem}");
        }
    }

    #[test]
    fn progress_reaches_the_end_of_the_file() {
        let text = ucdp_file(&[ROW_1, ROW_2]);
        let mut seen = Vec::new();
        diff_bytes::<ucdp::Ucdp>(
            text.as_bytes(),
            false,
            "r1",
            nothing_held(),
            &mut |done, total| {
                seen.push((done, total));
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen.last(), Some(&(text.len() as u64, text.len() as u64)));
    }

    #[test]
    fn the_release_label_defaults_to_the_file_stem_and_must_fit_the_schema() {
        let path = Path::new("/data/GEDEvent_v23_1_CAF.csv");
        assert_eq!(release_label(path, None).unwrap(), "GEDEvent_v23_1_CAF");
        assert_eq!(release_label(path, Some(" 23.1 ")).unwrap(), "23.1");
        assert!(release_label(path, Some("")).is_err());
        assert!(release_label(path, Some(&"9".repeat(201))).is_err());
    }

    mod through_a_ledger {
        use super::*;

        fn ledger_with_investigator(dir: &Path) -> (Ledger, SecretKey) {
            let (ledger, _, investigator) = crate::ledger::tests::with_investigator(dir);
            (ledger, investigator)
        }

        fn import_text(
            ledger: &Ledger,
            key: &SecretKey,
            path: &Path,
            text: &str,
            release: &str,
        ) -> Result<ImportReport, ImportError> {
            std::fs::write(path, text).unwrap();
            let options = ImportOptions {
                release: Some(release.into()),
                ..ImportOptions::default()
            };
            import(
                ledger,
                Mode::Append(key),
                Dataset::Ucdp,
                path,
                &options,
                &mut |_, _| {},
            )
        }

        #[test]
        fn later_releases_correct_withdraw_and_reinstate_and_a_repeat_appends_nothing() {
            let tmp = tempfile::tempdir().unwrap();
            let (ledger, key) = ledger_with_investigator(tmp.path());
            let path = tmp.path().join("ged.csv");
            let first = import_text(
                &ledger,
                &key,
                &path,
                &ucdp_file(&[ROW_1, ROW_2, ROW_3]),
                "23.1",
            )
            .unwrap();
            assert_eq!(
                (
                    first.rows,
                    first.reported,
                    first.appended.map(|l| l.entries)
                ),
                (3, 3, Some(3))
            );
            assert_eq!(first.release, "23.1");

            let changed = ROW_2.replace(",7", ",8");
            let second =
                import_text(&ledger, &key, &path, &ucdp_file(&[ROW_1, &changed]), "23.2").unwrap();
            assert_eq!(
                (
                    second.corrected,
                    second.withdrawn,
                    second.unchanged,
                    second.reported
                ),
                (1, 1, 1, 0)
            );
            let landed = second.appended.unwrap();
            assert_eq!(
                (landed.entries, landed.first_seq, landed.last.seq),
                (2, 5, 6)
            );
            assert_eq!(landed.last.hash, ledger.head().unwrap().hash);

            let head = ledger.head().unwrap().seq;
            let third =
                import_text(&ledger, &key, &path, &ucdp_file(&[ROW_1, &changed]), "23.2").unwrap();
            assert!(third.appended.is_none());
            assert_eq!(third.unchanged, 2);
            assert_eq!(ledger.head().unwrap().seq, head);

            // Each column of the incidents view's row for `id`, by name.
            let incident = |id: &str| -> BTreeMap<String, Cell> {
                let incidents = crate::projection::by_name("incidents").unwrap();
                let window = crate::projection::Window::default();
                let projected = crate::projection::project(
                    &ledger,
                    None,
                    &[incidents],
                    None,
                    &window,
                    Refresh::Rebuild,
                )
                .unwrap();
                let table = projected.into_tables().unwrap().remove(0);
                let row = (table.rows.iter())
                    .find(|row| row[0] == Cell::text(id))
                    .unwrap();
                (table.columns.iter().map(ToString::to_string))
                    .zip(row.iter().cloned())
                    .collect()
            };
            assert_eq!(incident("ucdp:2")["fatalities"], Cell::Int(8));
            assert_eq!(incident("ucdp:3")["status"], Cell::text("withdrawn"));

            // The release after has it again, changed: reinstated, then corrected.
            let back = ROW_3.replace(",22,2", ",22,5");
            let fourth = import_text(
                &ledger,
                &key,
                &path,
                &ucdp_file(&[ROW_1, &changed, &back]),
                "23.3",
            )
            .unwrap();
            assert_eq!(
                (fourth.reinstated, fourth.corrected, fourth.withdrawn),
                (1, 1, 0)
            );
            let reinstated = incident("ucdp:3");
            assert_eq!(reinstated["status"], Cell::text("active"));
            assert_eq!(reinstated["fatalities"], Cell::Int(5));
        }

        /// Every file under `dir` with its bytes.
        fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
            let mut files = BTreeMap::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files.extend(self::files(&path));
                } else {
                    files.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
            files
        }

        #[test]
        fn a_malformed_row_read_after_entries_were_written_leaves_the_log_as_it_was() {
            let tmp = tempfile::tempdir().unwrap();
            let (ledger, key) = ledger_with_investigator(tmp.path());
            let path = tmp.path().join("ged.csv");
            import_text(&ledger, &key, &path, &ucdp_file(&[ROW_1]), "23.1").unwrap();
            let log = tmp.path().join("ledger").join("log");
            let before = files(&log);
            // More rows than the append writes in one chunk, so that entries of this batch
            // are in the log's files when the malformed row is read.
            let mut rows: Vec<String> = (2..2200)
                .map(|id| ROW_1.replacen('1', &id.to_string(), 1))
                .collect();
            rows.push(ROW_1.replacen('1', "9999", 1).replace(",3", ",three"));
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            let err = import_text(&ledger, &key, &path, &ucdp_file(&rows), "23.2").unwrap_err();
            let ImportError::Malformed { problem, .. } = &err else {
                panic!("expected a malformed row, got {err}");
            };
            assert_eq!(
                (problem.line, problem.column.as_deref()),
                (2200, Some("best"))
            );
            assert!(
                err.to_string()
                    .ends_with("nothing of this import was written"),
                "{err}"
            );
            assert_eq!(files(&log), before);
        }

        #[test]
        fn a_refused_batch_writes_nothing_and_names_the_file() {
            let tmp = tempfile::tempdir().unwrap();
            let (ledger, _) = ledger_with_investigator(tmp.path());
            let stranger = SecretKey::from_seed([3; 32], None);
            let path = tmp.path().join("ged.csv");
            let head = ledger.head().unwrap();
            let err =
                import_text(&ledger, &stranger, &path, &ucdp_file(&[ROW_1]), "23.1").unwrap_err();
            assert!(matches!(err, ImportError::Append { .. }), "{err}");
            assert!(err.to_string().contains("ged.csv"), "{err}");
            assert_eq!(ledger.head().unwrap(), head);
        }
    }
}
