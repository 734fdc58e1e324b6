//! `ledger prove`: an inclusion or consistency proof of the log's Merkle tree, as text (one
//! base64 hash per line), on standard output or in a file.

use crate::cli::args::Global;
use crate::cli::output::write_file;
use crate::cli::Outcome;
use anyhow::Result;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Prove that the entry at SEQ is in the tree of the first --size entries.
    Inclusion(InclusionArgs),
    /// Prove that the tree of the first --to entries extends the tree of the first --from.
    Consistency(ConsistencyArgs),
}

#[derive(clap::Args)]
pub struct InclusionArgs {
    /// The entry's seq (its leaf index in the tree).
    seq: u64,
    /// The tree size, in entries (default: the whole log).
    #[arg(long, value_name = "N")]
    size: Option<u64>,
    #[command(flatten)]
    out: OutArg,
}

#[derive(clap::Args)]
pub struct ConsistencyArgs {
    /// The older tree size, in entries (at least 1).
    #[arg(long, value_name = "SIZE")]
    from: u64,
    /// The newer tree size, in entries (default: the whole log).
    #[arg(long, value_name = "SIZE")]
    to: Option<u64>,
    #[command(flatten)]
    out: OutArg,
}

#[derive(clap::Args)]
struct OutArg {
    /// Write the proof to FILE (replaced if it exists) instead of standard output, and print
    /// what it proves.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(global: &Global, command: &Command, out: &mut dyn Write) -> Result<Outcome> {
    let ledger = global.open_read()?;
    let head = ledger.tree_size()?;
    let (proof, size, what, to) = match command {
        Command::Inclusion(args) => {
            let size = args.size.unwrap_or(head);
            let proof = ledger.inclusion_proof(args.seq, size)?;
            let what = format!("inclusion proof of seq {}", args.seq);
            (proof, size, what, &args.out)
        }
        Command::Consistency(args) => {
            let size = args.to.unwrap_or(head);
            let proof = ledger.consistency_proof(args.from, size)?;
            let what = format!("consistency proof from size {}", args.from);
            (proof, size, what, &args.out)
        }
    };
    let Some(file) = &to.out else {
        out.write_all(proof.to_text().as_bytes())?;
        return Ok(Outcome::Ok);
    };
    write_file(file, |w| w.write_all(proof.to_text().as_bytes()))?;
    let root = STANDARD.encode(ledger.tree_root(size)?);
    writeln!(
        out,
        "{what} in the tree of size {size} ({} hashes) written to {}; tree head {root}",
        proof.0.len(),
        file.display()
    )?;
    Ok(Outcome::Ok)
}
