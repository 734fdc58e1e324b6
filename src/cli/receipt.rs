//! `ledger receipt`: one entry's offline proof of logging (a C2SP tlog-proof with the entry's
//! bytes and a checkpoint the ledger keeps, with its cosignatures), for `ledger audit receipt`.

use crate::cli::args::Global;
use crate::cli::output::write_file;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::audit::make_receipt;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The entry's seq.
    seq: u64,
    /// Write the receipt to FILE (replaced if it exists) instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let receipt = make_receipt(&ledger, args.seq)?;
    let text = receipt.to_text();
    match &args.out {
        None => out.write_all(text.as_bytes())?,
        Some(file) => {
            write_file(file, |w| w.write_all(text.as_bytes()))?;
            writeln!(
                out,
                "receipt of seq {} written to {}",
                args.seq,
                file.display()
            )?;
        }
    }
    Ok(Outcome::Ok)
}
