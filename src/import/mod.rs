//! Importing a dataset release (UCDP GED, ACLED) from its CSV file: every row is read as the
//! incident it describes, the release is diffed against the incidents the ledger holds, and the
//! difference is appended as one batch through [`Ledger::append`], so that an import is all or
//! nothing and passes the same schemas, rules and signatures as any other statement. Each
//! layout maps rows in a module of its own ([`ucdp`], [`acled`]); reading, the diff and the
//! plan live here and are shared.
//!
//! The diff, per incident of the file (`ucdp:<id>`, `acled:<event_id_cnty>`): a new one is
//! reported; one that stands with other values gets one `incident.corrected` naming only the
//! changed fields (null for a field the layout maps but the row no longer has; fields the layout
//! never sets, such as notes added by hand to an ACLED event, are left alone); an identical one
//! appends nothing. A row whose incident the ledger holds as retracted stays out, since a
//! retraction is final: it is listed with the skipped rows. An incident of the same dataset that
//! stands in the ledger but is missing from the file is retracted only when its current country
//! is one of the countries in the file, so that importing a one-country extract never retracts
//! the rest of the world; an incident without a country is never retracted by an import.
//!
//! It never writes except through that one append, and never touches a terminal: progress goes
//! to a callback.

pub mod acled;
pub mod ucdp;

use crate::date;
use crate::event::EventType;
use crate::input::EventInput;
use crate::keys::SecretKey;
use crate::ledger::{Appended, LedgerError};
use crate::log::LogFiles;
use crate::payload::{field, IncidentField, INCIDENT_FIELDS};
use crate::projection::incidents::{Incident, Incidents};
use crate::projection::{current_state, CacheDir, ProjectionError};
use crate::schema::{SchemaError, Schemas};
use crate::Ledger;
use csv::{ByteRecord, StringRecord};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
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
}

/// One row left out: its line in the file (1-based, the header is line 1; a row whose quoted
/// fields span lines is named by the line it starts on), the column at fault, and what is wrong.
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

/// What an import did. `rows` counts the data rows read; `reported`, `corrected`, `retracted`
/// and `unchanged` count incidents (rows that repeat an event, as older ACLED files do once per
/// actor, fold into its first row). `skipped` lists, in file order, the malformed rows left out
/// (only with `skip_invalid`) and the rows whose incident the ledger holds as retracted.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub release: String,
    pub rows: usize,
    pub reported: usize,
    pub corrected: usize,
    pub retracted: usize,
    pub unchanged: usize,
    pub skipped: Vec<RowProblem>,
    /// Where the appended events landed; empty when the ledger already held the release.
    pub appended: Vec<Appended>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}, line 1: {problem}", path.display())]
    Header { path: PathBuf, problem: String },
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
    #[error(transparent)]
    Projection(Box<ProjectionError>),
}

/// source_dataset.release allows this many characters.
const RELEASE_MAX_CHARS: usize = 200;

