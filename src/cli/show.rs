//! `ledger show`: one entry in full, or its canonical bytes exactly as the log holds them (the
//! leaf of the log's Merkle tree, for an auditor who checks its inclusion proof).

use crate::cli::args::Global;
use crate::cli::entry::{key_names, EntryView, WindowView};
use crate::cli::output::{write_file, write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::{bail, Context, Result};
use ledger::note::policy::Policy;
use ledger::time::Timestamp;
use ledger::witnessed::{self, Holds};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The entry's seq (0 is the genesis).
    seq: u64,
    #[command(flatten)]
    format: FormatArg,
    /// Write the entry's canonical bytes, exactly, to the file named by -o (`-` for standard
    /// output, never a terminal) instead of showing it.
    #[arg(long, requires = "out")]
    raw: bool,
    /// With --raw: the file to write (replaced if it exists).
    #[arg(short = 'o', long = "out", value_name = "FILE", requires = "raw")]
    out: Option<PathBuf>,
    /// A C2SP tlog-policy file: also show when its witnesses place the entry's recording
    /// (between the times they cosigned the checkpoints the ledger keeps around it).
    #[arg(long, value_name = "FILE", conflicts_with = "raw")]
    policy: Option<PathBuf>,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    if let (true, Some(file)) = (args.raw, &args.out) {
        let Some(bytes) = ledger.entry_bytes(args.seq)? else {
            bail!(
                "there is no entry at seq {}; `ledger log` lists the entries",
                args.seq
            );
        };
        if file.as_os_str() == "-" {
            if std::io::stdout().is_terminal() {
                bail!("an entry's bytes are binary and are not written to a terminal; redirect standard output, or name a file with -o FILE");
            }
            out.write_all(&bytes)?;
        } else {
            write_file(file, |w| w.write_all(&bytes))?;
        }
        return Ok(Outcome::Ok);
    }
    let names = key_names(&ledger.keys()?);
    let Some((entry, hash)) = ledger.entry(args.seq)? else {
        bail!(
            "there is no entry at seq {}; `ledger log` lists the entries",
            args.seq
        );
    };
    let mut view = EntryView::new(&entry, &hash, &names);
    if let Some(path) = &args.policy {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let policy =
            Policy::parse(&bytes).with_context(|| format!("{} is not a policy", path.display()))?;
        let holds = Holds {
            checkpoint: None,
            vkey: None,
            policy: Some(&policy),
            witness_delay: Duration::ZERO,
        };
        let window = witnessed::window_of(&ledger, &holds, args.seq)?;
        view.witnessed = Some(WindowView {
            after: window.after.map(Timestamp::to_rfc3339),
            before: window.before.map(Timestamp::to_rfc3339),
        });
    }
    write_one(out, args.format.format, &view, |out| view.write_text(out))?;
    Ok(Outcome::Ok)
}
