//! `ledger completions`: a completion script for a shell, generated from the clap definitions.

use crate::cli::args::command;
use crate::cli::Outcome;
use anyhow::Result;
use clap_complete::Shell;
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    // clap_complete panics when a write fails; a buffer cannot fail, the pipe after it may.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command(), "ledger", &mut script);
    out.write_all(&script)?;
    Ok(Outcome::Ok)
}
