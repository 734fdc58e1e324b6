//! `ledger restore`: a new ledger in --ledger DIR from a backup, every entry audited on its way
//! in. Exit status 1 when the backup is cut short, altered or from a tampered ledger.

use crate::cli::args::Global;
use crate::cli::verify::text_summary;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::backup::{self, BackupError};
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The backup file (made by `ledger backup`), or `-` for standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let (input, name): (Box<dyn Read>, String) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), "standard input".into())
    } else {
        let name = args.file.display().to_string();
        let file = std::fs::File::open(&args.file).map_err(|source| BackupError::Io {
            path: name.clone(),
            source,
        })?;
        (Box::new(file), name)
    };
    let restored = backup::restore(
        BufReader::with_capacity(1 << 20, input),
        &name,
        &global.ledger,
    )?;
    writeln!(
        out,
        "restored {} into {}; {}",
        name,
        global.ledger.display(),
        text_summary(&restored.report)
    )?;
    Ok(Outcome::Ok)
}
