//! `ledger append`: one atomic, durable batch of events from a file or standard input; and the
//! summary every appending command prints.

use crate::cli::args::Global;
use crate::cli::output::{count, Format};
use crate::cli::Outcome;
use anyhow::{Context, Result};
use ledger::input::parse_events;
use ledger::keys::SecretKey;
use ledger::ledger::{Appended, LedgerError};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The secret key file that signs the batch (an enrolled investigator's key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Input file (one JSON object, or NDJSON), or - for standard input (the default).
    input: Option<PathBuf>,
    #[command(flatten)]
    output: AppendedArgs,
}

/// How an appending command reports where its entries landed.
#[derive(clap::Args)]
pub struct AppendedArgs {
    /// Output format: text and json summarize the batch; ndjson prints one {"seq","hash"}
    /// object per entry.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print each entry's seq and hash (text format).
    #[arg(long, short = 'v')]
    verbose: bool,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = SecretKey::load(&args.key)?;
    let (name, bytes) = read_input(args.input.as_deref())?;
    let events = parse_events(&bytes).with_context(|| format!("cannot read events from {name}"))?;
    let appended = match global.open()?.append(&key, &events) {
        Err(refused @ LedgerError::Rejected(_)) => {
            return Err(anyhow::Error::new(refused).context(format!("{name} was refused")));
        }
        appended => appended?,
    };
    print_appended(out, &appended, &args.output)?;
    Ok(Outcome::Ok)
}

fn read_input(input: Option<&Path>) -> Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    match input {
        Some(path) if path != Path::new("-") => {
            bytes = std::fs::read(path)
                .with_context(|| format!("cannot read input file {}", path.display()))?;
            Ok((path.display().to_string(), bytes))
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            Ok(("standard input".to_string(), bytes))
        }
    }
}

#[derive(Serialize)]
struct Landed {
    seq: u64,
    hash: String,
}

impl From<&Appended> for Landed {
    fn from(a: &Appended) -> Landed {
        Landed {
            seq: a.seq,
            hash: hex::encode(a.hash),
        }
    }
}

#[derive(Serialize)]
struct Summary {
    entries: usize,
    first_seq: u64,
    last_seq: u64,
    head_hash: String,
    appended: Vec<Landed>,
}

/// Where a batch landed: a summary (how many entries, first and last seq, the head's hash), with
/// each entry's line under `--verbose`; or one object per entry in NDJSON.
pub fn print_appended(
    out: &mut dyn Write,
    appended: &[Appended],
    args: &AppendedArgs,
) -> Result<()> {
    let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
        return Ok(());
    };
    match args.format {
        Format::Ndjson => {
            for a in appended {
                serde_json::to_writer(&mut *out, &Landed::from(a))?;
                writeln!(out)?;
            }
        }
        Format::Json => {
            let summary = Summary {
                entries: appended.len(),
                first_seq: first.seq,
                last_seq: last.seq,
                head_hash: hex::encode(last.hash),
                appended: appended.iter().map(Landed::from).collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &summary)?;
            writeln!(out)?;
        }
        Format::Text => {
            if args.verbose {
                for a in appended {
                    writeln!(out, "seq {} {}", a.seq, hex::encode(a.hash))?;
                }
            }
            writeln!(out, "{}", appended_line(appended.len(), first.seq, last))?;
        }
    }
    Ok(())
}

/// "appended 3 entries (seqs 2 to 4); head hash …", the line every appending command ends with.
pub fn appended_line(entries: usize, first_seq: u64, last: &Appended) -> String {
    let seqs = if first_seq == last.seq {
        format!("seq {first_seq}")
    } else {
        format!("seqs {first_seq} to {}", last.seq)
    };
    format!(
        "appended {} ({seqs}); head hash {}",
        count(entries as u64, "entry", "entries"),
        hex::encode(last.hash)
    )
}
