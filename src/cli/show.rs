//! `ledger show`: one entry in full.

use crate::cli::args::Global;
use crate::cli::entry::{key_names, EntryView};
use crate::cli::output::{write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::{bail, Result};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// The entry's seq (0 is the genesis).
    seq: u64,
    #[command(flatten)]
    format: FormatArg,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let names = key_names(&ledger.keys()?);
    let Some((entry, hash)) = ledger.entry(args.seq)? else {
        bail!(
            "there is no entry at seq {}; `ledger log` lists the entries",
            args.seq
        );
    };
    let view = EntryView::new(&entry, &hash, &names);
    write_one(out, args.format.format, &view, |out| view.write_text(out))?;
    Ok(Outcome::Ok)
}
