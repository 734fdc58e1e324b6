//! `ledger project`: one projection as a table, CSV, JSON or NDJSON; or the list of them.

use crate::cli::args::{parse_date, Global};
use crate::cli::output::{note, to_path_or_stdout, ForPerson};
use crate::cli::Outcome;
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::ValueEnum;
use ledger::export::{self, TableFormat};
use ledger::import::{self, Dataset};
use ledger::log::LogFiles;
use ledger::projection::{self, AsOf, Cell, ProjectionError, Refresh, Table, Window};
use ledger::Ledger;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The projection's name (see --list).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the projections and their columns.
    #[arg(long, conflicts_with = "name")]
    list: bool,
    #[command(flatten)]
    cut: Cut,
    /// Fold the view from the log's first entry instead of continuing from the state stored
    /// beside the log, and store it anew: what the signed entries say, whatever the ledger's
    /// directory holds beside them (`export` always does).
    #[arg(long, visible_alias = "verified")]
    rebuild: bool,
    /// Only events dated on or after this date (event time: event, effective or adoption date).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// Only events dated on or before this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    to: Option<NaiveDate>,
    /// Output format: aligned columns under a header, CSV, one JSON array, or one JSON object
    /// per line.
    #[arg(long, value_enum, default_value_t = TableFormatArg::Table)]
    format: TableFormatArg,
    /// Write to FILE instead of standard output (- is standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Which ledger state a view is built from.
#[derive(clap::Args)]
pub struct Cut {
    /// Knowledge time: only entries recorded up to this seq, date (the whole UTC day) or
    /// RFC 3339 date-time, e.g. 2023-06-01; or as an imported release left the ledger, e.g.
    /// ucdp:23.1 or acled:2024-06.
    #[arg(long, value_name = "SEQ|DATE|DATETIME|DATASET:RELEASE", value_parser = parse_as_of)]
    as_of: Option<AsOfArg>,
}

/// `--as-of`: a cut of the log, or a release whose import ends the cut.
#[derive(Clone)]
enum AsOfArg {
    Cut(AsOf),
    Release(Dataset, String),
}

fn parse_as_of(text: &str) -> Result<AsOfArg, String> {
    if let Some((prefix, release)) = text.split_once(':') {
        if let Some(dataset) = Dataset::of_prefix(prefix) {
            return Ok(AsOfArg::Release(dataset, release.to_string()));
        }
    }
    text.parse().map(AsOfArg::Cut).map_err(|e| format!("{e}"))
}

impl Cut {
    /// The cut of `ledger`'s log this asks for; a release is the last entry its import appended.
    pub fn as_of<F: LogFiles>(&self, ledger: &Ledger<F>) -> Result<Option<AsOf>> {
        match &self.as_of {
            None => Ok(None),
            Some(AsOfArg::Cut(as_of)) => Ok(Some(*as_of)),
            Some(AsOfArg::Release(dataset, release)) => {
                match import::release_last_seq(ledger, *dataset, release)? {
                    Some(seq) => Ok(Some(AsOf::Seq(seq))),
                    None => bail!(
                        "no entry of the ledger comes from release {release} of {}: it was never imported, or its import changed nothing (then the release before it is the same view); `ledger project incident-history` lists the releases' changes",
                        dataset.name()
                    ),
                }
            }
        }
    }

    /// Says on standard error why a view is empty when the cut is an instant before anything was
    /// recorded: an empty answer should explain itself.
    pub fn explain_empty<F: LogFiles>(&self, ledger: &Ledger<F>) -> Result<()> {
        if let Some(AsOfArg::Cut(as_of)) = self.as_of {
            if let Some(nothing) = as_of.nothing_recorded(ledger)? {
                note(&format!("ledger: {nothing}; pass a later --as-of"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormatArg {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl From<TableFormatArg> for TableFormat {
    fn from(arg: TableFormatArg) -> TableFormat {
        match arg {
            TableFormatArg::Table => TableFormat::Table,
            TableFormatArg::Csv => TableFormat::Csv,
            TableFormatArg::Json => TableFormat::Json,
            TableFormatArg::Ndjson => TableFormat::Ndjson,
        }
    }
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let format = TableFormat::from(args.format);
    let Some(name) = &args.name else {
        to_path_or_stdout(args.output.as_deref(), out, |out| {
            export::write_table(&views(), format, out)
        })?;
        return Ok(Outcome::Ok);
    };
    let view =
        projection::by_name(name).ok_or_else(|| ProjectionError::Unknown { name: name.clone() })?;
    let window = Window {
        from: args.from,
        to: args.to,
    };
    if let Some(path) = &args.output {
        export::outside_ledger(path, &global.ledger)?;
    }
    let ledger = global.open_read()?;
    let refresh = if args.rebuild {
        Refresh::Rebuild
    } else {
        Refresh::Incremental
    };
    let projected = projection::project(
        &ledger,
        Some(&global.caches()),
        &[view],
        args.cut.as_of(&ledger)?,
        &window,
        refresh,
    )?;
    if projected.covered.is_none() {
        args.cut.explain_empty(&ledger)?;
    }
    // One view asked for, one output.
    if let Some(output) = projected.outputs.first() {
        output.with_rows(|rows| {
            to_path_or_stdout(args.output.as_deref(), out, |out| match format {
                TableFormat::Table => {
                    let mut person = ForPerson::new(out);
                    export::write_rows(output.columns(), rows, format, &mut person)?;
                    person.finish()
                }
                _ => export::write_rows(output.columns(), rows, format, out).map(drop),
            })
        })??;
    }
    Ok(Outcome::Ok)
}

/// The projections, what each shows and its columns.
fn views() -> Table {
    Table {
        name: "projections",
        columns: &["name", "about", "columns"],
        rows: projection::REGISTRY
            .iter()
            .map(|view| {
                vec![
                    Cell::text(view.name()),
                    Cell::text(view.about()),
                    Cell::text(view.columns().join(", ")),
                ]
            })
            .collect(),
    }
}
