//! `ledger log`: entries in seq order, one line or object each.

use crate::cli::args::Global;
use crate::cli::entry::{key_names, EntryView};
use crate::cli::output::{FormatArg, Records};
use crate::cli::Outcome;
use anyhow::Result;
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// Start at this seq.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    from_seq: u64,
    /// Print at most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    #[command(flatten)]
    format: FormatArg,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let names = key_names(&ledger.keys()?);
    let limit = args
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut entries = ledger.entries(args.from_seq).take(limit).peekable();
    // A log that cannot be read from its first entry gets the error alone, without a header.
    if let Some(Err(_)) = entries.peek() {
        if let Some(Err(e)) = entries.next() {
            return Err(e.into());
        }
    }
    let mut records = Records::start(out, args.format.format, &EntryView::line_header())?;
    for item in entries {
        let (entry, hash) = item?;
        let view = EntryView::new(&entry, &hash, &names);
        records.push(&view, || view.line())?;
    }
    records.finish()?;
    Ok(Outcome::Ok)
}
