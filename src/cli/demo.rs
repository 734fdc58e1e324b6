//! `ledger demo`: build, verify and export a small Mali ledger from the bundled examples.

use crate::cli::output::count;
use crate::cli::verify::text_summary;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::demo::{self, DEMO_ORIGIN};
use ledger::export::{self, export_all, TableFormat};
use ledger::projection::{self, CacheDir, Refresh, Window};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Where to build the demo (a directory made by an earlier demo is replaced; any other
    /// non-empty directory is refused).
    #[arg(long, value_name = "DIR", default_value = "ledger-demo")]
    dir: PathBuf,
}

/// The views the demo prints after exporting them all.
const SHOWN: [&str; 2] = ["accord-status", "mandate-timeline"];

pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let (ledger, summary) = demo::build(&args.dir)?;
    writeln!(
        out,
        "Demo ledger {DEMO_ORIGIN} at {}",
        summary.ledger_dir.display()
    )?;
    for (name, role, path) in &summary.keys {
        writeln!(
            out,
            "  key {name:<20} {:<13} {}",
            role.name(),
            path.display()
        )?;
    }
    for (file, events) in &summary.batches {
        writeln!(
            out,
            "  appended {} from {file}",
            count(*events as u64, "event", "events")
        )?;
    }
    for p in &summary.problems {
        writeln!(out, "seq {}: {}", p.seq, p.reason)?;
    }
    writeln!(out, "{}", text_summary(&summary.report))?;
    let export_dir = summary.dir.join("export");
    let manifest = export_all(&ledger, &export_dir, None)?;
    let caches = CacheDir::of(&summary.ledger_dir);
    writeln!(
        out,
        "  exported {} as CSV to {}",
        count(manifest.files.len() as u64, "projection", "projections"),
        export_dir.display()
    )?;
    let shown: Vec<_> = SHOWN
        .iter()
        .filter_map(|&name| projection::by_name(name))
        .collect();
    let projected = projection::project(
        &ledger,
        Some(&caches),
        &shown,
        None,
        &Window::default(),
        Refresh::Incremental,
    )?;
    for table in projected.into_tables()? {
        writeln!(out, "\n$ ledger project {}", table.name)?;
        export::write_table(&table, TableFormat::Table, &mut *out)?;
    }
    writeln!(
        out,
        "\nTry: ledger --ledger {} project incidents",
        summary.ledger_dir.display()
    )?;
    Ok(if summary.report.intact() {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}
