//! Writing projection tables for people and programs: CSV (RFC 4180, UTF-8, LF line ends, with
//! a guard against spreadsheet formula injection), JSON, NDJSON and aligned text; and the export
//! directory of every projection's CSV with a manifest that ties the files to the ledger state
//! they came from.
//!
//! This module formats what projections computed; it never computes a view itself.

use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::merkle::Hash;
use crate::projection::cache::Hashing;
use crate::projection::{
    self, AsOf, Cell, Covered, Output, ProjectionError, Refresh, Row, RowSource, Rows, Table,
    Window,
};
use crate::Ledger;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

/// Whether text would be read as a number by a spreadsheet, and so is safe to leave unguarded.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !digits.ends_with('.')
}

/// A cell as CSV text. Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
/// leading `'`, so that a spreadsheet shows it instead of evaluating it (some strip a leading
/// tab or carriage return and then read a formula), unless it is a plain number. Control
/// characters elsewhere are kept: CSV carries the signed text as data.
pub fn csv_text(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Empty => Cow::Borrowed(""),
        Cell::Int(i) => Cow::Owned(i.to_string()),
        Cell::Real(r) => Cow::Owned(r.to_string()),
        Cell::Text(text) => {
            let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
            if risky && !is_plain_number(text) {
                Cow::Owned(format!("'{text}"))
            } else {
                Cow::Borrowed(text)
            }
        }
    }
}

fn json_value(cell: &Cell) -> Value {
    match cell {
        Cell::Empty => Value::Null,
        Cell::Text(text) => Value::String(text.clone()),
        Cell::Int(i) => Value::from(*i),
        Cell::Real(r) => serde_json::Number::from_f64(*r).map_or(Value::Null, Value::Number),
    }
}

fn json_object(columns: &[&str], row: &[Cell]) -> Value {
    let object: Map<String, Value> = columns
        .iter()
        .zip(row)
        .map(|(column, cell)| (column.to_string(), json_value(cell)))
        .collect();
    Value::Object(object)
}

/// A JSON array serialized from an iterator as it is read, so that it is never held whole;
/// serde_json writes it byte for byte as it would write a `Vec` of the same items.
struct JsonArray<I>(RefCell<Option<I>>);

impl<I: Iterator<Item = Value>> Serialize for JsonArray<I> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.borrow_mut().take().into_iter().flatten())
    }
}

/// The csv crate wraps a failed write in an error of its own; give back the I/O error itself,
/// so that callers can tell a closed pipe from a real failure.
fn io_error(e: csv::Error) -> io::Error {
    if !e.is_io_error() {
        return io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        _ => unreachable!("is_io_error holds exactly for ErrorKind::Io"),
    }
}

/// Writes the rows under `columns` in `format`, one at a time; returns how many rows it wrote.
pub fn write_rows(
    columns: &[&str],
    rows: &RowSource<'_>,
    format: TableFormat,
    mut out: impl Write,
) -> io::Result<usize> {
    let mut written = 0;
    let counted = rows().inspect(|_| written += 1);
    match format {
        TableFormat::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(out);
            writer.write_record(columns).map_err(io_error)?;
            for row in counted {
                writer
                    .write_record(row.iter().map(|cell| csv_text(cell).into_owned()))
                    .map_err(io_error)?;
            }
            writer.flush()?;
        }
        TableFormat::Json => {
            let objects = counted.map(|row| json_object(columns, &row));
            serde_json::to_writer_pretty(&mut out, &JsonArray(RefCell::new(Some(objects))))?;
            writeln!(out)?;
        }
        TableFormat::Ndjson => {
            for row in counted {
                serde_json::to_writer(&mut out, &json_object(columns, &row))?;
                writeln!(out)?;
            }
        }
        TableFormat::Table => {
            let widths = widths(columns, rows());
            write_aligned(columns, &widths, counted, out)?;
        }
    }
    Ok(written)
}

/// Writes `table` in `format`.
pub fn write_table(table: &Table, format: TableFormat, out: impl Write) -> io::Result<()> {
    let rows = || -> Rows<'_> { Box::new(table.rows.iter().cloned()) };
    write_rows(table.columns, &rows, format, out).map(drop)
}

/// A cell as aligned text shows it: on one line.
fn aligned_text(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Text(text) if text.contains(['\n', '\r', '\t']) => {
            Cow::Owned(text.replace(['\n', '\r', '\t'], " "))
        }
        Cell::Text(text) => Cow::Borrowed(text),
        other => csv_text(other),
    }
}

/// The width of each column in aligned text: its widest cell or its name.
fn widths(columns: &[&str], rows: Rows<'_>) -> Vec<usize> {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(&row) {
            *width = (*width).max(aligned_text(cell).chars().count());
        }
    }
    widths
}

