//! `ledger verify`: the full audit, each problem as it is found, then a summary. Exit status 1
//! when anything is wrong.

use crate::cli::args::{verifier_key, Global};
use crate::cli::output::{count, Format};
use crate::cli::Outcome;
use anyhow::{Context, Result};
use ledger::note::policy::Policy;
use ledger::verify::{Problem, Report};
use ledger::witnessed::{self, Holds};
use serde::Serialize;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: text and ndjson print each problem as found (ndjson ends with the summary
    /// object); json prints one object with the summary and the first 10,000 problems.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also prove that the log extends this signed checkpoint (`ledger checkpoint`): nothing
    /// cut from its end, nothing before it changed.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// The log's verifier key for --checkpoint (default: the policy's key for the ledger's
    /// origin, else the ledger's admin keys).
    #[arg(long, value_name = "VKEY", requires = "checkpoint")]
    vkey: Option<String>,
    /// A C2SP tlog-policy file: --checkpoint must meet its witness quorum, and every entry's
    /// recorded_at must lie between the times the witnesses cosigned the checkpoints around it
    /// (the given one and those the ledger keeps).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// With --policy: how long after a checkpoint is signed its cosignatures may be made, in
    /// seconds; an entry recorded that long before a checkpoint that lacks it was cosigned is
    /// not reported as back-dated.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600,
        requires = "policy"
    )]
    witness_delay: u64,
}

/// Problems kept for `--format json`, which prints them only at the end.
const MAX_LISTED: usize = 10_000;

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    report: &'a Report,
    intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem_list: Option<&'a [Problem]>,
}

/// Where problems go as they are found: printed at once (text, ndjson) or kept for the end
/// (json, up to [`MAX_LISTED`]).
struct Listing<'o> {
    format: Format,
    out: &'o mut dyn Write,
    listed: Vec<Problem>,
}

impl Listing<'_> {
    fn emit(&mut self, problem: &Problem) -> io::Result<()> {
        match self.format {
            Format::Json => {
                if self.listed.len() < MAX_LISTED {
                    self.listed.push(problem.clone());
                }
                Ok(())
            }
            Format::Text => writeln!(self.out, "seq {}: {}", problem.seq, problem.reason),
            Format::Ndjson => serde_json::to_writer(&mut *self.out, problem)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(self.out)),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let mut listing = Listing {
        format: args.format,
        out,
        listed: Vec::new(),
    };
    // A failed write (a reader that went away) stops the audit; the failure is reported then.
    let mut write_error: Option<io::Error> = None;
    let mut report = ledger.verify(|problem| match listing.emit(problem) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            write_error.get_or_insert(e);
            ControlFlow::Break(())
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let checkpoint = args.checkpoint.as_deref().map(read).transpose()?;
    let policy = match &args.policy {
        Some(path) => Some(
            Policy::parse(&read(path)?)
                .with_context(|| format!("{} is not a policy", path.display()))?,
        ),
        None => None,
    };
    if checkpoint.is_some() || policy.is_some() {
        let holds = Holds {
            checkpoint: checkpoint.as_deref(),
            vkey: args.vkey.as_deref().map(verifier_key).transpose()?,
            policy: policy.as_ref(),
            witness_delay: Duration::from_secs(args.witness_delay),
        };
        let mut write_error: Option<io::Error> = None;
        report.problems += witnessed::check(&ledger, &holds, &mut |problem| {
            if let Err(e) = listing.emit(&problem) {
                write_error.get_or_insert(e);
            }
        })?;
        if let Some(e) = write_error {
            return Err(e.into());
        }
    }
    let Listing { out, listed, .. } = listing;
    let summary = Summary {
        report: &report,
        intact: report.intact(),
        problem_list: (args.format == Format::Json).then_some(listed.as_slice()),
    };
    match args.format {
        Format::Text => writeln!(out, "{}", text_summary(&report))?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &summary)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut *out, &summary)?;
            writeln!(out)?;
        }
    }
    Ok(if report.intact() {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

/// "verified ORIGIN: intact. 9 entries, ..." or "verify ORIGIN: 2 problems found. ...".
pub fn text_summary(report: &Report) -> String {
    let origin = report.origin.as_deref().unwrap_or("(no origin)");
    let head = match (report.last_seq, report.last_hash) {
        (Some(seq), Some(hash)) => format!("head seq {seq} {}", hex::encode(hash)),
        _ => "no entries".to_string(),
    };
    let counts = format!(
        "{}, {}, {}, {}; {head}",
        count(report.entries, "entry", "entries"),
        count(report.signatures, "signature", "signatures"),
        count(report.keys as u64, "key", "keys"),
        count(report.incidents as u64, "incident", "incidents"),
    );
    if report.intact() {
        format!("verified {origin}: intact. {counts}")
    } else {
        format!(
            "verify {origin}: {} found. {counts}",
            count(report.problems, "problem", "problems")
        )
    }
}