/// Imports one release file of `dataset`, appending what it changes as one batch signed by `key`.
/// `on_progress(bytes_read, total_bytes)` is called as rows are read. The incidents the release
/// is diffed against are caught up from `caches` when given.
pub fn import<F: LogFiles>(
    ledger: &Ledger<F>,
    caches: Option<&CacheDir>,
    key: &SecretKey,
    dataset: Dataset,
    path: &Path,
    options: &ImportOptions,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport, ImportError> {
    match dataset {
        Dataset::Ucdp => {
            import_layout::<ucdp::Ucdp, F>(ledger, caches, key, path, options, on_progress)
        }
        Dataset::Acled => {
            import_layout::<acled::Acled, F>(ledger, caches, key, path, options, on_progress)
        }
    }
}

fn import_layout<L: Layout, F: LogFiles>(
    ledger: &Ledger<F>,
    caches: Option<&CacheDir>,
    key: &SecretKey,
    path: &Path,
    options: &ImportOptions,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport, ImportError> {
    let label = release_label(path, options.release.as_deref())?;
    let unreadable = |source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(unreadable)?;
    let total = file.metadata().map_err(unreadable)?.len();
    let context = Context {
        path,
        schemas: ledger.schemas().map_err(|source| ImportError::Append {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?,
        label: &label,
        skip_invalid: options.skip_invalid,
    };
    let release = read::<L>(&context, file, total, on_progress)?;
    let state = current_state::<Incidents, F>(ledger, caches)
        .map_err(|e| ImportError::Projection(Box::new(e)))?;
    let plan = plan::<L>(&release, &label, &held::<L>(&state.incidents));
    // What the plan was made from is let go before the append, which streams the events into
    // the log without copying them.
    drop(state);
    let Release { rows, skipped, .. } = release;
    let Plan {
        events,
        reported,
        corrected,
        retracted,
        unchanged,
        still_retracted,
    } = plan;

    // Ledger::append refuses an empty batch, and a release the ledger already holds is one.
    let mut appended = Vec::new();
    if !events.is_empty() {
        ledger
            .append_stream(key, events.into_iter().map(Ok), |a| appended.push(a))
            .map_err(|source| ImportError::Append {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
    }
    let mut skipped = skipped;
    skipped.extend(still_retracted);
    skipped.sort_by_key(|problem| problem.line);
    Ok(ImportReport {
        release: label,
        rows,
        reported,
        corrected,
        retracted,
        unchanged,
        skipped,
        appended,
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
}

/// One data row, with the line it starts on.
struct Row<'r> {
    line: u64,
    record: &'r StringRecord,
}

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

    fn deaths(&self, column: Column) -> Result<u64, RowProblem> {
        let raw = self.raw(column);
        raw.parse().map_err(|_| {
            self.problem(
                column,
                format!(
                    "{} is not a whole number of deaths (0 or more)",
                    quoted(raw)
                ),
            )
        })
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

    fn column_of(&self, name: &str) -> Option<Column> {
        self.0
            .iter()
            .find(|set| set.field.name == name)
            .map(|set| set.column)
    }
}

/// A row accepted from the file: the incident.reported it states.
#[derive(Debug)]
struct Mapped {
    line: u64,
    incident_id: String,
    /// A JSON object: incident_id, the row's fields, source_dataset.
    report: Value,
}

/// A release as read from its file.
#[derive(Debug, Default)]
struct Release {
    rows: usize,
    /// Accepted rows, one per incident, in file order.
    incidents: Vec<Mapped>,
    /// Every incident id the file names, also on rows left out: none of them is retracted.
    ids: HashSet<String>,
    countries: HashSet<String>,
    skipped: Vec<RowProblem>,
    /// The line of the row each accepted incident was read from.
    lines: HashMap<String, u64>,
}

/// What reading needs besides the bytes.
struct Context<'a> {
    path: &'a Path,
    schemas: &'a Schemas,
    label: &'a str,
    skip_invalid: bool,
}

fn read<L: Layout>(
    context: &Context,
    input: impl Read,
    total_bytes: u64,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<Release, ImportError> {
    let path = context.path;
    let unreadable = |e: csv::Error| ImportError::Unreadable {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let header_problem = |problem: String| ImportError::Header {
        path: path.to_path_buf(),
        problem,
    };
    // Flexible, so that a row with the wrong number of fields is this module's to report.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.byte_headers().map_err(unreadable)?;
    if header.is_empty() || header.iter().all(<[u8]>::is_empty) {
        return Err(header_problem(format!(
            "the file is empty; {} files start with a header line naming their columns",
            L::NAME
        )));
    }
    let header = StringRecord::from_byte_record(header.clone()).map_err(|_| {
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

    let mut release = Release::default();
    let mut record = ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(unreadable)? {
        release.rows += 1;
        on_progress(reader.position().byte(), total_bytes);
        let line = record.position().map_or(0, csv::Position::line);
        if let Err(problem) = release.take(&layout, &header, &record, line, context) {
            if !context.skip_invalid {
                return Err(ImportError::Malformed {
                    path: path.to_path_buf(),
                    problem,
                });
            }
            release.skipped.push(problem);
        }
    }
    Ok(release)
}

impl Release {
    fn take<L: Layout>(
        &mut self,
        layout: &L,
        header: &Header,
        record: &ByteRecord,
        line: u64,
        context: &Context,
    ) -> Result<(), RowProblem> {
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
            )));
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
        self.ids.insert(incident_id.clone());
        if let Some(country) = row.text(layout.country()) {
            self.countries.insert(country);
        }

        let fields = layout.fields(&row)?;
        let mut report = Map::new();
        report.insert("incident_id".into(), Value::String(incident_id.clone()));
        for set in &fields.0 {
            report.insert(set.field.name.into(), set.value.clone());
        }
        report.insert(
            field::SOURCE_DATASET.name.into(),
            json!({"name": L::NAME, "release": context.label, "id": source_id}),
        );
        let report = Value::Object(report);
        let version = EventType::IncidentReported.current_schema_version();
        if let Err(e) = context
            .schemas
            .validate(EventType::IncidentReported, version, &report)
        {
            return Err(schema_problem(&row, layout.id(), &fields, e));
        }

        if let Some(first) = self.lines.get(&incident_id) {
            if L::REPEATS {
                // The first row of an event stands; later ones only name its other actors.
                return Ok(());
            }
            return Err(row.problem(
                layout.id(),
                format!(
                    "{} is also the id of the row on line {first}; each {} event has one row",
                    quoted(&source_id),
                    L::NAME
                ),
            ));
        }
        self.lines.insert(incident_id.clone(), line);
        self.incidents.push(Mapped {
            line,
            incident_id,
            report,
        });
        Ok(())
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

/// What the ledger holds for one incident of the dataset.
#[derive(Clone, Debug)]
struct Held {
    fields: Map<String, Value>,
    retracted: bool,
}

impl Held {
    fn country(&self) -> Option<&str> {
        self.fields.get(field::COUNTRY.name).and_then(Value::as_str)
    }
}

/// The incidents of layout `L`'s dataset, by id.
fn held<L: Layout>(incidents: &BTreeMap<String, Incident>) -> BTreeMap<String, Held> {
    let prefix = format!("{}:", L::PREFIX);
    incidents
        .range(prefix.clone()..)
        .take_while(|(id, _)| id.starts_with(&prefix))
        .map(|(id, incident)| {
            let held = Held {
                fields: incident.fields(),
                retracted: incident.retracted,
            };
            (id.clone(), held)
        })
        .collect()
}

/// The events an import appends, in order, and how the incidents fared.
#[derive(Default)]
struct Plan {
    events: Vec<EventInput>,
    reported: usize,
    corrected: usize,
    retracted: usize,
    unchanged: usize,
    still_retracted: Vec<RowProblem>,
}

fn event(event_type: EventType, line: Option<u64>, payload: &Value) -> EventInput {
    EventInput {
        line: line.and_then(|l| usize::try_from(l).ok()),
        event_type: event_type.name().to_string(),
        payload: payload.to_string().into_bytes(),
    }
}

/// Reports and corrections in file order, then retractions in incident id order.
fn plan<L: Layout>(release: &Release, label: &str, held: &BTreeMap<String, Held>) -> Plan {
    let mut plan = Plan::default();
    for row in &release.incidents {
        let id = &row.incident_id;
        match held.get(id) {
            None => {
                plan.events.push(event(
                    EventType::IncidentReported,
                    Some(row.line),
                    &row.report,
                ));
                plan.reported += 1;
            }
            Some(incident) if incident.retracted => plan.still_retracted.push(RowProblem {
                line: row.line,
                column: None,
                message: format!(
                    "incident {id} was retracted earlier, and a retraction is final, so this row is left out; report it under a new id if it should stand again"
                ),
            }),
            Some(incident) => {
                let changes = changes(L::UNMAPPED, &incident.fields, &row.report);
                if changes.is_empty() {
                    plan.unchanged += 1;
                } else {
                    let corrected = json!({
                        "incident_id": id,
                        "changes": changes,
                        "reason": format!("changed in {} release {label}", L::NAME),
                    });
                    plan.events
                        .push(event(EventType::IncidentCorrected, Some(row.line), &corrected));
                    plan.corrected += 1;
                }
            }
        }
    }
    for (id, incident) in held {
        let in_scope = incident
            .country()
            .is_some_and(|country| release.countries.contains(country));
        if !incident.retracted && in_scope && !release.ids.contains(id) {
            let retracted = json!({
                "incident_id": id,
                "reason": format!("no longer in {} release {label}", L::NAME),
            });
            plan.events
                .push(event(EventType::IncidentRetracted, None, &retracted));
            plan.retracted += 1;
        }
    }
    plan
}

/// The incident fields whose value in the report `new` differs from `held`, with their new
/// values (null for one `new` no longer has), leaving out those in `unmapped` and
/// source_dataset (which names the release, so differs on every import without the incident
/// changing).
fn changes(
    unmapped: &[IncidentField],
    held: &Map<String, Value>,
    new: &Value,
) -> Map<String, Value> {
    INCIDENT_FIELDS
        .iter()
        .filter(|f| **f != field::SOURCE_DATASET && !unmapped.contains(f))
        .map(|f| f.name)
        .filter(|name| !same(held.get(*name), new.get(*name)))
        .map(|name| {
            (
                name.to_string(),
                new.get(name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

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

    /// Reads `bytes` as a file `release.csv` of layout `L` (release "r1").
    fn read_bytes<L: Layout>(
        bytes: &[u8],
        skip_invalid: bool,
        on_progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Release, ImportError> {
        let schemas = Schemas::load().unwrap();
        let context = Context {
            path: Path::new("release.csv"),
            schemas: &schemas,
            label: "r1",
            skip_invalid,
        };
        read::<L>(&context, bytes, bytes.len() as u64, on_progress)
    }

    /// Reads `text` as a file of layout `L` (release "r1").
    pub(super) fn read_text<L: Layout>(
        text: &str,
        skip_invalid: bool,
    ) -> Result<Release, ImportError> {
        read_bytes::<L>(text.as_bytes(), skip_invalid, &mut |_, _| {})
    }

    /// The incident.reported of the only accepted row of `text`.
    pub(super) fn report_of<L: Layout>(text: &str) -> Result<Value, ImportError> {
        let mut release = read_text::<L>(text, false)?;
        assert_eq!(release.incidents.len(), 1, "one incident expected");
        Ok(release.incidents.remove(0).report)
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

    fn held_from(release: &Release) -> BTreeMap<String, Held> {
        release
            .incidents
            .iter()
            .map(|row| {
                let mut fields = row.report.as_object().unwrap().clone();
                fields.remove("incident_id");
                let held = Held {
                    fields,
                    retracted: false,
                };
                (row.incident_id.clone(), held)
            })
            .collect()
    }

    fn payloads(plan: &Plan) -> Vec<(String, Value)> {
        plan.events
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
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2, ROW_1]), false).unwrap();
        let plan = plan::<ucdp::Ucdp>(&release, "r1", &BTreeMap::new());
        let ids: Vec<_> = payloads(&plan)
            .into_iter()
            .map(|(t, p)| format!("{t} {}", p["incident_id"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ids,
            ["incident.reported ucdp:2", "incident.reported ucdp:1"]
        );
        assert_eq!(plan.events[0].line, Some(2));
        assert_eq!((plan.reported, plan.unchanged), (2, 0));
    }

    #[test]
    fn a_changed_row_is_one_correction_naming_exactly_the_changed_fields() {
        let held = held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2]), false).unwrap());
        let changed = ROW_2.replace(",Haut-Mbomou,", ",,").replace(",7", ",9");
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[&changed]), false).unwrap();
        let plan = plan::<ucdp::Ucdp>(&release, "24.1", &held);
        assert_eq!(
            payloads(&plan),
            [(
                "incident.corrected".to_string(),
                json!({
                    "incident_id": "ucdp:2",
                    "changes": {"admin1": null, "fatalities": 9},
                    "reason": "changed in UCDP GED release 24.1"
                })
            )]
        );
        assert_eq!(plan.corrected, 1);
    }

    #[test]
    fn fields_the_layout_never_sets_are_left_alone() {
        let mut held = held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), false).unwrap());
        held.get_mut("ucdp:1")
            .unwrap()
            .fields
            .insert("sources".into(), json!(["a panel report"]));
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), false).unwrap();
        assert!(plan::<ucdp::Ucdp>(&release, "r2", &held).events.is_empty());
    }

    #[test]
    fn a_whole_number_stated_by_hand_equals_the_same_number_read_as_a_decimal() {
        let mut held = held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_3]), false).unwrap());
        held.get_mut("ucdp:3")
            .unwrap()
            .fields
            .insert("longitude".into(), json!(22));
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_3]), false).unwrap();
        assert!(plan::<ucdp::Ucdp>(&release, "r2", &held).events.is_empty());
    }

    #[test]
    fn missing_incidents_are_retracted_in_id_order_but_only_in_the_files_countries() {
        let mut held =
            held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1, ROW_2, ROW_3]), false).unwrap());
        let mut elsewhere = held["ucdp:1"].clone();
        elsewhere.fields.insert("country".into(), json!("Mali"));
        held.insert("ucdp:0".into(), elsewhere);
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2]), false).unwrap();
        let plan = plan::<ucdp::Ucdp>(&release, "24.1", &held);
        assert_eq!(
            payloads(&plan),
            [
                (
                    "incident.retracted".to_string(),
                    json!({"incident_id": "ucdp:1", "reason": "no longer in UCDP GED release 24.1"})
                ),
                (
                    "incident.retracted".to_string(),
                    json!({"incident_id": "ucdp:3", "reason": "no longer in UCDP GED release 24.1"})
                ),
            ]
        );
        assert_eq!((plan.retracted, plan.unchanged), (2, 1));
    }

    #[test]
    fn a_retracted_incident_that_reappears_is_left_out_and_listed() {
        let mut held = held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), false).unwrap());
        held.get_mut("ucdp:1").unwrap().retracted = true;
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1]), false).unwrap();
        let plan = plan::<ucdp::Ucdp>(&release, "r2", &held);
        assert!(plan.events.is_empty());
        assert_eq!(plan.still_retracted.len(), 1);
        assert_eq!(plan.still_retracted[0].line, 2);
        assert!(plan.still_retracted[0].message.contains("retracted"));
    }

    #[test]
    fn a_row_left_out_as_malformed_is_not_retracted() {
        let held = held_from(&read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1, ROW_2]), false).unwrap());
        let bad = ROW_2.replace(",7", ",seven");
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_1, &bad]), true).unwrap();
        assert_eq!(release.skipped.len(), 1);
        let plan = plan::<ucdp::Ucdp>(&release, "r2", &held);
        assert!(plan.events.is_empty(), "{:?}", payloads(&plan));
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
        let release = read_text::<ucdp::Ucdp>(&ucdp_file(&[ROW_2, &spanning]), false).unwrap();
        assert_eq!(release.incidents[1].line, 3);
        assert_eq!(release.incidents[1].report["location"], "remote\nsoutheast");
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
            read_bytes::<ucdp::Ucdp>(&bytes, false, &mut |_, _| {})
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
        read_bytes::<ucdp::Ucdp>(text.as_bytes(), false, &mut |done, total| {
            seen.push((done, total));
        })
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
                skip_invalid: false,
            };
            // The ledger of `ledger_with_investigator`, beside the file.
            let caches = CacheDir::of(&path.with_file_name("ledger"));
            let caches = Some(&caches);
            import(
                ledger,
                caches,
                key,
                Dataset::Ucdp,
                path,
                &options,
                &mut |_, _| {},
            )
        }

        #[test]
        fn a_second_release_appends_its_corrections_and_retractions_and_a_repeat_appends_nothing() {
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
                (first.rows, first.reported, first.appended.len()),
                (3, 3, 3)
            );
            assert_eq!(first.release, "23.1");

            let changed = ROW_2.replace(",7", ",8");
            let second =
                import_text(&ledger, &key, &path, &ucdp_file(&[ROW_1, &changed]), "23.2").unwrap();
            assert_eq!(
                (
                    second.corrected,
                    second.retracted,
                    second.unchanged,
                    second.reported
                ),
                (1, 1, 1, 0)
            );
            let seqs: Vec<u64> = second.appended.iter().map(|a| a.seq).collect();
            assert_eq!(seqs, [5, 6]);

            let head = ledger.head().unwrap().seq;
            let third =
                import_text(&ledger, &key, &path, &ucdp_file(&[ROW_1, &changed]), "23.2").unwrap();
            assert!(third.appended.is_empty());
            assert_eq!(third.unchanged, 2);
            assert_eq!(ledger.head().unwrap().seq, head);

            let state = current_state::<Incidents, _>(&ledger, None).unwrap();
            assert_eq!(
                state.incidents["ucdp:2"].field("fatalities"),
                Some(json!(8))
            );
            assert!(state.incidents["ucdp:3"].retracted);
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