/// The header, a rule and the rows as aligned text; the widths are measured beforehand, in a
/// pass of their own, so that the text of a large view is never held.
fn write_aligned(
    columns: &[&str],
    widths: &[usize],
    rows: impl Iterator<Item = Row>,
    mut out: impl Write,
) -> io::Result<()> {
    let mut line = String::new();
    let mut put = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = Cow<'_, str>>| {
        line.clear();
        for (i, (text, &width)) in cells.zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(&text);
            let shown = text.chars().count();
            line.extend(std::iter::repeat_n(' ', width.saturating_sub(shown)));
        }
        writeln!(out, "{}", line.trim_end())
    };
    put(&mut out, &mut columns.iter().map(|&c| Cow::Borrowed(c)))?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    put(
        &mut out,
        &mut rule.iter().map(|r| Cow::Borrowed(r.as_str())),
    )?;
    for row in rows {
        put(&mut out, &mut row.iter().map(aligned_text))?;
    }
    Ok(())
}

/// manifest.json of an export directory.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Manifest {
    pub origin: String,
    /// The last entry the export covers (absent for an export of nothing).
    pub seq: Option<u64>,
    pub entry_hash: Option<String>,
    pub recorded_at: Option<String>,
    /// What the views were folded from: always [`BUILT_FROM_LOG`], never a cache.
    pub built_from: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ManifestFile {
    pub name: String,
    pub blake3: String,
    pub rows: usize,
}

pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's `built_from`: every view folded from the log's entries, from seq 0.
pub const BUILT_FROM_LOG: &str = "log";

/// Writes one view as `DIR/<name>.csv`, hashed as it is written so that a large view's CSV is
/// never held whole; returns its line in the manifest.
fn write_view(dir: &Path, output: &Output) -> io::Result<Result<ManifestFile, ProjectionError>> {
    let name = format!("{}.csv", output.name());
    let file = std::fs::File::create(dir.join(&name))?;
    let mut out = Hashing::new(BufWriter::new(file));
    let written = match output
        .with_rows(|rows| write_rows(output.columns(), rows, TableFormat::Csv, &mut out))
    {
        Ok(written) => written?,
        Err(failed) => return Ok(Err(failed)),
    };
    (out.inner.into_inner())
        .map_err(io::IntoInnerError::into_error)
        .and_then(|file| file.sync_all())?;
    Ok(Ok(ManifestFile {
        name,
        blake3: out.hasher.finalize().to_hex().to_string(),
        rows: written,
    }))
}

/// Writes the manifest naming the ledger state that `files` cover.
fn write_manifest(
    dir: &Path,
    origin: &str,
    covered: Option<Covered>,
    files: Vec<ManifestFile>,
) -> io::Result<Manifest> {
    let hex = |hash: &Hash| hex::encode(hash);
    let manifest = Manifest {
        origin: origin.to_string(),
        seq: covered.map(|c| c.seq),
        entry_hash: covered.map(|c| hex(&c.hash)),
        recorded_at: covered.map(|c| c.recorded_at.to_rfc3339()),
        built_from: BUILT_FROM_LOG.to_string(),
        files,
    };
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    text.push(b'\n');
    let mut file = std::fs::File::create(dir.join(MANIFEST_FILE))?;
    file.write_all(&text)?;
    file.sync_all()?;
    Ok(manifest)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    #[error("cannot write the export to {}", dir.display())]
    Write {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} holds {}, which no export wrote; an export replaces its whole directory, so it writes only into a new or empty directory or one an earlier export wrote", dir.display(), stranger.display())]
    NotAnExport { dir: PathBuf, stranger: PathBuf },
    #[error("{} is inside the ledger's directory {}; views and exports are written elsewhere", path.display(), ledger.display())]
    InsideLedger { path: PathBuf, ledger: PathBuf },
}

impl From<LedgerError> for ExportError {
    fn from(e: LedgerError) -> Self {
        ExportError::Ledger(Box::new(e))
    }
}

/// Folds every projection from the log (never from a cache: an export is what the signed
/// entries say, whatever the ledger's directory holds beside them) up to `as_of`, and writes
/// each as `DIR/<name>.csv`, then the manifest that ties the files to the ledger state they
/// cover; returns the manifest. The same ledger state gives byte-identical files.
///
/// The files are written into a new directory beside `dir`, made durable, and then put in
/// `dir`'s place at once, so that a reader (or a process killed halfway) sees the whole old
/// export or the whole new one, never a manifest beside files it does not describe. So `dir`
/// must be new, empty, or an earlier export: anything else in it would be replaced too.
///
/// Views are folded one at a time, each written and let go before the next is folded, so that
/// an export needs the memory of its largest view rather than of all of them together; every
/// pass after the first is cut at the entry the first one covered.
pub fn export_all<F: LogFiles>(
    ledger: &Ledger<F>,
    dir: &Path,
    as_of: Option<AsOf>,
) -> Result<Manifest, ExportError> {
    let write_failed = |source| ExportError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    if let Some(ledger_dir) = ledger.dir() {
        outside_ledger(dir, ledger_dir)?;
    }
    replaceable(dir)?;
    let origin = ledger.origin()?.unwrap_or_default();
    let staging = Staging::beside(dir).map_err(write_failed)?;
    let mut cut = as_of;
    let mut covered = None;
    let mut files = Vec::with_capacity(projection::REGISTRY.len());
    for (i, &view) in projection::REGISTRY.iter().enumerate() {
        let projected = projection::project(
            ledger,
            None,
            &[view],
            cut,
            &Window::default(),
            Refresh::Rebuild,
        )?;
        if i == 0 {
            covered = projected.covered;
            cut = covered.map(|c| AsOf::Seq(c.seq)).or(cut);
        }
        for output in &projected.outputs {
            files.push(write_view(&staging.path, output).map_err(write_failed)??);
        }
    }
    let manifest = write_manifest(&staging.path, &origin, covered, files).map_err(write_failed)?;
    staging.put_in_place_of(dir).map_err(write_failed)?;
    Ok(manifest)
}

