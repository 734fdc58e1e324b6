//! `ledger verify`: the full audit, each problem as it is found, then a summary. Exit status 1
//! when anything is wrong.

use crate::cli::args::Global;
use crate::cli::output::{count, Format};
use crate::cli::Outcome;
use anyhow::Result;
use ledger::verify::{Problem, Report};
use serde::Serialize;
use std::io::{self, Write};
use std::ops::ControlFlow;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: text and ndjson print each problem as found (ndjson ends with the summary
    /// object); json prints one object with the summary and the first 10,000 problems.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
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

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let mut listed = Vec::new();
    // A failed write (a reader that went away) stops the audit; the failure is reported then.
    let mut write_error: Option<io::Error> = None;
    let report = ledger.verify(|problem| {
        let written = match args.format {
            Format::Json => {
                if listed.len() < MAX_LISTED {
                    listed.push(problem.clone());
                }
                Ok(())
            }
            Format::Text => writeln!(out, "seq {}: {}", problem.seq, problem.reason),
            Format::Ndjson => serde_json::to_writer(&mut *out, problem)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out)),
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                write_error.get_or_insert(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
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
