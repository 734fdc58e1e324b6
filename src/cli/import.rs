//! `ledger import`: a UCDP GED or ACLED release, diffed against the ledger and appended as one
//! batch.

use crate::cli::append::appended_line;
use crate::cli::args::parse_date;
use crate::cli::args::Global;
use crate::cli::output::{count, note, write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::Result;
use chrono::NaiveDate;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use ledger::import::{self, Dataset, ImportOptions, ImportReport, Mode, PlannedChange, Scope};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The dataset whose layout the file has.
    #[arg(value_enum)]
    dataset: DatasetArg,
    /// The release file (CSV, with the dataset's header line).
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    /// The secret key file that signs the batch (an enrolled investigator's key); not needed
    /// with --dry-run.
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    key: Option<PathBuf>,
    /// The release's label (default: the file's name without its extension).
    #[arg(long, value_name = "LABEL")]
    release: Option<String>,
    /// Skip malformed rows (each is reported) instead of stopping the import.
    #[arg(long)]
    skip_invalid: bool,
    /// Work out what the import would append and print it (counts, and the first changes of
    /// each kind); write nothing.
    #[arg(long)]
    dry_run: bool,
    /// What the file covers: `release`, the whole dataset (every incident of it the file no
    /// longer has is withdrawn, until a later file has it again), or `extract`, a filtered
    /// download (only those inside its countries and event dates are). Default: release for
    /// ucdp, extract for acled.
    #[arg(long, value_enum)]
    scope: Option<ScopeArg>,
    /// With --scope extract: a country the file covers, instead of its rows' countries;
    /// repeat for several.
    #[arg(long, value_name = "NAME")]
    country: Vec<String>,
    /// With --scope extract: the first event date the file covers, instead of its earliest.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// With --scope extract: the last event date the file covers, instead of its latest.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    to: Option<NaiveDate>,
    /// Withdraw however many incidents the file no longer has, even more than a tenth of what
    /// the ledger holds of the dataset (otherwise such an import stops).
    #[arg(long)]
    allow_large_removal: bool,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    /// The whole dataset.
    Release,
    /// A filtered download.
    Extract,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Scope {
        match arg {
            ScopeArg::Release => Scope::Release,
            ScopeArg::Extract => Scope::Extract,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    /// UCDP Georeferenced Event Dataset.
    Ucdp,
    /// ACLED events, current or older layout.
    Acled,
}

impl From<DatasetArg> for Dataset {
    fn from(arg: DatasetArg) -> Dataset {
        match arg {
            DatasetArg::Ucdp => Dataset::Ucdp,
            DatasetArg::Acled => Dataset::Acled,
        }
    }
}

/// The import summary as JSON.
#[derive(Serialize)]
struct Summary<'a> {
    file: String,
    release: &'a str,
    rows: usize,
    reported: usize,
    corrected: usize,
    withdrawn: usize,
    reinstated: usize,
    unchanged: usize,
    skipped: Vec<Skipped<'a>>,
    /// Fields corrected in the ledger that the release changes too: the corrections stand.
    conflicts: Vec<Conflicting<'a>>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    head_hash: Option<String>,
    dry_run: bool,
    /// In a dry run, why the import itself would stop: it would withdraw more than a tenth
    /// of the dataset, and --allow-large-removal was not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    would_stop: Option<String>,
    /// In a dry run, the first changes of each kind.
    planned: Vec<Planned<'a>>,
    /// The text line that ends the summary; the JSON has the fields above.
    #[serde(skip)]
    appended_line: Option<String>,
}

#[derive(Serialize)]
struct Planned<'a> {
    event_type: &'a str,
    incident_id: &'a str,
    /// The fields a correction sets.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [String],
}

impl<'a> From<&'a PlannedChange> for Planned<'a> {
    fn from(change: &'a PlannedChange) -> Self {
        Planned {
            event_type: &change.event_type,
            incident_id: &change.incident_id,
            fields: &change.fields,
        }
    }
}

