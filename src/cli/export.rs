//! `ledger export`: every projection as CSV into a directory, with its manifest.

use crate::cli::args::Global;
use crate::cli::output::{write_one, write_table, Format};
use crate::cli::project::Cut;
use crate::cli::Outcome;
use anyhow::{bail, Result};
use ledger::export::{export_all, Manifest};
use ledger::projection::{Cell, Table};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The directory to write into: a new or empty one, or one an earlier export wrote, which
    /// the new export replaces whole, at once.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    cut: Cut,
    /// Accepted for scripts written when exports could continue from stored state: an export
    /// always folds every view from the log.
    #[arg(long, hide = true)]
    rebuild: bool,
    /// Output format: text for people; json or ndjson print the export's manifest (as it is
    /// written to manifest.json) as one document or on one line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    if args.dir.as_os_str() == "-" {
        bail!("an export is a directory of files, so --dir cannot be `-`; `ledger project NAME -o -` prints one view");
    }
    let ledger = global.open_read()?;
    let manifest = export_all(&ledger, &args.dir, args.cut.as_of(&ledger)?)?;
    if manifest.seq.is_none() {
        args.cut.explain_empty(&ledger)?;
    }
    write_one(out, args.format, &manifest, |out| {
        print_manifest(out, &manifest, &args.dir)
    })?;
    Ok(Outcome::Ok)
}

/// What an export covers, then its files under a header.
fn print_manifest(out: &mut dyn Write, manifest: &Manifest, dir: &Path) -> std::io::Result<()> {
    match manifest.seq {
        Some(seq) => writeln!(
            out,
            "exported the ledger up to seq {seq} to {}:",
            dir.display()
        )?,
        None => writeln!(
            out,
            "exported an empty view (nothing recorded by then) to {}:",
            dir.display()
        )?,
    }
    let files = Table {
        name: "files",
        columns: &["file", "rows", "blake3"],
        rows: manifest
            .files
            .iter()
            .map(|f| {
                vec![
                    Cell::text(f.name.as_str()),
                    Cell::count(f.rows),
                    Cell::text(f.blake3.as_str()),
                ]
            })
            .collect(),
    };
    write_table(out, Format::Text, &files)
}
