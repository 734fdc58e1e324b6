//! `ledger append`: one atomic, durable batch of events from a file or standard input; and the
//! summary every appending command prints.

use crate::cli::args::Global;
use crate::cli::output::{count, note, Format};
use crate::cli::Outcome;
use anyhow::{Context, Result};
use ledger::input::{read_events, InputError};
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
    let key = global.secret_key(&args.key)?;
    let input = open_input(args.input.as_deref())?;
    let mut landing = Landing::new(&args.output);
    let appended = global
        .open()?
        .append_stream(&key, read_events(input.reader), |a| landing.push(a));
    match appended {
        Err(LedgerError::Input(InputError::Read { source })) => {
            return Err(anyhow::Error::new(source).context(input.unreadable));
        }
        Err(LedgerError::Input(e)) => {
            let name = input.name;
            return Err(anyhow::Error::new(e).context(format!("cannot read events from {name}")));
        }
        Err(refused @ LedgerError::Rejected(_)) => {
            let name = input.name;
            return Err(anyhow::Error::new(refused).context(format!("{name} was refused")));
        }
        // The batch is in; say so, and what lags.
        Err(behind @ LedgerError::Behind { .. }) => {
            note(&format!(
                "ledger: {}",
                crate::cli::hints::message(&anyhow::Error::new(behind))
            ));
        }
        appended => appended?,
    }
    print_landing(out, &landing, &args.output)?;
    Ok(Outcome::Ok)
}

/// The input file or standard input, opened to be read as the batch is appended.
struct Input {
    name: String,
    /// What to say when reading it fails.
    unreadable: String,
    reader: Box<dyn Read>,
}

fn open_input(input: Option<&Path>) -> Result<Input> {
    match input {
        Some(path) if path != Path::new("-") => {
            let unreadable = format!("cannot read input file {}", path.display());
            let (file, _) = ledger::regular::open(path).with_context(|| unreadable.clone())?;
            Ok(Input {
                name: path.display().to_string(),
                unreadable,
                reader: Box::new(file),
            })
        }
        _ => Ok(Input {
            name: "standard input".to_string(),
            unreadable: "cannot read standard input".to_string(),
            reader: Box::new(std::io::stdin().lock()),
        }),
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
struct Summary<'a> {
    entries: usize,
    first_seq: u64,
    last_seq: u64,
    head_hash: String,
    appended: Each<'a>,
}

/// Each entry of a batch, serialized as it is written rather than gathered first.
struct Each<'a>(&'a [Appended]);

impl Serialize for Each<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Landed::from))
    }
}

/// Where the entries of a batch landed, kept as far as the output needs them: every entry for
/// NDJSON, JSON and `--verbose`; otherwise only the count and the ends, so that a batch of any
/// size is summed up in constant memory.
pub struct Landing {
    entries: usize,
    first_seq: u64,
    last: Option<Appended>,
    each: Option<Vec<Appended>>,
}

impl Landing {
    pub fn new(args: &AppendedArgs) -> Landing {
        let each = args.format != Format::Text || args.verbose;
        Landing {
            entries: 0,
            first_seq: 0,
            last: None,
            each: each.then(Vec::new),
        }
    }

    pub fn push(&mut self, appended: Appended) {
        if self.last.is_none() {
            self.first_seq = appended.seq;
        }
        self.entries += 1;
        self.last = Some(appended);
        if let Some(each) = &mut self.each {
            each.push(appended);
        }
    }
}

/// Where a batch landed: a summary (how many entries, first and last seq, the head's hash), with
/// each entry's line under `--verbose`; or one object per entry in NDJSON.
pub fn print_appended(
    out: &mut dyn Write,
    appended: &[Appended],
    args: &AppendedArgs,
) -> Result<()> {
    let mut landing = Landing::new(args);
    for &a in appended {
        landing.push(a);
    }
    print_landing(out, &landing, args)
}

/// [`print_appended`] for a batch whose entries were gathered as they landed.
pub fn print_landing(out: &mut dyn Write, landing: &Landing, args: &AppendedArgs) -> Result<()> {
    let Some(last) = &landing.last else {
        return Ok(());
    };
    let each = landing.each.as_deref().unwrap_or_default();
    match args.format {
        Format::Ndjson => {
            for a in each {
                serde_json::to_writer(&mut *out, &Landed::from(a))?;
                writeln!(out)?;
            }
        }
        Format::Json => {
            let summary = Summary {
                entries: landing.entries,
                first_seq: landing.first_seq,
                last_seq: last.seq,
                head_hash: hex::encode(last.hash),
                appended: Each(each),
            };
            serde_json::to_writer_pretty(&mut *out, &summary)?;
            writeln!(out)?;
        }
        Format::Text => {
            if args.verbose {
                for a in each {
                    writeln!(out, "seq {} {}", a.seq, hex::encode(a.hash))?;
                }
            }
            writeln!(
                out,
                "{}",
                appended_line(landing.entries, landing.first_seq, last)
            )?;
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
