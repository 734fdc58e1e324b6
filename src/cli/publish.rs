//! `ledger publish`: the log, up to the last checkpoint the ledger keeps, as C2SP tlog-tiles in
//! a directory for any static web server, object store or removable disk.

use crate::cli::args::Global;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::publish::publish;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The directory to publish into (created if need be); publishing again adds what is new.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let published = publish(&ledger, &args.dir)?;
    writeln!(
        out,
        "published {} entries to {} ({} before): {} hash tiles and {} entry bundles written",
        published.size,
        args.dir.display(),
        published.before,
        published.tiles,
        published.bundles
    )?;
    Ok(Outcome::Ok)
}
