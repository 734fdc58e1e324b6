//! `ledger upgrade`: moves a ledger made by an older release (entries in sled) to the log files,
//! verifying it before and after. Exit status 1 when the old ledger does not verify.

use crate::cli::args::Global;
use crate::cli::verify::text_summary;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::legacy::{self, Upgraded};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    match legacy::upgrade(&global.ledger, global.wait)? {
        Upgraded::AlreadyCurrent => writeln!(
            out,
            "the ledger at {} is already in the current layout; nothing to do",
            global.ledger.display()
        )?,
        Upgraded::Moved(report) => writeln!(
            out,
            "upgraded the ledger at {} to the current layout; {}",
            global.ledger.display(),
            text_summary(&report)
        )?,
    }
    Ok(Outcome::Ok)
}
