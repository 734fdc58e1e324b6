//! `ledger backup`: one portable file of the ledger's canonical entries and head, taken as a
//! reader (no lock), for `ledger restore`.

use crate::cli::args::Global;
use crate::cli::Outcome;
use anyhow::{bail, Result};
use ledger::backup;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The backup file to write (replaced if it exists), or `-` for standard output (to pipe it
    /// elsewhere; a backup cut short there is refused by `ledger restore`).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: PathBuf,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    if args.out.as_os_str() == "-" {
        if std::io::stdout().is_terminal() {
            bail!("a backup is binary and is not written to a terminal; redirect standard output, or name a file with -o FILE");
        }
        let ledger = global.open_read()?;
        backup::write(&ledger, out, "standard output")?;
        return Ok(Outcome::Ok);
    }
    let ledger = global.open_read()?;
    let durable = backup::write_file(&ledger, &args.out)?;
    writeln!(
        out,
        "backed up {} entries to {}; head seq {} {}",
        durable.size(),
        args.out.display(),
        durable.head.seq,
        hex::encode(durable.head.hash)
    )?;
    Ok(Outcome::Ok)
}
