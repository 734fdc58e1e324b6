//! `ledger checkpoint`: sign a checkpoint of the log's tree as it stands with the operator's
//! (an admin's) key, kept in the ledger and printed; or add witnesses' cosignatures to one.

use crate::cli::args::Global;
use crate::cli::output::note;
use crate::cli::output::write_file;
use crate::cli::Outcome;
use anyhow::{bail, Context, Result};
use ledger::checkpoints;
use ledger::export::outside_ledger;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["key", "add"]))]
pub struct Args {
    /// Sign with this key (an active admin key of the ledger; its verifier key, named after the
    /// ledger's origin, is what auditors hold: `ledger key vkey`). When the last checkpoint
    /// already covers the whole log, it is printed again and nothing is signed.
    #[arg(long, value_name = "OPERATOR.key")]
    key: Option<PathBuf>,
    /// Add the cosignature lines of FILE, a checkpoint this ledger signed with witnesses' lines
    /// appended (`ledger witness cosign`), to the copy the ledger keeps.
    #[arg(long, value_name = "FILE")]
    add: Option<PathBuf>,
    /// Write the checkpoint to FILE (replaced if it exists) instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    if let Some(file) = &args.out {
        outside_ledger(file, &global.ledger)?;
    }
    let ledger = global.open()?;
    if let Some(cosigned) = &args.add {
        let bytes = std::fs::read(cosigned)
            .with_context(|| format!("cannot read {}", cosigned.display()))?;
        let (size, added) = checkpoints::add_cosignatures(&ledger, &bytes)?;
        writeln!(
            out,
            "added {added} cosignature line(s) to the checkpoint of {size} entries"
        )?;
        return Ok(Outcome::Ok);
    }
    let Some(key) = &args.key else {
        bail!("pass --key OPERATOR.key to sign a checkpoint, or --add FILE to add cosignatures");
    };
    let key = global.secret_key(key)?;
    let signed = checkpoints::sign(&ledger, &key)?;
    if !signed.new {
        note(&format!(
            "ledger: the last checkpoint, of {} entries, covers the whole log; nothing was signed",
            signed.size
        ));
    }
    match &args.out {
        None => out.write_all(&signed.note)?,
        Some(file) => {
            write_file(file, |w| w.write_all(&signed.note))?;
            writeln!(
                out,
                "checkpoint of {} entries written to {}",
                signed.size,
                file.display()
            )?;
        }
    }
    Ok(Outcome::Ok)
}
