//! `ledger witness cosign`: a witness checks a log's checkpoint against the last one it cosigned
//! for that log and, if the log extends it, prints its cosignature line.

use crate::cli::args::{verifier_key, Global};
use crate::cli::output::{note, to_path_or_stdout};
use crate::cli::Outcome;
use anyhow::{bail, Context, Result};
use ledger::note::witness::Witness;
use ledger::time::Timestamp;
use ledger::tree::proof::Proof;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Cosign a log's checkpoint if it extends the last one this witness cosigned for that log
    /// (a fork or a rollback is refused); prints the C2SP cosignature line to add to it.
    Cosign(CosignArgs),
}

#[derive(clap::Args)]
pub struct CosignArgs {
    /// The log's signed checkpoint.
    #[arg(value_name = "CP")]
    checkpoint: PathBuf,
    /// The witness's secret key file.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The witness's key name (default: the name in its key file); the same name as in its
    /// verifier key (`ledger key vkey --witness`).
    #[arg(long)]
    name: Option<String>,
    /// The log's verifier key (`ledger key vkey` prints it), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    vkey: String,
    /// The witness's state directory: the last checkpoint it cosigned for each log (created if
    /// missing).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The consistency proof (one base64 hash per line) from the size this witness last cosigned
    /// for the log to the checkpoint's size.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    /// Write the cosignature line to FILE instead of standard output (- is standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(global: &Global, command: &Command, out: &mut dyn Write) -> Result<Outcome> {
    let Command::Cosign(args) = command;
    let key = global.secret_key(&args.key)?;
    let Some(name) = args.name.as_deref().or(key.name.as_deref()) else {
        bail!("the witness key file has no name; give the witness's name with --name");
    };
    let log = verifier_key(&args.vkey)?;
    let checkpoint = std::fs::read(&args.checkpoint)
        .with_context(|| format!("cannot read {}", args.checkpoint.display()))?;
    let proof = match &args.proof {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Proof::parse(&text)
                .with_context(|| format!("{} is not a proof", path.display()))?
                .0
        }
        None => Vec::new(),
    };
    let Ok(now) = u64::try_from(Timestamp::now().0 / 1_000_000) else {
        bail!("the system clock is set before 1970");
    };
    let witness = Witness {
        name,
        key: &key,
        state: &args.state,
    };
    let cosigned = witness.cosign(&checkpoint, &log, &proof, now, global.wait)?;
    to_path_or_stdout(args.output.as_deref(), out, |out| {
        writeln!(out, "{}", cosigned.line)
    })?;
    let since = cosigned.previous.map_or_else(
        || "first cosignature for this log".to_string(),
        |size| format!("last cosigned size {size}"),
    );
    note(&format!(
        "cosigned {} at size {} ({since})",
        cosigned.checkpoint.origin, cosigned.checkpoint.size
    ));
    Ok(Outcome::Ok)
}
