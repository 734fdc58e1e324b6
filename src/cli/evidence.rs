//! `ledger evidence`: check files against the evidence anchored in the ledger, and record an
//! event in an evidence file's chain of custody.

use crate::cli::append::{print_appended, AppendedArgs};
use crate::cli::args::Global;
use crate::cli::output::{write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::{bail, Context, Result};
use ledger::evidence::{anchorings_of, digest_file, Anchoring};
use ledger::payload::{CustodyAction, EvidenceCustody, Payload};
use ledger::projection::{self, ProjectionError, Refresh, Window};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute each file's SHA-256 and BLAKE3 and say which anchored evidence it matches
    /// (exit 1 when any file matches none).
    Check(CheckArgs),
    /// Record that an anchored evidence file was transferred, copied, analysed or disposed of.
    Custody(CustodyArgs),
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(clap::Args)]
pub struct CustodyArgs {
    /// The secret key file that signs the event (an enrolled investigator's key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The evidence file itself, whose SHA-256 names it ...
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "sha256",
        conflicts_with = "sha256"
    )]
    file: Option<PathBuf>,
    /// ... or its SHA-256 as anchored, when the file is not at hand (64 hex digits).
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// What happened to the file.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(CustodyAction::ALL.map(CustodyAction::name)))]
    action: String,
    /// Who did it: a person or organisation.
    #[arg(long, value_name = "WHO")]
    by: String,
    /// When it happened (a date or an RFC 3339 date-time); now when not given.
    #[arg(long, value_name = "WHEN")]
    at: Option<String>,
    /// Who received the file or the copy.
    #[arg(long, value_name = "WHO")]
    to: Option<String>,
    /// Where the file or the copy is kept now.
    #[arg(long, value_name = "TEXT")]
    location: Option<String>,
    /// Anything else the chain should record (the analysis made, why it was disposed of).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    #[command(flatten)]
    output: AppendedArgs,
}

/// One checked file, as `--format json` prints it.
#[derive(Serialize)]
struct Checked {
    file: String,
    sha256: String,
    blake3: String,
    bytes: u64,
    matches: Vec<Anchoring>,
}

pub fn run(global: &Global, command: &Command, out: &mut dyn Write) -> Result<Outcome> {
    match command {
        Command::Check(args) => check(global, args, out),
        Command::Custody(args) => custody(global, args, out),
    }
}

fn check(global: &Global, args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let evidence = projection::by_name("evidence").ok_or_else(|| ProjectionError::Unknown {
        name: "evidence".into(),
    })?;
    let projected = projection::project(
        &ledger,
        Some(&global.caches()),
        &[evidence],
        None,
        &Window::default(),
        Refresh::Incremental,
    )?;
    let table = projected.into_tables()?.remove(0);
    let mut checked = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let digest = digest_file(file)
            .with_context(|| format!("cannot read {} to hash it", file.display()))?;
        checked.push(Checked {
            file: file.display().to_string(),
            matches: anchorings_of(&table, &digest),
            sha256: digest.sha256,
            blake3: digest.blake3,
            bytes: digest.bytes,
        });
    }
    write_one(out, args.format.format, &checked, |out| {
        for file in &checked {
            if file.matches.is_empty() {
                writeln!(
                    out,
                    "{}: matches no anchored evidence (SHA-256 {})",
                    file.file, file.sha256
                )?;
            }
            for m in &file.matches {
                let seq = m.anchored_seq.map_or_else(String::new, |s| s.to_string());
                writeln!(
                    out,
                    "{}: matches {} anchored to incident {} at seq {seq} by {} ({})",
                    file.file, m.filename, m.incident_id, m.anchored_by, m.anchored_at
                )?;
            }
        }
        Ok(())
    })?;
    Ok(if checked.iter().all(|file| !file.matches.is_empty()) {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

fn custody(global: &Global, args: &CustodyArgs, out: &mut dyn Write) -> Result<Outcome> {
    let key = global.secret_key(&args.key)?;
    let sha256 = match (&args.file, &args.sha256) {
        (Some(file), _) => {
            digest_file(file)
                .with_context(|| format!("cannot read {} to hash it", file.display()))?
                .sha256
        }
        (None, Some(sha256)) => sha256.to_ascii_lowercase(),
        (None, None) => bail!("name the evidence with --file FILE or --sha256 HEX"),
    };
    let action = CustodyAction::ALL
        .into_iter()
        .find(|a| a.name() == args.action)
        .context("--action names no custody action")?;
    let at = args
        .at
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let payload = Payload::EvidenceCustody(EvidenceCustody {
        sha256: sha256.into(),
        action,
        by: args.by.as_str().into(),
        at: at.into(),
        to: args.to.as_deref().map(Into::into),
        location: args.location.as_deref().map(Into::into),
        note: args.note.as_deref().map(Into::into),
    });
    let appended = global.open()?.append_one(&key, &payload)?;
    print_appended(out, &[appended], &args.output)?;
    Ok(Outcome::Ok)
}