/// Refuses a path to write a view or an export to inside the ledger's directory: it would
/// write over the ledger's files, or be read by the ledger as its own.
pub fn outside_ledger(path: &Path, ledger_dir: &Path) -> Result<(), ExportError> {
    let ledger = std::fs::canonicalize(ledger_dir).unwrap_or_else(|_| ledger_dir.to_path_buf());
    // The path may not exist yet: its nearest existing ancestor says where it is.
    let mut existing = path;
    let canonical = loop {
        match std::fs::canonicalize(existing) {
            Ok(canonical) => break canonical,
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => break std::env::current_dir().unwrap_or_default(),
            },
        }
    };
    if canonical.starts_with(&ledger) {
        return Err(ExportError::InsideLedger {
            path: path.to_path_buf(),
            ledger: ledger_dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Refuses a directory that holds anything an export would not have written there.
fn replaceable(dir: &Path) -> Result<(), ExportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ExportError::Write {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let ours = |name: &str| {
        name == MANIFEST_FILE
            || (projection::REGISTRY.iter()).any(|view| name == format!("{}.csv", view.name()))
    };
    for entry in entries {
        let entry = entry.map_err(|source| ExportError::Write {
            dir: dir.to_path_buf(),
            source,
        })?;
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if !is_file || !entry.file_name().to_str().is_some_and(ours) {
            return Err(ExportError::NotAnExport {
                dir: dir.to_path_buf(),
                stranger: entry.path(),
            });
        }
    }
    Ok(())
}

/// The directory an export is written into before it takes the place of the one asked for:
/// beside it, so that the two are on one file system and the move is a rename. It is removed
/// when dropped: after a failure, and after the move, when it holds the old export. A process
/// killed before then leaves it behind; the next export into the same place removes it.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn beside(dir: &Path) -> io::Result<Staging> {
        let parent = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)?;
        let prefix = Self::prefix(dir);
        for entry in std::fs::read_dir(parent)? {
            let entry = entry?;
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix));
            if stale && entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        let path = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(Staging { path })
    }

    /// `.<name>.export-`, the start of the names of a directory's staging directories.
    fn prefix(dir: &Path) -> String {
        let name = dir.file_name().map_or_else(
            || "export".into(),
            |name| name.to_string_lossy().into_owned(),
        );
        format!(".{name}.export-")
    }

    /// Puts the staged export in `dir`'s place (exchanging the two at once where the system
    /// can, else moving the old one aside first), then removes the old one.
    fn put_in_place_of(&self, dir: &Path) -> io::Result<()> {
        sync_dir(&self.path)?;
        let parent = self.path.parent().unwrap_or(Path::new("."));
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::rename(&self.path, dir)?;
            }
            Err(e) => return Err(e),
            Ok(_) => {
                if !exchange(&self.path, dir)? {
                    // Without an atomic exchange, a reader may for a moment find no export.
                    let aside = self.path.with_extension("old");
                    std::fs::rename(dir, &aside)?;
                    std::fs::rename(&self.path, dir)?;
                    std::fs::rename(&aside, &self.path)?;
                }
            }
        }
        sync_dir(parent)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Nothing is there once a new directory was moved into place; the old export is once
        // it was exchanged; a failed export's files are. A failure leaves it to the next export.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Exchanges two paths at once (Linux's `renameat2` with `RENAME_EXCHANGE`); `false` where the
/// system or its file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e)
            if [
                rustix::io::Errno::INVAL,
                rustix::io::Errno::NOSYS,
                rustix::io::Errno::NOTSUP,
            ]
            .contains(&e) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formula_guard_covers_a_leading_tab_and_carriage_return_and_keeps_controls_as_data() {
        let csv = |text: &str| csv_text(&Cell::Text(text.into())).into_owned();
        assert_eq!(csv("\t=1+1"), "'\t=1+1");
        assert_eq!(csv("\r=1+1"), "'\r=1+1");
        assert_eq!(csv("=1+1"), "'=1+1");
        assert_eq!(csv("-12"), "-12");
        assert_eq!(csv("a\u{1b}[2Kb"), "a\u{1b}[2Kb");
    }
}
