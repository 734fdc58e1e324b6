//! `ledger import`: a UCDP GED or ACLED release, diffed against the ledger and appended as one
//! batch.

use crate::cli::append::appended_line;
use crate::cli::args::Global;
use crate::cli::output::{count, note, write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::Result;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use ledger::import::{self, Dataset, ImportOptions, ImportReport};
use ledger::keys::SecretKey;
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
    /// The secret key file that signs the batch (an enrolled investigator's key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The release's label (default: the file's name without its extension).
    #[arg(long, value_name = "LABEL")]
    release: Option<String>,
    /// Skip malformed rows (each is reported) instead of stopping the import.
    #[arg(long)]
    skip_invalid: bool,
    #[command(flatten)]
    format: FormatArg,
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
    retracted: usize,
    unchanged: usize,
    skipped: Vec<Skipped<'a>>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    head_hash: Option<String>,
    /// The text line that ends the summary; the JSON has the fields above.
    #[serde(skip)]
    appended_line: Option<String>,
}

#[derive(Serialize)]
struct Skipped<'a> {
    line: u64,
    column: Option<&'a str>,
    message: &'a str,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = SecretKey::load(&args.key)?;
    let ledger = global.open()?;
    let options = ImportOptions {
        release: args.release.clone(),
        skip_invalid: args.skip_invalid,
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
        &key,
        args.dataset.into(),
        &args.file,
        &options,
        &mut on_progress,
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report?;
    for problem in &report.skipped {
        note(&format!(
            "ledger: skipped {}: {problem}",
            args.file.display()
        ));
    }
    let summary = summary(&args.file, &report);
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

fn summary<'a>(file: &Path, report: &'a ImportReport) -> Summary<'a> {
    Summary {
        file: file.display().to_string(),
        release: &report.release,
        rows: report.rows,
        reported: report.reported,
        corrected: report.corrected,
        retracted: report.retracted,
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
        first_seq: report.appended.map(|landed| landed.first_seq),
        last_seq: report.appended.map(|landed| landed.last.seq),
        head_hash: report.appended.map(|landed| hex::encode(landed.last.hash)),
        appended_line: report
            .appended
            .map(|landed| appended_line(landed.entries, landed.first_seq, &landed.last)),
    }
}

fn write_text(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "imported {} as release {}: {}, {} reported, {} corrected, {} retracted, {} unchanged, {} skipped",
        s.file,
        s.release,
        count(s.rows as u64, "row", "rows"),
        s.reported,
        s.corrected,
        s.retracted,
        s.unchanged,
        s.skipped.len()
    )?;
    match &s.appended_line {
        Some(line) => writeln!(out, "{line}"),
        None => Ok(()),
    }
}