#[derive(Serialize)]
struct Conflicting<'a> {
    incident_id: &'a str,
    field: &'a str,
    line: u64,
    kept: &'a serde_json::Value,
    release: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Skipped<'a> {
    line: u64,
    column: Option<&'a str>,
    message: &'a str,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = args
        .key
        .as_deref()
        .map(|k| global.secret_key(k))
        .transpose()?;
    // A dry run reads, as `project` does: no lock, and a copy will do.
    let (ledger, mode) = match &key {
        Some(key) if !args.dry_run => (global.open()?, Mode::Append(key)),
        _ => (global.open_read()?, Mode::DryRun),
    };
    let options = ImportOptions {
        release: args.release.clone(),
        skip_invalid: args.skip_invalid,
        scope: args.scope.map(Scope::from),
        countries: args.country.clone(),
        from: args.from,
        to: args.to,
        allow_large_removal: args.allow_large_removal,
    };
    let bar = progress_bar();
    let mut on_progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let report = import::import(
        &ledger,
        mode,
        args.dataset.into(),
        &args.file,
        &options,
        &mut on_progress,
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report?;
    if let Some(behind) = &report.behind {
        note(&format!(
            "ledger: {}",
            crate::cli::hints::message(&anyhow::Error::new(behind.clone()))
        ));
    }
    for problem in &report.skipped {
        note(&format!(
            "ledger: skipped {}: {problem}",
            args.file.display()
        ));
    }
    for conflict in &report.conflicts {
        note(&format!(
            "ledger: kept {}'s {} as corrected in the ledger ({}), where release {} (line {}) has {}",
            conflict.incident_id,
            conflict.field,
            conflict.kept,
            report.release,
            conflict.line,
            conflict.release
        ));
    }
    let summary = summary(&args.file, &report, args.dry_run);
    write_one(out, args.format.format, &summary, |out| {
        write_text(out, &summary)
    })?;
    Ok(Outcome::Ok)
}

/// A progress bar on standard error when a person is watching it.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("importing {bar:40} {percent:>3}% {bytes}/{total_bytes}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn summary<'a>(file: &Path, report: &'a ImportReport, dry_run: bool) -> Summary<'a> {
    Summary {
        file: file.display().to_string(),
        release: &report.release,
        rows: report.rows,
        reported: report.reported,
        corrected: report.corrected,
        withdrawn: report.withdrawn,
        reinstated: report.reinstated,
        unchanged: report.unchanged,
        skipped: report
            .skipped
            .iter()
            .map(|p| Skipped {
                line: p.line,
                column: p.column.as_deref(),
                message: &p.message,
            })
            .collect(),
        conflicts: report
            .conflicts
            .iter()
            .map(|c| Conflicting {
                incident_id: &c.incident_id,
                field: c.field,
                line: c.line,
                kept: &c.kept,
                release: &c.release,
            })
            .collect(),
        first_seq: report.appended.map(|landed| landed.first_seq),
        last_seq: report.appended.map(|landed| landed.last.seq),
        head_hash: report.appended.map(|landed| hex::encode(landed.last.hash)),
        dry_run,
        would_stop: report.large_removal.map(|removal| {
            format!("without --allow-large-removal, this import would stop: it {removal}")
        }),
        planned: report.planned.iter().map(Planned::from).collect(),
        appended_line: report
            .appended
            .map(|landed| appended_line(landed.entries, landed.first_seq, &landed.last)),
    }
}

fn write_text(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} as release {}: {}, {} reported, {} corrected, {} withdrawn, {} reinstated, {} unchanged, {} skipped, {} kept as corrected",
        if s.dry_run {
            "dry run: would import"
        } else {
            "imported"
        },
        s.file,
        s.release,
        count(s.rows as u64, "row", "rows"),
        s.reported,
        s.corrected,
        s.withdrawn,
        s.reinstated,
        s.unchanged,
        s.skipped.len(),
        s.conflicts.len()
    )?;
    for change in &s.planned {
        let fields = if change.fields.is_empty() {
            String::new()
        } else {
            format!(" ({})", change.fields.join(", "))
        };
        writeln!(
            out,
            "  {} {}{fields}",
            change.event_type, change.incident_id
        )?;
    }
    if let Some(would_stop) = &s.would_stop {
        writeln!(out, "{would_stop}")?;
    }
    if s.dry_run {
        return writeln!(out, "nothing was written");
    }
    match &s.appended_line {
        Some(line) => writeln!(out, "{line}"),
        None => Ok(()),
    }
}
