//! `ledger reindex`: rebuild the derived state from the log, for when a command reports it
//! damaged. The log itself is never changed.

use crate::cli::args::Global;
use crate::cli::output::count;
use crate::cli::Outcome;
use anyhow::Result;
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let rebuilt = global.open()?.reindex()?;
    writeln!(
        out,
        "rebuilt the derived state from {}: {}, {}",
        count(rebuilt.entries, "entry", "entries"),
        count(rebuilt.keys as u64, "key", "keys"),
        count(rebuilt.incidents as u64, "incident", "incidents"),
    )?;
    Ok(Outcome::Ok)
}
