//! `ledger audit`: the checks of an auditor who holds no ledger, only a verifier key and what
//! the operator published or handed over: an entry's inclusion in a checkpoint, two
//! checkpoints' consistency, a receipt. Exit 0 when it holds, 1 when it does not, 2 when the
//! input cannot be read.

use crate::cli::args::verifier_key;
use crate::cli::Outcome;
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ledger::audit;
use ledger::note::policy::Policy;
use ledger::remote::{self, Source};
use ledger::time::Timestamp;
use ledger::tree::proof::Proof;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check that an entry is in the log a signed checkpoint commits to.
    Inclusion(InclusionArgs),
    /// Check that the log of one signed checkpoint extends the log of an older one.
    Consistency(ConsistencyArgs),
    /// Check a receipt (`ledger receipt`): the entry, its seal and author signature, its
    /// inclusion, the checkpoint's signature and, with --policy, the witnesses' quorum.
    Receipt(ReceiptArgs),
    /// Check a published copy of the log (`ledger publish`) from nothing: the checkpoint's
    /// signature, every entry (chain, seals, signatures, key roles, rules), the tiles and the
    /// tree head.
    Remote(RemoteArgs),
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("from").required(true).args(["url", "dir"]))]
pub struct RemoteArgs {
    /// The published log's address (http or https), the directory holding `checkpoint`.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The published log's directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The log's verifier key, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    vkey: String,
    /// An older checkpoint of the log, which the published one must extend.
    #[arg(long, value_name = "CP")]
    since: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct InclusionArgs {
    /// The signed checkpoint (`ledger checkpoint`).
    #[arg(long, value_name = "FILE")]
    checkpoint: PathBuf,
    /// The log's verifier key (`ledger key vkey`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    vkey: String,
    /// The entry's canonical bytes (`ledger show SEQ --raw -o FILE`).
    #[arg(long, value_name = "FILE")]
    entry: PathBuf,
    /// The entry's seq: its index in the log's tree.
    #[arg(long, value_name = "SEQ")]
    index: u64,
    /// The inclusion proof (`ledger prove inclusion SEQ --size N`), one base64 hash per line.
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
}

#[derive(clap::Args)]
pub struct ConsistencyArgs {
    /// The older signed checkpoint.
    #[arg(long, value_name = "FILE")]
    old: PathBuf,
    /// The newer signed checkpoint.
    #[arg(long, value_name = "FILE")]
    new: PathBuf,
    /// The log's verifier key, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    vkey: String,
    /// The consistency proof (`ledger prove consistency --from OLD --to NEW`).
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
}

#[derive(clap::Args)]
pub struct ReceiptArgs {
    /// The receipt (`ledger receipt SEQ -o FILE`).
    receipt: PathBuf,
    /// The log's verifier key, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    vkey: String,
    /// A C2SP tlog-policy file naming the witnesses and the quorum their cosignatures must meet.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn proof(path: &Path) -> Result<Proof> {
    let text = String::from_utf8(read(path)?)
        .with_context(|| format!("{} is not text", path.display()))?;
    Proof::parse(&text).with_context(|| format!("{} is not a proof", path.display()))
}

pub fn run(command: &Command, out: &mut dyn Write) -> Result<Outcome> {
    match command {
        Command::Remote(args) => return remote(args, out),
        Command::Inclusion(args) => {
            let vkey = verifier_key(&args.vkey)?;
            let included = audit::inclusion(
                &read(&args.checkpoint)?,
                &vkey,
                &read(&args.entry)?,
                args.index,
                &proof(&args.proof)?,
            )?;
            writeln!(
                out,
                "valid: entry {} ({}, by {}) is in the log {} of {} entries, tree head {}",
                args.index,
                included.entry.statement.event_type,
                included.entry.statement.author,
                included.checkpoint.origin,
                included.checkpoint.size,
                STANDARD.encode(included.checkpoint.root)
            )?;
        }
        Command::Consistency(args) => {
            let vkey = verifier_key(&args.vkey)?;
            let (old, new) = audit::consistency(
                &read(&args.old)?,
                &read(&args.new)?,
                &vkey,
                &proof(&args.proof)?,
            )?;
            writeln!(
                out,
                "valid: the log {} of {} entries extends its log of {} entries",
                new.origin, new.size, old.size
            )?;
        }
        Command::Receipt(args) => {
            let vkey = verifier_key(&args.vkey)?;
            let policy = match &args.policy {
                Some(path) => Some(
                    Policy::parse(&read(path)?)
                        .with_context(|| format!("{} is not a policy", path.display()))?,
                ),
                None => None,
            };
            let proved = audit::receipt(&read(&args.receipt)?, &vkey, policy.as_ref())?;
            let included = &proved.included;
            writeln!(
                out,
                "valid: entry {} ({}, by {}, recorded {}) is in the log {} of {} entries",
                included.entry.seq,
                included.entry.statement.event_type,
                included.entry.statement.author,
                included.entry.recorded_at.to_rfc3339(),
                included.checkpoint.origin,
                included.checkpoint.size,
            )?;
            for witness in &proved.witnesses {
                writeln!(
                    out,
                    "  cosigned by witness {} at {}",
                    witness.witness,
                    Timestamp::from_seconds(witness.timestamp)
                )?;
            }
        }
    }
    Ok(Outcome::Ok)
}

fn remote(args: &RemoteArgs, out: &mut dyn Write) -> Result<Outcome> {
    let vkey = verifier_key(&args.vkey)?;
    let source = match (&args.url, &args.dir) {
        (Some(url), _) => Source::Url(url.clone()),
        (None, Some(dir)) => Source::Dir(dir.clone()),
        (None, None) => anyhow::bail!("pass --url URL or --dir DIR: where the log is published"),
    };
    let since = args.since.as_deref().map(read).transpose()?;
    let mut write_error = None;
    let audited = remote::audit(&source, &vkey, since.as_deref(), &mut |problem| {
        if let Err(e) = writeln!(out, "seq {}: {}", problem.seq, problem.reason) {
            write_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let (report, checkpoint) = (&audited.report, &audited.checkpoint);
    if report.intact() {
        writeln!(
            out,
            "valid: the log {} published at {} holds {} entries whose tree head is its signed checkpoint's; {} signatures, {} keys, {} incidents",
            checkpoint.origin,
            source.name(""),
            checkpoint.size,
            report.signatures,
            report.keys,
            report.incidents
        )?;
        Ok(Outcome::Ok)
    } else {
        writeln!(
            out,
            "invalid: {} problem(s) in the log {} published at {}",
            report.problems,
            checkpoint.origin,
            source.name("")
        )?;
        Ok(Outcome::Problems)
    }
}
