//! `ledger attach`: anchor an evidence file to an incident by its hashes.

use crate::cli::append::{print_appended, AppendedArgs};
use crate::cli::args::Global;
use crate::cli::Outcome;
use anyhow::{Context, Result};
use ledger::evidence::{self, Provenance};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The secret key file that signs the anchor (an enrolled investigator's key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The incident the evidence belongs to, by its ID.
    #[arg(long, value_name = "ID")]
    incident: String,
    /// The evidence file; only its hashes, size and name are recorded.
    file: PathBuf,
    /// The file's media type, e.g. application/pdf.
    #[arg(long, value_name = "TYPE")]
    media_type: Option<String>,
    /// When the material was captured (date or RFC 3339 date-time).
    #[arg(long, value_name = "WHEN")]
    captured_at: Option<String>,
    /// Who has held the material and how (chain of custody); later custody events are
    /// recorded with `ledger evidence custody`.
    #[arg(long, value_name = "TEXT")]
    custody_note: Option<String>,
    /// Where the content was found online (a URL).
    #[arg(long, value_name = "URL")]
    source_url: Option<String>,
    /// How it was captured, e.g. "screenshot" or "web archive (WARC)".
    #[arg(long, value_name = "TEXT")]
    capture_method: Option<String>,
    /// The tool and version that captured it, e.g. "Hunchly 2.4.1".
    #[arg(long, value_name = "TEXT")]
    capture_tool: Option<String>,
    /// The SHA-256 of a file this one was converted or extracted from, anchored before it;
    /// repeat for several.
    #[arg(long, value_name = "SHA256")]
    derived_from: Vec<String>,
    #[command(flatten)]
    output: AppendedArgs,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = global.secret_key(&args.key)?;
    let provenance = Provenance {
        media_type: args.media_type.clone(),
        captured_at: args.captured_at.clone(),
        custody_note: args.custody_note.clone(),
        source_url: args.source_url.clone(),
        capture_method: args.capture_method.clone(),
        capture_tool: args.capture_tool.clone(),
        derived_from: args.derived_from.clone(),
    };
    let payload = evidence::anchor_payload(&args.incident, &args.file, provenance)
        .with_context(|| format!("cannot read evidence file {}", args.file.display()))?;
    let appended = global.open()?.append_one(&key, &payload)?;
    print_appended(out, &[appended], &args.output)?;
    Ok(Outcome::Ok)
}
